package scheduler_test

import (
	"context"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/longshoreman/longshoreman/cluster"
	"github.com/longshoreman/longshoreman/internal/testenv"
	"github.com/longshoreman/longshoreman/scheduler"
)

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
	c, app := mustOpenFakeApp(t, "release-fails.example.com", 2)
	before, routedBefore := ids(c.Running(app)), c.Routed(t, app)
	runs := c.Engines.Calls()["Run"]

	var st progressLog
	_, err := c.Deploy(context.Background(), app, cluster.DeployRequest{Image: goodImage2, Release: []string{"exit", "3"}}, st.report)
	if cluster.ErrorCode(err) != cluster.EDEPLOY || !strings.Contains(cluster.ErrorMessage(err), "exited with code 3") ||
		!strings.Contains(cluster.ErrorMessage(err), "exiting with status 3") {
		t.Fatalf("deploy with a release exiting 3: %v; want a deploy error with the exit code and the output", err)
	}
	if got := st.steps(); !slices.Contains(got, "release") || slices.Contains(got, "starting") || slices.Contains(got, "released") {
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
	t.Parallel()
	c := MustOpenFakeCluster(t, scheduler.Config{})
	app := c.App(t, "release.example.com")
	tasks := func() int { return c.Engines.Calls()["RunTask"] }
	hc := cluster.HealthCheck{Timeout: cluster.Duration(2 * time.Second)}

	var st progressLog
	if _, err := c.Deploy(context.Background(), app, cluster.DeployRequest{Image: goodImage, Count: 2, HealthCheck: hc, Release: []string{"echo", "migrated"}}, st.report); err != nil {
		t.Fatal(err)
	}
	got := st.steps()
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
	if rec, err := c.DB.Task(app, res.Task); err != nil || rec.State != cluster.TaskFailed || rec.ExitCode == nil || *rec.ExitCode != 3 ||
		strings.Join(rec.Output, "|") != strings.Join(lines, "|") || strings.Join(rec.Command, " ") != "exit 3" || rec.Release {
		t.Fatalf("the task's record = %+v, %v; want failed, exit code 3, the output %q", rec, err, lines)
	}
	res, err = c.RunTask(context.Background(), app, []string{"sleep", "1m"}, 50*time.Millisecond, nil)
	if err != nil || !res.TimedOut {
		t.Fatalf("RunTask(sleep 1m) with a 50ms timeout = %+v, %v; want timed out", res, err)
	}
	if n := len(c.Running(app)); n != 1 {
		t.Errorf("%d containers of the app run after its tasks; want its one instance", n)
	}
}

// taskContainers returns the app's task containers on the fake hosts.
func taskContainers(c *FakeCluster, app string) []cluster.Container {
	var out []cluster.Container
	for _, h := range fakeHosts {
		for _, ct := range c.Engines.Containers(h) {
			if ct.App == app && ct.Task != "" {
				out = append(out, ct)
			}
		}
	}
	return out
}

// The reconciler leaves a running task of this controller alone and never
// counts it as an instance; the task's record says running while it runs
// and its exit code and output once it ended, and its container is gone.
func TestReconcilerAndTasks(t *testing.T) {
	t.Parallel()
	c, app := mustOpenFakeApp(t, "task-reconcile.example.com", 1)
	r := scheduler.NewReconciler(c.Scheduler, scheduler.ReconcilerConfig{Interval: time.Hour, Grace: time.Minute})
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()

	type result struct {
		res cluster.TaskResult
		err error
	}
	done := make(chan result, 1)
	go func() {
		res, err := c.RunTask(context.Background(), app, []string{"sleep", "1h"}, time.Hour, nil)
		done <- result{res, err}
	}()
	testenv.Eventually(t, 30*time.Second, "the task container runs", func() bool { return len(taskContainers(c, app)) == 1 })
	tasks, err := c.DB.Tasks(app)
	if err != nil || len(tasks) != 1 || tasks[0].State != cluster.TaskRunning || tasks[0].ExitCode != nil || strings.Join(tasks[0].Command, " ") != "sleep 1h" {
		t.Fatalf("tasks while it runs = %+v, %v; want it recorded running", tasks, err)
	}
	r.Pass(ctx)
	if len(taskContainers(c, app)) != 1 {
		t.Fatal("a reconcile pass removed a running task of this controller")
	}
	if n := len(c.Running(app)); n != 2 {
		t.Errorf("%d running containers (instance and task); want 2: the task must not be counted as an instance", n)
	}
	if err := c.Engines.Exit(taskContainers(c, app)[0].ID, 3); err != nil {
		t.Fatal(err)
	}
	got := <-done
	if got.err != nil || got.res.ExitCode != 3 || got.res.Task != tasks[0].ID {
		t.Fatalf("RunTask = %+v, %v; want exit code 3 of task %s", got.res, got.err, tasks[0].ID)
	}
	rec, err := c.DB.Task(app, tasks[0].ID)
	if err != nil || rec.State != cluster.TaskFailed || rec.ExitCode == nil || *rec.ExitCode != 3 || rec.Finished.IsZero() {
		t.Fatalf("the ended task's record = %+v, %v; want failed, exit code 3", rec, err)
	}
	if left := taskContainers(c, app); len(left) != 0 {
		t.Errorf("task containers left after its end was recorded: %+v", left)
	}
}

