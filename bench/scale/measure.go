package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	nethttp "net/http"
	"os"
	"path/filepath"
	"runtime/pprof"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/longshoreman/longshoreman/cluster"
	"github.com/longshoreman/longshoreman/db"
	"github.com/longshoreman/longshoreman/pubsub"
)

// Stat summarises a set of durations.
type Stat struct {
	N    int           `json:"n"`
	P50  time.Duration `json:"p50"`
	P99  time.Duration `json:"p99"`
	Max  time.Duration `json:"max"`
	Mean time.Duration `json:"mean"`
}

func (s Stat) String() string {
	return fmt.Sprintf("p50 %s p99 %s max %s (n=%d)", ms(s.P50), ms(s.P99), ms(s.Max), s.N)
}

func stat(d []time.Duration) Stat {
	if len(d) == 0 {
		return Stat{}
	}
	s := slices.Clone(d)
	slices.Sort(s)
	var sum time.Duration
	for _, v := range s {
		sum += v
	}
	at := func(q float64) time.Duration { return s[min(len(s)-1, int(q*float64(len(s))))] }
	return Stat{N: len(s), P50: at(0.50), P99: at(0.99), Max: s[len(s)-1], Mean: sum / time.Duration(len(s))}
}

// ms formats a duration in milliseconds with 3 significant decimals.
func ms(d time.Duration) string {
	return strconv.FormatFloat(float64(d)/1e6, 'f', 3, 64) + " ms"
}

// cpuTime returns the user and system CPU time this process used so far.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// startProfile starts a CPU profile named N-name.pprof in cfg.Profile, when
// set, and returns what stops it.
func startProfile(cfg pointConfig, name string) func() {
	if cfg.Profile == "" {
		return func() {}
	}
	if err := os.MkdirAll(cfg.Profile, 0o755); err != nil {
		fmt.Fprintln(os.Stderr, "scale: profile:", err)
		return func() {}
	}
	f, err := os.Create(filepath.Join(cfg.Profile, fmt.Sprintf("%d-%s.pprof", cfg.Instances, name)))
	if err != nil {
		fmt.Fprintln(os.Stderr, "scale: profile:", err)
		return func() {}
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		f.Close()
		fmt.Fprintln(os.Stderr, "scale: profile:", err)
		return func() {}
	}
	return func() {
		pprof.StopCPUProfile()
		f.Close()
	}
}

// EndpointResult is the latency of one endpoint under load.
type EndpointResult struct {
	Name     string        `json:"name"`
	Requests int           `json:"requests"`
	Errors   int           `json:"errors"`
	RPS      float64       `json:"rps"`
	Bytes    int           `json:"bytes"` // size of one answer
	P50      time.Duration `json:"p50"`
	P99      time.Duration `json:"p99"`
	Max      time.Duration `json:"max"`
}

// loadEndpoint runs cfg.Clients keep-alive clients against one endpoint for
// a short warm-up, then for cfg.Duration, and reports the latencies of the
// measured part. A path with %s gets a random app name per request.
func loadEndpoint(cfg pointConfig, base, token, name, path string, apps int) (EndpointResult, error) {
	client := &nethttp.Client{
		Timeout:   30 * time.Second,
		Transport: &nethttp.Transport{MaxIdleConnsPerHost: cfg.Clients, MaxConnsPerHost: cfg.Clients, DisableCompression: true},
	}
	defer client.CloseIdleConnections()
	do := func(rng *rand.Rand) (int, error) {
		p := path
		if strings.Contains(p, "%s") {
			p = fmt.Sprintf(p, appName(rng.IntN(apps)))
		}
		req, _ := nethttp.NewRequest(nethttp.MethodGet, base+p, nil)
		req.Header.Set("X-Auth", token)
		resp, err := client.Do(req)
		if err != nil {
			return 0, err
		}
		n, err := io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if err == nil && resp.StatusCode != nethttp.StatusOK {
			err = fmt.Errorf("%s answered %d", p, resp.StatusCode)
		}
		return int(n), err
	}
	size, err := do(rand.New(rand.NewPCG(0, 0)))
	if err != nil {
		return EndpointResult{}, fmt.Errorf("%s: %v", name, err)
	}

	run := func(d time.Duration, record bool) ([]time.Duration, int) {
		var mu sync.Mutex
		var all []time.Duration
		errs := 0
		var wg sync.WaitGroup
		end := time.Now().Add(d)
		for w := range cfg.Clients {
			wg.Add(1)
			go func() {
				defer wg.Done()
				rng := rand.New(rand.NewPCG(uint64(w), 1))
				lat := make([]time.Duration, 0, 4096)
				e := 0
				for time.Now().Before(end) {
					t0 := time.Now()
					_, err := do(rng)
					if err != nil {
						e++
						continue
					}
					lat = append(lat, time.Since(t0))
				}
				mu.Lock()
				if record {
					all = append(all, lat...)
				}
				errs += e
				mu.Unlock()
			}()
		}
		wg.Wait()
		return all, errs
	}
	run(300*time.Millisecond, false)
	stop := startProfile(cfg, strings.NewReplacer("GET /", "", ":", "", "/", "-").Replace(name))
	t0 := time.Now()
	lat, errs := run(cfg.Duration, true)
	elapsed := time.Since(t0)
	stop()
	s := stat(lat)
	return EndpointResult{
		Name: name, Requests: len(lat), Errors: errs, RPS: float64(len(lat)) / elapsed.Seconds(), Bytes: size,
		P50: s.P50, P99: s.P99, Max: s.Max,
	}, nil
}

