package scheduler_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/longshoreman/longshoreman/cluster"
	"github.com/longshoreman/longshoreman/scheduler"
)

// deployPinned deploys image to app with the volume data:/data pinned to
// hosts, calling step (when not nil) with each progress step.
func (c *FakeCluster) deployPinned(tb testing.TB, app, image string, hosts []string, step func(cluster.Progress)) *cluster.DeployResult {
	tb.Helper()
	res, err := c.Deploy(context.Background(), app, cluster.DeployRequest{Image: image, Volumes: []string{"data:/data"}, Hosts: hosts,
		HealthCheck: cluster.HealthCheck{Timeout: cluster.Duration(2 * time.Second)}}, step)
	if err != nil {
		tb.Fatalf("deploy %s of %s pinned to %v: %v", image, app, hosts, err)
	}
	return res
}

// An app with volumes runs once on each pinned host, mounts its named
// volumes, and is redeployed stop-first: when a new instance starts, no
// instance of the app runs on its host, and the routing table holds the
// app; once the deploy is done it holds it no more.
func TestFakeStopFirstDeploy(t *testing.T) {
	c := MustOpenFakeCluster(t, scheduler.Config{})
	app := c.App(t, "volume.example.com")
	pinned := []string{fakeHosts[1], fakeHosts[2]}
	c.deployPinned(t, app, goodImage, pinned, nil)
	running := c.Running(app)
	if len(running) != 2 || running[0].Host == running[1].Host {
		t.Fatalf("running %+v, want one instance on each of %v", running, pinned)
	}
	starts := 0
	c.deployPinned(t, app, goodImage2, pinned, func(p cluster.Progress) {
		if p.Step != "starting" {
			return
		}
		starts++
		for _, ct := range c.Running(app) {
			if ct.Host == p.Host {
				t.Errorf("a new instance starts on %s while %s (revision %d) still runs there", p.Host, ct.ID[:12], ct.Revision)
			}
		}
		if table, err := c.DB.RoutingTable(); err != nil || table.Held[app] <= 0 {
			t.Errorf("while replacing, the table holds %v (%v), want %s held", table.Held, err, app)
		}
	})
	if starts != 2 {
		t.Fatalf("%d starts, want one per pinned host", starts)
	}
	for _, ct := range c.Running(app) {
		if ct.Image != goodImage2 || ct.Host == fakeHosts[0] {
			t.Fatalf("after the deploy %+v runs; want %s on the pinned hosts only", ct, goodImage2)
		}
	}
	if table, _ := c.DB.RoutingTable(); len(table.Held) != 0 || len(table.Routes[app]) != 2 {
		t.Fatalf("after the deploy the table holds %v and routes %v; want nothing held and 2 routes", table.Held, table.Routes[app])
	}
	a, _ := c.DB.App(app)
	if a.Holding || len(a.Volumes) != 1 || len(a.Hosts) != 2 {
		t.Fatalf("app after the deploy: holding %v volumes %v hosts %v", a.Holding, a.Volumes, a.Hosts)
	}
}

// Deploys with volumes refuse what cannot be: no pinned host, an unknown
// host, more instances than pinned hosts.
func TestFakePinnedDeployRefused(t *testing.T) {
	c := MustOpenFakeCluster(t, scheduler.Config{})
	app := c.App(t, "refused.example.com")
	for _, tc := range []struct {
		req  cluster.DeployRequest
		says string
	}{
		{cluster.DeployRequest{Image: goodImage, Volumes: []string{"data:/data"}}, "must be pinned"},
		{cluster.DeployRequest{Image: goodImage, Volumes: []string{"data:/data"}, Hosts: []string{"10.9.9.9"}}, "is not in the cluster"},
		{cluster.DeployRequest{Image: goodImage, Volumes: []string{"data:/data"}, Hosts: []string{fakeHosts[0]}, Count: 2}, "one instance per pinned host"},
	} {
		_, err := c.Deploy(context.Background(), app, tc.req, nil)
		if cluster.ErrorCode(err) != cluster.EINVALID || !strings.Contains(cluster.ErrorMessage(err), tc.says) {
			t.Errorf("deploy %+v: %v, want invalid saying %q", tc.req, err, tc.says)
		}
	}
	if len(c.Running(app)) != 0 {
		t.Fatal("a refused deploy started something")
	}
}

