package scheduler

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/longshoreman/longshoreman/cluster"
)

// Deploy rolls out a new revision of app with the requested image and
// settings (zero fields keep the app's current ones) and returns when every
// new instance is healthy and routed and the old ones are gone, or when the
// deploy failed, leaving the old ones serving. The deploy runs to its end
// even when the client that asked goes away, and stops when the leadership
// term it began in ends (see Fence).
func (s *Scheduler) Deploy(ctx context.Context, app string, req cluster.DeployRequest, progress cluster.ProgressFunc) (*cluster.DeployResult, error) {
	ctx, end, err := s.begin(context.WithoutCancel(ctx))
	if err != nil {
		return nil, err
	}
	defer end()
	a, unlock, err := s.open(ctx, app, "a deploy", progress)
	if err != nil {
		return nil, err
	}
	defer unlock()
	hc := req.HealthCheck
	if hc.Path == "" {
		hc.Path = a.HealthCheck.Path
	}
	if hc.Timeout == 0 {
		hc.Timeout = a.HealthCheck.Timeout
	}
	rev := &cluster.Revision{
		App: app, Image: req.Image, Envs: a.EnvList(),
		Count:       firstPositive(req.Count, a.Count, cluster.DefaultCount),
		Port:        firstPositive(req.Port, a.Port, cluster.DefaultPort),
		HealthCheck: hc.WithDefaults(),
	}
	rev.Memory, rev.CPUs = deployLimits(req, a)
	if err := s.deployPlacement(req, a, rev); err != nil {
		return nil, err
	}
	// Left out (nil), command and release keep the app's; an empty list clears them.
	rev.Command, rev.Release = orCurrent(req.Command, a.Command), orCurrent(req.Release, a.Release)
	if req.Canary > 0 {
		return s.deployCanary(ctx, a, rev, req, progress)
	}
	if req.Batch > 0 {
		a.Batch = req.Batch // this deploy's alone: a is not stored back
	}
	return s.rollout(ctx, a, rev, progress)
}

// Rollback deploys an earlier revision again, as a new revision. Revision 0
// means the newest succeeded revision before the current one. The app's
// current instance count is kept: scaling is not part of a version.
func (s *Scheduler) Rollback(ctx context.Context, app string, number int, progress cluster.ProgressFunc) (*cluster.DeployResult, error) {
	return s.rollback(ctx, app, number, false, progress)
}

// RollbackRelease is Rollback that also runs the revision's release
// command, as a deploy does; Rollback keeps it but does not run it.
func (s *Scheduler) RollbackRelease(ctx context.Context, app string, number int, progress cluster.ProgressFunc) (*cluster.DeployResult, error) {
	return s.rollback(ctx, app, number, true, progress)
}

func (s *Scheduler) rollback(ctx context.Context, app string, number int, release bool, progress cluster.ProgressFunc) (*cluster.DeployResult, error) {
	ctx, end, err := s.begin(context.WithoutCancel(ctx))
	if err != nil {
		return nil, err
	}
	defer end()
	a, unlock, err := s.open(ctx, app, "a rollback", progress)
	if err != nil {
		return nil, err
	}
	defer unlock()
	var target *cluster.Revision
	if number > 0 {
		if target, err = s.store.Revision(app, number); err != nil {
			return nil, err
		}
	} else {
		revs, err := s.store.Revisions(app)
		if err != nil {
			return nil, err
		}
		for i := range revs {
			if revs[i].Status == cluster.StatusSucceeded && revs[i].Number < a.Revision {
				target = &revs[i]
				break
			}
		}
		if target == nil {
			return nil, cluster.Errorf(cluster.ENOTFOUND, "App %s has no succeeded revision before the current one (%d) to roll back to", app, a.Revision).WithFix("pick a revision from its history and give it to", cluster.OpRollback, cluster.ArgApp, app)
		}
	}
	rev := &cluster.Revision{
		App: app, Image: target.Image, Envs: target.Envs, Count: firstPositive(a.Count, target.Count),
		Port: target.Port, HealthCheck: target.HealthCheck,
	}
	rev.Command, rev.Release = target.Command, target.Release
	rev.Memory, rev.CPUs = target.Memory, target.CPUs // limits are part of a version
	// So are its volumes and hosts: its data is where they say.
	rev.Volumes, rev.Hosts, rev.Hold = target.Volumes, target.Hosts, target.Hold
	if rev.StopFirst() {
		rev.Count = min(rev.Count, len(rev.Hosts))
	}
	return s.rolloutRelease(ctx, a, rev, rolloutOpts{release: release, rollback: true}, progress)
}

