package scheduler

import (
	"cmp"
	"context"
	"maps"
	"slices"
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
	prober   *Prober
	interval time.Duration
	grace    time.Duration
	trigger  chan struct{}
	repairs  chan struct{}   // bounds the repairs running at once
	passing  sync.Mutex      // held by a pass: Pass and Run's passes never overlap
	views    *containerViews // each host's containers as its event stream reports them

	mu        sync.Mutex           // guards the fields below
	failing   map[string]time.Time // host -> when it first failed to answer
	down      map[string]bool      // hosts marked down
	lastPass  time.Duration
	passes    uint64
	recovered bool // guarded by passing, not mu: interrupted work was settled since Run began
	unsettled bool // guarded by passing: an interrupted deploy's app was busy; settle it at the next pass
	// tasksRead is guarded by passing: the tasks recorded running were
	// read from the store since Run began (a leader before this one may
	// have started them).
	tasksRead bool

	lastPassStart time.Time       // guarded by mu: when the last finished pass started
	ending        map[string]bool // guarded by mu: the task ids whose end a goroutine is recording
	// oom holds the containers reported killed for memory, by id, with
	// their host (guarded by mu): each is reported once and replaced,
	// even when Docker's restart policy brought it back.
	oom map[string]oomKill
	// promoting holds, by app (guarded by mu), when an automatic promote
	// of its canary may be tried next; running ones are in the future
	// (see autoPromote).
	promoting map[string]time.Time
}

// ReconcilerConfig tunes a Reconciler; zero values take the defaults.
type ReconcilerConfig struct {
	Interval time.Duration // default cluster.DefaultReconcile
	Grace    time.Duration // default cluster.DefaultHostGrace
	// ProbeInterval is how often each instance's health check runs, on its
	// own timer (see Prober); default Interval.
	ProbeInterval time.Duration
	MaxProbes     int // health checks in flight at once, default DefaultMaxProbes
}

// maxRepairs bounds the apps repaired at once; the others wait their turn.
const maxRepairs = 16

// NewReconciler returns a reconciler for s.
func NewReconciler(s *Scheduler, cfg ReconcilerConfig) *Reconciler {
	cfg.Interval = cmp.Or(cfg.Interval, cluster.DefaultReconcile)
	cfg.Grace = cmp.Or(cfg.Grace, cluster.DefaultHostGrace)
	cfg.ProbeInterval = cmp.Or(cfg.ProbeInterval, cfg.Interval)
	r := &Reconciler{
		s: s, interval: cfg.Interval, grace: cfg.Grace, trigger: make(chan struct{}, 1),
		repairs: make(chan struct{}, maxRepairs),
		failing: map[string]time.Time{}, down: map[string]bool{}, views: newContainerViews(),
		oom: map[string]oomKill{}, ending: map[string]bool{}, promoting: map[string]time.Time{},
	}
	started := func(host string, ct cluster.Container) { r.views.apply(host, viewUpdate{ID: ct.ID, Ct: ct}) }
	s.started.Store(&started)
	// A check that changes what should be routed asks for a pass at once,
	// so an instance failing its check leaves the table within one and a
	// half probe intervals whatever the reconcile interval.
	r.prober = NewProber(ProberConfig{Interval: cfg.ProbeInterval, MaxInFlight: cfg.MaxProbes, OnChange: r.Trigger, Logger: s.cfg.Logger})
	healthy := r.prober.Passed
	s.healthy.Store(&healthy)
	return r
}

