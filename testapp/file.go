package main

import (
	"errors"
	"io"
	"io/fs"
	"net/http"
	"os"
	"path/filepath"
)

// routeFile registers PUT /file?path=PATH, which writes the request body
// to PATH (its folder must exist, as a mounted volume does), and GET
// /file?path=PATH, which answers PATH's content (404 when it does not
// exist), so a test can prove that data outlives the container that wrote
// it.
func routeFile(mux *http.ServeMux) {
	path := func(w http.ResponseWriter, r *http.Request) (string, bool) {
		p := r.URL.Query().Get("path")
		if !filepath.IsAbs(p) {
			http.Error(w, "give an absolute path as ?path=/data/file", http.StatusBadRequest)
			return "", false
		}
		return p, true
	}
	mux.HandleFunc("PUT /file", func(w http.ResponseWriter, r *http.Request) {
		p, ok := path(w, r)
		if !ok {
			return
		}
		b, err := io.ReadAll(io.LimitReader(r.Body, 1<<20))
		if err == nil {
			err = os.WriteFile(p, b, 0o644)
		}
		if err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		w.WriteHeader(http.StatusCreated)
	})
	mux.HandleFunc("GET /file", func(w http.ResponseWriter, r *http.Request) {
		p, ok := path(w, r)
		if !ok {
			return
		}
		b, err := os.ReadFile(p)
		switch {
		case errors.Is(err, fs.ErrNotExist):
			http.Error(w, p+" does not exist", http.StatusNotFound)
		case err != nil:
			http.Error(w, err.Error(), http.StatusInternalServerError)
		default:
			_, _ = w.Write(b)
		}
	})
}
