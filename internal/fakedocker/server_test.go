package fakedocker

import (
	"context"
	"net"
	"net/http"
	"strconv"
	"testing"
	"time"

	"github.com/longshoreman/longshoreman/cluster"
	"github.com/longshoreman/longshoreman/docker"
)

// TestServerWithRealAdapter drives the fake through the real Docker
// adapter, as the benchmark does: a container it starts is listed with its
// labels, inspected with its published port, answers a health check there,
// and is gone after Stop.
func TestServerWithRealAdapter(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := l.Addr().(*net.TCPAddr).Port
	l.Close()
	const host = "127.0.0.1"
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	f := NewServer(host, port, 31000+port%1000)
	errc := make(chan error, 1)
	go func() { errc <- f.Serve(ctx) }()
	defer func() {
		cancel()
		if err := <-errc; err != nil {
			t.Error(err)
		}
	}()
	e := docker.New(docker.Config{Port: port, Controller: "ctl", Timeout: 5 * time.Second})
	defer e.Close()
	for i := 0; ; i++ {
		if err := e.Ping(ctx, host); err == nil {
			break
		} else if i > 100 {
			t.Fatal(err)
		}
		time.Sleep(10 * time.Millisecond)
	}

	began := time.Now()
	evctx, stopEvents := context.WithCancel(ctx)
	defer stopEvents()
	events, _ := e.Events(evctx, host, began)

	spec := cluster.ContainerSpec{App: "a.example.com", Revision: 3, Host: host, Image: testImage, Port: 3000}
	if _, err := e.Run(ctx, spec); cluster.ErrorCode(err) != cluster.EHOST {
		t.Fatalf("Run before a pull: got %v, want an EHOST error", err)
	}
	if warning, err := e.Pull(ctx, host, testImage); err != nil || warning != "" {
		t.Fatalf("Pull: %q %v", warning, err)
	}
	ct, err := e.Run(ctx, spec)
	if err != nil {
		t.Fatal(err)
	}
	if ct.App != spec.App || ct.Revision != 3 || ct.Host != host || ct.Controller != "ctl" || !ct.Running || ct.Port == 0 {
		t.Fatalf("Run returned %+v", ct)
	}
	resp, err := http.Get("http://" + net.JoinHostPort(host, strconv.Itoa(ct.Port)) + "/ping")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("health check answered %d", resp.StatusCode)
	}
	list, err := e.List(ctx, host)
	if err != nil || len(list) != 1 || list[0].ID != ct.ID || list[0].Port != ct.Port {
		t.Fatalf("List: %+v %v", list, err)
	}
	if other, err := e.List(ctx, "127.0.0.2"); err == nil || len(other) != 0 {
		// 127.0.0.2 has no fake engine: the call fails, it does not list ours.
		t.Fatalf("List of another host: %+v %v", other, err)
	}
	if lines, err := e.Logs(ctx, host, ct.ID, 10); err != nil || len(lines) != 1 {
		t.Fatalf("Logs: %q %v", lines, err)
	}
	if err := e.Stop(ctx, host, ct.ID, time.Second); err != nil {
		t.Fatal(err)
	}
	if _, err := e.Inspect(ctx, host, ct.ID); cluster.ErrorCode(err) != cluster.ENOTFOUND {
		t.Fatalf("Inspect after Stop: %v, want ENOTFOUND", err)
	}
	if list, err := e.List(ctx, host); err != nil || len(list) != 0 {
		t.Fatalf("List after Stop: %+v %v", list, err)
	}

	// The stream reported the container's life, as dockerd does; a stream
	// opened later with the same since replays it.
	want := []string{"create", "start", "die", "destroy"}
	for _, stream := range []<-chan cluster.ContainerEvent{events, func() <-chan cluster.ContainerEvent {
		ch, _ := e.Events(ctx, host, began)
		return ch
	}()} {
		for _, action := range want {
			select {
			case ev := <-stream:
				if ev.Action != action || ev.ID != ct.ID || ev.App != spec.App || ev.Host != host {
					t.Fatalf("event %+v, want %s of %s", ev, action, ct.ID)
				}
			case <-ctx.Done():
				t.Fatalf("no %s event", action)
			}
		}
	}
}

// testImage names a registry host, as the benchmark's image does, so the
// reference Docker pulls is the one the container is created from.
const testImage = "127.0.0.1:5000/bench/app:1"
