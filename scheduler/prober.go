package scheduler

import (
	"container/heap"
	"context"
	"hash/fnv"
	"log/slog"
	"maps"
	"net"
	"strconv"
	"sync"
	"time"
)

// DefaultProbeInterval is how often each instance's health check runs.
const DefaultProbeInterval = 5 * time.Second

// DefaultMaxProbes bounds the health checks in flight at once.
const DefaultMaxProbes = 16

// unhealthyAfter is how many consecutive failed checks take a routed
// instance out of the table; one passing check brings it back.
const unhealthyAfter = 2

// ProbeTarget is one running container to health-check.
type ProbeTarget struct {
	ID   string // container id
	Host string // the host it runs on, and the address checked
	Port int    // the published port its health path answers on
	Path string // the app's health path
}

// ProberConfig tunes a Prober; zero values take the defaults.
type ProberConfig struct {
	Interval    time.Duration // between two checks of one instance, default DefaultProbeInterval
	MaxInFlight int           // checks running at once, default DefaultMaxProbes
	// Timeout bounds one check, default 2s. It may exceed Interval: a
	// target's checks never overlap, a late one moves the next on.
	Timeout time.Duration
	// OnChange is called, from the prober's goroutines, when an instance
	// becomes unhealthy (its unhealthyAfter-th failure in a row) or passes
	// again after that: the moments the routing table must change.
	OnChange func()
	Logger   *slog.Logger
}

// Prober health-checks instances, each on its own timer: every instance is
// checked once per interval at a phase taken from its container id, so the
// checks of a large cluster spread evenly over the interval instead of
// arriving at once, and at most MaxInFlight run at the same time; a first
// failure is confirmed half an interval later. The reconcile pass reads the
// latest results (Health) instead of probing.
//
// One goroutine (Run) owns the dispatch; the fields under mu are shared with
// the checks it starts and with Track and Health, which are safe to call
// concurrently.
type Prober struct {
	cfg   ProberConfig
	wake  chan struct{} // Track added a target that may be due first
	slots chan struct{} // one per check in flight: the bound

	mu      sync.Mutex             // guards the fields below
	targets map[string]*probeState // container id -> its state
	due     dueQueue               // targets waiting for their next check, soonest first
	stats   ProbeStats
	tracked uint64 // counts Track calls, to find the targets a call did not list
	// healthy and unhealthy are the results Health returns, kept up to
	// date by each check. Once handed out they are shared: the next change
	// copies them first, so a pass in a steady cluster copies nothing.
	healthy, unhealthy map[string]bool
	shared             bool
}

// probeState is one target's timer and latest results; guarded by Prober.mu.
type probeState struct {
	ProbeTarget
	addr     string    // host:port
	listed   uint64    // the last Track call that listed it
	next     time.Time // when the next check is due
	index    int       // position in the due queue; -1 while being checked or once dropped
	dropped  bool      // no longer tracked: the running check's result is discarded
	checked  bool      // at least one check finished
	passed   bool      // the latest check passed
	failures int       // consecutive failed checks
}

// ProbeStats describes the prober's work since it was made.
type ProbeStats struct {
	Targets      int           // instances tracked now
	Checked      int           // of those, how many have a result
	Probes       uint64        // checks finished
	Failed       uint64        // of those, how many failed
	InFlight     int           // checks running now
	PeakInFlight int           // most checks running at once
	MaxInFlight  int           // the bound
	Interval     time.Duration // between two checks of one instance
	MaxLate      time.Duration // longest a check started after it was due (the bound held it back)
}

