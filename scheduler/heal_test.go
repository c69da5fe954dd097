//go:build integration

package scheduler_test

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/longshoreman/longshoreman/cluster"
	"github.com/longshoreman/longshoreman/internal/testenv"
	"github.com/longshoreman/longshoreman/scheduler"
)

// RunReconciler runs a fast reconciler for the test's duration.
func (c *TestCluster) RunReconciler(tb testing.TB, grace time.Duration) *scheduler.Reconciler {
	tb.Helper()
	return runReconciler(tb, c.Scheduler, scheduler.ReconcilerConfig{Interval: 500 * time.Millisecond, Grace: grace})
}

// Routed returns the app's routed addresses from the routing table.
func (c *TestCluster) Routed(tb testing.TB, app string) []string {
	tb.Helper()
	return routed(tb, c.DB, app)
}

func TestDeadContainerIsUnroutedAndReplaced(t *testing.T) {
	t.Parallel()
	c, app, res := mustOpenClusterApp(t, "heal", 2)
	c.RunReconciler(t, time.Minute)
	time.Sleep(500 * time.Millisecond) // as in a running controller: the event streams are open
	insts, _ := c.DB.Instances(app)
	victim := insts[0]

	testenv.Docker(t, "kill", victim.ID)
	took := testenv.Eventually(t, time.Second, "killed instance unrouted", func() bool { return !contains(c.Routed(t, app), victim.Addr()) })
	t.Logf("unrouted %s after %s", victim.Addr(), took)
	testenv.Eventually(t, 30*time.Second, "replacement routed", func() bool {
		routed := c.Routed(t, app)
		return len(routed) == 2 && !contains(routed, victim.Addr())
	})
	mustAnswer(t, c.Routed(t, app), "/ping", "pong")
	if _, err := c.Engines.Inspect(context.Background(), victim.Host, victim.ID); cluster.ErrorCode(err) != cluster.ENOTFOUND {
		t.Fatalf("dead container still there: %v", err)
	}
	_ = res
}

func TestUnhealthyInstanceLeavesTableUntilItPasses(t *testing.T) {
	t.Parallel()
	c, app, res := mustOpenClusterApp(t, "health", 2)
	c.RunReconciler(t, time.Minute)
	sick := res.Instances[0]
	post := func(path string) {
		resp, err := http.Post("http://"+sick+path, "text/plain", nil)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
	}
	post("/health/fail")
	testenv.Eventually(t, 10*time.Second, "failing instance unrouted", func() bool { return !contains(c.Routed(t, app), sick) })
	if insts, _ := c.DB.Instances(app); len(insts) != 2 {
		t.Fatalf("the unhealthy instance was removed, want it kept: %+v", insts)
	}
	post("/health/ok")
	testenv.Eventually(t, 10*time.Second, "recovered instance routed again", func() bool { return contains(c.Routed(t, app), sick) })
}

func TestLostHostIsReplacedAndCleanedWhenBack(t *testing.T) {
	t.Parallel()
	c := MustOpenCluster(t)
	lost := testenv.FaultHost(t)
	for _, h := range c.Hosts[2:] {
		c.DB.RemoveHost(h)
	}
	c.DB.AddHost(lost)
	app := c.App(t, "losthost")
	c.DB.UpdateApp(app, func(a *cluster.App) error { a.HealthCheck.Timeout = cluster.Duration(20 * time.Second); return nil })
	c.MustDeploy(t, app, testenv.Image(t, "1"), 3)
	var stale cluster.Instance
	insts, _ := c.DB.Instances(app)
	for _, i := range insts {
		if i.Host == lost {
			stale = i
		}
	}
	if stale.ID == "" {
		t.Fatalf("no instance on %s: %+v", lost, insts)
	}
	r := c.RunReconciler(t, 2*time.Second)
	restore := testenv.DropHost(t, lost)
	testenv.Eventually(t, 20*time.Second, "lost host marked down", func() bool { return contains(r.Down(), lost) })
	testenv.Eventually(t, 30*time.Second, "instance replaced on the other hosts", func() bool {
		routed := c.Routed(t, app)
		if len(routed) != 3 {
			return false
		}
		for _, a := range routed {
			if strings.HasPrefix(a, lost+":") {
				return false
			}
		}
		return true
	})
	mustAnswer(t, c.Routed(t, app), "/ping", "pong")

	restore()
	testenv.Eventually(t, 30*time.Second, "stale container removed when the host is back", func() bool {
		_, err := c.Engines.Inspect(context.Background(), lost, stale.ID)
		return cluster.ErrorCode(err) == cluster.ENOTFOUND
	})
	if len(r.Down()) != 0 {
		t.Fatalf("hosts still down: %v", r.Down())
	}
	// It takes work again.
	res, err := c.Scale(context.Background(), app, 4, nil)
	if err != nil {
		t.Fatal(err)
	}
	onLost := false
	for _, a := range res.Instances {
		onLost = onLost || strings.HasPrefix(a, lost+":")
	}
	if !onLost {
		t.Fatalf("no instance on the recovered host after scaling up: %v", res.Instances)
	}
}

