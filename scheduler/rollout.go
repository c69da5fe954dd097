package scheduler

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/longshoreman/longshoreman/cluster"
)

// change carries what the executor reports while it runs one plan.
type change struct {
	app      string
	rev      *cluster.Revision
	progress cluster.ProgressFunc
	start    time.Time
	stop     *stopping // the app's drain and stop timeout; read by s.stopping when nil
	rollback bool      // a rollback: its image may have been pruned from the hosts (pullAll says so)
}

func (c *change) report(p cluster.Progress) {
	if c.progress != nil {
		p.Elapsed = time.Since(c.start).Milliseconds()
		c.progress(p)
	}
}

// run carries out a plan, in the order Plan documents, and returns the
// instances it started. When starting fails, every new instance is
// removed, and the error says which one failed and why; a plan that
// Replaces then retires nothing. A ctx that ends (a repair pre-empted by an
// operator) removes the new instances and stops before the retirements;
// operators' operations run with a ctx that does not end.
func (s *Scheduler) run(ctx context.Context, c *change, p Plan) ([]cluster.Instance, error) {
	if c.start.IsZero() {
		c.start = time.Now()
	}
	if c.rev == nil {
		c.rev = p.Revision
	}
	s.dropBroken(ctx, c, p)
	s.routeServing(ctx, p)
	started, err := s.startPlanned(ctx, c, p)
	if err != nil && p.Replace {
		return nil, err
	}
	if ctx.Err() != nil {
		return started, ctx.Err()
	}
	s.retire(ctx, c, p.Retire, !p.Urgent)
	return started, err
}

// dropBroken takes what is broken out of the table and away at once.
func (s *Scheduler) dropBroken(ctx context.Context, c *change, p Plan) {
	if len(p.Unroute) > 0 {
		_ = s.fenced(ctx).SetRouted(p.App, instanceIDs(p.Unroute), false)
		s.cfg.RoutesChange()
		s.emitInstances("unrouted", p.Unroute)
	}
	for _, rec := range p.Forget {
		_ = s.fenced(ctx).DeleteInstance(p.App, rec.ID)
	}
	s.reportDead(p)
	if len(p.Remove) > 0 {
		s.stopContainers(ctx, p.Remove, s.stopping(c).timeout, nil)
	}
}

// routeServing records and routes adopted containers and routes the
// instances that are healthy again.
func (s *Scheduler) routeServing(ctx context.Context, p Plan) {
	routed := false
	for _, ct := range p.Adopt {
		inst := cluster.Instance{ID: ct.ID, App: p.App, Revision: ct.Revision, Host: ct.Host, Port: ct.Port, Routed: true, Started: time.Now().UTC()}
		inst.Memory = s.revisionMemory(p, ct.Revision)
		if err := s.fenced(ctx).PutInstance(inst); err == nil {
			routed = true
			s.emitInstances("routed", []cluster.Instance{inst})
			s.cfg.Logger.Info("adopted a running container", "app", p.App, "instance", inst.Addr())
		}
	}
	if len(p.Route) > 0 {
		_ = s.fenced(ctx).SetRouted(p.App, instanceIDs(p.Route), true)
		routed = true
		s.emitInstances("routed", p.Route)
	}
	if routed {
		s.cfg.RoutesChange()
	}
}

// revisionMemory is the memory limit of the app's revision number, which
// an adopted container runs with (it was started for that revision).
func (s *Scheduler) revisionMemory(p Plan, number int) cluster.Bytes {
	if p.Revision != nil && p.Revision.Number == number {
		return p.Revision.Memory
	}
	if rev, err := s.store.Revision(p.App, number); err == nil {
		return rev.Memory
	}
	return 0
}

// startPlanned starts the plan's new instances and routes them once all
// are healthy.
func (s *Scheduler) startPlanned(ctx context.Context, c *change, p Plan) ([]cluster.Instance, error) {
	if p.Unplaced > 0 {
		return nil, p.noHost()
	}
	if len(p.Start) == 0 {
		return nil, nil
	}
	started, err := s.startInstances(ctx, c, p.Start)
	if err != nil {
		return nil, err
	}
	if err := ctx.Err(); err != nil {
		// A repair pre-empted by an operator: its instances go.
		s.stopAll(context.WithoutCancel(ctx), c, started)
		return nil, err
	}
	if err := s.fenced(ctx).SetRouted(c.app, instanceIDs(started), true); err != nil {
		s.stopAll(context.WithoutCancel(ctx), c, started)
		return nil, err
	}
	s.cfg.RoutesChange()
	for _, inst := range started {
		c.report(cluster.Progress{Step: "routed", Host: inst.Host, Instance: inst.Addr()})
	}
	s.emitInstances("routed", started)
	return started, nil
}

