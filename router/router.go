// Package router is Longshoreman's HTTP router: a reverse proxy that sends
// each request to an instance of the app named by its Host header, using the
// routing table that pubsub delivers (docs/routing.md).
//
// The table is an immutable snapshot swapped atomically by Apply, so
// requests never wait for an update and the router keeps serving its last
// table while Redis is away. Instances are chosen round-robin; one that
// refuses a connection is skipped for a short while, and the request is
// retried on another instance when that is safe. Limits (limits.go) keep a
// hung instance or slow clients from holding the router's connections. Run
// serves client connections with a loop of its own for plain GET and HEAD
// requests (serve.go) and net/http's server for everything else.
package router

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"net"
	"net/http"
	"net/http/httputil"
	"net/netip"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/longshoreman/longshoreman/cluster"
)

// Defaults for Config.
const (
	DefaultSkipFor             = 2 * time.Second
	DefaultDialTimeout         = 2 * time.Second
	DefaultMaxIdleConnsPerHost = 256
	DefaultBackendTimeout      = 60 * time.Second
	DefaultMinBodyRate         = 1024 // bytes per second
	DefaultMinReadRate         = 1024 // bytes per second
	DefaultBodyRateWindow      = 10 * time.Second
)

// PingPath answers 200 "pong" on any host once the router has a routing
// table, 503 before: the router's own health check.
const PingPath = "/_ping"

// Config tunes a Router. The zero value is usable.
type Config struct {
	// Logger receives proxy errors; default slog.Default().
	Logger *slog.Logger
	// Transport carries the requests that do not take the fast path (see
	// ReverseProxyOnly) to the instances. Default: a Transport with
	// DialTimeout, MaxIdleConnsPerHost, BackendTimeout as its
	// ResponseHeaderTimeout, and compression left to the client and the
	// app. A given Transport without a ResponseHeaderTimeout is copied and
	// gets BackendTimeout's.
	Transport *http.Transport
	// DialTimeout bounds connecting to an instance; default 2s.
	DialTimeout time.Duration
	// MaxIdleConnsPerHost is the keep-alive pool per instance; default 256.
	MaxIdleConnsPerHost int
	// SkipFor is how long an instance that refused a connection is skipped
	// while another is available; default 2s.
	SkipFor time.Duration
	// ReverseProxyOnly sends every request through httputil.ReverseProxy
	// and Transport, turning off the fast path that GET and HEAD requests
	// take over the router's own connections (which ignores Transport).
	ReverseProxyOnly bool
	// BackendTimeout bounds the wait for an instance's answer headers
	// after the request was sent; the client then gets 504 and the
	// request is not retried elsewhere (the instance may be working on
	// it). It does not bound the answer's body: streams pass. Default 60s.
	BackendTimeout time.Duration
	// MinBodyRate is the slowest a client may send a request body, in
	// bytes per second averaged over BodyRateWindow; a slower client has
	// its connection closed (408 when no answer was sent yet). Only time
	// the router spends waiting for the client counts, not time the
	// instance takes to read. Default DefaultMinBodyRate; negative turns
	// the check off.
	MinBodyRate int64
	// MinReadRate is the slowest a client may take an answer, in bytes
	// per second averaged over BodyRateWindow; a slower client has its
	// connection closed (HTTP/2: its stream reset), and the instance's
	// with it. Only time the router spends waiting for the client to take
	// bytes counts, not time the instance takes to send them: a stream
	// read as it flows is never cut, however slowly it flows. A client
	// that takes nothing is cut one window after its socket buffers
	// filled (an HTTP/2 answer: after the window and the time a write of
	// it, 16 KiB or more, takes at the rate). ServeHTTP applies it to
	// HTTP/2 answers; Run and Serve to every connection they accept (see
	// readrate.go). Default DefaultMinReadRate; negative turns it off.
	MinReadRate int64
	// BodyRateWindow is the grace before MinBodyRate and MinReadRate
	// apply and the most credit a fast client earns for a later pause;
	// default 10s.
	BodyRateWindow time.Duration
	// TrustForwarded lists the networks of proxies in front of the
	// router. A request from one of them keeps its X-Forwarded-For chain
	// (the peer is appended) and its X-Forwarded-Host and -Proto; from
	// anyone else these headers are replaced, X-Forwarded-For by the
	// peer's address alone. Empty (an edge router) trusts no one.
	TrustForwarded []netip.Prefix
	// MaxLimitClients is how many client addresses each app's rate
	// limit tracks at most (see clientLimiter); default
	// DefaultMaxLimitClients.
	MaxLimitClients int
	// NoTraffic turns off the counting of the apps' traffic (traffic.go):
	// Summary is then empty, and the metrics have no traffic figures.
	NoTraffic bool
}

