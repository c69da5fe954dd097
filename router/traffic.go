package router

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"net/http"
	"os"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/longshoreman/longshoreman/cluster"
)

// Traffic counting: every request to an app of the table is counted on the
// instance that answered it (or on the app, when none did) with three
// atomic adds: its answer class, its answer bytes, its latency bucket. The
// counters hang off the snapshot's apps and backends, found once per table
// version, so counting looks nothing up per request. Summary takes what
// was counted since its previous call, for the controllers (cluster.
// TrafficSummary); the metrics read the totals.

// counters count one app's or instance's requests since the router
// started.
type counters struct {
	answers [cluster.Classes]atomic.Uint64
	bytes   atomic.Uint64
	latency [cluster.LatencyBuckets]atomic.Uint64

	sent cluster.TrafficCounts // the totals at the last Summary; guarded by Router.trafficMu
}

// count adds one request answered with status, n body bytes, in d.
func (c *counters) count(status int, n int64, d time.Duration) {
	c.answers[cluster.AnswerClass(status)].Add(1)
	if n > 0 {
		c.bytes.Add(uint64(n))
	}
	c.latency[cluster.LatencyBucket(d)].Add(1)
}

// totals reads the counters.
func (c *counters) totals() cluster.TrafficCounts {
	var t cluster.TrafficCounts
	for i := range c.answers {
		t.Answers[i] = c.answers[i].Load()
	}
	t.Bytes = c.bytes.Load()
	for i := range c.latency {
		t.Latency[i] = c.latency[i].Load()
	}
	return t
}

// delta returns what was counted since the previous delta, and moves the
// mark. The caller holds Router.trafficMu.
func (c *counters) delta() cluster.TrafficCounts {
	t := c.totals()
	d := t
	for i := range d.Answers {
		d.Answers[i] -= c.sent.Answers[i]
	}
	d.Bytes -= c.sent.Bytes
	for i := range d.Latency {
		d.Latency[i] -= c.sent.Latency[i]
	}
	c.sent = t
	return d
}

// retired is an app's or instance's counters that left the table: the
// next Summary sends what they counted last, then forgets them.
type retired struct {
	app, addr string // addr empty: the app's own counters
	c         *counters
}

// tally is what serveCounted learns of a request on the proxy path: the
// instance the balancer sent it to last.
type tally struct{ be atomic.Pointer[backend] }

// tallyKey is the context key of a request's tally.
type tallyKey struct{}

// statusWriter records the status and body size of an answer written
// through net/http's writers (the loop's connWriter records them itself).
type statusWriter struct {
	http.ResponseWriter
	status int
	n      int64
}

func (w *statusWriter) WriteHeader(status int) {
	if w.status == 0 && status >= 200 || status == http.StatusSwitchingProtocols {
		w.status = status
	}
	w.ResponseWriter.WriteHeader(status)
}

func (w *statusWriter) Write(p []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	n, err := w.ResponseWriter.Write(p)
	w.n += int64(n)
	return n, err
}

// Unwrap gives http.ResponseController the writer underneath (Flush,
// Hijack, deadlines).
func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// Flush passes on to the writer underneath.
func (w *statusWriter) Flush() { _ = http.NewResponseController(w.ResponseWriter).Flush() }

// serveCounted serves a request to the app a of the table and counts it:
// on the instance that answered, or on a when none did.
func (r *Router) serveCounted(w http.ResponseWriter, req *http.Request, a *app, name string, serve func(http.ResponseWriter, *http.Request, *app, string) *backend) {
	start := time.Now()
	cw, loop := w.(*connWriter)
	var sw *statusWriter
	if !loop {
		sw = &statusWriter{ResponseWriter: w}
		w = sw
	}
	var be *backend
	defer func() {
		status, n := 0, int64(0)
		if loop {
			status, n = cw.status, cw.n
		} else {
			status, n = sw.status, sw.n
		}
		if status == 0 {
			status = http.StatusOK // nothing written: an empty 200
		}
		p := recover()
		if p != nil && status < 500 {
			// An aborted answer (the instance failed in its middle)
			// is an error of the instance.
			status = http.StatusBadGateway
		}
		c := &a.stats.none
		if be != nil {
			c = &be.stats
		}
		c.count(status, n, time.Since(start))
		if p != nil {
			panic(p)
		}
	}()
	be = serve(w, req, a, name)
}

