package main

import (
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
)

func TestFileWrittenThenRead(t *testing.T) {
	h := newApp("1", false).handler()
	p := filepath.Join(t.TempDir(), "probe")
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest("PUT", "/file?path="+p, strings.NewReader("kept")))
	if rec.Code != http.StatusCreated {
		t.Fatalf("PUT /file = %d %s, want 201", rec.Code, rec.Body)
	}
	if code, body := do(t, h, "GET", "/file?path="+p); code != 200 || body != "kept" {
		t.Fatalf("GET /file = %d %q, want 200 kept", code, body)
	}
	if code, _ := do(t, h, "GET", "/file?path="+p+"-missing"); code != 404 {
		t.Fatalf("GET /file of a missing file = %d, want 404", code)
	}
	if code, _ := do(t, h, "GET", "/file?path=relative"); code != 400 {
		t.Fatalf("GET /file of a relative path = %d, want 400", code)
	}
}