// A task outlives the controller that started it. The wait for it ends
// (the controller stops, or loses the leadership) while it runs: RunTask
// says so and where to look, and the container runs on. Another scheduler
// of the same controller (as after a restart) leaves it alone while it
// runs within its deadline, then records its exit code and output, then
// removes it. A task past its deadline is killed by that scheduler and
// recorded as timed out; one whose container vanished is recorded lost.
func TestFakeTaskOutlivesItsController(t *testing.T) {
	t.Parallel()
	c, app := mustOpenFakeApp(t, "task-outlives.example.com", 1)

	// start runs command with timeout until its container runs, then ends
	// the wait, as a controller that stops does.
	start := func(command []string, timeout time.Duration) cluster.TaskResult {
		t.Helper()
		ctx, stop := context.WithCancel(context.Background())
		done := make(chan error, 1)
		var res cluster.TaskResult
		go func() {
			var err error
			res, err = c.RunTask(ctx, app, command, timeout, nil)
			done <- err
		}()
		n := len(taskContainers(c, app))
		testenv.Eventually(t, 30*time.Second, "the task container runs", func() bool { return len(taskContainers(c, app)) > n })
		stop()
		err := <-done
		if cluster.ErrorCode(err) != cluster.EUNAVAILABLE || !strings.Contains(cluster.ErrorMessage(err), "runs on") || !res.Started {
			t.Fatalf("RunTask whose wait ended = %+v, %v; want EUNAVAILABLE saying the task runs on", res, err)
		}
		if e, ok := err.(*cluster.Error); !ok || e.Fix == nil || e.Fix.Op != cluster.OpTasks {
			t.Fatalf("the error %v names no way to look the task up", err)
		}
		return res
	}
	finishes := start([]string{"sleep", "1h"}, time.Hour)
	// Its deadline must not pass before start has seen its container and
	// ended the wait (a loaded machine polls late): the passes below wait
	// for it.
	overruns := start([]string{"sleep", "1h"}, 3*time.Second)
	vanishes := start([]string{"sleep", "1h"}, time.Hour)

	other := scheduler.New(c.DB, c.Engines, scheduler.Config{Controller: c.DB.ControllerID()})
	defer other.Close()
	r := scheduler.NewReconciler(other, scheduler.ReconcilerConfig{Interval: time.Hour, Grace: time.Minute})
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	r.Pass(ctx)
	for _, res := range []cluster.TaskResult{finishes, vanishes} {
		if !slices.ContainsFunc(taskContainers(c, app), func(ct cluster.Container) bool { return ct.ID == res.Container && ct.Running }) {
			t.Fatalf("task %s, within its deadline, does not run on after a pass of the next controller", res.Task)
		}
	}
	record := func(res cluster.TaskResult) *cluster.Task {
		t.Helper()
		rec, err := c.DB.Task(app, res.Task)
		if err != nil {
			t.Fatal(err)
		}
		return rec
	}
	if rec := record(finishes); rec.State != cluster.TaskRunning {
		t.Fatalf("the task that runs on is recorded %+v; want running", rec)
	}

	if err := c.Engines.Exit(finishes.Container, 7, "migrated 3 of 4", "migration 4 failed"); err != nil {
		t.Fatal(err)
	}
	if err := c.Engines.Stop(ctx, vanishes.Host, vanishes.Container, 0); err != nil {
		t.Fatal(err)
	}
	testenv.Eventually(t, 30*time.Second, "the next controller records every end", func() bool {
		r.Pass(ctx)
		return record(finishes).State != cluster.TaskRunning && record(overruns).State != cluster.TaskRunning && record(vanishes).State != cluster.TaskRunning
	})
	if rec := record(finishes); rec.State != cluster.TaskFailed || rec.ExitCode == nil || *rec.ExitCode != 7 || rec.TimedOut || strings.Join(rec.Output, "|") != "migrated 3 of 4|migration 4 failed" {
		t.Errorf("the task that ran to its end = %+v; want failed with its exit code 7 and its output", rec)
	}
	if rec := record(overruns); rec.State != cluster.TaskFailed || !rec.TimedOut || rec.ExitCode == nil || *rec.ExitCode != 137 {
		t.Errorf("the task past its deadline = %+v; want failed, timed out, 137", rec)
	}
	if rec := record(vanishes); rec.State != cluster.TaskLost || !strings.Contains(rec.Error, "gone") || rec.ExitCode != nil {
		t.Errorf("the task whose container vanished = %+v; want lost, saying its container is gone", rec)
	}
	if left := taskContainers(c, app); len(left) != 0 {
		t.Errorf("task containers left once their ends were recorded: %+v", left)
	}
	if n := len(c.Running(app)); n != 1 {
		t.Errorf("%d running containers; want the app's one instance", n)
	}
}

