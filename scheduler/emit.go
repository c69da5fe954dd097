package scheduler

import (
	"sync"
	"time"

	"github.com/longshoreman/longshoreman/cluster"
)

// Emit passes e to Config.Events, stamped with the time, for the parts of
// the controller outside the scheduler (leadership, tasks, certificates).
// It never blocks longer than the hook does.
func (s *Scheduler) Emit(e cluster.Event) { s.emit(e) }

// emitStep emits a deploy's step. The instances it routes and unroutes
// are events of their own, emitted where they change (emitInstances), so
// that a client following one instance need not read deploy steps.
func (s *Scheduler) emitStep(app string, revision int, p cluster.Progress) {
	s.emit(cluster.Event{Type: cluster.EventDeploy, Step: p.Step, App: app, Revision: revision,
		Host: p.Host, Instance: p.Instance, Message: p.Message, Elapsed: p.Elapsed})
}

// emitInstances emits step ("routed", "unrouted") for each instance, with
// the instance's own revision, whatever change routes or unroutes it (a
// deploy, a repair, a kill, a drain, a rebalance).
func (s *Scheduler) emitInstances(step string, insts []cluster.Instance) {
	for _, i := range insts {
		s.emit(cluster.Event{Type: cluster.EventInstance, Step: step, App: i.App, Revision: i.Revision, Host: i.Host, Instance: i.Addr()})
	}
}

// deaths remembers for a while the instances reported died and those
// this controller stops itself: a death is seen both by the host's event
// stream and by a reconcile pass, in either order, and is reported by the
// first; a stop the controller made is not news.
type deaths struct {
	mu   sync.Mutex           // guards seen
	seen map[string]time.Time // instance id -> when reported or stopped
}

// first reports whether id was not reported in the last ten minutes, and
// records it.
func (d *deaths) first(id string) bool {
	d.mu.Lock()
	defer d.mu.Unlock()
	now := time.Now()
	if d.seen == nil {
		d.seen = map[string]time.Time{}
	}
	for k, t := range d.seen {
		if now.Sub(t) > 10*time.Minute {
			delete(d.seen, k)
		}
	}
	if _, ok := d.seen[id]; ok {
		return false
	}
	d.seen[id] = now
	return true
}

// expect records that this controller is stopping the container id, so
// its end is not reported as a death.
func (d *deaths) expect(id string) { d.first(id) }

// reportDied emits an instance's death, once; how says what Docker saw
// (die, kill, stop) or "exited" when a pass found the container stopped.
func (s *Scheduler) reportDied(i cluster.Instance, how string) {
	if s.deaths.first(i.ID) {
		s.emit(cluster.Event{Type: cluster.EventInstance, Step: "died", App: i.App, Revision: i.Revision, Host: i.Host, Instance: i.Addr(), Message: how})
	}
}

// reportDead reports the instances a repair forgets because their
// container stopped (not those killed for memory, which have their own
// event): the host's event stream may not have said so first. Routed or
// not: a health check may have unrouted one before its death was seen.
func (s *Scheduler) reportDead(p Plan) {
	for _, rec := range p.Forget {
		for _, ct := range p.Remove {
			if ct.ID == rec.ID && ct.State != "" && !ct.Running && !ct.OOMKilled { // State "": not observed (its host left)
				s.reportDied(rec, "exited")
			}
		}
	}
}
