// Package leadership decides which controller changes the cluster, and
// fences every change by the leadership term it began in.
//
// On a data file there is one controller and it always leads: one term for
// the life of the process. On an etcd store the controllers elect one
// (package etcd's Election); each time this process wins, a new term
// begins, with a number and the election key and revision it won with, and
// it ends when that leadership does. A process that loses the leadership
// and wins it again is in a new term: what the old one began does not
// carry on under the new one.
//
// An operation (a deploy, a scale, an env change, a rollback, a repair, a
// drain...) carries the term it began in, in its context (Begin), and
// every store write and every Docker call that starts, stops or pulls
// checks that term, not merely that this process leads now: the store the
// scheduler writes through (Store) refuses a write of an ended term, and
// on etcd conditions each write, in the same transaction, on that term's
// election key; the engines (Engines) refuse such a call and cancel the
// ones in flight when their term ends. An operation of an ended term thus
// stops at its next step, and what it left (a revision still deploying,
// containers started but not routed) is settled by the leader's
// reconciler, as after a crash.
//
// The package owns the leadership type and the fenced views; it knows the
// election only through the small Election interface, which etcd.Election
// satisfies, and the fast tier's fake (internal/fakeelection).
package leadership

import (
	"context"
	"crypto/rand"
	"fmt"
	"os"
	"sync/atomic"
	"time"

	"github.com/longshoreman/longshoreman/cluster"
	"github.com/longshoreman/longshoreman/scheduler"
)

// Election is a campaign for the leadership of the controllers sharing a
// store.
type Election interface {
	// Run campaigns until ctx ends. Each time this process wins, it calls
	// lead with a context that ends as soon as that leadership does, and
	// the election key and its create revision this win holds (the fence
	// of the term's writes); lead must return once that context ends.
	Run(ctx context.Context, lead func(ctx context.Context, key string, rev int64))
	// Leading reports whether this process leads and is certain of it now.
	Leading() bool
	// Leader returns the leader last observed, ok false when none is known.
	Leader() (id, url string, ok bool)
	// Changes counts this process's gains and losses of the leadership.
	Changes() uint64
}

// Fenceable is a store whose writes can be conditioned on an election key
// (etcd.Store): Fenced returns a view of it whose every write lands only
// while key exists with create revision rev, in the same transaction.
type Fenceable interface {
	Fenced(key string, rev int64) cluster.Store
}

// Term is one leadership of this process, from a gain to the loss that
// ends it.
type Term struct {
	Number uint64 // this process's terms, counted from 1
	Key    string // the election key it won with; "" on a data file
	Rev    int64  // that key's create revision; 0 on a data file
}

func (t Term) String() string {
	if t.Key == "" {
		return fmt.Sprintf("term %d", t.Number)
	}
	return fmt.Sprintf("term %d (election key %s, revision %d)", t.Number, t.Key, t.Rev)
}

// term is a Term with what lives and dies with it.
type term struct {
	Term
	ctx   context.Context // ends when the term does; carries the term
	store scheduler.Store // the store as this term writes it
}

// termKey is the context key of an operation's *term.
type termKey struct{}

func termOf(ctx context.Context) *term {
	t, _ := ctx.Value(termKey{}).(*term)
	return t
}

// Config says what a Leadership leads.
type Config struct {
	// Store is the controller's store. When it is Fenceable (etcd), each
	// term writes through the view fenced on its election key.
	Store scheduler.Store
	// Election is nil on a data file: this process always leads.
	Election Election
	// ID names this controller in its events (see ID).
	ID string
	// Events is told when this controller gains and loses the leadership
	// (on an etcd store only); it must not block. Nil drops them.
	Events func(cluster.Event)
}

// Leadership says whether, and in which term, this controller leads, and
// fences what operations change by their term. It is safe for concurrent
// use.
type Leadership struct {
	cfg     Config
	current atomic.Pointer[term] // nil while not leading
	numbers atomic.Uint64        // the last term's number
	// single is the data file's one term, made at New so that requests
	// served before Run find a leader; Run ends it with its ctx.
	single context.CancelFunc
}

// New returns the leadership of cfg. On a data file (no Election) the
// process leads from now on, in term 1, until Run's ctx ends.
func New(cfg Config) *Leadership {
	l := &Leadership{cfg: cfg}
	if cfg.Election == nil {
		ctx, cancel := context.WithCancel(context.Background())
		l.single = cancel
		l.current.Store(l.newTerm(ctx, "", 0))
	}
	return l
}

// ID returns a name for this controller among those of a prefix: the host
// and process, and a random part for controllers sharing a process in
// tests.
func ID() string {
	host, _ := os.Hostname()
	b := make([]byte, 3)
	_, _ = rand.Read(b)
	return fmt.Sprintf("%s-%d-%x", host, os.Getpid(), b)
}

// newTerm numbers a new term won with key and rev, its context derived
// from ctx.
func (l *Leadership) newTerm(ctx context.Context, key string, rev int64) *term {
	t := &term{Term: Term{Number: l.numbers.Add(1), Key: key, Rev: rev}, store: l.cfg.Store}
	if f, ok := l.cfg.Store.(Fenceable); ok && key != "" {
		t.store = f.Fenced(key, rev)
	}
	t.ctx = context.WithValue(ctx, termKey{}, t)
	return t
}

