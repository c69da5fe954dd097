// Package traffic keeps, in the controller's memory, the traffic of every
// app as the routers count it: their summaries (cluster.TrafficSummary)
// are merged into one ring of 10 s buckets per app holding the last 24 h
// (counts add, histograms add bucket-wise), and a ring of the last hour
// per instance. Figures over a span come from the merged buckets; their
// percentiles from the merged histogram.
//
// Memory: a bucket holds the answers by class and the histogram as 32-bit
// counts and the bytes as a 64-bit one, 112 bytes; an app's ring of 8640
// buckets is 945 KiB, allocated when its first summary arrives, and an
// instance's of 360 buckets 39 KiB. An app not heard for 24 h is dropped,
// an instance not heard for an hour.
package traffic

import (
	"sync"
	"time"

	"github.com/longshoreman/longshoreman/cluster"
)

// The rings' shape.
const (
	Resolution     = 10 * time.Second
	Span           = 24 * time.Hour
	Points         = int(Span / Resolution) // 8640 per app
	InstanceSpan   = time.Hour
	InstancePoints = int(InstanceSpan / Resolution) // 360 per instance
)

// MaxSkew is how far a summary's time may be from the controller's clock:
// an older one is a replay (or a router with a badly wrong clock), dropped.
const MaxSkew = 5 * time.Minute

// bucket is one 10 s slot of a ring.
type bucket struct {
	slot    int64 // Unix time / Resolution; 0: never filled
	answers [cluster.Classes]uint32
	latency [cluster.LatencyBuckets]uint32
	bytes   uint64
}

// ring holds the last len(b) slots.
type ring struct {
	b    []bucket
	last int64 // the newest slot added to
}

func newRing(n int) *ring { return &ring{b: make([]bucket, n)} }

// add counts c in slot.
func (r *ring) add(slot int64, c cluster.TrafficCounts) {
	b := &r.b[slot%int64(len(r.b))]
	if b.slot != slot {
		*b = bucket{slot: slot}
	}
	for i, v := range c.Answers {
		b.answers[i] += uint32(v)
	}
	for i, v := range c.Latency {
		b.latency[i] += uint32(v)
	}
	b.bytes += c.Bytes
	r.last = max(r.last, slot)
}

// at returns the counts of slot, zero when the ring does not hold it.
func (r *ring) at(slot int64) (c cluster.TrafficCounts) {
	b := &r.b[slot%int64(len(r.b))]
	if b.slot != slot {
		return c
	}
	for i, v := range b.answers {
		c.Answers[i] = uint64(v)
	}
	for i, v := range b.latency {
		c.Latency[i] = uint64(v)
	}
	c.Bytes = b.bytes
	return c
}

// appRing is an app's ring and its instances'.
type appRing struct {
	*ring
	instances map[string]*ring
}

// Store merges the summaries and answers the figures. It is safe for
// concurrent use.
type Store struct {
	mu      sync.Mutex
	now     func() time.Time
	apps    map[string]*appRing
	routers map[string]heard // by router id
}

// heard is the last summary taken of a router.
type heard struct {
	seq  uint64
	when time.Time
}

// New returns an empty store on the system clock.
func New() *Store { return NewAt(time.Now) }

// NewAt returns an empty store on the clock now (tests).
func NewAt(now func() time.Time) *Store {
	return &Store{now: now, apps: map[string]*appRing{}, routers: map[string]heard{}}
}

// Add merges s into the bucket of now. It reports false, taking nothing,
// for a summary that is not newer than the last one of its router (a
// replay) or whose time is more than MaxSkew from now.
func (st *Store) Add(s cluster.TrafficSummary) bool {
	st.mu.Lock()
	defer st.mu.Unlock()
	now := st.now()
	if d := now.Sub(s.Time); d > MaxSkew || d < -MaxSkew {
		return false
	}
	if h, ok := st.routers[s.Router]; ok && s.Sequence <= h.seq {
		return false
	}
	st.routers[s.Router] = heard{seq: s.Sequence, when: now}
	slot := now.Unix() / int64(Resolution/time.Second)
	for name, t := range s.Apps {
		a := st.apps[name]
		if a == nil {
			a = &appRing{ring: newRing(Points), instances: map[string]*ring{}}
			st.apps[name] = a
		}
		a.add(slot, t.TrafficCounts)
		for addr, c := range t.Instances {
			r := a.instances[addr]
			if r == nil {
				r = newRing(InstancePoints)
				a.instances[addr] = r
			}
			r.add(slot, c)
		}
	}
	st.prune(now, slot)
	return true
}

// prune forgets the routers not heard for MaxSkew (a replay of theirs is
// too old by then), the apps without a summary for Span and the instances
// without one for InstanceSpan.
func (st *Store) prune(now time.Time, slot int64) {
	for id, h := range st.routers {
		if now.Sub(h.when) > MaxSkew {
			delete(st.routers, id)
		}
	}
	for name, a := range st.apps {
		if slot-a.last >= int64(Points) {
			delete(st.apps, name)
			continue
		}
		for addr, r := range a.instances {
			if slot-r.last >= int64(InstancePoints) {
				delete(a.instances, addr)
			}
		}
	}
}

