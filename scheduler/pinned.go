package scheduler

import (
	"context"
	"fmt"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/longshoreman/longshoreman/cluster"
)

// Apps pinned to hosts (cluster.Revision.Hosts) run there only; those with
// volumes run one instance per pinned host and are replaced stop-first on
// each (see cluster/volume.go). Placement (Plan.place) keeps them on their
// hosts; this file holds what else differs: the deploy's fields, the
// stop-first rollout with its hold, and the refusal to drain a pinned host.

// deployPlacement sets rev's volumes, pinned hosts and hold from the
// request (nil keeps the app's; an empty list clears them) and checks
// them: every pinned host must be one of the cluster's, and an app with
// volumes runs at most one instance per pinned host (by default one on
// each).
func (s *Scheduler) deployPlacement(req cluster.DeployRequest, a *cluster.App, rev *cluster.Revision) error {
	rev.Volumes, rev.Hosts, rev.Hold = orCurrent(req.Volumes, a.Volumes), orCurrent(req.Hosts, a.Hosts), a.Hold
	if req.Hold > 0 {
		rev.Hold = req.Hold
	}
	hosts, err := cluster.ValidatePlacement(rev.Volumes, rev.Hosts)
	if err != nil {
		return err
	}
	rev.Hosts = hosts
	if len(hosts) == 0 {
		rev.Hosts = nil
		return nil
	}
	known, err := s.store.Hosts()
	if err != nil {
		return err
	}
	for _, h := range hosts {
		if !slices.ContainsFunc(known, func(k cluster.Host) bool { return k.Addr == h }) {
			return cluster.Errorf(cluster.EINVALID, "Host %s, to pin %s to, is not in the cluster", h, a.Name).WithFix("add it first with", cluster.OpAddHost, cluster.ArgHost, h)
		}
	}
	if !rev.StopFirst() {
		return nil
	}
	switch {
	case req.Count == 0:
		rev.Count = len(hosts)
	case req.Count > len(hosts):
		return cluster.Errorf(cluster.EINVALID, "App %s has volumes (%s) and runs one instance per pinned host: %d instances need %d hosts, and %d are given", a.Name, strings.Join(rev.Volumes, ", "), req.Count, req.Count, len(hosts)).WithFix("give a --host for each instance, or a lower count, to", cluster.OpDeploy, cluster.ArgApp, a.Name)
	}
	return nil
}

// refusePinned refuses to drain addr while apps are pinned to it (their
// data is there), naming them and their volumes, unless force is set:
// then their instances there are stopped (see PlanDrain).
func (s *Scheduler) refusePinned(addr string, force bool) error {
	apps, err := s.store.AllApps()
	if err != nil {
		return err
	}
	var pinned []string
	for _, a := range apps {
		if a.Deleting || !slices.Contains(a.Hosts, addr) {
			continue
		}
		what := "no volumes"
		if len(a.Volumes) > 0 {
			what = "volumes " + strings.Join(a.Volumes, ", ")
		}
		pinned = append(pinned, fmt.Sprintf("%s (%s)", a.Name, what))
	}
	if len(pinned) == 0 {
		return nil
	}
	sort.Strings(pinned)
	if force {
		s.cfg.Logger.Warn("removing a pinned host: the apps pinned to it stop there, and their volumes stay on it", "host", addr, "apps", strings.Join(pinned, "; "))
		return nil
	}
	return cluster.Errorf(cluster.ECONFLICT, "Host %s keeps the data of the apps pinned to it, which cannot move without it: %s. Deploy them pinned to other hosts first (their volumes do not move with them)", addr, strings.Join(pinned, "; ")).WithFix("or stop them there and remove the host anyway with", cluster.OpRemoveHost, cluster.ArgHost, addr, cluster.ArgForce, "true")
}

// HostStep is one host of a stop-first rollout: the old instances on it
// leave, then a new one starts there when Start is set.
type HostStep struct {
	Host   string
	Retire []cluster.Instance
	Start  bool
}

