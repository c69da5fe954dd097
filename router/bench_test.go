package router_test

import (
	"context"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/longshoreman/longshoreman/cluster"
	"github.com/longshoreman/longshoreman/router"
)

// BenchmarkProxyGET measures a small GET through the router to a local
// instance over keep-alive connections: on the fast path behind net/http's
// server, through the reverse proxy, and on the router's own connection
// loop (router.Serve, as router.Run serves), the path nearly all traffic
// takes.
func BenchmarkProxyGET(b *testing.B) {
	be := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, "hello")
	}))
	defer be.Close()
	routes := map[string][]string{"a.example.com": {be.Listener.Addr().String()}}
	for _, tc := range []struct {
		name   string
		rpOnly bool
		loop   bool
	}{{"fast", false, false}, {"reverseproxy", true, false}, {"loop", false, true}} {
		b.Run(tc.name, func(b *testing.B) {
			var url string
			if tc.loop {
				url = serveLoop(b, router.Config{}, routes)
			} else {
				_, url = proxyWith(b, router.Config{ReverseProxyOnly: tc.rpOnly}, routes)
			}
			client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 64}}
			defer client.CloseIdleConnections()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					req, _ := http.NewRequest("GET", url+"/", nil)
					req.Host = "a.example.com"
					resp, err := client.Do(req)
					if err != nil {
						b.Error(err)
						return
					}
					io.Copy(io.Discard, resp.Body)
					resp.Body.Close()
				}
			})
		})
	}
}

// serveLoop serves a router built from cfg, with routes applied, on the
// router's connection loop (router.Serve) until the benchmark or test
// ends, and returns its URL.
func serveLoop(tb testing.TB, cfg router.Config, routes map[string][]string) string {
	tb.Helper()
	cfg.Logger = testLogger()
	r := router.New(cfg)
	r.Apply(cluster.RoutingTable{Version: 1, Controller: "c", Routes: routes})
	return serveRouter(tb, r)
}

// serveRouter serves r on a free loopback port with the router's
// connection loop (router.Serve), as `longshoreman router` does, until the
// benchmark or test ends, and returns its URL.
func serveRouter(tb testing.TB, r *router.Router) string {
	tb.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	srv := &http.Server{Handler: r, ReadHeaderTimeout: 10 * time.Second, IdleTimeout: 120 * time.Second}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- router.Serve(ctx, l, srv, testLogger(), time.Second) }()
	tb.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			tb.Errorf("Serve: %v", err)
		}
	})
	return "http://" + l.Addr().String()
}
