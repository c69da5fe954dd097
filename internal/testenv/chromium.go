package testenv

import (
	"os"
	"testing"
)

// EnvChromium is the path of the Chromium binary the dashboard's browser
// tests drive (Debian's chromium under scripts/test).
const EnvChromium = "LONGSHOREMAN_TEST_CHROMIUM"

// Chromium returns the browser's path; a path that does not exist fails
// the test as a missing part does.
func Chromium(tb testing.TB) string {
	tb.Helper()
	path := need(tb, EnvChromium, "a Chromium browser (Debian's chromium)")
	if _, err := os.Stat(path); err != nil {
		tb.Fatalf("%s=%s: %v; install Debian's chromium or point it at the browser", EnvChromium, path, err)
	}
	return path
}
