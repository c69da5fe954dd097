package scheduler

import (
	"reflect"
	"sort"
	"testing"
	"time"

	"github.com/longshoreman/longshoreman/cluster"
)

// opPlan renders an operation's plan for comparison: the hosts it starts
// on, the ids it retires, and its flags.
type opPlan struct {
	Start    []string
	Unplaced int
	Retire   []string
	Replace  bool
	Urgent   bool
}

func summarizeOp(p Plan) opPlan {
	var retire []string
	for _, i := range p.Retire {
		retire = append(retire, i.ID)
	}
	sort.Strings(retire)
	return opPlan{Start: p.Start, Unplaced: p.Unplaced, Retire: retire, Replace: p.Replace, Urgent: p.Urgent}
}

// wantPlan fails the test when p, summarized, is not want.
func wantPlan(tb testing.TB, p Plan, want opPlan) {
	tb.Helper()
	if got := summarizeOp(p); !reflect.DeepEqual(got, want) {
		tb.Fatalf("plan = %+v\nwant   %+v", got, want)
	}
}

// cluster3 is three hosts that answer, each with the same free memory.
var cluster3 = []HostLoad{{Addr: "10.0.0.1", FreeMemory: 1 << 30}, {Addr: "10.0.0.2", FreeMemory: 1 << 30}, {Addr: "10.0.0.3", FreeMemory: 1 << 30}}

// observed is an Observation of app a.example.com (count 2, revision 2)
// with records on hosts and, when up is not nil, the hosts' capacity. Other
// apps' records in others count toward each host's load.
func observed(up []HostLoad, records []cluster.Instance, others ...cluster.Instance) Observation {
	app := &cluster.App{Name: "a.example.com", Image: "img:2", Count: 2, Revision: 2}
	all := append(append([]cluster.Instance(nil), records...), others...)
	return Observation{
		App: app, Current: &cluster.Revision{App: app.Name, Number: 2, Image: "img:2", Count: 2},
		Records: records, Capacity: Capacity{Up: up, All: all, HostCount: 3},
	}
}

func inst(id, host string) cluster.Instance {
	t0 := time.Unix(1_700_000_000, 0)
	return cluster.Instance{ID: id, App: "a.example.com", Revision: 2, Host: host, Port: 30000, Routed: true, Started: t0.Add(time.Duration(len(id)) * time.Second)}
}

func other(id, host string) cluster.Instance {
	return cluster.Instance{ID: id, App: "b.example.com", Revision: 1, Host: host, Port: 30001, Routed: true}
}

func TestPlanDeploy(t *testing.T) {
	rev3 := func(count int) *cluster.Revision {
		return &cluster.Revision{App: "a.example.com", Number: 3, Image: "img:3", Count: count}
	}
	retiringRec := inst("r", "10.0.0.1")
	retiringRec.Retiring = true
	tests := []struct {
		name string
		o    Observation
		rev  *cluster.Revision
		want opPlan
	}{
		{"first deploy spreads over the hosts", observed(cluster3, nil), rev3(2),
			opPlan{Start: []string{"10.0.0.1", "10.0.0.2"}, Replace: true}},
		{"every running instance is replaced", observed(cluster3, []cluster.Instance{inst("a", "10.0.0.1"), inst("b", "10.0.0.2")}), rev3(2),
			opPlan{Start: []string{"10.0.0.1", "10.0.0.2"}, Retire: []string{"a", "b"}, Replace: true}},
		{"the old instances do not count toward the load", observed(cluster3, []cluster.Instance{inst("a", "10.0.0.1"), inst("b", "10.0.0.1")}, other("x", "10.0.0.2")), rev3(1),
			opPlan{Start: []string{"10.0.0.1"}, Retire: []string{"a", "b"}, Replace: true}},
		{"other apps' load steers placement", observed(cluster3, nil, other("x", "10.0.0.1"), other("y", "10.0.0.2")), rev3(1),
			opPlan{Start: []string{"10.0.0.3"}, Replace: true}},
		{"instances already retiring are left to their retirement", observed(cluster3, []cluster.Instance{inst("a", "10.0.0.2"), retiringRec}), rev3(1),
			opPlan{Start: []string{"10.0.0.2"}, Retire: []string{"a"}, Replace: true}},
		{"capacity not observed yet: unplaced", observed(nil, []cluster.Instance{inst("a", "10.0.0.1")}), rev3(2),
			opPlan{Unplaced: 2, Retire: []string{"a"}, Replace: true}},
		{"no host answers: unplaced", observed([]HostLoad{}, nil), rev3(2),
			opPlan{Unplaced: 2, Replace: true}},
		{"one host answers: it takes all", observed(cluster3[2:], nil), rev3(2),
			opPlan{Start: []string{"10.0.0.3", "10.0.0.3"}, Replace: true}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := PlanDeploy(tt.o, tt.rev)
			wantPlan(t, p, tt.want)
			if p.Revision != tt.rev || p.App != "a.example.com" {
				t.Fatalf("plan runs %+v of %q, want the new revision of a.example.com", p.Revision, p.App)
			}
		})
	}
}

