package scheduler_test

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"path/filepath"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/longshoreman/longshoreman/cluster"
	"github.com/longshoreman/longshoreman/db"
	"github.com/longshoreman/longshoreman/internal/fakedocker"
	"github.com/longshoreman/longshoreman/internal/testenv"
	"github.com/longshoreman/longshoreman/scheduler"
)

// The fast tier: the scheduler over a real data file and the in-memory
// fake of the Docker hosts (no daemon). Its containers are real listeners
// on 127.0.0.1-3 that answer their health checks.

var fakeHosts = []string{"127.0.0.1", "127.0.0.2", "127.0.0.3"}

const (
	goodImage   = "registry.example/app:1"
	goodImage2  = "registry.example/app:2"
	sickImage   = "registry.example/app:sick"  // answers 500
	crashImage  = "registry.example/app:crash" // exits at start
	absentImage = "registry.example/app:absent"
)

// FakeCluster is a scheduler over a data file in a temporary directory and
// fake Docker hosts.
type FakeCluster struct {
	*scheduler.Scheduler
	DB      *db.DB
	Engines *fakedocker.Engines
}

func MustOpenFakeCluster(tb testing.TB, cfg scheduler.Config) *FakeCluster {
	tb.Helper()
	d, err := db.Open(filepath.Join(tb.TempDir(), "ls.db"), db.Options{Create: true})
	if err != nil {
		tb.Fatal(err)
	}
	e := fakedocker.New()
	e.AddImage(goodImage, fakedocker.Image{})
	e.AddImage(goodImage2, fakedocker.Image{})
	e.AddImage(sickImage, fakedocker.Image{Status: http.StatusInternalServerError})
	e.AddImage(crashImage, fakedocker.Image{Exits: true})
	cfg.Controller = d.ControllerID()
	if cfg.Drain == 0 {
		cfg.Drain = 10 * time.Millisecond
	}
	s := scheduler.New(d, e, cfg)
	for _, h := range fakeHosts {
		if _, err := d.AddHost(h); err != nil {
			tb.Fatal(err)
		}
	}
	tb.Cleanup(func() {
		s.Close()
		e.Close()
		d.Close()
	})
	return &FakeCluster{Scheduler: s, DB: d, Engines: e}
}

// mustOpenFakeApp is MustOpenFakeCluster with the default config and the
// app name deployed at goodImage with count instances.
func mustOpenFakeApp(tb testing.TB, name string, count int) (*FakeCluster, string) {
	tb.Helper()
	c := MustOpenFakeCluster(tb, scheduler.Config{})
	c.MustDeploy(tb, c.App(tb, name), goodImage, count)
	return c, name
}

func (c *FakeCluster) App(tb testing.TB, name string) string {
	tb.Helper()
	if _, err := c.DB.CreateApp(name); err != nil {
		tb.Fatal(err)
	}
	return name
}

func (c *FakeCluster) MustDeploy(tb testing.TB, app, image string, count int) *cluster.DeployResult {
	tb.Helper()
	res, err := c.Deploy(context.Background(), app, cluster.DeployRequest{Image: image, Count: count,
		HealthCheck: cluster.HealthCheck{Timeout: cluster.Duration(2 * time.Second)}}, nil)
	if err != nil {
		tb.Fatalf("deploy %s of %s: %v", image, app, err)
	}
	return res
}

// Running returns the app's running containers on every fake host.
func (c *FakeCluster) Running(app string) []cluster.Container {
	var out []cluster.Container
	for _, h := range fakeHosts {
		for _, ct := range c.Engines.Containers(h) {
			if ct.App == app && ct.Running {
				out = append(out, ct)
			}
		}
	}
	return out
}

// Routed returns the app's routed addresses in the data file's table.
func (c *FakeCluster) Routed(tb testing.TB, app string) []string {
	tb.Helper()
	return routed(tb, c.DB, app)
}

