//go:build integration

package scheduler_test

import (
	"context"
	"net/http"
	"testing"
	"time"

	"github.com/longshoreman/longshoreman/cluster"
	"github.com/longshoreman/longshoreman/internal/testenv"
)

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
	Eventually(t, time.Minute, "the repair started a slow container", func() bool { return len(c.Running(t, slow)) == 1 })
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
	took := Eventually(t, 30*time.Second, "the other app's failing instance unrouted", func() bool { return !contains(c.Routed(t, other), sick) })
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