// Recording a task's end takes no app lock: a task that no one follows is
// killed at its deadline and recorded while an operation holds its app.
func TestFakeTaskEndedWhileItsAppIsBusy(t *testing.T) {
	t.Parallel()
	c, app := mustOpenFakeApp(t, "task-busy.example.com", 1)
	ctx, stop := context.WithCancel(context.Background())
	done := make(chan cluster.TaskResult, 1)
	go func() {
		// A deadline the wait below sees the container well before.
		res, _ := c.RunTask(ctx, app, []string{"sleep", "1h"}, 3*time.Second, nil)
		done <- res
	}()
	testenv.Eventually(t, 30*time.Second, "the task container runs", func() bool { return len(taskContainers(c, app)) == 1 })
	stop()
	res := <-done
	busy := sendEnv(c, app, "A", "1", true)
	busy.await(t, busy.atRev, "reach its revision step")
	defer func() { close(busy.released); busy.await(t, busy.done, "answer") }()

	r := scheduler.NewReconciler(c.Scheduler, scheduler.ReconcilerConfig{Interval: time.Hour, Grace: time.Minute})
	pctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	testenv.Eventually(t, 30*time.Second, "the task past its deadline recorded while its app is busy", func() bool {
		r.Pass(pctx)
		rec, err := c.DB.Task(app, res.Task)
		return err == nil && rec.TimedOut
	})
	if !c.Busy(app) {
		t.Fatal("the app was let go before the task was recorded: the test did not test a busy app")
	}
	if left := taskContainers(c, app); len(left) != 0 {
		t.Errorf("the task's container is left: %+v", left)
	}
}

// A release command's task is recorded as the release, with its output; a
// task that no host can take is not recorded.
func TestFakeTaskRecords(t *testing.T) {
	t.Parallel()
	c := MustOpenFakeCluster(t, scheduler.Config{})
	app := c.App(t, "task-records.example.com")
	if _, err := c.Deploy(context.Background(), app, cluster.DeployRequest{Image: goodImage, Count: 1,
		HealthCheck: cluster.HealthCheck{Timeout: cluster.Duration(2 * time.Second)}, Release: []string{"echo", "migrated"}}, nil); err != nil {
		t.Fatal(err)
	}
	tasks, _ := c.DB.Tasks(app)
	if len(tasks) != 1 || !tasks[0].Release || tasks[0].State != cluster.TaskSucceeded || strings.Join(tasks[0].Output, "|") != "migrated" {
		t.Fatalf("tasks after a deploy with a release command = %+v; want the release, succeeded, with its output", tasks)
	}
	for _, h := range fakeHosts {
		c.Engines.SetDown(h, true)
		defer c.Engines.SetDown(h, false)
	}
	if _, err := c.RunTask(context.Background(), app, []string{"echo", "hi"}, time.Minute, nil); err == nil {
		t.Fatal("a task with every host down ran")
	}
	if tasks, _ := c.DB.Tasks(app); len(tasks) != 1 {
		t.Fatalf("a task placed on no host was recorded: %+v", tasks)
	}
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
