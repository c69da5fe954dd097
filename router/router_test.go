package router_test

import (
	"encoding/json"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/longshoreman/longshoreman/cluster"
	"github.com/longshoreman/longshoreman/router"
)

func testLogger() *slog.Logger {
	if testing.Verbose() {
		return slog.New(slog.NewTextHandler(os.Stderr, nil))
	}
	return slog.New(slog.NewTextHandler(io.Discard, nil))
}

// seen is what a test backend reports about the request it got.
type seen struct {
	Backend string      `json:"backend"`
	Host    string      `json:"host"`
	Method  string      `json:"method"`
	Body    string      `json:"body"`
	Header  http.Header `json:"header"`
}

// backend starts an HTTP server that answers with a seen; it returns its
// address and a counter of requests it served.
func backend(t *testing.T, name string) (string, *atomic.Int64) {
	t.Helper()
	var n atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n.Add(1)
		b, _ := io.ReadAll(r.Body)
		w.Header().Set("Content-Type", "application/json")
		json.NewEncoder(w).Encode(seen{Backend: name, Host: r.Host, Method: r.Method, Body: string(b), Header: r.Header})
	}))
	t.Cleanup(srv.Close)
	return srv.Listener.Addr().String(), &n
}

// refusing returns an address on which nothing listens.
func refusing(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	return addr
}

// resetting returns the address of a server that accepts connections and
// closes them without answering: the request may have reached the app.
func resetting(t *testing.T) (string, *atomic.Int64) {
	t.Helper()
	return serveEach(t, func(c net.Conn) {
		buf := make([]byte, 4096)
		c.Read(buf)
		c.Close()
	})
}

// proxy starts the router under test with routes applied.
func proxy(t *testing.T, routes map[string][]string) (*router.Router, string) {
	t.Helper()
	r := router.New(router.Config{Logger: testLogger()})
	if routes != nil {
		r.Apply(cluster.RoutingTable{Version: 1, Controller: "c", Routes: routes})
	}
	srv := httptest.NewServer(r)
	t.Cleanup(srv.Close)
	return r, srv.URL
}

type answer struct {
	status int
	body   string
	seen   seen
}

// testClient bounds every request, so a router that hangs fails the test
// instead of stalling it.
var testClient = &http.Client{Timeout: 30 * time.Second}

func do(t *testing.T, method, url, host, body string, header http.Header) answer {
	t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequest(method, url, rd)
	if err != nil {
		t.Fatal(err)
	}
	req.Host = host
	for k, v := range header {
		req.Header[k] = v
	}
	resp, err := testClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	a := answer{status: resp.StatusCode, body: string(b)}
	if resp.Header.Get("Content-Type") == "application/json" {
		json.Unmarshal(b, &a.seen)
	}
	return a
}

func TestHostMatching(t *testing.T) {
	b1, _ := backend(t, "b1")
	_, url := proxy(t, map[string][]string{"shop.example.com": {b1}, "Upper.Example.com.": {b1}})
	for _, host := range []string{"shop.example.com", "SHOP.Example.COM", "shop.example.com:8080", "shop.example.com.", "Shop.Example.Com.:80", "upper.example.com"} {
		a := do(t, "GET", url+"/x", host, "", nil)
		if a.status != 200 || a.seen.Backend != "b1" {
			t.Errorf("Host %q: %d %q", host, a.status, a.body)
		}
		if a.seen.Host != host {
			t.Errorf("Host %q reached the backend as %q", host, a.seen.Host)
		}
	}
	for host, name := range map[string]string{"other.example.com": "other.example.com", "Other.Example.com:81": "other.example.com", "[::1]:80": "::1"} {
		a := do(t, "GET", url+"/", host, "", nil)
		if a.status != 404 || a.body != "No backend found for "+name+"\n" {
			t.Errorf("Host %q: %d %q", host, a.status, a.body)
		}
	}
}

func TestRoundRobin(t *testing.T) {
	routes := map[string][]string{"a.example.com": nil}
	var counts []*atomic.Int64
	for _, name := range []string{"b1", "b2", "b3"} {
		addr, n := backend(t, name)
		routes["a.example.com"] = append(routes["a.example.com"], addr)
		counts = append(counts, n)
	}
	_, url := proxy(t, routes)
	for range 300 {
		if a := do(t, "GET", url+"/", "a.example.com", "", nil); a.status != 200 {
			t.Fatalf("%d %s", a.status, a.body)
		}
	}
	for i, n := range counts {
		if n.Load() != 100 {
			t.Errorf("backend %d served %d of 300 requests, want 100", i+1, n.Load())
		}
	}
}

