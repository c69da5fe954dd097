package scheduler

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/longshoreman/longshoreman/cluster"
)

// Canary deploys (see cluster/canary.go). A canary is recorded in the
// app (App.Canary) before its instances start, so the routing table puts
// them, once healthy, in the app's canary entry with its weight and never
// among the current revision's routes. The repair routes a canary's
// instances by their health but neither counts them against the app's
// count nor retires them; the other operations (deploy, rollback, env
// change, scale) wait for a promote or an abort.

// PlanCanary starts count instances of rev beside the app's instances,
// retiring nothing.
func PlanCanary(o Observation, rev *cluster.Revision, count int) Plan {
	p := Plan{App: o.App.Name, Revision: rev, Replace: true}
	p.place(count, o.Capacity, nil, nil)
	return p
}

// PlanPromote replaces the app's instances that are not the canary's with
// instances of the canary's revision rev, counting those the canary runs
// already: rev.Count in all. A canary with more instances than that keeps
// rev.Count of them.
func PlanPromote(o Observation, rev *cluster.Revision) Plan {
	var canary []cluster.Instance
	for _, inst := range active(o.Records, o.Retiring) {
		if o.App.IsCanary(inst) {
			canary = append(canary, inst)
		}
	}
	old := o.Active()
	p := Plan{App: o.App.Name, Revision: rev, Retire: old, Replace: true}
	if extra := len(canary) - rev.Count; extra > 0 {
		p.Retire = append(p.Retire, PickRemovals(extra, canary, hostLoad(o.All))...)
	}
	p.place(rev.Count-len(canary), o.Capacity, old, nil)
	return p
}

// PlanAbort retires the canary's instances.
func PlanAbort(o Observation) Plan {
	p := Plan{App: o.App.Name}
	for _, inst := range active(o.Records, o.Retiring) {
		if o.App.IsCanary(inst) {
			p.Retire = append(p.Retire, inst)
		}
	}
	return p
}

// withoutCanary returns insts without the instances of a's canary.
func withoutCanary(a *cluster.App, insts []cluster.Instance) []cluster.Instance {
	if a == nil || a.Canary == nil {
		return insts
	}
	out := insts[:0:0]
	for _, inst := range insts {
		if !a.IsCanary(inst) {
			out = append(out, inst)
		}
	}
	return out
}

// refuseDuringCanary refuses an operation that would replace or count the
// app's instances while a canary runs.
func refuseDuringCanary(a *cluster.App, op string) error {
	if a.Canary == nil {
		return nil
	}
	return cluster.Errorf(cluster.ECONFLICT, "App %s has a canary under way (revision %d, %d%% of its requests), so %s cannot run now: promote the canary or abort it first", a.Name, a.Canary.Revision, a.Canary.Weight, op).WithFix("end it with", cluster.OpAbort, cluster.ArgApp, a.Name)
}

