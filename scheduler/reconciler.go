package scheduler

import (
	"context"
	"sort"
	"sync"
	"time"

	"github.com/longshoreman/longshoreman/cluster"
)

// Reconciler repairs what drifts: containers that die, hosts that stop
// answering or come back, containers left by a crash, instances that fail
// their health checks, deploys cut short by a controller restart. It runs a
// pass every interval and at once when a host reports a container's death.
type Reconciler struct {
	s        *Scheduler
	health   *healthChecker
	interval time.Duration
	grace    time.Duration
	trigger  chan struct{}

	mu        sync.Mutex           // guards the fields below
	failing   map[string]time.Time // host -> when it first failed to answer
	down      map[string]bool      // hosts marked down
	failures  map[string]int       // container id -> consecutive failed health checks
	lastPass  time.Duration
	passes    uint64
	recovered bool

	lastPassStart time.Time // guarded by mu: when the last finished pass started
}

// ReconcilerConfig tunes a Reconciler; zero values take the defaults.
type ReconcilerConfig struct {
	Interval time.Duration // default cluster.DefaultReconcile
	Grace    time.Duration // default cluster.DefaultHostGrace
}

// unhealthyAfter is how many consecutive failed checks take a routed
// instance out of the table; one pass brings it back.
const unhealthyAfter = 2

// NewReconciler returns a reconciler for s.
func NewReconciler(s *Scheduler, cfg ReconcilerConfig) *Reconciler {
	if cfg.Interval == 0 {
		cfg.Interval = cluster.DefaultReconcile
	}
	if cfg.Grace == 0 {
		cfg.Grace = cluster.DefaultHostGrace
	}
	return &Reconciler{
		s: s, health: newHealthChecker(true), interval: cfg.Interval, grace: cfg.Grace, trigger: make(chan struct{}, 1),
		failing: map[string]time.Time{}, down: map[string]bool{}, failures: map[string]int{},
	}
}

// Run reconciles until ctx ends: a pass every interval, or sooner when
// Trigger is called, and the Docker events of every host.
func (r *Reconciler) Run(ctx context.Context) {
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		r.watchEvents(ctx)
	}()
	t := time.NewTicker(r.interval)
	defer t.Stop()
	for {
		r.Pass(ctx)
		select {
		case <-ctx.Done():
			wg.Wait()
			return
		case <-t.C:
		case <-r.trigger:
		}
	}
}

// Trigger asks for a pass soon. It never blocks.
func (r *Reconciler) Trigger() {
	select {
	case r.trigger <- struct{}{}:
	default:
	}
}

// Down returns the hosts marked down, sorted.
func (r *Reconciler) Down() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []string
	for h := range r.down {
		out = append(out, h)
	}
	sort.Strings(out)
	return out
}

// Failing returns the hosts whose Docker API did not answer the reconciler
// since it last did, with when each first failed; hosts marked down are
// among them. It calls no host.
func (r *Reconciler) Failing() map[string]time.Time {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := make(map[string]time.Time, len(r.failing))
	for h, since := range r.failing {
		out[h] = since
	}
	return out
}

// LastPassStarted returns when the last finished pass started (zero
// before the first): hosts added since then have not been looked at.
func (r *Reconciler) LastPassStarted() time.Time {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.lastPassStart
}

// LastPass returns how long the last pass took and how many ran.
func (r *Reconciler) LastPass() (time.Duration, uint64) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.lastPass, r.passes
}

// Pass runs one reconcile pass over every app.
func (r *Reconciler) Pass(ctx context.Context) {
	start := time.Now()
	if !r.recovered {
		r.recoverDeploys(ctx)
		r.recovered = true
	}
	hosts, err := r.s.store.Hosts()
	if err != nil {
		r.s.cfg.Logger.Error("reconcile: reading hosts failed", "err", err)
		return
	}
	observedAt := time.Now().UTC()
	up, down, containers := r.observeHosts(ctx, hosts)
	healthy, unhealthy := r.checkHealth(ctx, containers)

	apps, err := r.s.store.AllApps()
	if err != nil {
		r.s.cfg.Logger.Error("reconcile: reading apps failed", "err", err)
		return
	}
	byApp := map[string][]cluster.Container{}
	for _, ct := range containers {
		byApp[ct.App] = append(byApp[ct.App], ct)
	}
	names := map[string]*cluster.App{}
	for _, a := range apps {
		names[a.Name] = a
	}
	for app := range byApp {
		if _, ok := names[app]; !ok {
			names[app] = nil // containers of an app the data file does not know
		}
	}

	var wg sync.WaitGroup
	for name := range names {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r.reconcileApp(ctx, name, AppState{
				Containers: byApp[name], HostUp: up, HostDown: down,
				Healthy: healthy, Unhealthy: unhealthy, ObservedAt: observedAt, Retiring: r.s.Retiring(),
			})
		}()
	}
	wg.Wait()
	r.mu.Lock()
	r.lastPass = time.Since(start)
	r.lastPassStart = start
	r.passes++
	r.mu.Unlock()
	r.s.cfg.Observer.ReconcilePass(time.Since(start))
}

