package etcd

import (
	"context"
	"sync/atomic"
	"time"
)

// liveness says whether a session's lease is certainly still alive, so
// that a leader stops acting before etcd could have let its lease expire.
//
// It renews the lease itself, one keepalive at a time, and counts from
// when each answered keepalive was sent, not from when its answer came:
// etcd restarts the lease's TTL when it handles a keepalive, which is after
// it was sent, so the lease lives at least a TTL from the send. Counted
// from the answer, an answer delayed past a third of the TTL (a slow
// network, a paused process) would keep a leader sure of a lease that
// expired meanwhile. The lease is taken as alive for two thirds of its TTL
// from that send, on this machine's monotonic clock (which runs on while
// the process is stopped).
type liveness struct {
	ttl  time.Duration
	now  func() time.Duration // monotonic: time since an origin
	sent atomic.Int64         // now() at the send of the newest answered keepalive; -1 before any
}

// renewFunc sends one keepalive of the lease and returns once etcd
// answered it (clientv3.Lease.KeepAliveOnce), or fails.
type renewFunc func(ctx context.Context) error

func newLiveness(ttl time.Duration) *liveness {
	origin := time.Now()
	l := &liveness{ttl: ttl, now: func() time.Duration { return time.Since(origin) }}
	l.sent.Store(-1)
	return l
}

// window is how long after its send an answered keepalive vouches for
// the lease.
func (l *liveness) window() time.Duration { return l.ttl * 2 / 3 }

// fresh reports whether a keepalive sent less than two thirds of the TTL
// ago was answered.
func (l *liveness) fresh() bool {
	sent := l.sent.Load()
	return sent >= 0 && l.now()-time.Duration(sent) < l.window()
}

// renew sends one keepalive, waits for its answer at most as long as it
// could still vouch for the lease, and on success records when it was
// sent. It returns renew's error.
func (l *liveness) renew(ctx context.Context, renew renewFunc) error {
	sent := l.now()
	ctx, cancel := context.WithTimeout(ctx, l.window())
	defer cancel()
	if err := renew(ctx); err != nil {
		return err
	}
	for {
		old := l.sent.Load()
		if int64(sent) <= old || l.sent.CompareAndSwap(old, int64(sent)) {
			return nil
		}
	}
}

// keep renews the lease every quarter of its TTL, one keepalive at a time,
// until ctx ends. A keepalive that fails is followed by the next one at its
// time; the lease is then no longer fresh once the window passed.
func (l *liveness) keep(ctx context.Context, renew renewFunc) {
	tick := time.NewTicker(max(l.ttl/4, 10*time.Millisecond))
	defer tick.Stop()
	for {
		_ = l.renew(ctx, renew)
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
	}
}
