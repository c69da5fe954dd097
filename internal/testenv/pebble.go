package testenv

import (
	"os/exec"
	"testing"
)

// Pebble returns the paths of pebble and pebble-challtestsrv (Debian's
// pebble package), the ACME test CA; it fails the test when they are not
// installed.
func Pebble(tb testing.TB) (pebble, challtestsrv string) {
	tb.Helper()
	p, err1 := exec.LookPath("pebble")
	c, err2 := exec.LookPath("pebble-challtestsrv")
	if err1 == nil && err2 == nil {
		return p, c
	}
	tb.Fatalf("pebble and pebble-challtestsrv are not installed (%v, %v): this test needs the ACME test CA; apt-get install pebble, or run scripts/services up", err1, err2)
	return "", ""
}
