package router_test

import (
	"testing"

	"github.com/longshoreman/longshoreman/router"
)

// TestPlainRemote: only plain http to a host other than this machine sends
// the keys in clear; https, localhost and loopback addresses do not.
func TestPlainRemote(t *testing.T) {
	for url, want := range map[string]bool{
		"http://10.0.0.1:3000":           true,
		"http://ctl.example.com":         true,
		"http://LOCALHOST.example.com:1": true,
		"http://0.0.0.0:3000":            true,
		"http://127.0.0.1:3000":          false,
		"http://127.1.2.3":               false,
		"http://localhost:3000":          false,
		"http://LocalHost":               false,
		"http://[::1]:3000":              false,
		"https://10.0.0.1:3000":          false,
		"https://ctl.example.com":        false,
		"://nonsense":                    false,
	} {
		if got := router.PlainRemote(url); got != want {
			t.Errorf("PlainRemote(%q) = %v, want %v", url, got, want)
		}
	}
}
