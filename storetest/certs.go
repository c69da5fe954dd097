package storetest

import (
	"bytes"
	"strings"
	"testing"
	"time"

	"github.com/longshoreman/longshoreman/cluster"
)

// populateCerts adds an app with HTTPS on, an ACME and a manual
// certificate, an account, a challenge and the router token.
func populateCerts(tb testing.TB, s cluster.Store) {
	tb.Helper()
	_, err := s.CreateApp("secure.example.com")
	must(tb, err)
	_, err = s.UpdateApp("secure.example.com", func(a *cluster.App) error { a.HTTPS = cluster.AppHTTPS{Enabled: true, Redirect: true}; return nil })
	must(tb, err)
	must(tb, s.PutCert(cluster.Cert{Domain: "secure.example.com", Source: cluster.CertACME, Chain: "chain-1", Key: "key-1", NotAfter: time.Unix(1800000000, 0).UTC()}))
	must(tb, s.PutCert(cluster.Cert{Domain: "*.example.org", Source: cluster.CertManual, Chain: "chain-w", Key: "key-w"}))
	must(tb, s.PutACMEAccount("https://ca.example/dir", cluster.ACMEAccount{Key: "account-key", URL: "https://ca.example/acct/1"}))
	must(tb, s.PutChallenge("tok", "tok.thumb"))
	_, _, err = s.EnsureRouterToken()
	must(tb, err)
}

// testCerts stores, reads, updates and deletes certificate records, and
// checks which changes raise the certificates' version.
func testCerts(t *testing.T, open Opener) {
	d := MustOpen(t, open)
	if certs, err := d.Certs(); err != nil || len(certs) != 0 {
		t.Fatalf("Certs of a new store = %+v, %v", certs, err)
	}
	if _, err := d.Cert("a.example.com"); cluster.ErrorCode(err) != cluster.ENOTFOUND {
		t.Fatalf("Cert of an unknown domain: %v, want ENOTFOUND", err)
	}
	version := func() uint64 {
		tb, err := d.RoutingTable()
		must(t, err)
		return tb.Certs
	}
	v0 := version()
	c := cluster.Cert{Domain: "a.example.com", Source: cluster.CertACME, LastError: "CA unreachable", NextAttempt: time.Unix(1700000000, 0).UTC()}
	must(t, d.PutCert(c))
	if set, _ := d.CertSet(); len(set.Certs) != 0 {
		t.Fatalf("CertSet holds a domain with no certificate yet: %+v", set)
	}
	v1 := version()
	if v1 != v0 {
		t.Fatalf("a record with no certificate raised Certs from %d to %d: routers would fetch for nothing", v0, v1)
	}
	c.Chain, c.Key, c.Issuer, c.NotAfter = "chain", "key", "Test CA", time.Unix(1800000000, 0).UTC()
	must(t, d.PutCert(c))
	v2 := version()
	if v2 == v1 {
		t.Fatal("a new chain did not raise Certs")
	}
	c.LastError = ""
	must(t, d.PutCert(c))
	if v := version(); v != v2 {
		t.Fatalf("a state-only change raised Certs from %d to %d: routers would fetch for nothing", v2, v)
	}
	got, err := d.Cert("a.example.com")
	must(t, err)
	if *got != c {
		t.Fatalf("Cert = %+v, want %+v", got, c)
	}
	must(t, d.PutCert(cluster.Cert{Domain: "*.example.org", Source: cluster.CertManual, Chain: "c", Key: "k"}))
	certs, err := d.Certs()
	must(t, err)
	if len(certs) != 2 || certs[0].Domain != "*.example.org" || certs[1].Domain != "a.example.com" {
		t.Fatalf("Certs = %+v, want *.example.org then a.example.com", certs)
	}
	v3 := version()
	set, err := d.CertSet()
	must(t, err)
	if set.Version != v3 || len(set.Certs) != 2 || set.Certs[1].Key != "key" || set.Certs[1].Cert != "chain" || !set.Certs[1].NotAfter.Equal(c.NotAfter) {
		t.Fatalf("CertSet = %+v, want both certificates at version %d", set, v3)
	}
	must(t, d.DeleteCert("*.example.org"))
	if v := version(); v == v3 {
		t.Fatal("a deletion did not raise Certs")
	}
	must(t, d.DeleteCert("*.example.org")) // unknown: no error
	if certs, _ := d.Certs(); len(certs) != 1 {
		t.Fatalf("Certs after deleting one = %+v", certs)
	}
}

