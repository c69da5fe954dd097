package scheduler_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/longshoreman/longshoreman/cluster"
	"github.com/longshoreman/longshoreman/internal/fakedocker"
	"github.com/longshoreman/longshoreman/internal/testenv"
	"github.com/longshoreman/longshoreman/scheduler"
)

// prunedOn returns the hosts of the image pruning events whose message
// contains says.
func prunedOn(events *eventLog, says string) map[string]bool {
	out := map[string]bool{}
	for _, e := range events.where(func(e cluster.Event) bool {
		return e.Type == cluster.EventHost && e.Step == "pruned" && strings.Contains(e.Message, says)
	}) {
		out[e.Host] = true
	}
	return out
}

// hostImagesAre waits until every fake host holds exactly want.
func hostImagesAre(t *testing.T, c *FakeCluster, what string, want ...string) {
	t.Helper()
	testenv.Eventually(t, 30*time.Second, what, func() bool {
		for _, h := range fakeHosts {
			if fmt.Sprint(c.Engines.HostImages(h)) != fmt.Sprint(want) {
				return false
			}
		}
		return true
	})
}

// Five deploys of distinct images with keep 2 over the fake hosts: each
// host keeps the images of the last two revisions only, a host event says
// what went, an exited task container older than a day goes while a
// younger one stays, and a rollback to the first revision pulls its image
// again, says so, and succeeds.
func TestFakeImagePruning(t *testing.T) {
	var pruned eventLog
	c := MustOpenFakeCluster(t, scheduler.Config{KeepImages: 2, Events: pruned.add})
	var images []string
	for i := 1; i <= 5; i++ {
		ref := fmt.Sprintf("registry.example/prune:t%d", i)
		c.Engines.AddImage(ref, fakedocker.Image{})
		images = append(images, ref)
	}
	app := c.App(t, "prune.example.com")
	for _, ref := range images[:4] {
		c.MustDeploy(t, app, ref, len(fakeHosts))
	}
	hostImagesAre(t, c, "the images of revisions 3 and 4 alone on every host", images[2], images[3])
	oldTask := runFakeTask(t, c, app, "old", time.Now().Add(-25*time.Hour))
	youngTask := runFakeTask(t, c, app, "young", time.Now().Add(-time.Hour))

	c.MustDeploy(t, app, images[4], len(fakeHosts))
	hostImagesAre(t, c, "the images of revisions 4 and 5 alone on every host", images[3], images[4])
	testenv.Eventually(t, 30*time.Second, "a host event saying "+images[2]+" was pruned, on every host", func() bool {
		return len(prunedOn(&pruned, images[2])) == len(fakeHosts)
	})
	testenv.Eventually(t, 30*time.Second, "the old task container removed", func() bool {
		left := map[string]bool{}
		for _, ct := range c.Engines.Containers(fakeHosts[0]) {
			left[ct.ID] = true
		}
		return !left[oldTask] && left[youngTask]
	})

	var back progressLog
	res, err := c.Rollback(context.Background(), app, 1, back.report)
	if err != nil {
		t.Fatalf("rollback to revision 1: %v", err)
	}
	if got := back.with("pulling", "pulling it again from registry.example"); len(got) != len(fakeHosts) {
		t.Errorf("the rollback said it pulled %s again on %d hosts, want %d: %+v", images[0], len(got), len(fakeHosts), back.all())
	}
	if len(res.Instances) != len(fakeHosts) {
		t.Errorf("rollback answered %v", res.Instances)
	}
	hostImagesAre(t, c, "the images of revisions 6 (the first again) and 5 alone on every host", images[0], images[4])
	testenv.Eventually(t, 30*time.Second, "the disk use of the two images left read (8 MiB each on a fake host)", func() bool {
		return c.ImageDisk(context.Background())[fakeHosts[0]] == 2*8<<20
	})
	for _, ct := range c.Engines.Containers(fakeHosts[0]) {
		if ct.ID == youngTask {
			return
		}
	}
	t.Errorf("the task container younger than a day was removed")
}

// A host that fails does not fail the deploy whose pruning it fails, and
// the others are pruned.
func TestFakeImagePruningIsBestEffort(t *testing.T) {
	c := MustOpenFakeCluster(t, scheduler.Config{KeepImages: 1})
	app := c.App(t, "prune-down.example.com")
	c.MustDeploy(t, app, goodImage, len(fakeHosts))
	if _, err := c.DB.AddHost("127.0.0.4"); err != nil {
		t.Fatal(err)
	}
	c.Engines.SetDown("127.0.0.4", true)
	c.MustDeploy(t, app, goodImage2, len(fakeHosts))
	hostImagesAre(t, c, "the first image pruned from the hosts that answer", goodImage2)
}

// Pruning holds no app: once a deploy answered, the app is free for the
// next operation and for the reconciler, deploy after deploy.
func TestFakeImagePruningHoldsNoApp(t *testing.T) {
	c := MustOpenFakeCluster(t, scheduler.Config{KeepImages: 1})
	app := c.App(t, "prune-busy.example.com")
	for i := 0; i < 6; i++ {
		c.MustDeploy(t, app, []string{goodImage, goodImage2}[i%2], 1)
		if c.Busy(app) {
			t.Fatalf("the app is held after deploy %d answered", i+1)
		}
	}
}

// runFakeTask runs a one-off task of app to its end on the first fake host
// and dates its container's creation; it returns the container's id.
func runFakeTask(t *testing.T, c *FakeCluster, app, id string, created time.Time) string {
	t.Helper()
	res, err := c.Engines.RunTask(context.Background(), cluster.ContainerSpec{
		App: app, Revision: 1, Host: fakeHosts[0], Controller: c.DB.ControllerID(), Image: goodImage,
		Command: []string{"exit", "0"}, Task: id,
	}, time.Minute, nil)
	if err != nil {
		t.Fatalf("task %s: %v", id, err)
	}
	if err := c.Engines.SetCreated(res.Container, created); err != nil {
		t.Fatal(err)
	}
	return res.Container
}
