package scheduler

import (
	"context"
	"fmt"
	"maps"
	"time"

	"github.com/longshoreman/longshoreman/cluster"
)

// Env changes of one app merge: while an env change holds the app, the env
// changes that arrive wait for it and are then applied together, in
// arrival order, as one new revision. The original CLI sends one request
// per variable of `envs:set A=1 B=2`, all at once; each of them would
// otherwise get 409 and leave the change half applied.
//
// The request that finds the app free takes its lock and starts a runner
// goroutine; every request, the first included, then waits for the batch
// it is in. On a running app the first batch stays open for EnvGather, so
// the requests a client sends together (one per variable) land in it and
// make one revision. The runner keeps the lock from one batch to the next,
// so no other operation slips in between and a queued change is applied on
// top of what the change before it left.

// DefaultEnvWait bounds how long an env change waits for the env change of
// the same app that runs when it arrives; see Config.EnvWait.
const DefaultEnvWait = 5 * time.Minute

// EnvGather is how long the first env change of a running app waits for
// others sent with it before its revision begins: the original CLI sends
// `envs:set A=1 B=2` as one request per variable, all at once, and they
// arrive within milliseconds of each other. A rollout lasts seconds, so
// this delay is small beside it.
const EnvGather = 250 * time.Millisecond

// envEdit is one requested env change: KEY=Value, or the removal of Key.
type envEdit struct {
	Key, Value string
	Unset      bool
}

func (e envEdit) apply(envs map[string]string) {
	if e.Unset {
		delete(envs, e.Key)
	} else {
		envs[e.Key] = e.Value
	}
}

// applyEdits returns base with every edit of every batch applied in order;
// base is not changed.
func applyEdits(base map[string]string, batches ...[]envEdit) map[string]string {
	out := maps.Clone(base)
	if out == nil {
		out = map[string]string{}
	}
	for _, edits := range batches {
		for _, e := range edits {
			e.apply(out)
		}
	}
	return out
}

// envWaiter is one request in a batch, with its own answer.
type envWaiter struct {
	edit     envEdit
	progress cluster.ProgressFunc
	res      *cluster.DeployResult
	err      error
}

// envBatch is the env changes applied together as one revision (or, on an
// app without instances, each stored at once).
type envBatch struct {
	waiters []*envWaiter  // fixed once started
	started chan struct{} // closed when the runner takes the batch (under Scheduler.mu)
	done    chan struct{} // closed when every waiter has its answer
}

func newEnvBatch() *envBatch {
	return &envBatch{started: make(chan struct{}), done: make(chan struct{})}
}

func (b *envBatch) edits() []envEdit {
	out := make([]envEdit, len(b.waiters))
	for i, w := range b.waiters {
		out[i] = w.edit
	}
	return out
}

func (b *envBatch) isStarted() bool {
	select {
	case <-b.started:
		return true
	default:
		return false
	}
}

// envRun is the env change holding an app: the batch being applied and the
// one gathering the changes that arrive meanwhile. Its fields are guarded
// by Scheduler.mu.
type envRun struct {
	base     map[string]string // the app's envs when the running batch began; nil until read
	ready    chan struct{}     // closed once base was first read
	running  *envBatch
	revision int       // the running batch's revision, 0 until it is recorded
	next     *envBatch // nil while nothing waits
	closed   bool      // the runner is letting go of the app; later changes take the lock anew
	stores   bool      // the app has no instances: each change is only stored, which takes no time worth reporting
}

// envAction is what an env change does given what holds its app.
type envAction int

const (
	envTake   envAction = iota // nothing holds the app: take its lock and run
	envGather                  // an env change is gathering its first batch: join it
	envJoin                    // an env change runs: join the next batch
	envAwait                   // a repair or a finishing env change holds it: wait for it to let go, then decide again
	envRefuse                  // another operation runs: 409
)

// decideEnv decides what an env change arriving now does, from the hold
// on its app (nil when none). A repair is awaited because lock cancels it
// first (see lock); an env runner that is letting go is awaited because
// its lock is about to be free.
func decideEnv(h *hold) envAction {
	switch {
	case h == nil:
		return envTake
	case h.env != nil && h.env.closed:
		return envAwait
	case h.env != nil && h.env.base == nil:
		return envAwait // its first batch has not read the app yet
	case h.env != nil && !h.env.running.isStarted():
		return envGather
	case h.env != nil:
		return envJoin
	case h.repair:
		return envAwait
	default:
		return envRefuse
	}
}