// SetEnv sets one env of app. On a running app the change is rolled out as
// a new revision; if that fails, the env keeps its old value. Env changes
// of the app arriving while one runs wait for it and are then rolled out
// together as one revision (see envqueue.go); deploy, scale and rollback
// arriving meanwhile still get ECONFLICT. On an app without instances the
// env is stored at once.
func (s *Scheduler) SetEnv(ctx context.Context, app, key, value string, progress cluster.ProgressFunc) (*cluster.DeployResult, error) {
	return s.changeEnv(ctx, app, envEdit{Key: key, Value: value}, progress)
}

// UnsetEnv removes exactly one env of app, restarting and merging like
// SetEnv. Removing an env that is not set (any more) changes nothing.
func (s *Scheduler) UnsetEnv(ctx context.Context, app, key string, progress cluster.ProgressFunc) (*cluster.DeployResult, error) {
	return s.changeEnv(ctx, app, envEdit{Key: key, Unset: true}, progress)
}

// rollout records rev as a new revision and replaces every instance of the
// app with rev.Count new ones. ctx is the operation's (see begin): detached
// from the client that asked, bound to the leadership term.
func (s *Scheduler) rollout(ctx context.Context, a *cluster.App, rev *cluster.Revision, progress cluster.ProgressFunc) (*cluster.DeployResult, error) {
	return s.rolloutRelease(ctx, a, rev, rolloutOpts{release: true}, progress)
}

// rolloutOpts says how a rollout differs from a deploy's.
type rolloutOpts struct {
	release  bool // run rev's release command first
	rollback bool // rev is an earlier revision's: its image may have been pruned from the hosts
}

// rolloutRelease is rollout that runs rev's release command first only when
// opts.release is set. Once rev succeeded, the hosts' images of the app's
// older revisions are pruned in the background (see pruneLater).
func (s *Scheduler) rolloutRelease(ctx context.Context, a *cluster.App, rev *cluster.Revision, opts rolloutOpts, progress cluster.ProgressFunc) (*cluster.DeployResult, error) {
	if err := refuseDuringCanary(a, "a new revision"); err != nil {
		return nil, err
	}
	rev.Status = cluster.StatusDeploying
	if err := s.fenced(ctx).CreateRevision(rev); err != nil {
		return nil, err
	}
	defer s.images.use(rev.Image)() // not pruned while it is pulled and started
	c := &change{app: rev.App, rev: rev, progress: s.logged(rev.App, rev.Number, progress), start: time.Now(), rollback: opts.rollback}
	c.report(cluster.Progress{Step: "revision", Message: fmt.Sprintf("revision %d of %s: %s x%d", rev.Number, rev.App, rev.Image, rev.Count)})
	if opts.release {
		if err := s.release(ctx, c, rev); err != nil {
			err = interrupted(ctx, err)
			c.report(cluster.Progress{Step: "failed", Message: cluster.ErrorMessage(err)})
			s.cfg.Observer.Deploy(cluster.StatusFailed, time.Since(c.start))
			return nil, s.fail(ctx, rev, err)
		}
	}
	o, err := s.observe(a)
	if err != nil {
		return nil, s.fail(ctx, rev, err)
	}
	started, err := s.rollOut(ctx, c, o, rev)
	if err != nil {
		err = interrupted(ctx, err)
		c.report(cluster.Progress{Step: "failed", Message: cluster.ErrorMessage(err)})
		s.cfg.Observer.Deploy(cluster.StatusFailed, time.Since(c.start))
		return nil, s.fail(ctx, rev, err)
	}
	s.cfg.Observer.Deploy(cluster.StatusSucceeded, time.Since(c.start))
	if _, err := s.fenced(ctx).FinishRevision(rev.App, rev.Number, cluster.StatusSucceeded, ""); err != nil {
		s.unrecorded()
		return nil, err
	}
	s.emit(cluster.Event{Type: cluster.EventRevision, Step: cluster.StatusSucceeded, App: rev.App, Revision: rev.Number, Message: rev.Image})
	s.cfg.Logger.Info("deploy succeeded", "app", rev.App, "revision", rev.Number, "image", rev.Image, "instances", len(started), "duration", time.Since(c.start).Round(time.Millisecond))
	s.pruneLater(ctx, rev)
	return &cluster.DeployResult{Revision: rev.Number, Instances: instanceAddrs(started)}, nil
}