// Removing a pinned host is refused, naming the apps and their volumes,
// unless forced: then the app's instance there stops and is not moved.
func TestFakeRemovePinnedHost(t *testing.T) {
	c := MustOpenFakeCluster(t, scheduler.Config{})
	app := c.App(t, "pinned.example.com")
	free := c.App(t, "free.example.com")
	x := fakeHosts[0]
	c.deployPinned(t, app, goodImage, []string{x}, nil)
	c.MustDeploy(t, free, goodImage, 3)
	err := c.RemoveHost(context.Background(), x, false)
	if cluster.ErrorCode(err) != cluster.ECONFLICT || !fixes(err, cluster.OpRemoveHost, cluster.ArgForce) ||
		!strings.Contains(cluster.ErrorMessage(err), app+" (volumes data:/data)") {
		t.Fatalf("removing the pinned host: %v, want a conflict naming %s and its volume, pointing at --force", err, app)
	}
	if ok, _ := c.DB.HasHost(x); !ok || len(c.Running(app)) != 1 || len(c.Running(free)) != 3 {
		t.Fatal("the refused removal changed something")
	}
	if h, _ := c.DB.Hosts(); len(h) != 3 || h[0].Draining || h[1].Draining || h[2].Draining {
		t.Fatalf("hosts after the refusal: %+v, want none draining", h)
	}
	if err := c.RemoveHost(context.Background(), x, true); err != nil {
		t.Fatalf("forced removal: %v", err)
	}
	if n := len(c.Running(app)); n != 0 {
		t.Fatalf("%d instances of the pinned app run after its host was removed, want none (not moved)", n)
	}
	if n := len(c.Running(free)); n != 3 {
		t.Fatalf("%d instances of the free app, want 3 moved", n)
	}
}

// A volume is made by the first instance that mounts it and kept by
// redeploys and kills; volumes:rm refuses it while the app runs with it,
// then removes it from its host.
func TestFakeRemoveVolume(t *testing.T) {
	c := MustOpenFakeCluster(t, scheduler.Config{})
	app := c.App(t, "rmvolume.example.com")
	x := fakeHosts[1]
	volume := cluster.VolumeName(app, "data")
	c.deployPinned(t, app, goodImage, []string{x}, nil)
	c.deployPinned(t, app, goodImage2, []string{x}, nil)
	if got := c.Engines.Volumes(x); len(got) != 1 || got[0] != volume {
		t.Fatalf("volumes on %s after two deploys: %v, want %s kept", x, got, volume)
	}
	ctx := context.Background()
	if _, err := c.RemoveVolume(ctx, app, "data"); cluster.ErrorCode(err) != cluster.ECONFLICT || !fixes(err, cluster.OpKill, cluster.ArgApp) {
		t.Fatalf("removing the volume of a running app: %v, want a conflict pointing at kill", err)
	}
	if err := c.Kill(ctx, app); err != nil {
		t.Fatal(err)
	}
	if got := c.Engines.Volumes(x); len(got) != 1 {
		t.Fatalf("a kill removed the volume: %v", got)
	}
	hosts, err := c.RemoveVolume(ctx, app, "data")
	if err != nil || len(hosts) != 1 || hosts[0] != x {
		t.Fatalf("RemoveVolume = %v, %v; want it removed from %s", hosts, err, x)
	}
	if got := c.Engines.Volumes(x); len(got) != 0 {
		t.Fatalf("volumes left on %s: %v", x, got)
	}
	if _, err := c.RemoveVolume(ctx, app, "data"); cluster.ErrorCode(err) != cluster.ENOTFOUND {
		t.Fatalf("removing it again: %v, want not found", err)
	}
}