// Summary returns what was counted since the previous call, for the
// controllers; apps without requests are left out. cluster, router and
// the sequence number are for the caller to fill in.
func (r *Router) Summary() cluster.TrafficSummary {
	r.trafficMu.Lock()
	defer r.trafficMu.Unlock()
	out := cluster.TrafficSummary{Time: time.Now(), Apps: map[string]cluster.AppTraffic{}}
	add := func(app, addr string, c *counters) {
		d := c.delta()
		if d.Requests() == 0 {
			return
		}
		t := out.Apps[app]
		t.Add(d)
		if addr != "" {
			if t.Instances == nil {
				t.Instances = map[string]cluster.TrafficCounts{}
			}
			i := t.Instances[addr]
			i.Add(d)
			t.Instances[addr] = i
		}
		out.Apps[app] = t
	}
	r.retiredMu.Lock()
	gone := r.retired
	r.retired = nil
	r.retiredMu.Unlock()
	for _, g := range gone {
		add(g.app, g.addr, g.c)
	}
	if s := r.snap.Load(); s != nil {
		for name, a := range s.apps {
			add(name, "", &a.stats.none)
			for _, be := range a.backends {
				add(name, be.addr, &be.stats)
			}
		}
		for name, c := range s.canary { // a canary's instances are the app's too
			for _, be := range c.app.backends {
				add(name, be.addr, &be.stats)
			}
		}
	}
	return out
}

// retire keeps, for the next Summary, the counters of prev's apps and
// instances that s no longer has.
func (r *Router) retire(s, prev *snapshot) {
	if prev == nil {
		return
	}
	var gone []retired
	for name, a := range prev.apps {
		na := s.apps[name]
		if na == nil || na.stats != a.stats {
			gone = append(gone, retired{app: name, c: &a.stats.none})
		}
		for _, be := range a.backends {
			if na == nil || !na.has(be) {
				gone = append(gone, retired{app: name, addr: be.addr, c: &be.stats})
				if na != nil && na.stats == a.stats {
					// The app's totals in the metrics keep its counts.
					a.stats.mu.Lock()
					a.stats.left.Add(be.stats.totals())
					a.stats.mu.Unlock()
				}
			}
		}
	}
	for name, c := range prev.canary {
		for _, be := range c.app.backends {
			if !s.routes(name, be) {
				gone = append(gone, retired{app: name, addr: be.addr, c: &be.stats})
			}
		}
	}
	if len(gone) > 0 {
		r.retiredMu.Lock()
		r.retired = append(r.retired, gone...)
		r.retiredMu.Unlock()
	}
}

// routes reports whether s routes the app name's requests to be, as one of
// its instances or of its canary's.
func (s *snapshot) routes(name string, be *backend) bool {
	if a := s.apps[name]; a != nil && a.has(be) {
		return true
	}
	c := s.canary[name]
	return c != nil && c.app.has(be)
}

// has reports whether be is one of a's instances.
func (a *app) has(be *backend) bool {
	for _, b := range a.backends {
		if b == be {
			return true
		}
	}
	return false
}

// totals returns what a's requests counted since the router started, on
// its instances and on itself.
func (a *app) totals() cluster.TrafficCounts {
	t := a.stats.none.totals()
	a.stats.mu.Lock()
	t.Add(a.stats.left)
	a.stats.mu.Unlock()
	for _, be := range a.backends {
		t.Add(be.stats.totals())
	}
	return t
}

// appStats are an app's counters of requests no instance answered, and
// the totals of its instances that left the table (for the metrics, whose
// counters must not go down); they are kept across tables while the app
// stays in them.
type appStats struct {
	none counters
	mu   sync.Mutex // guards left
	left cluster.TrafficCounts
}

// NewRouterID returns an id for a router's summaries: the host name and
// process id, and a random part, so that two routers of one process (as
// in tests) or one restarted with the same pid differ.
func NewRouterID() string {
	h, _ := os.Hostname()
	var b [4]byte
	_, _ = rand.Read(b[:])
	return h + ":" + strconv.Itoa(os.Getpid()) + ":" + hex.EncodeToString(b[:])
}

// TrafficSender sends the router's summaries every interval with send;
// a failure is logged by send and the counts are not sent again (the
// next summary holds only what came after).
type TrafficSender struct {
	Router   *Router
	ID       string        // NewRouterID's
	Cluster  func() string // the cluster served now; empty: wait for one
	Send     func(context.Context, cluster.TrafficSummary) error
	Interval time.Duration // default cluster.TrafficInterval

	seq uint64
}

// Run sends summaries until ctx ends.
func (s *TrafficSender) Run(ctx context.Context) {
	every := s.Interval
	if every <= 0 {
		every = cluster.TrafficInterval
	}
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		s.SendOnce(ctx)
	}
}

// SendOnce sends one summary of what was counted since the previous one,
// unless nothing was or no cluster is served yet.
func (s *TrafficSender) SendOnce(ctx context.Context) {
	cl := s.Cluster()
	if cl == "" {
		return
	}
	sum := s.Router.Summary()
	if len(sum.Apps) == 0 {
		return
	}
	s.seq++
	sum.Cluster, sum.Router, sum.Sequence = cl, s.ID, s.seq
	_ = s.Send(ctx, sum)
}
