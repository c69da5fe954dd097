package router_test

import (
	"net/http"
	"testing"
	"time"

	"github.com/longshoreman/longshoreman/cluster"
	"github.com/longshoreman/longshoreman/internal/testenv"
	"github.com/longshoreman/longshoreman/router"
)

// holdRouter serves r on its own connection loop (router.Serve) or on
// net/http (httptest), and returns its URL.
func holdRouter(t *testing.T, cfg router.Config, loop bool) (*router.Router, string) {
	t.Helper()
	if !loop {
		return proxyWith(t, cfg, nil)
	}
	cfg.Logger = testLogger()
	r := router.New(cfg)
	return r, serveRouter(t, r)
}

// TestHeldAppWaitsForItsInstance: while the table holds an app without an
// instance, its requests wait; the table that routes it again answers
// them, on every way the router serves (its own loop or net/http, its fast
// path or the reverse proxy).
func TestHeldAppWaitsForItsInstance(t *testing.T) {
	for _, tc := range []struct {
		name         string
		loop, rpOnly bool
	}{{"loop fast path", true, false}, {"loop reverse proxy", true, true}, {"net/http fast path", false, false}, {"net/http reverse proxy", false, true}} {
		t.Run(tc.name, func(t *testing.T) {
			addr, _ := backend(t, "new")
			r, url := holdRouter(t, router.Config{ReverseProxyOnly: tc.rpOnly}, tc.loop)
			r.Apply(cluster.RoutingTable{Version: 1, Routes: map[string][]string{}, Held: map[string]cluster.Duration{"a.example.com": cluster.Duration(time.Minute)}})
			got := make(chan answer, 1)
			go func() { got <- do(t, "GET", url+"/", "a.example.com", "", nil) }()
			testenv.Eventually(t, 10*time.Second, "the request is held", func() bool { return r.Held() == 1 })
			r.Apply(cluster.RoutingTable{Version: 2, Routes: map[string][]string{"b.example.com": {addr}}, Held: map[string]cluster.Duration{"a.example.com": cluster.Duration(time.Minute)}})
			if r.Held() != 1 {
				t.Fatal("a table routing another app released the held request")
			}
			r.Apply(cluster.RoutingTable{Version: 3, Routes: map[string][]string{"a.example.com": {addr}}, Held: map[string]cluster.Duration{"a.example.com": cluster.Duration(time.Minute)}})
			if a := <-got; a.status != 200 || a.seen.Backend != "new" {
				t.Fatalf("held request = %d %q, want 200 from the new instance", a.status, a.body)
			}
			if r.Held() != 0 {
				t.Fatalf("%d requests still held", r.Held())
			}
		})
	}
}

// TestHoldRunsOut: a held app with no instance within its hold gets 503
// with Retry-After; an app no longer held is answered at once as before.
func TestHoldRunsOut(t *testing.T) {
	for _, loop := range []bool{true, false} {
		r, url := holdRouter(t, router.Config{}, loop)
		r.Apply(cluster.RoutingTable{Version: 1, Routes: map[string][]string{}, Held: map[string]cluster.Duration{"a.example.com": cluster.Duration(50 * time.Millisecond)}})
		req, _ := http.NewRequest("GET", url+"/", nil)
		req.Host = "a.example.com"
		resp, err := testClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != 503 || resp.Header.Get("Retry-After") != "5" {
			t.Fatalf("loop %v: a hold that ran out = %d Retry-After %q, want 503 and 5", loop, resp.StatusCode, resp.Header.Get("Retry-After"))
		}
		r.Apply(cluster.RoutingTable{Version: 2, Routes: map[string][]string{}})
		if a := do(t, "GET", url+"/", "a.example.com", "", nil); a.status != 404 {
			t.Fatalf("loop %v: an app neither held nor routed = %d, want 404", loop, a.status)
		}
	}
}

// TestHeldReleasedWhenHoldEnds: a table that no longer holds the app
// answers the waiting request at once instead of at the end of its hold.
func TestHeldReleasedWhenHoldEnds(t *testing.T) {
	r, url := holdRouter(t, router.Config{}, true)
	r.Apply(cluster.RoutingTable{Version: 1, Routes: map[string][]string{"a.example.com": {}}, Held: map[string]cluster.Duration{"a.example.com": cluster.Duration(time.Hour)}})
	got := make(chan answer, 1)
	go func() { got <- do(t, "GET", url+"/", "a.example.com", "", nil) }()
	testenv.Eventually(t, 10*time.Second, "the request is held", func() bool { return r.Held() == 1 })
	r.Apply(cluster.RoutingTable{Version: 2, Routes: map[string][]string{"a.example.com": {}}})
	if a := <-got; a.status != 503 {
		t.Fatalf("released without an instance = %d %q, want the 503 of an app without instances", a.status, a.body)
	}
}
