package scheduler

import (
	"reflect"
	"testing"
	"time"

	"github.com/longshoreman/longshoreman/cluster"
)

// canaryInst is an instance of the canary's revision 3.
func canaryInst(id, host string) cluster.Instance {
	i := inst(id, host)
	i.Revision = 3
	return i
}

// withCanary is o with a canary of revision 3 under way.
func withCanary(o Observation) Observation {
	a := *o.App
	a.Canary = &cluster.AppCanary{Revision: 3, Weight: 20, Count: 1}
	o.App = &a
	return o
}

func TestPlanCanaryPromoteAbort(t *testing.T) {
	rev3 := func(count int) *cluster.Revision {
		return &cluster.Revision{App: "a.example.com", Number: 3, Image: "img:3", Count: count}
	}
	two := []cluster.Instance{inst("a", "10.0.0.1"), inst("b", "10.0.0.2")}
	retiring := canaryInst("r", "10.0.0.3")
	retiring.Retiring = true
	tests := []struct {
		name string
		p    Plan
		want opPlan
	}{
		{"a canary starts beside the instances, retiring none, on the least loaded host",
			PlanCanary(withCanary(observed(cluster3, two)), rev3(2), 1),
			opPlan{Start: []string{"10.0.0.3"}, Replace: true}},
		{"two canary instances", PlanCanary(withCanary(observed(cluster3, two)), rev3(2), 2),
			opPlan{Start: []string{"10.0.0.3", "10.0.0.1"}, Replace: true}},
		{"capacity not observed: unplaced", PlanCanary(withCanary(observed(nil, two)), rev3(2), 1),
			opPlan{Unplaced: 1, Replace: true}},
		{"promote keeps the canary's instance and replaces the rest: count 2 is one more",
			PlanPromote(withCanary(observed(cluster3, append(two, canaryInst("c", "10.0.0.3")))), rev3(2)),
			opPlan{Start: []string{"10.0.0.1"}, Retire: []string{"a", "b"}, Replace: true}},
		{"promote to count 3 starts two",
			PlanPromote(withCanary(observed(cluster3, append(two, canaryInst("c", "10.0.0.3")))), rev3(3)),
			opPlan{Start: []string{"10.0.0.1", "10.0.0.2"}, Retire: []string{"a", "b"}, Replace: true}},
		{"a canary larger than the count gives up its extra instances",
			PlanPromote(withCanary(observed(cluster3, append(two, canaryInst("c", "10.0.0.3"), canaryInst("d", "10.0.0.3")))), rev3(1)),
			opPlan{Retire: []string{"a", "b", "c"}, Replace: true}},
		{"abort retires the canary's instances alone, not those already retiring",
			PlanAbort(withCanary(observed(cluster3, append(two, canaryInst("c", "10.0.0.3"), retiring)))),
			opPlan{Retire: []string{"c"}}},
		{"abort without instances does nothing", PlanAbort(withCanary(observed(cluster3, two))), opPlan{}},
	}
	for _, tt := range tests {
		if got := summarizeOp(tt.p); !reflect.DeepEqual(got, tt.want) {
			t.Errorf("%s:\n got %+v\nwant %+v", tt.name, got, tt.want)
		}
	}
	// Other plans leave the canary's instances alone: a drain of their
	// host moves only the current revision's.
	o := withCanary(observed(cluster3, append(two, canaryInst("c", "10.0.0.1"))))
	o.Current = &cluster.Revision{App: "a.example.com", Number: 2, Count: 2}
	if got := summarizeOp(PlanDrain(o, "10.0.0.1")); !reflect.DeepEqual(got.Retire, []string{"a"}) {
		t.Errorf("drain: %+v", got)
	}
}

