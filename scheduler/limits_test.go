package scheduler

import (
	"reflect"
	"testing"
	"time"

	"github.com/longshoreman/longshoreman/cluster"
)

func TestPlaceSized(t *testing.T) {
	const m = 1 << 20
	hosts := func(free ...int64) []HostLoad {
		out := make([]HostLoad, len(free))
		for i, f := range free {
			out[i] = HostLoad{Addr: "10.0.0." + string(rune('1'+i)), FreeMemory: f}
		}
		return out
	}
	tests := []struct {
		name   string
		n      int
		memory int64
		hosts  []HostLoad
		app    map[string]int
		want   []string
	}{
		{"no limit fits anywhere, even a host without free memory", 2, 0, hosts(0, 0), nil, []string{"10.0.0.1", "10.0.0.2"}},
		{"a host without room is skipped", 2, 100 * m, hosts(50*m, 200*m, 300*m), nil, []string{"10.0.0.3", "10.0.0.2"}},
		{"exactly the free memory fits", 1, 100 * m, hosts(100 * m), nil, []string{"10.0.0.1"}},
		{"each pick reserves its share", 3, 100 * m, hosts(250 * m), nil, []string{"10.0.0.1", "10.0.0.1"}},
		{"what fits nowhere is left out", 4, 100 * m, hosts(100*m, 150*m), nil, []string{"10.0.0.2", "10.0.0.1"}},
		{"nothing fits", 2, 1 << 40, hosts(8<<30, 8<<30), nil, nil},
		{"spreading gives way to room", 2, 100 * m, hosts(500*m, 50*m), map[string]int{"10.0.0.1": 1}, []string{"10.0.0.1", "10.0.0.1"}},
		{"an unknown total (0) takes no limited instance", 1, m, hosts(0, 10*m), nil, []string{"10.0.0.2"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			in := append([]HostLoad(nil), tt.hosts...)
			got := PlaceSized(tt.n, tt.memory, tt.hosts, tt.app)
			if !reflect.DeepEqual(got, tt.want) {
				t.Fatalf("PlaceSized = %v, want %v", got, tt.want)
			}
			if !reflect.DeepEqual(in, tt.hosts) {
				t.Fatal("PlaceSized changed its input")
			}
		})
	}
}

// TestPlanReservesMemory places against each host's total memory less the
// limits of every instance recorded there, those being replaced included.
func TestPlanReservesMemory(t *testing.T) {
	const m = 1 << 20
	total := []HostLoad{{Addr: "10.0.0.1", FreeMemory: 1024 * m}, {Addr: "10.0.0.2", FreeMemory: 1024 * m}, {Addr: "10.0.0.3", FreeMemory: 512 * m}}
	sized := func(i cluster.Instance, mem int64) cluster.Instance { i.Memory = cluster.Bytes(mem); return i }
	rev := func(count int, mem int64) *cluster.Revision {
		return &cluster.Revision{App: "a.example.com", Number: 3, Image: "img:3", Count: count, Memory: cluster.Bytes(mem)}
	}
	tests := []struct {
		name     string
		o        Observation
		rev      *cluster.Revision
		want     opPlan
		free     []string // the message's figures when unplaced
		wantFree []int64
	}{
		{"limits fit: spread as usual", observed(total, nil), rev(3, 256*m),
			opPlan{Start: []string{"10.0.0.1", "10.0.0.2", "10.0.0.3"}, Replace: true}, nil, nil},
		{"other apps' reservations steer placement", observed(total, nil, sized(other("x", "10.0.0.1"), 900*m), sized(other("y", "10.0.0.2"), 900*m)), rev(2, 256*m),
			opPlan{Start: []string{"10.0.0.3", "10.0.0.3"}, Replace: true}, nil, nil},
		{"the old instances keep their reservation until retired", observed(total, []cluster.Instance{sized(inst("a", "10.0.0.3"), 512*m)}), rev(1, 512*m),
			opPlan{Start: []string{"10.0.0.1"}, Retire: []string{"a"}, Replace: true}, nil, nil},
		{"instances without a limit reserve nothing", observed(total[2:], nil, other("x", "10.0.0.3"), other("y", "10.0.0.3")), rev(1, 512*m),
			opPlan{Start: []string{"10.0.0.3"}, Replace: true}, nil, nil},
		{"more than any host has: unplaced, with the figures", observed(total, nil, sized(other("x", "10.0.0.1"), 100*m)), rev(2, 2048*m),
			opPlan{Unplaced: 2, Replace: true}, []string{"10.0.0.1", "10.0.0.2", "10.0.0.3"}, []int64{924 * m, 1024 * m, 512 * m}},
		{"some fit: the rest unplaced", observed(total, nil), rev(3, 768*m),
			opPlan{Start: []string{"10.0.0.1", "10.0.0.2"}, Unplaced: 1, Replace: true}, []string{"10.0.0.1", "10.0.0.2", "10.0.0.3"}, []int64{1024 * m, 1024 * m, 512 * m}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := PlanDeploy(tt.o, tt.rev)
			wantPlan(t, p, tt.want)
			var addrs []string
			var free []int64
			for _, h := range p.Free {
				addrs, free = append(addrs, h.Addr), append(free, h.FreeMemory)
			}
			if !reflect.DeepEqual(addrs, tt.free) || !reflect.DeepEqual(free, tt.wantFree) {
				t.Fatalf("free = %v %v, want %v %v", addrs, free, tt.free, tt.wantFree)
			}
		})
	}
}