// testReplaceCert checks the write of a certificate based on a read: it
// lands only while the record is still the one read, so an order that
// finishes after an operator added or removed a certificate changes
// nothing; the operator's PutCert lands whatever the record holds.
func testReplaceCert(t *testing.T, open Opener) {
	d := MustOpen(t, open)
	version := func() uint64 {
		set, err := d.CertSet()
		must(t, err)
		return set.Version
	}
	conflict := func(what string, err error) {
		t.Helper()
		if cluster.ErrorCode(err) != cluster.ECONFLICT || !strings.Contains(cluster.ErrorMessage(err), "a.example.com") {
			t.Fatalf("%s: %v, want ECONFLICT naming the domain", what, err)
		}
	}
	acme := cluster.Cert{Domain: "a.example.com", Source: cluster.CertACME, LastError: "CA unreachable", Failures: 1,
		LastAttempt: time.Unix(1700000000, 0).UTC(), NextAttempt: time.Unix(1700000060, 0).UTC()}
	must(t, d.ReplaceCert(acme.Domain, nil, &acme)) // none read, none stored
	conflict("a second write read as none", d.ReplaceCert(acme.Domain, nil, &acme))

	// The order read the failed record; the operator adds a certificate
	// of their own meanwhile; the order's result is refused.
	read, err := d.Cert(acme.Domain)
	must(t, err)
	manual := cluster.Cert{Domain: "a.example.com", Source: cluster.CertManual, Chain: "chain-own", Key: "key-own", NotAfter: time.Unix(1800000000, 0).UTC()}
	must(t, d.PutCert(manual))
	v := version()
	issued := *read
	issued.Chain, issued.Key, issued.LastError, issued.Failures = "chain-ca", "key-ca", "", 0
	conflict("the order's result over the operator's certificate", d.ReplaceCert(acme.Domain, read, &issued))
	conflict("the order's deletion of the operator's certificate", d.ReplaceCert(acme.Domain, read, nil))
	if got, err := d.Cert(acme.Domain); err != nil || !got.Equal(manual) || version() != v {
		t.Fatalf("after refused writes: %+v, %v, version %d (was %d); want the operator's certificate unchanged", got, err, version(), v)
	}

	// Based on the current record, the write lands, raising the version
	// for a new chain; a deletion based on it too.
	read, err = d.Cert(acme.Domain)
	must(t, err)
	must(t, d.ReplaceCert(acme.Domain, read, &issued))
	if got, _ := d.Cert(acme.Domain); got == nil || !got.Equal(issued) || version() == v {
		t.Fatalf("after a write based on the current record: %+v, version %d (was %d)", got, version(), v)
	}
	read, err = d.Cert(acme.Domain)
	must(t, err)
	must(t, d.ReplaceCert(acme.Domain, read, nil))
	if _, err := d.Cert(acme.Domain); cluster.ErrorCode(err) != cluster.ENOTFOUND {
		t.Fatalf("after a deletion based on the current record: %v", err)
	}
	conflict("a deletion of a record gone", d.ReplaceCert(acme.Domain, read, nil))
}

// testACMEState keeps one account per directory and the router token.
func testACMEState(t *testing.T, open Opener) {
	d := MustOpen(t, open)
	if _, ok, err := d.ACMEAccount("https://a/dir"); ok || err != nil {
		t.Fatalf("account of a new store: %v, %v", ok, err)
	}
	must(t, d.PutACMEAccount("https://a/dir", cluster.ACMEAccount{Key: "ka", URL: "https://a/acct/1"}))
	must(t, d.PutACMEAccount("https://b/dir", cluster.ACMEAccount{Key: "kb", URL: "https://b/acct/9"}))
	if a, ok, err := d.ACMEAccount("https://a/dir"); !ok || err != nil || a.Key != "ka" || a.URL != "https://a/acct/1" {
		t.Fatalf("account a = %+v, %v, %v", a, ok, err)
	}
	if tok, _ := d.RouterToken(); tok != "" {
		t.Fatalf("router token of a new store = %q", tok)
	}
	tok, created, err := d.EnsureRouterToken()
	must(t, err)
	again, created2, _ := d.EnsureRouterToken()
	api, _, _ := d.EnsureToken()
	if !created || created2 || again != tok || len(tok) < 32 || tok == api {
		t.Fatalf("router token %q (created %v), then %q (created %v); API token %q", tok, created, again, created2, api)
	}
}

