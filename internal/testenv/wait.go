package testenv

import (
	"testing"
	"time"
)

// Eventually checks cond until it holds, and returns how long that took;
// when timeout passes first, it fails the test with what was awaited. The
// fast tier and the integration tier both wait with it.
//
// It checks every 20 ms at first, then less often the longer it has
// waited: every eighth of the time waited so far, at most every 250 ms. A
// wait is seen to end at most an eighth (and 250 ms) late, and the many
// long waits of a loaded run (a deploy, a failover) leave the CPU to what
// they wait on instead of asking a controller or dockerd 50 times a second.
// The last check comes after the timeout, never before it.
func Eventually(tb testing.TB, timeout time.Duration, what string, cond func() bool) time.Duration {
	tb.Helper()
	start := time.Now()
	for !cond() {
		waited := time.Since(start)
		if waited > timeout {
			tb.Fatalf("%s: not within %s", what, timeout)
		}
		time.Sleep(pollDelay(waited))
	}
	return time.Since(start)
}

// pollDelay is how long Eventually sleeps between checks once it has
// waited for waited.
func pollDelay(waited time.Duration) time.Duration {
	return min(max(waited/8, 20*time.Millisecond), 250*time.Millisecond)
}

// Receive takes values from ch until match holds for one, and returns it;
// when ch is closed first, or timeout passes, it fails the test with what
// was awaited. Tests that read a stream value by value wait with it.
func Receive[T any](tb testing.TB, ch <-chan T, timeout time.Duration, what string, match func(T) bool) T {
	tb.Helper()
	deadline := time.After(timeout)
	for {
		select {
		case v, ok := <-ch:
			if !ok {
				tb.Fatalf("the stream ended before %s", what)
			}
			if match(v) {
				return v
			}
		case <-deadline:
			tb.Fatalf("no %s within %s", what, timeout)
		}
	}
}