// StopFirstSteps orders a deploy plan of an app with volumes host by host
// (in address order): each host's old instances are retired before its
// new instance starts. Hosts that only lose instances (a lower count, a
// host no longer pinned) come last.
func StopFirstSteps(p Plan) []HostStep {
	byHost := map[string]*HostStep{}
	var order []string
	step := func(h string) *HostStep {
		if byHost[h] == nil {
			byHost[h] = &HostStep{Host: h}
			order = append(order, h)
		}
		return byHost[h]
	}
	for _, h := range p.Start {
		step(h).Start = true
	}
	for _, inst := range p.Retire {
		st := step(inst.Host)
		st.Retire = append(st.Retire, inst)
	}
	sort.SliceStable(order, func(i, j int) bool {
		a, b := byHost[order[i]], byHost[order[j]]
		if a.Start != b.Start {
			return a.Start
		}
		return addrLess(a.Host, b.Host)
	})
	out := make([]HostStep, len(order))
	for i, h := range order {
		out[i] = *byHost[h]
	}
	return out
}

// rollOutStopFirst replaces the instances of an app with volumes host by
// host (StopFirstSteps): on each host the old instance is unrouted,
// drained and stopped before the new one starts on the same volumes, so a
// volume never has two writers. Meanwhile the app is held
// (cluster.App.Holding): routers keep its requests while it has no routed
// instance, up to its hold, instead of failing them. When a new instance
// fails, the revision fails: the hosts before keep the new revision, and
// the reconciler brings the current one back on the others, stop-first
// too (placement takes no host that still runs one of the app's).
func (s *Scheduler) rollOutStopFirst(ctx context.Context, c *change, o Observation, rev *cluster.Revision) ([]cluster.Instance, error) {
	p := s.decide(ctx, &o.Capacity, func() Plan { return PlanDeploy(o, rev) })
	if p.Unplaced > 0 {
		return nil, p.noHost()
	}
	if err := s.setHolding(ctx, rev.App, true); err != nil {
		return nil, err
	}
	defer s.setHolding(context.WithoutCancel(ctx), rev.App, false)
	var started []cluster.Instance
	for _, step := range StopFirstSteps(p) {
		if len(step.Retire) > 0 {
			c.report(cluster.Progress{Step: "stopping", Host: step.Host, Message: fmt.Sprintf("stop-first: the old instance leaves before a new one uses its volumes; the routers hold requests for up to %s", rev.HoldOr())})
			s.retire(ctx, c, step.Retire, false)
		}
		if err := ctx.Err(); err != nil {
			return started, err
		}
		if !step.Start {
			continue
		}
		insts, err := s.startPlanned(ctx, c, Plan{App: rev.App, Revision: rev, Start: []string{step.Host}})
		if err != nil {
			return started, err
		}
		started = append(started, insts...)
	}
	return started, nil
}

// setHolding marks the app held (or no longer) and has the table
// published.
func (s *Scheduler) setHolding(ctx context.Context, app string, on bool) error {
	_, err := s.fenced(ctx).UpdateApp(app, func(a *cluster.App) error { a.Holding = on; return nil })
	if err != nil {
		s.cfg.Logger.Error("marking the app held failed", "app", app, "holding", on, "err", err)
		return err
	}
	s.cfg.RoutesChange()
	return nil
}

// clearHolding ends the hold that a stop-first deploy cut short (its
// controller stopped, or lost the leadership) left on the app.
func (s *Scheduler) clearHolding(ctx context.Context, app string) {
	if a, err := s.store.App(app); err == nil && a.Holding {
		_ = s.setHolding(ctx, app, false)
	}
}

// reportPinnedDown says that n instances of an app pinned to hosts cannot
// run because their hosts do not answer: they are not moved elsewhere,
// away from their data. It says so once a minute, not at every pass.
func (s *Scheduler) reportPinnedDown(app string, rev *cluster.Revision, n int) {
	s.mu.Lock()
	due := time.Since(s.pinnedDown[app]) > time.Minute
	if due {
		s.pinnedDown[app] = time.Now()
	}
	s.mu.Unlock()
	if !due {
		return
	}
	msg := fmt.Sprintf("%d instance(s) of %s are down: the app is pinned to %s, whose hosts do not all answer, and is not moved away from its volumes", n, app, strings.Join(rev.Hosts, ", "))
	s.cfg.Logger.Warn(msg, "app", app)
	s.emit(cluster.Event{Type: cluster.EventInstance, Step: "down", App: app, Revision: rev.Number, Message: msg})
}
