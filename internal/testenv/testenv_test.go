package testenv

import "testing"

// FreePort never returns a port twice in a process, though the kernel
// gives a port just closed to a later bind to port 0 again.
func TestFreePortNeverRepeats(t *testing.T) {
	seen := map[int]bool{}
	for range 2000 {
		p := FreePort(t)
		if seen[p] {
			t.Fatalf("FreePort returned %d twice", p)
		}
		seen[p] = true
	}
}
