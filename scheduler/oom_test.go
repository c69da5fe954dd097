package scheduler

import (
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/longshoreman/longshoreman/cluster"
	"github.com/longshoreman/longshoreman/db"
	"github.com/longshoreman/longshoreman/internal/fakedocker"
)

// A container killed for memory is reported once: when a pass saw it dead
// (Docker's State.OOMKilled) and replaced it before Docker's oom event
// came, the late event reports nothing more, however many passes saw the
// container gone meanwhile. It is forgotten oomMemory after its report.
// Another controller's container, on a host both use, is not reported.
func TestOOMReportedOnceThoughItsEventComesLate(t *testing.T) {
	d, err := db.Open(filepath.Join(t.TempDir(), "ls.db"), db.Options{Create: true})
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	var mu sync.Mutex
	var reports []cluster.Event
	s := New(d, fakedocker.New(), Config{Controller: d.ControllerID(), Events: func(e cluster.Event) {
		if e.Step == "oom" {
			mu.Lock()
			reports = append(reports, e)
			mu.Unlock()
		}
	}})
	defer s.Close()
	r := NewReconciler(s, ReconcilerConfig{Interval: time.Hour})
	ctx := t.Context()
	const host, app, id = "10.0.0.5", "oom.example.com", "0123456789abcdef"
	if _, err := d.CreateApp(app); err != nil {
		t.Fatal(err)
	}
	up := map[string]bool{host: true}
	killedAt := time.Now()

	dead := cluster.Container{ID: id, App: app, Revision: 1, Host: host, State: "exited", OOMKilled: true}
	r.markKilledForMemory(ctx, []cluster.Container{dead}, up, time.Now())
	for range 3 { // replaced: gone from its host, which answers
		r.markKilledForMemory(ctx, nil, up, time.Now().Add(time.Second))
	}
	r.onEvent(ctx, cluster.ContainerEvent{Host: host, ID: id, App: app, Revision: 1, Action: "oom", Time: killedAt})
	mu.Lock()
	n := len(reports)
	mu.Unlock()
	if n != 1 {
		t.Fatalf("%d oom reports, want 1: %+v", n, reports)
	}

	// Another controller's container on the same host, killed for memory:
	// its app is not this controller's.
	r.onEvent(ctx, cluster.ContainerEvent{Host: host, ID: "fedcba9876543210", App: "theirs.example.com", Revision: 3, Action: "oom", Time: time.Now()})
	mu.Lock()
	n = len(reports)
	mu.Unlock()
	if n != 1 {
		t.Fatalf("%d oom reports after another controller's container was killed, want still 1: %+v", n, reports)
	}

	r.markKilledForMemory(ctx, nil, up, time.Now().Add(oomMemory+time.Second))
	r.mu.Lock()
	left := len(r.oom)
	r.mu.Unlock()
	if left != 0 {
		t.Fatalf("%d containers still remembered %s after their report, want none", left, oomMemory)
	}
}
