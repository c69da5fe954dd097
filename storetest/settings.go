package storetest

import (
	"testing"
	"time"

	"github.com/longshoreman/longshoreman/cluster"
)

// testAppSettingsKept: an app's settings are kept by a deploy that
// succeeds (a revision does not hold them) and by a reopen, and a zero
// stop timeout or drain stays set (zero), apart from unset (nil).
func testAppSettingsKept(t *testing.T, open Opener) {
	d, err := open(true)
	must(t, err)
	must(t, errOf(d.CreateApp("s.example.com")))
	zero, five := cluster.Duration(0), cluster.Duration(5*time.Second)
	must(t, errOf(d.UpdateApp("s.example.com", func(a *cluster.App) error {
		a.Batch, a.StopTimeout, a.Drain = 2, &zero, &five
		return nil
	})))
	rev := &cluster.Revision{App: "s.example.com", Image: "app:1", Count: 4, Port: 3000, Status: cluster.StatusDeploying}
	must(t, d.CreateRevision(rev))
	must(t, errOf(d.FinishRevision("s.example.com", rev.Number, cluster.StatusSucceeded, "")))
	check := func(when string, a *cluster.App) {
		t.Helper()
		if a.Batch != 2 || a.StopTimeout == nil || *a.StopTimeout != 0 || a.Drain == nil || a.Drain.D() != 5*time.Second || a.Count != 4 {
			t.Fatalf("%s: batch %d, stop timeout %v, drain %v, count %d; want 2, 0s, 5s, 4", when, a.Batch, a.StopTimeout, a.Drain, a.Count)
		}
	}
	a, err := d.App("s.example.com")
	must(t, err)
	check("after a deploy", a)
	must(t, d.Close())
	d, err = open(false)
	must(t, err)
	defer d.Close()
	a, err = d.App("s.example.com")
	must(t, err)
	check("after a reopen", a)
	all, err := d.AllApps()
	must(t, err)
	check("in AllApps", all[0])
}