func TestMemoryShortageMessage(t *testing.T) {
	const m = 1 << 20
	p := Plan{App: "a.example.com", HostCount: 3, Memory: 512 * m, Start: []string{"10.0.0.1"}, Unplaced: 2,
		Free: []HostLoad{{Addr: "10.0.0.1", FreeMemory: 200 * m}, {Addr: "10.0.0.2", FreeMemory: 100 * m}, {Addr: "10.0.0.3", FreeMemory: 23*1024*m + 512*m}, {Addr: "10.0.0.4", FreeMemory: -5 * m}}}
	err := p.noHost()
	if cluster.ErrorCode(err) != cluster.EUNAVAILABLE {
		t.Fatalf("code %q, want %q (503)", cluster.ErrorCode(err), cluster.EUNAVAILABLE)
	}
	want := "Not enough memory for a.example.com: it needs 512m per instance x3 and 2 fit on no host; free memory (not reserved by the limits of the instances there): 10.0.0.1 200m, 10.0.0.2 100m, 10.0.0.3 23.5g, 10.0.0.4 0"
	if got := err.(*cluster.Error).Message; got != want {
		t.Fatalf("message\n%s\nwant\n%s", got, want)
	}
	// Without memory figures the message stays the hosts' silence.
	p.Free = nil
	if got := cluster.ErrorMessage(p.noHost()); got == cluster.ErrorMessage(err) {
		t.Fatalf("no figures, same message: %s", got)
	}
}

// TestPlanRepairReplacesKilledForMemory: a container killed for memory is
// replaced even when Docker's restart policy brought it back on its port,
// and never adopted.
func TestPlanRepairReplacesKilledForMemory(t *testing.T) {
	app := &cluster.App{Name: "a.example.com", Image: "img:2", Count: 2, Revision: 2}
	rec := func(id, host string) cluster.Instance {
		return cluster.Instance{ID: id, App: app.Name, Revision: 2, Host: host, Port: 31000, Routed: true, Started: time.Unix(1_600_000_000, 0)}
	}
	ctr := func(id, host string, oom bool) cluster.Container {
		return cluster.Container{ID: id, App: app.Name, Revision: 2, Host: host, Port: 31000, Running: true, State: "running", OOMKilled: oom}
	}
	up := map[string]bool{"h1": true, "h2": true}
	st := AppState{App: app, Records: []cluster.Instance{rec("a", "h1"), rec("b", "h2")},
		Containers: []cluster.Container{ctr("a", "h1", false), ctr("b", "h2", true)}, HostUp: up,
		Healthy: map[string]bool{"a": true, "b": true}, ObservedAt: time.Unix(1_700_000_000, 0)}
	want := summary{Unroute: []string{"b"}, Forget: []string{"b"}, Remove: []string{"b"}, Start: 1}
	if got := summarize(PlanRepair(st)); !reflect.DeepEqual(got, want) {
		t.Fatalf("plan = %+v\nwant   %+v", got, want)
	}
	st.Records = st.Records[:1] // b is unknown: removed, not adopted
	want = summary{Remove: []string{"b"}, Start: 1}
	if got := summarize(PlanRepair(st)); !reflect.DeepEqual(got, want) {
		t.Fatalf("unknown container killed for memory: plan = %+v\nwant   %+v", got, want)
	}
}

// TestPlanRepairFreesTheDeadInstancesMemory: the replacement of a dead
// instance may take the memory the dead one reserved.
func TestPlanRepairFreesTheDeadInstancesMemory(t *testing.T) {
	app := &cluster.App{Name: "a.example.com", Image: "img:2", Count: 1, Revision: 2}
	rev := &cluster.Revision{App: app.Name, Number: 2, Image: "img:2", Count: 1, Memory: 512 << 20}
	dead := cluster.Instance{ID: "a", App: app.Name, Revision: 2, Host: "h1", Port: 31000, Memory: 512 << 20, Started: time.Unix(1_600_000_000, 0)}
	st := AppState{App: app, Current: rev, Records: []cluster.Instance{dead},
		Containers: []cluster.Container{{ID: "a", App: app.Name, Revision: 2, Host: "h1", State: "exited"}},
		HostUp:     map[string]bool{"h1": true}, ObservedAt: time.Unix(1_700_000_000, 0),
		Capacity: Capacity{Up: []HostLoad{{Addr: "h1", FreeMemory: 512 << 20}}, All: []cluster.Instance{dead}, HostCount: 1}}
	p := PlanRepair(st)
	if !reflect.DeepEqual(p.Start, []string{"h1"}) || p.Unplaced != 0 {
		t.Fatalf("start %v, unplaced %d; want the replacement on h1, in the dead one's memory", p.Start, p.Unplaced)
	}
}
