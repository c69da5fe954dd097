// Command api-bench serves GET /apps twice for bench/api/run.sh: once from
// the real API handler (http.NewServer over a bbolt data file holding 100
// apps, wired as serve.go wires it: token, request log, metrics), and once
// from a bare net/http handler
// that writes the very same bytes and headers. Comparing the two under the
// same load tool gives the API's throughput as a fraction of what the HTTP
// stack itself can do on this machine.
//
//	api-bench -real 127.0.0.1:18091 -bare 127.0.0.1:18092 -apps 100 -token T [-log stderr] [-metrics=false]
package main

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"net"
	nethttp "net/http"
	"net/http/httptest"
	_ "net/http/pprof" // served on -pprof only
	"os"
	"os/signal"
	"path/filepath"
	"syscall"
	"time"

	"github.com/longshoreman/longshoreman/db"
	"github.com/longshoreman/longshoreman/docker"
	"github.com/longshoreman/longshoreman/http"
	"github.com/longshoreman/longshoreman/metrics"
	"github.com/longshoreman/longshoreman/scheduler"
)

func main() {
	realAddr := flag.String("real", "127.0.0.1:18091", "listen address of the real API")
	bareAddr := flag.String("bare", "127.0.0.1:18092", "listen address of the bare handler")
	apps := flag.Int("apps", 100, "apps in the data file")
	token := flag.String("token", "bench-token", "API token")
	logTo := flag.String("log", "discard", "request log of the real API: discard (the handler's default: records are formatted, then dropped) or stderr (as serve does)")
	withMetrics := flag.Bool("metrics", true, "record every request in the Prometheus metrics, as serve does")
	pprofAddr := flag.String("pprof", "", "listen address of net/http/pprof, to profile either server under load (go tool pprof http://ADDR/debug/pprof/profile?seconds=5); empty: none")
	flag.Parse()
	if *pprofAddr != "" {
		go func() { fmt.Fprintln(os.Stderr, "api-bench: pprof:", nethttp.ListenAndServe(*pprofAddr, nil)) }()
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, *realAddr, *bareAddr, *apps, *token, *logTo, *withMetrics); err != nil {
		fmt.Fprintln(os.Stderr, "api-bench:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, realAddr, bareAddr string, apps int, token, logTo string, withMetrics bool) error {
	dir, err := os.MkdirTemp("", "api-bench-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	store, err := db.Open(filepath.Join(dir, "api.db"), db.Options{Create: true})
	if err != nil {
		return err
	}
	defer store.Close()
	for i := range apps {
		if _, err := store.CreateApp(fmt.Sprintf("app%04d.bench.example.com", i)); err != nil {
			return err
		}
	}
	var logger *slog.Logger // nil: the handler's default, a discarding text handler
	if logTo == "stderr" {
		logger = slog.New(slog.NewTextHandler(os.Stderr, nil))
	} else if logTo != "discard" {
		return fmt.Errorf("-log must be discard or stderr, not %q", logTo)
	}
	engines := docker.New(docker.Config{Controller: store.ControllerID()}) // never contacted by GET /apps
	defer engines.Close()
	sched := scheduler.New(store, engines, scheduler.Config{Controller: store.ControllerID()})
	srv := &http.Server{Store: store, Scheduler: sched, Token: token, Logger: logger}
	if withMetrics {
		m := metrics.New(metrics.Sources{Instances: store.AllInstances, Hosts: store.Hosts})
		srv.Observer, srv.Metrics = m, m.Handler()
	}
	api := http.NewServer(srv)

	// The bare handler answers with what the real one answers.
	rec := httptest.NewRecorder()
	req := httptest.NewRequest(nethttp.MethodGet, "/apps", nil)
	req.Header.Set("X-Auth", token)
	api.ServeHTTP(rec, req)
	if rec.Code != nethttp.StatusOK {
		return fmt.Errorf("real GET /apps answered %d: %s", rec.Code, rec.Body)
	}
	body := bytes.Clone(rec.Body.Bytes())
	header := rec.Header().Clone()
	bare := nethttp.HandlerFunc(func(w nethttp.ResponseWriter, r *nethttp.Request) {
		h := w.Header()
		for k, v := range header {
			h[k] = v
		}
		w.WriteHeader(nethttp.StatusOK)
		_, _ = w.Write(body)
	})
	fmt.Fprintf(os.Stderr, "api-bench: GET /apps answers %d bytes (%d apps); real on %s (metrics %v), bare on %s\n", len(body), apps, realAddr, withMetrics, bareAddr)

	errc := make(chan error, 2)
	var servers []*nethttp.Server
	for _, s := range []struct {
		addr string
		h    nethttp.Handler
	}{{realAddr, api}, {bareAddr, bare}} {
		l, err := net.Listen("tcp", s.addr)
		if err != nil {
			return err
		}
		// The production server settings of serve.go, for both.
		srv := &nethttp.Server{Handler: s.h, ReadHeaderTimeout: 10 * time.Second, ReadTimeout: time.Minute,
			WriteTimeout: 20 * time.Minute, IdleTimeout: 2 * time.Minute, MaxHeaderBytes: 64 << 10}
		servers = append(servers, srv)
		go func() { errc <- srv.Serve(l) }()
	}
	select {
	case <-ctx.Done():
	case err := <-errc:
		if !errors.Is(err, nethttp.ErrServerClosed) {
			return err
		}
	}
	for _, srv := range servers {
		_ = srv.Close()
	}
	return nil
}
