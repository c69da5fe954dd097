package scheduler_test

import (
	"context"
	"testing"
	"time"

	"github.com/longshoreman/longshoreman/cluster"
	"github.com/longshoreman/longshoreman/scheduler"
)

func TestFakeContainerViewsFollowEvents(t *testing.T) {
	c := MustOpenFakeCluster(t, scheduler.Config{})
	counted := &listCounting{Engines: c.Engines, lists: map[string]int{}}
	s := scheduler.New(c.DB, counted, scheduler.Config{Controller: c.DB.ControllerID(), Drain: 10 * time.Millisecond})
	t.Cleanup(s.Close)
	app := c.App(t, "views.example.com")
	res, err := s.Deploy(context.Background(), app, cluster.DeployRequest{Image: goodImage, Count: 2,
		HealthCheck: cluster.HealthCheck{Timeout: cluster.Duration(2 * time.Second)}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	checkViews(t, s, counted, c.DB, func(app string) []string { return c.Routed(t, app) }, app, res.Revision, fakeHosts[0], viewWorld{
		behind: func(tb testing.TB, app string, rev int, host string) string {
			ct, err := c.Engines.Run(context.Background(), cluster.ContainerSpec{App: app, Revision: rev, Host: host,
				Controller: c.DB.ControllerID(), Image: goodImage, Port: 3000})
			if err != nil {
				tb.Fatal(err)
			}
			return ct.ID
		},
		kill: func(tb testing.TB, id string) {
			if err := c.Engines.Kill(id); err != nil {
				tb.Fatal(err)
			}
		},
		exists: func(host, id string) bool {
			for _, ct := range c.Engines.Containers(host) {
				if ct.ID == id {
					return true
				}
			}
			return false
		},
	})
}