// retire unroutes instances, waits until the routers have been sent a
// table without them and the drain delay has passed so in-flight requests
// end, then stops and forgets them. The data file marks them retiring with
// the routing version that must go out first, so a restart resumes the
// retirement instead of stopping what routers may still use. When the
// table cannot be published soon (Redis is away), a deferrable retirement
// goes on in the background, so Redis never blocks a deploy, and the old
// containers keep serving whoever still routes to them until the routers
// are told; the reconciler leaves them alone meanwhile. A retirement that
// is not deferrable (kill, delete) stops them anyway after PublishWait.
func (s *Scheduler) retire(ctx context.Context, c *change, insts []cluster.Instance, deferrable bool) {
	if len(insts) == 0 {
		return
	}
	// Marked before the data file marks them, so that a reconcile pass
	// never takes this retirement for one a stopped controller (or an
	// ended term) left (resumeRetirements) and stops them a second time.
	defer s.markRetiring(ctx, insts)()
	version, err := s.fenced(ctx).Retire(c.app, instanceIDs(insts))
	if err != nil {
		s.cfg.Logger.Error("unroute failed", "app", c.app, "err", err)
	}
	routed := false
	for _, inst := range insts {
		// A record already retiring was unrouted by an earlier run, whose
		// routers may not have been told yet.
		routed = routed || inst.Routed || inst.Retiring
	}
	if !routed {
		s.stopAll(ctx, c, insts) // never in a table: nobody routes to them
		return
	}
	s.cfg.RoutesChange()
	for _, inst := range insts {
		c.report(cluster.Progress{Step: "unrouted", Host: inst.Host, Instance: inst.Addr()})
	}
	s.emitInstances("unrouted", insts)
	if !s.waitPublished(ctx, version, s.cfg.PublishWait) {
		if deferrable {
			s.cfg.Logger.Warn("routers cannot be told yet (is Redis up?); the old instances keep running until they are", "app", c.app, "instances", len(insts))
			c.report(cluster.Progress{Step: "deferred", Message: "the old instances are stopped once the routers have the new table"})
			s.retireLater(ctx, c.app, insts, version, false)
			return
		}
		s.cfg.Logger.Warn("routers could not be told (is Redis up?); stopping the instances anyway", "app", c.app, "instances", len(insts))
	}
	drain := s.stopping(c).drain
	c.report(cluster.Progress{Step: "draining", Message: fmt.Sprintf("waiting %s for routers to switch", drain)})
	time.Sleep(drain)
	s.stopAll(ctx, c, insts)
}

// A retireMark is a retirement of this run that handles instances
// (Scheduler.retiring): it holds them while its context, bound to the
// leadership term it runs in, has not ended.
type retireMark struct{ ctx context.Context }

// markRetiring records a retirement under ctx of insts, until the
// returned unmark is called.
func (s *Scheduler) markRetiring(ctx context.Context, insts []cluster.Instance) (unmark func()) {
	m := &retireMark{ctx: ctx}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.markLocked(m, insts)
	return func() {
		s.mu.Lock()
		defer s.mu.Unlock()
		s.unmarkLocked(m, insts)
	}
}

func (s *Scheduler) markLocked(m *retireMark, insts []cluster.Instance) {
	for _, inst := range insts {
		s.retiring[inst.ID] = append(s.retiring[inst.ID], m)
	}
}

func (s *Scheduler) unmarkLocked(m *retireMark, insts []cluster.Instance) {
	for _, inst := range insts {
		marks := slices.DeleteFunc(s.retiring[inst.ID], func(o *retireMark) bool { return o == m })
		if len(marks) == 0 {
			delete(s.retiring, inst.ID)
		} else {
			s.retiring[inst.ID] = marks
		}
	}
}

// heldLocked reports whether a retirement of this run whose term has not
// ended handles the instance id.
func (s *Scheduler) heldLocked(id string) bool {
	return slices.ContainsFunc(s.retiring[id], func(m *retireMark) bool { return m.ctx.Err() == nil })
}

