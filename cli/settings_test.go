package cli_test

import (
	"testing"
)

// The settings verb shows an app's settings and changes the ones given,
// against a real controller; bad values are refused before anything is
// sent, or by the controller with its sentence.
func TestSettings(t *testing.T) {
	t.Parallel()
	u := newUser(t)
	u.ok("apps:add", "s.example.com")

	if out := u.ok("-a", "s.example.com", "settings"); out != "batch         0 (all at once)\nstop-timeout  10s (the controller's)\ndrain         200ms (the controller's)\nrate-limit    none\nmax-body      none\n" {
		t.Errorf("settings of a new app:\n%s", out)
	}
	if out := u.ok("-a", "s.example.com", "settings", "--batch", "2", "--stop-timeout", "30s", "--drain", "0s"); out != "batch         2\nstop-timeout  30s\ndrain         0s\nrate-limit    none\nmax-body      none\n" {
		t.Errorf("settings after the change:\n%s", out)
	}
	if out := u.ok("-a", "s.example.com", "settings", "--drain", "default"); out != "batch         2\nstop-timeout  30s\ndrain         200ms (the controller's)\nrate-limit    none\nmax-body      none\n" {
		t.Errorf("settings after resetting the drain:\n%s", out)
	}
	u.fails([]string{"-a", "s.example.com", "settings", "--batch", "two"}, "--batch takes a whole number")
	u.fails([]string{"-a", "s.example.com", "settings", "--drain", "soon"}, "--drain", `"soon" is not a duration`)
	u.fails([]string{"-a", "s.example.com", "settings", "--stop-timeout", "90m"}, "Stop timeout 1h30m0s is out of range")
	u.fails([]string{"settings", "--batch", "1"}, "settings acts on one app")
	if out := u.ok("-a", "s.example.com", "settings"); out != "batch         2\nstop-timeout  30s\ndrain         200ms (the controller's)\nrate-limit    none\nmax-body      none\n" {
		t.Errorf("settings after refused changes:\n%s", out)
	}
}

// The limits at the edge: set, shown with the burst that applies, removed
// with "none"; bad values are refused before anything is sent.
func TestSettingsLimits(t *testing.T) {
	t.Parallel()
	u := newUser(t)
	u.ok("apps:add", "l.example.com")
	const head = "batch         0 (all at once)\nstop-timeout  10s (the controller's)\ndrain         200ms (the controller's)\n"
	if out := u.ok("-a", "l.example.com", "settings", "--rate-limit", "10/s", "--max-body", "10m"); out != head+"rate-limit    10/s per client address, 10 at once\nmax-body      10m\n" {
		t.Errorf("after setting the limits:\n%s", out)
	}
	if out := u.ok("-a", "l.example.com", "settings", "--burst", "20", "--max-body", "512k"); out != head+"rate-limit    10/s per client address, 20 at once\nmax-body      512k\n" {
		t.Errorf("after the burst:\n%s", out)
	}
	u.fails([]string{"-a", "l.example.com", "settings", "--rate-limit", "10/x"}, "--rate-limit must be", `"10/s", "600/m"`)
	u.fails([]string{"-a", "l.example.com", "settings", "--burst", "0"}, "--burst takes a whole number of requests, 1 or more")
	u.fails([]string{"-a", "l.example.com", "settings", "--max-body", "huge"}, "--max-body must be a size", `"512k"`)
	if out := u.ok("-a", "l.example.com", "settings", "--rate-limit", "none", "--max-body", "none"); out != head+"rate-limit    none\nmax-body      none\n" {
		t.Errorf("after removing them:\n%s", out)
	}
	u.fails([]string{"-a", "l.example.com", "settings", "--burst", "5"}, `"burst" applies to a rate limit`)
}
