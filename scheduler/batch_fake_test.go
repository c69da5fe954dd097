package scheduler_test

import (
	"context"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/longshoreman/longshoreman/cluster"
	"github.com/longshoreman/longshoreman/scheduler"
)

// sampleRunning counts the app's running containers every millisecond
// until stop is called, which returns the most seen at once.
func sampleRunning(c *FakeCluster, app string) (stop func() int) {
	var peak atomic.Int64
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() {
		for {
			if n := int64(len(c.Running(app))); n > peak.Load() {
				peak.Store(n)
			}
			select {
			case <-done:
				return
			case <-time.After(time.Millisecond):
			}
		}
	})
	return func() int { close(done); wg.Wait(); return int(peak.Load()) }
}

func revisionsRunning(c *FakeCluster, app string) map[int]int {
	out := map[int]int{}
	for _, ct := range c.Running(app) {
		out[ct.Revision]++
	}
	return out
}

// A deploy with batch 1 replaces a 4-instance app one instance at a time:
// never more than 5 containers, four batches reported, every instance of
// the new revision at the end, routed.
func TestFakeBatchedDeploy(t *testing.T) {
	c, app := mustOpenFakeApp(t, "batch.example.com", 4)

	var st progressLog
	stop := sampleRunning(c, app)
	res, err := c.Deploy(context.Background(), app, cluster.DeployRequest{Image: goodImage2, Batch: 1,
		HealthCheck: cluster.HealthCheck{Timeout: cluster.Duration(2 * time.Second)}}, st.report)
	peak := stop()
	if err != nil {
		t.Fatal(err)
	}
	if peak > 5 {
		t.Errorf("%d containers ran at once; batch 1 of 4 allows 5", peak)
	}
	batches := st.messages("batch")
	if len(batches) != 4 || !strings.HasPrefix(batches[0], "batch 1/4") || !strings.HasPrefix(batches[3], "batch 4/4") {
		t.Errorf("batch steps %q, want batch 1/4 to 4/4", batches)
	}
	if got := revisionsRunning(c, app); got[2] != 4 || len(got) != 1 {
		t.Fatalf("running by revision %v, want 4 of revision 2 only", got)
	}
	if routed := c.Routed(t, app); len(routed) != 4 || strings.Join(routed, ",") != strings.Join(res.Instances, ",") {
		t.Fatalf("routed %v, want the 4 new %v", routed, res.Instances)
	}
	a, _ := c.DB.App(app)
	if a.Revision != res.Revision || a.Count != 4 || a.Batch != 0 {
		t.Fatalf("app after the deploy: revision %d count %d batch %d; want %d, 4, and the deploy's batch not stored", a.Revision, a.Count, a.Batch, res.Revision)
	}
}

// The app's batch setting applies to deploys that do not say, env changes
// and rollbacks alike, and a count change mid-way starts the extra new
// instances at the end.
func TestFakeBatchSettingAndCountChange(t *testing.T) {
	t.Parallel()
	c, app := mustOpenFakeApp(t, "batchsetting.example.com", 2)
	if _, err := c.UpdateSettings(context.Background(), app, func(a *cluster.App) { a.Batch = 1 }); err != nil {
		t.Fatal(err)
	}
	var st progressLog
	stop := sampleRunning(c, app)
	if _, err := c.Deploy(context.Background(), app, cluster.DeployRequest{Image: goodImage2, Count: 3,
		HealthCheck: cluster.HealthCheck{Timeout: cluster.Duration(2 * time.Second)}}, st.report); err != nil {
		t.Fatal(err)
	}
	if peak := stop(); peak > 3 {
		t.Errorf("%d containers at once going from 2 to 3 by 1; want at most 3", peak)
	}
	if got := st.messages("batch"); len(got) != 3 || got[2] != "batch 3/3: starting 1 new, then retiring 0 old" {
		t.Errorf("batch steps %q", got)
	}
	var env progressLog
	if _, err := c.SetEnv(context.Background(), app, "COLOR", "blue", env.report); err != nil {
		t.Fatal(err)
	}
	if got := env.messages("batch"); len(got) != 3 {
		t.Errorf("env change batch steps %q, want 3", got)
	}
	if got := revisionsRunning(c, app); got[3] != 3 || len(got) != 1 {
		t.Fatalf("running by revision %v, want 3 of revision 3", got)
	}
}