// deployCanary records rev and starts the canary's instances beside the
// app's current ones (a is loaded under the app's lock); the revision's
// status is StatusCanary once they are healthy and routed. When they fail,
// they are removed and the revision fails, the app left as it was.
func (s *Scheduler) deployCanary(ctx context.Context, a *cluster.App, rev *cluster.Revision, req cluster.DeployRequest, progress cluster.ProgressFunc) (*cluster.DeployResult, error) {
	count := firstPositive(req.CanaryCount, cluster.DefaultCanaryCount)
	maxErrors := req.CanaryMaxErrors
	if maxErrors == 0 {
		maxErrors = cluster.DefaultCanaryMaxErrors
	}
	if err := cluster.ValidateCanary(req.Canary, count, s.MaxCount(), req.CanaryAuto.D(), maxErrors); err != nil {
		return nil, err
	}
	if !a.Deployed() {
		return nil, cluster.Errorf(cluster.EINVALID, "App %s has no revision running, so a canary has nothing to run beside", a.Name).WithFix("deploy it without --canary first with", cluster.OpDeploy, cluster.ArgApp, a.Name)
	}
	if err := refuseDuringCanary(a, "another canary"); err != nil {
		return nil, err
	}
	if rev.StopFirst() {
		return nil, cluster.Errorf(cluster.EINVALID, "App %s has volumes and runs one instance per pinned host: a canary cannot run beside them", a.Name).WithFix("deploy it without --canary with", cluster.OpDeploy, cluster.ArgApp, a.Name)
	}
	rev.Status, rev.Canary = cluster.StatusDeploying, req.Canary
	if err := s.fenced(ctx).CreateRevision(rev); err != nil {
		return nil, err
	}
	defer s.images.use(rev.Image)()
	c := &change{app: rev.App, rev: rev, progress: s.logged(rev.App, rev.Number, progress), start: time.Now()}
	c.report(cluster.Progress{Step: "revision", Message: fmt.Sprintf("revision %d of %s: %s x%d as a canary taking %d%% of the requests", rev.Number, rev.App, rev.Image, count, req.Canary)})
	failed := func(err error) (*cluster.DeployResult, error) {
		err = interrupted(ctx, err)
		c.report(cluster.Progress{Step: "failed", Message: cluster.ErrorMessage(err)})
		s.cfg.Observer.Deploy(cluster.StatusFailed, time.Since(c.start))
		if _, uerr := s.fenced(ctx).UpdateApp(a.Name, func(a *cluster.App) error { a.Canary = nil; return nil }); uerr != nil {
			s.cfg.Logger.Error("clearing the failed canary failed; the next operation on the app settles it", "app", a.Name, "err", uerr)
		}
		return nil, s.fail(ctx, rev, err)
	}
	if err := s.release(ctx, c, rev); err != nil {
		return failed(err)
	}
	canary := &cluster.AppCanary{Revision: rev.Number, Weight: req.Canary, Count: count, Started: time.Now().UTC(), Auto: req.CanaryAuto, MaxErrors: maxErrors}
	a, err := s.fenced(ctx).UpdateApp(a.Name, func(a *cluster.App) error { a.Canary = canary; return nil })
	if err != nil {
		return failed(err)
	}
	o, err := s.observe(a)
	if err != nil {
		return failed(err)
	}
	p := s.decide(ctx, &o.Capacity, func() Plan { return PlanCanary(o, rev, count) })
	started, err := s.run(ctx, c, p)
	if err != nil {
		return failed(err)
	}
	s.cfg.Observer.Deploy(cluster.StatusSucceeded, time.Since(c.start))
	if _, err := s.fenced(ctx).FinishRevision(rev.App, rev.Number, cluster.StatusCanary, ""); err != nil {
		s.unrecorded()
		return nil, err
	}
	s.emit(cluster.Event{Type: cluster.EventRevision, Step: cluster.StatusCanary, App: rev.App, Revision: rev.Number, Message: fmt.Sprintf("%s takes %d%% of the requests", rev.Image, req.Canary)})
	s.cfg.Logger.Info("canary started", "app", rev.App, "revision", rev.Number, "image", rev.Image, "weight", req.Canary, "instances", len(started))
	return &cluster.DeployResult{Revision: rev.Number, Instances: instanceAddrs(started)}, nil
}

// Promote makes the app's canary its current revision: the normal
// rollout, the canary's instances kept and the current revision's
// replaced by instances of the canary's revision (the canary's weight is
// lifted first: its instances are routed like the others meanwhile). When
// it fails, the canary is left running with its weight.
func (s *Scheduler) Promote(ctx context.Context, app string, progress cluster.ProgressFunc) (*cluster.DeployResult, error) {
	return s.onCanary(ctx, app, "a promote", progress, func(ctx context.Context, a *cluster.App) (*cluster.DeployResult, error) {
		return s.promote(ctx, a, progress, "")
	})
}

// onCanary runs fn for op on app under its lock, as every operator's
// operation does (see begin and open).
func (s *Scheduler) onCanary(ctx context.Context, app, op string, progress cluster.ProgressFunc, fn func(context.Context, *cluster.App) (*cluster.DeployResult, error)) (*cluster.DeployResult, error) {
	ctx, end, err := s.begin(context.WithoutCancel(ctx))
	if err != nil {
		return nil, err
	}
	defer end()
	a, unlock, err := s.open(ctx, app, op, progress)
	if err != nil {
		return nil, err
	}
	defer unlock()
	return fn(ctx, a)
}

