package router_test

import (
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/longshoreman/longshoreman/cluster"
	"github.com/longshoreman/longshoreman/router"
)

// clientFrom returns an HTTP client whose connections come from the
// loopback address ip (127.0.0.x: Linux answers the whole 127/8).
func clientFrom(ip string) *http.Client {
	d := &net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(ip)}, Timeout: 5 * time.Second}
	return &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{DialContext: d.DialContext}}
}

// limitedGet sends GET / for host through url with c, with the X-Forwarded-For
// given, and returns the status, the Retry-After and the body.
func limitedGet(t *testing.T, c *http.Client, url, host, xff string) (int, string, string) {
	t.Helper()
	req, _ := http.NewRequest("GET", url+"/", nil)
	req.Host = host
	if xff != "" {
		req.Header.Set("X-Forwarded-For", xff)
	}
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, resp.Header.Get("Retry-After"), string(b)
}

// metricsText scrapes r's metrics.
func metricsText(t *testing.T, r *router.Router) string {
	t.Helper()
	rec := httptest.NewRecorder()
	r.Metrics().ServeHTTP(rec, httptest.NewRequest("GET", router.MetricsPath, nil))
	if rec.Code != 200 {
		t.Fatalf("metrics: %d %s", rec.Code, rec.Body)
	}
	return rec.Body.String()
}

func limitedLine(app, code string, n int) string {
	return fmt.Sprintf(`longshoreman_router_limited_requests_total{app=%q,code=%q} %d`, app, code, n)
}

// perMinute is a rate slow enough that no request comes back within a
// test: the buckets only empty.
var perMinute = cluster.Rate{N: 1, Per: time.Minute}

// A client over its app's rate gets 429 with Retry-After while another
// client of the same app, and the same client on another app, are
// served; the refusals are counted by app and code. Clients are told
// apart by their address: two loopback source addresses here.
func TestRateLimitPerClientAddress(t *testing.T) {
	be, hits := backend(t, "a")
	r := router.New(router.Config{Logger: testLogger()})
	r.Apply(cluster.RoutingTable{Version: 1, Controller: "c",
		Routes: map[string][]string{"a.example.com": {be}, "free.example.com": {be}},
		Limits: map[string]cluster.LimitRoute{"a.example.com": {Rate: perMinute, Burst: 2}}})
	url := serveRouter(t, r)
	one, two := clientFrom("127.0.0.1"), clientFrom("127.0.0.2")

	for i := range 2 {
		if status, _, body := limitedGet(t, one, url, "a.example.com", ""); status != 200 {
			t.Fatalf("request %d of the burst: %d %q", i+1, status, body)
		}
	}
	status, retry, body := limitedGet(t, one, url, "A.example.com:80", "")
	secs, _ := strconv.Atoi(retry)
	if status != 429 || secs < 1 || secs > 60 || !strings.Contains(body, "Too many requests to a.example.com from 127.0.0.1") || !strings.Contains(body, "1/m per client address, 2 at once") {
		t.Fatalf("past the burst: %d Retry-After %q %q; want 429 within a minute", status, retry, body)
	}
	// A client that changes its X-Forwarded-For on an edge router that
	// trusts no proxy is still itself.
	if status, _, _ := limitedGet(t, one, url, "a.example.com", "203.0.113.77"); status != 429 {
		t.Fatalf("the same client with a forged X-Forwarded-For: %d, want 429", status)
	}
	if status, _, body := limitedGet(t, two, url, "a.example.com", ""); status != 200 {
		t.Fatalf("another client of the same app: %d %q", status, body)
	}
	for range 5 {
		if status, _, body := limitedGet(t, one, url, "free.example.com", ""); status != 200 {
			t.Fatalf("an app without limits: %d %q", status, body)
		}
	}
	if n := hits.Load(); n != 8 {
		t.Fatalf("the instance got %d requests, want 8 (the refused ones never reach it)", n)
	}
	m := metricsText(t, r)
	for _, want := range []string{limitedLine("a.example.com", "429", 2), limitedLine("a.example.com", "413", 0),
		`longshoreman_router_limit_clients{app="a.example.com"} 2`} {
		if !strings.Contains(m, want) {
			t.Errorf("metrics lack %s:\n%s", want, m)
		}
	}
	if strings.Contains(m, "free.example.com") {
		t.Errorf("metrics name an app without limits:\n%s", m)
	}

	// The buckets and the counts outlive a new table with the same
	// limits; new limits start afresh, counts go on; an app whose limits
	// are gone is served without any and leaves the metrics.
	routes := map[string][]string{"a.example.com": {be}}
	r.Apply(cluster.RoutingTable{Version: 2, Controller: "c", Routes: routes,
		Limits: map[string]cluster.LimitRoute{"a.example.com": {Rate: perMinute, Burst: 2}}})
	if status, _, _ := limitedGet(t, one, url, "a.example.com", ""); status != 429 {
		t.Fatalf("after a table with the same limits: %d, want 429 still", status)
	}
	r.Apply(cluster.RoutingTable{Version: 3, Controller: "c", Routes: routes,
		Limits: map[string]cluster.LimitRoute{"a.example.com": {Rate: perMinute, Burst: 3}}})
	if status, _, _ := limitedGet(t, one, url, "a.example.com", ""); status != 200 {
		t.Fatalf("after the burst changed: %d, want a fresh bucket", status)
	}
	if m := metricsText(t, r); !strings.Contains(m, limitedLine("a.example.com", "429", 3)) {
		t.Errorf("the count did not carry over:\n%s", m)
	}
	r.Apply(cluster.RoutingTable{Version: 4, Controller: "c", Routes: routes})
	for range 4 {
		if status, _, _ := limitedGet(t, one, url, "a.example.com", ""); status != 200 {
			t.Fatalf("without limits: %d", status)
		}
	}
	if m := metricsText(t, r); strings.Contains(m, "a.example.com") {
		t.Errorf("an app without limits left in the metrics:\n%s", m)
	}
}

