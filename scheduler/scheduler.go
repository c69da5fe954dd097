// Package scheduler runs apps on the hosts: placement, deploys, rollbacks,
// scaling, env restarts, host drains, rebalancing, and (in reconcile.go)
// the repair of what crashed. Every change to what runs has one shape: an
// observation read into a value, a Plan decided from it by a pure function
// (plan.go: PlanDeploy, PlanScale, PlanDrain, PlanRebalance; PlanRepair in
// reconcile.go), and one executor that carries out any plan (rollout.go):
// start and health-check new instances, route them, unroute the old ones,
// wait for the drain delay, stop the old ones. docs/scheduler.md says how
// to add a kind of change.
package scheduler

import (
	"cmp"
	"context"
	"io"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/longshoreman/longshoreman/cluster"
)

// Store is the scheduler's part of the store: apps, hosts, revisions,
// instances and the routing table, one-off tasks and scheduled jobs.
type Store interface {
	cluster.AppStore
	cluster.HostStore
	cluster.RevisionStore
	cluster.InstanceStore
	cluster.TaskStore
	cluster.JobStore
}

// Config tunes a Scheduler. Zero values take the defaults.
type Config struct {
	Controller   string        // the controller id put on every container's label
	Drain        time.Duration // wait between unrouting and stopping, default cluster.DefaultDrain
	StopTimeout  time.Duration // SIGTERM to SIGKILL, default cluster.DefaultStopTimeout
	MaxCount     int           // largest instance count, default cluster.DefaultMaxCount
	PingTimeout  time.Duration // how long a host may take to answer a ping, default 3s
	PullTimeout  time.Duration // bound on one image pull, default 10m
	Rebalance    bool          // spread apps onto a newly added host
	Observer     Observer      // told about deploys and reconcile passes; may be nil
	Logger       *slog.Logger
	RoutesChange func() // called after every change to what is routed; may be nil
	// Published returns the version of the last routing table the routers
	// were sent; nil means there is no publisher to wait for.
	Published func() uint64
	// PublishWait bounds how long a rollout waits for the routers to be
	// told before it retires old instances in the background; default 2s.
	PublishWait time.Duration
	// RetireWait bounds how long old instances are kept for routers that
	// cannot be told (Redis away) before they are stopped anyway; default 1m.
	RetireWait time.Duration
	// RouterReconnect is how long routers may take to resubscribe after
	// Redis comes back (their backoff is capped at 5s); old instances whose
	// retirement waited for Redis are kept that much longer; default 6s.
	RouterReconnect time.Duration
	// Events receives what happens (deploy steps, instances routed,
	// unrouted, died or killed for memory, revisions finished, one-off
	// tasks); it must not block. Nil drops them.
	Events func(cluster.Event)
	// EnvWait bounds how long an env change waits for the env change of
	// the same app running when it arrives; default DefaultEnvWait.
	EnvWait time.Duration
	// KeepImages is how many of an app's newest succeeded revisions keep
	// their images on the hosts when a revision succeeds (see
	// PlanImagePrune); default cluster.DefaultKeepImages, negative: no
	// image pruning.
	KeepImages int
	// Fence binds each operation to the leadership term it begins in, its
	// writes and Docker calls refused once that term ends (see Fence); nil
	// binds nothing, for a scheduler that leads for as long as it runs.
	Fence Fence
	// Traffic gives the routers' counts a canary's 5xx rate is compared
	// with when its --canary-auto delay is up; nil: it is promoted on time.
	Traffic Traffic
}

// Observer is told about finished deploys, reconcile passes and job runs,
// for metrics.
type Observer interface {
	Deploy(outcome string, d time.Duration)
	ReconcilePass(d time.Duration)
	// JobRun counts a run of a scheduled job by its outcome (a
	// cluster.Job* outcome other than running), once per run.
	JobRun(app, job, outcome string)
}

type noObserver struct{}

func (noObserver) Deploy(string, time.Duration)  {}
func (noObserver) ReconcilePass(time.Duration)   {}
func (noObserver) JobRun(string, string, string) {}

