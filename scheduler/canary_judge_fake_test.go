package scheduler_test

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/longshoreman/longshoreman/cluster"
	"github.com/longshoreman/longshoreman/internal/testenv"
	"github.com/longshoreman/longshoreman/scheduler"
)

// fakeTraffic is a traffic source whose counts per instance address the
// test sets; it records the times it was asked from.
type fakeTraffic struct {
	mu     sync.Mutex
	counts map[string][2]uint64 // addr -> requests, 5xx
	since  []time.Time
}

func (f *fakeTraffic) set(addr string, reqs, errs uint64) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.counts == nil {
		f.counts = map[string][2]uint64{}
	}
	f.counts[addr] = [2]uint64{reqs, errs}
}

func (f *fakeTraffic) Instances(app string, addrs []string, since time.Time) (reqs, errs uint64) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.since = append(f.since, since)
	for _, a := range addrs {
		reqs += f.counts[a][0]
		errs += f.counts[a][1]
	}
	return reqs, errs
}

// The verdict at the end of --canary-auto: above the margin aborts, within
// it promotes, both naming the two rates; too few requests promote on time
// and say so.
func TestJudgeCanary(t *testing.T) {
	for _, tc := range []struct {
		reqs, errs, oldReqs, oldErrs uint64
		margin                       float64
		abort                        bool
		says                         []string
	}{
		{200, 24, 1000, 4, 1, true, []string{"12.0% 5xx", "0.4%", "revision 3", "more than 1 point above: aborted"}},
		{200, 2, 1000, 4, 1, false, []string{"1.0% 5xx", "0.4%", "revision 3", "within 1 point: promoted"}},
		{200, 10, 1000, 4, 5, false, []string{"5.0% 5xx", "within 5 points"}},
		{100, 3, 0, 0, 2, true, []string{"3.0% 5xx", "against 0.0% (0 of 0)", "more than 2 points above"}},
		{19, 19, 1000, 0, 1, false, []string{"only 19 requests", "fewer than the 20", "promoted on time"}},
	} {
		v := scheduler.JudgeCanary(tc.reqs, tc.errs, tc.oldReqs, tc.oldErrs, 3, tc.margin)
		if v.Abort != tc.abort {
			t.Errorf("%+v: abort %v, want %v (%s)", tc, v.Abort, tc.abort, v.Reason)
		}
		for _, s := range tc.says {
			if !strings.Contains(v.Reason, s) {
				t.Errorf("%+v: reason %q does not say %q", tc, v.Reason, s)
			}
		}
	}
}

// A canary whose --canary-auto delay passed is aborted by the reconciler's
// pass when its 5xx rate is above the old revision's by more than its
// margin (the revision failed with the reason naming both rates, an
// event), and promoted when within it.
func TestFakeCanaryAutoAbort(t *testing.T) {
	for _, tc := range []struct {
		name       string
		errs       uint64
		status     string
		says       string
		revisionOf int
	}{
		{"abort", 24, cluster.StatusFailed, "canary answered 12.0% 5xx (24 of 200 requests) against 0.4% (4 of 1000) for revision 1, more than 1 point above: aborted", 1},
		{"promote", 2, cluster.StatusSucceeded, "canary answered 1.0% 5xx (2 of 200 requests) against 0.4% (4 of 1000) for revision 1, within 1 point: promoted", 2},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ft := &fakeTraffic{}
			var events eventLog
			c := MustOpenFakeCluster(t, scheduler.Config{Traffic: ft, Events: events.add})
			app := c.App(t, tc.name+".example.com")
			old := c.MustDeploy(t, app, goodImage, 2)
			r := scheduler.NewReconciler(c.Scheduler, scheduler.ReconcilerConfig{Interval: time.Hour, Grace: time.Minute})
			ctx := context.Background()
			res, err := c.Deploy(ctx, app, cluster.DeployRequest{Image: goodImage2, Canary: 10, CanaryAuto: cluster.Duration(time.Hour),
				HealthCheck: cluster.HealthCheck{Timeout: cluster.Duration(2 * time.Second)}}, nil)
			if err != nil {
				t.Fatal(err)
			}
			ft.set(res.Instances[0], 200, tc.errs)
			ft.set(old.Instances[0], 600, 3)
			ft.set(old.Instances[1], 400, 1)
			a, _ := c.DB.UpdateApp(app, func(a *cluster.App) error { a.Canary.Started = a.Canary.Started.Add(-time.Hour); return nil })
			started := a.Canary.Started
			r.Pass(ctx) // waits for the end it starts
			a, _ = c.DB.App(app)
			rev, _ := c.DB.Revision(app, 2)
			if a.Canary != nil || a.Revision != tc.revisionOf || rev.Status != tc.status {
				t.Fatalf("after the pass: app at revision %d, canary %+v, revision 2 %s %q", a.Revision, a.Canary, rev.Status, rev.Reason)
			}
			if tc.status == cluster.StatusFailed && rev.Reason != tc.says {
				t.Errorf("the revision's reason %q, want %q", rev.Reason, tc.says)
			}
			said := events.where(func(e cluster.Event) bool {
				return e.Type == cluster.EventRevision && e.Revision == 2 && e.Step == tc.status && strings.Contains(e.Message, tc.says)
			})
			if len(said) == 0 {
				t.Errorf("no %s event of revision 2 saying %q in %+v", tc.status, tc.says, events.all())
			}
			ft.mu.Lock()
			if len(ft.since) != 2 || !ft.since[0].Equal(started) || !ft.since[1].Equal(started) {
				t.Errorf("traffic asked since %v, want twice %v (the canary's start)", ft.since, started)
			}
			ft.mu.Unlock()
			testenv.Eventually(t, 30*time.Second, fmt.Sprintf("two instances of revision %d", tc.revisionOf), func() bool {
				got := revisionsOn(t, c, app)
				return len(got) == 2 && got[0] == tc.revisionOf && got[1] == tc.revisionOf
			})
		})
	}
}