// Run reconciles until ctx ends: a pass every interval, or sooner when
// Trigger is called or a health check changes what should be routed, the
// Docker events of every host, and the instances' health checks. A pass
// does not wait for the repairs it starts: an app whose repair waits on a
// slow health check is left to it, and the next pass repairs the others.
// With a Fence, Run reconciles within one leadership term (ctx's, or the
// current one), and returns when it ends.
func (r *Reconciler) Run(ctx context.Context) {
	ctx, end, err := r.s.begin(ctx)
	if err != nil {
		r.s.cfg.Logger.Warn("not reconciling", "err", cluster.ErrorMessage(err))
		return
	}
	defer end()
	// Each Run settles what was left interrupted before it: by a restart,
	// or, among several controllers, by the leader before this one. The
	// flag belongs to the passes, so it is reset under their lock.
	r.passing.Lock()
	r.recovered, r.tasksRead = false, false
	r.passing.Unlock()
	var wg sync.WaitGroup
	wg.Add(2)
	go func() {
		defer wg.Done()
		r.watchEvents(ctx)
	}()
	go func() {
		defer wg.Done()
		r.prober.Run(ctx)
	}()
	t := time.NewTicker(r.interval)
	defer t.Stop()
	for {
		r.pass(ctx, &wg)
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

// ProbeStats returns what the health checks did so far.
func (r *Reconciler) ProbeStats() ProbeStats { return r.prober.Stats() }

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

// Pass runs one reconcile pass over every app and waits for the repairs it
// started. With a Fence, it runs in ctx's leadership term, or the current
// one; it does nothing when this controller does not lead.
func (r *Reconciler) Pass(ctx context.Context) {
	ctx, end, err := r.s.begin(ctx)
	if err != nil {
		r.s.cfg.Logger.Warn("no reconcile pass", "err", cluster.ErrorMessage(err))
		return
	}
	defer end()
	var wg sync.WaitGroup
	r.pass(ctx, &wg)
	wg.Wait()
}

// pass observes every host and app once and starts a repair, in its own
// goroutine counted by repairs, for each app that needs one and is not
// busy; it does not wait for them.
func (r *Reconciler) pass(ctx context.Context, repairs *sync.WaitGroup) {
	r.passing.Lock()
	defer r.passing.Unlock()
	start := time.Now()
	busy, settled := r.recover(ctx, repairs)
	hosts, err := r.s.store.Hosts()
	if err != nil {
		r.s.cfg.Logger.Error("reconcile: reading hosts failed", "err", err)
		return
	}
	all, allErr := r.s.store.AllInstances()
	if allErr == nil {
		r.s.resumeRetirements(ctx, all)
	}
	apps, err := r.s.store.AllApps()
	if err != nil {
		r.s.cfg.Logger.Error("reconcile: reading apps failed", "err", err)
		return
	}
	r.autoPromote(ctx, apps, repairs)
	observedAt := time.Now().UTC()
	up, down, containers := r.observeHosts(ctx, hosts)
	// After the containers were listed: a task that started since is not
	// among them (its record is newer than observedAt), and one whose end
	// was recorded since is removed by its follower or found recorded.
	tasks, taskRecords := r.s.tasks.followed(), r.s.tasks.runningByApp()
	healthy, unhealthy := r.observeHealth(ctx, hosts, up, down, containers, all, apps)

	r.markKilledForMemory(ctx, containers, up, observedAt)
	byApp := map[string][]cluster.Container{}
	for _, ct := range containers {
		byApp[ct.App] = append(byApp[ct.App], ct)
	}
	names := appNames(apps, byApp, taskRecords)
	known := make(map[string]bool, len(hosts))
	for _, h := range hosts {
		known[h.Addr] = true
	}
	// One-off tasks hold no app lock, and neither does recording their
	// ends: a long deploy of the app must not keep a task past its deadline.
	for name := range names {
		r.endTasks(ctx, repairs, AppState{Containers: byApp[name], HostUp: up, HostDown: down, Hosts: known, ObservedAt: observedAt,
			Tasks: tasks, TaskRecords: taskRecords[name]})
	}
	retiring := r.s.Retiring()
	locked := r.lockRepairs(ctx, names)
	if len(busy) > 0 {
		r.unsettled = !r.settleHeld(busy, locked) || !settled
	}
	// Read after the locks are held, so no operation changes these apps
	// between the read and the plan; one read for every app, as a pass
	// over a thousand apps cannot afford a thousand.
	states, err := r.observeApps(locked)
	if err != nil {
		r.s.cfg.Logger.Error("reconcile: reading apps and instances failed", "err", err)
	}
	for name, st := range states {
		st.Containers, st.HostUp, st.HostDown, st.Hosts = byApp[name], up, down, known
		st.Healthy, st.Unhealthy, st.ObservedAt, st.Retiring = healthy, unhealthy, observedAt, retiring
	}
	r.repairApps(locked, states, repairs)
	r.mu.Lock()
	r.lastPass = time.Since(start)
	r.lastPassStart = start
	r.passes++
	r.mu.Unlock()
	r.s.cfg.Observer.ReconcilePass(time.Since(start))
}

// recover settles the deploys an earlier term or a failed record left
// unsettled (busy: those whose apps an operation holds), finishes the
// deletes an earlier term left, and reads the running tasks, each once
// per term or until it worked.
func (r *Reconciler) recover(ctx context.Context, repairs *sync.WaitGroup) (busy map[string]bool, settled bool) {
	// Interrupted deploys are settled first: at the first pass of a term,
	// and after an operation could not record its outcome (see settle).
	settled = true
	if !r.recovered || r.unsettled || r.s.unsettled.Swap(false) {
		busy, settled = r.recoverDeploys(ctx)
		r.unsettled = !settled || len(busy) > 0
	}
	if !r.recovered {
		r.recoverDeletes(ctx, repairs)
		r.recovered = true
	}
	if !r.tasksRead {
		if running, err := r.s.store.RunningTasks(); err != nil {
			r.s.cfg.Logger.Error("reconcile: reading the running tasks failed", "err", err)
		} else {
			r.s.tasks.load(running)
			r.tasksRead = true
		}
	}
	return busy, settled
}

// appNames is every app a pass looks at: those of the store, and those
// only containers or running tasks still name (nil: the store does not
// know them, or no longer).
func appNames(apps []*cluster.App, byApp map[string][]cluster.Container, taskRecords map[string][]cluster.Task) map[string]*cluster.App {
	names := map[string]*cluster.App{}
	for _, a := range apps {
		names[a.Name] = a
	}
	for app := range byApp {
		if _, ok := names[app]; !ok {
			names[app] = nil // containers of an app the data file does not know
		}
	}
	for app := range taskRecords {
		if _, ok := names[app]; !ok {
			names[app] = nil // an app deleted since its tasks were read
		}
	}
	return names
}

// repairApps starts a repair of each locked app whose state needs one, at
// most cap(r.repairs) at once, and releases the other locks.
func (r *Reconciler) repairApps(locked map[string]repairLock, states map[string]*AppState, repairs *sync.WaitGroup) {
	for name, lk := range locked {
		if states[name] == nil {
			lk.unlock()
			continue
		}
		st := *states[name]
		if PlanRepair(st).Empty() {
			lk.unlock() // the common case: nothing to repair, no goroutine
			continue
		}
		repairs.Go(func() {
			defer lk.unlock()
			select {
			case r.repairs <- struct{}{}:
				defer func() { <-r.repairs }()
			case <-lk.ctx.Done():
				return
			}
			r.reconcileApp(lk.ctx, name, st)
		})
	}
}

// repairLock is an app's repair lock held by a pass.
type repairLock struct {
	ctx    context.Context // ends when an operator's operation pre-empts the repair
	unlock func()
}

// lockRepairs takes the repair lock of every app in names that no
// operation holds; the others are left to the pass triggered when what
// holds them lets go (a die event that came during a deploy or another
// repair is acted on then, not a periodic interval later).
func (r *Reconciler) lockRepairs(ctx context.Context, names map[string]*cluster.App) map[string]repairLock {
	locked := make(map[string]repairLock, len(names))
	for name := range names {
		rctx, unlock, ok, freed := r.s.lockRepair(ctx, name)
		if ok {
			locked[name] = repairLock{rctx, unlock}
			continue
		}
		if freed != nil {
			go func() {
				select {
				case <-freed:
					r.Trigger()
				case <-ctx.Done():
				}
			}()
		}
	}
	return locked
}

// observeApps reads, in one pass over the data file, each locked app and
// its instance records; an app the data file does not know gets a nil App
// and no records (its containers are removed).
func (r *Reconciler) observeApps(locked map[string]repairLock) (map[string]*AppState, error) {
	apps, err := r.s.store.AllApps()
	if err != nil {
		return nil, err
	}
	records, err := r.s.store.AllInstances()
	if err != nil {
		return nil, err
	}
	states := make(map[string]*AppState, len(locked))
	for name := range locked {
		states[name] = &AppState{}
	}
	for _, a := range apps {
		if st := states[a.Name]; st != nil {
			st.App = a
		}
	}
	// Records come sorted by app: look each app up once.
	var st *AppState
	for i, rec := range records {
		if i == 0 || rec.App != records[i-1].App {
			st = states[rec.App]
		}
		if st != nil && st.App != nil {
			st.Records = append(st.Records, rec)
		}
	}
	return states, nil
}

// observeHosts finds which hosts answer, tracks which are down, and
// returns this controller's containers on the ones that answer. A host
// whose view is live (see containerViews) is only pinged and its containers read
// from the view; the others, and each host once every relistEvery passes,
// are listed in full.
func (r *Reconciler) observeHosts(ctx context.Context, hosts []cluster.Host) (up, down map[string]bool, containers []cluster.Container) {
	up, down = map[string]bool{}, map[string]bool{}
	r.mu.Lock()
	pass := r.passes
	r.mu.Unlock()
	lists := make([][]cluster.Container, len(hosts))
	var mu sync.Mutex
	var wg sync.WaitGroup
	for i, h := range hosts {
		wg.Go(func() {
			list, err := r.observeHost(ctx, h.Addr, pass)
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
			lists[i] = list
		})
	}
	wg.Wait()
	// One allocation for every host's containers: growing the slice host
	// by host copied it over and over at 10,000 containers.
	n := 0
	for _, list := range lists {
		n += len(list)
	}
	containers = make([]cluster.Container, 0, n)
	for _, list := range lists {
		for _, ct := range list {
			if ct.Controller == r.s.cfg.Controller {
				containers = append(containers, ct)
			}
		}
	}
	return up, down, containers
}

// observeHost returns host's containers, from its view when it is live, no
// full list is due and the host answered the last pass, else from a full
// list that then refreshes the view.
func (r *Reconciler) observeHost(ctx context.Context, host string, pass uint64) ([]cluster.Container, error) {
	lctx, cancel := context.WithTimeout(ctx, r.s.cfg.PingTimeout)
	defer cancel()
	r.mu.Lock()
	_, failing := r.failing[host]
	r.mu.Unlock()
	// A host that failed to answer is listed once it answers again: its
	// stream may have stalled rather than failed, and what it holds of the
	// time the host was unreachable may not have arrived yet.
	if !failing && !relistDue(host, pass) {
		if list, live := r.views.snapshot(host); live {
			// The view says what runs; the ping says the host still answers,
			// which a quiet event stream does not.
			if err := r.s.engines.Ping(lctx, host); err != nil {
				return nil, err
			}
			return r.confirmStopped(lctx, host, list, nil), nil
		}
	}
	r.views.beginList(host)
	list, err := r.s.engines.List(lctx, host)
	if err != nil {
		r.views.endList(host, nil, err)
		return nil, err
	}
	// The list with the deaths its host reported that it may not show yet
	// (see endedKeep), each confirmed, as a view's are; the containers
	// the list itself shows stopped need no second look.
	stopped := map[string]bool{}
	for _, ct := range list {
		if !ct.Running {
			stopped[ct.ID] = true
		}
	}
	return r.confirmStopped(lctx, host, r.views.endList(host, list, nil), stopped), nil
}

// confirmStopped asks Docker again about the containers of list (a host's
// view) that are not running, and returns list with what it says: the
// view lags the host by the events not yet applied (each waits for an
// inspect, one at a time per host), and a container it shows created but
// not yet started, or stopped and started again, must not be judged dead
// and replaced. Containers of ours not running are few: a pass removes them.
// Those in listedStopped, which a list of Docker's showed stopped, are
// taken as they are.
func (r *Reconciler) confirmStopped(ctx context.Context, host string, list []cluster.Container, listedStopped map[string]bool) []cluster.Container {
	out := list[:0]
	for _, ct := range list {
		if ct.Running || ct.Controller != r.s.cfg.Controller || listedStopped[ct.ID] {
			out = append(out, ct)
			continue
		}
		now, err := r.s.engines.Inspect(ctx, host, ct.ID)
		switch {
		case err == nil:
			out = append(out, now)
		case cluster.ErrorCode(err) == cluster.ENOTFOUND:
			// Gone since: left out, as a list would.
		default:
			out = append(out, ct) // as the view has it
		}
	}
	return out
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
		r.s.emit(cluster.Event{Type: cluster.EventHost, Step: "down", Host: host, Message: cluster.ErrorMessage(err)})
		r.s.cfg.Logger.Warn("host marked down: replacing its instances elsewhere", "host", host, "since", since.UTC().Format(time.RFC3339))
	}
	return true
}

func (r *Reconciler) hostAnswered(host string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.down[host] {
		r.s.emit(cluster.Event{Type: cluster.EventHost, Step: "up", Host: host})
		r.s.cfg.Logger.Info("host answers again: removing its stale containers", "host", host)
	}
	delete(r.failing, host)
	delete(r.down, host)
}

// observeHealth gives the prober the running containers just listed and
// returns its latest results: which passed their last check, and which
// failed enough in a row to leave the table. Containers on a host that is
// late to answer, neither up nor down, stay checked; those on a host down
// or gone from the cluster are dropped. A running container without an
// instance record (left by a crash) is checked now if it never was: the
// plan adopts or removes it by its health.
func (r *Reconciler) observeHealth(ctx context.Context, hosts []cluster.Host, up, down map[string]bool, containers []cluster.Container, records []cluster.Instance, apps []*cluster.App) (healthy, unhealthy map[string]bool) {
	paths := make(map[string]string, len(apps))
	for _, a := range apps {
		paths[a.Name] = a.HealthCheck.WithDefaults().Path
	}
	targets := make([]ProbeTarget, 0, len(containers))
	for _, ct := range containers {
		if !ct.Running || ct.Port == 0 {
			continue
		}
		path := paths[ct.App]
		if path == "" {
			path = cluster.DefaultHealthPath
		}
		targets = append(targets, ProbeTarget{ID: ct.ID, Host: ct.Host, Port: ct.Port, Path: path})
	}
	known := make(map[string]bool, len(hosts))
	for _, h := range hosts {
		known[h.Addr] = true
	}
	r.prober.Track(targets, func(host string) bool { return known[host] && !up[host] && !down[host] })
	if unchecked := r.prober.Unchecked(); len(unchecked) > 0 {
		unknown := make(map[string]bool, len(unchecked))
		for _, id := range unchecked {
			unknown[id] = true
		}
		for _, rec := range records {
			delete(unknown, rec.ID)
		}
		r.prober.CheckUnchecked(ctx, slices.Collect(maps.Keys(unknown)))
	}
	return r.prober.Health()
}

// reconcileApp plans and carries out the repair of one app; the caller
// holds the app's repair lock, and ctx ends when an operator pre-empts it.
func (r *Reconciler) reconcileApp(ctx context.Context, name string, st AppState) {
	p := PlanRepair(st)
	if p.Unplaced > 0 && st.App != nil {
		// Something is to be started: observe where it can go, and decide again.
		st.Current, _ = r.s.store.Revision(name, st.App.Revision)
		if all, err := r.s.store.AllInstances(); err == nil {
			hosts, _ := r.s.store.Hosts()
			st.Capacity = Capacity{Up: r.s.hostsUp(ctx, st.HostUp), All: all, HostCount: len(hosts)}
		}
		p = PlanRepair(st)
	}
	if p.PinnedDown > 0 {
		r.s.reportPinnedDown(name, st.Current, p.PinnedDown)
	}
	if p.Empty() {
		return
	}
	r.s.cfg.Logger.Info("reconcile", "app", name, "unroute", len(p.Unroute), "forget", len(p.Forget), "remove", len(p.Remove),
		"adopt", len(p.Adopt), "route", len(p.Route), "start", len(p.Start)+p.Unplaced, "retire", len(p.Retire))
	if _, err := r.s.run(ctx, &change{app: name, start: time.Now()}, p); err != nil && ctx.Err() == nil {
		r.s.cfg.Logger.Warn("replacing instances failed; retrying next pass", "app", name, "missing", len(p.Start)+p.Unplaced, "err", cluster.ErrorMessage(err))
	}
}

// recoverDeletes completes, in the background counted by wg, the
// deletions of apps that a controller began and did not finish. Each app's
// lock is taken before it returns, so no repair of the pass comes first.
func (r *Reconciler) recoverDeletes(ctx context.Context, wg *sync.WaitGroup) {
	apps, err := r.s.store.AllApps()
	if err != nil {
		r.s.cfg.Logger.Error("reconcile: reading apps failed", "err", err)
		return
	}
	for _, a := range apps {
		if !a.Deleting {
			continue
		}
		unlock, err := r.s.lock(a.Name, "a delete")
		if err != nil {
			continue
		}
		wg.Go(func() {
			defer unlock()
			if err := r.s.deleteApp(ctx, a.Name); err != nil {
				r.s.cfg.Logger.Warn("completing a delete begun before the restart failed; retrying next start", "app", a.Name, "err", cluster.ErrorMessage(err))
			} else {
				r.s.cfg.Logger.Info("completed a delete begun before the restart", "app", a.Name)
			}
		})
	}
}

// watchEvents follows every host's Docker events, unrouting an instance
// the moment its container dies and asking for a pass. A host's stream is
// opened at start and as soon as the host is added (the scheduler says so);
// streams that fail are reopened with backoff, resuming from the last
// event's time so a death while the stream was down is still seen.
func (r *Reconciler) watchEvents(ctx context.Context) {
	watching := map[string]bool{}
	var mu sync.Mutex
	// The periodic look only catches hosts added behind the scheduler's
	// back (straight into the data file); AddHost wakes this at once.
	t := time.NewTicker(5 * time.Second)
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
		case <-r.s.hostsChanged:
		}
	}
}

