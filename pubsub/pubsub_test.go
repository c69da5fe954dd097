package pubsub_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"io"
	"log/slog"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/longshoreman/longshoreman/cluster"
	"github.com/longshoreman/longshoreman/internal/testenv"
	"github.com/longshoreman/longshoreman/pubsub"
)

// source is a TableSource whose version rises on every set, like the db's.
type source struct {
	mu sync.Mutex // guards t
	t  cluster.RoutingTable
}

func newSource() *source {
	return &source{t: cluster.RoutingTable{Version: 1, Controller: "ctl-test", Cluster: testCluster, Epoch: uint64(time.Now().UnixNano()), Routes: map[string][]string{}}}
}

func (s *source) RoutingTable() (cluster.RoutingTable, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	t := s.t
	t.Time = time.Now().UTC()
	return t, nil
}

// set replaces the routes, raises the version and returns it.
func (s *source) set(routes map[string][]string) uint64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.t.Version++
	s.t.Routes = routes
	return s.t.Version
}

// testKey signs the tables of these tests' publishers.
var testKey = []byte("pubsub-test-key-0123456789abcdef")

const testCluster = "cluster-test"

func testLogger(t *testing.T) *slog.Logger {
	if testing.Verbose() {
		return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	return slog.New(slog.NewTextHandler(io.Discard, nil))
}

func newClient(t *testing.T, addr string) *redis.Client {
	t.Helper()
	c := redis.NewClient(&redis.Options{Addr: addr, DialTimeout: time.Second, MaxRetries: -1})
	t.Cleanup(func() { c.Close() })
	return c
}

// testChannel returns a client of the test Redis and a channel private to
// this test run.
func testChannel(t *testing.T) (*redis.Client, string) {
	t.Helper()
	return newClient(t, testenv.Redis(t)), channel(t)
}

// channel returns a channel name private to this test run.
func channel(t *testing.T) string {
	b := make([]byte, 6)
	rand.Read(b)
	return "longshoreman.test." + hex.EncodeToString(b)
}

// run starts fn in a goroutine and, at cleanup, cancels it and waits for it.
func run(t *testing.T, fn func(ctx context.Context) error) {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- fn(ctx) }()
	t.Cleanup(func() {
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("Run returned %v", err)
			}
		case <-time.After(5 * time.Second):
			t.Error("Run did not return within 5s of its context ending")
		}
	})
}

func startPublisher(t *testing.T, cfg pubsub.PublisherConfig) *pubsub.Publisher {
	t.Helper()
	if cfg.Logger == nil {
		cfg.Logger = testLogger(t)
	}
	if cfg.Key == nil {
		cfg.Key = testKey
	}
	p := pubsub.NewPublisher(cfg)
	run(t, p.Run)
	return p
}

// startSubscriber returns the channel on which applied tables arrive.
func startSubscriber(t *testing.T, c *redis.Client, ch string) (*pubsub.Subscriber, <-chan cluster.RoutingTable) {
	t.Helper()
	return startSubscriberWith(t, pubsub.SubscriberConfig{Client: pubsub.ClientOf(c), Channel: ch, Keys: [][]byte{testKey}})
}

// startSubscriberWith runs a subscriber with cfg (Logger defaulted).
func startSubscriberWith(t *testing.T, cfg pubsub.SubscriberConfig) (*pubsub.Subscriber, <-chan cluster.RoutingTable) {
	t.Helper()
	if cfg.Logger == nil {
		cfg.Logger = testLogger(t)
	}
	s := pubsub.NewSubscriber(cfg)
	applied := make(chan cluster.RoutingTable, 1000)
	run(t, func(ctx context.Context) error {
		return s.Run(ctx, func(rt cluster.RoutingTable) { applied <- rt })
	})
	return s, applied
}

// waitVersion reads applied tables until one has version v, failing after d.
func waitVersion(t *testing.T, applied <-chan cluster.RoutingTable, v uint64, d time.Duration) cluster.RoutingTable {
	t.Helper()
	deadline := time.After(d)
	for {
		select {
		case rt := <-applied:
			if rt.Version == v {
				return rt
			}
			if rt.Version > v {
				t.Fatalf("got version %d while waiting for %d", rt.Version, v)
			}
		case <-deadline:
			t.Fatalf("no table with version %d within %s", v, d)
		}
	}
}

// rawSubscribe subscribes to ch without asking for a sync and returns the
// tables published on it.
func rawSubscribe(t *testing.T, c *redis.Client, ch string) <-chan cluster.RoutingTable {
	t.Helper()
	ps := c.Subscribe(context.Background(), ch)
	if _, err := ps.Receive(context.Background()); err != nil {
		t.Fatal(err)
	}
	out := make(chan cluster.RoutingTable, 1000)
	go func() {
		for m := range ps.Channel() {
			rt, err := pubsub.Decode([]byte(m.Payload))
			if err != nil {
				t.Errorf("published message is not a table: %v: %s", err, m.Payload)
				continue
			}
			out <- rt
		}
		close(out)
	}()
	t.Cleanup(func() { ps.Close() })
	return out
}
