package main

import "testing"

func TestLogEndpoint(t *testing.T) {
	h := newApp("1", false).handler()
	if code, body := do(t, h, "POST", "/log?line=hello"); code != 200 || body != "printed" {
		t.Errorf("POST /log?line=hello = %d %q; want 200 printed", code, body)
	}
	if code, body := do(t, h, "POST", "/log"); code != 400 || body != "give the line to print as ?line=TEXT" {
		t.Errorf("POST /log = %d %q; want 400 naming the line parameter", code, body)
	}
	if code, _ := do(t, h, "GET", "/log?line=x"); code != 405 {
		t.Errorf("GET /log = %d; want 405", code)
	}
}
