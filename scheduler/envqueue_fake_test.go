package scheduler_test

import (
	"context"
	"fmt"
	"maps"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/longshoreman/longshoreman/cluster"
	"github.com/longshoreman/longshoreman/scheduler"
)

// sendEnv sets key=value (unset when value is "-") in its own goroutine
// and returns at once; the call is named "the change of KEY".
func sendEnv(c *FakeCluster, app, key, value string, hold bool) *opCall {
	return sendOp("the change of "+key, hold, func(p cluster.ProgressFunc) (*cluster.DeployResult, error) {
		if value == "-" {
			return c.UnsetEnv(context.Background(), app, key, p)
		}
		return c.SetEnv(context.Background(), app, key, value, p)
	})
}

// Env changes arriving while one runs wait for it, then go out together as
// one revision, applied in arrival order; every request answers with the
// outcome of its batch, and every instance has every env.
func TestFakeEnvChangesMerge(t *testing.T) {
	t.Parallel()
	c, app := mustOpenFakeApp(t, "merge.example.com", 2)
	if _, err := c.SetEnv(context.Background(), app, "OLD", "x", nil); err != nil {
		t.Fatal(err)
	}
	first := sendEnv(c, app, "A", "1", true)
	first.await(t, first.atRev, "reach its revision step")
	// One at a time, so the arrival order is known.
	var queued []*opCall
	for _, kv := range [][2]string{{"B", "1"}, {"B", "2"}, {"OLD", "-"}, {"C", "3"}, {"A", "-"}} {
		call := sendEnv(c, app, kv[0], kv[1], false)
		call.await(t, call.waiting, "report that it waits")
		queued = append(queued, call)
	}
	if deploy, err := c.Deploy(context.Background(), app, cluster.DeployRequest{Image: goodImage2}, nil); cluster.ErrorCode(err) != cluster.ECONFLICT || !strings.Contains(cluster.ErrorMessage(err), "env change") {
		t.Fatalf("deploy during an env change = %+v, %v; want ECONFLICT naming the env change", deploy, err)
	}
	if _, err := c.Scale(context.Background(), app, 3, nil); cluster.ErrorCode(err) != cluster.ECONFLICT {
		t.Fatalf("scale during an env change: %v, want ECONFLICT", err)
	}
	close(first.released)
	first.await(t, first.done, "answer")
	if first.err != nil || first.res.Revision != 3 {
		t.Fatalf("first change = %+v, %v; want revision 3", first.res, first.err)
	}
	for _, call := range queued {
		call.await(t, call.done, "answer")
		if call.err != nil || call.res.Revision != 4 || len(call.res.Instances) != 2 {
			t.Fatalf("queued %s = %+v, %v; want revision 4 with 2 instances", call.name, call.res, call.err)
		}
		if steps := call.stepNames(); !strings.HasPrefix(steps, "waiting revision") || !strings.Contains(steps, "routed") {
			t.Errorf("queued %s reported %s; want waiting, then the steps of revision 4", call.name, steps)
		}
	}
	revs, _ := c.DB.Revisions(app)
	if len(revs) != 4 {
		t.Fatalf("%d revisions, want 4 (deploy, OLD, A, then one for the five queued)", len(revs))
	}
	want := []string{"B=2", "C=3"}
	if got := revs[0].Envs; strings.Join(got, ",") != strings.Join(want, ",") || revs[0].Status != cluster.StatusSucceeded {
		t.Fatalf("revision 4 has envs %v (%s), want %v", got, revs[0].Status, want)
	}
	if a, _ := c.DB.App(app); !maps.Equal(a.Envs, map[string]string{"B": "2", "C": "3"}) {
		t.Fatalf("app envs %v", a.Envs)
	}
	for _, ct := range c.Running(app) {
		if ct.Revision != 4 {
			t.Errorf("container %s runs revision %d, want 4", ct.ID, ct.Revision)
		}
	}
	if c.Busy(app) {
		t.Fatal("the app is still held after every env change answered")
	}
	if _, err := c.Deploy(context.Background(), app, cluster.DeployRequest{Image: goodImage2}, nil); err != nil {
		t.Fatalf("deploy after the env changes: %v", err)
	}
}

