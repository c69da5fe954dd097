//go:build integration

package scheduler_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/longshoreman/longshoreman/db"
	"github.com/longshoreman/longshoreman/internal/testenv"
	"github.com/longshoreman/longshoreman/scheduler"
)

// TestImagePruning: five deploys of distinct images (tags of a repository
// of this test's own in the test registry) with keep 2, on one host of the
// shared daemon: the images of the three oldest revisions are gone from
// the daemon, those of the current two remain; a rollback to the oldest
// pulls its image from the registry again, says so, and succeeds.
func TestImagePruning(t *testing.T) {
	t.Parallel()
	repo := fmt.Sprintf("%s/prune-%d", testenv.Registry(t), time.Now().UnixNano())
	refs := pushDistinctImages(t, repo, 5)
	host := testenv.Hosts(t)[0]
	d, err := db.Open(filepath.Join(t.TempDir(), "ls.db"), db.Options{Create: true})
	if err != nil {
		t.Fatal(err)
	}
	c := mustOpenClusterWith(t, d, []string{host}, scheduler.Config{KeepImages: 2})
	app := c.App(t, "prune")

	ids := make([]string, len(refs))
	for i, ref := range refs {
		ids[i] = imageID(t, ref)
		res := c.MustDeploy(t, app, ref, 1)
		mustAnswer(t, res.Instances, "/ping", "pong")
	}
	// Pruning runs once the deploy answered.
	testenv.Eventually(t, 2*time.Minute, "the images of revisions 1-3 gone, those of 4 and 5 left", func() bool {
		return presentImages(t, ids) == "[false false false true true]"
	})
	testenv.Eventually(t, 2*time.Minute, "the disk use of images on "+host+" read", func() bool {
		return c.ImageDisk(context.Background())[host] > 0
	})

	var back progressLog
	res, err := c.Rollback(context.Background(), app, 1, back.report)
	if err != nil {
		t.Fatalf("rollback to revision 1, whose image was pruned: %v", err)
	}
	if again := back.with("pulling", "pulling it again from "+testenv.Registry(t)); len(again) != 1 {
		t.Errorf("the rollback's progress does not say it pulls %s again: %+v", refs[0], back.all())
	}
	mustAnswer(t, res.Instances, "/ping", "pong")
	if got := imageID(t, refs[0]); got != ids[0] {
		t.Errorf("%s pulled again is %s, was %s", refs[0], got, ids[0])
	}
	testenv.Eventually(t, 2*time.Minute, "after the rollback, the image of revision 4 gone, those of 1 (revision 6) and 5 left", func() bool {
		return presentImages(t, ids) == "[true false false false true]"
	})
}

// presentImages says which of the image ids are on the test daemon.
func presentImages(t *testing.T, ids []string) string {
	t.Helper()
	present := make([]bool, len(ids))
	for i, id := range ids {
		_, err := testenv.DockerErr(t, "image", "inspect", "--format", "{{.Id}}", id)
		present[i] = err == nil
	}
	return fmt.Sprint(present)
}

// pushDistinctImages builds n images from the test app's, each with a
// label of its own (so a distinct image), tags them repo:t1...tN and pushes
// them to the test registry. They are removed from the daemon when the
// test ends (the registry keeps them: repo is the test's own).
func pushDistinctImages(t *testing.T, repo string, n int) []string {
	t.Helper()
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "Dockerfile"), []byte("FROM "+testenv.Image(t, "1")+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	var refs []string
	t.Cleanup(func() {
		if len(refs) > 0 {
			testenv.DockerErr(t, append([]string{"rmi"}, refs...)...)
		}
	})
	for i := 1; i <= n; i++ {
		ref := fmt.Sprintf("%s:t%d", repo, i)
		testenv.Docker(t, "build", "-q", "--label", "longshoreman.test.prune="+ref, "-t", ref, dir)
		refs = append(refs, ref)
		testenv.Docker(t, "push", ref)
	}
	return refs
}

// imageID returns the id of the image ref names on the test daemon.
func imageID(t *testing.T, ref string) string {
	t.Helper()
	return strings.TrimSpace(testenv.Docker(t, "image", "inspect", "--format", "{{.Id}}", ref))
}
