package etcd

import (
	"context"
	"sync"
	"testing"
	"time"
)

// fakeClock is a monotonic clock the test moves by hand.
type fakeClock struct {
	mu  sync.Mutex // guards now
	now time.Duration
}

func (c *fakeClock) read() time.Duration {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) set(d time.Duration) {
	c.mu.Lock()
	c.now = d
	c.mu.Unlock()
}

// newFakeLiveness returns a liveness of ttl that reads the time from the
// returned clock.
func newFakeLiveness(ttl time.Duration) (*liveness, *fakeClock) {
	clock := &fakeClock{}
	l := newLiveness(ttl)
	l.now = clock.read
	return l, clock
}

// delayedKeepalive is a fake of etcd's keepalive: each call waits until
// the test answers it, as a keepalive whose answer is delayed.
type delayedKeepalive struct {
	sent    chan struct{}
	answers chan error
}

func newDelayedKeepalive() *delayedKeepalive {
	return &delayedKeepalive{sent: make(chan struct{}), answers: make(chan error)}
}

// send starts l's renewal with k and returns, once k has the keepalive,
// the channel of the renewal's result.
func (k *delayedKeepalive) send(l *liveness) <-chan error {
	done := make(chan error, 1)
	go func() { done <- l.renew(context.Background(), k.renew) }()
	<-k.sent
	return done
}

func (k *delayedKeepalive) renew(ctx context.Context) error {
	k.sent <- struct{}{}
	select {
	case err := <-k.answers:
		return err
	case <-ctx.Done():
		return ctx.Err()
	}
}

// TestLivenessCountsFromTheSend: a keepalive sent at 0 whose answer is
// delayed to half the TTL (past a third) vouches for the lease until two
// thirds of the TTL from its send, not from its answer: etcd restarted the
// lease's TTL when it handled the keepalive, which may be as early as its
// send, so from the answer on the lease may expire before the leader
// stops.
func TestLivenessCountsFromTheSend(t *testing.T) {
	t.Parallel()
	const ttl = 3 * time.Second
	l, clock := newFakeLiveness(ttl)
	k := newDelayedKeepalive()
	if l.fresh() {
		t.Fatal("fresh before any keepalive was answered")
	}

	renewed := k.send(l)
	clock.set(ttl / 2) // the answer is delayed past a third of the TTL
	k.answers <- nil
	if err := <-renewed; err != nil {
		t.Fatal(err)
	}

	for _, tt := range []struct {
		at    time.Duration
		fresh bool
	}{
		{ttl / 2, true},
		{ttl*2/3 - time.Millisecond, true},
		{ttl * 2 / 3, false}, // two thirds of the TTL after the send
		// The lease may have expired; counted from the answer, it would
		// still be fresh until 7/6 of the TTL.
		{ttl, false},
	} {
		clock.set(tt.at)
		if got := l.fresh(); got != tt.fresh {
			t.Errorf("at %s after the send: fresh %v, want %v", tt.at, got, tt.fresh)
		}
	}
}

// TestLivenessKeepsTheNewestSend: an answer that arrives after a later
// keepalive's does not move the freshness back, and a failed keepalive
// vouches for nothing.
func TestLivenessKeepsTheNewestSend(t *testing.T) {
	t.Parallel()
	const ttl = 3 * time.Second
	l, clock := newFakeLiveness(ttl)
	early, late := newDelayedKeepalive(), newDelayedKeepalive()

	first := early.send(l)
	clock.set(time.Second)
	second := late.send(l)
	late.answers <- nil
	<-second
	early.answers <- nil
	<-first

	clock.set(time.Second + ttl*2/3 - time.Millisecond)
	if !l.fresh() {
		t.Fatal("the later keepalive's send does not count")
	}

	failed := early.send(l)
	early.answers <- context.DeadlineExceeded
	if err := <-failed; err == nil {
		t.Fatal("a failed keepalive reported no error")
	}
	clock.set(time.Second + ttl*2/3)
	if l.fresh() {
		t.Fatal("a failed keepalive kept the lease fresh")
	}
}
