package scheduler

import (
	"context"
	"fmt"
	"time"

	"github.com/longshoreman/longshoreman/cluster"
)

// oomKill is a container reported killed for memory: its host, and when
// the report was made.
type oomKill struct {
	host  string
	noted time.Time
}

// oomMemory is how long a container reported killed for memory is
// remembered once it is gone: Docker's oom event for it may come after a
// pass saw it dead, reported it and replaced it (a loaded daemon's events
// lag), and is not reported again.
const oomMemory = 10 * time.Minute

// killedForMemory reports, once per container, that the kernel killed
// container id (of revision rev of app) on host for going past its memory
// limit: in the log, as an instance event, and in its revision's history
// (OOMKills). The container is then replaced by the next pass (see
// markKilledForMemory), whether it stays dead or Docker restarts it. The
// history is counted even when the instance's record is gone already (a
// pass that saw it dead may replace it before its oom event arrives). A
// container of an app this controller does not have is not reported.
func (r *Reconciler) killedForMemory(ctx context.Context, host, app, id string, rev int, at time.Time) {
	r.mu.Lock()
	_, seen := r.oom[id]
	if !seen {
		r.oom[id] = oomKill{host: host, noted: time.Now()}
	}
	r.mu.Unlock()
	if seen {
		return
	}
	r.s.noteOOM(id, true)
	if _, err := r.s.store.App(app); cluster.ErrorCode(err) == cluster.ENOTFOUND {
		return // another controller's container on a shared host, or of an app deleted since
	}
	if at.IsZero() {
		at = time.Now()
	}
	addr, limit := host+" (container "+short(id)+")", "no limit known"
	if insts, err := r.s.store.Instances(app); err == nil {
		for _, inst := range insts {
			if inst.ID == id {
				addr, rev, limit = inst.Addr(), inst.Revision, "no limit"
				if inst.Memory > 0 {
					limit = "limit " + inst.Memory.String()
				}
			}
		}
	}
	if rev == 0 {
		return // not an instance of ours: no revision to count it in
	}
	r.s.cfg.Logger.Warn("instance killed for memory (oom): replacing it", "app", app, "revision", rev,
		"instance", addr, "container", short(id), "memory", limit)
	r.s.emit(cluster.Event{Type: cluster.EventInstance, Step: "oom", App: app, Revision: rev, Host: host,
		Instance: addr, Message: fmt.Sprintf("killed for memory (%s); replacing it", limit), Time: at.UTC()})
	if err := r.s.fenced(ctx).RecordOOM(app, rev, at); err != nil && cluster.ErrorCode(err) != cluster.ENOTFOUND {
		r.s.cfg.Logger.Error("recording a kill for memory in the history failed", "app", app, "revision", rev, "err", err)
	}
}

// markKilledForMemory sets OOMKilled on the observed containers known to
// have been killed for memory, and reports those Docker says were (a
// restarted container keeps State.OOMKilled) when their oom event was not
// seen. It forgets the containers that are gone from hosts that answered,
// when they were reported oomMemory or more before observedAt.
func (r *Reconciler) markKilledForMemory(ctx context.Context, containers []cluster.Container, up map[string]bool, observedAt time.Time) {
	var unreported []cluster.Container
	r.mu.Lock()
	if len(r.oom) > 0 {
		present := make(map[string]bool, len(containers))
		for i := range containers {
			present[containers[i].ID] = true
			if _, known := r.oom[containers[i].ID]; known {
				containers[i].OOMKilled = true
			} else if containers[i].OOMKilled {
				unreported = append(unreported, containers[i])
			}
		}
		for id, k := range r.oom {
			if up[k.host] && !present[id] && k.noted.Before(observedAt.Add(-oomMemory)) {
				delete(r.oom, id)
				r.s.noteOOM(id, false)
			}
		}
	} else {
		for _, ct := range containers {
			if ct.OOMKilled {
				unreported = append(unreported, ct)
			}
		}
	}
	r.mu.Unlock()
	for _, ct := range unreported {
		r.killedForMemory(ctx, ct.Host, ct.App, ct.ID, ct.Revision, time.Time{})
	}
}

// noteOOM records (or, once the container is gone, forgets) that container
// id was killed for memory.
func (s *Scheduler) noteOOM(id string, killed bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if killed {
		s.oomKilled[id] = true
	} else {
		delete(s.oomKilled, id)
	}
}

// wasOOM reports whether container id was seen killed for memory. A
// container with a memory limit that stopped or restarted is given a
// moment for its oom event to arrive, since the event stream may lag the
// inspect that saw it stop.
func (s *Scheduler) wasOOM(ctx context.Context, inst cluster.Instance) bool {
	for wait := 0; ; wait++ {
		s.mu.Lock()
		killed := s.oomKilled[inst.ID]
		s.mu.Unlock()
		if killed || inst.Memory == 0 || wait == 10 {
			return killed
		}
		select {
		case <-ctx.Done():
			return false
		case <-time.After(100 * time.Millisecond):
		}
	}
}