// Scheduler changes what runs on the hosts. It is safe for concurrent use:
// operations on one app are serialized (a second one gets ECONFLICT), and
// different apps proceed in parallel.
type Scheduler struct {
	store   Store
	engines Engines
	cfg     Config
	health  *healthChecker
	// started, set by the reconciler, tells the host views of each
	// container a rollout started, at once: the view's own event may
	// come later than the next pass on a busy host.
	started atomic.Pointer[func(host string, ct cluster.Container)]
	// healthy, set by the reconciler, tells its prober that a rollout's
	// own health check of a container passed (Prober.Passed).
	healthy atomic.Pointer[func(id string)]

	mu       sync.Mutex               // guards busy, queue, retiring and pinnedDown
	busy     map[string]*hold         // app -> the operation holding it
	queue    map[string][]*turn       // app -> the operations waiting for it, in arrival order (queue.go)
	retiring map[string][]*retireMark // instance id -> the retirements of this run that handle it
	// pinnedDown is when each app was last reported down on its pinned
	// hosts (see reportPinnedDown).
	pinnedDown map[string]time.Time
	// oomKilled holds the containers the reconciler saw killed for memory
	// (Docker's oom event), which a health check waiting for one of them
	// reports as such even when Docker restarted it and reset its state.
	oomKilled map[string]bool
	tasks     taskSet    // one-off tasks followed and recorded running; guarded by its own lock
	memory    hostMemory // each host's total memory, as last read; guarded by its own lock
	disk      imageDisk  // each host's disk use of images, as last read; guarded by its own lock
	images    imageUse   // the images rollouts and tasks are pulling and starting; guarded by its own lock

	// unsettled is set when an operation ended without recording its
	// revision's outcome; the reconciler's next pass settles it.
	unsettled atomic.Bool

	hostsChanged chan struct{} // signalled when a host is added, so its event stream opens at once
	deaths       deaths        // instances reported died, so each is reported once

	closing    context.Context // ends background retirements on Close
	close      context.CancelFunc
	background sync.WaitGroup
}

// New returns a Scheduler over the store and the Docker hosts.
func New(store Store, engines Engines, cfg Config) *Scheduler {
	cfg.Drain = cmp.Or(cfg.Drain, cluster.DefaultDrain)
	cfg.StopTimeout = cmp.Or(cfg.StopTimeout, cluster.DefaultStopTimeout)
	cfg.MaxCount = cmp.Or(cfg.MaxCount, cluster.DefaultMaxCount)
	cfg.PingTimeout = cmp.Or(cfg.PingTimeout, 3*time.Second)
	cfg.PullTimeout = cmp.Or(cfg.PullTimeout, 10*time.Minute)
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	if cfg.Observer == nil {
		cfg.Observer = noObserver{}
	}
	if cfg.RoutesChange == nil {
		cfg.RoutesChange = func() {}
	}
	cfg.RouterReconnect = cmp.Or(cfg.RouterReconnect, 6*time.Second)
	cfg.RetireWait = cmp.Or(cfg.RetireWait, time.Minute)
	cfg.EnvWait = cmp.Or(cfg.EnvWait, DefaultEnvWait)
	cfg.KeepImages = cmp.Or(cfg.KeepImages, cluster.DefaultKeepImages)
	cfg.PublishWait = cmp.Or(cfg.PublishWait, 2*time.Second)
	closing, cancel := context.WithCancel(context.Background())
	return &Scheduler{store: store, engines: engines, cfg: cfg, health: newHealthChecker(),
		busy: map[string]*hold{}, queue: map[string][]*turn{}, retiring: map[string][]*retireMark{}, pinnedDown: map[string]time.Time{}, oomKilled: map[string]bool{}, hostsChanged: make(chan struct{}, 1), closing: closing, close: cancel}
}

// Close ends the background retirements (their instances stay recorded as
// retiring, resumed by the reconciler after a restart) and waits for them.
func (s *Scheduler) Close() {
	s.close()
	s.background.Wait()
}

// MaxCount returns the largest instance count a deploy or scale may ask for.
func (s *Scheduler) MaxCount() int { return s.cfg.MaxCount }

// hold is one operation holding an app. A repair's hold can be
// pre-empted: cancel ends it, and done is closed once it let go.
type hold struct {
	op     string
	start  time.Time // when it took the app, or began waiting for it
	repair bool
	cancel context.CancelFunc
	done   chan struct{}
	env    *envRun // set when op is an env change, which env changes arriving meanwhile join (envqueue.go)
	// repairWaits is set (under Scheduler.mu) once a reconcile pass found
	// the app held by it and left the app's repair for later.
	repairWaits bool
}

// lock marks app busy with op, or fails with ECONFLICT naming what holds it.
// A repair by the reconciler does not block an operator: it is cancelled
// (the containers it started are removed) and op proceeds once it let go,
// unless an operation waiting for the app (queue.go) takes it first.
func (s *Scheduler) lock(app, op string) (unlock func(), err error) {
	for {
		s.mu.Lock()
		h, ok := s.busy[app]
		if !ok {
			return s.take(app, &hold{op: op, start: time.Now(), done: make(chan struct{})}), nil
		}
		s.mu.Unlock()
		if !h.repair {
			return nil, busyError(app, h)
		}
		s.cfg.Logger.Info("cancelling a repair for an operator's operation", "app", app, "operation", op)
		h.cancel()
		<-h.done
	}
}

