package certs

import (
	"testing"
	"time"
)

func TestRenewAt(t *testing.T) {
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	for _, c := range []struct {
		name        string
		lifetime    time.Duration
		renewBefore time.Duration
		want        time.Duration // after t0
	}{
		{"90 days: at 60", 90 * 24 * time.Hour, 0, 60 * 24 * time.Hour},
		{"6 days: at 4", 6 * 24 * time.Hour, 0, 4 * 24 * time.Hour},
		{"90s: at 60s", 90 * time.Second, 0, 60 * time.Second},
		{"renew-before 30 days", 90 * 24 * time.Hour, 30 * 24 * time.Hour, 60 * 24 * time.Hour},
		{"renew-before longer than the lifetime: at once", time.Hour, 2 * time.Hour, -time.Hour},
	} {
		if got := RenewAt(t0, t0.Add(c.lifetime), c.renewBefore); !got.Equal(t0.Add(c.want)) {
			t.Errorf("%s: RenewAt = %s, want %s", c.name, got, t0.Add(c.want))
		}
	}
}

func TestBackoff(t *testing.T) {
	for _, c := range []struct {
		failures int
		base     time.Duration
	}{
		{1, time.Minute}, {2, 2 * time.Minute}, {3, 4 * time.Minute}, {6, 32 * time.Minute},
		{9, 256 * time.Minute}, {10, MaxBackoff}, {50, MaxBackoff},
	} {
		for range 20 {
			got := Backoff(c.failures)
			if got < c.base || got > c.base+c.base/10 {
				t.Fatalf("Backoff(%d) = %s, want %s plus at most 10%%", c.failures, got, c.base)
			}
		}
	}
}
