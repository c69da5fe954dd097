package etcd

import (
	"context"
	"encoding/json"
	"log/slog"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/longshoreman/longshoreman/cluster"
	"go.etcd.io/etcd/client/v3/concurrency"
)

// Leader names the controller that leads a prefix: its controller process
// id and the URL the others forward to.
type Leader struct {
	ID  string `json:"id"`
	URL string `json:"url"`
}

// fence is an election key a leadership was won with: a write fenced by
// it lands only while the key exists at that revision, in the same Txn.
//
// The store's own fence (state.fence) is the latest gain's: it is replaced
// at each gain and never cleared, so a write of this process made while it
// does not lead fails. A view from Fenced keeps the fence of one term: its
// writes fail once that term ended, even when this process leads again in
// a later term meanwhile (a store-wide fence replaced at the regain would
// let them through).
type fence struct {
	key   string
	rev   int64
	where string
}

func (f *fence) lost() error {
	return cluster.Errorf(cluster.EUNAVAILABLE, "This controller no longer leads in the leadership term this write belongs to (its election key %s in the %s is gone): the write was refused; send it to the leader named by GET /healthz.", f.key, f.where)
}

// Fenced returns a view of s whose every write lands only while key
// exists with create revision rev: the writes of the leadership term won
// with that election key (package leadership). Reads are the store's. The
// view shares s's connection; closing it does nothing.
func (s *Store) Fenced(key string, rev int64) cluster.Store {
	return &Store{state: s.state, term: &fence{key: key, rev: rev, where: s.where()}}
}

// writeFence returns the fence s's writes are conditioned on, nil for none
// (a store that never led).
func (s *Store) writeFence() *fence {
	if s.term != nil {
		return s.term
	}
	return s.fence.Load()
}

// electionDir holds the campaign keys of the running controllers, each
// bound to its session's lease; the oldest leads.
const electionDir = "election"

// ElectionConfig says who campaigns and for how long a silent leader
// keeps leading.
type ElectionConfig struct {
	ID     string        // this process, unique among the controllers
	URL    string        // where the others reach this controller's API
	TTL    time.Duration // lease; rounded up to whole seconds, at least 1s
	Logger *slog.Logger
}

// Election campaigns for the leadership of a store's prefix with
// concurrency.Election, on the key P/election.
type Election struct {
	s   *Store
	cfg ElectionConfig
	ttl int

	leading atomic.Bool
	live    atomic.Pointer[liveness] // the current session's; nil before the first
	changes atomic.Uint64
	mu      sync.Mutex // guards leader
	leader  Leader
}

