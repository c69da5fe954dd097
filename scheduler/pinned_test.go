package scheduler

import (
	"reflect"
	"testing"
	"time"

	"github.com/longshoreman/longshoreman/cluster"
)

// pinnedRev is revision 3 of a.example.com pinned to hosts, with a volume
// when volume is set.
func pinnedRev(count int, volume bool, hosts ...string) *cluster.Revision {
	rev := &cluster.Revision{App: "a.example.com", Number: 3, Image: "img:3", Count: count, Hosts: hosts}
	if volume {
		rev.Volumes = []string{"data:/data"}
	}
	return rev
}

func TestPlanPinned(t *testing.T) {
	tests := []struct {
		name string
		o    Observation
		rev  *cluster.Revision
		want opPlan
	}{
		{"a pinned app starts on its hosts only", observed(cluster3, nil), pinnedRev(2, false, "10.0.0.3"),
			opPlan{Start: []string{"10.0.0.3", "10.0.0.3"}, Replace: true}},
		{"an app with volumes runs once per pinned host", observed(cluster3, nil), pinnedRev(3, true, "10.0.0.2", "10.0.0.3"),
			opPlan{Start: []string{"10.0.0.2", "10.0.0.3"}, Unplaced: 1, Replace: true}},
		{"its old instances leave, so the new take their hosts", observed(cluster3, []cluster.Instance{inst("a", "10.0.0.2")}), pinnedRev(1, true, "10.0.0.2"),
			opPlan{Start: []string{"10.0.0.2"}, Retire: []string{"a"}, Replace: true}},
		{"a pinned host that does not answer takes nothing", observed(cluster3[:2], nil), pinnedRev(1, true, "10.0.0.3"),
			opPlan{Unplaced: 1, Replace: true}},
		{"capacity not observed: unplaced", observed(nil, nil), pinnedRev(1, true, "10.0.0.1"),
			opPlan{Unplaced: 1, Replace: true}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			wantPlan(t, PlanDeploy(tt.o, tt.rev), tt.want)
		})
	}
}

func TestPlanDrainPinned(t *testing.T) {
	o := observed(cluster3, []cluster.Instance{inst("a", "10.0.0.1"), inst("b", "10.0.0.2")})
	o.Current = pinnedRev(2, true, "10.0.0.1", "10.0.0.2")
	want := opPlan{Retire: []string{"a"}, Urgent: true}
	if got := summarizeOp(PlanDrain(o, "10.0.0.1")); !reflect.DeepEqual(got, want) {
		t.Fatalf("draining a pinned host (forced) = %+v, want its instance stopped, not moved: %+v", got, want)
	}
	if p := PlanRebalance(o); !p.Empty() {
		t.Fatalf("a pinned app is never rebalanced: %+v", summarizeOp(p))
	}
}

func TestPlanRepairPinnedHostDown(t *testing.T) {
	app := &cluster.App{Name: "a.example.com", Image: "img:3", Count: 2, Revision: 3}
	rev := pinnedRev(2, true, "10.0.0.1", "10.0.0.2")
	t0 := time.Unix(1_700_000_000, 0)
	a := cluster.Instance{ID: "a", App: app.Name, Revision: 3, Host: "10.0.0.1", Port: 30001, Routed: true, Started: t0}
	b := cluster.Instance{ID: "b", App: app.Name, Revision: 3, Host: "10.0.0.2", Port: 30002, Routed: true, Started: t0}
	st := AppState{
		App: app, Current: rev, Records: []cluster.Instance{a, b}, ObservedAt: t0.Add(time.Minute),
		Containers: []cluster.Container{{ID: "b", App: app.Name, Revision: 3, Host: "10.0.0.2", Port: 30002, Running: true, State: "running"}},
		HostUp:     map[string]bool{"10.0.0.2": true, "10.0.0.3": true}, HostDown: map[string]bool{"10.0.0.1": true},
		Healthy: map[string]bool{"b": true},
	}
	if p := PlanRepair(st); p.Unplaced != 1 || p.PinnedDown != 0 {
		t.Fatalf("before capacity is observed: unplaced %d, down %d, want 1 and 0 (so capacity is asked)", p.Unplaced, p.PinnedDown)
	}
	st.Capacity = Capacity{Up: []HostLoad{cluster3[1], cluster3[2]}, All: []cluster.Instance{b}, HostCount: 3}
	p := PlanRepair(st)
	if len(p.Start) != 0 || p.Unplaced != 0 || p.PinnedDown != 1 {
		t.Fatalf("the instance of a pinned host that is down: start %v, unplaced %d, down %d; want it reported down, not moved to 10.0.0.3", p.Start, p.Unplaced, p.PinnedDown)
	}
	if got := summarize(p); !reflect.DeepEqual(got.Forget, []string{"a"}) || !reflect.DeepEqual(got.Unroute, []string{"a"}) {
		t.Fatalf("the record on the down host: %+v, want unrouted and forgotten", got)
	}
}

func TestStopFirstSteps(t *testing.T) {
	a, b, c := inst("a", "10.0.0.2"), inst("b", "10.0.0.1"), inst("c", "10.0.0.3")
	p := Plan{Start: []string{"10.0.0.2", "10.0.0.1"}, Retire: []cluster.Instance{a, b, c}}
	want := []HostStep{
		{Host: "10.0.0.1", Retire: []cluster.Instance{b}, Start: true},
		{Host: "10.0.0.2", Retire: []cluster.Instance{a}, Start: true},
		{Host: "10.0.0.3", Retire: []cluster.Instance{c}},
	}
	if got := StopFirstSteps(p); !reflect.DeepEqual(got, want) {
		t.Fatalf("StopFirstSteps = %+v, want %+v", got, want)
	}
	if got := StopFirstSteps(Plan{Start: []string{"10.0.0.1"}}); !reflect.DeepEqual(got, []HostStep{{Host: "10.0.0.1", Start: true}}) {
		t.Fatalf("first deploy: %+v", got)
	}
}
