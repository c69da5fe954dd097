package router_test

import (
	"net"
	"sync/atomic"
	"testing"
	"time"
)

// testKey signs the tables these tests publish.
var testKey = []byte("router-test-key-0123456789abcdef")

func waitFor(t *testing.T, d time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("%s: not within %s", what, d)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

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
