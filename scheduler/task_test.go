package scheduler_test

import (
	"context"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/longshoreman/longshoreman/cluster"
	"github.com/longshoreman/longshoreman/scheduler"
)

// stepList records the progress steps of a rollout.
type stepList struct {
	mu   sync.Mutex
	list []string
}

func (s *stepList) add(p cluster.Progress) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.list = append(s.list, p.Step)
}

func (s *stepList) get() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.list...)
}

func ids(cts []cluster.Container) []string {
	var out []string
	for _, c := range cts {
		out = append(out, c.ID)
	}
	slices.Sort(out)
	return out
}

// A failing release command fails the deploy with its output, before
// anything starts: the old instances are the same containers, still routed.
func TestReleaseFailureTouchesNothing(t *testing.T) {
	c := MustOpenFakeCluster(t, scheduler.Config{})
	app := c.App(t, "release-fails.example.com")
	c.MustDeploy(t, app, goodImage, 2)
	before, routedBefore := ids(c.Running(app)), c.Routed(t, app)
	runs := c.Engines.Calls()["Run"]

	var st stepList
	_, err := c.Deploy(context.Background(), app, cluster.DeployRequest{Image: goodImage2, Release: []string{"exit", "3"}}, st.add)
	if cluster.ErrorCode(err) != cluster.EDEPLOY || !strings.Contains(cluster.ErrorMessage(err), "exited with code 3") ||
		!strings.Contains(cluster.ErrorMessage(err), "exiting with status 3") {
		t.Fatalf("deploy with a release exiting 3: %v; want a deploy error with the exit code and the output", err)
	}
	if got := st.get(); !slices.Contains(got, "release") || slices.Contains(got, "starting") || slices.Contains(got, "released") {
		t.Errorf("steps %v; want release, and nothing started", got)
	}
	if got := ids(c.Running(app)); !slices.Equal(got, before) {
		t.Errorf("running containers %v; want the old ones %v untouched", got, before)
	}
	if got := c.Routed(t, app); !slices.Equal(got, routedBefore) {
		t.Errorf("routed %v; want %v", got, routedBefore)
	}
	if n := c.Engines.Calls()["Run"]; n != runs {
		t.Errorf("%d instances started after a failed release", n-runs)
	}
	revs, _ := c.DB.Revisions(app)
	if revs[0].Status != cluster.StatusFailed || !strings.Contains(revs[0].Reason, "exited with code 3") {
		t.Errorf("revision %d is %s (%q); want failed with the release's exit", revs[0].Number, revs[0].Status, revs[0].Reason)
	}
	a, _ := c.DB.App(app)
	if a.Image != goodImage || len(a.Release) != 0 {
		t.Errorf("app after a failed release: image %s, release %v; want the old revision's", a.Image, a.Release)
	}
}

// The release command runs once per deploy and env change, before any new
// instance starts; not on scale, and on rollback only when asked. Left
// out of a deploy it is kept; an empty one clears it.
func TestReleaseRunsOncePerDeploy(t *testing.T) {
	c := MustOpenFakeCluster(t, scheduler.Config{})
	app := c.App(t, "release.example.com")
	tasks := func() int { return c.Engines.Calls()["RunTask"] }
	hc := cluster.HealthCheck{Timeout: cluster.Duration(2 * time.Second)}

	var st stepList
	if _, err := c.Deploy(context.Background(), app, cluster.DeployRequest{Image: goodImage, Count: 2, HealthCheck: hc, Release: []string{"echo", "migrated"}}, st.add); err != nil {
		t.Fatal(err)
	}
	got := st.get()
	if tasks() != 1 {
		t.Fatalf("release ran %d times in one deploy; want once", tasks())
	}
	rel, started := slices.Index(got, "released"), slices.Index(got, "starting")
	if rel < 0 || started < 0 || rel > started || slices.Index(got, "release") > rel {
		t.Errorf("steps %v; want release, released, then starting", got)
	}

	if _, err := c.Scale(context.Background(), app, 3, nil); err != nil {
		t.Fatal(err)
	}
	if tasks() != 1 {
		t.Errorf("scale ran the release command")
	}
	if _, err := c.SetEnv(context.Background(), app, "K", "v", nil); err != nil {
		t.Fatal(err)
	}
	if tasks() != 2 {
		t.Errorf("release ran %d times after an env change; want 2", tasks())
	}
	c.MustDeploy(t, app, goodImage2, 3) // release left out: kept
	if tasks() != 3 {
		t.Errorf("release ran %d times after a deploy that kept it; want 3", tasks())
	}
	if _, err := c.Rollback(context.Background(), app, 0, nil); err != nil {
		t.Fatal(err)
	}
	if tasks() != 3 {
		t.Errorf("a rollback without release ran the release command")
	}
	if _, err := c.RollbackRelease(context.Background(), app, 0, nil); err != nil {
		t.Fatal(err)
	}
	if tasks() != 4 {
		t.Errorf("release ran %d times after a rollback asking for it; want 4", tasks())
	}
	if _, err := c.Deploy(context.Background(), app, cluster.DeployRequest{Image: goodImage, HealthCheck: hc, Release: []string{}}, nil); err != nil {
		t.Fatal(err)
	}
	if tasks() != 4 {
		t.Errorf("a deploy clearing the release ran it")
	}
	if a, _ := c.DB.App(app); len(a.Release) != 0 {
		t.Errorf("release after clearing it: %v", a.Release)
	}
}

