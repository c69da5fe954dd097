package router

import (
	"testing"
	"time"
)

func TestAllowance(t *testing.T) {
	const ms = time.Millisecond
	perByte := time.Second / 1000 // 1000 bytes/s
	window := 10 * time.Second
	for _, tc := range []struct {
		name   string
		allow  time.Duration
		waited time.Duration
		n      int
		want   time.Duration
	}{
		{"exactly the rate keeps the credit", 5 * time.Second, 100 * ms, 100, 5 * time.Second},
		{"faster than the rate earns", 5 * time.Second, 100 * ms, 1000, 5900 * ms},
		{"slower than the rate spends", 5 * time.Second, 2 * time.Second, 1, 3001 * ms},
		{"credit stops at one window", 9 * time.Second, 0, 1 << 20, window},
		{"a burst after a stall still stops at one window", 1 * ms, 0, 1 << 20, window},
		{"data already buffered costs nothing", 3 * time.Second, 0, 10, 3010 * ms},
		{"a wait past the credit goes negative", 1 * time.Second, 1500 * ms, 0, -500 * ms},
	} {
		if got := allowance(tc.allow, tc.waited, tc.n, perByte, window); got != tc.want {
			t.Errorf("%s: allowance(%s, %s, %d) = %s, want %s", tc.name, tc.allow, tc.waited, tc.n, got, tc.want)
		}
	}
}
