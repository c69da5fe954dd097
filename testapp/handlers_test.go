package main

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

func do(t *testing.T, h http.Handler, method, path string) (int, string) {
	t.Helper()
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(method, path, nil))
	return rec.Code, strings.TrimSpace(rec.Body.String())
}

// exchange is a request to a handler and the answer it must get.
type exchange struct {
	method, path string
	code         int
	body         string
}

// checkExchanges sends the requests to h in order and compares the answers.
func checkExchanges(t *testing.T, h http.Handler, exchanges []exchange) {
	t.Helper()
	for _, tt := range exchanges {
		if code, body := do(t, h, tt.method, tt.path); code != tt.code || body != tt.body {
			t.Errorf("%s %s = %d %q, want %d %q", tt.method, tt.path, code, body, tt.code, tt.body)
		}
	}
}

func TestHandlers(t *testing.T) {
	a := newApp("7", false)
	a.environ = func() []string { return []string{"A=1", "B=x=y", "EMPTY="} }
	var exited []int
	a.exit = func(code int) { exited = append(exited, code) }
	h := a.handler()

	checkExchanges(t, h, []exchange{
		{"GET", "/ping", 200, "pong"},
		{"GET", "/version", 200, "7"},
		{"GET", "/env/A", 200, "1"},
		{"GET", "/env/B", 200, "x=y"},
		{"GET", "/env/EMPTY", 200, ""},
		{"GET", "/env/NOPE", 404, "no env var NOPE"},
		{"POST", "/health/fail", 200, "health check will fail"},
		{"GET", "/ping", 500, "failing health check as asked"},
		{"POST", "/health/ok", 200, "health check will pass"},
		{"GET", "/ping", 200, "pong"},
		{"GET", "/nothing", 404, "404 page not found"},
		{"POST", "/ping", 405, "Method Not Allowed"},
	})

	if code, body := do(t, h, "GET", "/"); code != 200 || !strings.HasPrefix(body, "version=7 hostname=") {
		t.Errorf("GET / = %d %q", code, body)
	}

	code, body := do(t, h, "GET", "/env")
	var env map[string]string
	if err := json.Unmarshal([]byte(body), &env); code != 200 || err != nil {
		t.Fatalf("GET /env = %d %q: %v", code, body, err)
	}
	if env["A"] != "1" || env["B"] != "x=y" || len(env) != 3 {
		t.Errorf("GET /env = %v", env)
	}

	if code, _ := do(t, h, "POST", "/crash"); code != 200 || len(exited) != 1 || exited[0] != 3 {
		t.Errorf("POST /crash = %d, exits %v; want 200 and exit 3", code, exited)
	}
}

func TestFailHealthAtStart(t *testing.T) {
	h := newApp("1", true).handler()
	if code, body := do(t, h, "GET", "/ping"); code != 500 || body != "failing health check as asked" {
		t.Errorf("GET /ping = %d %q", code, body)
	}
}