// logged returns a progress function that writes each step to the log
// before passing it on.
func (s *Scheduler) logged(app string, revision int, progress cluster.ProgressFunc) cluster.ProgressFunc {
	return func(p cluster.Progress) {
		s.cfg.Logger.Info("deploy step", "app", app, "revision", revision, "step", p.Step, "host", p.Host,
			"instance", p.Instance, "message", p.Message, "elapsed_ms", p.Elapsed)
		s.emitStep(app, revision, p)
		if progress != nil {
			progress(p)
		}
	}
}

// fail records rev as failed with err's message and returns err. An
// operation whose term ended cannot record it: the revision stays
// deploying, for the leader to settle (see settle).
func (s *Scheduler) fail(ctx context.Context, rev *cluster.Revision, err error) error {
	s.cfg.Logger.Warn("deploy failed", "app", rev.App, "revision", rev.Number, "image", rev.Image, "reason", cluster.ErrorMessage(err))
	s.emit(cluster.Event{Type: cluster.EventRevision, Step: cluster.StatusFailed, App: rev.App, Revision: rev.Number, Message: cluster.ErrorMessage(err)})
	if _, ferr := s.fenced(ctx).FinishRevision(rev.App, rev.Number, cluster.StatusFailed, cluster.ErrorMessage(err)); ferr != nil {
		s.unrecorded()
		s.cfg.Logger.Error("recording the failed revision failed", "app", rev.App, "err", ferr)
	}
	return err
}

// Scale adds instances of the current revision, or drains some, until the
// app has count. Count 0 stops every instance.
func (s *Scheduler) Scale(ctx context.Context, app string, count int, progress cluster.ProgressFunc) (*cluster.DeployResult, error) {
	ctx, end, err := s.begin(context.WithoutCancel(ctx))
	if err != nil {
		return nil, err
	}
	defer end()
	a, unlock, err := s.open(ctx, app, "a scale", progress)
	if err != nil {
		return nil, err
	}
	defer unlock()
	if !a.Deployed() {
		return nil, cluster.Errorf(cluster.EINVALID, "App %s has never been deployed, so there is nothing to scale", app).WithFix("deploy an image first with", cluster.OpDeploy, cluster.ArgApp, app)
	}
	if err := refuseDuringCanary(a, "a scale"); err != nil {
		return nil, err
	}
	if len(a.Volumes) > 0 && count > len(a.Hosts) {
		return nil, cluster.Errorf(cluster.EINVALID, "App %s has volumes (%s) and runs one instance per pinned host (%s): it cannot run %d", app, strings.Join(a.Volumes, ", "), strings.Join(a.Hosts, ", "), count).WithFix("pin it to more hosts with", cluster.OpDeploy, cluster.ArgApp, app)
	}
	o, err := s.observe(a)
	if err != nil {
		return nil, err
	}
	p := s.decide(ctx, &o.Capacity, func() Plan { return PlanScale(o, count) })
	c := &change{app: app, rev: o.Current, progress: s.logged(app, a.Revision, progress), start: time.Now()}
	if _, err := s.run(ctx, c, p); err != nil {
		return nil, interrupted(ctx, err)
	}
	if _, err := s.fenced(ctx).UpdateApp(app, func(a *cluster.App) error { a.Count = count; return nil }); err != nil {
		return nil, err
	}
	now, err := s.store.Instances(app)
	if err != nil {
		return nil, err
	}
	return &cluster.DeployResult{Revision: a.Revision, Instances: instanceAddrs(s.active(now))}, nil
}

