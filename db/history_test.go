package db_test

import (
	"strings"
	"testing"

	"github.com/longshoreman/longshoreman/cluster"
)

// TestCreateRevisionKeepsHistoryLimit stores many failed deploys with large
// envs between a few succeeded ones and checks that the file keeps the
// limit, the current revision and the succeeded ones, and stops growing.
func TestCreateRevisionKeepsHistoryLimit(t *testing.T) {
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
	var succeeded []int
	var size int64
	for round := range 8 {
		succeeded = append(succeeded, deploy(cluster.StatusSucceeded))
		for range 40 {
			deploy(cluster.StatusFailed)
		}
		if round == 3 {
			size = d.Size()
		}
	}
	revs, err := d.Revisions(app)
	if err != nil {
		t.Fatal(err)
	}
	if len(revs) != 10 {
		t.Fatalf("%d revisions kept, want 10", len(revs))
	}
	kept := map[int]string{}
	for _, r := range revs {
		kept[r.Number] = r.Status
	}
	for _, n := range succeeded {
		if kept[n] != cluster.StatusSucceeded {
			t.Errorf("succeeded revision %d was deleted while failed ones were kept: %v", n, kept)
		}
	}
	if a, _ := d.App(app); kept[a.Revision] == "" {
		t.Errorf("the current revision %d was deleted", a.Revision)
	}
	if revs[0].Number != 8*41 {
		t.Errorf("newest kept = %d, want %d", revs[0].Number, 8*41)
	}
	// bbolt reuses freed pages, so after the first rounds the file stays
	// about the same size.
	if grown := d.Size() - size; grown > 4<<20 {
		t.Errorf("the file grew by %d bytes over 160 more deploys", grown)
	}
}
