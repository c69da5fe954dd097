// Package ui is the controller's web dashboard: HTML, CSS and JavaScript
// modules embedded in the binary and served at /ui/, with no build step.
// The files hold no data, so they are served without a token; the page
// asks for the token and sends it with every request for data, including
// the live GET /events stream.
package ui

import (
	"embed"
	"io/fs"
	"net/http"
	"strings"
)

//go:embed static
var files embed.FS

// ContentSecurityPolicy allows the dashboard's own files and requests to
// its own origin, and nothing inline: an injected script cannot run, and
// the page cannot be framed.
const ContentSecurityPolicy = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; " +
	"connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"

// Handler serves the dashboard under /ui/ with the security headers every
// answer of it carries.
func Handler() http.Handler {
	static, err := fs.Sub(files, "static")
	if err != nil {
		panic(err) // the embedded tree always has static/
	}
	files := http.StripPrefix("/ui", http.FileServer(http.FS(static)))
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("Content-Security-Policy", ContentSecurityPolicy)
		h.Set("X-Frame-Options", "DENY")
		h.Set("Referrer-Policy", "no-referrer")
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("Cache-Control", "no-cache")
		switch {
		case r.URL.Path == "/ui":
			http.Redirect(w, r, "/ui/", http.StatusMovedPermanently)
		case strings.HasSuffix(r.URL.Path, "/") && r.URL.Path != "/ui/":
			http.NotFound(w, r) // no directory listings
		default:
			files.ServeHTTP(w, r)
		}
	})
}
