package scheduler

import (
	"fmt"
	"testing"

	"github.com/longshoreman/longshoreman/cluster"
)

// A repair reports as died the instances whose container it found
// stopped, routed or not (a health check may have unrouted one first),
// each once however often it is seen, and none that this controller
// stopped itself.
func TestReportDead(t *testing.T) {
	rec := func(id string, routed bool) cluster.Instance {
		return cluster.Instance{ID: id, App: "a.example.com", Revision: 2, Host: "10.0.0.5", Port: 32768 + int(id[0]), Routed: routed}
	}
	exited := func(id string) cluster.Container { return cluster.Container{ID: id, State: "exited"} }
	tests := []struct {
		name string
		plan Plan
		want []string // instance ids reported died
	}{
		{"a routed instance whose container exited", Plan{Forget: []cluster.Instance{rec("a", true)}, Remove: []cluster.Container{exited("a")}}, []string{"a"}},
		{"reported once", Plan{Forget: []cluster.Instance{rec("a", true)}, Remove: []cluster.Container{exited("a")}}, nil},
		{"unrouted by its health check, then exited", Plan{Forget: []cluster.Instance{rec("b", false)}, Remove: []cluster.Container{exited("b")}}, []string{"b"}},
		{"stopped by this controller", Plan{Forget: []cluster.Instance{rec("x", false)}, Remove: []cluster.Container{exited("x")}}, nil},
		{"killed for memory: its own event", Plan{Forget: []cluster.Instance{rec("c", true)}, Remove: []cluster.Container{{ID: "c", State: "exited", OOMKilled: true}}}, nil},
		{"its host left the cluster: not observed", Plan{Forget: []cluster.Instance{rec("d", true)}, Remove: []cluster.Container{{ID: "d"}}}, nil},
		{"running on another port", Plan{Forget: []cluster.Instance{rec("e", true)}, Remove: []cluster.Container{{ID: "e", State: "running", Running: true}}}, nil},
		{"gone with its host down: forgotten, not removed", Plan{Forget: []cluster.Instance{rec("f", true)}}, nil},
		{"two at once", Plan{Forget: []cluster.Instance{rec("g", true), rec("h", true)}, Remove: []cluster.Container{exited("h"), exited("g")}}, []string{"g", "h"}},
	}
	var got []cluster.Event
	s := &Scheduler{cfg: Config{Events: func(e cluster.Event) { got = append(got, e) }}}
	s.deaths.expect("x")
	for _, tt := range tests {
		got = nil
		s.reportDead(tt.plan)
		var ids []string
		for _, e := range got {
			if e.Type != cluster.EventInstance || e.Step != "died" || e.Host != "10.0.0.5" || e.Revision != 2 || e.Time.IsZero() {
				t.Errorf("%s: event %+v", tt.name, e)
			}
			for _, r := range tt.plan.Forget {
				if r.Addr() == e.Instance {
					ids = append(ids, r.ID)
					break
				}
			}
		}
		if fmt.Sprint(ids) != fmt.Sprint(tt.want) {
			t.Errorf("%s: died %v, want %v", tt.name, ids, tt.want)
		}
	}
	// The host's event stream and a pass seeing the same death: one event.
	got = nil
	s.reportDied(rec("i", true), "kill")
	s.reportDead(Plan{Forget: []cluster.Instance{rec("i", true)}, Remove: []cluster.Container{exited("i")}})
	if len(got) != 1 || got[0].Message != "kill" {
		t.Errorf("a death seen twice: %+v", got)
	}
}