// Changes sent together, as the CLI sends `envs:set A=1 B=2 ...`, make one
// revision (two when they straddle the first one's start), not one each.
func TestFakeEnvChangesSentTogether(t *testing.T) {
	t.Parallel()
	c, app := mustOpenFakeApp(t, "together.example.com", 2)
	const n = 5
	var wg sync.WaitGroup
	results := make([]*cluster.DeployResult, n)
	errs := make([]error, n)
	for i := range n {
		wg.Go(func() {
			results[i], errs[i] = c.SetEnv(context.Background(), app, fmt.Sprintf("K%d", i), fmt.Sprint(i), nil)
		})
	}
	wg.Wait()
	for i := range n {
		if errs[i] != nil {
			t.Fatalf("change %d: %v", i, errs[i])
		}
	}
	revs, _ := c.DB.Revisions(app)
	if len(revs) > 3 {
		t.Fatalf("%d revisions after the deploy, want 1 or 2", len(revs)-1)
	}
	a, _ := c.DB.App(app)
	if len(a.Envs) != n || results[0].Revision > a.Revision {
		t.Fatalf("envs %v at revision %d, results %+v", a.Envs, a.Revision, results)
	}
	for _, ct := range c.Running(app) {
		if ct.Revision != a.Revision {
			t.Errorf("container %s runs revision %d, want %d", ct.ID, ct.Revision, a.Revision)
		}
	}
}

// A change that waits longer than EnvWait for the running one leaves the
// queue unapplied with ECONFLICT naming what holds the app; the others of
// its batch are still applied.
func TestFakeEnvWaitIsBounded(t *testing.T) {
	t.Parallel()
	var events eventLog
	c := MustOpenFakeCluster(t, scheduler.Config{EnvWait: 300 * time.Millisecond, Events: events.add})
	app := c.App(t, "bounded.example.com")
	c.MustDeploy(t, app, goodImage, 2)
	first := sendEnv(c, app, "A", "1", true)
	first.await(t, first.atRev, "reach its revision step")
	late := sendEnv(c, app, "LATE", "1", false)
	late.await(t, late.done, "answer")
	msg := cluster.ErrorMessage(late.err)
	if cluster.ErrorCode(late.err) != cluster.ECONFLICT || !strings.Contains(msg, "revision 2") || !strings.Contains(msg, "LATE was not changed") {
		t.Fatalf("a change that waited too long = %+v, %v; want ECONFLICT naming revision 2 and LATE", late.res, late.err)
	}
	waited := events.where(func(e cluster.Event) bool {
		return e.Type == cluster.EventDeploy && e.Step == "waiting" && e.App == app && e.Revision == 2 && strings.Contains(e.Message, "LATE")
	})
	if len(waited) == 0 {
		t.Errorf("events %+v lack the wait of LATE for revision 2", events.all())
	}
	close(first.released)
	first.await(t, first.done, "answer")
	if first.err != nil {
		t.Fatal(first.err)
	}
	revs, _ := c.DB.Revisions(app)
	a, _ := c.DB.App(app)
	if len(revs) != 2 || a.Envs["LATE"] != "" || a.Envs["A"] != "1" {
		t.Fatalf("%d revisions, envs %v; want 2 and only A", len(revs), a.Envs)
	}
}

