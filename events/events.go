// Package events fans the cluster's events (cluster.Event) out to the
// clients of GET /events. Publishing never blocks: each subscriber has a
// bounded buffer, and one whose buffer is full is dropped, so a client
// that stops reading costs the controller one buffer, never a deploy's
// time. A ring of recent events lets a client that reconnects resume
// after the last event it saw (SSE's Last-Event-ID).
package events

import (
	"sync"
	"time"

	"github.com/longshoreman/longshoreman/cluster"
)

// DefaultBuffer is how many events a subscriber may fall behind before it
// is dropped.
const DefaultBuffer = 256

// DefaultHistory is how many recent events are kept for resuming.
const DefaultHistory = 1024

// Numbered is an event with its sequence number, the SSE event id.
type Numbered struct {
	ID uint64
	cluster.Event
}

// Bus delivers every published event to every subscriber. It is safe for
// concurrent use; the zero value is not: use New.
type Bus struct {
	buffer int

	mu      sync.Mutex // guards the fields below
	subs    map[*Subscription]struct{}
	seq     uint64
	ring    []Numbered // the last len(ring) events, oldest first once full
	next    int        // where the next event goes in ring
	full    bool
	dropped uint64
	closed  bool
}

// New returns a Bus whose subscribers buffer up to buffer events (0 means
// DefaultBuffer) and which keeps the last history events for resuming
// (0 means DefaultHistory).
func New(buffer, history int) *Bus {
	if buffer <= 0 {
		buffer = DefaultBuffer
	}
	if history <= 0 {
		history = DefaultHistory
	}
	return &Bus{buffer: buffer, subs: map[*Subscription]struct{}{}, ring: make([]Numbered, history)}
}

// Subscription receives events on C until it is closed: by Close, or by
// the bus when its buffer was full (Dropped then reports true). C is
// closed either way.
type Subscription struct {
	C <-chan Numbered

	c       chan Numbered
	done    chan struct{} // closed with c
	bus     *Bus
	match   func(cluster.Event) bool
	dropped bool // guarded by bus.mu
	closed  bool // guarded by bus.mu
}

// Done is closed when the subscription ends, at once, while C may still
// hold events: a writer blocked on a client that stopped reading can be
// cut off as soon as the bus drops it.
func (s *Subscription) Done() <-chan struct{} { return s.done }

// Dropped reports whether the bus dropped the subscription for falling
// behind. Read it after C is closed.
func (s *Subscription) Dropped() bool {
	s.bus.mu.Lock()
	defer s.bus.mu.Unlock()
	return s.dropped
}

// Close ends the subscription. It is safe to call more than once, and
// after the bus dropped it.
func (s *Subscription) Close() {
	s.bus.mu.Lock()
	defer s.bus.mu.Unlock()
	s.bus.remove(s)
}

// remove closes s; the caller holds b.mu.
func (b *Bus) remove(s *Subscription) {
	if s.closed {
		return
	}
	s.closed = true
	delete(b.subs, s)
	close(s.c)
	close(s.done)
}

// Subscribe returns a subscription to the events match accepts (nil: all),
// starting with the recent events after the one numbered after when after
// is not zero and the ring still holds them all.
func (b *Bus) Subscribe(match func(cluster.Event) bool, after uint64) *Subscription {
	if match == nil {
		match = func(cluster.Event) bool { return true }
	}
	c := make(chan Numbered, b.buffer)
	s := &Subscription{C: c, c: c, done: make(chan struct{}), bus: b, match: match}
	b.mu.Lock()
	defer b.mu.Unlock()
	if after > 0 {
		for _, e := range b.since(after) {
			if !match(e.Event) {
				continue
			}
			select {
			case c <- e:
			default:
				// More missed than the buffer holds: the newest are what
				// a dashboard needs, and it reloads the rest.
			}
		}
	}
	b.subs[s] = struct{}{}
	if b.closed {
		b.remove(s)
	}
	return s
}

// Close ends every subscription, and those made later at once, so that
// streams end when the controller shuts down. Publish still records
// events.
func (b *Bus) Close() {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.closed = true
	for s := range b.subs {
		b.remove(s)
	}
}

// Since returns the kept events numbered above after, oldest first: what
// a client resuming after that event is sent first.
func (b *Bus) Since(after uint64) []Numbered {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.since(after)
}

// since returns the kept events numbered above after, oldest first; the
// caller holds b.mu.
func (b *Bus) since(after uint64) []Numbered {
	var out []Numbered
	n := len(b.ring)
	start, count := 0, b.next
	if b.full {
		start, count = b.next, n
	}
	for i := 0; i < count; i++ {
		e := b.ring[(start+i)%n]
		if e.ID > after {
			out = append(out, e)
		}
	}
	return out
}

// Publish numbers e, stamps its time when unset, and hands it to every
// subscriber that accepts it. It never blocks: a subscriber whose buffer
// is full is dropped (its channel closed, Dropped true).
func (b *Bus) Publish(e cluster.Event) {
	if e.Time.IsZero() {
		e.Time = time.Now().UTC()
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	b.seq++
	ne := Numbered{ID: b.seq, Event: e}
	b.ring[b.next] = ne
	b.next++
	if b.next == len(b.ring) {
		b.next, b.full = 0, true
	}
	for s := range b.subs {
		if !s.match(e) {
			continue
		}
		select {
		case s.c <- ne:
		default:
			s.dropped = true
			b.dropped++
			b.remove(s)
		}
	}
}

// Subscribers returns how many subscriptions are open.
func (b *Bus) Subscribers() int {
	b.mu.Lock()
	defer b.mu.Unlock()
	return len(b.subs)
}

// Dropped returns how many subscriptions were dropped for falling behind.
func (b *Bus) Dropped() uint64 {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.dropped
}
