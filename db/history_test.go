package db_test

import (
	"strings"
	"testing"

	"github.com/longshoreman/longshoreman/cluster"
)

// TestCreateRevisionKeepsTheFileSmall stores many failed deploys with
// large envs between a few succeeded ones and checks that the file stops
// growing once the history is at its limit. Which revisions are kept is
// the conformance suite's (storetest), for both stores.
func TestCreateRevisionKeepsTheFileSmall(t *testing.T) {
	d := MustOpenDB(t)
	d.SetHistory(10)
	const app = "a.example.com"
	if _, err := d.CreateApp(app); err != nil {
		t.Fatal(err)
	}
	envs := []string{"BIG=" + strings.Repeat("x", cluster.MaxEnvValueLength)}
	deploy := func(status string) int {
		rev := &cluster.Revision{App: app, Image: "img:1", Envs: envs, Count: 1, Status: cluster.StatusDeploying}
		if err := d.CreateRevision(rev); err != nil {
			t.Fatal(err)
		}
		if _, err := d.FinishRevision(app, rev.Number, status, ""); err != nil {
			t.Fatal(err)
		}
		return rev.Number
	}
	var size int64
	for round := range 8 {
		deploy(cluster.StatusSucceeded)
		for range 40 {
			deploy(cluster.StatusFailed)
		}
		if round == 3 {
			size = d.Size()
		}
	}
	if revs, err := d.Revisions(app); err != nil || len(revs) != 10 {
		t.Fatalf("%d revisions kept (%v), want 10", len(revs), err)
	}
	// bbolt reuses freed pages, so after the first rounds the file stays
	// about the same size.
	if grown := d.Size() - size; grown > 4<<20 {
		t.Errorf("the file grew by %d bytes over 160 more deploys", grown)
	}
}
