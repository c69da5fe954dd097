package main

import (
	"fmt"
	"net/http"
	"strconv"
	"sync"
)

// held keeps what POST /alloc allocated reachable, so the memory stays
// charged to the container until the kernel kills it.
var held struct {
	sync.Mutex
	blocks [][]byte
}

// registerAlloc adds POST /alloc?mb=N: it allocates N MiB and writes to
// every page of it, so a container limited below that is killed by the
// kernel for memory (OOM) while answering. GET does the same, so that a
// health check path can make an instance run out of memory at start.
func registerAlloc(mux *http.ServeMux) {
	mux.HandleFunc("/alloc", func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodPost && r.Method != http.MethodGet {
			http.Error(w, "use POST /alloc?mb=N", http.StatusMethodNotAllowed)
			return
		}
		mb, err := strconv.Atoi(r.URL.Query().Get("mb"))
		if err != nil || mb <= 0 || mb > 1<<16 {
			http.Error(w, "give the MiB to allocate as ?mb=N (1 to 65536)", http.StatusBadRequest)
			return
		}
		held.Lock()
		defer held.Unlock()
		for range mb {
			b := make([]byte, 1<<20)
			for i := 0; i < len(b); i += 4096 {
				b[i] = 1
			}
			held.blocks = append(held.blocks, b)
		}
		fmt.Fprintf(w, "holding %d MiB\n", len(held.blocks))
	})
}
