package scheduler

import (
	"time"

	"github.com/longshoreman/longshoreman/cluster"
)

// AppState is what one reconcile pass observed of one app.
type AppState struct {
	App        *cluster.App        // nil when the data file has no such app
	Records    []cluster.Instance  // the app's instance records, read under the app's lock
	Containers []cluster.Container // this controller's containers of the app on hosts that answered
	HostUp     map[string]bool     // hosts whose Docker API answered this pass
	HostDown   map[string]bool     // hosts that have not answered for longer than the grace period
	Hosts      map[string]bool     // the hosts in the cluster; nil: every record's host is
	Healthy    map[string]bool     // container ids whose latest health check passed
	Unhealthy  map[string]bool     // container ids that failed enough checks to leave the table
	ObservedAt time.Time           // when Containers were listed; newer records are not judged
	Retiring   map[string]bool     // instance ids being retired in the background: left alone, as are records marked retiring
	Current    *cluster.Revision   // the app's current revision, read with Capacity when something is to be started
	Tasks      map[string]bool     // one-off task ids this controller follows, read after Containers: left to the goroutine that runs each
	// TaskRecords are the app's task records in state running, read
	// after Containers (for planTasks).
	TaskRecords []cluster.Task
	Capacity    // observed only when something is to be started
}

// PlanRepair computes, without touching anything, what brings one app back
// to its desired state: every instance of the current revision up to the
// app's count healthy and routed, nothing else running but one-off tasks
// (which are never instances, and which planTasks decides about apart).
// Its retirements do not wait for its starts: what it retires is not what
// it replaces.
func PlanRepair(s AppState) Plan {
	p := Plan{Revision: s.Current}
	switch {
	case s.App != nil:
		p.App = s.App.Name
	case len(s.Containers) > 0:
		p.App = s.Containers[0].App // an app the data file does not know
	case len(s.Records) > 0:
		p.App = s.Records[0].App
	}
	byID := map[string]cluster.Container{}
	for _, ct := range s.Containers {
		byID[ct.ID] = ct
	}
	want, current := 0, 0
	if s.App != nil && s.App.Deployed() && !s.App.Deleting {
		want, current = s.App.Count, s.App.Revision
	}

	known := map[string]bool{}
	var live []cluster.Instance // records that count toward the app's count
	for _, rec := range s.Records {
		known[rec.ID] = true
		if s.Retiring[rec.ID] || rec.Retiring {
			// Its retirement stops it; only a record whose host is gone is
			// dropped here, since no retirement can stop that one.
			if s.HostDown[rec.Host] || (s.Hosts != nil && !s.Hosts[rec.Host]) {
				p.Forget = append(p.Forget, rec)
			}
			continue
		}
		switch ct, seen := byID[rec.ID]; {
		case s.Hosts != nil && !s.Hosts[rec.Host]:
			// Its host left the cluster: it never counts, and its container
			// is stopped if that host still answers.
			p.unroute(rec)
			p.Forget = append(p.Forget, rec)
			p.Remove = append(p.Remove, cluster.Container{ID: rec.ID, App: rec.App, Revision: rec.Revision, Host: rec.Host, Port: rec.Port})
		case rec.Started.After(s.ObservedAt):
			live = append(live, rec) // newer than what was observed: judge it next pass
		case s.HostDown[rec.Host]:
			p.unroute(rec)
			p.Forget = append(p.Forget, rec)
		case !s.HostUp[rec.Host]:
			live = append(live, rec) // the host is late to answer, not yet down
			if rec.Routed && s.Unhealthy[rec.ID] {
				p.Unroute = append(p.Unroute, rec)
			}
		case !seen:
			p.unroute(rec)
			p.Forget = append(p.Forget, rec)
		case !ct.Running || ct.State == "restarting" || ct.Port != rec.Port || ct.OOMKilled:
			// Died (or came back on another port, or was killed for memory
			// and restarted by Docker in place): replace it.
			p.unroute(rec)
			p.Forget = append(p.Forget, rec)
			p.Remove = append(p.Remove, ct)
		case rec.Revision != current && !s.canary(rec):
			p.Retire = append(p.Retire, rec)
		default:
			live = append(live, rec)
			if rec.Routed && s.Unhealthy[rec.ID] {
				p.Unroute = append(p.Unroute, rec)
			} else if !rec.Routed && s.Healthy[rec.ID] {
				p.Route = append(p.Route, rec)
			}
		}
	}

	// A canary's instances are routed by their health like the others,
	// but neither count toward the app's count nor are retired for it.
	if s.App != nil && !s.App.Deleting {
		live = withoutCanary(s.App, live)
	}
	deficit := p.adoptOrRemove(s, known, want-len(live), current)
	p.fill(s, deficit, live)
	return p
}

// canary reports whether rec is an instance of the app's canary, which a
// repair leaves running (unless the app is being deleted).
func (s AppState) canary(rec cluster.Instance) bool {
	return s.App != nil && !s.App.Deleting && s.App.IsCanary(rec)
}

// adoptOrRemove adopts, up to deficit, the unknown healthy containers of
// the current revision, and removes the other unknown containers (one-off
// tasks aside: see planTasks). It returns the deficit left.
func (p *Plan) adoptOrRemove(s AppState, known map[string]bool, deficit, current int) int {
	for _, ct := range s.Containers {
		if known[ct.ID] || ct.Task != "" {
			continue
		}
		if deficit > 0 && ct.Revision == current && current > 0 && ct.Running && ct.State != "restarting" && !ct.OOMKilled && s.Healthy[ct.ID] {
			p.Adopt = append(p.Adopt, ct)
			deficit--
		} else {
			p.Remove = append(p.Remove, ct)
		}
	}
	return deficit
}

// fill places deficit new instances of the current revision, or, when
// deficit is negative, retires as many of live. The instances of a pinned
// revision that no pinned host can take are reported down (PinnedDown),
// never moved somewhere without their data, once capacity was observed.
func (p *Plan) fill(s AppState, deficit int, live []cluster.Instance) {
	if deficit < 0 {
		p.Retire = append(p.Retire, PickRemovals(-deficit, live, nil)...)
		return
	}
	if deficit == 0 {
		return
	}
	p.Unplaced = deficit
	if s.Current != nil {
		p.place(deficit, s.Capacity, nil, nil)
	}
	if s.Current.Pinned() && s.Capacity.Up != nil {
		p.PinnedDown, p.Unplaced = p.Unplaced, 0
	}
}

func (p *Plan) unroute(rec cluster.Instance) {
	if rec.Routed {
		p.Unroute = append(p.Unroute, rec)
	}
}
