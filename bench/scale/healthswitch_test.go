package main

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// TestHealthSwitch: a fake container's address answers 200 until switched
// to fail, then 500 until switched back; other addresses are not affected
// and malformed commands are refused.
func TestHealthSwitch(t *testing.T) {
	sw := newHealthSwitch()
	a, b := httptest.NewServer(sw), httptest.NewServer(sw)
	defer a.Close()
	defer b.Close()
	status := func(srv *httptest.Server) int {
		t.Helper()
		resp, err := http.Get(srv.URL + "/ping")
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	addr := strings.TrimPrefix(a.URL, "http://")
	if status(a) != 200 || status(b) != 200 {
		t.Fatal("a fake container fails before it is switched")
	}
	if err := sw.command("fail " + addr); err != nil {
		t.Fatal(err)
	}
	if status(a) != 500 || status(b) != 200 {
		t.Fatalf("after fail %s: %d and %d, want 500 and 200", addr, status(a), status(b))
	}
	if err := sw.command("ok " + addr); err != nil {
		t.Fatal(err)
	}
	if status(a) != 200 {
		t.Fatalf("after ok %s: %d, want 200", addr, status(a))
	}
	for _, bad := range []string{"", "fail", "fail nowhere", "break " + addr} {
		if err := sw.command(bad); err == nil {
			t.Errorf("command %q accepted", bad)
		}
	}
}