func TestNoInstancesAndNoTable(t *testing.T) {
	r, url := proxy(t, nil)
	a := do(t, "GET", url+"/", "a.example.com", "", nil)
	if a.status != 503 || !strings.Contains(a.body, "has not received a routing table") {
		t.Errorf("before any table: %d %q", a.status, a.body)
	}
	r.Apply(cluster.RoutingTable{Version: 2, Routes: map[string][]string{"empty.example.com": {}}})
	a = do(t, "GET", url+"/", "empty.example.com", "", nil)
	if a.status != 503 || a.body != "empty.example.com has no healthy instance right now; deploy it or check its health check.\n" {
		t.Errorf("no instances: %d %q", a.status, a.body)
	}
}

func TestPing(t *testing.T) {
	_, url := proxy(t, map[string][]string{})
	for _, host := range []string{"anything.example.com", "127.0.0.1"} {
		if a := do(t, "GET", url+"/_ping", host, "", nil); a.status != 200 || a.body != "pong" {
			t.Errorf("Host %q: %d %q", host, a.status, a.body)
		}
	}
}

func TestForwardedHeaders(t *testing.T) {
	b1, _ := backend(t, "b1")
	_, url := proxy(t, map[string][]string{"shop.example.com": {b1}})
	a := do(t, "GET", url+"/", "shop.example.com:8080", "", http.Header{
		"X-Forwarded-For":   {"203.0.113.7"},
		"X-Forwarded-Proto": {"https"}, // a client's claim, replaced
		"Connection":        {"X-Secret"},
		"X-Secret":          {"hop-by-hop"},
	})
	h := a.seen.Header
	// An edge router (the default) replaces the client's claim.
	if got := h.Get("X-Forwarded-For"); got != "127.0.0.1" {
		t.Errorf("X-Forwarded-For = %q", got)
	}
	if got := h.Get("X-Forwarded-Proto"); got != "http" {
		t.Errorf("X-Forwarded-Proto = %q", got)
	}
	if got := h.Get("X-Forwarded-Host"); got != "shop.example.com:8080" {
		t.Errorf("X-Forwarded-Host = %q", got)
	}
	if h.Get("X-Secret") != "" {
		t.Error("a hop-by-hop header reached the backend")
	}
}

func TestRetriesRefusedInstance(t *testing.T) {
	b1, n1 := backend(t, "b1")
	b2, n2 := backend(t, "b2")
	_, url := proxy(t, map[string][]string{"a.example.com": {refusing(t), b1, refusing(t), b2}})
	for i := range 200 {
		method, body := "GET", ""
		if i%2 == 1 {
			method, body = "POST", strings.Repeat("x", 1000)
		}
		a := do(t, method, url+"/", "a.example.com", body, nil)
		if a.status != 200 || a.seen.Body != body {
			t.Fatalf("request %d (%s): %d %q", i, method, a.status, a.body)
		}
	}
	if n1.Load()+n2.Load() != 200 || n1.Load() < 80 || n2.Load() < 80 {
		t.Errorf("live backends served %d and %d of 200", n1.Load(), n2.Load())
	}
}

func TestRetriesOnlyWhenSafe(t *testing.T) {
	b1, _ := backend(t, "b1")
	bad, hits := resetting(t)
	_, url := proxy(t, map[string][]string{"a.example.com": {bad, b1}})
	for range 10 {
		if a := do(t, "GET", url+"/", "a.example.com", "", nil); a.status != 200 {
			t.Fatalf("GET: %d %q", a.status, a.body)
		}
	}
	// A POST with a body that reached an instance that then failed must
	// not be sent twice.
	var failed int
	for range 10 {
		if a := do(t, "POST", url+"/", "a.example.com", "pay once", nil); a.status == 502 {
			failed++
			if !strings.Contains(a.body, "No instance of a.example.com answered") {
				t.Fatalf("502 body %q", a.body)
			}
		}
	}
	if failed == 0 || hits.Load() == 0 {
		t.Fatalf("POSTs to a failing instance: %d failed, %d reached it", failed, hits.Load())
	}
}

func TestApplySwapsTable(t *testing.T) {
	b1, _ := backend(t, "b1")
	b2, _ := backend(t, "b2")
	r, url := proxy(t, map[string][]string{"a.example.com": {b1}})
	r.Apply(cluster.RoutingTable{Version: 2, Controller: "c", Routes: map[string][]string{"a.example.com": {b2}}})
	if a := do(t, "GET", url+"/", "a.example.com", "", nil); a.seen.Backend != "b2" {
		t.Fatalf("after Apply got %q", a.seen.Backend)
	}
	tab := r.Table()
	if tab.Version != 2 || len(tab.Routes["a.example.com"]) != 1 {
		t.Fatalf("Table() = %+v", tab)
	}
	tab.Routes["a.example.com"][0] = "mutated"
	if r.Table().Routes["a.example.com"][0] != b2 {
		t.Fatal("Table() shares memory with the router")
	}
}
