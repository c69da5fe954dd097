package ui_test

import (
	"io"
	"io/fs"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/longshoreman/longshoreman/ui"
	"golang.org/x/net/html"
)

func get(t *testing.T, h http.Handler, path string) *http.Response {
	t.Helper()
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest("GET", path, nil))
	return rec.Result()
}

// staticFiles lists the dashboard's files as they are in the source tree,
// which is what is embedded.
func staticFiles(t *testing.T) []string {
	t.Helper()
	var files []string
	err := filepath.WalkDir("static", func(path string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			files = append(files, strings.TrimPrefix(path, "static/"))
		}
		return err
	})
	if err != nil || len(files) < 3 {
		t.Fatalf("static files: %v %v", files, err)
	}
	return files
}

// Every file is served with the security headers and its type.
func TestHeaders(t *testing.T) {
	h := ui.Handler()
	types := map[string]string{".html": "text/html", ".js": "text/javascript", ".css": "text/css"}
	for _, f := range append(staticFiles(t), "") {
		if f == "index.html" {
			continue // served as /ui/
		}
		resp := get(t, h, "/ui/"+f)
		if resp.StatusCode != 200 {
			t.Fatalf("GET /ui/%s = %d", f, resp.StatusCode)
		}
		want := map[string]string{
			"Content-Security-Policy": ui.ContentSecurityPolicy, "X-Frame-Options": "DENY",
			"Referrer-Policy": "no-referrer", "X-Content-Type-Options": "nosniff",
		}
		for k, v := range want {
			if got := resp.Header.Get(k); got != v {
				t.Errorf("GET /ui/%s: %s = %q, want %q", f, k, got, v)
			}
		}
		ext := filepath.Ext(f)
		if f == "" {
			ext = ".html"
		}
		if ct := resp.Header.Get("Content-Type"); !strings.HasPrefix(ct, types[ext]) {
			t.Errorf("GET /ui/%s: Content-Type %q, want %s", f, ct, types[ext])
		}
	}
	for _, c := range []struct {
		path   string
		status int
	}{{"/ui", 301}, {"/ui/js/", 404}, {"/ui/nope.js", 404}} {
		if resp := get(t, h, c.path); resp.StatusCode != c.status || resp.Header.Get("Content-Security-Policy") == "" {
			t.Errorf("GET %s = %d (CSP %q), want %d with the CSP", c.path, resp.StatusCode, resp.Header.Get("Content-Security-Policy"), c.status)
		}
	}
	for _, directive := range []string{"default-src 'none'", "script-src 'self'", "frame-ancestors 'none'", "form-action 'none'"} {
		if !strings.Contains(ui.ContentSecurityPolicy, directive) {
			t.Errorf("the CSP lacks %s", directive)
		}
	}
	if strings.Contains(ui.ContentSecurityPolicy, "unsafe") {
		t.Errorf("the CSP allows something unsafe: %s", ui.ContentSecurityPolicy)
	}
}

// The served HTML holds nothing the CSP would refuse, or that would need
// it relaxed: no inline script, no event handler attributes, no style
// attributes or elements, no javascript: URLs, nothing from another
// origin.
func TestNoInlineScript(t *testing.T) {
	resp := get(t, ui.Handler(), "/ui/")
	doc, err := html.Parse(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	scripts := 0
	var walk func(n *html.Node)
	walk = func(n *html.Node) {
		if n.Type == html.ElementNode {
			switch n.Data {
			case "script":
				scripts++
				if attr(n, "src") == "" || n.FirstChild != nil {
					t.Errorf("inline script: <script %v> with a body", n.Attr)
				}
			case "style":
				t.Errorf("a <style> element")
			}
			for _, a := range n.Attr {
				k := strings.ToLower(a.Key)
				v := strings.ToLower(strings.TrimSpace(a.Val))
				switch {
				case strings.HasPrefix(k, "on"):
					t.Errorf("<%s %s=%q>: an inline event handler", n.Data, a.Key, a.Val)
				case k == "style":
					t.Errorf("<%s style=%q>: an inline style", n.Data, a.Val)
				case (k == "href" || k == "src" || k == "action") && (strings.HasPrefix(v, "javascript:") || strings.Contains(v, "//")):
					t.Errorf("<%s %s=%q>: not a URL of the dashboard's own", n.Data, a.Key, a.Val)
				}
			}
		}
		for c := n.FirstChild; c != nil; c = c.NextSibling {
			walk(c)
		}
	}
	walk(doc)
	if scripts == 0 {
		t.Fatal("the page loads no script")
	}
}

// The scripts never parse strings as HTML or code: what the cluster
// reports (log lines, env values, error messages) is always set as text.
// And the token goes in a header only, never into a URL.
func TestScriptsSetTextOnly(t *testing.T) {
	forbidden := regexp.MustCompile(`innerHTML\s*=|outerHTML\s*=|insertAdjacentHTML|document\.write|\beval\(|new Function|setTimeout\(\s*['"]|EventSource|document\.cookie|localStorage`)
	for _, f := range staticFiles(t) {
		if !strings.HasSuffix(f, ".js") {
			continue
		}
		b, err := os.ReadFile(filepath.Join("static", f))
		if err != nil {
			t.Fatal(err)
		}
		if m := forbidden.Find(b); m != nil {
			t.Errorf("%s uses %s", f, m)
		}
		resp := get(t, ui.Handler(), "/ui/"+f)
		served, _ := io.ReadAll(resp.Body)
		if string(served) != string(b) {
			t.Errorf("/ui/%s is not the file in the source tree", f)
		}
	}
}

func attr(n *html.Node, key string) string {
	for _, a := range n.Attr {
		if a.Key == key {
			return a.Val
		}
	}
	return ""
}