func (r *Reconciler) watchHost(ctx context.Context, host string) {
	backoff := time.Second
	// Asking from the moment the watch began covers the time the stream
	// takes to open; later reopenings resume from the last event seen.
	since := time.Now()
	defer r.views.streamClosed(host)
	for ctx.Err() == nil {
		if ok, _ := r.s.store.HasHost(host); !ok {
			return
		}
		opened := time.Now()
		events, errs := r.s.engines.Events(ctx, host, since)
		// The view is stale until the next pass lists the host: that list
		// is taken after the stream asked for every event since, so
		// together they miss nothing.
		r.views.streamOpened(host)
	stream:
		for {
			select {
			case ev := <-events:
				if ev.Time.After(since) {
					since = ev.Time
				}
				// The view first: the pass a death asks for must see it.
				r.updateView(ctx, ev)
				r.onEvent(ctx, ev)
			case <-errs:
				r.views.streamClosed(host)
				break stream
			case <-ctx.Done():
				r.views.streamClosed(host)
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

func (r *Reconciler) onEvent(ctx context.Context, ev cluster.ContainerEvent) {
	switch ev.Action {
	case "oom":
		r.killedForMemory(ctx, ev.Host, ev.App, ev.ID, ev.Revision, ev.Time)
	case "die", "kill", "stop":
	default:
		return
	}
	insts, err := r.s.store.Instances(ev.App)
	if err != nil {
		return
	}
	for _, i := range insts {
		if i.ID != ev.ID {
			continue
		}
		if ev.Action != "oom" { // an oom has its own event; a stop of this controller's is skipped
			r.s.reportDied(i, ev.Action)
		}
		if i.Routed {
			_ = r.s.fenced(ctx).SetRouted(i.App, []string{i.ID}, false)
			r.s.cfg.RoutesChange()
			r.s.cfg.Logger.Warn("container died: unrouted; it will be replaced", "app", i.App, "instance", i.Addr(), "action", ev.Action)
		}
	}
	r.Trigger()
}

// updateView applies ev to its host's view: a death at once, without a
// call (the pass it triggers must see it); a removal; anything else (start,
// restart, health, rename...) by inspecting the container, so the view
// holds what Docker holds now. A container that cannot be inspected leaves
// the view stale, to be listed by the next pass.
func (r *Reconciler) updateView(ctx context.Context, ev cluster.ContainerEvent) {
	switch ev.Action {
	case "die", "oom":
		r.views.apply(ev.Host, viewUpdate{ID: ev.ID, Dead: true})
		return
	case "kill", "stop":
		// Unrouted by onEvent at once; the die that follows a kill that
		// ends the container updates the view, and an inspect here would
		// only delay the unroute.
		return
	case "destroy":
		r.views.apply(ev.Host, viewUpdate{ID: ev.ID, Gone: true})
		return
	}
	ictx, cancel := context.WithTimeout(ctx, r.s.cfg.PingTimeout)
	ct, err := r.s.engines.Inspect(ictx, ev.Host, ev.ID)
	cancel()
	switch {
	case err == nil:
		r.views.apply(ev.Host, viewUpdate{ID: ev.ID, Ct: ct})
	case cluster.ErrorCode(err) == cluster.ENOTFOUND:
		r.views.apply(ev.Host, viewUpdate{ID: ev.ID, Gone: true})
	default:
		r.views.stale(ev.Host)
	}
}