// checkQueued validates the envs app would have once e is applied after
// the edits already queued, whether the running batch succeeds or fails:
// the limits of cluster.ValidateEnvs must hold either way.
func checkQueued(app string, base map[string]string, running, next []envEdit, e envEdit) error {
	if err := cluster.ValidateEnvs(app, applyEdits(base, running, next, []envEdit{e})); err != nil {
		return err
	}
	return cluster.ValidateEnvs(app, applyEdits(base, next, []envEdit{e}))
}

// changeEnv applies e to app's envs, merged with the env changes of the
// same app that arrive while another one runs, and returns the outcome of
// the batch e was applied in.
func (s *Scheduler) changeEnv(ctx context.Context, app string, e envEdit, progress cluster.ProgressFunc) (*cluster.DeployResult, error) {
	w := &envWaiter{edit: e, progress: progress}
	for {
		s.mu.Lock()
		h := s.busy[app]
		switch decideEnv(h) {
		case envTake:
			first := newEnvBatch()
			first.waiters = []*envWaiter{w}
			run := &envRun{ready: make(chan struct{}), running: first}
			unlock := s.take(app, &hold{op: "an env change", start: time.Now(), env: run, done: make(chan struct{})})
			go s.runEnv(context.WithoutCancel(ctx), app, run, unlock)
			<-first.done
			return w.res, w.err
		case envGather:
			b := h.env.running
			if err := checkQueued(app, h.env.base, b.edits(), nil, e); err != nil {
				s.mu.Unlock()
				return nil, err
			}
			b.waiters = append(b.waiters, w)
			s.mu.Unlock()
			<-b.done
			return w.res, w.err
		case envJoin:
			run := h.env
			next := []envEdit(nil)
			if run.next != nil {
				next = run.next.edits()
			}
			if err := checkQueued(app, run.base, run.running.edits(), next, e); err != nil {
				s.mu.Unlock()
				return nil, err
			}
			if run.next == nil {
				run.next = newEnvBatch()
			}
			b, revision, quiet := run.next, run.revision, run.stores
			b.waiters = append(b.waiters, w)
			s.mu.Unlock()
			limit := s.cfg.EnvWait
			if wait, ok := cluster.WaitOf(ctx); ok {
				limit = wait.Timeout
			}
			return s.awaitEnv(app, run, b, w, revision, quiet, limit)
		case envAwait:
			wait := h.done
			if h.env != nil && !h.env.closed {
				wait = h.env.ready
			}
			s.mu.Unlock()
			if h.repair {
				s.cfg.Logger.Info("cancelling a repair for an operator's operation", "app", app, "operation", "an env change")
				h.cancel()
			}
			<-wait
		case envRefuse:
			wait, ok := cluster.WaitOf(ctx)
			if !ok {
				s.mu.Unlock()
				return nil, busyError(app, h)
			}
			return s.changeEnvInTurn(ctx, app, h, w, wait)
		}
	}
}

// changeEnvInTurn is changeEnv for an env change that asked to wait and
// finds another operation (cur) holding app: it queues for the app (see
// awaitTurn) as the first batch of an env runner, which other env changes
// join once it holds the app. An env change that asked to wait and finds
// such a batch last in the queue joins it instead, so that the changes
// sent together (one request per variable) still make one revision; they
// share its answer, and its wait's outcome. s.mu is held and is released.
func (s *Scheduler) changeEnvInTurn(ctx context.Context, app string, cur *hold, w *envWaiter, wait cluster.Wait) (*cluster.DeployResult, error) {
	if q := s.queue[app]; len(q) > 0 && q[len(q)-1].h.env != nil {
		b := q[len(q)-1].h.env.running
		b.waiters = append(b.waiters, w)
		msg := waitingMessage(app, "an env change", cur, len(q)-1, wait.Timeout) + " (with the env changes queued with it)"
		s.mu.Unlock()
		if w.progress != nil {
			w.progress(cluster.Progress{Step: "waiting", Message: msg})
		}
		<-b.done
		return w.res, w.err
	}
	first := newEnvBatch()
	first.waiters = []*envWaiter{w}
	run := &envRun{ready: make(chan struct{}), running: first}
	h := &hold{op: "an env change", start: time.Now(), env: run, done: make(chan struct{})}
	// The runner begins its leadership term once it holds the app.
	unlock, err := s.awaitTurn(context.Background(), app, cur, h, wait, w.progress)
	if err != nil {
		// Out of the queue now: no change joins the batch any more.
		s.mu.Lock()
		joined := first.waiters
		s.mu.Unlock()
		for _, x := range joined {
			x.err = err
		}
		close(first.done)
		return nil, err
	}
	go s.runEnv(context.WithoutCancel(ctx), app, run, unlock)
	<-first.done
	return w.res, w.err
}