// Kill stops every instance of app (unrouting them first) and sets its
// desired count to 0; a canary is ended too, its revision failed.
func (s *Scheduler) Kill(ctx context.Context, app string) error {
	return s.exclusive(ctx, app, "a kill", func(ctx context.Context) error {
		var canary *cluster.AppCanary
		if _, err := s.fenced(ctx).UpdateApp(app, func(a *cluster.App) error { a.Count, canary, a.Canary = 0, a.Canary, nil; return nil }); err != nil {
			return err
		}
		if err := s.retireAll(ctx, app); err != nil {
			return err
		}
		if canary != nil { // its instances were stopped with the rest
			_, err := s.fenced(ctx).FinishRevision(app, canary.Revision, cluster.StatusFailed, "the app was killed during its canary")
			return err
		}
		return nil
	})
}

// exclusive runs fn holding app's lock for op (see lock), to its end even
// when the client that asked goes away, bound to the leadership term it
// begins in.
func (s *Scheduler) exclusive(ctx context.Context, app, op string, fn func(context.Context) error) error {
	ctx, end, err := s.begin(context.WithoutCancel(ctx))
	if err != nil {
		return err
	}
	defer end()
	unlock, err := s.lock(app, op)
	if err != nil {
		return err
	}
	defer unlock()
	if err := s.settle(ctx, app); err != nil {
		return err
	}
	return interrupted(ctx, fn(ctx))
}

// retireAll unroutes and stops every instance of app; the caller holds
// the app's lock.
func (s *Scheduler) retireAll(ctx context.Context, app string) error {
	insts, err := s.store.Instances(app)
	if err != nil {
		return err
	}
	_, err = s.run(ctx, &change{app: app, start: time.Now()}, Plan{App: app, Retire: insts, Urgent: true})
	return err
}

// DeleteApp stops every instance of app, then deletes its state.
func (s *Scheduler) DeleteApp(ctx context.Context, app string) error {
	return s.exclusive(ctx, app, "a delete", func(ctx context.Context) error { return s.deleteApp(ctx, app) })
}

// deleteApp records the intent to delete app, stops every instance, then
// deletes its state; the caller holds the app's lock. A restart between
// the steps completes it (see Reconciler.recoverDeletes).
func (s *Scheduler) deleteApp(ctx context.Context, app string) error {
	if _, err := s.fenced(ctx).UpdateApp(app, func(a *cluster.App) error { a.Deleting = true; return nil }); err != nil {
		return err
	}
	if err := s.retireAll(ctx, app); err != nil {
		return err
	}
	if left, _ := s.store.Instances(app); len(left) > 0 {
		return cluster.Errorf(cluster.EHOST, "App %s still has %d instance(s) that could not be stopped (see the controller's log): fix the hosts, then delete it again.", app, len(left))
	}
	if err := s.fenced(ctx).DeleteApp(app); err != nil {
		return err
	}
	s.cfg.RoutesChange()
	return nil
}

