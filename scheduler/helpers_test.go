package scheduler_test

import (
	"context"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/longshoreman/longshoreman/cluster"
	"github.com/longshoreman/longshoreman/internal/testenv"
	"github.com/longshoreman/longshoreman/scheduler"
)

// routed returns the app's routed addresses in d's routing table.
func routed(tb testing.TB, d cluster.Store, app string) []string {
	tb.Helper()
	table, err := d.RoutingTable()
	if err != nil {
		tb.Fatal(err)
	}
	return table.Routes[app]
}

// runReconciler runs a reconciler of s with cfg until the test ends.
func runReconciler(tb testing.TB, s *scheduler.Scheduler, cfg scheduler.ReconcilerConfig) *scheduler.Reconciler {
	tb.Helper()
	r := scheduler.NewReconciler(s, cfg)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); r.Run(ctx) }()
	tb.Cleanup(func() { cancel(); <-done })
	return r
}

// listCounting counts the List calls made to each host, passing every call
// on to the real (or fake) engines.
type listCounting struct {
	scheduler.Engines
	mu    sync.Mutex // guards lists
	lists map[string]int
}

// checkViews runs the reconciler over s (whose engines are counted) and
// checks that, once the hosts' views are live, a pass that lists no host
// still sees a container started behind the controller's back (it is not
// needed, so it is removed), and that a killed instance is unrouted at
// once and replaced, with the periodic pass an hour away.
func checkViews(t *testing.T, s *scheduler.Scheduler, counted *listCounting, records interface {
	Instances(string) ([]cluster.Instance, error)
}, routedOf func(string) []string, app string, rev int, host string, w viewWorld) {
	r := runReconciler(t, s, scheduler.ReconcilerConfig{Interval: time.Hour, Grace: time.Minute})
	ctx := t.Context()

	// passNotListing runs one pass that is not host's periodic list and
	// reports whether it listed host (it must not, once the view is live).
	passNotListing := func() bool {
		for {
			if _, n := r.LastPass(); !scheduler.RelistDue(host, n) {
				break
			}
			r.Pass(ctx)
		}
		before := counted.listed(host)
		r.Pass(ctx)
		return counted.listed(host) != before
	}
	testenv.Eventually(t, 30*time.Second, "a pass reading the view of "+host+" instead of listing it", func() bool { return !passNotListing() })

	id := w.behind(t, app, rev, host)
	listings := 0
	testenv.Eventually(t, 60*time.Second, "the container started behind the controller's back removed by a pass that does not list "+host, func() bool {
		listed := passNotListing()
		gone := !w.exists(host, id)
		if listed && gone {
			// The pass had to list the host (on a busy machine a ping
			// came late, or the event stream was reopened): it proves
			// nothing of the view. Again, with another container.
			if listings++; listings == 5 {
				t.Fatalf("5 passes listed %s although its view was live and its periodic list not due", host)
			}
			id = w.behind(t, app, rev, host)
			return false
		}
		return gone
	})

	insts, err := records.Instances(app)
	if err != nil || len(insts) == 0 {
		t.Fatalf("instances of %s: %v, %v", app, insts, err)
	}
	victim := insts[0]
	w.kill(t, victim.ID)
	took := testenv.Eventually(t, 20*time.Second, "the killed instance unrouted", func() bool { return !contains(routedOf(app), victim.Addr()) })
	t.Logf("unrouted %s %s after the kill", victim.Addr(), took.Round(time.Millisecond))
	testenv.Eventually(t, 60*time.Second, "the killed instance replaced", func() bool {
		insts, _ := records.Instances(app)
		routedNow := routedOf(app)
		for _, i := range insts {
			if i.ID == victim.ID {
				return false
			}
		}
		return len(insts) == 2 && len(routedNow) == 2
	})
}

// viewWorld is what the view tests need of a cluster: start a container
// with the controller's labels behind its back, kill one, and say whether
// a container still exists.
type viewWorld struct {
	behind func(tb testing.TB, app string, rev int, host string) string
	kill   func(tb testing.TB, id string)
	exists func(host, id string) bool
}

func (l *listCounting) List(ctx context.Context, host string) ([]cluster.Container, error) {
	l.mu.Lock()
	l.lists[host]++
	l.mu.Unlock()
	return l.Engines.List(ctx, host)
}

func (l *listCounting) listed(host string) int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.lists[host]
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// progressLog records a rollout's progress steps; onStep, when set, runs
// inside the report, while the executor waits.
type progressLog struct {
	mu     sync.Mutex // guards lines
	lines  []cluster.Progress
	onStep func(cluster.Progress)
}

// report is the progress function of the rollout it records.
func (l *progressLog) report(p cluster.Progress) {
	l.mu.Lock()
	l.lines = append(l.lines, p)
	f := l.onStep
	l.mu.Unlock()
	if f != nil {
		f(p)
	}
}

// all returns the steps reported so far.
func (l *progressLog) all() []cluster.Progress {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]cluster.Progress(nil), l.lines...)
}

// steps returns the names of the steps reported so far, in order.
func (l *progressLog) steps() []string {
	var out []string
	for _, p := range l.all() {
		out = append(out, p.Step)
	}
	return out
}

// messages returns the messages of the steps named step.
func (l *progressLog) messages(step string) []string {
	var out []string
	for _, p := range l.with(step, "") {
		out = append(out, p.Message)
	}
	return out
}

// with returns the steps named step whose message contains says.
func (l *progressLog) with(step, says string) []cluster.Progress {
	var out []cluster.Progress
	for _, p := range l.all() {
		if p.Step == step && strings.Contains(p.Message, says) {
			out = append(out, p)
		}
	}
	return out
}

// eventLog records the events a scheduler emits (its Config.Events).
type eventLog struct {
	mu     sync.Mutex // guards events
	events []cluster.Event
}

func (l *eventLog) add(e cluster.Event) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.events = append(l.events, e)
}

// all returns the events emitted so far.
func (l *eventLog) all() []cluster.Event {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]cluster.Event(nil), l.events...)
}

// where returns the events emitted so far that keep is true of.
func (l *eventLog) where(keep func(cluster.Event) bool) []cluster.Event {
	var out []cluster.Event
	for _, e := range l.all() {
		if keep(e) {
			out = append(out, e)
		}
	}
	return out
}
