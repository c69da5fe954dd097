package router

import (
	"net/netip"
	"strings"
	"sync"
	"time"
)

// DefaultMaxLimitClients is how many client addresses the rate limit of
// one app tracks at most (Config.MaxLimitClients), about 100 bytes each.
const DefaultMaxLimitClients = 16384

// clientLimiter is an app's rate limit: a token bucket per client address
// of burst requests, refilled at one request per interval. Each bucket is
// kept as the time it will be full again (the generic cell rate
// algorithm's "theoretical arrival time"): a request at now is allowed
// when that time, pushed one interval on, is at most burst intervals
// ahead of now.
//
// Memory is bounded: a client whose bucket is full again is as good as
// untracked and is dropped (the least recently seen first, a few at each
// request; a request refused counts as seen), and beyond max clients the
// least recently seen is dropped
// whatever its bucket holds, so a client that comes back after being
// dropped starts with a full bucket. A hostile client with many addresses
// thus costs at most max entries, and gets no more than burst requests
// through per address it owns.
type clientLimiter struct {
	interval  int64 // nanoseconds a request costs
	tolerance int64 // burst intervals: how far ahead a bucket may run
	max       int

	mu      sync.Mutex // guards what follows
	clients map[netip.Addr]*limitedClient
	lru     limitedClient // sentinel: lru.next is the most recently seen
}

// limitedClient is one client's bucket, in the limiter's LRU list.
type limitedClient struct {
	key        netip.Addr
	full       int64 // when its bucket is full again, on the clock allow is given
	prev, next *limitedClient
}

// newClientLimiter limits each client to burst requests at once, refilled
// at one per interval, tracking at most max clients (at least 1).
func newClientLimiter(interval time.Duration, burst, maxClients int) *clientLimiter {
	l := &clientLimiter{interval: int64(interval), tolerance: int64(burst) * int64(interval), max: max(maxClients, 1),
		clients: map[netip.Addr]*limitedClient{}}
	l.lru.prev, l.lru.next = &l.lru, &l.lru
	return l
}

// sweepPerCall bounds the idle clients a call drops, so that no request
// pays for many.
const sweepPerCall = 2

// allow takes a request of the client key at now (nanoseconds on a
// monotonic clock) from
// its bucket. When the bucket is empty it returns false and how long
// until it holds a request again.
func (l *clientLimiter) allow(key netip.Addr, now int64) (bool, time.Duration) {
	l.mu.Lock()
	defer l.mu.Unlock()
	c := l.clients[key]
	full := now
	if c != nil && c.full > now {
		full = c.full
	}
	next := full + l.interval
	if next-now > l.tolerance {
		// Refused, but seen: a client kept waiting is not the one to
		// forget (c is not nil: a new client's bucket is full).
		c.unlink()
		c.pushFront(&l.lru)
		l.sweep(now)
		return false, time.Duration(next - now - l.tolerance)
	}
	if c == nil {
		c = &limitedClient{key: key}
		l.clients[key] = c
	} else {
		c.unlink()
	}
	c.full = next
	c.pushFront(&l.lru)
	l.sweep(now)
	return true, 0
}

// sweep drops a few of the least recently seen clients whose bucket is
// full again, then any beyond max; the caller holds mu.
func (l *clientLimiter) sweep(now int64) {
	for range sweepPerCall {
		last := l.lru.prev
		if last == &l.lru || last.full > now {
			break
		}
		l.drop(last)
	}
	for len(l.clients) > l.max {
		l.drop(l.lru.prev)
	}
}

func (l *clientLimiter) drop(c *limitedClient) {
	c.unlink()
	delete(l.clients, c.key)
}

// tracked returns how many clients the limiter holds now.
func (l *clientLimiter) tracked() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.clients)
}

func (c *limitedClient) unlink() {
	c.prev.next, c.next.prev = c.next, c.prev
	c.prev, c.next = nil, nil
}

func (c *limitedClient) pushFront(head *limitedClient) {
	c.prev, c.next = head, head.next
	head.next.prev = c
	head.next = c
}

// limitKey is the key of a client address in the rate limits: the address
// itself for IPv4, its /64 network for IPv6 (one subscriber, one host,
// usually holds a whole /64).
func limitKey(a netip.Addr) netip.Addr {
	a = a.Unmap()
	if a.Is6() {
		p, _ := a.Prefix(64)
		return p.Addr()
	}
	return a
}

// clientAddr returns the address of the client that sent req: its peer,
// or, when the peer is a trusted proxy (Config.TrustForwarded), the
// nearest address of its X-Forwarded-For chain that is not a trusted
// proxy (read from the right: each proxy appends the address it got the
// request from, so only the entries right of the first untrusted one are
// vouched for). An entry that does not parse ends the walk at the last
// address read. ok is false when the peer's address does not parse.
func (r *Router) clientAddr(remoteAddr string, xff []string) (a netip.Addr, ok bool) {
	ap, err := netip.ParseAddrPort(remoteAddr)
	if err != nil {
		return a, false
	}
	a = ap.Addr().Unmap()
	if !r.trusts(a) {
		return a, true
	}
	for i := len(xff) - 1; i >= 0; i-- {
		v := xff[i]
		for v != "" {
			var hop string
			if j := strings.LastIndexByte(v, ','); j >= 0 {
				v, hop = v[:j], v[j+1:]
			} else {
				v, hop = "", v
			}
			h, err := netip.ParseAddr(strings.TrimSpace(hop))
			if err != nil {
				return a, true
			}
			a = h.Unmap()
			if !r.trusts(a) {
				return a, true
			}
		}
	}
	return a, true
}

// trusts reports whether a is in Config.TrustForwarded.
func (r *Router) trusts(a netip.Addr) bool {
	for _, p := range r.trusted {
		if p.Contains(a) {
			return true
		}
	}
	return false
}