// Router is an http.Handler that proxies by Host header. It is safe for
// concurrent use; Apply may run while requests are served.
type Router struct {
	snap     atomic.Pointer[snapshot] // nil until the first Apply
	applyMu  sync.Mutex               // serializes Apply, which reads the previous snapshot
	proxy    *httputil.ReverseProxy
	log      *slog.Logger
	dialer   *net.Dialer   // the fast path's
	maxIdle  int           // idle connections kept per instance by the fast path
	skipFor  time.Duration // how long a refusing instance is skipped
	noFast   bool          // Config.ReverseProxyOnly
	timeout  time.Duration // Config.BackendTimeout
	rate     int64         // Config.MinBodyRate; <= 0: off
	readRate int64         // Config.MinReadRate; <= 0: off
	window   time.Duration // Config.BodyRateWindow
	trusted  []netip.Prefix

	maxLimitClients int // Config.MaxLimitClients
	metrics         http.Handler

	noTraffic bool       // Config.NoTraffic
	trafficMu sync.Mutex // serializes Summary
	retiredMu sync.Mutex // guards retired
	retired   []retired  // counters that left the table since the last Summary

	// applied is closed by the Apply after the one that made it, and
	// replaced: requests held for an app wait on it (see hold).
	applied atomic.Pointer[chan struct{}]
	held    atomic.Int64 // requests being held now
}

// New returns a router with no table: until the first Apply it answers 503.
func New(cfg Config) *Router {
	cfg = cfg.withDefaults()
	r := &Router{
		log:      cfg.Logger.With("component", "router"),
		dialer:   &net.Dialer{Timeout: cfg.DialTimeout, KeepAlive: 30 * time.Second},
		maxIdle:  cfg.MaxIdleConnsPerHost,
		skipFor:  cfg.SkipFor,
		noFast:   cfg.ReverseProxyOnly,
		timeout:  cfg.BackendTimeout,
		rate:     cfg.MinBodyRate,
		readRate: cfg.MinReadRate,
		window:   cfg.BodyRateWindow,
		trusted:  cfg.TrustForwarded,

		maxLimitClients: cfg.MaxLimitClients,
		noTraffic:       cfg.NoTraffic,
	}
	r.metrics = r.newMetrics()
	applied := make(chan struct{})
	r.applied.Store(&applied)
	r.proxy = &httputil.ReverseProxy{
		Rewrite:      r.rewrite,
		Transport:    &balancer{router: r, base: cfg.Transport, skipFor: cfg.SkipFor},
		BufferPool:   bufferPool{},
		ErrorHandler: r.proxyError,
		ErrorLog:     slog.NewLogLogger(r.log.Handler(), slog.LevelWarn),
	}
	return r
}

// withDefaults fills in the zero values of cfg.
func (cfg Config) withDefaults() Config {
	cfg.Logger = cmp.Or(cfg.Logger, slog.Default())
	cfg.SkipFor = positiveOr(cfg.SkipFor, DefaultSkipFor)
	cfg.DialTimeout = positiveOr(cfg.DialTimeout, DefaultDialTimeout)
	cfg.MaxIdleConnsPerHost = positiveOr(cfg.MaxIdleConnsPerHost, DefaultMaxIdleConnsPerHost)
	cfg.BackendTimeout = positiveOr(cfg.BackendTimeout, DefaultBackendTimeout)
	cfg.MinBodyRate = cmp.Or(cfg.MinBodyRate, DefaultMinBodyRate)
	cfg.MinReadRate = cmp.Or(cfg.MinReadRate, DefaultMinReadRate)
	cfg.MaxLimitClients = positiveOr(cfg.MaxLimitClients, DefaultMaxLimitClients)
	cfg.BodyRateWindow = positiveOr(cfg.BodyRateWindow, DefaultBodyRateWindow)
	if cfg.Transport == nil {
		cfg.Transport = &http.Transport{
			DialContext:           (&net.Dialer{Timeout: cfg.DialTimeout, KeepAlive: 30 * time.Second}).DialContext,
			MaxIdleConnsPerHost:   cfg.MaxIdleConnsPerHost,
			IdleConnTimeout:       90 * time.Second,
			ExpectContinueTimeout: time.Second,
			// A proxy passes Accept-Encoding through; it must not ask for
			// gzip itself and then decode the answer.
			DisableCompression:    true,
			ResponseHeaderTimeout: cfg.BackendTimeout,
		}
	} else if cfg.Transport.ResponseHeaderTimeout == 0 {
		cfg.Transport = cfg.Transport.Clone()
		cfg.Transport.ResponseHeaderTimeout = cfg.BackendTimeout
	}
	return cfg
}