// A batch that fails (its new instance dies before it is healthy) is
// removed, the instances the batches before it replaced are put back on
// the old revision, and the revision fails saying which batch: the app
// ends with its 4 old-revision instances routed, as it began.
func TestFakeFailedBatchRestoresOldRevision(t *testing.T) {
	t.Parallel()
	c, app := mustOpenFakeApp(t, "batchfail.example.com", 4)

	st := progressLog{}
	var inBatch3 atomic.Bool
	st.onStep = func(p cluster.Progress) {
		if p.Step == "batch" && strings.HasPrefix(p.Message, "batch 3/4") {
			inBatch3.Store(true)
		}
		if p.Step == "started" && inBatch3.Load() {
			// The container of batch 3's new instance dies before its
			// health check, as a crashing release would.
			for _, ct := range c.Running(app) {
				if ct.Revision == 2 && strings.HasSuffix(p.Instance, ":"+strconv.Itoa(ct.Port)) {
					if err := c.Engines.Kill(ct.ID); err != nil {
						t.Error(err)
					}
				}
			}
		}
	}
	stop := sampleRunning(c, app)
	_, err := c.Deploy(context.Background(), app, cluster.DeployRequest{Image: goodImage2, Batch: 1,
		HealthCheck: cluster.HealthCheck{Timeout: cluster.Duration(2 * time.Second)}}, st.report)
	peak := stop()
	t.Logf("the deploy failed: %v", err)
	if cluster.ErrorCode(err) != cluster.EDEPLOY || !strings.Contains(cluster.ErrorMessage(err), "Batch 3 of 4 failed") ||
		!strings.Contains(cluster.ErrorMessage(err), "put back") {
		t.Fatalf("deploy: %v; want it to fail saying batch 3 of 4 failed and the old revision was put back", err)
	}
	if peak > 5 {
		t.Errorf("%d containers at once; batch 1 of 4 allows 5, restoring included", peak)
	}
	if got := revisionsRunning(c, app); got[1] != 4 || len(got) != 1 {
		t.Fatalf("running by revision %v, want the 4 of revision 1 only", got)
	}
	insts, _ := c.DB.Instances(app)
	if len(insts) != 4 || len(c.Routed(t, app)) != 4 {
		t.Fatalf("%d records, %d routed; want 4 of revision 1, all routed", len(insts), len(c.Routed(t, app)))
	}
	for _, inst := range insts {
		if inst.Revision != 1 {
			t.Fatalf("record of revision %d left: %+v", inst.Revision, inst)
		}
	}
	revs, _ := c.DB.Revisions(app)
	if revs[0].Status != cluster.StatusFailed || !strings.Contains(revs[0].Reason, "Batch 3 of 4 failed") {
		t.Fatalf("revision 2 is %s %q; want failed naming batch 3 of 4", revs[0].Status, revs[0].Reason)
	}
	a, _ := c.DB.App(app)
	if a.Revision != 1 || a.Count != 4 {
		t.Fatalf("app on revision %d with count %d, want revision 1 with 4", a.Revision, a.Count)
	}
	if got := st.messages("batch"); len(got) != 5 || !strings.HasPrefix(got[3], "restoring batch 1/2") {
		t.Errorf("batch steps %q; want 3 of the deploy then 2 restoring", got)
	}

	// A first batch that fails replaced nothing: the old ones keep serving.
	_, err = c.Deploy(context.Background(), app, cluster.DeployRequest{Image: sickImage, Batch: 2,
		HealthCheck: cluster.HealthCheck{Timeout: cluster.Duration(300 * time.Millisecond)}}, nil)
	if !strings.Contains(cluster.ErrorMessage(err), "Batch 1 of 2 failed") || !strings.Contains(cluster.ErrorMessage(err), "Nothing had been replaced") {
		t.Fatalf("deploy of a sick image: %v", err)
	}
	if got := revisionsRunning(c, app); got[1] != 4 || len(got) != 1 {
		t.Fatalf("running by revision %v, want the 4 of revision 1 only", got)
	}
}