// testTableCarriesHTTPS checks that the routing table shows the apps with
// HTTPS on and the pending challenges, and that its version rises with
// each change of them and only then.
func testTableCarriesHTTPS(t *testing.T, open Opener) {
	d := mustOpenWithApps(t, open, "a.example.com", "b.example.com")
	table := func() cluster.RoutingTable {
		tb, err := d.RoutingTable()
		must(t, err)
		return tb
	}
	last := table()
	step := func(what string, change func(), check func(cluster.RoutingTable) bool) {
		t.Helper()
		change()
		tb := table()
		if tb.Version <= last.Version || !check(tb) {
			t.Fatalf("%s: table version %d (before %d), https %+v, challenges %+v", what, tb.Version, last.Version, tb.HTTPS, tb.Challenges)
		}
		if again := table(); again.Version != tb.Version {
			t.Fatalf("%s: version moved from %d to %d with no change", what, tb.Version, again.Version)
		}
		last = tb
	}
	setHTTPS := func(app string, h cluster.AppHTTPS) func() {
		return func() {
			_, err := d.UpdateApp(app, func(a *cluster.App) error { a.HTTPS = h; return nil })
			must(t, err)
		}
	}
	step("HTTPS on", setHTTPS("a.example.com", cluster.AppHTTPS{Enabled: true, Redirect: true}), func(tb cluster.RoutingTable) bool {
		return len(tb.HTTPS) == 1 && tb.HTTPS["a.example.com"].Redirect
	})
	step("redirect off", setHTTPS("a.example.com", cluster.AppHTTPS{Enabled: true}), func(tb cluster.RoutingTable) bool {
		r, ok := tb.HTTPS["a.example.com"]
		return ok && !r.Redirect
	})
	step("challenge added", func() { must(t, d.PutChallenge("t1", "t1.k")) }, func(tb cluster.RoutingTable) bool {
		return tb.Challenges["t1"] == "t1.k"
	})
	step("second challenge", func() { must(t, d.PutChallenge("t2", "t2.k")) }, func(tb cluster.RoutingTable) bool {
		return len(tb.Challenges) == 2
	})
	step("challenge removed", func() { must(t, d.DeleteChallenge("t1")) }, func(tb cluster.RoutingTable) bool {
		return len(tb.Challenges) == 1 && tb.Challenges["t2"] == "t2.k"
	})
	step("certificate stored", func() {
		must(t, d.PutCert(cluster.Cert{Domain: "a.example.com", Source: cluster.CertACME, Chain: "c", Key: "k"}))
	}, func(tb cluster.RoutingTable) bool {
		return tb.Certs > last.Certs
	})
	step("HTTPS off", setHTTPS("a.example.com", cluster.AppHTTPS{}), func(tb cluster.RoutingTable) bool { return len(tb.HTTPS) == 0 })
	step("app deleted", func() {
		setHTTPS("b.example.com", cluster.AppHTTPS{Enabled: true})()
		table()
		must(t, d.DeleteApp("b.example.com"))
	}, func(tb cluster.RoutingTable) bool { return len(tb.HTTPS) == 0 })
}

// testCertsCopied checks that a backup and a record copy carry the
// certificates, accounts, challenges, router token and HTTPS settings.
func testCertsCopied(t *testing.T, open Opener) {
	d := MustOpen(t, open)
	populateCerts(t, d)
	var buf bytes.Buffer
	must(t, errOf(d.Backup(&buf, true)))
	c := openBackup(t, buf.Bytes())
	want, _ := d.Certs()
	got, _ := c.Certs()
	if len(got) != 2 || len(want) != 2 || got[0] != want[0] || got[1] != want[1] {
		t.Fatalf("backup certs %+v, want %+v", got, want)
	}
	acct, ok, _ := c.ACMEAccount("https://ca.example/dir")
	tok, _ := c.RouterToken()
	wantTok, _ := d.RouterToken()
	app, _ := c.App("secure.example.com")
	table, _ := c.RoutingTable()
	if !ok || acct.Key != "account-key" || tok != wantTok || tok == "" || app == nil || !app.HTTPS.Enabled || table.Challenges["tok"] != "tok.thumb" || !table.HTTPS["secure.example.com"].Redirect {
		t.Fatalf("backup: account %+v %v, router token %q (want %q), app %+v, table %+v", acct, ok, tok, wantTok, app, table)
	}
}
