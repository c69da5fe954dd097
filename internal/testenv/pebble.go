package testenv

import (
	"fmt"
	"os"
	"os/exec"
	"testing"
)

// Pebble returns the paths of pebble and pebble-challtestsrv (Debian's
// pebble package), the ACME test CA; it skips the test when they are not
// installed, or fails it under LONGSHOREMAN_TEST_REQUIRE=1.
func Pebble(tb testing.TB) (pebble, challtestsrv string) {
	tb.Helper()
	p, err1 := exec.LookPath("pebble")
	c, err2 := exec.LookPath("pebble-challtestsrv")
	if err1 == nil && err2 == nil {
		return p, c
	}
	msg := fmt.Sprintf("pebble and pebble-challtestsrv are not installed (%v, %v): this test needs the ACME test CA; apt-get install pebble, or run scripts/test", err1, err2)
	if os.Getenv(EnvRequire) == "1" {
		tb.Fatal(msg)
	}
	announceSkip()
	tb.Skip(msg)
	return "", ""
}