// AddHost adds a host. A host whose Docker API does not answer yet is
// still added (it takes work once it answers), and the log says so. When
// rebalancing is on, apps piled on fewer hosts than they could use are
// then spread onto it before AddHost returns.
func (s *Scheduler) AddHost(ctx context.Context, addr string) error {
	ctx, end, err := s.begin(ctx)
	if err != nil {
		return err
	}
	defer end()
	created, err := s.fenced(ctx).AddHost(addr)
	if err != nil || !created {
		return err
	}
	select {
	case s.hostsChanged <- struct{}{}:
	default:
	}
	if err := s.ping(ctx, addr); err != nil {
		s.cfg.Logger.Warn("host added, but its Docker API does not answer yet", "host", addr, "err", cluster.ErrorMessage(err))
		return nil
	}
	s.cfg.Logger.Info("host added", "host", addr)
	if s.cfg.Rebalance {
		s.Rebalance(ctx)
	}
	return nil
}

// RemoveHost drains a host, replacing its instances on the other hosts
// before stopping them, then forgets it. When no other host can take an
// app's instances it refuses with ECONFLICT, unless force is set, in which
// case those instances are stopped without replacement.
//
// The host is marked draining in the data file first, so no operation
// places on it any more; operations that placed before are waited for, so
// their instances on it are drained too and none is routed after it went.
func (s *Scheduler) RemoveHost(ctx context.Context, addr string, force bool) error {
	ctx, end, err := s.begin(context.WithoutCancel(ctx))
	if err != nil {
		return err
	}
	defer end()
	if err := s.refusePinned(addr, force); err != nil {
		return err
	}
	if err := s.fenced(ctx).SetDraining(addr, true); err != nil {
		return err
	}
	for _, h := range s.holds() {
		if h.repair {
			h.cancel() // the next pass repairs it without this host
		}
		<-h.done
	}
	if err := s.drainHost(ctx, addr, force); err != nil {
		if uerr := s.fenced(ctx).SetDraining(addr, false); uerr != nil {
			s.cfg.Logger.Error("host stays marked draining", "host", addr, "err", uerr)
		}
		return err
	}
	if err := s.fenced(ctx).RemoveHost(addr); err != nil {
		return err
	}
	s.cfg.Logger.Info("host removed", "host", addr)
	return nil
}

// drainHost moves or stops every instance on addr, app by app, waiting for
// an operation that holds an app.
func (s *Scheduler) drainHost(ctx context.Context, addr string, force bool) error {
	all, err := s.store.AllInstances()
	if err != nil {
		return err
	}
	byApp := map[string][]cluster.Instance{}
	for _, inst := range s.active(all) {
		if inst.Host == addr {
			byApp[inst.App] = append(byApp[inst.App], inst)
		}
	}
	apps := make([]string, 0, len(byApp))
	for app := range byApp {
		apps = append(apps, app)
	}
	sort.Strings(apps)
	for _, app := range apps {
		if err := s.drainApp(ctx, app, addr, force); err != nil {
			return err
		}
	}
	// Records of containers that could not be stopped (the host is gone)
	// would otherwise point at a host the cluster no longer has.
	all, err = s.store.AllInstances()
	if err != nil {
		return err
	}
	for _, inst := range all {
		if inst.Host == addr {
			if inst.Routed {
				_ = s.fenced(ctx).SetRouted(inst.App, []string{inst.ID}, false)
				s.cfg.RoutesChange()
			}
			_ = s.fenced(ctx).DeleteInstance(inst.App, inst.ID)
		}
	}
	return nil
}