// busyError is the ECONFLICT for an operation refused because h holds app.
func busyError(app string, h *hold) error {
	return cluster.Errorf(cluster.ECONFLICT, "%s of %s is already running: wait for it to finish, then try again", capitalize(h.op), app).WithFix("watch it with", cluster.OpHistory, cluster.ArgApp, app)
}

// lockWait is lock for operations that wait for another to end instead of
// failing, until ctx ends.
func (s *Scheduler) lockWait(ctx context.Context, app, op string) (unlock func(), err error) {
	for {
		unlock, err := s.lock(app, op)
		if err == nil || cluster.ErrorCode(err) != cluster.ECONFLICT {
			return unlock, err
		}
		if waitErr := s.waitRelease(ctx, app); waitErr != nil {
			return nil, err
		}
	}
}

// waitRelease waits until the operation holding app, if any, let go.
func (s *Scheduler) waitRelease(ctx context.Context, app string) error {
	s.mu.Lock()
	h, ok := s.busy[app]
	s.mu.Unlock()
	if !ok {
		return nil
	}
	select {
	case <-h.done:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// lockRepair marks app busy with a repair that an operator's operation may
// pre-empt: the returned context ends then. It fails when app is busy;
// freed is then, the first time a repair found that hold in the way, a
// channel closed when it lets go (nil the next times), so that the repair
// it held back is not left to the next periodic pass.
func (s *Scheduler) lockRepair(ctx context.Context, app string) (rctx context.Context, unlock func(), ok bool, freed <-chan struct{}) {
	s.mu.Lock()
	if h, busy := s.busy[app]; busy {
		if !h.repairWaits {
			h.repairWaits = true
			freed = h.done
		}
		s.mu.Unlock()
		return nil, nil, false, freed
	}
	rctx, cancel := context.WithCancel(ctx)
	let := s.take(app, &hold{op: "a repair", start: time.Now(), repair: true, cancel: cancel, done: make(chan struct{})})
	return rctx, func() { cancel(); let() }, true, nil
}

// take records h as app's hold; s.mu is held and is released.
func (s *Scheduler) take(app string, h *hold) (unlock func()) {
	s.busy[app] = h
	s.mu.Unlock()
	return func() { s.letGo(app, h) }
}

// letGo lets go of app, held by h: the first operation waiting for it
// takes it at once (see handOver), else it is free.
func (s *Scheduler) letGo(app string, h *hold) {
	s.mu.Lock()
	if s.busy[app] == h {
		s.handOver(app)
	}
	s.mu.Unlock()
	close(h.done)
}

// holds returns the operations holding an app right now.
func (s *Scheduler) holds() []*hold {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]*hold, 0, len(s.busy))
	for _, h := range s.busy {
		out = append(out, h)
	}
	return out
}

// Busy reports whether an operation holds app.
func (s *Scheduler) Busy(app string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	_, ok := s.busy[app]
	return ok
}

func capitalize(s string) string {
	if s == "" {
		return s
	}
	return string(s[0]-'a'+'A') + s[1:]
}

// HostHealth pings every host and says "ok" or what failed.
func (s *Scheduler) HostHealth(ctx context.Context) map[string]string {
	hosts, _ := s.store.Hosts()
	out := make(map[string]string, len(hosts))
	var mu sync.Mutex
	var wg sync.WaitGroup
	for _, h := range hosts {
		wg.Go(func() {
			status := "ok"
			if err := s.ping(ctx, h.Addr); err != nil {
				status = cluster.ErrorMessage(err)
			}
			mu.Lock()
			out[h.Addr] = status
			mu.Unlock()
		})
	}
	wg.Wait()
	return out
}

func (s *Scheduler) ping(ctx context.Context, host string) error {
	ctx, cancel := context.WithTimeout(ctx, s.cfg.PingTimeout)
	defer cancel()
	return s.engines.Ping(ctx, host)
}

// emit passes e to the Events hook, stamped with the time.
func (s *Scheduler) emit(e cluster.Event) {
	if s.cfg.Events == nil {
		return
	}
	if e.Time.IsZero() {
		e.Time = time.Now().UTC()
	}
	s.cfg.Events(e)
}
