package router_test

import (
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/longshoreman/longshoreman/cluster"
	"github.com/longshoreman/longshoreman/router"
)

// An app in maintenance is answered by the router itself: 503 with
// Retry-After and its message, as HTML (escaped) or as JSON to a client
// asking for JSON, never reaching an instance; the other apps, and the app
// once maintenance ends, are proxied as before.
func TestMaintenancePage(t *testing.T) {
	a, hitsA := backend(t, "a")
	b, hitsB := backend(t, "b")
	r, url := proxy(t, nil)
	routes := map[string][]string{"a.example.com": {a}, "b.example.com": {b}}
	r.Apply(cluster.RoutingTable{Version: 1, Controller: "c", Routes: routes,
		Maintenance: map[string]cluster.MaintenanceRoute{"a.example.com": {Message: "Back at <b>10:00</b> UTC & soon."}}})

	get := func(method, host, accept string) (*http.Response, string) {
		t.Helper()
		req, _ := http.NewRequest(method, url+"/some/path", nil)
		req.Host = host
		if accept != "" {
			req.Header.Set("Accept", accept)
		}
		resp, err := testClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		return resp, string(body)
	}

	resp, body := get("GET", "A.example.com:80", "text/html,application/xhtml+xml,*/*;q=0.8")
	if resp.StatusCode != http.StatusServiceUnavailable || resp.Header.Get("Retry-After") == "" ||
		!strings.HasPrefix(resp.Header.Get("Content-Type"), "text/html") || resp.Header.Get("Cache-Control") != "no-store" {
		t.Fatalf("page: %d %v", resp.StatusCode, resp.Header)
	}
	if !strings.Contains(body, "Back at &lt;b&gt;10:00&lt;/b&gt; UTC &amp; soon.") || strings.Contains(body, "<b>") {
		t.Fatalf("page does not hold the escaped message: %s", body)
	}

	resp, body = get("GET", "a.example.com", "application/json")
	var out struct {
		Maintenance bool   `json:"maintenance"`
		Message     string `json:"message"`
		RetryAfter  int    `json:"retry_after"`
	}
	if err := json.Unmarshal([]byte(body), &out); err != nil || resp.StatusCode != 503 || !out.Maintenance || out.Message != "Back at <b>10:00</b> UTC & soon." || out.RetryAfter != router.MaintenanceRetryAfter {
		t.Fatalf("JSON answer: %d %s (%v)", resp.StatusCode, body, err)
	}
	if resp, body = get("HEAD", "a.example.com", ""); resp.StatusCode != 503 || body != "" {
		t.Fatalf("HEAD: %d %q", resp.StatusCode, body)
	}
	if resp, _ = get("GET", "b.example.com", ""); resp.StatusCode != 200 {
		t.Fatalf("the app not in maintenance: %d", resp.StatusCode)
	}
	if hitsA.Load() != 0 || hitsB.Load() != 1 {
		t.Fatalf("instances reached: a %d, b %d; want 0 and 1", hitsA.Load(), hitsB.Load())
	}
	if got := r.Table().Maintenance["a.example.com"].Message; got != "Back at <b>10:00</b> UTC & soon." {
		t.Fatalf("Table() lost the maintenance: %q", got)
	}

	r.Apply(cluster.RoutingTable{Version: 2, Controller: "c", Routes: routes})
	if resp, _ = get("GET", "a.example.com", ""); resp.StatusCode != 200 || hitsA.Load() != 1 {
		t.Fatalf("after maintenance: %d, instance reached %d times", resp.StatusCode, hitsA.Load())
	}
}

// An app in maintenance without any routed instance (stopped for it) gets
// its page too, and so does one the table routes nowhere.
func TestMaintenanceWithoutInstances(t *testing.T) {
	r, url := proxy(t, nil)
	r.Apply(cluster.RoutingTable{Version: 1, Controller: "c", Routes: map[string][]string{"a.example.com": {}},
		Maintenance: map[string]cluster.MaintenanceRoute{"a.example.com": {Message: "Upgrading the database."}}})
	got := do(t, "GET", url+"/", "a.example.com", "", nil)
	if got.status != 503 || !strings.Contains(got.body, "Upgrading the database.") {
		t.Fatalf("got %d %q", got.status, got.body)
	}
}
