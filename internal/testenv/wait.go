package testenv

import (
	"testing"
	"time"
)

// Eventually checks cond every 10 ms until it holds, and returns how long
// that took; when timeout passes first, it fails the test with what was
// awaited. The fast tier and the integration tier both wait with it.
func Eventually(tb testing.TB, timeout time.Duration, what string, cond func() bool) time.Duration {
	tb.Helper()
	start := time.Now()
	for !cond() {
		if time.Since(start) > timeout {
			tb.Fatalf("%s: not within %s", what, timeout)
		}
		time.Sleep(10 * time.Millisecond)
	}
	return time.Since(start)
}
