package router

import (
	"strings"
	"sync/atomic"
	"time"

	"github.com/longshoreman/longshoreman/cluster"
)

// snapshot is one applied routing table, prepared for lookups. It is never
// modified after Apply publishes it; only the atomics inside change.
type snapshot struct {
	table cluster.RoutingTable
	apps  map[string]*app // by canonical host name
	// redirect holds the canonical hosts whose plain HTTP requests are
	// redirected to HTTPS.
	redirect map[string]bool
	// maintenance holds the canonical hosts in maintenance, with the
	// message of their page.
	maintenance map[string]string
	// held holds the canonical hosts whose requests wait, up to the
	// duration given, while the app has no routed instance (a stop-first
	// deploy replaces it; see Router.hold).
	held map[string]time.Duration
	// canary holds the canonical hosts whose requests are split between
	// apps (the current revision) and a canary revision, by weight (see
	// canary.go).
	canary map[string]*canarySplit
	// limits holds the canonical hosts of the apps with limits at the
	// edge (see edge.go); nil when no app has any.
	limits map[string]*appLimits
}

// app is one application's instances and its round-robin counter.
type app struct {
	name     string
	backends []*backend
	next     atomic.Uint64
	stats    *appStats // kept across tables while the app is in them
}

// backend is one instance address. A backend that refused a connection is
// skipped until badUntil (Unix nanoseconds); the mark survives table swaps
// because Apply reuses the backend of an address it already knows.
type backend struct {
	addr        string
	badUntil    atomic.Int64
	pool        connPool     // the fast path's keep-alive connections
	strayLogged atomic.Int64 // when stray bytes from it were last logged, Unix nanoseconds
	stats       counters     // the requests it answered (traffic.go)
}

// newSnapshot prepares t, reusing prev's backends (and counters) so their
// state carries over.
func newSnapshot(t cluster.RoutingTable, prev *snapshot) *snapshot {
	known := map[string]*backend{}
	if prev != nil {
		prev.eachApp(func(a *app) {
			for _, b := range a.backends {
				known[b.addr] = b
			}
		})
	}
	s := &snapshot{table: t, apps: make(map[string]*app, len(t.Routes))}
	for name, addrs := range t.Routes {
		key := canonicalHost(name)
		var old *app
		if prev != nil {
			old = prev.apps[key]
		}
		s.apps[key] = newApp(key, addrs, known, old)
	}
	s.addCanaries(t, prev, known)
	for name, d := range t.Held {
		if d > 0 {
			if s.held == nil {
				s.held = map[string]time.Duration{}
			}
			s.held[canonicalHost(name)] = d.D()
		}
	}
	for name, h := range t.HTTPS {
		if h.Redirect {
			if s.redirect == nil {
				s.redirect = map[string]bool{}
			}
			s.redirect[canonicalHost(name)] = true
		}
	}
	for name, m := range t.Maintenance {
		if s.maintenance == nil {
			s.maintenance = map[string]string{}
		}
		s.maintenance[canonicalHost(name)] = m.Message
	}
	return s
}

// closeGone closes the connection pools of prev's backends that s no longer
// routes to.
func (s *snapshot) closeGone(prev *snapshot) {
	if prev == nil {
		return
	}
	keep := map[*backend]bool{}
	s.eachApp(func(a *app) {
		for _, b := range a.backends {
			keep[b] = true
		}
	})
	prev.eachApp(func(a *app) {
		for _, b := range a.backends {
			if !keep[b] {
				b.pool.close()
			}
		}
	})
}

// eachApp calls fn with every set of instances of s: the apps' and their
// canaries'.
func (s *snapshot) eachApp(fn func(*app)) {
	for _, a := range s.apps {
		fn(a)
	}
	for _, c := range s.canary {
		fn(c.app)
	}
}

// newApp prepares the instances addrs of the app key, reusing the backends
// in known (and adding its new ones there) and old's round-robin counter
// and traffic counters.
func newApp(key string, addrs []string, known map[string]*backend, old *app) *app {
	a := &app{name: key, backends: make([]*backend, 0, len(addrs)), stats: &appStats{}}
	if old != nil {
		a.next.Store(old.next.Load())
		a.stats = old.stats
	}
	seen := map[string]bool{}
	for _, addr := range addrs {
		if addr == "" || seen[addr] {
			continue
		}
		seen[addr] = true
		b := known[addr]
		if b == nil {
			b = &backend{addr: addr}
			known[addr] = b
		}
		a.backends = append(a.backends, b)
	}
	return a
}

// canonicalHost returns the host of a Host header as the table keys it: no
// port, lower case, no trailing dot. It does not allocate for a host that is
// already lower case.
func canonicalHost(h string) string {
	if strings.HasPrefix(h, "[") { // [v6]:port or [v6]
		if i := strings.IndexByte(h, ']'); i > 0 {
			h = h[1:i]
		}
	} else if i := strings.LastIndexByte(h, ':'); i >= 0 && strings.IndexByte(h, ':') == i {
		h = h[:i]
	}
	h = strings.TrimSuffix(h, ".")
	for i := 0; i < len(h); i++ {
		if c := h[i]; 'A' <= c && c <= 'Z' {
			return strings.ToLower(h)
		}
	}
	return h
}

// maxAttempts bounds how many instances one request tries.
const maxAttempts = 8

// pick returns the offset from start (in round-robin order) of the instance
// to try next: the first one that is neither in tried (a bit per offset) nor
// marked bad at now, or, when all untried ones are marked bad, the first
// untried one (trying beats failing). It returns -1 when every instance was
// tried. Only the first 64 offsets are considered.
func (a *app) pick(tried uint64, now int64, start uint64) int {
	n := len(a.backends)
	fallback := -1
	for i := range min(n, 64) {
		if tried&(1<<i) != 0 {
			continue
		}
		if a.backends[(start+uint64(i))%uint64(n)].badUntil.Load() > now {
			if fallback < 0 {
				fallback = i
			}
			continue
		}
		return i
	}
	return fallback
}

// at returns the backend at offset i from start.
func (a *app) at(start uint64, i int) *backend {
	return a.backends[(start+uint64(i))%uint64(len(a.backends))]
}
