package main

import "testing"

func TestAlloc(t *testing.T) {
	h := newApp("1", false).handler()
	checkExchanges(t, h, []exchange{
		{"POST", "/alloc?mb=2", 200, "holding 2 MiB"},
		{"GET", "/alloc?mb=1", 200, "holding 3 MiB"},
		{"POST", "/alloc", 400, "give the MiB to allocate as ?mb=N (1 to 65536)"},
		{"POST", "/alloc?mb=-1", 400, "give the MiB to allocate as ?mb=N (1 to 65536)"},
		{"PUT", "/alloc?mb=1", 405, "use POST /alloc?mb=N"},
	})
	held.Lock()
	held.blocks = nil
	held.Unlock()
}
