package certs_test

import (
	"context"
	"net"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/longshoreman/longshoreman/certs"
	"github.com/longshoreman/longshoreman/cluster"
	"github.com/longshoreman/longshoreman/db"
)

// closedURL returns an https URL on a loopback port where nothing listens.
func closedURL(t *testing.T) string {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	return "https://" + addr + "/dir"
}

// TestPassWithTheCAUnreachable runs a pass over a real data file with a
// CA that does not answer: each domain due gets its error and its next
// attempt after the first backoff, a failed event, and keeps the
// certificate it had (the routers are not made to fetch); a certificate
// brought by the user is never ordered, even through its wildcard; the
// ACME certificate of a deleted app is removed.
func TestPassWithTheCAUnreachable(t *testing.T) {
	d, err := db.Open(filepath.Join(t.TempDir(), "ls.db"), db.Options{Create: true})
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	now := time.Date(2026, 6, 1, 12, 0, 0, 0, time.UTC)
	for _, app := range []string{"new.example.com", "due.example.com", "fresh.example.com", "own.example.org", "off.example.com"} {
		d.CreateApp(app)
		on := app != "off.example.com"
		d.UpdateApp(app, func(a *cluster.App) error { a.HTTPS = cluster.AppHTTPS{Enabled: on, Redirect: true}; return nil })
	}
	put := func(c cluster.Cert) {
		if err := d.PutCert(c); err != nil {
			t.Fatal(err)
		}
	}
	// Due: two thirds of its 90 days are over.
	put(cluster.Cert{Domain: "due.example.com", Source: cluster.CertACME, Chain: "chain-due", Key: "key-due",
		NotBefore: now.Add(-61 * 24 * time.Hour), NotAfter: now.Add(29 * 24 * time.Hour)})
	put(cluster.Cert{Domain: "fresh.example.com", Source: cluster.CertACME, Chain: "chain-fresh", Key: "key-fresh",
		NotBefore: now.Add(-time.Hour), NotAfter: now.Add(90*24*time.Hour - time.Hour)})
	put(cluster.Cert{Domain: "*.example.org", Source: cluster.CertManual, Chain: "chain-own", Key: "key-own", NotAfter: now.Add(300 * 24 * time.Hour)})
	put(cluster.Cert{Domain: "gone.example.com", Source: cluster.CertACME, Chain: "chain-gone", Key: "key-gone", NotAfter: now.Add(24 * time.Hour)})
	before, _ := d.RoutingTable()

	var mu sync.Mutex // guards events
	var events []cluster.Event
	m := certs.New(certs.Config{Store: d, Email: "ops@example.com", Directory: closedURL(t), Now: func() time.Time { return now },
		Events: func(e cluster.Event) { mu.Lock(); events = append(events, e); mu.Unlock() }})
	next := m.Pass(context.Background())

	got := map[string]cluster.Cert{}
	all, _ := d.Certs()
	for _, c := range all {
		got[c.Domain] = c
	}
	for _, domain := range []string{"new.example.com", "due.example.com"} {
		c := got[domain]
		if c.Failures != 1 || !strings.Contains(c.LastError, "registering an ACME account") || !c.LastAttempt.Equal(now) ||
			c.NextAttempt.Before(now.Add(certs.MinBackoff)) || c.NextAttempt.After(now.Add(certs.MinBackoff*11/10)) {
			t.Errorf("%s after a failed attempt: %+v", domain, c)
		}
	}
	if c := got["due.example.com"]; c.Chain != "chain-due" || c.Key != "key-due" {
		t.Errorf("the certificate held was lost on a failed renewal: %+v", c)
	}
	if c := got["fresh.example.com"]; c.LastError != "" || !c.LastAttempt.IsZero() {
		t.Errorf("a certificate not due was ordered: %+v", c)
	}
	if _, ok := got["own.example.org"]; ok {
		t.Error("an app covered by a certificate of the user's got an ACME order")
	}
	if _, ok := got["off.example.com"]; ok {
		t.Error("an app with HTTPS off got an ACME order")
	}
	if _, ok := got["gone.example.com"]; ok {
		t.Error("the ACME certificate of a deleted app was kept")
	}
	if len(events) != 2 || events[0].Type != cluster.EventCert || events[0].Step != "failed" || events[0].Message == "" {
		t.Errorf("events %+v, want two cert failures", events)
	}
	// The next pass is due at the earliest retry.
	if next.Before(now.Add(certs.MinBackoff)) || next.After(now.Add(certs.MinBackoff*11/10)) {
		t.Errorf("next pass at %s, want after the first backoff", next)
	}
	after, _ := d.RoutingTable()
	if after.Certs != before.Certs+1 { // the deleted app's certificate only
		t.Errorf("certs version went from %d to %d: failures must not make the routers fetch", before.Certs, after.Certs)
	}

	// A second pass before the retry time orders nothing.
	m.Pass(context.Background())
	if c, _ := d.Cert("new.example.com"); c.Failures != 1 {
		t.Errorf("attempted again before its retry time: %+v", c)
	}
}

// duringOrder is a real data file with an operator at work while the
// manager orders: act runs the first time an order reads its ACME account,
// its first step.
type duringOrder struct {
	*db.DB
	once sync.Once
	act  func()
}

func (s *duringOrder) ACMEAccount(dir string) (cluster.ACMEAccount, bool, error) {
	s.once.Do(s.act)
	return s.DB.ACMEAccount(dir)
}

// TestOrderKeepsTheOperatorsCertificate: certificates added with certs:add
// while a pass orders (here against a CA that does not answer) are not
// overwritten by the orders' failure records, nor removed with a deleted
// app's ACME certificate read before they were added.
func TestOrderKeepsTheOperatorsCertificate(t *testing.T) {
	d, err := db.Open(filepath.Join(t.TempDir(), "ls.db"), db.Options{Create: true})
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	now := time.Date(2026, 6, 1, 12, 0, 0, 0, time.UTC)
	for _, app := range []string{"new.example.com", "failed.example.com"} {
		d.CreateApp(app)
		d.UpdateApp(app, func(a *cluster.App) error { a.HTTPS = cluster.AppHTTPS{Enabled: true, Redirect: true}; return nil })
	}
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(d.PutCert(cluster.Cert{Domain: "failed.example.com", Source: cluster.CertACME, LastError: "refused", Failures: 2, NextAttempt: now.Add(-time.Minute)}))
	must(d.PutCert(cluster.Cert{Domain: "gone.example.com", Source: cluster.CertACME, Chain: "chain-gone", Key: "key-gone", NotAfter: now.Add(24 * time.Hour)}))
	own := map[string]cluster.Cert{}
	for _, domain := range []string{"new.example.com", "failed.example.com", "gone.example.com"} {
		own[domain] = cluster.Cert{Domain: domain, Source: cluster.CertManual, Chain: "chain-own-" + domain, Key: "key-own-" + domain, NotAfter: now.Add(300 * 24 * time.Hour)}
	}
	s := &duringOrder{DB: d, act: func() {
		for _, c := range own {
			must(d.PutCert(c))
		}
	}}
	m := certs.New(certs.Config{Store: s, Email: "ops@example.com", Directory: closedURL(t), Now: func() time.Time { return now }})
	m.Pass(context.Background())

	for domain, want := range own {
		got, err := d.Cert(domain)
		if err != nil || !got.Equal(want) {
			t.Errorf("%s after the pass: %+v, %v; want the certificate added during the order", domain, got, err)
		}
	}
}
