//go:build integration

package scheduler_test

import (
	"context"
	"net"
	"testing"
	"time"

	"github.com/longshoreman/longshoreman/cluster"
	"github.com/longshoreman/longshoreman/internal/testenv"
)

// A host is removed while a deploy is placing an instance on it: the
// removal waits for the deploy, then drains what it put there, so nothing
// stays routed on the host and none of its containers keeps running.
func TestRemoveHostRacingDeploy(t *testing.T) {
	t.Parallel()
	c := MustOpenCluster(t)
	x := c.Hosts[0]
	app := c.App(t, "drainrace", "SLOW_START=1s")
	c.MustDeploy(t, app, testenv.Image(t, "1"), 2)

	startedOnX := make(chan struct{}, 8)
	deployed := make(chan error, 1)
	go func() {
		_, err := c.Deploy(context.Background(), app, cluster.DeployRequest{Image: testenv.Image(t, "2"), Count: 3}, func(p cluster.Progress) {
			if p.Step == "started" && p.Host == x {
				startedOnX <- struct{}{}
			}
		})
		deployed <- err
	}()
	select {
	case <-startedOnX:
	case err := <-deployed:
		t.Fatalf("the deploy ended (%v) before it started an instance on %s", err, x)
	case <-time.After(2 * time.Minute):
		t.Fatalf("no instance started on %s", x)
	}
	if err := c.RemoveHost(context.Background(), x, false); err != nil {
		t.Fatalf("removing %s during a deploy: %v", x, err)
	}
	if err := <-deployed; err != nil {
		t.Fatalf("the deploy: %v", err)
	}
	if ok, _ := c.DB.HasHost(x); ok {
		t.Fatalf("%s still in the cluster", x)
	}
	insts, _ := c.DB.Instances(app)
	for _, i := range insts {
		if i.Host == x {
			t.Errorf("instance left on the removed host: %+v", i)
		}
	}
	for _, addr := range c.Routed(t, app) {
		if h, _, _ := net.SplitHostPort(addr); h == x {
			t.Errorf("%s routed after %s was removed", addr, x)
		}
	}
	list, err := c.Engines.List(context.Background(), x)
	if err != nil {
		t.Fatal(err)
	}
	for _, ct := range list {
		if ct.App == app && ct.Running {
			t.Errorf("container %s of %s still running on the removed host", ct.ID[:12], app)
		}
	}
	if len(insts) != 3 {
		t.Errorf("%d instances after the deploy and the drain, want 3", len(insts))
	}
	mustAnswer(t, c.Routed(t, app), "/", "version=2")
}

// Deploys after the host began draining never place on it.
func TestDrainingHostTakesNoInstances(t *testing.T) {
	t.Parallel()
	c := MustOpenCluster(t)
	x := c.Hosts[1]
	if err := c.DB.SetDraining(x, true); err != nil {
		t.Fatal(err)
	}
	app := c.App(t, "draining")
	c.MustDeploy(t, app, testenv.Image(t, "1"), 3)
	insts, _ := c.DB.Instances(app)
	for _, i := range insts {
		if i.Host == x {
			t.Fatalf("instance placed on draining host %s: %+v", x, i)
		}
	}
	hosts, _ := c.DB.Hosts()
	for _, h := range hosts {
		if h.Addr == x && !h.Draining {
			t.Fatalf("draining flag not stored: %+v", h)
		}
	}
}