// Each app's drain and stop timeout apply to its retirements; an app that
// sets none takes the controller's.
func TestFakePerAppDrain(t *testing.T) {
	t.Parallel()
	c := MustOpenFakeCluster(t, scheduler.Config{Drain: 40 * time.Millisecond})
	app := c.App(t, "drain.example.com")
	c.MustDeploy(t, app, goodImage, 1)
	deploy := func() []string {
		var st progressLog
		if _, err := c.Deploy(context.Background(), app, cluster.DeployRequest{Image: goodImage2}, st.report); err != nil {
			t.Fatal(err)
		}
		return st.messages("draining")
	}
	if got := deploy(); len(got) != 1 || got[0] != "waiting 40ms for routers to switch" {
		t.Fatalf("draining %q; want the controller's 40ms", got)
	}
	d := cluster.Duration(300 * time.Millisecond)
	if _, err := c.UpdateSettings(context.Background(), app, func(a *cluster.App) { a.Drain = &d }); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	if got := deploy(); len(got) != 1 || got[0] != "waiting 300ms for routers to switch" {
		t.Fatalf("draining %q; want the app's 300ms", got)
	}
	if took := time.Since(start); took < 300*time.Millisecond {
		t.Fatalf("the deploy took %s, less than the app's drain", took)
	}
	zero := cluster.Duration(0)
	if _, err := c.UpdateSettings(context.Background(), app, func(a *cluster.App) { a.Drain = &zero }); err != nil {
		t.Fatal(err)
	}
	if got := deploy(); len(got) != 1 || got[0] != "waiting 0s for routers to switch" {
		t.Fatalf("draining %q; want none", got)
	}
}

// Hosts with room for five instances of the app's memory limit cannot take
// a 4-instance deploy all at once (it needs eight); in batches of one it
// goes through, the old instances' memory freed batch by batch.
func TestFakeBatchesFitWhereAllAtOnceCannot(t *testing.T) {
	c := MustOpenFakeCluster(t, scheduler.Config{})
	const m = 1 << 20
	c.Engines.SetFreeMemory(fakeHosts[0], 512*m)
	c.Engines.SetFreeMemory(fakeHosts[1], 512*m)
	c.Engines.SetFreeMemory(fakeHosts[2], 256*m)
	app := c.App(t, "tight.example.com")
	hc := cluster.HealthCheck{Timeout: cluster.Duration(2 * time.Second)}
	if _, err := c.Deploy(context.Background(), app, cluster.DeployRequest{Image: goodImage, Count: 4, Memory: 256 * m, HealthCheck: hc}, nil); err != nil {
		t.Fatal(err)
	}
	_, err := c.Deploy(context.Background(), app, cluster.DeployRequest{Image: goodImage2, HealthCheck: hc}, nil)
	if cluster.ErrorCode(err) != cluster.EUNAVAILABLE || !strings.Contains(cluster.ErrorMessage(err), "Not enough memory") {
		t.Fatalf("deploy all at once: %v; want refused for memory", err)
	}
	stop := sampleRunning(c, app)
	if _, err := c.Deploy(context.Background(), app, cluster.DeployRequest{Image: goodImage2, Batch: 1, HealthCheck: hc}, nil); err != nil {
		t.Fatalf("deploy in batches of 1: %v", err)
	}
	if peak := stop(); peak > 5 {
		t.Errorf("%d containers at once on hosts with room for 5", peak)
	}
	if got := revisionsRunning(c, app); got[3] != 4 || len(got) != 1 {
		t.Fatalf("running by revision %v, want 4 of revision 3", got)
	}
}
