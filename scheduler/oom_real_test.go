//go:build integration

package scheduler_test

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"testing"
	"time"

	"github.com/longshoreman/longshoreman/cluster"
	"github.com/longshoreman/longshoreman/internal/testenv"
	"github.com/longshoreman/longshoreman/scheduler"
)

// TestKilledForMemoryEmitsAnEvent runs the reconciler over the real hosts
// with an Events hook: an instance limited to 64m that allocates 200 MiB
// is reported once as an instance "oom" event, counted on its revision,
// and replaced by a routed instance with the same limit.
func TestKilledForMemoryEmitsAnEvent(t *testing.T) {
	t.Parallel()
	c := MustOpenCluster(t)
	var events eventLog
	s := scheduler.New(c.DB, c.Engines, scheduler.Config{
		Controller: c.DB.ControllerID(), Drain: 300 * time.Millisecond, StopTimeout: 2 * time.Second,
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil)),
		Events: events.add,
	})
	app := c.App(t, "oomevent")
	res, err := s.Deploy(context.Background(), app, cluster.DeployRequest{Image: testenv.Image(t, "1"), Count: 2, Memory: 64 << 20}, nil)
	if err != nil {
		t.Fatal(err)
	}
	runReconciler(t, s, scheduler.ReconcilerConfig{Interval: 500 * time.Millisecond, Grace: time.Minute})

	victim := res.Instances[0]
	// The event names the instance by its address, or, when a pass saw
	// the container dead and replaced it before Docker's oom event came
	// (a loaded daemon's events lag), by its host and container, the
	// record being gone (see killedForMemory).
	var victimByContainer string
	insts, err := c.DB.Instances(app)
	if err != nil {
		t.Fatal(err)
	}
	for _, inst := range insts {
		if inst.Addr() == victim {
			victimByContainer = inst.Host + " (container " + inst.ID[:12] + ")"
		}
	}
	if victimByContainer == "" {
		t.Fatalf("no instance record for %s among %+v", victim, insts)
	}
	client := &http.Client{Timeout: 30 * time.Second}
	if resp, err := client.Post("http://"+victim+"/alloc?mb=200", "text/plain", nil); err == nil {
		resp.Body.Close()
		if resp.StatusCode == http.StatusNotFound {
			t.Fatalf("POST /alloc = 404: the test image lacks the endpoint (build it from testapp/)")
		}
	}
	oom := func() []cluster.Event {
		// The app's: the hosts are shared with the other tests' containers.
		return events.where(func(e cluster.Event) bool { return e.Type == cluster.EventInstance && e.Step == "oom" && e.App == app })
	}
	testenv.Eventually(t, 60*time.Second, "an oom event", func() bool { return len(oom()) > 0 })
	testenv.Eventually(t, 60*time.Second, "the killed instance replaced", func() bool {
		now := c.Routed(t, app)
		return len(now) == 2 && !contains(now, victim)
	})
	got := oom()
	if len(got) != 1 || got[0].App != app || (got[0].Instance != victim && got[0].Instance != victimByContainer) || got[0].Revision != res.Revision || got[0].Time.IsZero() {
		t.Fatalf("oom events = %+v, want one for %s (or %s) of revision %d", got, victim, victimByContainer, res.Revision)
	}
	rev, err := c.DB.Revision(app, res.Revision)
	if err != nil || rev.OOMKills != 1 || rev.LastOOM.IsZero() {
		t.Fatalf("revision = %+v, %v; want one kill for memory recorded", rev, err)
	}
	insts, _ = c.DB.Instances(app)
	for _, inst := range insts {
		if inst.Memory != 64<<20 {
			t.Fatalf("instance %s reserves %d, want 64m", inst.Addr(), inst.Memory)
		}
	}
}
