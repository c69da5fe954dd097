package cluster

import (
	"testing"
	"time"
)

func TestCovers(t *testing.T) {
	for _, c := range []struct {
		names  []string
		domain string
		want   bool
	}{
		{[]string{"shop.example.com"}, "shop.example.com", true},
		{[]string{"Shop.Example.com"}, "shop.example.com", true},
		{[]string{"shop.example.com"}, "blog.example.com", false},
		{[]string{"*.example.com"}, "shop.example.com", true},
		{[]string{"*.example.com"}, "a.shop.example.com", false},
		{[]string{"*.example.com"}, "example.com", false},
		{[]string{"*.example.com"}, "*.example.com", true},
		{[]string{"shop.example.com"}, "*.example.com", false},
		{[]string{"*.shop.example.com"}, "*.example.com", false},
		{[]string{"a.example.org", "*.example.com"}, "x.example.com", true},
		{nil, "shop.example.com", false},
	} {
		if got := Covers(c.names, c.domain); got != c.want {
			t.Errorf("Covers(%v, %s) = %v, want %v", c.names, c.domain, got, c.want)
		}
	}
}

// FuzzParseCert: no input panics, and what is accepted covers its domain
// and is valid at the time given.
func FuzzParseCert(f *testing.F) {
	f.Add("shop.example.com", "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n", "-----BEGIN PRIVATE KEY-----\nMIIB\n-----END PRIVATE KEY-----\n")
	f.Add("*.example.com", "garbage", "")
	f.Add("", "", "-----BEGIN EC PRIVATE KEY-----\n\n-----END EC PRIVATE KEY-----\n")
	now := time.Date(2026, 6, 1, 0, 0, 0, 0, time.UTC)
	f.Fuzz(func(t *testing.T, domain, chain, key string) {
		info, err := ParseCert(domain, chain, key, now)
		if err != nil {
			if ErrorCode(err) != EINVALID {
				t.Fatalf("error of code %s: %v", ErrorCode(err), err)
			}
			return
		}
		if !Covers(info.Names, domain) || now.After(info.NotAfter) || now.Before(info.NotBefore) {
			t.Fatalf("accepted %+v for %s", info, domain)
		}
	})
}

// TestSameCert: records are the same when every field is, times compared
// as instants (a record read back in another location is the same one);
// nil is the same as nil only.
func TestSameCert(t *testing.T) {
	at := time.Date(2026, 6, 1, 12, 0, 0, 0, time.UTC)
	base := Cert{Domain: "a.example.com", Source: CertACME, Chain: "c", Key: "k", NotAfter: at, NextAttempt: at.Add(time.Hour), Failures: 1}
	with := func(edit func(*Cert)) *Cert { c := base; edit(&c); return &c }
	for _, tc := range []struct {
		name string
		a, b *Cert
		want bool
	}{
		{"both nil", nil, nil, true},
		{"nil and a record", nil, &base, false},
		{"a record and nil", &base, nil, false},
		{"equal", &base, with(func(*Cert) {}), true},
		{"same instant elsewhere", &base, with(func(c *Cert) { c.NotAfter = at.In(time.FixedZone("X", 3600)) }), true},
		{"another key", &base, with(func(c *Cert) { c.Key = "k2" }), false},
		{"another source", &base, with(func(c *Cert) { c.Source = CertManual }), false},
		{"another expiry", &base, with(func(c *Cert) { c.NotAfter = at.Add(time.Second) }), false},
		{"another failure count", &base, with(func(c *Cert) { c.Failures = 2 }), false},
		{"another error", &base, with(func(c *Cert) { c.LastError = "refused" }), false},
	} {
		if got := SameCert(tc.a, tc.b); got != tc.want {
			t.Errorf("%s: SameCert = %v, want %v", tc.name, got, tc.want)
		}
	}
}