// Behind a trusted proxy the client is the nearest untrusted address of
// X-Forwarded-For: two clients of one proxy have a bucket each.
func TestRateLimitBehindTrustedProxy(t *testing.T) {
	be, _ := backend(t, "a")
	trusted, _ := router.ParseTrustedProxies("127.0.0.0/8")
	r := router.New(router.Config{Logger: testLogger(), TrustForwarded: trusted})
	r.Apply(cluster.RoutingTable{Version: 1, Controller: "c", Routes: map[string][]string{"a.example.com": {be}},
		Limits: map[string]cluster.LimitRoute{"a.example.com": {Rate: perMinute, Burst: 1}}})
	url := serveRouter(t, r)
	proxy := clientFrom("127.0.0.1")
	if status, _, _ := limitedGet(t, proxy, url, "a.example.com", "198.51.100.1"); status != 200 {
		t.Fatalf("first client: %d", status)
	}
	status, _, body := limitedGet(t, proxy, url, "a.example.com", "6.6.6.6, 198.51.100.1")
	if status != 429 || !strings.Contains(body, "from 198.51.100.1") {
		t.Fatalf("first client again, with a claim of its own left of it: %d %q; want 429", status, body)
	}
	if status, _, _ := limitedGet(t, proxy, url, "a.example.com", "198.51.100.2"); status != 200 {
		t.Fatalf("second client through the same proxy: %d", status)
	}
}

// completeBodies is an instance that counts the request bodies it read to
// their end, and answers with their length.
func completeBodies(t *testing.T) (string, *atomic.Int64) {
	t.Helper()
	var n atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, err := io.ReadAll(r.Body)
		if err != nil {
			return // cut off: the router aborted it
		}
		n.Add(1)
		fmt.Fprintf(w, "%d", len(b))
	}))
	t.Cleanup(srv.Close)
	return srv.Listener.Addr().String(), &n
}

// onlyReader hides its reader's length, so that a request is chunked.
type onlyReader struct{ io.Reader }

// A body declared larger than the app allows gets 413 at once, never
// reaching the instance; a chunked body cut off at the limit gets 413
// and the instance never sees it whole; bodies within the limit pass, on
// both the router's loop and net/http's server.
func TestMaxBody(t *testing.T) {
	be, complete := completeBodies(t)
	r := router.New(router.Config{Logger: testLogger()})
	r.Apply(cluster.RoutingTable{Version: 1, Controller: "c", Routes: map[string][]string{"a.example.com": {be}},
		Limits: map[string]cluster.LimitRoute{"a.example.com": {MaxBody: 1024}}})
	srv := httptest.NewServer(r)
	t.Cleanup(srv.Close)
	for _, url := range []string{serveRouter(t, r), srv.URL} {
		send := func(body io.Reader) (int, string) {
			t.Helper()
			req, _ := http.NewRequest("POST", url+"/upload", body)
			req.Host = "a.example.com"
			resp, err := testClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			b, _ := io.ReadAll(resp.Body)
			return resp.StatusCode, string(b)
		}
		before := complete.Load()
		if status, body := send(strings.NewReader(strings.Repeat("x", 1025))); status != 413 || !strings.Contains(body, "larger than a.example.com allows (1k)") {
			t.Fatalf("%s: a declared body over the limit: %d %q", url, status, body)
		}
		if status, body := send(onlyReader{strings.NewReader(strings.Repeat("x", 4000))}); status != 413 {
			t.Fatalf("%s: a chunked body over the limit: %d %q", url, status, body)
		}
		if n := complete.Load(); n != before {
			t.Fatalf("%s: the instance read %d bodies over the limit to their end", url, n-before)
		}
		if status, body := send(strings.NewReader(strings.Repeat("x", 1024))); status != 200 || body != "1024" {
			t.Fatalf("%s: a body at the limit: %d %q", url, status, body)
		}
		if status, body := send(onlyReader{strings.NewReader(strings.Repeat("x", 1000))}); status != 200 || body != "1000" {
			t.Fatalf("%s: a chunked body within the limit: %d %q", url, status, body)
		}
	}
	if m := metricsText(t, r); !strings.Contains(m, limitedLine("a.example.com", "413", 4)) || !strings.Contains(m, limitedLine("a.example.com", "429", 0)) {
		t.Errorf("metrics:\n%s", m)
	}
}
