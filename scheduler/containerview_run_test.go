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
