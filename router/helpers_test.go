package router_test

import (
	"testing"
	"time"
)

// testKey signs the tables these tests publish.
var testKey = []byte("router-test-key-0123456789abcdef")

func waitFor(t *testing.T, d time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("%s: not within %s", what, d)
		}
		time.Sleep(5 * time.Millisecond)
	}
}