// retireLater stops insts once a routing table of version or newer was
// published, or after RetireWait at the latest, in the background; until
// then they are marked retiring (markRetiring). resumed says the
// retirement was begun by an earlier run of the controller, whose routers
// may hold any table since. It belongs to the operation of ctx, and stops
// when its leadership term ends (the records stay retiring, for the leader
// to resume) or the scheduler closes.
func (s *Scheduler) retireLater(ctx context.Context, app string, insts []cluster.Instance, version uint64, resumed bool) {
	bound, end, err := s.begin(context.WithoutCancel(ctx))
	if err != nil {
		s.cfg.Logger.Warn("not retiring instances: the operation's leadership term ended; the leader resumes their retirement", "app", app, "instances", len(insts))
		return
	}
	// The waits end when the scheduler closes; the stops, once begun, run
	// to their end unless the term ends.
	ctx, cancel := context.WithCancel(bound)
	stop := context.AfterFunc(s.closing, cancel)
	unmark := s.markRetiring(ctx, insts)
	s.background.Add(1)
	go func() {
		defer s.background.Done()
		defer func() { stop(); cancel(); end() }()
		defer unmark()
		c := &change{app: app, start: time.Now()}
		if !s.waitPublished(ctx, version, s.cfg.RetireWait) {
			if ctx.Err() != nil {
				return // shutting down or the term ended: resumed from the data file by the leader
			}
			s.cfg.Logger.Warn("routers still cannot be told; stopping the old instances anyway", "app", app, "instances", len(insts), "waited", s.cfg.RetireWait)
		} else {
			// Redis was away (or the controller restarted): routers are
			// resubscribing with their own backoff and get the table by
			// their sync request once they are back. PubSub does not say
			// who received a message, so give them that long before the
			// drain delay starts.
			select {
			case <-ctx.Done():
				return
			case <-time.After(s.cfg.RouterReconnect):
			}
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(s.stopping(c).drain):
		}
		s.stopAll(bound, c, insts)
		what := "stopped the old instances now that the routers were told"
		if resumed {
			what = "stopped the instances whose retirement began before the restart"
		}
		s.cfg.Logger.Info(what, "app", app, "instances", len(insts))
	}()
}

// resumeRetirements retires in the background the instances the data file
// marks retiring that no retirement of this run holds (heldLocked): those
// left by a controller that stopped before it could stop them, or by an
// operation whose leadership term ended. None is stopped before a table
// built now, which has none of them, was published.
func (s *Scheduler) resumeRetirements(ctx context.Context, all []cluster.Instance) {
	// Claimed, then read again: all may be older than the end of a
	// retirement of this run, whose instances are gone since.
	claim := &retireMark{ctx: ctx}
	var claimed []cluster.Instance
	s.mu.Lock()
	for _, inst := range all {
		if inst.Retiring && !s.heldLocked(inst.ID) {
			claimed = append(claimed, inst)
		}
	}
	s.markLocked(claim, claimed)
	s.mu.Unlock()
	if len(claimed) == 0 {
		return
	}
	defer func() {
		s.mu.Lock()
		defer s.mu.Unlock()
		s.unmarkLocked(claim, claimed)
	}()
	table, err := s.store.RoutingTable()
	if err != nil {
		s.cfg.Logger.Error("resuming retirements: reading the routing table failed", "err", err)
		return
	}
	byApp := map[string][]cluster.Instance{}
	for _, inst := range claimed {
		byApp[inst.App] = append(byApp[inst.App], inst)
	}
	for app, insts := range byApp {
		insts, err := s.stillRetiring(app, insts)
		if err != nil {
			s.cfg.Logger.Error("resuming retirements: reading the instances failed", "app", app, "err", err)
			continue
		}
		if len(insts) == 0 {
			continue
		}
		version := table.Version
		for _, inst := range insts {
			version = max(version, inst.RetireAfter)
		}
		s.cfg.Logger.Info("resuming the retirement of instances the routers may still use", "app", app, "instances", len(insts), "after_version", version)
		s.retireLater(ctx, app, insts, version, true)
	}
}

// stillRetiring returns the records of those of insts that the data file
// still marks retiring.
func (s *Scheduler) stillRetiring(app string, insts []cluster.Instance) ([]cluster.Instance, error) {
	now, err := s.store.Instances(app)
	if err != nil {
		return nil, err
	}
	wanted := map[string]bool{}
	for _, inst := range insts {
		wanted[inst.ID] = true
	}
	var keep []cluster.Instance
	for _, inst := range now {
		if inst.Retiring && wanted[inst.ID] {
			keep = append(keep, inst)
		}
	}
	return keep, nil
}

