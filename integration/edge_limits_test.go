//go:build integration

package integration

import (
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/longshoreman/longshoreman/internal/testenv"
)

// fromLoopback returns a client whose connections come from the loopback
// address ip (127.0.0.x: Linux answers the whole 127/8).
func fromLoopback(ip string) *http.Client {
	d := &net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(ip)}, Timeout: 5 * time.Second}
	return &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{DialContext: d.DialContext}}
}

// edgeCall sends method path for app through the router at url with c,
// with the X-Forwarded-For and body given, and returns the status, the
// Retry-After and the body. A chunked body is sent when chunked is set.
func edgeCall(t *testing.T, c *http.Client, url, app, method, path, xff, body string, chunked bool) (int, string, string) {
	t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
		if chunked {
			rd = io.MultiReader(rd) // hides the length
		}
	}
	req, _ := http.NewRequest(method, url+path, rd)
	req.Host = app
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

// routerMetrics scrapes the router's metrics with the router token.
func routerMetrics(t *testing.T, r *Router) string {
	t.Helper()
	req, _ := http.NewRequest("GET", r.URL+"/_longshoreman/metrics", nil)
	req.Header.Set("Authorization", "Bearer "+testRouterToken)
	resp, err := routerClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 200 {
		t.Fatalf("router metrics: %d %s", resp.StatusCode, b)
	}
	return string(b)
}

// TestEdgeLimits sets an app's limits with the API and checks them at two
// real routers fed by the controller over the real Redis: a client over
// the rate gets 429 with Retry-After while another client of the app is
// served, told apart by their loopback source address at an edge router
// and by X-Forwarded-For at a router behind a trusted proxy; bodies over
// the limit get 413 (declared, or chunked and cut off); the router's
// metrics count both by app and code; "none" lifts the rate limit.
func TestEdgeLimits(t *testing.T) {
	t.Parallel()
	c, redisAddr := controllerOwnRedis(t)
	edge := StartRouter(t, redisAddr)
	behind := StartRouterEnv(t, redisAddr, "LONGSHOREMAN_TRUST_FORWARDED=127.0.0.0/8")
	app := testenv.App(t, "edge-limits")
	c.MustCall(t, "POST", "/apps/"+app+"/deploy", `{"image":"`+testenv.Image(t, "1")+`","count":1}`)
	for _, r := range []*Router{edge, behind} {
		r.WaitRoutes(t, app, 60*time.Second)
	}

	// 1/m: no request comes back within the test, the buckets only empty.
	out := c.MustCall(t, "POST", "/apps/"+app+"/settings", `{"rate_limit":"1/m","burst":3,"max_body":"1k"}`)
	if s := out["settings"].(map[string]any); s["rate_limit"] != "1/m" || s["burst"] != 3.0 || s["max_body"] != "1k" {
		t.Fatalf("settings answer: %v", s)
	}
	series := `longshoreman_router_limit_clients{app="` + app + `"}`
	for _, r := range []*Router{edge, behind} {
		testenv.Eventually(t, 30*time.Second, "the router has the app's limits", func() bool {
			return strings.Contains(routerMetrics(t, r), `longshoreman_router_limited_requests_total{app="`+app+`",code="429"} 0`)
		})
	}

	one, two := fromLoopback("127.0.0.1"), fromLoopback("127.0.0.2")
	for i := range 3 {
		if status, _, body := edgeCall(t, one, edge.URL, app, "GET", "/", "", "", false); status != 200 {
			t.Fatalf("request %d of the burst: %d %q", i+1, status, body)
		}
	}
	status, retry, body := edgeCall(t, one, edge.URL, app, "GET", "/", "", "", false)
	if secs, _ := strconv.Atoi(retry); status != 429 || secs < 1 || secs > 60 || !strings.Contains(body, "Too many requests to "+app) {
		t.Fatalf("over the rate: %d Retry-After %q %q; want 429 and a wait of at most a minute", status, retry, body)
	}
	if status, _, body := edgeCall(t, two, edge.URL, app, "GET", "/", "", "", false); status != 200 || !strings.Contains(body, "version=1") {
		t.Fatalf("another client of the app meanwhile: %d %q", status, body)
	}

	// Behind a trusted proxy (127/8 here), clients are their
	// X-Forwarded-For.
	for i := range 3 {
		if status, _, body := edgeCall(t, one, behind.URL, app, "GET", "/", "198.51.100.1", "", false); status != 200 {
			t.Fatalf("forwarded client, request %d: %d %q", i+1, status, body)
		}
	}
	if status, _, body := edgeCall(t, one, behind.URL, app, "GET", "/", "198.51.100.1", "", false); status != 429 || !strings.Contains(body, "from 198.51.100.1") {
		t.Fatalf("forwarded client over the rate: %d %q", status, body)
	}
	if status, _, body := edgeCall(t, one, behind.URL, app, "GET", "/", "198.51.100.2", "", false); status != 200 {
		t.Fatalf("another forwarded client through the same proxy: %d %q", status, body)
	}

	// Bodies (a client of their own: the rate applies first): PUT /file
	// reads the whole body before it answers.
	three := fromLoopback("127.0.0.3")
	big := strings.Repeat("x", 4096)
	if status, _, body := edgeCall(t, three, edge.URL, app, "PUT", "/file?path=/nowhere/x", "", big, false); status != 413 || !strings.Contains(body, "larger than "+app+" allows (1k)") {
		t.Fatalf("a declared body over the limit: %d %q", status, body)
	}
	if status, _, body := edgeCall(t, three, edge.URL, app, "PUT", "/file?path=/nowhere/x", "", big, true); status != 413 {
		t.Fatalf("a chunked body over the limit: %d %q", status, body)
	}
	if status, _, body := edgeCall(t, three, edge.URL, app, "POST", "/log?line=within-the-limit", "", strings.Repeat("x", 1000), true); status != 200 || body != "printed" {
		t.Fatalf("a chunked body within the limit: %d %q", status, body)
	}

	m := routerMetrics(t, edge)
	for _, want := range []string{
		`longshoreman_router_limited_requests_total{app="` + app + `",code="429"} 1`,
		`longshoreman_router_limited_requests_total{app="` + app + `",code="413"} 2`,
		series + ` 3`,
	} {
		if !strings.Contains(m, want) {
			t.Errorf("edge router metrics lack %s:\n%s", want, m)
		}
	}
	if m := routerMetrics(t, behind); !strings.Contains(m, `longshoreman_router_limited_requests_total{app="`+app+`",code="429"} 1`) {
		t.Errorf("trusting router metrics:\n%s", m)
	}
	// Without the router token the metrics are not shown.
	if resp, err := routerClient.Get(edge.URL + "/_longshoreman/metrics"); err != nil || resp.StatusCode != 401 {
		t.Fatalf("metrics without the token: %v %v", resp, err)
	} else {
		resp.Body.Close()
	}

	// "none" lifts the rate limit; the body limit stays.
	c.MustCall(t, "POST", "/apps/"+app+"/settings", `{"rate_limit":"none"}`)
	testenv.Eventually(t, 30*time.Second, "the router drops the app's rate limit", func() bool {
		return !strings.Contains(routerMetrics(t, edge), series)
	})
	for range 3 {
		if status, _, body := edgeCall(t, one, edge.URL, app, "GET", "/", "", "", false); status != 200 {
			t.Fatalf("after rate_limit none: %d %q", status, body)
		}
	}
	if status, _, _ := edgeCall(t, one, edge.URL, app, "PUT", "/file?path=/nowhere/x", "", big, false); status != 413 {
		t.Fatalf("the body limit went with the rate limit: %d", status)
	}
}