// NewElection returns an election on s's prefix; Run campaigns.
func (s *Store) NewElection(cfg ElectionConfig) *Election {
	ttl := int((cfg.TTL + time.Second - 1) / time.Second)
	if ttl < 1 {
		ttl = 1
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	return &Election{s: s, cfg: cfg, ttl: ttl}
}

// Leader returns the id and URL of the leader last observed, and false
// when none is known.
func (e *Election) Leader() (id, url string, ok bool) {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.leader.ID, e.leader.URL, e.leader.URL != ""
}

func (e *Election) setLeader(l Leader) {
	e.mu.Lock()
	e.leader = l
	e.mu.Unlock()
}

// Changes counts the leadership gains and losses of this process.
func (e *Election) Changes() uint64 { return e.changes.Load() }

// Leading reports whether this process leads and its lease is certainly
// still alive: a keepalive sent less than two thirds of the TTL ago was
// answered (see liveness), on this machine's monotonic clock, which runs
// on while the process is stopped. A leader resumed after a pause longer
// than that therefore stops publishing and calling Docker at once, before
// its session notices that the lease is gone.
func (e *Election) Leading() bool {
	if !e.leading.Load() {
		return false
	}
	live := e.live.Load()
	return live != nil && live.fresh()
}

// Run campaigns until ctx ends. Each time this process wins, it raises the
// routing-table epoch, fences the store's writes on its election key, and
// calls lead with a context that ends as soon as the leadership does (the
// session's lease lost or unconfirmed, or ctx ended), and with the
// election key and its create revision, which a term's own writes are
// fenced on (Fenced); lead must return once that context ends. Then Run
// campaigns again, as a follower, with a new session: a later win has a
// new key.
func (e *Election) Run(ctx context.Context, lead func(ctx context.Context, key string, rev int64)) {
	for ctx.Err() == nil {
		if err := e.term(ctx, lead); err != nil && ctx.Err() == nil {
			e.cfg.Logger.Warn("leader election failed; campaigning again", "err", e.s.unavailable(etcdErr(err)))
			select {
			case <-ctx.Done():
			case <-time.After(time.Second):
			}
		}
	}
}

// term runs one session: campaign, lead until the session ends, resign.
func (e *Election) term(ctx context.Context, lead func(context.Context, string, int64)) error {
	sess, err := concurrency.NewSession(e.s.client, concurrency.WithTTL(e.ttl), concurrency.WithContext(ctx))
	if err != nil {
		return err
	}
	defer sess.Close()
	sctx, scancel := context.WithCancel(ctx)
	defer scancel()
	go func() {
		select {
		case <-sess.Done():
			scancel()
		case <-sctx.Done():
		}
	}()
	el := concurrency.NewElection(sess, e.s.key(electionDir))
	go e.observe(sctx, el)
	// The session's own keepalives keep the lease; these say, from when
	// they were sent, whether it certainly still is.
	live := newLiveness(time.Duration(e.ttl) * time.Second)
	e.live.Store(live)
	renew := func(ctx context.Context) error {
		_, err := e.s.client.KeepAliveOnce(ctx, sess.Lease())
		return err
	}
	var keeping sync.WaitGroup
	keeping.Go(func() { live.keep(sctx, renew) })
	defer func() { scancel(); keeping.Wait() }()
	me, _ := json.Marshal(Leader{ID: e.cfg.ID, URL: e.cfg.URL})
	if err := el.Campaign(sctx, string(me)); err != nil {
		return err
	}
	e.s.fence.Store(&fence{key: el.Key(), rev: el.Rev(), where: e.s.where()})
	// Lead only once a keepalive sent after the win was answered: the
	// campaign may have waited longer than the lease is vouched for.
	err = live.renew(sctx, renew)
	if err == nil {
		err = e.s.RaiseEpoch()
	}
	if err != nil {
		rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 2*time.Second)
		_ = el.Resign(rctx)
		cancel()
		return err
	}
	e.leading.Store(true)
	e.changes.Add(1)
	e.setLeader(Leader{ID: e.cfg.ID, URL: e.cfg.URL})
	e.cfg.Logger.Info("leading the controllers", "prefix", e.s.root, "epoch", e.s.Epoch(), "election_key", el.Key())
	e.lead(ctx, sctx, el, lead)
	return nil
}

// lead calls lead for the term won with el's key, with a context that ends
// as soon as the lease is no longer certainly alive, then steps down: at
// once by resigning on a clean shutdown (ctx ended), else by following.
func (e *Election) lead(ctx, sctx context.Context, el *concurrency.Election, lead func(context.Context, string, int64)) {
	lctx, lcancel := context.WithCancel(sctx)
	go func() {
		tick := time.NewTicker(100 * time.Millisecond)
		defer tick.Stop()
		for {
			select {
			case <-lctx.Done():
				return
			case <-tick.C:
				if !e.Leading() {
					lcancel()
					return
				}
			}
		}
	}()
	lead(lctx, el.Key(), el.Rev())
	lcancel()
	e.leading.Store(false)
	e.changes.Add(1)
	if ctx.Err() != nil {
		// A clean shutdown hands over at once instead of after the TTL.
		rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 2*time.Second)
		_ = el.Resign(rctx)
		cancel()
		return
	}
	e.setLeader(Leader{})
	e.cfg.Logger.Warn("lost the leadership: its lease ended or was not renewed in time; stopped deploying, reconciling and publishing, following the new leader", "prefix", e.s.root)
}

// observe keeps the known leader current for forwarding.
func (e *Election) observe(ctx context.Context, el *concurrency.Election) {
	for resp := range el.Observe(ctx) {
		if len(resp.Kvs) == 0 {
			continue
		}
		var l Leader
		if json.Unmarshal(resp.Kvs[0].Value, &l) == nil {
			e.setLeader(l)
		}
	}
}

// RaiseEpoch raises the routing-table epoch above the stored one and this
// machine's clock, so that routers prefer this controller's tables to any
// earlier leader's. A leader calls it at every gain.
func (s *Store) RaiseEpoch() error {
	var epoch uint64
	err := s.update(func(t *txn) error {
		v, err := t.get(s.metaKey(keyEpoch))
		if err != nil {
			return err
		}
		stored, _ := strconv.ParseUint(string(v), 10, 64)
		epoch = max(uint64(s.now().UnixNano()), stored+1, s.epoch.Load()+1)
		t.put(s.metaKey(keyEpoch), []byte(strconv.FormatUint(epoch, 10)))
		return nil
	})
	if err != nil {
		return err
	}
	s.epoch.Store(epoch)
	s.routes.Forget()
	return nil
}
