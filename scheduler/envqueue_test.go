package scheduler

import (
	"context"
	"fmt"
	"maps"
	"testing"

	"github.com/longshoreman/longshoreman/cluster"
)

// What an env change arriving now does, by what holds its app.
func TestDecideEnv(t *testing.T) {
	ready := map[string]string{}
	started := newEnvBatch()
	close(started.started)
	for _, tc := range []struct {
		name string
		h    *hold
		want envAction
	}{
		{"app free", nil, envTake},
		{"env change gathering its first batch", &hold{op: "an env change", env: &envRun{base: ready, running: newEnvBatch()}}, envGather},
		{"env change running", &hold{op: "an env change", env: &envRun{base: ready, running: started}}, envJoin},
		{"env change running with a batch waiting", &hold{op: "an env change", env: &envRun{base: ready, running: started, next: newEnvBatch()}}, envJoin},
		{"env change running on an app without envs", &hold{op: "an env change", env: &envRun{base: map[string]string{}, running: started}}, envJoin},
		{"env change that has not read the app yet", &hold{op: "an env change", env: &envRun{running: newEnvBatch()}}, envAwait},
		{"env change letting go", &hold{op: "an env change", env: &envRun{base: ready, running: started, closed: true}}, envAwait},
		{"repair", &hold{op: "a repair", repair: true}, envAwait},
		{"deploy", &hold{op: "a deploy"}, envRefuse},
		{"scale", &hold{op: "a scale"}, envRefuse},
		{"rollback", &hold{op: "a rollback"}, envRefuse},
		{"kill", &hold{op: "a kill"}, envRefuse},
		{"delete", &hold{op: "a delete"}, envRefuse},
		{"host drain", &hold{op: "a host drain"}, envRefuse},
	} {
		if got := decideEnv(tc.h); got != tc.want {
			t.Errorf("%s: decideEnv = %d, want %d", tc.name, got, tc.want)
		}
	}
}

func set(k, v string) envEdit { return envEdit{Key: k, Value: v} }
func unset(k string) envEdit  { return envEdit{Key: k, Unset: true} }

// Edits apply in arrival order, batch after batch, without touching the base.
func TestApplyEdits(t *testing.T) {
	for _, tc := range []struct {
		name    string
		base    map[string]string
		batches [][]envEdit
		want    map[string]string
	}{
		{"nothing", nil, nil, map[string]string{}},
		{"sets", nil, [][]envEdit{{set("A", "1"), set("B", "2")}}, map[string]string{"A": "1", "B": "2"}},
		{"later set wins", map[string]string{"A": "0"}, [][]envEdit{{set("A", "1")}, {set("A", "2")}}, map[string]string{"A": "2"}},
		{"unset after set", nil, [][]envEdit{{set("A", "1"), unset("A")}}, map[string]string{}},
		{"set after unset", map[string]string{"A": "0"}, [][]envEdit{{unset("A")}, {set("A", "1")}}, map[string]string{"A": "1"}},
		{"unset of what is not set", map[string]string{"B": "2"}, [][]envEdit{{unset("A")}}, map[string]string{"B": "2"}},
		{"empty value is a value", nil, [][]envEdit{{set("A", "")}}, map[string]string{"A": ""}},
	} {
		before := maps.Clone(tc.base)
		got := applyEdits(tc.base, tc.batches...)
		if !maps.Equal(got, tc.want) {
			t.Errorf("%s: %v, want %v", tc.name, got, tc.want)
		}
		if !maps.Equal(tc.base, before) {
			t.Errorf("%s: the base changed to %v", tc.name, tc.base)
		}
	}
}

// A queued change is refused when the envs would break a limit after it,
// whether the running batch succeeds or fails.
func TestCheckQueued(t *testing.T) {
	full := map[string]string{}
	for i := range cluster.MaxEnvs - 2 {
		full[fmt.Sprintf("K%d", i)] = "v"
	}
	bigValue := func(n int) string {
		b := make([]byte, n)
		for i := range b {
			b[i] = 'x'
		}
		return string(b)
	}
	for _, tc := range []struct {
		name          string
		base          map[string]string
		running, next []envEdit
		e             envEdit
		ok            bool
	}{
		{"room", full, nil, nil, set("NEW", "1"), true},
		{"last place", full, []envEdit{set("R", "1")}, nil, set("NEW", "1"), true},
		{"one too many with the running change", full, []envEdit{set("R", "1")}, []envEdit{set("Q", "1")}, set("NEW", "1"), false},
		{"one too many with the queued ones", full, nil, []envEdit{set("Q1", "1"), set("Q2", "1")}, set("NEW", "1"), false},
		{"a queued removal makes room", full, []envEdit{set("R", "1")}, []envEdit{unset("K0"), set("Q", "1")}, set("NEW", "1"), true},
		{"the same key set twice counts once", full, []envEdit{set("R", "1")}, []envEdit{set("Q", "1")}, set("Q", "2"), true},
		// The running change frees room; if it fails, the room is not there.
		{"room only if the running change succeeds", full, []envEdit{unset("K0"), unset("K1")}, []envEdit{set("Q1", "1"), set("Q2", "1")}, set("NEW", "1"), false},
		{"bytes of the queued values", nil, []envEdit{set("A", bigValue(30<<10))}, []envEdit{set("B", bigValue(30<<10))}, set("C", bigValue(10<<10)), false},
		{"bytes within the limit", nil, []envEdit{set("A", bigValue(20<<10))}, []envEdit{set("B", bigValue(20<<10))}, set("C", bigValue(10<<10)), true},
	} {
		err := checkQueued("a.example.com", tc.base, tc.running, tc.next, tc.e)
		if (err == nil) != tc.ok {
			t.Errorf("%s: checkQueued = %v, want ok %v", tc.name, err, tc.ok)
		}
		if err != nil && cluster.ErrorCode(err) != cluster.EINVALID {
			t.Errorf("%s: %v, want EINVALID", tc.name, err)
		}
	}
}

// A change refused while an env change waits is refused before it joins:
// the batch keeps only what it had.
func TestChangeEnvRefusedByLimitDoesNotJoin(t *testing.T) {
	s := New(nil, nil, Config{})
	full := map[string]string{}
	for i := range cluster.MaxEnvs {
		full[fmt.Sprintf("K%d", i)] = "v"
	}
	run := &envRun{base: full, ready: make(chan struct{}), running: newEnvBatch()}
	close(run.running.started)
	s.busy["a.example.com"] = &hold{op: "an env change", env: run, done: make(chan struct{})}
	_, err := s.changeEnv(context.Background(), "a.example.com", set("NEW", "1"), nil)
	if cluster.ErrorCode(err) != cluster.EINVALID || run.next != nil {
		t.Fatalf("changeEnv over the limit = %v, next batch %+v; want EINVALID and no batch", err, run.next)
	}
	// The same while the first batch is still gathering.
	gathering := &envRun{base: full, ready: make(chan struct{}), running: newEnvBatch()}
	s.busy["b.example.com"] = &hold{op: "an env change", env: gathering, done: make(chan struct{})}
	_, err = s.changeEnv(context.Background(), "b.example.com", set("NEW", "1"), nil)
	if cluster.ErrorCode(err) != cluster.EINVALID || len(gathering.running.waiters) != 0 {
		t.Fatalf("changeEnv over the limit = %v, gathering batch %+v; want EINVALID and an empty batch", err, gathering.running.waiters)
	}
}
