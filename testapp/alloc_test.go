package main

import "testing"

func TestAlloc(t *testing.T) {
	h := newApp("1", false).handler()
	for _, tt := range []struct {
		method, path string
		code         int
		body         string
	}{
		{"POST", "/alloc?mb=2", 200, "holding 2 MiB"},
		{"GET", "/alloc?mb=1", 200, "holding 3 MiB"},
		{"POST", "/alloc", 400, "give the MiB to allocate as ?mb=N (1 to 65536)"},
		{"POST", "/alloc?mb=-1", 400, "give the MiB to allocate as ?mb=N (1 to 65536)"},
		{"PUT", "/alloc?mb=1", 405, "use POST /alloc?mb=N"},
	} {
		if code, body := do(t, h, tt.method, tt.path); code != tt.code || body != tt.body {
			t.Errorf("%s %s = %d %q, want %d %q", tt.method, tt.path, code, body, tt.code, tt.body)
		}
	}
	held.Lock()
	held.blocks = nil
	held.Unlock()
}