// The repair routes a canary's instances by their health, never counts
// them against the app's count and never retires them for being of
// another revision; without the canary (aborted, or the app being
// deleted) they are retired like any other revision's.
func TestPlanRepairLeavesTheCanary(t *testing.T) {
	observedAt := time.Unix(1_800_000_000, 0)
	a, b := inst("a", "10.0.0.1"), inst("b", "10.0.0.2")
	c, d := canaryInst("c", "10.0.0.3"), canaryInst("d", "10.0.0.1")
	d.Routed = false
	state := func(canary bool, deleting bool) AppState {
		app := &cluster.App{Name: "a.example.com", Image: "img:2", Count: 2, Revision: 2, Deleting: deleting}
		if canary {
			app.Canary = &cluster.AppCanary{Revision: 3, Weight: 20, Count: 2}
		}
		var cts []cluster.Container
		for _, i := range []cluster.Instance{a, b, c, d} {
			cts = append(cts, cluster.Container{ID: i.ID, App: i.App, Revision: i.Revision, Host: i.Host, Port: i.Port, Running: true, State: "running"})
		}
		return AppState{App: app, Records: []cluster.Instance{a, b, c, d}, Containers: cts,
			HostUp:  map[string]bool{"10.0.0.1": true, "10.0.0.2": true, "10.0.0.3": true},
			Healthy: map[string]bool{"a": true, "b": true, "c": true, "d": true}, ObservedAt: observedAt,
			Current: &cluster.Revision{App: "a.example.com", Number: 2, Count: 2}, Capacity: Capacity{Up: cluster3}}
	}
	ids := func(insts []cluster.Instance) []string {
		var out []string
		for _, i := range insts {
			out = append(out, i.ID)
		}
		return out
	}
	p := PlanRepair(state(true, false))
	if len(p.Retire) != 0 || len(p.Start) != 0 || len(p.Remove) != 0 || !reflect.DeepEqual(ids(p.Route), []string{"d"}) {
		t.Fatalf("with the canary: retire %v, start %v, remove %v, route %v; want only d routed", ids(p.Retire), p.Start, p.Remove, ids(p.Route))
	}
	if p := PlanRepair(state(false, false)); !reflect.DeepEqual(ids(p.Retire), []string{"c", "d"}) || len(p.Start) != 0 {
		t.Fatalf("without it: retire %v, start %v; want c and d retired", ids(p.Retire), p.Start)
	}
	if p := PlanRepair(state(true, true)); len(p.Retire) != 4 {
		t.Fatalf("app being deleted: retire %v; want all four", ids(p.Retire))
	}
}

// An interrupted canary deploy stays a canary once its instances were
// routed, and fails before.
func TestSettleCanary(t *testing.T) {
	c := cluster.AppCanary{Revision: 3, Count: 2}
	routed, unrouted := canaryInst("c", "10.0.0.1"), canaryInst("d", "10.0.0.2")
	unrouted.Routed = false
	if st, _ := SettleCanary(c, []cluster.Instance{inst("a", "10.0.0.1"), routed, unrouted}); st != cluster.StatusFailed {
		t.Fatalf("one of two routed: %s", st)
	}
	unrouted.Routed = true
	if st, _ := SettleCanary(c, []cluster.Instance{routed, unrouted}); st != cluster.StatusCanary {
		t.Fatalf("both routed: %s", st)
	}
}

func TestDueForPromote(t *testing.T) {
	t0 := time.Unix(1_800_000_000, 0)
	c := &cluster.AppCanary{Revision: 3, Started: t0, Auto: cluster.Duration(5 * time.Minute)}
	for _, tc := range []struct {
		c    *cluster.AppCanary
		at   time.Duration
		want bool
	}{
		{nil, time.Hour, false},
		{c, 4 * time.Minute, false},
		{c, 5 * time.Minute, true},
		{c, time.Hour, true},
		{&cluster.AppCanary{Started: t0}, time.Hour, false}, // no --canary-auto
		{&cluster.AppCanary{Started: t0, Auto: cluster.Duration(time.Minute), Promoting: true}, time.Hour, false}, // a promote runs
	} {
		if got := DueForPromote(tc.c, t0.Add(tc.at)); got != tc.want {
			t.Errorf("%+v at +%s: %v, want %v", tc.c, tc.at, got, tc.want)
		}
	}
}
