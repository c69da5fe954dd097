package main

import (
	"fmt"
	"net/http"
	"os"
)

// routeEcho registers POST /log?line=TEXT[&stream=stderr], which prints
// TEXT as one line on the container's stdout (or stderr), so a test can
// make an instance log something at a moment it chooses and look for it in
// the controller's log stream.
func (a *app) routeEcho(mux *http.ServeMux) {
	mux.HandleFunc("POST /log", func(w http.ResponseWriter, r *http.Request) {
		line := r.URL.Query().Get("line")
		if line == "" {
			http.Error(w, "give the line to print as ?line=TEXT", http.StatusBadRequest)
			return
		}
		out := os.Stdout
		if r.URL.Query().Get("stream") == "stderr" {
			out = os.Stderr
		}
		fmt.Fprintln(out, line)
		fmt.Fprint(w, "printed")
	})
}