func TestPlanScale(t *testing.T) {
	two := []cluster.Instance{inst("a", "10.0.0.1"), inst("b", "10.0.0.2")}
	tests := []struct {
		name  string
		o     Observation
		count int
		want  opPlan
	}{
		{"at the count: nothing", observed(cluster3, two), 2, opPlan{Replace: true}},
		{"up: the new go where the app is not", observed(cluster3, two), 3,
			opPlan{Start: []string{"10.0.0.3"}, Replace: true}},
		{"up past the hosts wraps around by load", observed(cluster3, two, other("x", "10.0.0.1")), 5,
			opPlan{Start: []string{"10.0.0.3", "10.0.0.2", "10.0.0.3"}, Replace: true}},
		{"up without observed capacity: unplaced", observed(nil, two), 4, opPlan{Unplaced: 2, Replace: true}},
		{"down: the newest on the most crowded host first", observed(cluster3, []cluster.Instance{inst("a", "10.0.0.1"), inst("bb", "10.0.0.1"), inst("c", "10.0.0.2")}), 2,
			opPlan{Retire: []string{"bb"}, Replace: true}},
		{"down to zero retires all", observed(nil, two), 0, opPlan{Retire: []string{"a", "b"}, Replace: true}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			wantPlan(t, PlanScale(tt.o, tt.count), tt.want)
		})
	}
}

func TestPlanDrain(t *testing.T) {
	deleting := observed(cluster3, []cluster.Instance{inst("a", "10.0.0.1"), inst("b", "10.0.0.2")})
	deleting.App = &cluster.App{Name: "a.example.com", Count: 2, Revision: 2, Deleting: true}
	deleting.Current = nil
	tests := []struct {
		name string
		o    Observation
		host string
		want opPlan
	}{
		{"nothing on the host: empty", observed(cluster3, []cluster.Instance{inst("a", "10.0.0.2")}), "10.0.0.1", opPlan{}},
		{"its instances move to the other hosts", observed(cluster3, []cluster.Instance{inst("a", "10.0.0.1"), inst("bb", "10.0.0.1"), inst("c", "10.0.0.2")}), "10.0.0.1",
			opPlan{Start: []string{"10.0.0.3", "10.0.0.2"}, Retire: []string{"a", "bb"}, Replace: true}},
		{"never onto the drained host, even when it answers", observed(cluster3[:1], []cluster.Instance{inst("a", "10.0.0.1")}), "10.0.0.1",
			opPlan{Unplaced: 1, Retire: []string{"a"}, Replace: true}},
		{"an app being deleted is stopped there, not moved", deleting, "10.0.0.1",
			opPlan{Retire: []string{"a"}, Urgent: true}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			wantPlan(t, PlanDrain(tt.o, tt.host), tt.want)
		})
	}
}

func TestPlanRebalance(t *testing.T) {
	tests := []struct {
		name string
		o    Observation
		want opPlan
	}{
		{"spread already: empty", observed(cluster3, []cluster.Instance{inst("a", "10.0.0.1"), inst("b", "10.0.0.2")}), opPlan{}},
		{"one instance: empty", observed(cluster3, []cluster.Instance{inst("a", "10.0.0.1")}), opPlan{}},
		{"piled on one host: the newest moves to an empty host", observed(cluster3, []cluster.Instance{inst("a", "10.0.0.1"), inst("bb", "10.0.0.1")}),
			opPlan{Start: []string{"10.0.0.2"}, Retire: []string{"bb"}, Replace: true}},
		{"the least loaded empty host takes it", observed(cluster3, []cluster.Instance{inst("a", "10.0.0.1"), inst("bb", "10.0.0.1")}, other("x", "10.0.0.2")),
			opPlan{Start: []string{"10.0.0.3"}, Retire: []string{"bb"}, Replace: true}},
		{"the empty host does not answer: unplaced", observed(cluster3[:1], []cluster.Instance{inst("a", "10.0.0.1"), inst("bb", "10.0.0.1")}),
			opPlan{Unplaced: 1, Retire: []string{"bb"}, Replace: true}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			wantPlan(t, PlanRebalance(tt.o), tt.want)
		})
	}
}
