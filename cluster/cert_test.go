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