// positiveOr returns v, or def where v is zero or negative: the default of
// a setting that has no meaning below one.
func positiveOr[T ~int | ~int64](v, def T) T {
	if v <= 0 {
		return def
	}
	return v
}

// rewrite is the reverse proxy's Rewrite. The balancer resolves the app
// name to an instance; the Host header stays the one the client sent.
func (r *Router) rewrite(pr *httputil.ProxyRequest) {
	pr.Out.URL.Scheme = "http"
	pr.Out.URL.Host = canonicalHost(pr.In.Host)
	// Rewrite has removed the X-Forwarded headers from Out: an edge router
	// sets them afresh; behind a trusted proxy the chain is kept and the
	// peer appended, as proxies in a chain do.
	_, trusted := r.peer(pr.In.RemoteAddr)
	if prior, ok := pr.In.Header["X-Forwarded-For"]; ok && trusted {
		pr.Out.Header["X-Forwarded-For"] = prior
	}
	pr.SetXForwarded()
	if trusted {
		for _, k := range []string{"X-Forwarded-Host", "X-Forwarded-Proto"} {
			if v := pr.In.Header[k]; len(v) > 0 {
				pr.Out.Header[k] = v[:1] // as the fast path does
			}
		}
	}
}

// Apply makes t the table that routes requests from now on. Requests under
// way keep the instance they got. Apply does not compare versions: that is
// the subscriber's job. The router keeps t's maps: do not modify them after.
func (r *Router) Apply(t cluster.RoutingTable) {
	r.applyMu.Lock()
	defer r.applyMu.Unlock()
	prev := r.snap.Load()
	next := newSnapshot(t, prev)
	next.limits = r.newLimits(t.Limits, prev)
	r.snap.Store(next)
	next.closeGone(prev)
	r.retire(next, prev)
	applied := make(chan struct{})
	close(*r.applied.Swap(&applied))
	r.log.Info("routing table applied", "version", t.Version, "controller", t.Controller, "apps", len(t.Routes))
}

// Table returns a copy of the table in use; the zero table before the first
// Apply.
func (r *Router) Table() cluster.RoutingTable {
	s := r.snap.Load()
	if s == nil {
		return cluster.RoutingTable{Routes: map[string][]string{}}
	}
	t := s.table
	t.Routes = make(map[string][]string, len(s.table.Routes))
	for k, v := range s.table.Routes {
		t.Routes[k] = slices.Clone(v)
	}
	t.HTTPS, t.Challenges, t.Maintenance, t.Held = maps.Clone(t.HTTPS), maps.Clone(t.Challenges), maps.Clone(t.Maintenance), maps.Clone(t.Held)
	t.Limits, t.Canary = maps.Clone(t.Limits), maps.Clone(t.Canary)
	return t
}

// ServeHTTP answers /_ping itself, answers the apps in maintenance with
// their page, applies the apps' limits (429, 413), and proxies everything
// else to an instance of the app named by the Host header. (ACME
// challenges are answered before, by httpsFront.)
func (r *Router) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	s := r.snap.Load()
	if req.URL.Path == PingPath {
		if s == nil {
			plain(w, http.StatusServiceUnavailable, noTable)
			return
		}
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		_, _ = w.Write([]byte("pong"))
		return
	}
	if s == nil {
		plain(w, http.StatusServiceUnavailable, noTable)
		return
	}
	name := canonicalHost(req.Host)
	if msg, ok := s.maintenance[name]; ok {
		maintenancePage(w, req, name, msg)
		return
	}
	a := s.apps[name]
	if a != nil && !r.noTraffic {
		r.serveCounted(w, req, a, name, r.serveApp)
		return
	}
	r.serveApp(w, req, a, name)
}

// serveApp applies the limits of the app name, holds its requests while it
// has no instance, and proxies the others to an instance of a (nil: not in
// the table). It returns the instance that answered last, if any.
func (r *Router) serveApp(w http.ResponseWriter, req *http.Request, a *app, name string) *backend {
	s := r.snap.Load()
	if s.limits != nil {
		if l := s.limits[name]; l != nil {
			if req = r.admit(w, req, l, name); req == nil {
				return nil
			}
		}
	}
	if s.canary != nil {
		a, req = splitCanary(w, req, s, name, a)
	}
	if d := s.held[name]; d > 0 && (a == nil || len(a.backends) == 0) {
		var ok bool
		if a, ok = r.hold(req.Context(), name, d); !ok {
			heldOut(w, name, d)
			return nil
		}
	}
	if a == nil {
		plain(w, http.StatusNotFound, "No backend found for "+name)
		return nil
	}
	if len(a.backends) == 0 {
		plain(w, http.StatusServiceUnavailable, name+" has no healthy instance right now; deploy it or check its health check.")
		return nil
	}
	if !r.noFast && fastPathOK(req) {
		return r.serveFast(w, req, a, name)
	}
	if req.ProtoMajor == 2 && r.readRate > 0 {
		// HTTP/2 flow control holds an answer the client does not read
		// before its socket fills, where the connection's limit works.
		rs := r.newRateStream(w)
		defer rs.finish()
		w = rs
	}
	if r.rate > 0 && req.Body != nil && req.Body != http.NoBody && req.ContentLength != 0 {
		rb := r.newRateBody(w, req.Body)
		req.Body = rb
		// The proxy hands its error handler a copy of req whose body it
		// has wrapped; the context carries rb there.
		req = req.WithContext(context.WithValue(req.Context(), rateBodyKey{}, rb))
	}
	var t *tally
	if !r.noTraffic {
		t = &tally{}
		req = req.WithContext(context.WithValue(req.Context(), tallyKey{}, t))
	}
	r.proxy.ServeHTTP(w, req)
	if t != nil {
		return t.be.Load()
	}
	return nil
}

