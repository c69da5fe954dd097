// Package router is Longshoreman's HTTP router: a reverse proxy that sends
// each request to an instance of the app named by its Host header, using the
// routing table that pubsub delivers (DESIGN section 4).
//
// The table is an immutable snapshot swapped atomically by Apply, so
// requests never wait for an update and the router keeps serving its last
// table while Redis is away. Instances are chosen round-robin; one that
// refuses a connection is skipped for a short while, and the request is
// retried on another instance when that is safe.
package router

import (
	"context"
	"errors"
	"log/slog"
	"net"
	"net/http"
	"net/http/httputil"
	"slices"
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
)

// PingPath answers 200 "pong" on any host: the router's own health check.
const PingPath = "/_ping"

// Config tunes a Router. The zero value is usable.
type Config struct {
	// Logger receives proxy errors; default slog.Default().
	Logger *slog.Logger
	// Transport carries the requests that do not take the fast path (see
	// ReverseProxyOnly) to the instances. Default: a Transport with
	// DialTimeout, MaxIdleConnsPerHost and compression left to the client
	// and the app.
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
}

// Router is an http.Handler that proxies by Host header. It is safe for
// concurrent use; Apply may run while requests are served.
type Router struct {
	snap    atomic.Pointer[snapshot] // nil until the first Apply
	applyMu sync.Mutex               // serializes Apply, which reads the previous snapshot
	proxy   *httputil.ReverseProxy
	log     *slog.Logger
	dialer  *net.Dialer   // the fast path's
	maxIdle int           // idle connections kept per instance by the fast path
	skipFor time.Duration // how long a refusing instance is skipped
	noFast  bool          // Config.ReverseProxyOnly
}

// New returns a router with no table: until the first Apply it answers 503.
func New(cfg Config) *Router {
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.SkipFor <= 0 {
		cfg.SkipFor = DefaultSkipFor
	}
	if cfg.DialTimeout <= 0 {
		cfg.DialTimeout = DefaultDialTimeout
	}
	if cfg.MaxIdleConnsPerHost <= 0 {
		cfg.MaxIdleConnsPerHost = DefaultMaxIdleConnsPerHost
	}
	if cfg.Transport == nil {
		cfg.Transport = &http.Transport{
			DialContext:           (&net.Dialer{Timeout: cfg.DialTimeout, KeepAlive: 30 * time.Second}).DialContext,
			MaxIdleConnsPerHost:   cfg.MaxIdleConnsPerHost,
			IdleConnTimeout:       90 * time.Second,
			ExpectContinueTimeout: time.Second,
			// A proxy passes Accept-Encoding through; it must not ask for
			// gzip itself and then decode the answer.
			DisableCompression: true,
		}
	}
	r := &Router{
		log:     cfg.Logger.With("component", "router"),
		dialer:  &net.Dialer{Timeout: cfg.DialTimeout, KeepAlive: 30 * time.Second},
		maxIdle: cfg.MaxIdleConnsPerHost,
		skipFor: cfg.SkipFor,
		noFast:  cfg.ReverseProxyOnly,
	}
	r.proxy = &httputil.ReverseProxy{
		Rewrite: func(pr *httputil.ProxyRequest) {
			// The balancer resolves the app name to an instance; the
			// Host header stays the one the client sent.
			pr.Out.URL.Scheme = "http"
			pr.Out.URL.Host = canonicalHost(pr.In.Host)
			// Append to the client's X-Forwarded-For, as proxies in a
			// chain do; Rewrite has removed it from Out.
			if prior, ok := pr.In.Header["X-Forwarded-For"]; ok {
				pr.Out.Header["X-Forwarded-For"] = prior
			}
			pr.SetXForwarded()
		},
		Transport:    &balancer{router: r, base: cfg.Transport, skipFor: cfg.SkipFor},
		BufferPool:   bufferPool{},
		ErrorHandler: r.proxyError,
		ErrorLog:     slog.NewLogLogger(r.log.Handler(), slog.LevelWarn),
	}
	return r
}

// Apply makes t the table that routes requests from now on. Requests under
// way keep the instance they got. Apply does not compare versions: that is
// the subscriber's job. The router keeps t's maps: do not modify them after.
func (r *Router) Apply(t cluster.RoutingTable) {
	r.applyMu.Lock()
	defer r.applyMu.Unlock()
	prev := r.snap.Load()
	next := newSnapshot(t, prev)
	r.snap.Store(next)
	next.closeGone(prev)
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
	return t
}

// ServeHTTP answers /_ping itself and proxies everything else to an
// instance of the app named by the Host header.
func (r *Router) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	if req.URL.Path == PingPath {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		_, _ = w.Write([]byte("pong"))
		return
	}
	s := r.snap.Load()
	if s == nil {
		plain(w, http.StatusServiceUnavailable, "This router has not received a routing table yet; check that the controller and Redis are running.")
		return
	}
	name := canonicalHost(req.Host)
	a := s.apps[name]
	if a == nil {
		plain(w, http.StatusNotFound, "No backend found for "+name)
		return
	}
	if len(a.backends) == 0 {
		plain(w, http.StatusServiceUnavailable, name+" has no healthy instance right now; deploy it or check its health check.")
		return
	}
	if !r.noFast && fastPathOK(req) {
		r.serveFast(w, req, a, name)
		return
	}
	r.proxy.ServeHTTP(w, req)
}

func plain(w http.ResponseWriter, status int, msg string) {
	h := w.Header()
	h.Set("Content-Type", "text/plain; charset=utf-8")
	h.Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(status)
	_, _ = w.Write([]byte(msg + "\n"))
}

// proxyError answers when no instance could be reached.
func (r *Router) proxyError(w http.ResponseWriter, req *http.Request, err error) {
	name := canonicalHost(req.Host)
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
