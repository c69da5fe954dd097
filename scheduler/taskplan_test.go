package scheduler

import (
	"reflect"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/longshoreman/longshoreman/cluster"
)

// TestPlanTasks: what becomes of one-off tasks no goroutine of this
// controller follows, for every case of a container and a record.
func TestPlanTasks(t *testing.T) {
	t0 := time.Unix(1_700_000_000, 0)
	const app = "a.example.com"
	ctr := func(taskID, host, state string, deadline time.Time) cluster.Container {
		return cluster.Container{ID: "c-" + taskID, App: app, Revision: 2, Host: host, Task: taskID, TaskDeadline: deadline,
			Running: state == "running", State: state}
	}
	rec := func(id, host string, started time.Time) cluster.Task {
		return cluster.Task{ID: id, App: app, Revision: 2, Host: host, State: cluster.TaskRunning, Started: started, Deadline: started.Add(time.Hour)}
	}
	before, later := t0.Add(-time.Minute), t0.Add(time.Hour)
	up := map[string]bool{"h1": true, "h2": true}
	hosts := map[string]bool{"h1": true, "h2": true, "h3": true, "h4": true}
	tests := []struct {
		name      string
		st        AppState
		end, lose []string // container ids; task ids, each with a word its reason must hold
	}{
		{"a followed task is its goroutine's, running", AppState{
			Containers: []cluster.Container{ctr("t1", "h1", "running", before)}, Tasks: map[string]bool{"t1": true}, TaskRecords: []cluster.Task{rec("t1", "h1", before)}, HostUp: up,
		}, nil, nil},
		{"a followed task is its goroutine's, exited", AppState{
			Containers: []cluster.Container{ctr("t1", "h1", "exited", later)}, Tasks: map[string]bool{"t1": true}, HostUp: up,
		}, nil, nil},
		{"an unfollowed task within its deadline runs on", AppState{
			Containers: []cluster.Container{ctr("t1", "h1", "running", later)}, TaskRecords: []cluster.Task{rec("t1", "h1", before)}, HostUp: up,
		}, nil, nil},
		{"an unfollowed task past its deadline is ended", AppState{
			Containers: []cluster.Container{ctr("t1", "h1", "running", before)}, TaskRecords: []cluster.Task{rec("t1", "h1", before)}, HostUp: up,
		}, []string{"c-t1"}, nil},
		{"a task container without a deadline (an earlier release's) is past it", AppState{
			Containers: []cluster.Container{ctr("t1", "h1", "running", time.Time{})}, HostUp: up,
		}, []string{"c-t1"}, nil},
		{"an unfollowed task that exited is ended", AppState{
			Containers: []cluster.Container{ctr("t1", "h1", "exited", later)}, TaskRecords: []cluster.Task{rec("t1", "h1", before)}, HostUp: up,
		}, []string{"c-t1"}, nil},
		{"an unfollowed task created but never started is ended", AppState{
			Containers: []cluster.Container{ctr("t1", "h1", "created", later)}, TaskRecords: []cluster.Task{rec("t1", "h1", before)}, HostUp: up,
		}, []string{"c-t1"}, nil},
		{"an exited task without a record (pruned, or of an unknown app) is ended", AppState{
			Containers: []cluster.Container{ctr("t1", "h1", "exited", later)}, HostUp: up,
		}, []string{"c-t1"}, nil},
		{"a record whose container is gone from a host that answered is lost", AppState{
			TaskRecords: []cluster.Task{rec("t1", "h1", before)}, HostUp: up, Hosts: hosts,
		}, nil, []string{"t1 gone from h1"}},
		{"a record on a host late to answer waits", AppState{
			TaskRecords: []cluster.Task{rec("t1", "h3", before)}, HostUp: up, Hosts: hosts,
		}, nil, nil},
		{"a record on a host down is lost", AppState{
			TaskRecords: []cluster.Task{rec("t1", "h4", before)}, HostUp: up, HostDown: map[string]bool{"h4": true}, Hosts: hosts,
		}, nil, []string{"t1 stopped answering"}},
		{"a record on a host that left the cluster is lost", AppState{
			TaskRecords: []cluster.Task{rec("t1", "h9", before)}, HostUp: up, Hosts: hosts,
		}, nil, []string{"t1 left the cluster"}},
		{"a record newer than the observation is not judged", AppState{
			TaskRecords: []cluster.Task{rec("t1", "h1", t0.Add(time.Second))}, HostUp: up, Hosts: hosts,
		}, nil, nil},
		{"a followed record whose container is not listed yet waits", AppState{
			TaskRecords: []cluster.Task{rec("t1", "h1", before)}, Tasks: map[string]bool{"t1": true}, HostUp: up, Hosts: hosts,
		}, nil, nil},
		{"instances are not tasks", AppState{
			Containers: []cluster.Container{{ID: "i", App: app, Revision: 2, Host: "h1", Port: 3000, State: "exited"}}, HostUp: up,
		}, nil, nil},
		{"several at once", AppState{
			Containers:  []cluster.Container{ctr("t1", "h1", "exited", later), ctr("t2", "h2", "running", later), ctr("t3", "h2", "running", before)},
			TaskRecords: []cluster.Task{rec("t1", "h1", before), rec("t2", "h2", before), rec("t3", "h2", before), rec("t4", "h1", before), rec("t5", "h3", before)},
			HostUp:      up, Hosts: hosts,
		}, []string{"c-t1", "c-t3"}, []string{"t4 gone from h1"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.st.App, tt.st.ObservedAt = &cluster.App{Name: app}, t0
			end, lost := planTasks(tt.st)
			var ends []string
			for _, ct := range end {
				ends = append(ends, ct.ID)
			}
			sort.Strings(ends)
			if !reflect.DeepEqual(ends, tt.end) {
				t.Errorf("ended %v, want %v", ends, tt.end)
			}
			if len(lost) != len(tt.lose) {
				t.Fatalf("lost %+v, want %v", lost, tt.lose)
			}
			sort.Slice(lost, func(i, j int) bool { return lost[i].Task.ID < lost[j].Task.ID })
			for i, want := range tt.lose {
				id, words, _ := strings.Cut(want, " ")
				if lost[i].Task.ID != id || !strings.Contains(lost[i].Reason, words) {
					t.Errorf("lost %s (%q), want %s with %q", lost[i].Task.ID, lost[i].Reason, id, words)
				}
			}
		})
	}
}
