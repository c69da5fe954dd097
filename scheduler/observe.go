package scheduler

import (
	"context"
	"sync"

	"github.com/longshoreman/longshoreman/cluster"
)

// open is how every operator's operation on one app begins: it takes the
// app's lock for op (pre-empting a repair, failing with ECONFLICT on any
// other operation), settles a deploy of the app that was interrupted (see
// settle), and loads the app, refusing one whose deletion began. ctx is
// the operation's (see begin).
func (s *Scheduler) open(ctx context.Context, app, op string, progress cluster.ProgressFunc) (*cluster.App, func(), error) {
	unlock, err := s.lockTurn(ctx, app, op, progress)
	if err != nil {
		return nil, nil, err
	}
	if err := s.settle(ctx, app); err != nil {
		unlock()
		return nil, nil, err
	}
	a, err := s.store.App(app)
	if err == nil {
		err = notDeleting(a)
	}
	if err != nil {
		unlock()
		return nil, nil, err
	}
	return a, unlock, nil
}

// observe reads from the data file what a plan for app decides from; the
// caller holds the app's lock. The hosts' capacity is not asked here (see
// decide).
func (s *Scheduler) observe(a *cluster.App) (Observation, error) {
	o := Observation{App: a, Retiring: s.Retiring()}
	var err error
	if a.Deployed() && !a.Deleting {
		if o.Current, err = s.store.Revision(a.Name, a.Revision); err != nil {
			return o, err
		}
	}
	if o.Records, err = s.store.Instances(a.Name); err != nil {
		return o, err
	}
	if o.All, err = s.store.AllInstances(); err != nil {
		return o, err
	}
	hosts, err := s.store.Hosts()
	o.HostCount = len(hosts)
	return o, err
}

// decide runs plan; when the plan has instances to start and the hosts'
// capacity was not observed yet, it observes it (c.Up) and runs plan
// again, so the hosts are asked only when something is to be started and
// never while a plan is being decided.
func (s *Scheduler) decide(ctx context.Context, c *Capacity, plan func() Plan) Plan {
	p := plan()
	if p.Unplaced == 0 || c.Up != nil {
		return p
	}
	c.Up = s.hostsUp(ctx, nil)
	return plan()
}

// hostsUp pings every host that is not draining, at once, and returns the
// ones that answered with their free memory (never nil). When answered is
// not nil (the hosts a reconcile pass just heard from), only those are
// asked, for their free memory, without a ping: a host that is down costs
// no wait.
func (s *Scheduler) hostsUp(ctx context.Context, answered map[string]bool) []HostLoad {
	hosts, err := s.store.Hosts()
	if err != nil {
		s.cfg.Logger.Error("reading the hosts failed", "err", err)
		return []HostLoad{}
	}
	found := make([]HostLoad, len(hosts))
	var wg sync.WaitGroup
	for i, h := range hosts {
		if h.Draining || (answered != nil && !answered[h.Addr]) {
			continue
		}
		wg.Go(func() {
			if answered == nil {
				if err := s.ping(ctx, h.Addr); err != nil {
					s.cfg.Logger.Warn("host does not answer; placing elsewhere", "host", h.Addr, "err", err)
					return
				}
			}
			mctx, cancel := context.WithTimeout(ctx, s.cfg.PingTimeout)
			defer cancel()
			free, _ := s.engines.FreeMemory(mctx, h.Addr)
			found[i] = HostLoad{Addr: h.Addr, FreeMemory: free}
		})
	}
	wg.Wait()
	up := []HostLoad{}
	for _, hl := range found {
		if hl.Addr != "" {
			up = append(up, hl)
		}
	}
	return up
}
