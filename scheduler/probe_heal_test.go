//go:build integration

package scheduler_test

import (
	"net/http"
	"testing"
	"time"

	"github.com/longshoreman/longshoreman/scheduler"
)

// TestProbesUnrouteFailingInstanceWithinTwoIntervals runs the reconciler
// with a reconcile interval of an hour, so only its health checks can
// start a pass: a test app container switched to fail its check leaves
// the table within two probe intervals and comes back once it passes, and
// the checks in flight never exceed the bound.
func TestProbesUnrouteFailingInstanceWithinTwoIntervals(t *testing.T) {
	t.Parallel()
	c, app, res := mustOpenClusterApp(t, "probe", 3)
	const probeInterval, bound = 2 * time.Second, 1
	r := runReconciler(t, c.Scheduler, scheduler.ReconcilerConfig{
		Interval: time.Hour, Grace: time.Minute, ProbeInterval: probeInterval, MaxProbes: bound,
	})
	Eventually(t, 3*probeInterval+10*time.Second, "every instance checked", func() bool {
		st := r.ProbeStats()
		return st.Targets == 3 && st.Checked == 3
	})

	sick := res.Instances[1]
	post := func(path string) {
		t.Helper()
		resp, err := http.Post("http://"+sick+path, "text/plain", nil)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
	}
	post("/health/fail")
	// Two intervals, and time to spare for a loaded machine.
	took := Eventually(t, 2*probeInterval+5*time.Second, "failing instance unrouted", func() bool { return !contains(c.Routed(t, app), sick) })
	t.Logf("unrouted %s after %s (probe interval %s)", sick, took, probeInterval)
	if insts, _ := c.DB.Instances(app); len(insts) != 3 {
		t.Fatalf("the failing instance was removed, want it kept until it passes: %+v", insts)
	}
	if routed := c.Routed(t, app); len(routed) != 2 {
		t.Fatalf("routed %v, want the two healthy instances", routed)
	}

	post("/health/ok")
	took = Eventually(t, probeInterval+5*time.Second, "passing instance routed again", func() bool { return contains(c.Routed(t, app), sick) })
	t.Logf("routed again after %s", took)

	st := r.ProbeStats()
	t.Logf("probe stats: %+v", st)
	if st.PeakInFlight > bound || st.PeakInFlight < 1 {
		t.Fatalf("peak checks in flight %d, bound %d", st.PeakInFlight, bound)
	}
	if st.Failed < 2 {
		t.Fatalf("%d failed checks recorded, want at least the two that unrouted the instance", st.Failed)
	}
	if _, passes := r.LastPass(); passes > 4 {
		t.Fatalf("%d passes ran; with a reconcile interval of an hour only the first and those the checks asked for should", passes)
	}
}