// NewProber returns a prober; it checks nothing until Run runs and Track
// gives it targets.
func NewProber(cfg ProberConfig) *Prober {
	if cfg.Interval <= 0 {
		cfg.Interval = DefaultProbeInterval
	}
	if cfg.MaxInFlight <= 0 {
		cfg.MaxInFlight = DefaultMaxProbes
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = 2 * time.Second
	}
	if cfg.OnChange == nil {
		cfg.OnChange = func() {}
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	return &Prober{
		cfg: cfg, wake: make(chan struct{}, 1), slots: make(chan struct{}, cfg.MaxInFlight),
		targets: map[string]*probeState{}, healthy: map[string]bool{}, unhealthy: map[string]bool{},
		stats: ProbeStats{MaxInFlight: cfg.MaxInFlight, Interval: cfg.Interval},
	}
}

// Track makes targets the instances to check. A new target (or one whose
// address or path changed) gets its first check at its phase within the
// next interval; a target already tracked keeps its timer and results. A
// tracked instance missing from targets is dropped, unless keep says its
// host was not listed this time (it did not answer yet): its checks go on.
func (p *Prober) Track(targets []ProbeTarget, keep func(host string) bool) {
	now := time.Now()
	p.mu.Lock()
	p.tracked++
	for _, t := range targets {
		if st, ok := p.targets[t.ID]; ok {
			if st.ProbeTarget == t {
				st.listed = p.tracked
				continue
			}
			p.drop(st) // moved: the old results say nothing of the new address
		}
		st := &probeState{ProbeTarget: t, addr: net.JoinHostPort(t.Host, strconv.Itoa(t.Port)), listed: p.tracked, next: firstProbe(now, p.cfg.Interval, t.ID)}
		p.targets[t.ID] = st
		heap.Push(&p.due, st)
	}
	for _, st := range p.targets {
		if st.listed != p.tracked && (keep == nil || !keep(st.Host)) {
			p.drop(st)
		}
	}
	p.mu.Unlock()
	p.poke()
}

// poke wakes Run to look at the due queue again: a target was added or
// put back, and may be due before the one Run waits for.
func (p *Prober) poke() {
	select {
	case p.wake <- struct{}{}:
	default:
	}
}

// drop forgets st; p.mu held.
func (p *Prober) drop(st *probeState) {
	st.dropped = true
	if st.index >= 0 {
		heap.Remove(&p.due, st.index)
	}
	delete(p.targets, st.ID)
	p.setResult(st.ID, false, false)
}

// setResult records whether id is healthy and unhealthy (neither: not
// checked yet, or failing fewer times than unhealthyAfter); p.mu held.
func (p *Prober) setResult(id string, healthy, unhealthy bool) {
	if p.healthy[id] == healthy && p.unhealthy[id] == unhealthy {
		return
	}
	if p.shared {
		p.healthy, p.unhealthy, p.shared = maps.Clone(p.healthy), maps.Clone(p.unhealthy), false
	}
	if healthy {
		p.healthy[id] = true
	} else {
		delete(p.healthy, id)
	}
	if unhealthy {
		p.unhealthy[id] = true
	} else {
		delete(p.unhealthy, id)
	}
}

// Passed records that a check of id made elsewhere (a rollout's own,
// before it routes the container) passed: failures the probes saw while
// the container was still starting say nothing of it now, and must not
// take it out of the table it was just put in. An id not tracked is left
// alone.
func (p *Prober) Passed(id string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	st, ok := p.targets[id]
	if !ok {
		return
	}
	st.checked, st.passed, st.failures = true, true, 0
	p.setResult(id, true, false)
}

// Health returns the tracked containers whose latest check passed, and
// those that failed unhealthyAfter or more checks in a row. A container
// not yet checked is in neither. The maps are shared: read them only.
func (p *Prober) Health() (healthy, unhealthy map[string]bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.shared = true
	return p.healthy, p.unhealthy
}

// Unchecked returns the ids of the tracked targets without a result yet.
func (p *Prober) Unchecked() []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	var out []string
	for id, st := range p.targets {
		if !st.checked {
			out = append(out, id)
		}
	}
	return out
}

// Stats returns what the prober did so far.
func (p *Prober) Stats() ProbeStats {
	p.mu.Lock()
	defer p.mu.Unlock()
	s := p.stats
	s.Targets = len(p.targets)
	for _, st := range p.targets {
		if st.checked {
			s.Checked++
		}
	}
	return s
}

// Run checks every tracked instance when its timer is due, at most
// MaxInFlight at once, until ctx ends; it returns once the running checks
// ended.
func (p *Prober) Run(ctx context.Context) {
	var wg sync.WaitGroup
	defer wg.Wait()
	timer := time.NewTimer(time.Hour)
	defer timer.Stop()
	for {
		st, wait := p.nextDue(time.Now())
		if st == nil {
			timer.Reset(wait)
			select {
			case <-ctx.Done():
				return
			case <-timer.C:
			case <-p.wake:
			}
			continue
		}
		select {
		case p.slots <- struct{}{}:
		case <-ctx.Done():
			p.requeue(st)
			return
		}
		p.launch(ctx, &wg, st, true)
	}
}

// CheckUnchecked checks at once, within the bound on checks in flight, the
// tracked targets among ids that have no result yet, and returns when they
// have one (or ctx ended). Their timers stay at their phases. The pass
// uses it for containers it knows nothing of, which it adopts or removes
// by their health, so that it judges them on the pass that finds them.
func (p *Prober) CheckUnchecked(ctx context.Context, ids []string) {
	var todo []*probeState
	p.mu.Lock()
	for _, id := range ids {
		if st := p.targets[id]; st != nil && !st.checked && st.index >= 0 {
			heap.Remove(&p.due, st.index)
			todo = append(todo, st)
		}
	}
	p.mu.Unlock()
	var wg sync.WaitGroup
	for i, st := range todo {
		select {
		case p.slots <- struct{}{}:
		case <-ctx.Done():
			for _, st := range todo[i:] {
				p.requeue(st)
			}
			wg.Wait()
			return
		}
		p.launch(ctx, &wg, st, false)
	}
	wg.Wait()
}

