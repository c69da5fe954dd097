//go:build integration

package router_test

import (
	"context"
	"io"
	"net"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/longshoreman/longshoreman/cluster"
	"github.com/longshoreman/longshoreman/internal/testenv"
	"github.com/longshoreman/longshoreman/pubsub"
	"github.com/longshoreman/longshoreman/router"
)

type staticSource struct {
	mu sync.Mutex // guards t
	t  cluster.RoutingTable
}

func (s *staticSource) RoutingTable() (cluster.RoutingTable, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.t, nil
}

// startRouter runs router.Run on a free port until the test ends and
// returns its URL, the router, and a function that stops it and returns
// Run's result.
func startRouter(t *testing.T, c *redis.Client, ch string) (string, *router.Router, func() error) {
	t.Helper()
	r, addr, stop := launch(t, router.RunConfig{Redis: pubsub.ClientOf(c), Channel: ch})
	return "http://" + addr, r, stop
}

// slowInstance serves every request with "finished" after d, and returns
// its address and a channel closed when its first request arrives.
func slowInstance(t *testing.T, d time.Duration) (string, <-chan struct{}) {
	t.Helper()
	started := make(chan struct{})
	slow := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		close(started)
		time.Sleep(d)
		io.WriteString(w, "finished")
	})}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go slow.Serve(ln)
	t.Cleanup(func() { slow.Close() })
	return ln.Addr().String(), started
}

func TestKeepsLastTableWithoutRedis(t *testing.T) {
	srv := testenv.StartRedis(t)
	pc := redis.NewClient(&redis.Options{Addr: srv.Addr})
	rc := redis.NewClient(&redis.Options{Addr: srv.Addr})
	t.Cleanup(func() { pc.Close(); rc.Close() })
	b1, _ := backend(t, "b1")
	src := &staticSource{t: cluster.RoutingTable{Version: 7, Controller: "c", Cluster: "k", Routes: map[string][]string{"a.example.com": {b1}}}}
	pub := pubsub.NewPublisher(pubsub.PublisherConfig{Client: pubsub.ClientOf(pc), Channel: "test.router.keep", Source: src, Republish: 200 * time.Millisecond, Logger: testLogger(), Key: testKey})
	pctx, pcancel := context.WithCancel(context.Background())
	pdone := make(chan struct{})
	go func() { pub.Run(pctx); close(pdone) }()
	t.Cleanup(func() { pcancel(); <-pdone })

	url, r, _ := startRouter(t, rc, "test.router.keep")
	testenv.Eventually(t, 2*time.Second, "table applied", func() bool { return r.Table().Version == 7 })
	if a := do(t, "GET", url+"/", "a.example.com", "", nil); a.seen.Backend != "b1" {
		t.Fatalf("%d %q", a.status, a.body)
	}

	srv.Stop()
	time.Sleep(500 * time.Millisecond) // several missed heartbeats and failed reconnects
	for range 20 {
		if a := do(t, "GET", url+"/", "a.example.com", "", nil); a.seen.Backend != "b1" {
			t.Fatalf("with Redis down: %d %q", a.status, a.body)
		}
	}
	if r.Table().Version != 7 {
		t.Fatalf("table version %d after losing Redis, want 7", r.Table().Version)
	}
}

func TestGracefulShutdownFinishesRequests(t *testing.T) {
	c := testRedis(t)
	slow, started := slowInstance(t, 400*time.Millisecond)

	url, r, stop := startRouter(t, c, "test.router.shutdown")
	r.Apply(cluster.RoutingTable{Version: 1, Routes: map[string][]string{"slow.example.com": {slow}}})

	type result struct {
		body string
		err  error
	}
	got := make(chan result, 1)
	go func() {
		req, _ := http.NewRequest("GET", url+"/", nil)
		req.Host = "slow.example.com"
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			got <- result{err: err}
			return
		}
		b, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		got <- result{string(b), err}
	}()
	<-started
	begin := time.Now()
	if err := stop(); err != nil {
		t.Fatalf("Run returned %v", err)
	}
	if d := time.Since(begin); d < 200*time.Millisecond {
		t.Fatalf("Run returned after %s, before the in-flight request could finish", d)
	}
	res := <-got
	if res.err != nil || res.body != "finished" {
		t.Fatalf("in-flight request: %q %v", res.body, res.err)
	}
	if _, err := http.Get(url + "/_ping"); err == nil {
		t.Fatal("the router still accepts connections after Run returned")
	}
}