// awaitEnv waits for the batch b that w joined: for its start at most
// limit (Config.EnvWait, or the change's wait timeout; else w leaves it,
// unapplied, with ECONFLICT), then for its end. Unless quiet, the wait is
// reported first. A batch runs to its end even when the client went away,
// like every rollout.
func (s *Scheduler) awaitEnv(app string, run *envRun, b *envBatch, w *envWaiter, revision int, quiet bool, limit time.Duration) (*cluster.DeployResult, error) {
	if !quiet {
		what := "the env change of " + app + " in progress"
		if revision > 0 {
			what = fmt.Sprintf("revision %d of %s, the env change in progress,", revision, app)
		}
		msg := fmt.Sprintf("waiting for %s to finish (at most %s); %s is then applied with the other env changes that arrived meanwhile, as one new revision", what, limit, w.edit.Key)
		s.cfg.Logger.Info("env change waits for the one in progress", "app", app, "key", w.edit.Key, "running_revision", revision)
		s.emit(cluster.Event{Type: cluster.EventDeploy, Step: "waiting", App: app, Revision: revision, Message: msg})
		if w.progress != nil {
			w.progress(cluster.Progress{Step: "waiting", Message: msg})
		}
	}
	timer := time.NewTimer(limit)
	defer timer.Stop()
	select {
	case <-b.started:
	case <-timer.C:
		s.mu.Lock()
		if !b.isStarted() {
			b.waiters = withoutWaiter(b.waiters, w)
			if len(b.waiters) == 0 && run.next == b {
				run.next = nil
			}
			current := run.revision
			s.mu.Unlock()
			what := "The env change of " + app
			if current > 0 {
				what = fmt.Sprintf("The env change of %s (revision %d)", app, current)
			}
			return nil, cluster.Errorf(cluster.ECONFLICT, "%s is still running after %s, so %s was not changed: wait for it to finish, then change %s again", what, limit, w.edit.Key, w.edit.Key).WithFix("watch it with", cluster.OpHistory, cluster.ArgApp, app)
		}
		s.mu.Unlock()
	}
	<-b.done
	return w.res, w.err
}

func withoutWaiter(ws []*envWaiter, w *envWaiter) []*envWaiter {
	out := ws[:0:0]
	for _, x := range ws {
		if x != w {
			out = append(out, x)
		}
	}
	return out
}

// runEnv applies the batches of run one after the other, holding app's
// lock, and lets go of it when no batch is waiting.
func (s *Scheduler) runEnv(ctx context.Context, app string, run *envRun, unlock func()) {
	b := run.running
	// The runner's batches belong to the leadership term it begins in; when
	// this controller does not lead, each batch gets that error.
	ctx, end, berr := s.begin(ctx)
	if berr != nil {
		ctx, end = context.Background(), func() {}
	}
	defer end()
	read := func() (*cluster.App, error) {
		if berr != nil {
			return nil, berr
		}
		if err := s.settle(ctx, app); err != nil {
			return nil, err
		}
		return s.readEnvApp(app)
	}
	a, aerr := read()
	s.mu.Lock()
	run.base, run.stores = envsOf(a), !hasInstances(a)
	close(run.ready)
	s.mu.Unlock()
	if aerr == nil && !run.stores {
		time.Sleep(EnvGather)
	}
	s.mu.Lock()
	close(b.started)
	s.mu.Unlock()
	for {
		s.applyEnvBatch(ctx, app, a, aerr, run, b)
		a, aerr = read()
		s.mu.Lock()
		if run.next == nil {
			// Let go before answering: a client that deploys as soon as
			// its env change answered must not find the app busy.
			run.closed = true
			s.mu.Unlock()
			unlock()
			close(b.done)
			return
		}
		finished := b
		b, run.next = run.next, nil
		run.running, run.revision, run.base, run.stores = b, 0, envsOf(a), !hasInstances(a)
		close(b.started)
		s.mu.Unlock()
		close(finished.done)
	}
}

