package testenv

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"
)

// labelApp is cluster.LabelApp (not imported, to keep testenv free of the
// project's packages): scripts/test removes every container carrying it.
const labelApp = "longshoreman.app"

// RemoveContainers force-removes every container labelled with app on the
// test daemon; use it in t.Cleanup of tests that start containers.
func RemoveContainers(tb testing.TB, app string) {
	tb.Helper()
	// A controller still running may be removing some of them at the same
	// moment ("removal ... already in progress", "No such container"):
	// what counts is that none is left.
	var out string
	for attempt := 0; attempt < 5; attempt++ {
		ids, err := DockerErr(tb, "ps", "-aq", "--filter", "label="+labelApp+"="+app)
		if err != nil {
			tb.Errorf("listing containers of %s: %v: %s", app, err, ids)
			return
		}
		if ids = strings.TrimSpace(ids); ids == "" {
			return
		}
		if out, err = DockerErr(tb, append([]string{"rm", "-f"}, strings.Fields(ids)...)...); err == nil {
			return
		}
		time.Sleep(time.Second)
	}
	tb.Errorf("removing containers of %s: %s", app, out)
}

// UniqueApp returns an app name unique to this test run, such as
// "docker-run-1714070000123.test", for tests that share the daemon.
func UniqueApp(tb testing.TB, prefix string) string {
	tb.Helper()
	return fmt.Sprintf("%s-%d.test", prefix, time.Now().UnixNano())
}

// App returns a unique app name (UniqueApp) and removes the app's
// containers when the test ends.
func App(tb testing.TB, prefix string) string {
	tb.Helper()
	app := UniqueApp(tb, prefix)
	tb.Cleanup(func() { RemoveContainers(tb, app) })
	return app
}

// HTTPGet GETs http://addr+path until it answers or timeout passes, and
// returns the status code and body of the first answer.
func HTTPGet(tb testing.TB, addr, path string, timeout time.Duration) (int, string) {
	tb.Helper()
	client := &http.Client{Timeout: 2 * time.Second}
	deadline := time.Now().Add(timeout)
	var last error
	for time.Now().Before(deadline) {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+addr+path, nil)
		resp, err := client.Do(req)
		if err == nil {
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			cancel()
			return resp.StatusCode, string(body)
		}
		cancel()
		last = err
		time.Sleep(50 * time.Millisecond)
	}
	tb.Fatalf("GET http://%s%s: no answer within %s: %v", addr, path, timeout, last)
	return 0, ""
}

// Addr joins host and port.
func Addr(host string, port int) string { return net.JoinHostPort(host, strconv.Itoa(port)) }
