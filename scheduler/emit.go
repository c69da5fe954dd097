package scheduler

import "github.com/longshoreman/longshoreman/cluster"

// Emit passes e to Config.Events, stamped with the time, for the parts of
// the controller outside the scheduler (leadership, tasks, certificates).
// It never blocks longer than the hook does.
func (s *Scheduler) Emit(e cluster.Event) { s.emit(e) }

// emitStep emits a deploy's step, and for the steps that change what is
// routed, the instance's own event too, so that a client following one
// instance need not read deploy steps.
func (s *Scheduler) emitStep(app string, revision int, p cluster.Progress) {
	s.emit(cluster.Event{Type: cluster.EventDeploy, Step: p.Step, App: app, Revision: revision,
		Host: p.Host, Instance: p.Instance, Message: p.Message, Elapsed: p.Elapsed})
	if p.Step == "routed" || p.Step == "unrouted" {
		s.emit(cluster.Event{Type: cluster.EventInstance, Step: p.Step, App: app, Revision: revision, Host: p.Host, Instance: p.Instance})
	}
}

// emitInstances emits step ("routed", "unrouted") for each instance.
func (s *Scheduler) emitInstances(step string, insts []cluster.Instance) {
	for _, i := range insts {
		s.emit(cluster.Event{Type: cluster.EventInstance, Step: step, App: i.App, Revision: i.Revision, Host: i.Host, Instance: i.Addr()})
	}
}

// instanceEvents is the progress of a change no client waits for (a
// repair, kill, drain, rebalance): the instances it routes and unroutes
// are still events.
func (s *Scheduler) instanceEvents(app string) cluster.ProgressFunc {
	return func(p cluster.Progress) {
		if p.Step == "routed" || p.Step == "unrouted" {
			s.emit(cluster.Event{Type: cluster.EventInstance, Step: p.Step, App: app, Host: p.Host, Instance: p.Instance})
		}
	}
}