func (s *Scheduler) drainApp(ctx context.Context, app, addr string, force bool) error {
	unlock, err := s.lockWait(ctx, app, "a host drain")
	if err != nil {
		return err
	}
	defer unlock()
	if err := s.settle(ctx, app); err != nil {
		return err
	}
	a, err := s.store.App(app)
	if cluster.ErrorCode(err) == cluster.ENOTFOUND {
		return nil // deleted meanwhile, with its instances
	} else if err != nil {
		return err
	}
	// Observed under the lock: what runs on addr now, not when the drain began.
	o, err := s.observe(a)
	if err != nil {
		return err
	}
	p := s.decide(ctx, &o.Capacity, func() Plan { return PlanDrain(o, addr) })
	if p.Empty() {
		return nil
	}
	c := &change{app: app, start: time.Now()}
	_, err = s.run(ctx, c, p)
	if err == nil {
		return nil
	}
	if !force {
		return cluster.Errorf(cluster.ECONFLICT, "Host %s runs %d instance(s) of %s that could not be moved to another host (%s). Add a host first", addr, len(p.Retire), app, cluster.ErrorMessage(err)).WithFix("or remove this one anyway with", cluster.OpRemoveHost, cluster.ArgHost, addr, cluster.ArgForce, "true")
	}
	_, err = s.run(ctx, c, Plan{App: app, Retire: p.Retire, Urgent: true})
	return err
}

// notDeleting refuses operations on an app whose deletion began.
func notDeleting(a *cluster.App) error {
	if a.Deleting {
		return cluster.Errorf(cluster.ECONFLICT, "App %s is being deleted (an earlier delete did not finish; see the controller's log)", a.Name).WithFix("finish it, then create the app anew, with", cluster.OpRemoveApp, cluster.ArgApp, a.Name)
	}
	return nil
}

// deployLimits returns the memory and CPU limits of a deploy: the
// request's, the app's current ones where the request leaves them 0, and
// none where it asks for none (a negative value, see cluster.DeployRequest).
func deployLimits(req cluster.DeployRequest, a *cluster.App) (cluster.Bytes, float64) {
	mem, cpus := a.Memory, a.CPUs
	switch {
	case req.Memory > 0:
		mem = req.Memory
	case req.Memory < 0:
		mem = 0
	}
	switch {
	case req.CPUs > 0:
		cpus = req.CPUs
	case req.CPUs < 0:
		cpus = 0
	}
	return mem, cpus
}

// orCurrent returns req when the request set it (an empty list included),
// else the app's current value.
func orCurrent(req, current []string) []string {
	if req != nil {
		return req
	}
	return current
}

func firstPositive(vals ...int) int {
	for _, v := range vals {
		if v > 0 {
			return v
		}
	}
	return 0
}

// Rebalance spreads apps whose instances are piled on fewer hosts than
// they could use, moving one instance at a time with zero downtime: a new
// instance on the least used host first, then the old one retired. Apps
// busy with another operation are skipped.
func (s *Scheduler) Rebalance(ctx context.Context) {
	ctx, end, err := s.begin(context.WithoutCancel(ctx))
	if err != nil {
		s.cfg.Logger.Warn("rebalance not begun", "err", cluster.ErrorMessage(err))
		return
	}
	defer end()
	apps, err := s.store.AllApps()
	if err != nil {
		return
	}
	for _, a := range apps {
		if !a.Deployed() || a.Count < 2 || a.Deleting {
			continue
		}
		for moved := 0; moved < a.Count; moved++ {
			if !s.rebalanceOne(ctx, a.Name) {
				break
			}
		}
	}
}

// rebalanceOne moves one instance of app off its most crowded host when a
// host without any of its instances exists (see PlanRebalance); it reports
// whether it moved.
func (s *Scheduler) rebalanceOne(ctx context.Context, app string) bool {
	a, unlock, err := s.open(ctx, app, "a rebalance", nil)
	if err != nil {
		return false
	}
	defer unlock()
	o, err := s.observe(a)
	if err != nil {
		return false
	}
	p := s.decide(ctx, &o.Capacity, func() Plan { return PlanRebalance(o) })
	if p.Empty() {
		return false
	}
	if _, err := s.run(ctx, &change{app: app, start: time.Now()}, p); err != nil {
		s.cfg.Logger.Warn("rebalance: moving an instance failed", "app", app, "err", cluster.ErrorMessage(err))
		return false
	}
	s.cfg.Logger.Info("rebalanced one instance", "app", app, "from", p.Retire[0].Host)
	return true
}