// A deploy whose new instances fail (an unhealthy one, one that exits at
// start, an image the registry lacks) fails with what went wrong, removes
// every new container, and leaves the old instances routed and serving.
func TestFakeFailedDeployLeavesOldServing(t *testing.T) {
	t.Parallel()
	c := MustOpenFakeCluster(t, scheduler.Config{})
	app := c.App(t, "fail.example.com")
	first := c.MustDeploy(t, app, goodImage, 2)
	for _, tc := range []struct {
		image, code, says string
	}{
		{sickImage, cluster.EDEPLOY, "answered 500"},
		{crashImage, cluster.EDEPLOY, "stopped right after it started"},
		{absentImage, cluster.EHOST, "no such image"},
	} {
		var st progressLog
		_, err := c.Deploy(context.Background(), app, cluster.DeployRequest{Image: tc.image, Count: 2,
			HealthCheck: cluster.HealthCheck{Timeout: cluster.Duration(500 * time.Millisecond)}}, st.report)
		if cluster.ErrorCode(err) != tc.code || !strings.Contains(cluster.ErrorMessage(err), tc.says) {
			t.Fatalf("deploy of %s: %v, want %s saying %q", tc.image, err, tc.code, tc.says)
		}
		if steps := st.steps(); steps[len(steps)-1] != "failed" || strings.Contains(strings.Join(steps, " "), "unrouted") {
			t.Errorf("deploy of %s reported %v: want it to end with failed and unroute nothing", tc.image, steps)
		}
		if got := c.Routed(t, app); strings.Join(got, ",") != strings.Join(first.Instances, ",") {
			t.Fatalf("after the failed deploy of %s routed %v, want the first %v", tc.image, got, first.Instances)
		}
		running := c.Running(app)
		if len(running) != 2 || running[0].Image != goodImage || running[1].Image != goodImage {
			t.Fatalf("after the failed deploy of %s running %+v, want the two of %s", tc.image, running, goodImage)
		}
	}
	revs, _ := c.DB.Revisions(app)
	if len(revs) != 4 || revs[0].Status != cluster.StatusFailed || revs[3].Status != cluster.StatusSucceeded {
		t.Fatalf("revisions = %+v, want three failed after one succeeded", revs)
	}
}

// Placement reads the hosts' free memory, observed before deciding: with
// no other difference, the host with the most free memory takes the new
// instance, and a host that does not answer takes none.
func TestFakeDeployPlacesByObservedCapacity(t *testing.T) {
	c := MustOpenFakeCluster(t, scheduler.Config{})
	c.Engines.SetFreeMemory(fakeHosts[0], 1<<30)
	c.Engines.SetFreeMemory(fakeHosts[1], 4<<30)
	c.Engines.SetFreeMemory(fakeHosts[2], 16<<30)
	app := c.App(t, "place.example.com")
	c.MustDeploy(t, app, goodImage, 1)
	if running := c.Running(app); len(running) != 1 || running[0].Host != fakeHosts[2] {
		t.Fatalf("running %+v, want one instance on %s, the host with the most free memory", running, fakeHosts[2])
	}
	c.Engines.SetDown(fakeHosts[2], true)
	other := c.App(t, "place2.example.com")
	c.MustDeploy(t, other, goodImage, 1)
	if running := c.Running(other); len(running) != 1 || running[0].Host != fakeHosts[1] {
		t.Fatalf("running %+v, want one instance on %s: %s is down", running, fakeHosts[1], fakeHosts[2])
	}
}

// TestMemoryReservationsFillHosts (fast tier): with 1 GiB per host, three
// deploys of 512m x3 fit two apps' worth, the third is refused with 503
// and the figures, and scaling an app down frees its reservations.
func TestMemoryReservationsFillHosts(t *testing.T) {
	c := MustOpenFakeCluster(t, scheduler.Config{})
	for _, h := range fakeHosts {
		c.Engines.SetFreeMemory(h, 1<<30)
	}
	deploy := func(app string) error {
		if _, err := c.DB.CreateApp(app); err != nil {
			t.Fatal(err)
		}
		_, err := c.Deploy(context.Background(), app, cluster.DeployRequest{Image: goodImage, Count: 3, Memory: 512 << 20}, nil)
		return err
	}
	for _, app := range []string{"a.example.com", "b.example.com"} {
		if err := deploy(app); err != nil {
			t.Fatalf("deploy %s: %v", app, err)
		}
	}
	err := deploy("c.example.com")
	if cluster.ErrorCode(err) != cluster.EUNAVAILABLE || !strings.Contains(cluster.ErrorMessage(err), "needs 512m per instance x3 and 3 fit on no host") ||
		!strings.Contains(cluster.ErrorMessage(err), "127.0.0.1 0, 127.0.0.2 0, 127.0.0.3 0") {
		t.Fatalf("third deploy: %v, want 503 with the figures", err)
	}
	if _, err := c.Scale(context.Background(), "a.example.com", 0, nil); err != nil {
		t.Fatal(err)
	}
	if err := deploy("c.example.com"); err != nil {
		t.Fatalf("deploy after a scale down freed the memory: %v", err)
	}
}