// A one-off task runs the current revision's image, answers its exit code
// and output, and is refused for an app never deployed.
func TestRunTaskFake(t *testing.T) {
	c := MustOpenFakeCluster(t, scheduler.Config{})
	app := c.App(t, "task.example.com")
	_, err := c.RunTask(context.Background(), app, []string{"echo", "hi"}, time.Minute, nil)
	if cluster.ErrorCode(err) != cluster.EINVALID || !strings.Contains(cluster.ErrorMessage(err), "never been deployed") {
		t.Fatalf("task of an app never deployed: %v", err)
	}
	c.MustDeploy(t, app, goodImage, 1)
	var lines []string
	res, err := c.RunTask(context.Background(), app, []string{"exit", "3"}, time.Minute, func(l cluster.TaskLine) { lines = append(lines, l.Line) })
	if err != nil || res.ExitCode != 3 || len(lines) == 0 {
		t.Fatalf("RunTask(exit 3) = %+v, %v, output %q", res, err, lines)
	}
	res, err = c.RunTask(context.Background(), app, []string{"sleep", "1m"}, 50*time.Millisecond, nil)
	if err != nil || !res.TimedOut {
		t.Fatalf("RunTask(sleep 1m) with a 50ms timeout = %+v, %v; want timed out", res, err)
	}
	if n := len(c.Running(app)); n != 1 {
		t.Errorf("%d containers of the app run after its tasks; want its one instance", n)
	}
}

// The reconciler leaves a running task alone; a task container that no
// scheduler of this controller runs (its controller died) is removed.
func TestReconcilerAndTasks(t *testing.T) {
	c := MustOpenFakeCluster(t, scheduler.Config{})
	app := c.App(t, "task-reconcile.example.com")
	c.MustDeploy(t, app, goodImage, 1)
	r := scheduler.NewReconciler(c.Scheduler, scheduler.ReconcilerConfig{Interval: time.Hour, Grace: time.Minute})
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()

	taskCount := func() int {
		n := 0
		for _, h := range fakeHosts {
			for _, ct := range c.Engines.Containers(h) {
				if ct.App == app && ct.Task != "" {
					n++
				}
			}
		}
		return n
	}
	done := make(chan error, 1)
	go func() {
		res, err := c.RunTask(context.Background(), app, []string{"sleep", "300ms"}, time.Minute, nil)
		if err == nil && (res.ExitCode != 0 || res.TimedOut) {
			err = context.DeadlineExceeded
		}
		done <- err
	}()
	eventually(t, "the task container runs", func() bool { return taskCount() == 1 })
	r.Pass(ctx)
	if taskCount() != 1 {
		t.Fatal("a reconcile pass removed a running task of this controller")
	}
	if n := len(c.Running(app)); n != 2 {
		t.Errorf("%d running containers (instance and task); want 2: the task must not be counted as an instance", n)
	}
	if err := <-done; err != nil {
		t.Fatalf("the task did not end well: %v", err)
	}

	// Another scheduler of the same controller on the same hosts, as after
	// a restart: the first one's task is not one it runs.
	other := scheduler.New(c.DB, c.Engines, scheduler.Config{Controller: c.DB.ControllerID()})
	defer other.Close()
	go func() {
		_, err := c.RunTask(context.Background(), app, []string{"sleep", "1m"}, time.Minute, nil)
		done <- err
	}()
	eventually(t, "the task container runs", func() bool { return taskCount() == 1 })
	scheduler.NewReconciler(other, scheduler.ReconcilerConfig{Interval: time.Hour, Grace: time.Minute}).Pass(ctx)
	if n := taskCount(); n != 0 {
		t.Errorf("%d task containers left after a pass of a controller that does not run them; want them removed", n)
	}
	if n := len(c.Running(app)); n != 1 {
		t.Errorf("%d running containers after removing the orphaned task; want the instance", n)
	}
	<-done
}

// A task of a revision with a memory limit runs only on a host whose
// memory not reserved by instances covers it.
func TestTaskMemoryLimitPlacement(t *testing.T) {
	c := MustOpenFakeCluster(t, scheduler.Config{})
	app := c.App(t, "task-memory.example.com")
	hc := cluster.HealthCheck{Timeout: cluster.Duration(2 * time.Second)}
	if _, err := c.Deploy(context.Background(), app, cluster.DeployRequest{Image: goodImage, Count: 1, HealthCheck: hc, Memory: 3 << 30}, nil); err != nil {
		t.Fatal(err)
	}
	if res, err := c.RunTask(context.Background(), app, []string{"echo", "fits"}, time.Minute, nil); err != nil || res.ExitCode != 0 {
		t.Fatalf("a task that fits: %+v, %v", res, err)
	}
	for _, h := range fakeHosts {
		c.Engines.SetFreeMemory(h, 2<<30)
	}
	_, err := c.RunTask(context.Background(), app, []string{"echo", "too big"}, time.Minute, nil)
	if cluster.ErrorCode(err) != cluster.EUNAVAILABLE || !strings.Contains(cluster.ErrorMessage(err), "memory free") {
		t.Fatalf("a task whose limit fits nowhere: %v; want 503 saying no host has the memory", err)
	}
}