// waitPublished waits until a routing table of version or newer has been
// published, for at most timeout (zero: until ctx ends), and reports
// whether it was. Without a publisher there is nobody to wait for.
func (s *Scheduler) waitPublished(ctx context.Context, version uint64, timeout time.Duration) bool {
	if s.cfg.Published == nil {
		return true
	}
	var deadline <-chan time.Time
	if timeout > 0 {
		t := time.NewTimer(timeout)
		defer t.Stop()
		deadline = t.C
	}
	tick := time.NewTicker(5 * time.Millisecond)
	defer tick.Stop()
	for s.cfg.Published() < version {
		select {
		case <-ctx.Done():
			return false
		case <-deadline:
			return false
		case <-tick.C:
		}
	}
	return true
}

// active drops the instances being retired.
func (s *Scheduler) active(insts []cluster.Instance) []cluster.Instance {
	return active(insts, s.Retiring())
}

// Retiring reports which instances a retirement of this run handles: in
// the background, or in an operation's drain.
func (s *Scheduler) Retiring() map[string]bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make(map[string]bool, len(s.retiring))
	for id := range s.retiring {
		if s.heldLocked(id) {
			out[id] = true
		}
	}
	return out
}

// stopAll stops and removes the instances' containers concurrently and
// deletes their records. A host that fails to stop one is logged; the
// record goes anyway when the container is gone, and stays (for the
// reconciler) when not.
func (s *Scheduler) stopAll(ctx context.Context, c *change, insts []cluster.Instance) {
	cts := make([]cluster.Container, len(insts))
	for i, inst := range insts {
		cts[i] = cluster.Container{ID: inst.ID, App: inst.App, Revision: inst.Revision, Host: inst.Host, Port: inst.Port}
	}
	s.stopContainers(ctx, cts, s.stopping(c).timeout, func(ct cluster.Container) {
		if err := s.fenced(ctx).DeleteInstance(ct.App, ct.ID); err != nil {
			s.cfg.Logger.Error("forget instance failed", "app", ct.App, "container", short(ct.ID), "err", err)
		}
		c.report(cluster.Progress{Step: "stopped", Host: ct.Host, Instance: cluster.Instance{Host: ct.Host, Port: ct.Port}.Addr()})
	})
}

// stopContainers stops and removes containers, all at once, giving each
// timeout between SIGTERM and SIGKILL, and calls stopped (when not nil) for
// each one that is gone. A failure is logged: the reconciler finds the
// container again and retries.
func (s *Scheduler) stopContainers(ctx context.Context, cts []cluster.Container, timeout time.Duration, stopped func(cluster.Container)) {
	var wg sync.WaitGroup
	for _, ct := range cts {
		s.deaths.expect(ct.ID)
		wg.Go(func() {
			sctx, cancel := context.WithTimeout(ctx, timeout+30*time.Second)
			defer cancel()
			if err := s.engines.Stop(sctx, ct.Host, ct.ID, timeout); err != nil {
				s.cfg.Logger.Warn("stop failed; the reconciler will retry", "app", ct.App, "host", ct.Host, "container", short(ct.ID), "err", err)
				return
			}
			if stopped != nil {
				stopped(ct)
			}
		})
	}
	wg.Wait()
}

// startInstances pulls, starts and health-checks one new instance on each
// of targets.
func (s *Scheduler) startInstances(ctx context.Context, c *change, targets []string) ([]cluster.Instance, error) {
	if err := s.pullAll(ctx, c, targets); err != nil {
		return nil, err
	}

	type result struct {
		inst cluster.Instance
		err  error
	}
	results := make([]result, len(targets))
	var wg sync.WaitGroup
	for i, host := range targets {
		wg.Go(func() {
			inst, err := s.startOne(ctx, c, host)
			results[i] = result{inst, err}
		})
	}
	wg.Wait()

	var started []cluster.Instance
	var failures []error
	for _, r := range results {
		if r.inst.ID != "" {
			started = append(started, r.inst)
		}
		if r.err != nil {
			failures = append(failures, r.err)
		}
	}
	if len(failures) == 0 {
		return started, nil
	}
	s.stopAll(context.WithoutCancel(ctx), c, started)
	if code := cluster.ErrorCode(failures[0]); code != cluster.EINTERNAL {
		return nil, failures[0] // a host failure, already a sentence
	}
	msg := failures[0].Error()
	if len(failures) > 1 {
		msg = fmt.Sprintf("%d of %d new instances failed; the first: %s", len(failures), len(targets), msg)
	}
	return nil, cluster.Errorf(cluster.EDEPLOY, "%s The instances that were running are untouched and still serving.", msg)
}

