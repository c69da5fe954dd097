package integration

import (
	"io"
	"net/http"
	"strings"
	"testing"

	api "github.com/longshoreman/longshoreman/http"

	"github.com/longshoreman/longshoreman/command"
	"github.com/longshoreman/longshoreman/ui"
)

// TestDashboardSecurity checks the controller's side: the dashboard's
// files load without a token and carry the CSP, every data route and
// GET /events refuse a request without the right token, and no token,
// right or wrong, ever reaches the request log.
func TestDashboardSecurity(t *testing.T) {
	t.Parallel()
	c, log := serveWith(t, nil, command.ServerTimeouts{})
	wrong := "wrong-token-abcdefghijkl"
	send := func(method, path, header, token string) *http.Response {
		t.Helper()
		req, _ := http.NewRequest(method, c.URL()+path, strings.NewReader("{}"))
		if header != "" {
			req.Header.Set(header, token)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		return resp
	}
	resp := send("GET", "/ui/", "", "")
	if resp.StatusCode != 200 || resp.Header.Get("Content-Security-Policy") != ui.ContentSecurityPolicy ||
		resp.Header.Get("X-Frame-Options") != "DENY" || resp.Header.Get("Referrer-Policy") != "no-referrer" {
		t.Fatalf("GET /ui/ without a token = %d %v, want 200 with the security headers", resp.StatusCode, resp.Header)
	}
	repl := strings.NewReplacer(":app", "a.example.com", ":key", "FOO", ":host", "127.0.0.9", ":registry", "r.example.com")
	for _, r := range api.Routes() {
		if r[1] == "/healthz" {
			continue
		}
		path := repl.Replace(r[1])
		for _, h := range []struct{ name, token string }{{"", ""}, {"X-Auth", wrong}, {"Authorization", "Bearer " + wrong}} {
			if resp := send(r[0], path, h.name, h.token); resp.StatusCode != 401 {
				t.Errorf("%s %s with %s %q = %d, want 401", r[0], path, h.name, h.token, resp.StatusCode)
			}
		}
	}
	for _, h := range []struct{ name, token string }{{"X-Auth", uiToken}, {"Authorization", "Bearer " + uiToken}} {
		if resp := send("GET", "/overview", h.name, h.token); resp.StatusCode != 200 {
			t.Errorf("GET /overview with %s = %d", h.name, resp.StatusCode)
		}
	}
	// A data route outside /ui/ whose path starts alike is not public.
	if resp := send("GET", "/uix/overview", "", ""); resp.StatusCode != 401 {
		t.Errorf("GET /uix/overview without a token = %d, want 401", resp.StatusCode)
	}
	for _, tok := range []string{uiToken, wrong} {
		if strings.Contains(log.String(), tok) {
			t.Fatalf("the token %q is in the controller's log", tok)
		}
	}
	if !strings.Contains(log.String(), "path=/overview") {
		t.Fatal("the requests are not in the captured log")
	}
}
