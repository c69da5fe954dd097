package scheduler

import (
	"fmt"
	"testing"
	"time"

	"github.com/longshoreman/longshoreman/cluster"
)

func TestPlanImagePrune(t *testing.T) {
	const (
		S = cluster.StatusSucceeded
		F = cluster.StatusFailed
		D = cluster.StatusDeploying
	)
	// revs builds revisions newest first from "status:tag" oldest first:
	// revision i+1 runs reg.example/web:TAG.
	revs := func(specs ...string) []cluster.Revision {
		out := make([]cluster.Revision, len(specs))
		for i, s := range specs {
			var status, tag string
			fmt.Sscanf(s, "%1s:%s", &status, &tag)
			status = map[string]string{"S": S, "F": F, "D": D}[status]
			out[len(specs)-1-i] = cluster.Revision{Number: i + 1, Status: status, Image: "reg.example/web:" + tag}
		}
		return out
	}
	ref := func(tag string) string { return "reg.example/web:" + tag }
	// img is an image on the host with tags and containers; named lists
	// the tags containers were created by.
	img := func(tags []string, containers int, named ...string) cluster.Image {
		im := cluster.Image{ID: "sha256:" + tags[0], Containers: containers, Named: map[string]bool{}, Pullable: map[string]bool{}}
		for _, t := range tags {
			im.Refs = append(im.Refs, ref(t))
			im.Pullable[ref(t)] = true
		}
		for _, t := range named {
			im.Named[ref(t)] = true
		}
		return im
	}
	one := func(tag string) cluster.Image { return img([]string{tag}, 0) }
	five := revs("S:1", "S:2", "S:3", "S:4", "S:5")
	onHost := []cluster.Image{one("1"), one("2"), one("3"), one("4"), one("5")}
	for _, c := range []struct {
		name    string
		revs    []cluster.Revision
		current int
		keep    int
		shared  []string
		images  []cluster.Image
		want    string
	}{
		{"five deploys, keep 2", five, 5, 2, nil, onHost, "[reg.example/web:1 reg.example/web:2 reg.example/web:3]"},
		{"five deploys, keep 3 (the default)", five, 5, 3, nil, onHost, "[reg.example/web:1 reg.example/web:2]"},
		{"fewer succeeded revisions than keep", five, 5, 6, nil, onHost, "[]"},
		{"as many succeeded revisions as keep", five, 5, 5, nil, onHost, "[]"},
		{"no revisions", nil, 0, 2, nil, onHost, "[]"},
		{"keep 0 prunes nothing", five, 5, 0, nil, onHost, "[]"},
		{"only what is on the host", five, 5, 2, nil, []cluster.Image{one("2"), one("5"), one("other")}, "[reg.example/web:2]"},
		{"an image another app runs stays", five, 5, 2, []string{ref("1")}, onHost, "[reg.example/web:2 reg.example/web:3]"},
		{"a kept revision's image stays though an older one ran it too",
			revs("S:1", "S:2", "S:1", "S:3"), 4, 2, nil, []cluster.Image{one("1"), one("2"), one("3")}, "[reg.example/web:2]"},
		{"failed revisions do not count towards keep",
			revs("S:1", "S:2", "F:3", "F:4", "S:5"), 5, 2, nil, []cluster.Image{one("1"), one("2"), one("3"), one("4"), one("5")}, "[reg.example/web:1]"},
		{"a failed revision older than those kept goes",
			revs("F:1", "S:2", "S:3", "S:4"), 4, 2, nil, []cluster.Image{one("1"), one("2"), one("3"), one("4")}, "[reg.example/web:1 reg.example/web:2]"},
		{"a revision still deploying keeps its image",
			revs("S:1", "D:2", "S:3", "S:4"), 4, 1, nil, []cluster.Image{one("1"), one("2"), one("3"), one("4")}, "[reg.example/web:1 reg.example/web:3]"},
		{"the current revision keeps its image",
			revs("S:1", "S:2", "S:3"), 1, 1, nil, []cluster.Image{one("1"), one("2"), one("3")}, "[reg.example/web:2]"},
		{"an image a container uses, its only tag, stays",
			five, 5, 2, nil, []cluster.Image{img([]string{"1"}, 1), one("2")}, "[reg.example/web:2]"},
		{"the tag a container names stays, even with other tags",
			five, 5, 2, nil, []cluster.Image{img([]string{"1", "other"}, 1, "1")}, "[]"},
		{"a used image loses a tag no container names while another tag keeps it",
			five, 5, 2, nil, []cluster.Image{img([]string{"1", "5"}, 1, "5")}, "[reg.example/web:1]"},
		{"an image built on the host, never pushed, stays",
			five, 5, 2, nil, []cluster.Image{{ID: "local", Refs: []string{ref("1")}}, one("2")}, "[reg.example/web:2]"},
		{"an image tagged for two old revisions loses both tags",
			five, 5, 2, nil, []cluster.Image{img([]string{"1", "2"}, 0)}, "[reg.example/web:1 reg.example/web:2]"},
		{"a used image whose every tag is old keeps the named one",
			five, 5, 2, nil, []cluster.Image{img([]string{"1", "2"}, 1, "2")}, "[reg.example/web:1]"},
		{"a used image whose every tag is old, none named, keeps one",
			five, 5, 2, nil, []cluster.Image{img([]string{"1", "2"}, 1)}, "[reg.example/web:1]"},
	} {
		t.Run(c.name, func(t *testing.T) {
			shared := map[string]bool{}
			for _, s := range c.shared {
				shared[s] = true
			}
			got := fmt.Sprint(PlanImagePrune(c.revs, c.current, c.keep, shared, c.images))
			if got != c.want {
				t.Errorf("PlanImagePrune = %s, want %s", got, c.want)
			}
		})
	}
}