// promote is Promote under the app's lock; note, when not empty, is added
// to its event (why an automatic promote promoted).
func (s *Scheduler) promote(ctx context.Context, a *cluster.App, progress cluster.ProgressFunc, note string) (*cluster.DeployResult, error) {
	if a.Canary == nil {
		return nil, noCanary(a.Name, "promote")
	}
	rev, err := s.store.Revision(a.Name, a.Canary.Revision)
	if err != nil {
		return nil, err
	}
	defer s.images.use(rev.Image)()
	c := &change{app: a.Name, rev: rev, progress: s.logged(a.Name, rev.Number, progress), start: time.Now()}
	c.report(cluster.Progress{Step: "revision", Message: fmt.Sprintf("promoting the canary: revision %d of %s: %s x%d", rev.Number, rev.App, rev.Image, rev.Count)})
	if a, err = s.fenced(ctx).UpdateApp(a.Name, func(a *cluster.App) error {
		if a.Canary != nil {
			a.Canary.Promoting = true
		}
		return nil
	}); err != nil {
		return nil, err
	}
	o, err := s.observe(a)
	if err != nil {
		return nil, err
	}
	p := s.decide(ctx, &o.Capacity, func() Plan { return PlanPromote(o, rev) })
	if _, err := s.run(ctx, c, p); err != nil {
		err = interrupted(ctx, err)
		c.report(cluster.Progress{Step: "failed", Message: cluster.ErrorMessage(err)})
		if _, uerr := s.fenced(ctx).UpdateApp(a.Name, func(a *cluster.App) error {
			if a.Canary != nil {
				a.Canary.Promoting = false
			}
			return nil
		}); uerr != nil {
			s.cfg.Logger.Error("giving the canary its weight back failed", "app", a.Name, "err", uerr)
		}
		return nil, err
	}
	if _, err := s.fenced(ctx).FinishRevision(rev.App, rev.Number, cluster.StatusSucceeded, ""); err != nil {
		s.unrecorded()
		return nil, err
	}
	if _, err := s.fenced(ctx).UpdateApp(a.Name, func(a *cluster.App) error { a.Canary = nil; return nil }); err != nil {
		return nil, err
	}
	s.emit(cluster.Event{Type: cluster.EventRevision, Step: cluster.StatusSucceeded, App: rev.App, Revision: rev.Number, Message: rev.Image + " (canary promoted)" + noteOf(note)})
	s.cfg.Logger.Info("canary promoted", "app", rev.App, "revision", rev.Number, "image", rev.Image, "duration", time.Since(c.start).Round(time.Millisecond))
	s.pruneLater(ctx, rev)
	return s.result(a.Name, rev.Number)
}

// Abort removes the app's canary: its instances are unrouted (the
// routers send every request to the current revision), drained and
// stopped, and its revision fails with reason.
func (s *Scheduler) Abort(ctx context.Context, app, reason string, progress cluster.ProgressFunc) (*cluster.DeployResult, error) {
	return s.onCanary(ctx, app, "an abort", progress, func(ctx context.Context, a *cluster.App) (*cluster.DeployResult, error) {
		return s.abort(ctx, a, reason, progress)
	})
}

// abort is Abort under the app's lock.
func (s *Scheduler) abort(ctx context.Context, a *cluster.App, reason string, progress cluster.ProgressFunc) (*cluster.DeployResult, error) {
	if a.Canary == nil {
		return nil, noCanary(a.Name, "abort")
	}
	if reason == "" {
		reason = "canary aborted"
	}
	number := a.Canary.Revision
	c := &change{app: a.Name, progress: s.logged(a.Name, number, progress), start: time.Now()}
	c.report(cluster.Progress{Step: "revision", Message: fmt.Sprintf("aborting the canary of %s (revision %d): %s", a.Name, number, reason)})
	o, err := s.observe(a)
	if err != nil {
		return nil, err
	}
	if _, err := s.run(ctx, c, PlanAbort(o)); err != nil {
		return nil, interrupted(ctx, err)
	}
	if _, err := s.fenced(ctx).FinishRevision(a.Name, number, cluster.StatusFailed, reason); err != nil {
		s.unrecorded()
		return nil, err
	}
	if _, err := s.fenced(ctx).UpdateApp(a.Name, func(a *cluster.App) error { a.Canary = nil; return nil }); err != nil {
		return nil, err
	}
	s.emit(cluster.Event{Type: cluster.EventRevision, Step: cluster.StatusFailed, App: a.Name, Revision: number, Message: reason})
	s.cfg.Logger.Info("canary aborted", "app", a.Name, "revision", number, "reason", reason)
	return s.result(a.Name, a.Revision)
}

// result is the answer of an operation that left app at revision.
func (s *Scheduler) result(app string, revision int) (*cluster.DeployResult, error) {
	now, err := s.store.Instances(app)
	if err != nil {
		return nil, err
	}
	return &cluster.DeployResult{Revision: revision, Instances: instanceAddrs(s.active(now))}, nil
}

func noCanary(app, op string) error {
	return cluster.Errorf(cluster.EINVALID, "App %s has no canary to %s", app, op).WithFix("start one with", cluster.OpDeploy, cluster.ArgApp, app)
}

// autoPromoteRetry is how long an automatic promote or abort that failed
// (or found the app busy) waits before it is tried again.
const autoPromoteRetry = time.Minute

// Traffic gives the requests the routers counted (the traffic package's
// Store): the requests and the 5xx answers of app's instances at addrs
// since a time, over the last hour at most.
type Traffic interface {
	Instances(app string, addrs []string, since time.Time) (requests, errors uint64)
}

// DueForPromote reports whether c is to end by itself at now: it has a
// delay (--canary-auto) that passed since it started, and no promote runs.
func DueForPromote(c *cluster.AppCanary, now time.Time) bool {
	return c != nil && c.Auto > 0 && !c.Promoting && !now.Before(c.Started.Add(c.Auto.D()))
}