func encodeTable(t cluster.RoutingTable) ([]byte, error) { return pubsub.Encode(t) }

// measurePublish times, with one subscriber on the channel (a router):
// encoding a freshly built table and PUBLISHing it; and the whole path a
// change takes, from the scheduler's RoutesChange call (after the store
// write) through the real Publisher (build, encode, PUBLISH) to the
// subscriber holding the new version.
func measurePublish(cfg pointConfig, store *db.DB, client *redis.Client, flip func(int) error) (publish, endToEnd Stat, err error) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	channel := "scale.routes." + strconv.Itoa(cfg.Instances)
	sub := client.Subscribe(ctx, channel)
	defer sub.Close()
	if _, err := sub.Receive(ctx); err != nil {
		return publish, endToEnd, fmt.Errorf("subscribing: %v", err)
	}
	msgs := sub.Channel(redis.WithChannelSize(1000))

	var pubs []time.Duration
	stop := startProfile(cfg, "publish")
	for i := range cfg.Changes {
		if err := flip(1000 + i); err != nil {
			return publish, endToEnd, err
		}
		t, err := store.RoutingTable()
		if err != nil {
			return publish, endToEnd, err
		}
		t0 := time.Now()
		b, err := pubsub.Encode(t)
		if err == nil {
			err = client.Publish(ctx, channel, b).Err()
		}
		pubs = append(pubs, time.Since(t0))
		if err != nil {
			return publish, endToEnd, err
		}
		<-msgs
	}
	stop()

	p := pubsub.NewPublisher(pubsub.PublisherConfig{
		Client: pubsub.ClientOf(client), Channel: channel, Source: store, Republish: time.Hour,
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil)),
	})
	var wg sync.WaitGroup
	wg.Go(func() { _ = p.Run(ctx) })
	defer wg.Wait()
	defer cancel()
	var version uint64
	waitNewer := func() error {
		timeout := time.After(10 * time.Second)
		for {
			select {
			case m := <-msgs:
				t, err := pubsub.Decode([]byte(m.Payload))
				if err != nil {
					return err
				}
				if t.Version > version {
					version = t.Version
					return nil
				}
			case <-timeout:
				return fmt.Errorf("no table newer than version %d within 10s", version)
			}
		}
	}
	if err := waitNewer(); err != nil { // the publish at start
		return publish, endToEnd, err
	}
	var e2e []time.Duration
	stop = startProfile(cfg, "end-to-end")
	for i := range cfg.Changes {
		time.Sleep(20 * time.Millisecond) // past the coalescing window
		if err := flip(2000 + i); err != nil {
			return publish, endToEnd, err
		}
		t0 := time.Now()
		p.Changed()
		if err := waitNewer(); err != nil {
			return publish, endToEnd, err
		}
		e2e = append(e2e, time.Since(t0))
	}
	stop()
	return stat(pubs), stat(e2e), nil
}