// startOne runs one container, records it, and waits for it to be healthy.
// On failure the returned instance is set when a container exists, so the
// caller can remove it.
func (s *Scheduler) startOne(ctx context.Context, c *change, host string) (cluster.Instance, error) {
	rev := c.rev
	c.report(cluster.Progress{Step: "starting", Host: host})
	ctr, err := s.engines.Run(ctx, cluster.ContainerSpec{
		App: c.app, Revision: rev.Number, Host: host, Controller: s.cfg.Controller,
		Image: rev.Image, Env: containerEnv(rev), Port: rev.Port,
		Memory: rev.Memory, CPUs: rev.CPUs,
		Command: rev.Command, Mounts: rev.Mounts(),
	})
	if err != nil {
		return cluster.Instance{}, err
	}
	if started := s.started.Load(); started != nil {
		(*started)(host, ctr)
	}
	inst := cluster.Instance{ID: ctr.ID, App: c.app, Revision: rev.Number, Host: host, Port: ctr.Port, Started: time.Now().UTC()}
	inst.Memory = rev.Memory
	if ctr.Port == 0 {
		return inst, fmt.Errorf("The container of %s on %s (%s) has no published port: it stopped right after it started.%s", rev.Image, host, short(ctr.ID), s.logTail(ctx, inst))
	}
	if err := s.fenced(ctx).PutInstance(inst); err != nil {
		return inst, err
	}
	c.report(cluster.Progress{Step: "started", Host: host, Instance: inst.Addr()})
	if err := s.waitHealthy(ctx, inst, rev.HealthCheck); err != nil {
		return inst, fmt.Errorf("Instance %s (container %s) on %s failed: %v.%s", inst.Addr(), short(inst.ID), host, err, s.logTail(ctx, inst))
	}
	if healthy := s.healthy.Load(); healthy != nil {
		(*healthy)(inst.ID)
	}
	c.report(cluster.Progress{Step: "healthy", Host: host, Instance: inst.Addr()})
	return inst, nil
}

// logTail returns the container's last log lines for an error message,
// waiting up to 10 s for them: they are often the only clue to why, and
// a loaded Docker daemon answers late.
func (s *Scheduler) logTail(ctx context.Context, inst cluster.Instance) string {
	lctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer cancel()
	lines, err := s.engines.Logs(lctx, inst.Host, inst.ID, 10)
	if err != nil || len(lines) == 0 {
		return ""
	}
	return " Last log lines: " + strings.Join(lines, " | ")
}

// pullAll pulls the image on every target host at once. A host where the
// pull fails with the image absent fails the change before anything starts.
func (s *Scheduler) pullAll(ctx context.Context, c *change, targets []string) error {
	hosts := unique(targets)
	errs := make([]error, len(hosts))
	var wg sync.WaitGroup
	for i, host := range hosts {
		wg.Go(func() {
			c.report(cluster.Progress{Step: "pulling", Host: host, Message: s.pulling(ctx, c, host)})
			pctx, cancel := context.WithTimeout(ctx, s.cfg.PullTimeout)
			defer cancel()
			warning, err := s.engines.Pull(pctx, host, c.rev.Image)
			if err != nil {
				errs[i] = err
				return
			}
			if warning != "" {
				s.cfg.Logger.Warn("pull failed; using the image already on the host", "host", host, "image", c.rev.Image, "reason", warning)
				c.report(cluster.Progress{Step: "warning", Host: host, Message: warning})
			}
			c.report(cluster.Progress{Step: "pulled", Host: host, Message: c.rev.Image})
		})
	}
	wg.Wait()
	return errors.Join(errs...)
}

func instanceIDs(insts []cluster.Instance) []string {
	ids := make([]string, len(insts))
	for i, inst := range insts {
		ids[i] = inst.ID
	}
	return ids
}

func instanceAddrs(insts []cluster.Instance) []string {
	addrs := make([]string, len(insts))
	for i, inst := range insts {
		addrs[i] = inst.Addr()
	}
	sort.Strings(addrs)
	return addrs
}

func unique(ss []string) []string {
	seen := map[string]bool{}
	var out []string
	for _, s := range ss {
		if !seen[s] {
			seen[s] = true
			out = append(out, s)
		}
	}
	return out
}

func short(id string) string {
	if len(id) > 12 {
		return id[:12]
	}
	return id
}

// containerEnv is the revision's envs plus PORT, the container port, as
// Heroku-style apps expect, unless the app sets PORT itself.
func containerEnv(rev *cluster.Revision) []string {
	env := append([]string(nil), rev.Envs...)
	for _, kv := range env {
		if strings.HasPrefix(kv, "PORT=") {
			return env
		}
	}
	return append(env, "PORT="+strconv.Itoa(rev.Port))
}