// CanaryVerdict is what the end of a canary's --canary-auto delay decides
// from its traffic.
type CanaryVerdict struct {
	Abort  bool
	Reason string // why: the revision's failure reason, or the promote's note
}

// JudgeCanary compares the canary's 5xx rate (errs of reqs) with the old
// revision's (oldErrs of oldReqs, revision old): more than maxErrors
// percentage points above it aborts. With fewer than
// cluster.MinCanaryRequests requests the canary is promoted on time, the
// reason saying so; the old revision's rate is 0 when it had no request.
func JudgeCanary(reqs, errs, oldReqs, oldErrs uint64, old int, maxErrors float64) CanaryVerdict {
	if reqs < cluster.MinCanaryRequests {
		return CanaryVerdict{Reason: fmt.Sprintf("only %d requests reached the canary, fewer than the %d its 5xx rate is compared from: promoted on time", reqs, cluster.MinCanaryRequests)}
	}
	rate, oldRate := percent(errs, reqs), percent(oldErrs, oldReqs)
	figures := fmt.Sprintf("canary answered %.1f%% 5xx (%d of %d requests) against %.1f%% (%d of %d) for revision %d", rate, errs, reqs, oldRate, oldErrs, oldReqs, old)
	if rate-oldRate > maxErrors {
		return CanaryVerdict{Abort: true, Reason: fmt.Sprintf("%s, more than %g point%s above: aborted", figures, maxErrors, plural(maxErrors))}
	}
	return CanaryVerdict{Reason: fmt.Sprintf("%s, within %g point%s: promoted", figures, maxErrors, plural(maxErrors))}
}

func percent(n, of uint64) float64 {
	if of == 0 {
		return 0
	}
	return 100 * float64(n) / float64(of)
}

func plural(n float64) string {
	if n == 1 {
		return ""
	}
	return "s"
}

// endCanary ends app's canary whose --canary-auto delay passed: it is
// aborted when its 5xx rate since it started is too far above the other
// instances' (JudgeCanary), else promoted. Without a traffic source it is
// promoted on time.
func (s *Scheduler) endCanary(ctx context.Context, app string) (*cluster.DeployResult, error) {
	return s.onCanary(ctx, app, "an automatic promote", nil, func(ctx context.Context, a *cluster.App) (*cluster.DeployResult, error) {
		if a.Canary == nil {
			return nil, noCanary(a.Name, "promote")
		}
		v := CanaryVerdict{Reason: "no traffic figures to compare: promoted on time"}
		if s.cfg.Traffic != nil {
			insts, err := s.store.Instances(a.Name)
			if err != nil {
				return nil, err
			}
			var canary, old []string
			for _, inst := range insts {
				if a.IsCanary(inst) {
					canary = append(canary, inst.Addr())
				} else {
					old = append(old, inst.Addr())
				}
			}
			reqs, errs := s.cfg.Traffic.Instances(a.Name, canary, a.Canary.Started)
			oldReqs, oldErrs := s.cfg.Traffic.Instances(a.Name, old, a.Canary.Started)
			v = JudgeCanary(reqs, errs, oldReqs, oldErrs, a.Revision, a.Canary.MaxErrors)
		}
		s.cfg.Logger.Info("a canary's time is up", "app", a.Name, "revision", a.Canary.Revision, "after", a.Canary.Auto.D(), "verdict", v.Reason)
		if v.Abort {
			return s.abort(ctx, a, v.Reason, nil)
		}
		return s.promote(ctx, a, nil, v.Reason)
	})
}

// autoPromote starts, in goroutines counted by wg, the automatic end
// (endCanary) of the canaries whose --canary-auto delay passed (the
// leader's passes only).
func (r *Reconciler) autoPromote(ctx context.Context, apps []*cluster.App, wg *sync.WaitGroup) {
	now := time.Now()
	for _, a := range apps {
		if a.Deleting || !DueForPromote(a.Canary, now) {
			continue
		}
		r.mu.Lock()
		next := r.promoting[a.Name]
		if now.Before(next) {
			r.mu.Unlock()
			continue
		}
		r.promoting[a.Name] = now.Add(24 * time.Hour) // running
		r.mu.Unlock()
		wg.Add(1)
		go func(name string, c cluster.AppCanary) {
			defer wg.Done()
			_, err := r.s.endCanary(ctx, name)
			r.mu.Lock()
			defer r.mu.Unlock()
			if err == nil {
				delete(r.promoting, name)
				return
			}
			r.promoting[name] = time.Now().Add(autoPromoteRetry)
			r.s.cfg.Logger.Warn("the automatic end of a canary failed; trying again in a minute", "app", name, "revision", c.Revision, "err", cluster.ErrorMessage(err))
		}(a.Name, *a.Canary)
	}
}

func noteOf(note string) string {
	if note == "" {
		return ""
	}
	return ": " + note
}
