package testenv

import (
	"flag"
	"strconv"
	"testing"
)

// WaitParallel is how many parallel tests of a package run at once when
// MainWaiting runs them and go test was not given -parallel: what
// scripts/test gives (LONGSHOREMAN_TEST_PARALLEL's default).
const WaitParallel = 6

// MainWaiting runs the tests of a package whose parallel tests mostly wait
// (timers, sleeps, fake hosts, slow clients), WaitParallel at once unless
// -parallel was given. go test's default, GOMAXPROCS, would leave a 2-core
// machine waiting on two sleeps at a time. Call it from TestMain:
//
//	func TestMain(m *testing.M) { os.Exit(testenv.MainWaiting(m)) }
func MainWaiting(m *testing.M) int {
	flag.Parse()
	given := false
	flag.Visit(func(f *flag.Flag) { given = given || f.Name == "test.parallel" })
	if !given {
		_ = flag.Set("test.parallel", strconv.Itoa(WaitParallel))
	}
	return m.Run()
}
