package main

import (
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"strings"
	"sync/atomic"
)

// app holds the server's state: the health switch is flipped by requests
// and read concurrently, hence atomic.
type app struct {
	version string
	failing atomic.Bool
	exit    func(code int) // called by POST /crash; os.Exit in main
	environ func() []string
}

func newApp(version string, failHealth bool) *app {
	a := &app{version: version, exit: func(int) {}, environ: os.Environ}
	a.failing.Store(failHealth)
	return a
}

func (a *app) handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /{$}", a.root)
	mux.HandleFunc("GET /ping", a.ping)
	mux.HandleFunc("GET /version", func(w http.ResponseWriter, r *http.Request) { fmt.Fprint(w, a.version) })
	mux.HandleFunc("GET /env", a.envAll)
	mux.HandleFunc("GET /env/{key}", a.envOne)
	mux.HandleFunc("POST /health/fail", func(w http.ResponseWriter, r *http.Request) {
		a.failing.Store(true)
		fmt.Fprint(w, "health check will fail")
	})
	mux.HandleFunc("POST /health/ok", func(w http.ResponseWriter, r *http.Request) {
		a.failing.Store(false)
		fmt.Fprint(w, "health check will pass")
	})
	mux.HandleFunc("POST /crash", func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprint(w, "crashing as asked")
		if f, ok := w.(http.Flusher); ok {
			f.Flush()
		}
		a.exit(3)
	})
	registerAlloc(mux)
	routeFile(mux)
	a.routeEcho(mux)
	return logRequests(mux)
}

func logRequests(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Printf("%s %s\n", r.Method, r.URL.Path)
		h.ServeHTTP(w, r)
	})
}

func (a *app) root(w http.ResponseWriter, r *http.Request) {
	hostname, _ := os.Hostname()
	fmt.Fprintf(w, "version=%s hostname=%s", a.version, hostname)
}

func (a *app) ping(w http.ResponseWriter, r *http.Request) {
	if a.failing.Load() {
		http.Error(w, "failing health check as asked", http.StatusInternalServerError)
		return
	}
	fmt.Fprint(w, "pong")
}

func (a *app) envAll(w http.ResponseWriter, r *http.Request) {
	env := map[string]string{}
	for _, kv := range a.environ() {
		k, v, _ := strings.Cut(kv, "=")
		env[k] = v
	}
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(env)
}

func (a *app) envOne(w http.ResponseWriter, r *http.Request) {
	key := r.PathValue("key")
	for _, kv := range a.environ() {
		if k, v, _ := strings.Cut(kv, "="); k == key {
			fmt.Fprint(w, v)
			return
		}
	}
	http.Error(w, "no env var "+key, http.StatusNotFound)
}