// Removing a host moves its instances to the others before stopping them;
// a host whose instances cannot move (the others are down) is refused, and
// removed anyway with force.
func TestFakeRemoveHostDrains(t *testing.T) {
	c, app := mustOpenFakeApp(t, "drain.example.com", 3)
	x := fakeHosts[0]
	if err := c.RemoveHost(context.Background(), x, false); err != nil {
		t.Fatalf("removing %s: %v", x, err)
	}
	if n := len(c.Engines.Containers(x)); n != 0 {
		t.Fatalf("%d containers left on the removed host", n)
	}
	insts, _ := c.DB.Instances(app)
	if len(insts) != 3 || len(c.Routed(t, app)) != 3 {
		t.Fatalf("after the drain %d instances, %d routed; want 3 and 3", len(insts), len(c.Routed(t, app)))
	}
	for _, i := range insts {
		if i.Host == x {
			t.Fatalf("instance still on %s: %+v", x, i)
		}
	}

	y, z := fakeHosts[1], fakeHosts[2]
	c.Engines.SetDown(z, true)
	err := c.RemoveHost(context.Background(), y, false)
	if cluster.ErrorCode(err) != cluster.ECONFLICT || !fixes(err, cluster.OpRemoveHost, cluster.ArgForce) {
		t.Fatalf("removing %s with %s down: %v, want ECONFLICT pointing at force", y, z, err)
	}
	if ok, _ := c.DB.HasHost(y); !ok || len(c.Engines.Containers(y)) == 0 {
		t.Fatalf("the refused removal of %s took it away or stopped its instances", y)
	}
	if err := c.RemoveHost(context.Background(), y, true); err != nil {
		t.Fatalf("forced removal of %s: %v", y, err)
	}
	if n := len(c.Engines.Containers(y)); n != 0 {
		t.Fatalf("%d containers left on %s after a forced removal", n, y)
	}
}

// While the routers cannot be told of a new table (Redis away), a deploy
// succeeds and its old instances keep serving, retiring in the background;
// once the table is published they are stopped.
func TestFakeRetirementDeferredUntilPublished(t *testing.T) {
	var published atomic.Uint64
	c := MustOpenFakeCluster(t, scheduler.Config{
		Published: published.Load, PublishWait: 50 * time.Millisecond,
		RouterReconnect: 10 * time.Millisecond, RetireWait: time.Minute,
	})
	app := c.App(t, "defer.example.com")
	c.MustDeploy(t, app, goodImage, 2) // nothing to retire: no wait
	var deferred atomic.Bool
	_, err := c.Deploy(context.Background(), app, cluster.DeployRequest{Image: goodImage2, Count: 2}, func(p cluster.Progress) {
		if p.Step == "deferred" {
			deferred.Store(true)
		}
	})
	if err != nil || !deferred.Load() {
		t.Fatalf("deploy with the routers unreachable: %v, deferred reported: %v", err, deferred.Load())
	}
	if n := len(c.Running(app)); n != 4 {
		t.Fatalf("%d containers running right after the deploy, want the 2 old still serving and the 2 new", n)
	}
	if n := len(c.Retiring()); n != 2 {
		t.Fatalf("%d instances retiring in the background, want 2", n)
	}
	insts, _ := c.DB.Instances(app)
	table, _ := c.DB.RoutingTable()
	for _, i := range insts {
		if i.Revision == 1 && (!i.Retiring || i.Routed) {
			t.Fatalf("old instance not recorded as retiring and unrouted: %+v", i)
		}
	}
	published.Store(table.Version)
	testenv.Eventually(t, 30*time.Second, "the old instances stopped once the table was published", func() bool {
		running := c.Running(app)
		return len(running) == 2 && running[0].Image == goodImage2 && running[1].Image == goodImage2
	})
	testenv.Eventually(t, 30*time.Second, "the old records forgotten", func() bool {
		insts, _ := c.DB.Instances(app)
		return len(insts) == 2 && len(c.Retiring()) == 0
	})
}