// observeHosts pings every host, tracks which are down, and lists this
// controller's containers on the ones that answer.
func (r *Reconciler) observeHosts(ctx context.Context, hosts []cluster.Host) (up, down map[string]bool, containers []cluster.Container) {
	up, down = map[string]bool{}, map[string]bool{}
	var mu sync.Mutex
	var wg sync.WaitGroup
	for _, h := range hosts {
		wg.Add(1)
		go func() {
			defer wg.Done()
			lctx, cancel := context.WithTimeout(ctx, r.s.cfg.PingTimeout)
			list, err := r.s.engines.List(lctx, h.Addr)
			cancel()
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				if r.hostFailed(h.Addr, err) {
					down[h.Addr] = true
				}
				return
			}
			r.hostAnswered(h.Addr)
			up[h.Addr] = true
			for _, ct := range list {
				if ct.Controller == r.s.cfg.Controller {
					containers = append(containers, ct)
				}
			}
		}()
	}
	wg.Wait()
	return up, down, containers
}

// hostFailed records a failed call and reports whether the host is down.
func (r *Reconciler) hostFailed(host string, err error) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	since, ok := r.failing[host]
	if !ok {
		r.failing[host] = time.Now()
		r.s.cfg.Logger.Warn("host does not answer", "host", host, "err", cluster.ErrorMessage(err), "grace", r.grace)
		return false
	}
	if time.Since(since) < r.grace {
		return false
	}
	if !r.down[host] {
		r.down[host] = true
		r.s.cfg.Logger.Warn("host marked down: replacing its instances elsewhere", "host", host, "since", since.UTC().Format(time.RFC3339))
	}
	return true
}

func (r *Reconciler) hostAnswered(host string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.down[host] {
		r.s.cfg.Logger.Info("host answers again: removing its stale containers", "host", host)
	}
	delete(r.failing, host)
	delete(r.down, host)
}

// checkHealth probes every running container once, concurrently (at most
// 16 at a time), and returns which passed and which failed enough times in
// a row to leave the table.
func (r *Reconciler) checkHealth(ctx context.Context, containers []cluster.Container) (healthy, unhealthy map[string]bool) {
	healthy, unhealthy = map[string]bool{}, map[string]bool{}
	paths := map[string]string{}
	if apps, err := r.s.store.AllApps(); err == nil {
		for _, a := range apps {
			paths[a.Name] = a.HealthCheck.WithDefaults().Path
		}
	}
	var mu sync.Mutex
	var wg sync.WaitGroup
	sem := make(chan struct{}, 16)
	seen := map[string]bool{}
	for _, ct := range containers {
		seen[ct.ID] = true
		if !ct.Running || ct.Port == 0 {
			continue
		}
		path := paths[ct.App]
		if path == "" {
			path = cluster.DefaultHealthPath
		}
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer func() { <-sem; wg.Done() }()
			pctx, cancel := context.WithTimeout(ctx, 2*time.Second)
			err := r.health.probe(pctx, cluster.Instance{Host: ct.Host, Port: ct.Port}.Addr(), path)
			cancel()
			mu.Lock()
			defer mu.Unlock()
			r.mu.Lock()
			defer r.mu.Unlock()
			if err == nil {
				healthy[ct.ID] = true
				delete(r.failures, ct.ID)
				return
			}
			r.failures[ct.ID]++
			if r.failures[ct.ID] >= unhealthyAfter {
				unhealthy[ct.ID] = true
			}
		}()
	}
	wg.Wait()
	r.mu.Lock()
	for id := range r.failures {
		if !seen[id] {
			delete(r.failures, id)
		}
	}
	r.mu.Unlock()
	return healthy, unhealthy
}

// reconcileApp plans and carries out the repair of one app, under its
// lock; an app busy with a deploy is left for the next pass.
func (r *Reconciler) reconcileApp(ctx context.Context, name string, st AppState) {
	unlock, err := r.s.lock(name, "a repair")
	if err != nil {
		return
	}
	defer unlock()
	if app, err := r.s.store.App(name); err == nil {
		st.App = app
		if st.Records, err = r.s.store.Instances(name); err != nil {
			return
		}
	} else if cluster.ErrorCode(err) != cluster.ENOTFOUND {
		return
	}
	p := PlanApp(st)
	if p.Empty() {
		return
	}
	r.s.cfg.Logger.Info("reconcile", "app", name, "unroute", len(p.Unroute), "forget", len(p.Forget), "remove", len(p.Remove),
		"adopt", len(p.Adopt), "route", len(p.Route), "start", p.Start, "retire", len(p.Retire))
	r.execute(ctx, name, st.App, p)
}

