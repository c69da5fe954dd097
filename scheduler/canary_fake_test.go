package scheduler_test

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/longshoreman/longshoreman/cluster"
	"github.com/longshoreman/longshoreman/internal/testenv"
	"github.com/longshoreman/longshoreman/scheduler"
)

// canaryDeploy asks for a canary of image taking weight percent.
func canaryDeploy(c *FakeCluster, app, image string, weight, count int) (*cluster.DeployResult, error) {
	return c.Deploy(context.Background(), app, cluster.DeployRequest{Image: image, Canary: weight, CanaryCount: count,
		HealthCheck: cluster.HealthCheck{Timeout: cluster.Duration(2 * time.Second)}}, nil)
}

// revisionsOn returns the revision of each of app's records, sorted.
func revisionsOn(tb testing.TB, c *FakeCluster, app string) []int {
	tb.Helper()
	insts, err := c.DB.Instances(app)
	if err != nil {
		tb.Fatal(err)
	}
	var out []int
	for _, i := range insts {
		out = append(out, i.Revision)
	}
	sort.Ints(out)
	return out
}

// canaryCluster is a fake cluster running app (revision 1, 2 instances)
// and a reconciler whose passes the test runs.
func canaryCluster(t *testing.T, name string) (*FakeCluster, string, *scheduler.Reconciler) {
	c := MustOpenFakeCluster(t, scheduler.Config{})
	app := c.App(t, name)
	c.MustDeploy(t, app, goodImage, 2)
	return c, app, scheduler.NewReconciler(c.Scheduler, scheduler.ReconcilerConfig{Interval: time.Hour, Grace: time.Minute})
}

// canaryEnded checks that the canary of revision number ended with status
// (promoted: succeeded, aborted: failed): the app runs revision 2 alone,
// without a canary in the table, and its other revision's instances stop.
func canaryEnded(t *testing.T, c *FakeCluster, app string, res *cluster.DeployResult, number int, status string) {
	t.Helper()
	a, _ := c.DB.App(app)
	rev, _ := c.DB.Revision(app, number)
	table, _ := c.DB.RoutingTable()
	if res.Revision != 2 || a.Revision != 2 || a.Image != goodImage2 || a.Canary != nil || rev.Status != status || rev.Reason == "" && status == cluster.StatusFailed ||
		table.Format != 0 || table.Canary != nil || len(table.Routes[app]) != 2 {
		t.Fatalf("after the canary of revision %d ended: answer %+v, app %d %s canary %+v, revision %s %q, table format %d canary %v routes %v",
			number, res, a.Revision, a.Image, a.Canary, rev.Status, rev.Reason, table.Format, table.Canary, table.Routes[app])
	}
	testenv.Eventually(t, 30*time.Second, "only revision 2's instances left", func() bool {
		got := revisionsOn(t, c, app)
		return len(got) == 2 && got[0] == 2 && got[1] == 2 && len(c.Running(app)) == 2
	})
}

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

// A canary runs beside the app's instances with its weight in the table,
// survives reconciler passes, holds off other rollouts, and is promoted
// (its revision current, count instances, no canary left) or aborted
// (its instances gone, the revision failed, the table as before).
func TestFakeCanaryPromoteAndAbort(t *testing.T) {
	c, app, r := canaryCluster(t, "canary.example.com")
	ctx := context.Background()

	res, err := canaryDeploy(c, app, goodImage2, 20, 1)
	if err != nil {
		t.Fatal(err)
	}
	if res.Revision != 2 || len(res.Instances) != 1 {
		t.Fatalf("canary answer %+v", res)
	}
	check := func(when string) {
		t.Helper()
		table, err := c.DB.RoutingTable()
		if err != nil {
			t.Fatal(err)
		}
		cr := table.Canary[app]
		if table.Format != cluster.TableFormatCanary || cr.Revision != 2 || cr.Weight != 20 || len(cr.Routes) != 1 || len(table.Routes[app]) != 2 || cr.Routes[0] != res.Instances[0] {
			t.Fatalf("%s: table format %d, routes %v, canary %+v", when, table.Format, table.Routes[app], cr)
		}
		if got := revisionsOn(t, c, app); len(got) != 3 || got[2] != 2 {
			t.Fatalf("%s: revisions of the records %v", when, got)
		}
		a, _ := c.DB.App(app)
		rev, _ := c.DB.Revision(app, 2)
		if a.Revision != 1 || a.Canary == nil || rev.Status != cluster.StatusCanary {
			t.Fatalf("%s: app at revision %d, canary %+v, revision 2 %s", when, a.Revision, a.Canary, rev.Status)
		}
	}
	check("after the canary deploy")
	r.Pass(ctx)
	r.Pass(ctx)
	check("after two reconciler passes")

	if _, err := c.Deploy(ctx, app, cluster.DeployRequest{Image: goodImage}, nil); cluster.ErrorCode(err) != cluster.ECONFLICT {
		t.Fatalf("deploy during a canary: %v", err)
	}
	if _, err := c.Scale(ctx, app, 3, nil); cluster.ErrorCode(err) != cluster.ECONFLICT {
		t.Fatalf("scale during a canary: %v", err)
	}
	if _, err := canaryDeploy(c, app, goodImage, 10, 1); cluster.ErrorCode(err) != cluster.ECONFLICT {
		t.Fatalf("a second canary: %v", err)
	}
	check("after the refused operations")

	res, err = c.Promote(ctx, app, nil)
	if err != nil {
		t.Fatal(err)
	}
	canaryEnded(t, c, app, res, 2, cluster.StatusSucceeded)
	if _, err := c.Promote(ctx, app, nil); cluster.ErrorCode(err) != cluster.EINVALID {
		t.Fatalf("promote without a canary: %v", err)
	}

	// Abort: the canary of revision 3 goes, revision 2 serves alone.
	if _, err := canaryDeploy(c, app, goodImage, 50, 2); err != nil {
		t.Fatal(err)
	}
	if table, _ := c.DB.RoutingTable(); len(table.Canary[app].Routes) != 2 {
		t.Fatalf("second canary: %+v", table.Canary)
	}
	res, err = c.Abort(ctx, app, "", nil)
	if err != nil {
		t.Fatal(err)
	}
	canaryEnded(t, c, app, res, 3, cluster.StatusFailed)
}