func TestOrphanContainersAreAdoptedOrRemoved(t *testing.T) {
	t.Parallel()
	c, app, _ := mustOpenClusterApp(t, "orphans", 2)
	insts, _ := c.DB.Instances(app)
	// As if the controller had crashed between starting a container and
	// recording it: forget one record, and start a container of an old
	// revision that nobody knows.
	c.DB.DeleteInstance(app, insts[0].ID)
	stray, err := c.Engines.Run(context.Background(), cluster.ContainerSpec{
		App: app, Revision: 99, Host: c.Hosts[1], Controller: c.DB.ControllerID(), Image: testenv.Image(t, "2"), Port: 3000,
	})
	if err != nil {
		t.Fatal(err)
	}
	c.RunReconciler(t, time.Minute)
	testenv.Eventually(t, 15*time.Second, "orphan adopted", func() bool {
		now, _ := c.DB.Instances(app)
		for _, i := range now {
			if i.ID == insts[0].ID && i.Routed {
				return true
			}
		}
		return false
	})
	testenv.Eventually(t, 15*time.Second, "stray container removed", func() bool {
		_, err := c.Engines.Inspect(context.Background(), stray.Host, stray.ID)
		return cluster.ErrorCode(err) == cluster.ENOTFOUND
	})
	if n := len(c.Running(t, app)); n != 2 {
		t.Fatalf("%d running, want 2", n)
	}
}

// interruptedRevision records a revision of the test image's version 2
// left deploying, as a controller killed mid-deploy leaves it.
func (c *TestCluster) interruptedRevision(tb testing.TB, app string) *cluster.Revision {
	tb.Helper()
	rev := &cluster.Revision{App: app, Image: testenv.Image(tb, "2"), Count: 2, Port: 3000, Status: cluster.StatusDeploying}
	if err := c.DB.CreateRevision(rev); err != nil {
		tb.Fatal(err)
	}
	return rev
}

func TestInterruptedDeployIsSettled(t *testing.T) {
	t.Parallel()
	c, app, _ := mustOpenClusterApp(t, "interrupted", 2)
	// A revision left "deploying" with one started, unrouted container, as
	// a controller killed mid-deploy leaves it.
	rev := c.interruptedRevision(t, app)
	ct, err := c.Engines.Run(context.Background(), cluster.ContainerSpec{App: app, Revision: rev.Number, Host: c.Hosts[2], Controller: c.DB.ControllerID(), Image: rev.Image, Port: 3000})
	if err != nil {
		t.Fatal(err)
	}
	c.DB.PutInstance(cluster.Instance{ID: ct.ID, App: app, Revision: rev.Number, Host: ct.Host, Port: ct.Port, Started: time.Now().Add(-time.Minute)})
	c.RunReconciler(t, time.Minute)
	testenv.Eventually(t, 15*time.Second, "interrupted revision failed and its container gone", func() bool {
		r, _ := c.DB.Revision(app, rev.Number)
		_, err := c.Engines.Inspect(context.Background(), ct.Host, ct.ID)
		return r.Status == cluster.StatusFailed && cluster.ErrorCode(err) == cluster.ENOTFOUND
	})
	mustAnswer(t, c.Routed(t, app), "/", "version=1")
	if n := len(c.Running(t, app)); n != 2 {
		t.Fatalf("%d running, want 2", n)
	}
}

// TestInterruptedDeployOfABusyAppIsSettled: a reconciler that starts while
// the app of an interrupted revision is busy with a new deploy (as when a
// controller gains the leadership and serves a deploy at once) settles that
// revision at a later pass, once the deploy has ended.
func TestInterruptedDeployOfABusyAppIsSettled(t *testing.T) {
	t.Parallel()
	c, app, _ := mustOpenClusterApp(t, "busy", 2)
	rev := c.interruptedRevision(t, app)
	deployed := make(chan error, 1)
	go func() {
		_, err := c.Deploy(context.Background(), app, cluster.DeployRequest{Image: testenv.Image(t, "1"), Count: 2}, nil)
		deployed <- err
	}()
	// The new deploy holds the app once its revision is recorded.
	testenv.Eventually(t, 15*time.Second, "the new deploy has begun", func() bool {
		r, err := c.DB.Revision(app, rev.Number+1)
		return err == nil && r.Status == cluster.StatusDeploying
	})
	c.RunReconciler(t, time.Minute)
	if err := <-deployed; err != nil {
		t.Fatal(err)
	}
	testenv.Eventually(t, 15*time.Second, "the interrupted revision settled", func() bool {
		r, _ := c.DB.Revision(app, rev.Number)
		return r.Status == cluster.StatusFailed
	})
	if r, _ := c.DB.Revision(app, rev.Number+1); r.Status != cluster.StatusSucceeded {
		t.Fatalf("the new deploy's revision is %s, want succeeded", r.Status)
	}
}

