package http_test

import (
	"fmt"
	"io"
	"log/slog"
	nethttp "net/http"
	"net/http/httptest"
	"path/filepath"
	"testing"

	"github.com/longshoreman/longshoreman/db"
	"github.com/longshoreman/longshoreman/docker"
	"github.com/longshoreman/longshoreman/http"
	"github.com/longshoreman/longshoreman/metrics"
	"github.com/longshoreman/longshoreman/scheduler"
)

// BenchmarkListApps serves GET /apps (100 apps) from the whole API handler
// (token, request id, request log formatted and discarded, metrics, routing,
// the answer cache), and from a bare handler writing the same headers and
// bytes, both in memory: without the network, what is left between the two
// is the API's own work per request. bench/api measures the same over
// loopback; this one is for profiles:
//
//	go test -run '^$' -bench BenchmarkListApps -benchmem -cpuprofile cpu.out ./http/
func BenchmarkListApps(b *testing.B) {
	d, err := db.Open(filepath.Join(b.TempDir(), "longshoreman.db"), db.Options{Create: true})
	if err != nil {
		b.Fatal(err)
	}
	defer d.Close()
	for i := range 100 {
		if _, err := d.CreateApp(fmt.Sprintf("app%04d.bench.example.com", i)); err != nil {
			b.Fatal(err)
		}
	}
	engines := docker.New(docker.Config{Port: 1}) // never called by GET /apps
	defer engines.Close()
	api := http.NewServer(&http.Server{Store: d, Token: testToken, Observer: metrics.New(metrics.Sources{}),
		Logger:    slog.New(slog.NewTextHandler(io.Discard, nil)),
		Scheduler: scheduler.New(d, engines, scheduler.Config{Controller: d.ControllerID()})})

	rec := httptest.NewRecorder()
	api.ServeHTTP(rec, listAppsRequest())
	if rec.Code != nethttp.StatusOK {
		b.Fatalf("GET /apps = %d %s", rec.Code, rec.Body)
	}
	body, header := rec.Body.Bytes(), rec.Header().Clone()
	bare := nethttp.HandlerFunc(func(w nethttp.ResponseWriter, r *nethttp.Request) {
		h := w.Header()
		for k, v := range header {
			h[k] = v
		}
		w.WriteHeader(nethttp.StatusOK)
		_, _ = w.Write(body)
	})
	for _, c := range []struct {
		name string
		h    nethttp.Handler
	}{{"bare", bare}, {"api", api}} {
		b.Run(c.name, func(b *testing.B) {
			w := &discardWriter{h: nethttp.Header{}}
			req := listAppsRequest()
			b.ReportAllocs()
			for b.Loop() {
				clear(w.h)
				w.status = 0
				req.Body = nethttp.NoBody // the API wraps the body in its limit
				c.h.ServeHTTP(w, req)
				if w.status != nethttp.StatusOK {
					b.Fatalf("status %d", w.status)
				}
			}
		})
	}
}

func listAppsRequest() *nethttp.Request {
	req := httptest.NewRequest(nethttp.MethodGet, "/apps", nil)
	req.Header.Set("X-Auth", testToken)
	return req
}

// discardWriter is a ResponseWriter that keeps the headers and the status
// and drops the body.
type discardWriter struct {
	h      nethttp.Header
	status int
}

func (w *discardWriter) Header() nethttp.Header { return w.h }

func (w *discardWriter) WriteHeader(code int) { w.status = code }

func (w *discardWriter) Write(b []byte) (int, error) {
	if w.status == 0 {
		w.status = nethttp.StatusOK
	}
	return len(b), nil
}