// A canary whose instance fails its health check fails, leaves no
// instance and no canary behind, and the app keeps serving as it was;
// settings out of range are refused before anything starts.
func TestFakeCanaryFailsAndRefuses(t *testing.T) {
	t.Parallel()
	c := MustOpenFakeCluster(t, scheduler.Config{})
	app := c.App(t, "sick.example.com")
	if _, err := canaryDeploy(c, app, goodImage, 20, 1); cluster.ErrorCode(err) != cluster.EINVALID {
		t.Fatalf("a canary of an app never deployed: %v", err)
	}
	c.MustDeploy(t, app, goodImage, 2)
	for _, tc := range []struct{ weight, count int }{{100, 1}, {150, 1}, {20, 1000}} {
		if _, err := canaryDeploy(c, app, goodImage2, tc.weight, tc.count); cluster.ErrorCode(err) != cluster.EINVALID {
			t.Fatalf("weight %d count %d: %v", tc.weight, tc.count, err)
		}
	}
	if _, err := canaryDeploy(c, app, sickImage, 20, 1); cluster.ErrorCode(err) != cluster.EDEPLOY {
		t.Fatalf("a sick canary: %v", err)
	}
	a, _ := c.DB.App(app)
	table, _ := c.DB.RoutingTable()
	if a.Canary != nil || a.Revision != 1 || table.Canary != nil || len(table.Routes[app]) != 2 {
		t.Fatalf("after the failed canary: app %d canary %+v, table %v %v", a.Revision, a.Canary, table.Canary, table.Routes[app])
	}
	if got := revisionsOn(t, c, app); len(got) != 2 || got[1] != 1 {
		t.Fatalf("records after the failed canary: %v", got)
	}
	if _, err := c.Abort(context.Background(), app, "", nil); cluster.ErrorCode(err) != cluster.EINVALID {
		t.Fatalf("abort without a canary: %v", err)
	}

	// A kill ends a canary with the rest.
	if _, err := canaryDeploy(c, app, goodImage2, 20, 1); err != nil {
		t.Fatal(err)
	}
	if err := c.Kill(context.Background(), app); err != nil {
		t.Fatal(err)
	}
	a, _ = c.DB.App(app)
	rev, err := c.DB.Revision(app, 3)
	if err != nil {
		t.Fatal(err)
	}
	table, _ = c.DB.RoutingTable()
	if a.Canary != nil || a.Count != 0 || rev.Status != cluster.StatusFailed || table.Canary != nil || len(c.Running(app)) != 0 {
		t.Fatalf("after kill: canary %+v, count %d, revision 3 %s, table canary %v, %d running", a.Canary, a.Count, rev.Status, table.Canary, len(c.Running(app)))
	}
}

// A canary deployed with an auto-promote delay is promoted by the
// reconciler's pass once the delay passed, not before.
func TestFakeCanaryAutoPromote(t *testing.T) {
	c, app, r := canaryCluster(t, "auto.example.com")
	ctx := context.Background()
	if _, err := c.Deploy(ctx, app, cluster.DeployRequest{Image: goodImage2, Canary: 10, CanaryAuto: cluster.Duration(time.Hour),
		HealthCheck: cluster.HealthCheck{Timeout: cluster.Duration(2 * time.Second)}}, nil); err != nil {
		t.Fatal(err)
	}
	r.Pass(ctx)
	if a, _ := c.DB.App(app); a.Canary == nil || a.Revision != 1 {
		t.Fatalf("promoted before its time: revision %d, canary %+v", a.Revision, a.Canary)
	}
	// Its time is up: started an hour ago.
	if _, err := c.DB.UpdateApp(app, func(a *cluster.App) error { a.Canary.Started = a.Canary.Started.Add(-time.Hour); return nil }); err != nil {
		t.Fatal(err)
	}
	r.Pass(ctx) // waits for the promote it starts
	a, _ := c.DB.App(app)
	rev, _ := c.DB.Revision(app, 2)
	if a.Canary != nil || a.Revision != 2 || rev.Status != cluster.StatusSucceeded {
		t.Fatalf("after the pass: revision %d, canary %+v, revision 2 %s", a.Revision, a.Canary, rev.Status)
	}
	testenv.Eventually(t, 30*time.Second, "two instances of revision 2", func() bool {
		got := revisionsOn(t, c, app)
		return len(got) == 2 && got[0] == 2 && got[1] == 2
	})
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
