//go:build integration

package router_test

import (
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/longshoreman/longshoreman/cluster"
	"github.com/longshoreman/longshoreman/internal/testenv"
	"github.com/longshoreman/longshoreman/pubsub"
	"github.com/longshoreman/longshoreman/router"
)

// getStatus asks client for the status at url (any host: the URL's, or
// host when given) with the headers given, and returns the answer's
// status code and body.
func getStatus(t *testing.T, client *http.Client, url, host string, header http.Header) (int, string) {
	t.Helper()
	req, _ := http.NewRequest("GET", url+router.StatusPath, nil)
	if host != "" {
		req.Host = host
	}
	for k, v := range header {
		req.Header[k] = v
	}
	resp, err := client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// TestStatusWithoutTokenSaysOnlyOk: without the router token the status
// answers only ok (503 not ok before the first table), on any host, over
// HTTP and HTTPS, naming no domain, controller or cluster; with the token
// (Bearer or X-Auth) it answers the full status.
func TestStatusWithoutTokenSaysOnlyOk(t *testing.T) {
	t.Parallel()
	c := testRedis(t)
	ca, fc := certController(t, 1, "a.example.com")
	ba, _ := backend(t, "a")
	ch := "test.router.status." + time.Now().Format("150405.000000")
	hr := runHTTPSRouter(t, router.RunConfig{Redis: pubsub.ClientOf(c), Channel: ch, Controller: fc.URL, RouterToken: testRouterToken})
	anonymous := map[string]http.Header{
		"no token":           nil,
		"wrong bearer":       {"Authorization": {"Bearer not-the-router-token"}},
		"wrong X-Auth":       {"X-Auth": {"not-the-router-token"}},
		"token without kind": {"Authorization": {testRouterToken}},
	}
	for name, h := range anonymous {
		if code, body := getStatus(t, http.DefaultClient, hr.url, "", h); code != 503 || body != `{"status":"not ok"}`+"\n" {
			t.Fatalf("%s, before the first table: %d %q, want 503 {\"status\":\"not ok\"}", name, code, body)
		}
	}

	publishTable(t, c, ch, cluster.RoutingTable{Version: 1, Controller: "ctl-1", Cluster: "cluster-k", Certs: 1,
		Routes: map[string][]string{"a.example.com": {ba}}, HTTPS: map[string]cluster.HTTPSRoute{"a.example.com": {}}})
	testenv.Eventually(t, 10*time.Second, "table applied and certificates fetched", func() bool {
		st := status(t, hr.url)
		return st.Version == 1 && st.Certs != nil && st.Certs.Version == 1
	})
	https := hr.client(ca, true)
	for name, h := range anonymous {
		for _, host := range []string{"", "a.example.com", "unknown.example.org"} {
			code, body := getStatus(t, http.DefaultClient, hr.url, host, h)
			if code != 200 || body != `{"status":"ok"}`+"\n" {
				t.Fatalf("%s, host %q: %d %q, want 200 {\"status\":\"ok\"}", name, host, code, body)
			}
		}
		if code, body := getStatus(t, https, "https://a.example.com", "", h); code != 200 || body != `{"status":"ok"}`+"\n" {
			t.Fatalf("%s over HTTPS: %d %q", name, code, body)
		}
	}

	for _, h := range []http.Header{
		{"Authorization": {"Bearer " + testRouterToken}},
		{"Authorization": {"bearer " + testRouterToken}},
		{"X-Auth": {testRouterToken}},
	} {
		code, body := getStatus(t, http.DefaultClient, hr.url, "unknown.example.org", h)
		if code != 200 {
			t.Fatalf("%v: %d %q", h, code, body)
		}
		for _, want := range []string{`"cluster":"cluster-k"`, `"controller":"ctl-1"`, `"domain":"a.example.com"`, `"source":"` + fc.URL + `"`} {
			if !strings.Contains(body, want) {
				t.Fatalf("with the token (%v) the status lacks %s: %s", h, want, body)
			}
		}
	}
}