func (r *Reconciler) execute(ctx context.Context, name string, app *cluster.App, p Plan) {
	s := r.s
	if len(p.Unroute) > 0 {
		_ = s.store.SetRouted(name, instanceIDs(p.Unroute), false)
		s.cfg.RoutesChange()
	}
	for _, rec := range p.Forget {
		_ = s.store.DeleteInstance(name, rec.ID)
	}
	c := &change{app: name, start: time.Now()}
	var wg sync.WaitGroup
	for _, ct := range p.Remove {
		wg.Add(1)
		go func() {
			defer wg.Done()
			sctx, cancel := context.WithTimeout(ctx, s.cfg.StopTimeout+30*time.Second)
			defer cancel()
			if err := s.engines.Stop(sctx, ct.Host, ct.ID, s.cfg.StopTimeout); err != nil {
				s.cfg.Logger.Warn("removing a stale container failed", "app", name, "host", ct.Host, "container", short(ct.ID), "err", err)
			}
		}()
	}
	wg.Wait()
	routed := false
	for _, ct := range p.Adopt {
		inst := cluster.Instance{ID: ct.ID, App: name, Revision: ct.Revision, Host: ct.Host, Port: ct.Port, Routed: true, Started: time.Now().UTC()}
		if err := s.store.PutInstance(inst); err == nil {
			routed = true
			s.cfg.Logger.Info("adopted a running container", "app", name, "instance", inst.Addr())
		}
	}
	if len(p.Route) > 0 {
		_ = s.store.SetRouted(name, instanceIDs(p.Route), true)
		routed = true
	}
	if routed {
		s.cfg.RoutesChange()
	}
	if p.Start > 0 && app != nil {
		rev, err := s.store.Revision(name, app.Revision)
		if err == nil {
			c.rev, c.add = rev, p.Start
			_, err = s.apply(ctx, c)
		}
		if err != nil {
			s.cfg.Logger.Warn("replacing instances failed; retrying next pass", "app", name, "missing", p.Start, "err", cluster.ErrorMessage(err))
		}
	}
	s.retire(ctx, c, p.Retire, true)
}

// recoverDeploys settles revisions left "deploying" by a controller that
// stopped mid-deploy: succeeded when every new instance was already routed
// and the old ones gone, failed otherwise (its instances are then retired
// by the pass, since they are not of the current revision).
func (r *Reconciler) recoverDeploys(ctx context.Context) {
	revs, err := r.s.store.Deploying()
	if err != nil {
		r.s.cfg.Logger.Error("reconcile: reading interrupted deploys failed", "err", err)
		return
	}
	for _, rev := range revs {
		unlock, err := r.s.lock(rev.App, "a recovery")
		if err != nil {
			continue // a deploy runs for it right now: it is not interrupted
		}
		insts, _ := r.s.store.Instances(rev.App)
		done := len(insts) >= rev.Count
		for _, i := range insts {
			if i.Revision != rev.Number || !i.Routed {
				done = false
			}
		}
		status, reason := cluster.StatusFailed, "Interrupted: the controller stopped during this deploy. Deploy again to retry."
		if done {
			status, reason = cluster.StatusSucceeded, ""
		}
		if _, err := r.s.store.FinishRevision(rev.App, rev.Number, status, reason); err != nil {
			r.s.cfg.Logger.Error("recording an interrupted deploy failed", "app", rev.App, "err", err)
		} else {
			r.s.cfg.Logger.Warn("settled a deploy interrupted by a restart", "app", rev.App, "revision", rev.Number, "status", status)
		}
		unlock()
	}
}

// watchEvents follows every host's Docker events, unrouting an instance
// the moment its container dies and asking for a pass. Streams that fail
// are reopened with backoff; hosts added later are picked up.
func (r *Reconciler) watchEvents(ctx context.Context) {
	watching := map[string]bool{}
	var mu sync.Mutex
	t := time.NewTicker(time.Second)
	defer t.Stop()
	for {
		hosts, _ := r.s.store.Hosts()
		for _, h := range hosts {
			mu.Lock()
			if !watching[h.Addr] {
				watching[h.Addr] = true
				go func() {
					r.watchHost(ctx, h.Addr)
					mu.Lock()
					delete(watching, h.Addr)
					mu.Unlock()
				}()
			}
			mu.Unlock()
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

func (r *Reconciler) watchHost(ctx context.Context, host string) {
	backoff := time.Second
	for ctx.Err() == nil {
		if ok, _ := r.s.store.HasHost(host); !ok {
			return
		}
		events, errs := r.s.engines.Events(ctx, host)
		opened := time.Now()
	stream:
		for {
			select {
			case ev := <-events:
				r.onEvent(ev)
			case <-errs:
				break stream
			case <-ctx.Done():
				return
			}
		}
		if time.Since(opened) > time.Minute {
			backoff = time.Second
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(backoff):
		}
		backoff = min(backoff*2, 30*time.Second)
	}
}

func (r *Reconciler) onEvent(ev cluster.ContainerEvent) {
	switch ev.Action {
	case "die", "kill", "oom", "stop":
	default:
		return
	}
	insts, err := r.s.store.Instances(ev.App)
	if err != nil {
		return
	}
	for _, i := range insts {
		if i.ID == ev.ID && i.Routed {
			_ = r.s.store.SetRouted(i.App, []string{i.ID}, false)
			r.s.cfg.RoutesChange()
			r.s.cfg.Logger.Warn("container died: unrouted; it will be replaced", "app", i.App, "instance", i.Addr(), "action", ev.Action)
		}
	}
	r.Trigger()
}
