// Command testapp is the application that Longshoreman's tests deploy. It is
// a static net/http server with switches that let a test make it fail its
// health check, crash at start, start slowly or crash on request, so deploy,
// health-check and repair paths can be exercised against a real container.
//
// Environment:
//
//	PORT=3000        the port to listen on
//	FAIL_HEALTH=1    GET /ping answers 500 until POST /health/ok
//	CRASH=1          exit 1 at start
//	SLOW_START=2s    sleep that long before listening
//
// Endpoints: GET / (version and hostname), GET /ping, GET /version, GET /env,
// GET /env/KEY, POST /health/fail, POST /health/ok, POST /crash (exit 3),
// POST /alloc?mb=N (allocate and hold N MiB, to be killed for memory),
// PUT and GET /file?path=PATH (write and read a file, as in a volume).
// SIGTERM shuts the server down gracefully and exits 0. Run with arguments,
// it performs a one-off task instead (see runTask).
package main

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"
)

// version is set at build time with -ldflags "-X main.version=N".
var version = "dev"

func main() {
	if len(os.Args) > 1 {
		os.Exit(runTask(os.Args[1:]))
	}
	if os.Getenv("CRASH") == "1" {
		fmt.Fprintln(os.Stderr, "crashing at start as asked")
		os.Exit(1)
	}
	if s := os.Getenv("SLOW_START"); s != "" {
		d, err := time.ParseDuration(s)
		if err != nil {
			fmt.Fprintf(os.Stderr, "SLOW_START=%q: %v\n", s, err)
			os.Exit(2)
		}
		fmt.Printf("testapp %s starting slowly (%s) as asked\n", version, d)
		time.Sleep(d)
	}
	port := os.Getenv("PORT")
	if port == "" {
		port = "3000"
	}

	a := newApp(version, os.Getenv("FAIL_HEALTH") == "1")
	a.exit = func(code int) {
		fmt.Fprintf(os.Stderr, "exiting with status %d as asked\n", code)
		os.Exit(code)
	}
	srv := &http.Server{Addr: ":" + port, Handler: a.handler(), ReadHeaderTimeout: 10 * time.Second}

	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, os.Interrupt)
	defer stop()
	errc := make(chan error, 1)
	go func() { errc <- srv.ListenAndServe() }()
	fmt.Printf("testapp %s listening on :%s\n", version, port)

	select {
	case err := <-errc:
		fmt.Fprintf(os.Stderr, "testapp: %v\n", err)
		os.Exit(1)
	case <-ctx.Done():
	}
	fmt.Println("testapp shutting down")
	shutdownCtx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := srv.Shutdown(shutdownCtx); err != nil && !errors.Is(err, http.ErrServerClosed) {
		fmt.Fprintf(os.Stderr, "testapp: shutdown: %v\n", err)
		os.Exit(1)
	}
	fmt.Println("testapp stopped")
}