// A reconcile pass that comes while an operation drains the instances it
// retires leaves them to it: it resumes only the retirements a stopped
// controller left. (Resumed, they were stopped a second time, by a Stop
// that could return before the first had removed the container, which
// still held the app's volume.)
func TestFakePassLeavesAnOperationsRetirementAlone(t *testing.T) {
	t.Parallel()
	var log testenv.Log
	c := MustOpenFakeCluster(t, scheduler.Config{Drain: time.Second, RouterReconnect: 10 * time.Millisecond,
		Logger: slog.New(slog.NewTextHandler(&log, nil))})
	app := c.App(t, "drain-pass.example.com")
	c.MustDeploy(t, app, goodImage, 2)
	r := scheduler.NewReconciler(c.Scheduler, scheduler.ReconcilerConfig{Interval: time.Hour, Grace: time.Minute})
	stopsBefore := c.Engines.Calls()["Stop"]

	var killErr error
	killed := make(chan struct{})
	go func() { defer close(killed); killErr = c.Kill(context.Background(), app) }()
	// A machine stalled for the whole drain may see the kill end first.
	testenv.Eventually(t, 30*time.Second, "the kill to mark its instances retiring, or to end", func() bool {
		select {
		case <-killed:
			return true
		default:
		}
		insts, _ := c.DB.Instances(app)
		return len(insts) == 2 && insts[0].Retiring && insts[1].Retiring
	})
	r.Pass(context.Background()) // within the kill's drain of a second, or after the kill: either way it resumes nothing
	<-killed
	if killErr != nil {
		t.Fatal(killErr)
	}
	if n := len(c.Retiring()); n != 0 {
		t.Errorf("%d instances still retiring after the kill returned, want none; the log:\n%s", n, log.String())
	}
	if strings.Contains(log.String(), "resuming the retirement") {
		t.Errorf("the pass resumed the kill's own retirement; the log:\n%s", log.String())
	}
	if n := c.Engines.Calls()["Stop"] - stopsBefore; n != 2 {
		t.Errorf("%d Stop calls for the 2 instances, want 2", n)
	}
	if insts, _ := c.DB.Instances(app); len(insts) != 0 || len(c.Running(app)) != 0 {
		t.Errorf("after the kill: %d records and %d containers running, want none", len(insts), len(c.Running(app)))
	}
}

// The reconciler replaces a container that died and one on a host that
// stopped answering, unroutes them, and removes what the lost host still
// runs once it answers again.
func TestFakeReconcilerHeals(t *testing.T) {
	c, app := mustOpenFakeApp(t, "heal.example.com", 3)
	r := scheduler.NewReconciler(c.Scheduler, scheduler.ReconcilerConfig{Interval: time.Hour, Grace: 50 * time.Millisecond})
	ctx := context.Background()

	victim := c.Running(app)[0]
	if err := c.Engines.Kill(victim.ID); err != nil {
		t.Fatal(err)
	}
	r.Pass(ctx)
	insts, _ := c.DB.Instances(app)
	if len(insts) != 3 || len(c.Routed(t, app)) != 3 || len(c.Running(app)) != 3 {
		t.Fatalf("after a pass: %d records, %d routed, %d running; want 3 each", len(insts), len(c.Routed(t, app)), len(c.Running(app)))
	}
	for _, i := range insts {
		if i.ID == victim.ID {
			t.Fatalf("the dead container is still recorded: %+v", i)
		}
	}

	lost := fakeHosts[2]
	c.Engines.SetDown(lost, true)
	r.Pass(ctx) // the host starts failing
	time.Sleep(100 * time.Millisecond)
	r.Pass(ctx) // past its grace: replaced elsewhere
	if down := r.Down(); len(down) != 1 || down[0] != lost {
		t.Fatalf("hosts down = %v, want [%s]", down, lost)
	}
	insts, _ = c.DB.Instances(app)
	for _, i := range insts {
		if i.Host == lost {
			t.Fatalf("instance still recorded on the lost host: %+v", i)
		}
	}
	if len(insts) != 3 || len(c.Routed(t, app)) != 3 {
		t.Fatalf("after losing %s: %d records, %d routed; want 3 and 3", lost, len(insts), len(c.Routed(t, app)))
	}
	c.Engines.SetDown(lost, false)
	r.Pass(ctx)
	if left := c.Engines.Containers(lost); len(left) != 0 {
		t.Fatalf("%d stale containers left on %s after it came back", len(left), lost)
	}
}

// fixes reports whether err's Fix names op and, when arg is not empty,
// gives that argument.
func fixes(err error, op, arg string) bool {
	var e *cluster.Error
	if !errors.As(err, &e) || e.Fix == nil || e.Fix.Op != op {
		return false
	}
	return arg == "" || e.Fix.Args[arg] != ""
}