// A failed batch answers every request in it with the reason and leaves
// the envs as they were; the batch after it applies its own changes to
// those.
func TestFakeEnvBatchFailure(t *testing.T) {
	t.Parallel()
	c := MustOpenFakeCluster(t, scheduler.Config{})
	app := c.App(t, "failure.example.com")
	first := c.MustDeploy(t, app, goodImage, 2)
	// The next revision runs an image whose health checks fail.
	if _, err := c.DB.UpdateApp(app, func(a *cluster.App) error {
		a.Image = sickImage
		a.HealthCheck.Timeout = cluster.Duration(500 * time.Millisecond)
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	failing := sendEnv(c, app, "A", "1", true)
	failing.await(t, failing.atRev, "reach its revision step")
	var second []*opCall
	for _, k := range []string{"B", "C"} {
		call := sendEnv(c, app, k, "1", false)
		call.await(t, call.waiting, "report that it waits")
		second = append(second, call)
	}
	// The revision of the running batch is taken; the next one runs the
	// good image again.
	if _, err := c.DB.UpdateApp(app, func(a *cluster.App) error { a.Image = goodImage; return nil }); err != nil {
		t.Fatal(err)
	}
	close(failing.released)
	failing.await(t, failing.done, "answer")
	if cluster.ErrorCode(failing.err) != cluster.EDEPLOY || !strings.Contains(cluster.ErrorMessage(failing.err), "answered 500") {
		t.Fatalf("the failing batch answered %+v, %v; want EDEPLOY saying answered 500", failing.res, failing.err)
	}
	for _, call := range second {
		call.await(t, call.done, "answer")
		if call.err != nil || call.res.Revision != 3 {
			t.Fatalf("%s after the failed batch = %+v, %v; want revision 3", call.name, call.res, call.err)
		}
	}
	a, _ := c.DB.App(app)
	if !maps.Equal(a.Envs, map[string]string{"B": "1", "C": "1"}) {
		t.Fatalf("envs %v, want B and C only: A's revision failed", a.Envs)
	}
	revs, _ := c.DB.Revisions(app)
	if len(revs) != 3 || revs[1].Status != cluster.StatusFailed || revs[0].Status != cluster.StatusSucceeded {
		t.Fatalf("revisions %+v", revs)
	}
	if got := c.Routed(t, app); len(got) != 2 || strings.Join(got, ",") == strings.Join(first.Instances, ",") {
		t.Fatalf("routed %v, want 2 instances of revision 3", got)
	}

	// Every request of a failing batch gets the reason.
	if _, err := c.DB.UpdateApp(app, func(a *cluster.App) error { a.Image = sickImage; return nil }); err != nil {
		t.Fatal(err)
	}
	holder := sendEnv(c, app, "D", "1", true)
	holder.await(t, holder.atRev, "reach its revision step")
	var batch []*opCall
	for _, k := range []string{"E", "F"} {
		call := sendEnv(c, app, k, "1", false)
		call.await(t, call.waiting, "report that it waits")
		batch = append(batch, call)
	}
	close(holder.released)
	for _, call := range append(batch, holder) {
		call.await(t, call.done, "answer")
		if cluster.ErrorCode(call.err) != cluster.EDEPLOY {
			t.Fatalf("%s in a failing batch = %+v, %v; want EDEPLOY", call.name, call.res, call.err)
		}
	}
	if a, _ := c.DB.App(app); !maps.Equal(a.Envs, map[string]string{"B": "1", "C": "1"}) {
		t.Fatalf("envs %v after two failed revisions, want B and C", a.Envs)
	}
}

// Env changes wait only for env changes: during a deploy they keep their 409.
func TestFakeEnvChangeDuringDeployConflicts(t *testing.T) {
	c, app := mustOpenFakeApp(t, "deploying.example.com", 2)
	reached, release := make(chan struct{}), make(chan struct{})
	var once sync.Once
	deployed := make(chan error, 1)
	go func() {
		_, err := c.Deploy(context.Background(), app, cluster.DeployRequest{Image: goodImage2}, func(p cluster.Progress) {
			once.Do(func() { close(reached); <-release })
		})
		deployed <- err
	}()
	<-reached
	_, err := c.SetEnv(context.Background(), app, "A", "1", nil)
	close(release)
	if cluster.ErrorCode(err) != cluster.ECONFLICT || !strings.Contains(cluster.ErrorMessage(err), "A deploy of") {
		t.Fatalf("env change during a deploy: %v, want ECONFLICT naming the deploy", err)
	}
	if err := <-deployed; err != nil {
		t.Fatal(err)
	}
}

// On an app without instances every change is stored at once, however
// many arrive together, and no revision is made.
func TestFakeEnvChangesWithoutInstances(t *testing.T) {
	c := MustOpenFakeCluster(t, scheduler.Config{})
	for _, tc := range []struct {
		name  string
		setup func(app string)
	}{
		{"never deployed", func(string) {}},
		{"killed", func(app string) {
			c.MustDeploy(t, app, goodImage, 2)
			if err := c.Kill(context.Background(), app); err != nil {
				t.Fatal(err)
			}
		}},
	} {
		app := c.App(t, strings.ReplaceAll(tc.name, " ", "")+".example.com")
		tc.setup(app)
		before, _ := c.DB.Revisions(app)
		const n = 20
		var wg sync.WaitGroup
		errs := make([]error, n)
		var st progressLog
		for i := range n {
			wg.Go(func() {
				_, errs[i] = c.SetEnv(context.Background(), app, fmt.Sprintf("K%d", i), "v", st.report)
			})
		}
		wg.Wait()
		if steps := st.steps(); len(steps) != 0 {
			t.Errorf("%s: changes that are only stored reported %v", tc.name, steps)
		}
		for i, err := range errs {
			if err != nil {
				t.Fatalf("%s: change %d: %v", tc.name, i, err)
			}
		}
		a, _ := c.DB.App(app)
		after, _ := c.DB.Revisions(app)
		if len(a.Envs) != n || len(after) != len(before) {
			t.Fatalf("%s: %d envs stored, %d revisions after %d; want %d envs and no new revision", tc.name, len(a.Envs), len(after), len(before), n)
		}
		if c.Busy(app) {
			t.Fatalf("%s: the app is still held", tc.name)
		}
	}
}