// Apps returns the number of apps held.
func (st *Store) Apps() int {
	st.mu.Lock()
	defer st.mu.Unlock()
	return len(st.apps)
}

// Figures returns app's figures over the last since (rounded up to whole
// buckets, at most Span), with its points, and its instances' when
// instances is true. An app without traffic has zero figures and points.
func (st *Store) Figures(app string, since time.Duration, instances bool) cluster.TrafficFigures {
	since = min(max(since, Resolution), Span)
	n := int64((since + Resolution - 1) / Resolution)
	st.mu.Lock()
	defer st.mu.Unlock()
	end := st.now().Unix() / int64(Resolution/time.Second) // the slot filling now
	first := end - n + 1
	f := cluster.TrafficFigures{Since: cluster.Duration(since), Points: make([]cluster.TrafficPoint, 0, n)}
	a := st.apps[app]
	var total cluster.TrafficCounts
	for slot := first; slot <= end; slot++ {
		var c cluster.TrafficCounts
		if a != nil {
			c = a.at(slot)
		}
		total.Add(c)
		req, errs := c.Requests(), c.Errors()
		p := cluster.TrafficPoint{Time: time.Unix(slot*int64(Resolution/time.Second), 0).UTC(), Requests: req, Errors: errs,
			RPS: float64(req) / Resolution.Seconds(), P99: Percentile(c.Latency, 0.99), ErrorRate: rate(errs, req)}
		f.Points = append(f.Points, p)
	}
	fill(&f, total, since)
	if instances && a != nil {
		for addr, r := range a.instances {
			var t cluster.TrafficCounts
			for slot := max(first, end-int64(InstancePoints)+1); slot <= end; slot++ {
				t.Add(r.at(slot))
			}
			if t.Requests() == 0 {
				continue
			}
			if f.Instances == nil {
				f.Instances = map[string]cluster.TrafficFigures{}
			}
			span := min(since, InstanceSpan)
			fi := cluster.TrafficFigures{Since: cluster.Duration(span)}
			fill(&fi, t, span)
			f.Instances[addr] = fi
		}
	}
	return f
}

// Instances returns the requests and the 5xx answers (5xx, 502, 504) of
// app's instances at addrs counted since the bucket holding since, at most
// over the last InstanceSpan (an instance's ring). An address without
// traffic adds nothing. It is what the scheduler compares a canary with.
func (st *Store) Instances(app string, addrs []string, since time.Time) (requests, errors uint64) {
	st.mu.Lock()
	defer st.mu.Unlock()
	a := st.apps[app]
	if a == nil {
		return 0, 0
	}
	end := st.now().Unix() / int64(Resolution/time.Second)
	first := max(since.Unix()/int64(Resolution/time.Second), end-int64(InstancePoints)+1)
	var t cluster.TrafficCounts
	for _, addr := range addrs {
		r := a.instances[addr]
		if r == nil {
			continue
		}
		for slot := first; slot <= end; slot++ {
			t.Add(r.at(slot))
		}
	}
	return t.Requests(), t.Errors()
}

// fill sets f's totals from t, counted over since.
func fill(f *cluster.TrafficFigures, t cluster.TrafficCounts, since time.Duration) {
	f.Requests, f.Errors, f.Bytes = t.Requests(), t.Errors(), t.Bytes
	f.Answers = make(map[string]uint64, cluster.Classes)
	for i, v := range t.Answers {
		f.Answers[cluster.ClassNames[i]] = v
	}
	f.RPS = float64(f.Requests) / since.Seconds()
	f.P50, f.P95, f.P99 = Percentile(t.Latency, 0.50), Percentile(t.Latency, 0.95), Percentile(t.Latency, 0.99)
	f.ErrorRate = rate(f.Errors, f.Requests)
}

func rate(errs, reqs uint64) float64 {
	if reqs == 0 {
		return 0
	}
	return float64(errs) / float64(reqs)
}

// Percentile returns the q-quantile (0 < q <= 1), in milliseconds, of the
// latencies counted in h (buckets of cluster.LatencyBounds): the bucket
// holding it is found from the cumulative counts and the value
// interpolated linearly within it (the first bucket starts at 0; the last,
// unbounded one answers the last bound). 0 when h is empty.
func Percentile(h [cluster.LatencyBuckets]uint64, q float64) float64 {
	var total uint64
	for _, v := range h {
		total += v
	}
	if total == 0 {
		return 0
	}
	rank := q * float64(total)
	var cum float64
	for i, v := range h {
		if v == 0 {
			continue
		}
		if cum+float64(v) >= rank {
			if i == len(cluster.LatencyBounds) {
				return ms(cluster.LatencyBounds[i-1])
			}
			lo := 0.0
			if i > 0 {
				lo = ms(cluster.LatencyBounds[i-1])
			}
			hi := ms(cluster.LatencyBounds[i])
			return lo + (hi-lo)*(rank-cum)/float64(v)
		}
		cum += float64(v)
	}
	return ms(cluster.LatencyBounds[len(cluster.LatencyBounds)-1])
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }
