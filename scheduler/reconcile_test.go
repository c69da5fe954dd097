package scheduler

import (
	"reflect"
	"sort"
	"testing"
	"time"

	"github.com/longshoreman/longshoreman/cluster"
)

// summary renders a plan as ids per action, for comparison.
type summary struct {
	Unroute, Forget, Remove, Adopt, Route, Retire []string
	Start                                         int
}

func summarize(p Plan) summary {
	ids := func(insts []cluster.Instance) []string {
		var out []string
		for _, i := range insts {
			out = append(out, i.ID)
		}
		sort.Strings(out)
		return out
	}
	cids := func(cts []cluster.Container) []string {
		var out []string
		for _, c := range cts {
			out = append(out, c.ID)
		}
		sort.Strings(out)
		return out
	}
	return summary{ids(p.Unroute), ids(p.Forget), cids(p.Remove), cids(p.Adopt), ids(p.Route), ids(p.Retire), len(p.Start) + p.Unplaced}
}

func TestPlanRepair(t *testing.T) {
	t0 := time.Unix(1_700_000_000, 0)
	app := &cluster.App{Name: "a.example.com", Image: "img:2", Count: 2, Revision: 2}
	rec := func(id, host string, rev int, routed bool) cluster.Instance {
		return cluster.Instance{ID: id, App: app.Name, Revision: rev, Host: host, Port: 30000 + len(id), Routed: routed, Started: t0.Add(-time.Minute)}
	}
	ctr := func(id, host string, rev int, running bool) cluster.Container {
		state := "running"
		if !running {
			state = "exited"
		}
		return cluster.Container{ID: id, App: app.Name, Revision: rev, Host: host, Port: 30000 + len(id), Running: running, State: state}
	}
	task := func(id, host string, rev int, taskID string, running bool) cluster.Container {
		ct := ctr(id, host, rev, running)
		ct.Port, ct.Task, ct.TaskDeadline = 0, taskID, t0.Add(time.Hour)
		return ct
	}
	up := map[string]bool{"h1": true, "h2": true, "h3": true}
	tests := []struct {
		name string
		st   AppState
		want summary
	}{
		{"steady state does nothing", AppState{
			App: app, Records: []cluster.Instance{rec("a", "h1", 2, true), rec("b", "h2", 2, true)},
			Containers: []cluster.Container{ctr("a", "h1", 2, true), ctr("b", "h2", 2, true)}, HostUp: up,
			Healthy: map[string]bool{"a": true, "b": true},
		}, summary{}},
		{"a container that died is unrouted, removed and replaced", AppState{
			App: app, Records: []cluster.Instance{rec("a", "h1", 2, true), rec("b", "h2", 2, true)},
			Containers: []cluster.Container{ctr("a", "h1", 2, true), ctr("b", "h2", 2, false)}, HostUp: up,
		}, summary{Unroute: []string{"b"}, Forget: []string{"b"}, Remove: []string{"b"}, Start: 1}},
		{"a restarting container counts as dead", AppState{
			App: app, Records: []cluster.Instance{rec("a", "h1", 2, true), rec("b", "h2", 2, false)},
			Containers: []cluster.Container{ctr("a", "h1", 2, true), {ID: "b", App: app.Name, Revision: 2, Host: "h2", Port: 30001, Running: true, State: "restarting"}}, HostUp: up,
		}, summary{Forget: []string{"b"}, Remove: []string{"b"}, Start: 1}},
		{"a running task of this controller is left alone and never counts", AppState{
			App: app, Records: []cluster.Instance{rec("a", "h1", 2, true), rec("b", "h2", 2, true)},
			Containers: []cluster.Container{ctr("a", "h1", 2, true), ctr("b", "h2", 2, true), task("t", "h3", 2, "task1", true)}, HostUp: up,
			Healthy: map[string]bool{"a": true, "b": true, "t": true}, Tasks: map[string]bool{"task1": true},
		}, summary{}},
		{"a task container is never adopted, even healthy and needed", AppState{
			App: app, Records: []cluster.Instance{rec("a", "h1", 2, true)},
			Containers: []cluster.Container{ctr("a", "h1", 2, true), task("t", "h2", 2, "task1", true)}, HostUp: up,
			Healthy: map[string]bool{"a": true, "t": true}, Tasks: map[string]bool{"task1": true},
		}, summary{Start: 1}},
		{"a task whose controller died runs on within its deadline", AppState{
			App: app, Records: []cluster.Instance{rec("a", "h1", 2, true), rec("b", "h2", 2, true)},
			Containers: []cluster.Container{ctr("a", "h1", 2, true), ctr("b", "h2", 2, true), task("t", "h3", 2, "gone", true)}, HostUp: up,
			Healthy: map[string]bool{"a": true, "b": true}, Tasks: map[string]bool{"task1": true},
		}, summary{}},
		{"an exited task container nobody follows is never removed as a container (planTasks ends it)", AppState{
			App: app, Records: []cluster.Instance{rec("a", "h1", 2, true), rec("b", "h2", 2, true)},
			Containers: []cluster.Container{ctr("a", "h1", 2, true), ctr("b", "h2", 2, true), task("t", "h3", 1, "old", false)}, HostUp: up,
			Healthy: map[string]bool{"a": true, "b": true},
		}, summary{}},
		{"a running task of an app the data file does not know is left alone", AppState{
			Containers: []cluster.Container{task("t", "h3", 2, "task1", true)}, HostUp: up, Tasks: map[string]bool{"task1": true},
		}, summary{}},
		{"a container that vanished is forgotten and replaced", AppState{
			App: app, Records: []cluster.Instance{rec("a", "h1", 2, true), rec("b", "h2", 2, true)},
			Containers: []cluster.Container{ctr("a", "h1", 2, true)}, HostUp: up,
		}, summary{Unroute: []string{"b"}, Forget: []string{"b"}, Start: 1}},
		{"a host within its grace period is left alone", AppState{
			App: app, Records: []cluster.Instance{rec("a", "h1", 2, true), rec("b", "h9", 2, true)},
			Containers: []cluster.Container{ctr("a", "h1", 2, true)}, HostUp: up,
		}, summary{}},
		{"a host past its grace period: unroute, forget, replace", AppState{
			App: app, Records: []cluster.Instance{rec("a", "h1", 2, true), rec("b", "h9", 2, true)},
			Containers: []cluster.Container{ctr("a", "h1", 2, true)}, HostUp: up, HostDown: map[string]bool{"h9": true},
		}, summary{Unroute: []string{"b"}, Forget: []string{"b"}, Start: 1}},
		{"an unknown healthy container of the current revision is adopted up to the count", AppState{
			App: app, Records: []cluster.Instance{rec("a", "h1", 2, true)},
			Containers: []cluster.Container{ctr("a", "h1", 2, true), ctr("x", "h2", 2, true), ctr("y", "h3", 2, true)}, HostUp: up,
			Healthy: map[string]bool{"a": true, "x": true, "y": true},
		}, summary{Adopt: []string{"x"}, Remove: []string{"y"}}},
		{"an unknown unhealthy container is removed and replaced", AppState{
			App: app, Records: []cluster.Instance{rec("a", "h1", 2, true)},
			Containers: []cluster.Container{ctr("a", "h1", 2, true), ctr("x", "h2", 2, true)}, HostUp: up,
		}, summary{Remove: []string{"x"}, Start: 1}},
		{"an unknown container of another revision is removed", AppState{
			App: app, Records: []cluster.Instance{rec("a", "h1", 2, true), rec("b", "h2", 2, true)},
			Containers: []cluster.Container{ctr("a", "h1", 2, true), ctr("b", "h2", 2, true), ctr("old", "h3", 1, true)}, HostUp: up,
			Healthy: map[string]bool{"old": true},
		}, summary{Remove: []string{"old"}}},
		{"records of another revision are retired and replaced", AppState{
			App: app, Records: []cluster.Instance{rec("a", "h1", 2, true), rec("n", "h2", 3, false)},
			Containers: []cluster.Container{ctr("a", "h1", 2, true), ctr("n", "h2", 3, true)}, HostUp: up,
		}, summary{Retire: []string{"n"}, Start: 1}},
		{"an unhealthy routed instance leaves the table but stays", AppState{
			App: app, Records: []cluster.Instance{rec("a", "h1", 2, true), rec("b", "h2", 2, true)},
			Containers: []cluster.Container{ctr("a", "h1", 2, true), ctr("b", "h2", 2, true)}, HostUp: up,
			Healthy: map[string]bool{"a": true}, Unhealthy: map[string]bool{"b": true},
		}, summary{Unroute: []string{"b"}}},
		{"a healthy unrouted instance comes back", AppState{
			App: app, Records: []cluster.Instance{rec("a", "h1", 2, true), rec("b", "h2", 2, false)},
			Containers: []cluster.Container{ctr("a", "h1", 2, true), ctr("b", "h2", 2, true)}, HostUp: up,
			Healthy: map[string]bool{"a": true, "b": true},
		}, summary{Route: []string{"b"}}},
		{"more than the count: the extra is retired", AppState{
			App: app, Records: []cluster.Instance{rec("a", "h1", 2, true), rec("b", "h2", 2, true), rec("cc", "h2", 2, true)},
			Containers: []cluster.Container{ctr("a", "h1", 2, true), ctr("b", "h2", 2, true), ctr("cc", "h2", 2, true)}, HostUp: up,
			Healthy: map[string]bool{"a": true, "b": true, "cc": true},
		}, summary{Retire: []string{"b"}}},
		{"a killed app (count 0) retires everything", AppState{
			App: &cluster.App{Name: app.Name, Image: "img:2", Revision: 2}, Records: []cluster.Instance{rec("a", "h1", 2, true)},
			Containers: []cluster.Container{ctr("a", "h1", 2, true)}, HostUp: up,
		}, summary{Retire: []string{"a"}}},
		{"containers of an app the data file does not know are removed", AppState{
			Containers: []cluster.Container{ctr("z", "h1", 1, true)}, HostUp: up, Healthy: map[string]bool{"z": true},
		}, summary{Remove: []string{"z"}}},
		{"an app never deployed starts nothing", AppState{
			App: &cluster.App{Name: app.Name}, HostUp: up,
		}, summary{}},
		{"a record on a host no longer in the cluster never counts, even when new", AppState{
			App: app, Records: []cluster.Instance{rec("a", "h1", 2, true), {ID: "x", App: app.Name, Revision: 2, Host: "h9", Port: 1, Routed: true, Started: t0.Add(time.Second)}},
			Containers: []cluster.Container{ctr("a", "h1", 2, true)}, HostUp: up, ObservedAt: t0,
			Hosts: map[string]bool{"h1": true, "h2": true, "h3": true},
		}, summary{Unroute: []string{"x"}, Forget: []string{"x"}, Remove: []string{"x"}, Start: 1}},
		{"a record on a known host that is late to answer still counts", AppState{
			App: app, Records: []cluster.Instance{rec("a", "h1", 2, true), rec("b", "h3", 2, true)},
			Containers: []cluster.Container{ctr("a", "h1", 2, true)}, HostUp: map[string]bool{"h1": true},
			Hosts: map[string]bool{"h1": true, "h3": true},
		}, summary{}},
		{"records marked retiring are left to their retirement", AppState{
			App: app, Records: []cluster.Instance{rec("a", "h1", 2, true), rec("b", "h2", 2, true), {ID: "old", App: app.Name, Revision: 1, Host: "h3", Port: 5, Retiring: true, RetireAfter: 7}},
			Containers: []cluster.Container{ctr("a", "h1", 2, true), ctr("b", "h2", 2, true), {ID: "old", App: app.Name, Revision: 1, Host: "h3", Port: 5, Running: true, State: "running"}}, HostUp: up,
			Healthy: map[string]bool{"a": true, "b": true, "old": true},
		}, summary{}},
		{"a retiring record on a host past its grace period is forgotten", AppState{
			App: app, Records: []cluster.Instance{rec("a", "h1", 2, true), rec("b", "h2", 2, true), {ID: "old", App: app.Name, Revision: 1, Host: "h9", Port: 5, Retiring: true}},
			Containers: []cluster.Container{ctr("a", "h1", 2, true), ctr("b", "h2", 2, true)}, HostUp: up, HostDown: map[string]bool{"h9": true},
			Healthy: map[string]bool{"a": true, "b": true},
		}, summary{Forget: []string{"old"}}},
		{"an app being deleted starts and adopts nothing", AppState{
			App: &cluster.App{Name: app.Name, Image: "img:2", Count: 2, Revision: 2, Deleting: true}, Records: []cluster.Instance{rec("a", "h1", 2, true)},
			Containers: []cluster.Container{ctr("a", "h1", 2, true), ctr("x", "h2", 2, true)}, HostUp: up,
			Healthy: map[string]bool{"a": true, "x": true},
		}, summary{Remove: []string{"x"}, Retire: []string{"a"}}},
		{"records newer than the observation are not judged", AppState{
			App:        app,
			Records:    []cluster.Instance{rec("a", "h1", 2, true), {ID: "new", App: app.Name, Revision: 2, Host: "h2", Port: 1, Started: t0.Add(time.Second)}},
			Containers: []cluster.Container{ctr("a", "h1", 2, true)}, HostUp: up, ObservedAt: t0,
		}, summary{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.st.ObservedAt.IsZero() {
				tt.st.ObservedAt = t0
			}
			if got := summarize(PlanRepair(tt.st)); !reflect.DeepEqual(got, tt.want) {
				t.Fatalf("plan = %+v\nwant   %+v", got, tt.want)
			}
		})
	}
}
