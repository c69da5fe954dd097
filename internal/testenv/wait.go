package testenv

import (
	"testing"
	"time"
)

// Eventually checks cond every 20 ms until it holds, and returns how long
// that took; when timeout passes first, it fails the test with what was
// awaited. The fast tier and the integration tier both wait with it.
func Eventually(tb testing.TB, timeout time.Duration, what string, cond func() bool) time.Duration {
	tb.Helper()
	start := time.Now()
	for !cond() {
		if time.Since(start) > timeout {
			tb.Fatalf("%s: not within %s", what, timeout)
		}
		time.Sleep(20 * time.Millisecond)
	}
	return time.Since(start)
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
