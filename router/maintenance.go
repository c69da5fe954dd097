package router

import (
	"encoding/json"
	"html"
	"net/http"
	"strconv"
	"strings"
)

// MaintenanceRetryAfter is the Retry-After, in seconds, of the answers to
// an app in maintenance.
const MaintenanceRetryAfter = 60

// maintenancePage answers a request to an app in maintenance (see
// cluster.AppMaintenance): 503 with Retry-After and msg, as a small HTML
// page, or as JSON to a client that asks for JSON rather than HTML. The
// answer is never cached, so the app is back as soon as maintenance ends.
func maintenancePage(w http.ResponseWriter, req *http.Request, name, msg string) {
	var body []byte
	h := w.Header()
	if wantsJSON(req.Header.Get("Accept")) {
		body, _ = json.Marshal(struct {
			Error       bool   `json:"error"`
			Maintenance bool   `json:"maintenance"`
			App         string `json:"app"`
			Message     string `json:"message"`
			RetryAfter  int    `json:"retry_after"`
		}{true, true, name, msg, MaintenanceRetryAfter})
		body = append(body, '\n')
		h.Set("Content-Type", "application/json")
	} else {
		body = []byte(maintenanceHTML(name, msg))
		h.Set("Content-Type", "text/html; charset=utf-8")
	}
	h.Set("Retry-After", strconv.Itoa(MaintenanceRetryAfter))
	h.Set("Cache-Control", "no-store")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Content-Length", strconv.Itoa(len(body)))
	w.WriteHeader(http.StatusServiceUnavailable)
	if req.Method != http.MethodHead {
		_, _ = w.Write(body)
	}
}

// wantsJSON reports whether an Accept header names JSON and not HTML: an
// API client, not a browser (which names text/html first).
func wantsJSON(accept string) bool {
	return strings.Contains(accept, "json") && !strings.Contains(accept, "text/html")
}

// maintenanceHTML is the page: the message escaped, its line breaks kept,
// no script, style inline (the page has no other resource to load).
func maintenanceHTML(name, msg string) string {
	var b strings.Builder
	b.WriteString("<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">")
	b.WriteString("<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">")
	b.WriteString("<title>" + html.EscapeString(name) + ": down for maintenance</title>")
	b.WriteString("<style>body{font-family:system-ui,sans-serif;max-width:36em;margin:15vh auto;padding:0 1em;color:#222}h1{font-size:1.4em}p{white-space:pre-line;line-height:1.5}</style>")
	b.WriteString("</head><body><h1>Down for maintenance</h1><p>")
	b.WriteString(html.EscapeString(msg))
	b.WriteString("</p></body></html>\n")
	return b.String()
}