// launch starts the check of st in the slot the caller took, counted in
// wg; the slot is given back when the check is done. next is probe's.
func (p *Prober) launch(ctx context.Context, wg *sync.WaitGroup, st *probeState, next bool) {
	p.started(st)
	wg.Go(func() {
		defer func() { <-p.slots }()
		p.probe(ctx, st, next)
	})
}

// requeue puts back a target taken for a check that did not run.
func (p *Prober) requeue(st *probeState) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if !st.dropped {
		heap.Push(&p.due, st)
	}
}

// nextDue takes the target whose check is due at now, or says how long
// until the soonest one is.
func (p *Prober) nextDue(now time.Time) (*probeState, time.Duration) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if len(p.due) == 0 {
		return nil, time.Hour
	}
	if wait := p.due[0].next.Sub(now); wait > 0 {
		return nil, wait
	}
	return heap.Pop(&p.due).(*probeState), 0
}

func (p *Prober) started(st *probeState) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.stats.InFlight++
	p.stats.PeakInFlight = max(p.stats.PeakInFlight, p.stats.InFlight)
	p.stats.MaxLate = max(p.stats.MaxLate, time.Since(st.next))
}

// probe checks st once, records the result and puts st back in the due
// queue: at its next phase when next is set, else at the time it had.
func (p *Prober) probe(ctx context.Context, st *probeState, next bool) {
	pctx, cancel := context.WithTimeout(ctx, p.cfg.Timeout)
	err := probeConn(pctx, st.addr, st.Path)
	cancel()
	if ctx.Err() != nil {
		p.mu.Lock()
		p.stats.InFlight--
		p.mu.Unlock()
		p.requeue(st) // stopping: a check cut short says nothing of the instance
		return
	}
	p.mu.Lock()
	p.stats.InFlight--
	p.stats.Probes++
	if err != nil {
		p.stats.Failed++
	}
	if st.dropped {
		p.mu.Unlock()
		return
	}
	wasUnhealthy := st.failures >= unhealthyAfter
	st.checked, st.passed = true, err == nil
	if err == nil {
		st.failures = 0
	} else {
		st.failures++
	}
	changed := wasUnhealthy != (st.failures >= unhealthyAfter)
	p.setResult(st.ID, st.passed, st.failures >= unhealthyAfter)
	if next {
		st.next = nextCheck(time.Now(), p.cfg.Interval, st.ID, st.failures)
	}
	heap.Push(&p.due, st)
	p.mu.Unlock()
	p.poke() // its next check may come before the one Run waits for
	if !changed {
		return
	}
	if err != nil {
		p.cfg.Logger.Warn("instance failed its health check twice in a row: unrouting it until it passes", "addr", st.addr, "path", st.Path, "err", err)
	} else {
		p.cfg.Logger.Info("instance passes its health check again: routing it", "addr", st.addr)
	}
	p.cfg.OnChange()
}

// firstProbe returns when a target with this container id is first
// checked: at its phase, a fixed offset within the interval taken from a
// hash of the id, in the interval after now. Container ids are random, so
// the checks of many targets spread evenly over the interval, and a
// target's phase does not depend on when it was first seen.
func firstProbe(now time.Time, interval time.Duration, id string) time.Time {
	h := fnv.New64a()
	_, _ = h.Write([]byte(id))
	phase := time.Duration(h.Sum64() % uint64(interval))
	at := now.Truncate(interval).Add(phase)
	if at.Before(now) {
		at = at.Add(interval)
	}
	return at
}

// nextCheck returns when a target is checked next after a check that
// ended at now with failures consecutive failures. A first failure is
// confirmed half an interval later rather than at the next phase, so an
// instance that starts failing leaves the table within one and a half
// intervals, not two; otherwise the check after now at the target's phase
// (see firstProbe): a check held back by the bound moves the next one on
// rather than crowding it in early, so the spread comes back once the
// checks catch up.
func nextCheck(now time.Time, interval time.Duration, id string, failures int) time.Time {
	if failures > 0 && failures < unhealthyAfter {
		return now.Add(interval / 2)
	}
	return firstProbe(now, interval, id)
}

// dueQueue is a min-heap of targets by their next check.
type dueQueue []*probeState

func (q dueQueue) Len() int           { return len(q) }
func (q dueQueue) Less(i, j int) bool { return q[i].next.Before(q[j].next) }
func (q dueQueue) Swap(i, j int) {
	q[i], q[j] = q[j], q[i]
	q[i].index, q[j].index = i, j
}
func (q *dueQueue) Push(x any) {
	st := x.(*probeState)
	st.index = len(*q)
	*q = append(*q, st)
}
func (q *dueQueue) Pop() any {
	old := *q
	st := old[len(old)-1]
	old[len(old)-1] = nil
	st.index = -1
	*q = old[:len(old)-1]
	return st
}
