package scheduler

import (
	"context"

	"github.com/longshoreman/longshoreman/cluster"
)

// A revision stays "deploying" when the operation that deploys it ends
// without recording its outcome: the controller crashed or was killed, it
// lost the leadership (died, paused past its lease, or this process's term
// ended and the operation with it), or the write of the outcome failed.
// Such a revision is settled (see SettleDeploy) by the leader, under the
// app's lock, before anything else is decided for the app:
//
//   - every operation on an app settles the app's deploying revisions as
//     soon as it holds the app, so that the first operation of a new leader
//     neither waits for the reconciler nor decides from the app as it was
//     before the interrupted deploy (which a deploy whose instances were
//     routed has already replaced);
//   - each term's reconciler settles, at its first pass, every deploying
//     revision whose app no operation holds, and the apps held then as soon
//     as it holds them itself, before it plans their repair: a repair
//     planned from the old revision would retire the interrupted deploy's
//     routed instances.
//
// Holding the app's lock is what makes this safe: no operation of this
// term deploys the app meanwhile, and those of ended terms or of earlier
// leaders can no longer write (package leadership), so every revision of
// the app still deploying then is one that nobody will finish.

// settle settles every revision of app still deploying (see above); the
// caller holds app's lock and ctx is its operation's. An app that does not
// exist has nothing to settle.
func (s *Scheduler) settle(ctx context.Context, app string) error {
	revs, err := s.store.Revisions(app)
	if cluster.ErrorCode(err) == cluster.ENOTFOUND {
		return nil
	} else if err != nil {
		return err
	}
	for _, rev := range revs {
		if rev.Status != cluster.StatusDeploying {
			continue
		}
		insts, err := s.store.Instances(rev.App)
		if err != nil {
			return err
		}
		status, reason := SettleDeploy(rev, insts)
		a, err := s.store.App(rev.App)
		if err != nil {
			return err
		}
		if a.Canary != nil && a.Canary.Revision == rev.Number {
			status, reason = SettleCanary(*a.Canary, insts)
		}
		if _, err := s.fenced(ctx).FinishRevision(rev.App, rev.Number, status, reason); err != nil {
			return err
		}
		if status == cluster.StatusFailed && a.Canary != nil && a.Canary.Revision == rev.Number {
			// Its instances are then of no revision the app runs: the
			// repair retires them.
			if _, err := s.fenced(ctx).UpdateApp(rev.App, func(a *cluster.App) error { a.Canary = nil; return nil }); err != nil {
				return err
			}
		}
		s.emit(cluster.Event{Type: cluster.EventRevision, Step: status, App: rev.App, Revision: rev.Number, Message: reason})
		s.clearHolding(ctx, rev.App)
		s.cfg.Logger.Warn("settled a deploy that was interrupted (a controller stopped or lost the leadership during it)", "app", rev.App, "revision", rev.Number, "status", status)
	}
	return nil
}

// unrecorded notes that an operation ended without recording its
// revision's outcome, so that the reconciler's next pass settles it.
func (s *Scheduler) unrecorded() { s.unsettled.Store(true) }

// SettleDeploy decides how an interrupted deploy of rev ends (see
// settle), from the app's instance records: once rev.Count instances of
// rev were routed, the routers may already send traffic to them and the
// old ones may be leaving, so the deploy finishes (succeeded); before that
// nothing of it serves, so it fails and the old revision stays.
func SettleDeploy(rev cluster.Revision, records []cluster.Instance) (status, reason string) {
	routed := 0
	for _, i := range records {
		if i.Revision == rev.Number && i.Routed && !i.Retiring {
			routed++
		}
	}
	if rev.Count > 0 && routed >= rev.Count {
		return cluster.StatusSucceeded, ""
	}
	return cluster.StatusFailed, "Interrupted: the controller stopped or lost the leadership during this deploy, before its new instances were routed. Deploy again to retry."
}

// SettleCanary decides how an interrupted canary deploy ends: a canary
// whose instances were all routed serves its share, so it stays a canary;
// before that it fails, and its instances are retired.
func SettleCanary(c cluster.AppCanary, records []cluster.Instance) (status, reason string) {
	routed := 0
	for _, i := range records {
		if i.Revision == c.Revision && i.Routed && !i.Retiring {
			routed++
		}
	}
	if routed >= c.Count {
		return cluster.StatusCanary, ""
	}
	return cluster.StatusFailed, "Interrupted: the controller stopped or lost the leadership during this canary deploy, before its instances were routed. Deploy the canary again to retry."
}

// recoverDeploys settles the deploying revisions of every app no
// operation holds (see settle). It returns the apps with such a revision
// that were busy, for the pass to settle once it holds them, and false
// when reading or settling failed, so that the next pass tries again.
func (r *Reconciler) recoverDeploys(ctx context.Context) (busy map[string]bool, ok bool) {
	revs, err := r.s.store.Deploying()
	if err != nil {
		r.s.cfg.Logger.Error("reconcile: reading interrupted deploys failed", "err", err)
		return nil, false
	}
	busy, ok = map[string]bool{}, true
	for _, rev := range revs {
		if busy[rev.App] {
			continue
		}
		unlock, err := r.s.lock(rev.App, "a recovery")
		if err != nil {
			// An operation holds it: one of this term settled it as it
			// began; one of an ended term leaves it when it ends.
			busy[rev.App] = true
			continue
		}
		if err := r.s.settle(ctx, rev.App); err != nil {
			r.s.cfg.Logger.Error("settling an interrupted deploy failed; retrying next pass", "app", rev.App, "err", cluster.ErrorMessage(err))
			ok = false
		}
		unlock()
	}
	return busy, ok
}

// settleHeld settles the deploying revisions of the apps in busy that the
// pass now holds (locked), before their repairs are planned, and returns
// whether every app of busy was settled.
func (r *Reconciler) settleHeld(busy map[string]bool, locked map[string]repairLock) bool {
	done := true
	for app := range busy {
		lk, ok := locked[app]
		if !ok {
			done = false
			continue
		}
		if err := r.s.settle(lk.ctx, app); err != nil {
			r.s.cfg.Logger.Error("settling an interrupted deploy failed; retrying next pass", "app", app, "err", cluster.ErrorMessage(err))
			done = false
		}
	}
	return done
}