func TestImageRefsCompareNormalized(t *testing.T) {
	revs := []cluster.Revision{
		{Number: 3, Status: cluster.StatusSucceeded, Image: "nginx:1.27"},
		{Number: 2, Status: cluster.StatusSucceeded, Image: "nginx:1.26"},
		{Number: 1, Status: cluster.StatusSucceeded, Image: "nginx"},
	}
	latest, older := cluster.ImageRef("docker.io/library/nginx:latest"), cluster.ImageRef("nginx:1.26")
	images := []cluster.Image{
		{ID: "a", Refs: []string{latest}, Pullable: map[string]bool{latest: true}},
		{ID: "b", Refs: []string{older}, Pullable: map[string]bool{older: true}},
	}
	if got := fmt.Sprint(PlanImagePrune(revs, 3, 1, nil, images)); got != "[docker.io/library/nginx:1.26 docker.io/library/nginx:latest]" {
		t.Fatalf("PlanImagePrune = %s", got)
	}
}

func TestDanglingTasks(t *testing.T) {
	now := time.Date(2026, 1, 2, 12, 0, 0, 0, time.UTC)
	old, young := now.Add(-25*time.Hour), now.Add(-time.Hour)
	cts := []cluster.Container{
		{ID: "old-exited", Task: "t1", Controller: "me", Created: old},
		{ID: "young-exited", Task: "t2", Controller: "me", Created: young},
		{ID: "old-running", Task: "t3", Controller: "me", Created: old, Running: true},
		{ID: "old-followed", Task: "t4", Controller: "me", Created: old},
		{ID: "old-other-controller", Task: "t5", Controller: "other", Created: old},
		{ID: "old-instance", Controller: "me", Created: old},
		{ID: "no-creation-time", Task: "t6", Controller: "me"},
	}
	var got []string
	for _, ct := range DanglingTasks(cts, "me", map[string]bool{"t4": true}, now) {
		got = append(got, ct.ID)
	}
	if fmt.Sprint(got) != "[old-exited]" {
		t.Fatalf("DanglingTasks = %v, want [old-exited]", got)
	}
}

// An image a rollout or task uses is not removed; once released it is, and
// a rollout registering it while it is removed waits for the removal.
func TestImageUse(t *testing.T) {
	var u imageUse
	release := u.use("reg.example/web:1")
	removed := 0
	rm := func() error { removed++; return nil }
	if done, err := u.remove(cluster.ImageRef("reg.example/web:1"), rm); done || err != nil || removed != 0 {
		t.Fatalf("remove of an image in use: done %v, err %v, removed %d", done, err, removed)
	}
	release()
	if done, err := u.remove(cluster.ImageRef("reg.example/web:1"), rm); !done || err != nil || removed != 1 {
		t.Fatalf("remove of an image no longer in use: done %v, err %v, removed %d", done, err, removed)
	}

	inRemoval, finish := make(chan struct{}), make(chan struct{})
	go u.remove("reg.example/web:2", func() error { close(inRemoval); <-finish; return nil })
	<-inRemoval
	registered := make(chan struct{})
	go func() { u.use("reg.example/web:2")(); close(registered) }()
	select {
	case <-registered:
		t.Fatal("a rollout registered an image while it was being removed")
	case <-time.After(50 * time.Millisecond):
	}
	close(finish)
	<-registered
}
