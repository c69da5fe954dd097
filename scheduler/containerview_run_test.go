//go:build integration

package scheduler_test

import (
	"context"
	"strconv"
	"testing"
	"time"

	"github.com/longshoreman/longshoreman/cluster"
	"github.com/longshoreman/longshoreman/internal/testenv"
	"github.com/longshoreman/longshoreman/scheduler"
)

// The same against the real dockerd: `docker run` with the controller's
// labels and `docker kill`.
func TestContainerViewsFollowDockerEvents(t *testing.T) {
	t.Parallel()
	c := MustOpenCluster(t)
	counted := &listCounting{Engines: c.Engines, lists: map[string]int{}}
	s := scheduler.New(c.DB, counted, scheduler.Config{Controller: c.DB.ControllerID(), Drain: 300 * time.Millisecond, StopTimeout: 2 * time.Second})
	t.Cleanup(s.Close)
	app := c.App(t, "views")
	image := testenv.Image(t, "1")
	res, err := s.Deploy(context.Background(), app, cluster.DeployRequest{Image: image, Count: 2}, nil)
	if err != nil {
		t.Fatal(err)
	}
	host := c.Hosts[0]
	checkViews(t, s, counted, c.DB, func(app string) []string { return c.Routed(t, app) }, app, res.Revision, host, viewWorld{
		behind: func(tb testing.TB, app string, rev int, host string) string {
			return testenv.Docker(tb, "run", "-d",
				"--label", cluster.LabelApp+"="+app, "--label", cluster.LabelRevision+"="+strconv.Itoa(rev),
				"--label", cluster.LabelHost+"="+host, "--label", cluster.LabelController+"="+c.DB.ControllerID(),
				"-p", host+"::3000", image)
		},
		kill: func(tb testing.TB, id string) { testenv.Docker(tb, "kill", id) },
		exists: func(host, id string) bool {
			_, err := testenv.DockerErr(t, "inspect", id)
			return err == nil
		},
	})
}

// A container on a host added a moment ago dies: its event stream is
// already open, so the instance leaves the table at once. The reconcile
// interval is a minute, so only the event can explain a prompt unroute.
func TestNewHostsEventsAreWatchedAtOnce(t *testing.T) {
	t.Parallel()
	c := MustOpenCluster(t)
	host := c.Hosts[2]
	if err := c.DB.RemoveHost(host); err != nil {
		t.Fatal(err)
	}
	app := c.App(t, "newhost")
	c.MustDeploy(t, app, testenv.Image(t, "1"), 1)

	r := runReconciler(t, c.Scheduler, scheduler.ReconcilerConfig{Interval: time.Minute, Grace: time.Minute})
	testenv.Eventually(t, 30*time.Second, "the first pass", func() bool { _, n := r.LastPass(); return n >= 1 })

	if err := c.AddHost(context.Background(), host); err != nil {
		t.Fatal(err)
	}
	a, _ := c.DB.App(app)
	ct, err := c.Engines.Run(context.Background(), cluster.ContainerSpec{
		App: app, Revision: a.Revision, Host: host, Controller: c.DB.ControllerID(), Image: a.Image, Port: 3000,
	})
	if err != nil {
		t.Fatal(err)
	}
	inst := cluster.Instance{ID: ct.ID, App: app, Revision: a.Revision, Host: host, Port: ct.Port, Routed: true, Started: time.Now().UTC()}
	if err := c.DB.PutInstance(inst); err != nil {
		t.Fatal(err)
	}
	if !contains(c.Routed(t, app), inst.Addr()) {
		t.Fatalf("%s not routed after recording it", inst.Addr())
	}
	testenv.Docker(t, "kill", ct.ID)
	took := testenv.Eventually(t, 20*time.Second, "the dead instance on the new host unrouted", func() bool {
		return !contains(c.Routed(t, app), inst.Addr())
	})
	t.Logf("unrouted %s after the kill", took.Round(time.Millisecond))
}
