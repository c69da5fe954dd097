package testenv

import (
	"testing"
	"time"
)

func TestPollDelay(t *testing.T) {
	for _, c := range []struct{ waited, want time.Duration }{
		{0, 20 * time.Millisecond},
		{100 * time.Millisecond, 20 * time.Millisecond},
		{800 * time.Millisecond, 100 * time.Millisecond},
		{2 * time.Second, 250 * time.Millisecond},
		{time.Hour, 250 * time.Millisecond},
	} {
		if got := pollDelay(c.waited); got != c.want {
			t.Errorf("pollDelay(%s) = %s, want %s", c.waited, got, c.want)
		}
	}
}

// A wait of 1.5 s checks its condition a few dozen times, not the 75 times
// a check every 20 ms would, and ends once the condition holds. A loaded
// machine only makes the sleeps longer, so fewer checks.
func TestEventuallyChecksLessOftenAsItWaits(t *testing.T) {
	t.Parallel()
	start := time.Now()
	checks := 0
	took := Eventually(t, time.Minute, "1.5 s passed", func() bool {
		checks++
		return time.Since(start) >= 1500*time.Millisecond
	})
	if took < 1500*time.Millisecond {
		t.Errorf("Eventually returned after %s, before its condition held", took)
	}
	if checks > 40 {
		t.Errorf("%d checks in a wait of %s; want at most 40", checks, took)
	}
}
