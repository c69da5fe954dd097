package main

import (
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
)

// healthSwitch answers the fake containers' HTTP requests, in the fake
// engines' process: 200 "pong" to any GET, except on the addresses switched
// to fail, which answer 500 until switched back, as the test app does after
// POST /health/fail. The controller switches an address by writing
// "fail ADDR" or "ok ADDR" on the fake engines' stdin.
type healthSwitch struct {
	mu      sync.Mutex // guards failing
	failing map[string]bool
}

func newHealthSwitch() *healthSwitch {
	return &healthSwitch{failing: map[string]bool{}}
}

func (h *healthSwitch) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	addr, _ := r.Context().Value(http.LocalAddrContextKey).(net.Addr)
	h.mu.Lock()
	fail := addr != nil && h.failing[addr.String()]
	h.mu.Unlock()
	w.Header().Set("Content-Type", "text/plain")
	if fail {
		w.WriteHeader(http.StatusInternalServerError)
		_, _ = io.WriteString(w, "failing health check as asked\n")
		return
	}
	_, _ = io.WriteString(w, "pong\n")
}

// command applies one line of the controller's: "fail ADDR" or "ok ADDR".
func (h *healthSwitch) command(line string) error {
	verb, addr, _ := strings.Cut(strings.TrimSpace(line), " ")
	if _, _, err := net.SplitHostPort(addr); err != nil {
		return fmt.Errorf("health switch: %q: want \"fail HOST:PORT\" or \"ok HOST:PORT\"", line)
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	switch verb {
	case "fail":
		h.failing[addr] = true
	case "ok":
		delete(h.failing, addr)
	default:
		return fmt.Errorf("health switch: %q: want \"fail HOST:PORT\" or \"ok HOST:PORT\"", line)
	}
	return nil
}
