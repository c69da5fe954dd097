package command

import (
	"context"
	"crypto/rand"
	"fmt"
	"os"
	"sync"
	"time"

	"github.com/longshoreman/longshoreman/cluster"
	"github.com/longshoreman/longshoreman/etcd"
	"github.com/longshoreman/longshoreman/pubsub"
	"github.com/longshoreman/longshoreman/scheduler"
)

// leadership decides which controller deploys, reconciles, watches Docker
// events and publishes. On a data file there is one controller and it
// always leads; on an etcd store the controllers elect one.
type leadership struct {
	election *etcd.Election // nil on a data file
	// events is told when this controller gains and loses the
	// leadership; set before Run, may be nil.
	events func(cluster.Event)
	id     string // this controller's name in the election

	mu  sync.Mutex // guards ctx
	ctx context.Context
}

func newLeadership(store cluster.Store, cfg etcd.ElectionConfig) *leadership {
	l := &leadership{id: cfg.ID}
	cancelled, cancel := context.WithCancel(context.Background())
	cancel()
	l.ctx = cancelled
	if s, ok := store.(*etcd.Store); ok {
		l.election = s.NewElection(cfg)
	}
	return l
}

// electionID names this controller among those of a prefix: the host and
// process, and a random part for controllers sharing a process in tests.
func electionID() string {
	host, _ := os.Hostname()
	b := make([]byte, 3)
	_, _ = rand.Read(b)
	return fmt.Sprintf("%s-%d-%x", host, os.Getpid(), b)
}

// emit tells events of a leadership change of this controller; a data
// file has none.
func (l *leadership) emit(step string) {
	if l.election != nil && l.events != nil {
		l.events(cluster.Event{Type: cluster.EventLeader, Step: step, Message: l.id, Time: time.Now().UTC()})
	}
}

// Leading reports whether this controller leads now.
func (l *leadership) Leading() bool { return l.election == nil || l.election.Leading() }

// Leader returns the leader's id and URL.
func (l *leadership) Leader() (id, url string, ok bool) {
	if l.election == nil {
		return "", "", false
	}
	lead, ok := l.election.Leader()
	return lead.ID, lead.URL, ok
}

// Context ends when the current leadership does.
func (l *leadership) Context() context.Context {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.ctx
}

// Changes counts leadership gains and losses.
func (l *leadership) Changes() uint64 {
	if l.election == nil {
		return 0
	}
	return l.election.Changes()
}

// Run calls lead with a context that ends with each leadership, until ctx
// ends: once, with ctx, on a data file.
func (l *leadership) Run(ctx context.Context, lead func(context.Context)) {
	run := func(lctx context.Context) {
		l.mu.Lock()
		l.ctx = lctx
		l.mu.Unlock()
		l.emit("elected")
		lead(lctx)
		l.emit("lost")
	}
	if l.election == nil {
		run(ctx)
		return
	}
	l.election.Run(ctx, run)
}

// fencedTable refuses to hand the publisher a table unless this controller
// leads, so a leader resumed after its lease ran out publishes nothing,
// even before its loops have been stopped.
type fencedTable struct {
	pubsub.TableSource
	l *leadership
}

func (f fencedTable) RoutingTable() (cluster.RoutingTable, error) {
	if !f.l.Leading() {
		return cluster.RoutingTable{}, cluster.Errorf(cluster.EUNAVAILABLE, "This controller does not lead: only the leader publishes routing tables.")
	}
	return f.TableSource.RoutingTable()
}

// fencedEngines refuses to pull, start or stop containers unless this
// controller leads, and cancels those calls in flight when the leadership
// ends, so a leader resumed after its lease ran out does not stop what the
// new leader routes; what it had started, the new leader's reconciler
// adopts or removes as after a crash.
type fencedEngines struct {
	scheduler.Engines
	l *leadership
}

func (f fencedEngines) notLeading() error {
	return cluster.Errorf(cluster.EUNAVAILABLE, "This controller no longer leads: it starts and stops no container; the leader named by GET /healthz does.")
}

// bind returns ctx cut short when the leadership ends: deploys run on
// contexts detached from their requests, so this is what cancels their
// Docker calls in flight when the leadership is lost.
func (f fencedEngines) bind(ctx context.Context) (context.Context, context.CancelFunc) {
	ctx, cancel := context.WithCancel(ctx)
	stop := context.AfterFunc(f.l.Context(), cancel)
	return ctx, func() { stop(); cancel() }
}

func (f fencedEngines) Pull(ctx context.Context, host, image string) (string, error) {
	if !f.l.Leading() {
		return "", f.notLeading()
	}
	ctx, cancel := f.bind(ctx)
	defer cancel()
	return f.Engines.Pull(ctx, host, image)
}

func (f fencedEngines) Run(ctx context.Context, spec cluster.ContainerSpec) (cluster.Container, error) {
	if !f.l.Leading() {
		return cluster.Container{}, f.notLeading()
	}
	ctx, cancel := f.bind(ctx)
	defer cancel()
	return f.Engines.Run(ctx, spec)
}

func (f fencedEngines) Stop(ctx context.Context, host, id string, timeout time.Duration) error {
	if !f.l.Leading() {
		return f.notLeading()
	}
	ctx, cancel := f.bind(ctx)
	defer cancel()
	return f.Engines.Stop(ctx, host, id, timeout)
}

func (f fencedEngines) RunTask(ctx context.Context, spec cluster.ContainerSpec, timeout time.Duration, output func(cluster.TaskLine)) (cluster.TaskResult, error) {
	if !f.l.Leading() {
		return cluster.TaskResult{}, f.notLeading()
	}
	ctx, cancel := f.bind(ctx)
	defer cancel()
	return f.Engines.RunTask(ctx, spec, timeout, output)
}