func TestAddHostRebalances(t *testing.T) {
	t.Parallel()
	c := MustOpenCluster(t)
	spare := c.Hosts[2]
	c.DB.RemoveHost(spare)
	app := c.App(t, "rebalance")
	c.MustDeploy(t, app, testenv.Image(t, "1"), 4)
	c.Scheduler = scheduler.New(c.DB, c.Engines, scheduler.Config{Controller: c.DB.ControllerID(), Drain: 300 * time.Millisecond, StopTimeout: 2 * time.Second, Rebalance: true})
	if err := c.AddHost(context.Background(), spare); err != nil {
		t.Fatal(err)
	}
	insts, _ := c.DB.Instances(app)
	hosts := map[string]int{}
	for _, i := range insts {
		hosts[i.Host]++
	}
	if len(insts) != 4 || len(hosts) != 3 || hosts[spare] != 1 {
		t.Fatalf("after adding %s: %v", spare, hosts)
	}
	mustAnswer(t, c.Routed(t, app), "/ping", "pong")
}

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
	testenv.Eventually(t, 3*probeInterval+10*time.Second, "every instance checked", func() bool {
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
	took := testenv.Eventually(t, 2*probeInterval+5*time.Second, "failing instance unrouted", func() bool { return !contains(c.Routed(t, app), sick) })
	t.Logf("unrouted %s after %s (probe interval %s)", sick, took, probeInterval)
	if insts, _ := c.DB.Instances(app); len(insts) != 3 {
		t.Fatalf("the failing instance was removed, want it kept until it passes: %+v", insts)
	}
	if routed := c.Routed(t, app); len(routed) != 2 {
		t.Fatalf("routed %v, want the two healthy instances", routed)
	}

	post("/health/ok")
	took = testenv.Eventually(t, probeInterval+5*time.Second, "passing instance routed again", func() bool { return contains(c.Routed(t, app), sick) })
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

// A repair that waits on a slow health check holds neither the pass nor
// the operator: another app's failing instance leaves the table meanwhile,
// and a deploy of the app under repair goes through at once, the repair's
// container removed.
func TestSlowRepairBlocksNobody(t *testing.T) {
	t.Parallel()
	c, other, res := mustOpenClusterApp(t, "repairother", 2)

	// The slow app's current revision starts in two minutes and the app
	// has no instance: the reconciler's repair waits on its health check.
	slow := c.App(t, "repairslow")
	rev := &cluster.Revision{App: slow, Image: testenv.Image(t, "1"), Envs: []string{"SLOW_START=120s"}, Count: 1, Port: 3000,
		HealthCheck: cluster.HealthCheck{Path: "/ping", Timeout: cluster.Duration(5 * time.Minute)}, Status: cluster.StatusDeploying}
	if err := c.DB.CreateRevision(rev); err != nil {
		t.Fatal(err)
	}
	if _, err := c.DB.FinishRevision(slow, rev.Number, cluster.StatusSucceeded, ""); err != nil {
		t.Fatal(err)
	}
	// The operator's fix: the env goes, then a deploy.
	if _, err := c.DB.UpdateApp(slow, func(a *cluster.App) error { a.Envs = map[string]string{}; return nil }); err != nil {
		t.Fatal(err)
	}
	c.RunReconciler(t, time.Minute)
	testenv.Eventually(t, time.Minute, "the repair started a slow container", func() bool { return len(c.Running(t, slow)) == 1 })
	repairing := c.Running(t, slow)[0]
	if !c.Busy(slow) {
		t.Fatal("no repair holds the slow app")
	}

	sick := res.Instances[0]
	resp, err := http.Post("http://"+sick+"/health/fail", "text/plain", nil)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	took := testenv.Eventually(t, 30*time.Second, "the other app's failing instance unrouted", func() bool { return !contains(c.Routed(t, other), sick) })
	t.Logf("unrouted the failing instance of the other app after %s", took.Round(time.Millisecond))
	if !c.Busy(slow) {
		t.Fatal("the slow repair ended before the deploy; the test proves nothing")
	}

	start := time.Now()
	out, err := c.Deploy(context.Background(), slow, cluster.DeployRequest{Image: testenv.Image(t, "2"), Count: 1,
		HealthCheck: cluster.HealthCheck{Timeout: cluster.Duration(time.Minute)}}, nil)
	if err != nil {
		t.Fatalf("deploy during a repair: %v", err)
	}
	t.Logf("deploy during a repair took %s", time.Since(start).Round(time.Millisecond))
	mustAnswer(t, out.Instances, "/", "version=2")
	if _, err := c.Engines.Inspect(context.Background(), repairing.Host, repairing.ID); cluster.ErrorCode(err) != cluster.ENOTFOUND {
		t.Fatalf("the pre-empted repair's container %s: %v, want it removed", repairing.ID[:12], err)
	}
	insts, _ := c.DB.Instances(slow)
	if len(insts) != 1 || insts[0].Revision != out.Revision {
		t.Fatalf("instances after the deploy: %+v, want one of revision %d", insts, out.Revision)
	}
}