// Run calls lead with the context of each term, which carries the term
// and ends with it, until ctx ends: on a data file once, with the one term
// that ends with ctx.
func (l *Leadership) Run(ctx context.Context, lead func(context.Context)) {
	if l.cfg.Election == nil {
		t := l.current.Load()
		stop := context.AfterFunc(ctx, l.single)
		defer stop()
		lead(t.ctx)
		l.single()
		return
	}
	l.cfg.Election.Run(ctx, func(ectx context.Context, key string, rev int64) {
		t := l.newTerm(ectx, key, rev)
		l.current.Store(t)
		l.emit("elected")
		lead(t.ctx)
		l.current.CompareAndSwap(t, nil)
		l.emit("lost")
	})
}

// emit tells Events of a leadership change of this controller; a data
// file has none.
func (l *Leadership) emit(step string) {
	if l.cfg.Election != nil && l.cfg.Events != nil {
		l.cfg.Events(cluster.Event{Type: cluster.EventLeader, Step: step, Message: l.cfg.ID, Time: time.Now().UTC()})
	}
}

// holds reports whether t is the term this process leads in now.
func (l *Leadership) holds(t *term) bool {
	return t != nil && l.current.Load() == t && t.ctx.Err() == nil &&
		(l.cfg.Election == nil || l.cfg.Election.Leading())
}

// Leading reports whether this controller leads now.
func (l *Leadership) Leading() bool { return l.holds(l.current.Load()) }

// Current returns the term this controller leads in, ok false when it
// does not lead.
func (l *Leadership) Current() (Term, bool) {
	t := l.current.Load()
	if !l.holds(t) {
		return Term{}, false
	}
	return t.Term, true
}

// Leader returns the leader's id and URL; ok is false on a data file and
// while no leader is known.
func (l *Leadership) Leader() (id, url string, ok bool) {
	if l.cfg.Election == nil {
		return "", "", false
	}
	return l.cfg.Election.Leader()
}

// Context ends when the current term does; it is already ended while this
// controller does not lead.
func (l *Leadership) Context() context.Context {
	if t := l.current.Load(); t != nil {
		return t.ctx
	}
	return ended
}

// ended is a context that has ended: Context's while not leading.
var ended = func() context.Context {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	return ctx
}()

// Changes counts leadership gains and losses; 0 on a data file.
func (l *Leadership) Changes() uint64 {
	if l.cfg.Election == nil {
		return 0
	}
	return l.cfg.Election.Changes()
}

// Begin binds ctx to a term, as an operation does when it begins: the
// term ctx carries already (a reconciler's, whose context is its term's),
// else the one this controller leads in now. The returned context carries
// that term and ends when it does (or when ctx does), with an EUNAVAILABLE
// error naming the term as its cause (context.Cause); cancel releases it
// and must be called when the operation ends. Begin fails with
// EUNAVAILABLE when this controller does not lead, or ctx's term ended.
// It implements scheduler.Fence.
func (l *Leadership) Begin(ctx context.Context) (context.Context, context.CancelFunc, error) {
	t := termOf(ctx)
	if t == nil {
		if t = l.current.Load(); t == nil {
			return nil, nil, notLeading()
		}
		ctx = context.WithValue(ctx, termKey{}, t)
	}
	if !l.holds(t) {
		return nil, nil, t.ended()
	}
	ctx, cancel := context.WithCancelCause(ctx)
	stop := context.AfterFunc(t.ctx, func() { cancel(t.ended()) })
	return ctx, func() { stop(); cancel(nil) }, nil
}

// check returns nil when ctx's term is the one this controller leads in
// now, else the error that refuses the call: EUNAVAILABLE for an ended
// term, EINTERNAL for a context that carries none (a call that no
// operation began, which is a bug).
func (l *Leadership) check(ctx context.Context, what string) (*term, error) {
	t := termOf(ctx)
	if t == nil {
		return nil, cluster.Errorf(cluster.EINTERNAL, "%s was attempted outside any leadership term: every change must begin as an operation (leadership.Begin).", what)
	}
	if !l.holds(t) {
		return nil, t.ended()
	}
	return t, nil
}

func notLeading() error {
	return cluster.Errorf(cluster.EUNAVAILABLE, "This controller does not lead: it starts no operation; the leader named by GET /healthz does. Retry in a few seconds.")
}

// ended is the error of a write or a Docker call of an operation whose
// term ended.
func (t *term) ended() error {
	return cluster.Errorf(cluster.EUNAVAILABLE, "This controller's leadership %s has ended: the operation begun in it stops and changes nothing more; the current leader settles what it left. Retry it against the leader named by GET /healthz.", t.Term)
}

// Store returns the store as an operation under ctx writes it: reads go
// to the store, and each write is refused with EUNAVAILABLE unless ctx's
// term (see Begin) is the one this controller leads in now; on etcd it
// then lands only while that term's election key exists. It implements
// scheduler.Fence.
func (l *Leadership) Store(ctx context.Context) scheduler.Store {
	t := termOf(ctx)
	base := l.cfg.Store
	if t != nil {
		base = t.store
	}
	return termStore{Store: scheduler.Audited(ctx, base), l: l, ctx: ctx}
}