func (s *Scheduler) readEnvApp(app string) (*cluster.App, error) {
	a, err := s.store.App(app)
	if err == nil {
		err = notDeleting(a)
	}
	return a, err
}

// hasInstances reports whether an env change of a restarts instances
// (a new revision) rather than only storing the env.
func hasInstances(a *cluster.App) bool { return a != nil && a.Deployed() && a.Count > 0 }

func envsOf(a *cluster.App) map[string]string {
	if a == nil || a.Envs == nil {
		return map[string]string{}
	}
	return maps.Clone(a.Envs)
}

// applyEnvBatch applies b to app (as read into a, or failed with aerr) and
// gives each waiter its answer. On an app without instances each change is
// stored at once, in its own write; on a running app the batch is one new
// revision, and if it fails the envs stay as they were.
//
// The env limits are checked here again, under the app's lock, against
// the envs the app holds now: the checks before a change was queued read
// envs that other changes may have grown since (a change that found the
// app free was checked by the API against the envs of its request's
// time). A change that would take the app past a limit is answered with
// the EINVALID of cluster.ValidateEnvs and left out; the others go ahead.
func (s *Scheduler) applyEnvBatch(ctx context.Context, app string, a *cluster.App, aerr error, run *envRun, b *envBatch) {
	if aerr != nil {
		for _, w := range b.waiters {
			w.res, w.err = nil, aerr
		}
		return
	}
	if !hasInstances(a) {
		for _, w := range b.waiters {
			stored, err := s.fenced(ctx).UpdateApp(app, func(a *cluster.App) error {
				if a.Envs == nil {
					a.Envs = map[string]string{}
				}
				return applyWithinLimits(app, a.Envs, w.edit)
			})
			if err != nil {
				w.err = err
				continue
			}
			w.res = &cluster.DeployResult{Revision: stored.Revision, Instances: []string{}}
		}
		return
	}
	envs := envsOf(a)
	var accepted []*envWaiter
	var edits []envEdit
	for _, w := range b.waiters {
		if err := applyWithinLimits(app, envs, w.edit); err != nil {
			w.err = err
			continue
		}
		accepted = append(accepted, w)
		edits = append(edits, w.edit)
	}
	if len(accepted) < len(b.waiters) {
		s.cfg.Logger.Info("env changes refused at the env limits", "app", app, "refused", len(b.waiters)-len(accepted))
	}
	if len(accepted) == 0 {
		return
	}
	a.Envs = envs
	rev := &cluster.Revision{App: app, Image: a.Image, Envs: a.EnvList(), Count: a.Count, Port: a.Port, HealthCheck: a.HealthCheck,
		Command: a.Command, Release: a.Release, Memory: a.Memory, CPUs: a.CPUs,
		Volumes: a.Volumes, Hosts: a.Hosts, Hold: a.Hold}
	if len(edits) > 1 {
		s.cfg.Logger.Info("env changes merged into one revision", "app", app, "changes", len(edits))
	}
	res, err := s.rollout(ctx, a, rev, func(p cluster.Progress) {
		if p.Step == "revision" {
			s.mu.Lock()
			run.revision = rev.Number
			s.mu.Unlock()
		}
		for _, w := range accepted {
			if w.progress != nil {
				w.progress(p)
			}
		}
	})
	for _, w := range accepted {
		w.res, w.err = res, err
	}
}

// applyWithinLimits applies e to envs unless e sets an env that takes
// them past a limit of cluster.ValidateEnvs; envs is then left as it was
// and the EINVALID is returned. A removal is always applied: it only
// shrinks them.
func applyWithinLimits(app string, envs map[string]string, e envEdit) error {
	if e.Unset {
		e.apply(envs)
		return nil
	}
	old, had := envs[e.Key]
	e.apply(envs)
	if err := cluster.ValidateEnvs(app, envs); err != nil {
		if had {
			envs[e.Key] = old
		} else {
			delete(envs, e.Key)
		}
		return err
	}
	return nil
}
