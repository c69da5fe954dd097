package http

import (
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"

	"github.com/julienschmidt/httprouter"
	"github.com/longshoreman/longshoreman/cluster"
	"github.com/longshoreman/longshoreman/db"
)

// TestMatchRoute finds the route of a request refused before routing, in
// either path form, with its parameters.
func TestMatchRoute(t *testing.T) {
	for _, c := range []struct{ method, path, pattern, params string }{
		{"POST", "/apps/shop.example.com/deploy", "/apps/:app/deploy", "app=shop.example.com"},
		{"POST", "/shop.example.com/deploy", "/apps/:app/deploy", "app=shop.example.com"},
		{"DELETE", "/apps/shop.example.com/envs/DB_URL", "/apps/:app/envs/:key", "app=shop.example.com key=DB_URL"},
		{"POST", "/apps", "/apps", ""},
		{"DELETE", "/hosts/10.0.0.5", "/hosts/:host", "host=10.0.0.5"},
		{"GET", "/router/certs", "/router/certs", ""},
		{"POST", "/no/such/route", "/apps/no/such/route", ""}, // the short form, as the server reads it
		{"DELETE", "/apps//envs/K", "/apps//envs/K", ""},
	} {
		pattern, ps := matchRoute(c.method, c.path)
		var got []string
		for _, p := range ps {
			got = append(got, p.Key+"="+p.Value)
		}
		if pattern != c.pattern || strings.Join(got, " ") != c.params {
			t.Errorf("matchRoute(%s %s) = %s %v; want %s %s", c.method, c.path, pattern, got, c.pattern, c.params)
		}
	}
}

// TestAuditSource: a request's client address, and for one a follower
// forwarded, the client it names via the follower's address, whatever
// the client put in X-Forwarded-For before.
func TestAuditSource(t *testing.T) {
	for _, c := range []struct {
		remote, xff string
		forwarded   bool
		want        string
	}{
		{"192.0.2.7:51000", "", false, "192.0.2.7"},
		{"192.0.2.7:51000", "203.0.113.9", false, "192.0.2.7"}, // not forwarded: the header is the client's word
		{"10.0.0.2:40000", "203.0.113.9", true, "203.0.113.9 via 10.0.0.2"},
		{"10.0.0.2:40000", "198.51.100.1, 203.0.113.9", true, "203.0.113.9 via 10.0.0.2"},
		{"[2001:db8::1]:443", "", true, "2001:db8::1"},
	} {
		r := httptest.NewRequest("POST", "/apps", nil)
		r.RemoteAddr = c.remote
		if c.xff != "" {
			r.Header.Set("X-Forwarded-For", c.xff)
		}
		if c.forwarded {
			r.Header.Set(forwardedHeader, "1")
		}
		if got := auditSource(r); got != c.want {
			t.Errorf("auditSource(%s, %q, forwarded %v) = %q; want %q", c.remote, c.xff, c.forwarded, got, c.want)
		}
	}
}

// TestAuditRefusalByAHandler: a read its handler refuses for the token's
// scope (403) is recorded with its route's app; a read answered, and one
// failing otherwise, are not.
func TestAuditRefusalByAHandler(t *testing.T) {
	d, err := db.Open(filepath.Join(t.TempDir(), "ls.db"), db.Options{Create: true})
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	s := NewServer(&Server{Store: d, Token: "api-token-0123456789", Logger: slog.New(slog.DiscardHandler)})
	s.handle(s.router, "GET", "/apps/:app/secrets", s.fallible(func(w http.ResponseWriter, r *http.Request, ps httprouter.Params) error {
		switch ps.ByName("app") {
		case "other.example.com":
			return cluster.Errorf(cluster.EFORBIDDEN, "This token may not read other.example.com.")
		case "gone.example.com":
			return cluster.Errorf(cluster.ENOTFOUND, "No app gone.example.com.")
		}
		ok(w, nil)
		return nil
	}))
	for _, app := range []string{"mine.example.com", "other.example.com", "gone.example.com"} {
		r := httptest.NewRequest("GET", "/apps/"+app+"/secrets", nil)
		r.Header.Set("X-Auth", "api-token-0123456789")
		s.ServeHTTP(httptest.NewRecorder(), r)
	}
	entries, err := d.Audit(cluster.AuditFilter{})
	if err != nil {
		t.Fatal(err)
	}
	if len(entries) != 1 || entries[0].App != "other.example.com" || entries[0].Operation != "GET /apps/:app/secrets" || entries[0].Token != "root" ||
		entries[0].Status != 403 || entries[0].Outcome != "This token may not read other.example.com." {
		t.Fatalf("audit entries %+v; want the one refusal, with its app", entries)
	}
}