// hold waits, for at most d, until the app name has a routed instance
// or is held no longer, and returns it then (nil when the table has it no
// more), with ok true; ok is false when d passed first, or the client
// left. A stop-first deploy holds an app while its old instance stops and
// its new one becomes healthy: the request waits instead of failing.
func (r *Router) hold(ctx context.Context, name string, d time.Duration) (a *app, ok bool) {
	r.held.Add(1)
	defer r.held.Add(-1)
	timer := time.NewTimer(d)
	defer timer.Stop()
	for {
		// Taken before the snapshot: an Apply in between closes it.
		applied := *r.applied.Load()
		s := r.snap.Load()
		a = s.apps[name]
		if a != nil && len(a.backends) > 0 || s.held[name] <= 0 {
			return a, true
		}
		select {
		case <-applied:
		case <-timer.C:
			return nil, false
		case <-ctx.Done():
			return nil, false
		}
	}
}

// Held returns how many requests wait now for an app that is held (see
// cluster.RoutingTable.Held).
func (r *Router) Held() int64 { return r.held.Load() }

// heldOut answers a request held for d in vain: 503 with Retry-After.
func heldOut(w http.ResponseWriter, name string, d time.Duration) {
	w.Header().Set("Retry-After", strconv.Itoa(cluster.HoldRetryAfter))
	plain(w, http.StatusServiceUnavailable, fmt.Sprintf("%s is being replaced and had no instance ready within %s; try again in a few seconds.", name, d))
}

const noTable = "This router has not received a routing table yet; check that the controller and Redis are running."

func plain(w http.ResponseWriter, status int, msg string) {
	h := w.Header()
	h.Set("Content-Type", "text/plain; charset=utf-8")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Content-Length", strconv.Itoa(len(msg)+1))
	w.WriteHeader(status)
	_, _ = w.Write([]byte(msg + "\n"))
}

// proxyError answers when no instance could be reached.
func (r *Router) proxyError(w http.ResponseWriter, req *http.Request, err error) {
	name := canonicalHost(req.Host)
	if answerTooLarge(w, req) {
		return
	}
	if bodyTooSlow(req) {
		// The server closes the connection: the rest of the body is
		// not worth waiting for.
		w.Header().Set("Connection", "close")
		plain(w, http.StatusRequestTimeout, fmt.Sprintf("The request body arrived slower than %d bytes/s; send it faster or check the network between the client and this router.", r.rate))
		return
	}
	if errors.Is(err, errBackendTimeout) {
		r.log.Warn("instance did not answer in time", "host", name, "method", req.Method, "path", req.URL.Path, "timeout", r.timeout, "err", err)
		plain(w, http.StatusGatewayTimeout, fmt.Sprintf("%s did not answer within %s; check the app's logs for slow or stuck requests, or raise the router's --backend-timeout if it needs longer.", name, r.timeout))
		return
	}
	if errors.Is(err, context.Canceled) && req.Context().Err() != nil {
		// The client went away; nobody reads the answer.
		w.WriteHeader(http.StatusBadGateway)
		return
	}
	var nb noBackendError
	if errors.As(err, &nb) {
		plain(w, http.StatusServiceUnavailable, name+" has no healthy instance right now; deploy it or check its health check.")
		return
	}
	r.log.Warn("proxy error", "host", name, "method", req.Method, "path", req.URL.Path, "err", err)
	plain(w, http.StatusBadGateway, "No instance of "+name+" answered; try again shortly.")
}

// bufferPool lends the proxy 32 KiB copy buffers.
type bufferPool struct{}

var buffers = sync.Pool{New: func() any { b := make([]byte, 32<<10); return &b }}

func (bufferPool) Get() []byte  { return *buffers.Get().(*[]byte) }
func (bufferPool) Put(b []byte) { buffers.Put(&b) }
