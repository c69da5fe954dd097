package docker_test

import (
	"context"
	"net"
	"net/http"
	"sync/atomic"
	"testing"
	"time"

	"github.com/longshoreman/longshoreman/docker"
)

// fakeDaemon is a fake of a Docker daemon's API, enough for List: a ping
// and an empty container list. Once hang is set it answers nothing, as a
// host cut off by a firewall.
type fakeDaemon struct {
	hang atomic.Bool
	hung atomic.Int32 // requests held unanswered
	stop chan struct{}
}

func (d *fakeDaemon) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if d.hang.Load() {
		d.hung.Add(1)
		select {
		case <-d.stop:
		case <-r.Context().Done():
		}
		return
	}
	w.Header().Set("Api-Version", "1.41")
	if r.URL.Path == "/_ping" {
		w.Write([]byte("OK"))
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.Write([]byte("[]"))
}

// TestListOfAHungHostKeepsItsDeadline: a List of a host that stopped
// answering ends near its own deadline (at most the dial timeout past it),
// not behind another List of the same host that waits longer (the
// reconciler's quick check behind an image pruner's list).
func TestListOfAHungHostKeepsItsDeadline(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	d := &fakeDaemon{stop: make(chan struct{})}
	srv := &http.Server{Handler: d}
	go srv.Serve(l)
	t.Cleanup(func() { srv.Close() }) // ends the hung answers too
	e := docker.New(docker.Config{Port: l.Addr().(*net.TCPAddr).Port, DialTimeout: time.Second})
	t.Cleanup(func() { e.Close() })
	const host = "127.0.0.1"
	if _, err := e.List(context.Background(), host); err != nil {
		t.Fatalf("List of the answering host: %v", err)
	}

	d.hang.Store(true)
	slow := make(chan error, 1)
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer cancel()
		_, err := e.List(ctx, host)
		slow <- err
	}()
	for d.hung.Load() == 0 { // the slow List is waiting on the host
		time.Sleep(time.Millisecond)
	}
	start := time.Now()
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	if _, err := e.List(ctx, host); err == nil {
		t.Fatal("List of a host that answers nothing succeeded")
	}
	if took := time.Since(start); took > 5*time.Second {
		t.Fatalf("a List with a 300ms deadline and a 1s dial timeout took %s: it waited behind the other List of the host", took)
	}
	close(d.stop) // the slow List ends too
	<-slow
}
