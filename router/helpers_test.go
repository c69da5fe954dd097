package router_test

import (
	"context"
	"net"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/longshoreman/longshoreman/internal/testenv"
	"github.com/longshoreman/longshoreman/router"
)

// testKey signs the tables these tests publish.
var testKey = []byte("router-test-key-0123456789abcdef")

// serveEach listens on a free loopback port until the test ends, and
// hands each connection accepted there to handle, in a goroutine of its
// own. It returns the address and a count of the connections accepted.
func serveEach(t testing.TB, handle func(net.Conn)) (string, *atomic.Int64) {
	t.Helper()
	var accepted atomic.Int64
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			accepted.Add(1)
			go handle(c)
		}
	}()
	return l.Addr().String(), &accepted
}

// testRedis returns a client of the test Redis, closed when the test ends.
func testRedis(t *testing.T) *redis.Client {
	t.Helper()
	c := redis.NewClient(&redis.Options{Addr: testenv.Redis(t)})
	t.Cleanup(func() { c.Close() })
	return c
}

// launch runs router.Run with cfg on a free loopback port (Listener set,
// Logger and Keys filled in where cfg leaves them empty) and waits until it
// is ready. It returns the router, the address it listens on, and stop,
// which ends Run and returns its result. stop runs again when the test
// ends, and an error of Run then fails the test.
func launch(t *testing.T, cfg router.RunConfig) (*router.Router, string, func() error) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	cfg.Listener = ln
	if cfg.Logger == nil {
		cfg.Logger = testLogger()
	}
	if cfg.Keys == nil {
		cfg.Keys = [][]byte{testKey}
	}
	ready := make(chan *router.Router, 1)
	cfg.Ready = func(r *router.Router, _ net.Addr) { ready <- r }
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- router.Run(ctx, cfg) }()
	var r *router.Router
	select {
	case r = <-ready:
	case err := <-done:
		cancel()
		t.Fatalf("Run: %v", err)
	}
	var once sync.Once
	var runErr error
	stop := func() error {
		once.Do(func() {
			cancel()
			select {
			case runErr = <-done:
			case <-time.After(15 * time.Second):
				t.Error("Run did not return within 15s of its context ending")
			}
		})
		return runErr
	}
	t.Cleanup(func() {
		if err := stop(); err != nil {
			t.Errorf("Run: %v", err)
		}
	})
	return r, ln.Addr().String(), stop
}