// TestFakeRepairHeldBackRunsWhenTheAppIsFree: a pass that finds an app
// busy leaves its repair for later, and the app's release triggers the
// pass that does it, with the periodic pass an hour away.
func TestFakeRepairHeldBackRunsWhenTheAppIsFree(t *testing.T) {
	t.Parallel()
	c, app := mustOpenFakeApp(t, "heldback.example.com", 2)
	r := runReconciler(t, c.Scheduler, scheduler.ReconcilerConfig{Interval: time.Hour, Grace: time.Minute})
	unlock, err := c.Scheduler.Hold(app)
	if err != nil {
		t.Fatal(err)
	}
	victim := c.Running(app)[0]
	if err := c.Engines.Kill(victim.ID); err != nil {
		t.Fatal(err)
	}
	_, before := r.LastPass()
	r.Trigger() // as the victim's die event does
	testenv.Eventually(t, 10*time.Second, "a pass while the app is held", func() bool { _, n := r.LastPass(); return n > before })
	if insts, _ := c.DB.Instances(app); !slices.ContainsFunc(insts, func(i cluster.Instance) bool { return i.ID == victim.ID }) {
		t.Fatal("the held app was repaired")
	}
	unlock()
	testenv.Eventually(t, 10*time.Second, "the killed instance replaced once the app is free", func() bool {
		insts, _ := c.DB.Instances(app)
		return len(insts) == 2 && !slices.ContainsFunc(insts, func(i cluster.Instance) bool { return i.ID == victim.ID }) &&
			len(c.Running(app)) == 2
	})
}

// Instance events carry the instance's own revision, whichever change
// routes or unroutes it: a deploy's new instance its new revision, the old
// one it retires the old revision, a repair's replacement the current one.
func TestFakeInstanceEventsCarryTheirRevision(t *testing.T) {
	t.Parallel()
	var events eventLog
	c := MustOpenFakeCluster(t, scheduler.Config{Events: events.add})
	app := c.App(t, "instance-revisions.example.com")
	c.MustDeploy(t, app, goodImage, 1)
	c.MustDeploy(t, app, goodImage2, 1)
	insts, err := c.DB.Instances(app)
	if err != nil || len(insts) != 1 {
		t.Fatalf("instances after two deploys: %v %v", insts, err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := c.Engines.Stop(ctx, insts[0].Host, insts[0].ID, 0); err != nil { // behind the controller's back
		t.Fatal(err)
	}
	r := scheduler.NewReconciler(c.Scheduler, scheduler.ReconcilerConfig{Interval: time.Hour, Grace: time.Minute})
	steps := func(step string) []int {
		var revs []int
		for _, e := range events.where(func(e cluster.Event) bool { return e.Type == cluster.EventInstance && e.Step == step }) {
			revs = append(revs, e.Revision)
		}
		return revs
	}
	testenv.Eventually(t, 30*time.Second, "the vanished instance replaced by a repair", func() bool {
		r.Pass(ctx)
		return len(steps("routed")) == 3
	})
	if routed, unrouted := steps("routed"), steps("unrouted"); !slices.Equal(routed, []int{1, 2, 2}) || !slices.Equal(unrouted, []int{1, 2}) {
		t.Errorf("instance events' revisions: routed %v, unrouted %v; want [1 2 2] and [1 2]", routed, unrouted)
	}
}

// HostMemory answers from what it read within the minute and asks the
// other hosts at once: the answers come together in one map (under -race,
// a cached host's value written beside the asked hosts' is checked too),
// and a host that does not answer is left out.
func TestFakeHostMemory(t *testing.T) {
	t.Parallel()
	c := MustOpenFakeCluster(t, scheduler.Config{})
	for i, h := range fakeHosts {
		c.Engines.SetFreeMemory(h, int64(i+1)<<30)
	}
	last := fakeHosts[len(fakeHosts)-1]
	for _, h := range fakeHosts[:len(fakeHosts)-1] {
		c.Engines.SetDown(h, true)
	}
	if got := c.HostMemory(context.Background()); len(got) != 1 || got[last] != int64(len(fakeHosts))<<30 {
		t.Fatalf("HostMemory with only %s answering = %v", last, got)
	}
	for _, h := range fakeHosts {
		c.Engines.SetDown(h, false)
	}
	c.Engines.SetFreeMemory(last, 1) // not asked again within the minute
	got := c.HostMemory(context.Background())
	for i, h := range fakeHosts {
		if got[h] != int64(i+1)<<30 {
			t.Errorf("HostMemory = %v; want %s at %d GiB", got, h, i+1)
		}
	}
}
