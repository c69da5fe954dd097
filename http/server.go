// Package http serves Longshoreman's API on julienschmidt/httprouter: the
// routes, authentication, the {"error": ...} envelope, the mapping of error
// codes to statuses, and request decoding and validation.
//
// Canonical paths live under /apps/:app/...; the original short form
// /:app/... (what the 2014 CLI sends) is rewritten to it before routing,
// since httprouter cannot hold /apps beside /:app.
package http

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"crypto/tls"
	"encoding/binary"
	"encoding/hex"
	"io"
	"log/slog"
	"math/rand/v2"
	"net"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/julienschmidt/httprouter"
	"github.com/longshoreman/longshoreman/cluster"
	"github.com/longshoreman/longshoreman/events"
)

// Store is the API's part of the store: everything but the secrets and the
// certificates (which CertStore is), as the API reads and writes it.
type Store interface {
	cluster.MetaStore // Check, Generation
	cluster.AppStore
	cluster.HostStore
	cluster.RevisionStore
	cluster.InstanceStore
	cluster.TaskStore
	cluster.JobStore
	cluster.RegistryStore
	cluster.TokenStore
	cluster.RecordStore // Backup
	cluster.AuditStore
}

// Scheduler is what the API asks to change the cluster. Every method
// returns *cluster.Error values for what a person can fix.
type Scheduler interface {
	AddHost(ctx context.Context, addr string) error
	RemoveHost(ctx context.Context, addr string, force bool) error
	RemoveVolume(ctx context.Context, app, name string) ([]string, error)
	DeleteApp(ctx context.Context, app string) error
	SetEnv(ctx context.Context, app, key, value string, progress cluster.ProgressFunc) (*cluster.DeployResult, error)
	UnsetEnv(ctx context.Context, app, key string, progress cluster.ProgressFunc) (*cluster.DeployResult, error)
	Deploy(ctx context.Context, app string, req cluster.DeployRequest, progress cluster.ProgressFunc) (*cluster.DeployResult, error)
	Rollback(ctx context.Context, app string, revision int, progress cluster.ProgressFunc) (*cluster.DeployResult, error)
	RollbackRelease(ctx context.Context, app string, revision int, progress cluster.ProgressFunc) (*cluster.DeployResult, error)
	RunTask(ctx context.Context, app string, command []string, timeout time.Duration, output func(cluster.TaskLine)) (cluster.TaskResult, error)
	Scale(ctx context.Context, app string, count int, progress cluster.ProgressFunc) (*cluster.DeployResult, error)
	// Promote and Abort end the app's canary (see cluster/canary.go).
	Promote(ctx context.Context, app string, progress cluster.ProgressFunc) (*cluster.DeployResult, error)
	Abort(ctx context.Context, app, reason string, progress cluster.ProgressFunc) (*cluster.DeployResult, error)
	Kill(ctx context.Context, app string) error
	Logs(ctx context.Context, app string, opts cluster.LogOptions) ([]string, error)
	FollowLogs(ctx context.Context, app string, opts cluster.LogOptions, emit func(cluster.LogLine) error) error
	MaxCount() int
	// UpdateSettings changes an app's settings with edit, in one write.
	UpdateSettings(ctx context.Context, app string, edit func(*cluster.App)) (*cluster.App, error)
	// Stopping returns the drain and stop timeout that apply to a.
	Stopping(a *cluster.App) (drain, stopTimeout time.Duration)
	// AddJob validates and stores a scheduled job; RemoveJob removes one.
	AddJob(ctx context.Context, j cluster.Job) (*cluster.Job, error)
	RemoveJob(ctx context.Context, app, name string) error
}

// PublisherStatus reports the routing-table publisher's link to Redis.
type PublisherStatus interface {
	RedisStatus() string // "connected", or what is wrong
}

// HostHealth reports each host's state as last observed, without calling
// any host: /healthz must stay cheap however often it is polled.
type HostHealth interface {
	HostStatus(ctx context.Context) map[string]string // host -> "ok" or what is wrong
}

// Server is the API's http.Handler.
type Server struct {
	Store     Store
	Scheduler Scheduler
	Publisher PublisherStatus // may be nil
	Hosts     HostHealth      // may be nil: /healthz then lists hosts as not checked
	Token     string
	Logger    *slog.Logger
	Metrics   http.Handler // serves GET /metrics; may be nil
	Observer  Observer     // may be nil
	// Leadership is nil for a controller alone on its store (it always
	// leads); with one, a follower forwards leader-only routes.
	Leadership Leadership
	// ForwardTLS verifies the leader's https URL when forwarding to it;
	// nil: the system's CAs. Forwarding never goes through a proxy.
	ForwardTLS *tls.Config
	Events     *events.Bus  // GET /events reads it; may be nil
	UI         http.Handler // serves GET /ui/..., without a token; may be nil
	Memory     HostMemory   // each host's total memory for /overview; may be nil
	Disk       ImageDisk    // each host's disk use of images for /overview; may be nil
	// Traffic answers GET /apps/:app/traffic; nil: it answers 503.
	Traffic TrafficSource

	// EnvKeys rotates the key of the env values (POST /secrets/rotate);
	// nil: the route answers that there is none.
	EnvKeys cluster.EnvKeyStore

	// RouterToken reads GET /routes and GET /router/certs only; empty: no
	// router token is accepted.
	RouterToken string
	// Certs keeps the certificates; nil: Store, when it does.
	Certs CertStore
	// TableChanged is called after a write the routing table shows (an
	// app's HTTPS, a certificate), so that it is published at once.
	TableChanged func()
	// HealthEvery is how often, at most, GET /healthz checks the store and
	// asks Hosts (every request in between gets that answer); zero means
	// DefaultHealthEvery.
	HealthEvery time.Duration
	// AuditKeep and AuditMaxAge bound the audit log (see
	// cluster.AuditStore); zero means cluster.DefaultAuditKeep and
	// cluster.DefaultAuditMaxAge.
	AuditKeep   int
	AuditMaxAge time.Duration

	router   *httprouter.Router
	sums     tokenSums        // of Token and RouterToken, taken by NewServer
	forwards forwardTransport // how a follower reaches the leader
	answers  answerCache
	rollouts atomic.Int64 // requests running a deploy, rollback, scale or env change
	unsent   unsentSet    // connections whose rollout answer is not all sent
	follows  followSet    // ends the log streams at shutdown
	health   healthState  // what /healthz last found of the store and the hosts
	touches  tokenTouches // when each stored token's LastUsed was last written
}

// Rollouts returns how many requests are running a deploy-like change, so
// that shutdown can wait for them.
func (s *Server) Rollouts() int { return int(s.rollouts.Load()) }

// Unsent returns how many connections have a rollout's answer not yet all
// sent: its handler ran, and net/http writes the answer out after. It
// counts only when the http.Server's ConnState is s.ConnState.
func (s *Server) Unsent() int { return s.unsent.len() }

// ConnState is the hook for http.Server's ConnState: a connection that is
// idle again, closed or taken over has sent its rollout's answer.
func (s *Server) ConnState(c net.Conn, state http.ConnState) {
	if state == http.StateIdle || state == http.StateClosed || state == http.StateHijacked {
		s.unsent.remove(c.RemoteAddr().String())
	}
}

// unsentSet holds the remote addresses of the connections that carry a
// rollout whose answer has not left yet.
type unsentSet struct {
	mu    sync.Mutex
	addrs map[string]bool
}

func (u *unsentSet) add(addr string) {
	u.mu.Lock()
	defer u.mu.Unlock()
	if u.addrs == nil {
		u.addrs = map[string]bool{}
	}
	u.addrs[addr] = true
}

func (u *unsentSet) remove(addr string) {
	u.mu.Lock()
	defer u.mu.Unlock()
	delete(u.addrs, addr)
}

func (u *unsentSet) len() int {
	u.mu.Lock()
	defer u.mu.Unlock()
	return len(u.addrs)
}

// Observer is told about every request, for metrics.
type Observer interface {
	Request(route, method string, status int, d time.Duration)
	AuthFailed()
}

// reserved are the first path segments that are not app names.
var reserved = map[string]bool{"apps": true, "hosts": true, "registries": true, "describe": true, "routes": true, "healthz": true, "metrics": true, "backup": true,
	"certs": true, "router": true, "events": true, "overview": true, "ui": true, "tokens": true, "whoami": true, "audit": true, "secrets": true}

// NewServer returns a Server with its routes registered.
func NewServer(s *Server) *Server {
	if s.Logger == nil {
		s.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	s.sums = tokenSums{api: s.Token, router: s.RouterToken,
		apiSum: sha256.Sum256([]byte(s.Token)), routerSum: sha256.Sum256([]byte(s.RouterToken))}
	r := s.newRouter()
	s.handle(r, "GET", "/apps", s.listApps)
	s.handle(r, "POST", "/apps", s.fallible(s.createApp))
	s.handle(r, "GET", "/apps/:app", s.forApp(s.describeApp))
	s.handle(r, "DELETE", "/apps/:app", s.forApp(s.deleteApp))
	s.handle(r, "POST", "/apps/:app/deploy", s.fallible(s.deploy))
	s.handle(r, "GET", "/apps/:app/instances", s.forApp(s.instances))
	s.handle(r, "GET", "/apps/:app/envs", s.forApp(s.listEnvs))
	s.handle(r, "POST", "/apps/:app/envs", s.forApp(s.setEnv))
	s.handle(r, "DELETE", "/apps/:app/envs/:key", s.forApp(s.unsetEnv))
	s.handle(r, "GET", "/apps/:app/history", s.forApp(s.history))
	s.handle(r, "GET", "/apps/:app/traffic", s.forApp(s.traffic))
	s.handle(r, "GET", "/apps/:app/logs", s.forApp(s.logs))
	s.handle(r, "GET", "/apps/:app/kill", s.forApp(s.kill))
	s.handle(r, "POST", "/apps/:app/kill", s.forApp(s.kill))
	s.handle(r, "POST", "/apps/:app/rollback", s.forApp(s.rollback))
	s.handle(r, "POST", "/apps/:app/scale", s.forApp(s.scale))
	s.handle(r, "POST", "/apps/:app/run", s.forApp(s.run))
	s.handle(r, "GET", "/apps/:app/tasks", s.forApp(s.listTasks))
	s.handle(r, "GET", "/apps/:app/jobs", s.forApp(s.listJobs))
	s.handle(r, "POST", "/apps/:app/jobs", s.forApp(s.addJob))
	s.handle(r, "DELETE", "/apps/:app/jobs/:job", s.forApp(s.removeJob))
	s.handle(r, "GET", "/apps/:app/settings", s.forApp(s.getSettings))
	s.handle(r, "POST", "/apps/:app/settings", s.forApp(s.setSettings))
	s.handle(r, "DELETE", "/apps/:app/volumes/:volume", s.fallible(s.removeVolume))

	s.handle(r, "GET", "/hosts", s.fallible(s.listHosts))
	s.handle(r, "POST", "/hosts", s.fallible(s.addHost))
	s.handle(r, "DELETE", "/hosts/:host", s.fallible(s.removeHost))

	s.handle(r, "GET", "/registries", s.fallible(s.listRegistries))
	s.handle(r, "POST", "/registries", s.fallible(s.putRegistry))
	s.handle(r, "DELETE", "/registries/:registry", s.fallible(s.deleteRegistry))

	s.handle(r, "GET", "/describe", s.describe)
	s.handle(r, "GET", "/routes", s.fallible(s.routes))
	s.handle(r, "GET", "/healthz", s.healthz)
	s.handle(r, "GET", "/backup", s.fallible(s.backup))
	s.handle(r, "GET", "/metrics", s.fallible(s.metrics))

	s.handle(r, "POST", "/apps/:app/https", s.forApp(s.setHTTPS))
	s.handle(r, "POST", "/apps/:app/maintenance", s.forApp(s.setMaintenance))
	s.handle(r, "POST", "/apps/:app/promote", s.forApp(s.promote))
	s.handle(r, "POST", "/apps/:app/abort", s.forApp(s.abort))
	s.handle(r, "GET", "/certs", s.fallible(s.listCerts))
	s.handle(r, "POST", "/certs", s.fallible(s.addCert))
	s.handle(r, "DELETE", "/certs/:domain", s.fallible(s.deleteCert))
	s.handle(r, "GET", "/router/certs", s.fallible(s.routerCerts))
	s.handle(r, "GET", "/events", s.fallible(s.events))
	s.handle(r, "GET", "/overview", s.fallible(s.overview))
	s.handle(r, "GET", "/tokens", s.fallible(s.listTokens))
	s.handle(r, "POST", "/tokens", s.fallible(s.addToken))
	s.handle(r, "DELETE", "/tokens/:name", s.fallible(s.removeToken))
	s.handle(r, "GET", "/whoami", s.fallible(s.whoami))
	s.handle(r, "GET", "/audit", s.fallible(s.listAudit))
	s.handle(r, "POST", "/secrets/rotate", s.fallible(s.rotateSecrets))
	if s.UI != nil {
		ui := func(w http.ResponseWriter, req *http.Request, _ httprouter.Params) { s.UI.ServeHTTP(w, req) }
		s.handle(r, "GET", "/ui/*file", ui)
		s.handle(r, "HEAD", "/ui/*file", ui)
		s.handle(r, "GET", "/ui", ui)
	}
	s.router = r
	return s
}

// newRouter returns a router with no route yet, whose own answers (no
// route, a method not allowed, a panic) are the API's errors.
func (s *Server) newRouter() *httprouter.Router {
	r := httprouter.New()
	r.RedirectTrailingSlash = false
	r.NotFound = http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		s.Error(w, req, cluster.Errorf(cluster.ENOTFOUND, "No such endpoint: %s %s. See the API table in the README.", req.Method, req.URL.Path))
	})
	r.MethodNotAllowed = http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		s.Error(w, req, cluster.Errorf(cluster.EMETHOD, "%s is not allowed on %s; allowed: %s.", req.Method, req.URL.Path, w.Header().Get("Allow")))
	})
	r.PanicHandler = func(w http.ResponseWriter, req *http.Request, v any) {
		if v == http.ErrAbortHandler {
			panic(v) // a deliberate abort: let net/http cut the connection
		}
		s.Logger.Error("panic in handler", "method", req.Method, "path", req.URL.Path, "panic", v)
		s.Error(w, req, cluster.Errorf(cluster.EINTERNAL, "Internal error."))
	}
	return r
}

// Routes lists every registered method and canonical path, for tests that
// walk them.
func Routes() [][2]string {
	return [][2]string{
		{"GET", "/apps"}, {"POST", "/apps"}, {"GET", "/apps/:app"}, {"DELETE", "/apps/:app"},
		{"POST", "/apps/:app/deploy"}, {"GET", "/apps/:app/instances"}, {"GET", "/apps/:app/envs"},
		{"POST", "/apps/:app/envs"}, {"DELETE", "/apps/:app/envs/:key"}, {"GET", "/apps/:app/history"},
		{"GET", "/apps/:app/logs"}, {"GET", "/apps/:app/kill"}, {"POST", "/apps/:app/kill"},
		{"POST", "/apps/:app/rollback"}, {"POST", "/apps/:app/scale"},
		{"POST", "/apps/:app/run"}, {"GET", "/apps/:app/tasks"},
		{"GET", "/apps/:app/jobs"}, {"POST", "/apps/:app/jobs"}, {"DELETE", "/apps/:app/jobs/:job"},
		{"GET", "/apps/:app/settings"}, {"POST", "/apps/:app/settings"}, {"DELETE", "/apps/:app/volumes/:volume"},
		{"GET", "/hosts"}, {"POST", "/hosts"}, {"DELETE", "/hosts/:host"},
		{"GET", "/registries"}, {"POST", "/registries"}, {"DELETE", "/registries/:registry"},
		{"GET", "/describe"}, {"GET", "/routes"}, {"GET", "/healthz"}, {"GET", "/backup"}, {"GET", "/metrics"},
		{"POST", "/apps/:app/https"}, {"GET", "/certs"}, {"POST", "/certs"}, {"DELETE", "/certs/:domain"}, {"GET", "/router/certs"},
		{"GET", "/events"}, {"GET", "/overview"}, {"POST", "/apps/:app/maintenance"},
		{"POST", "/apps/:app/promote"}, {"POST", "/apps/:app/abort"},
		{"GET", "/tokens"}, {"POST", "/tokens"}, {"DELETE", "/tokens/:name"}, {"GET", "/whoami"},
		{"GET", "/audit"},
		{"POST", "/secrets/rotate"},
		{"GET", "/apps/:app/traffic"},
	}
}

// ServeHTTP authenticates, rewrites the short /:app/... form, and routes.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	start := time.Now()
	id := requestID(r)
	w.Header()["X-Request-Id"] = []string{id} // the canonical key, as Set would write it
	rec := &statusRecorder{ResponseWriter: w, status: http.StatusOK, route: "unmatched", start: start}
	refused := false
	defer func() {
		end := time.Now()
		d := end.Sub(start)
		s.logRequest(end, id, r, rec.status, d)
		if rec.audit != nil && !rec.audit.forwarded {
			s.audit(rec, r, id, d)
		}
		// A refused request is counted by AuthFailed alone: its method and
		// path are the client's to choose, and each new label value would
		// be a series kept for the life of the process.
		if s.Observer != nil && !refused {
			s.Observer.Request(rec.route, r.Method, rec.status, d)
		}
	}()
	role := s.tokenRole(r)
	open := r.URL.Path == "/healthz" || s.public(r)
	switch role {
	case roleAPI:
		rec.caller = rootCaller
	case roleRouter:
		rec.caller = routerCaller
	default:
		if open {
			break // the caller stays unknown: these routes need no token
		}
		if err := s.storedCaller(r, &rec.caller); err != nil {
			refused = true
			if s.Observer != nil {
				s.Observer.AuthFailed()
			}
			s.Logger.Warn("refused a request with a missing, wrong or expired token", "request_id", id, "method", r.Method, "path", r.URL.Path, "remote", r.RemoteAddr, "reason", err)
			s.Error(rec, r, err)
			return
		}
	}
	if err := allowed(role, r); err != nil && r.URL.Path != "/healthz" {
		refused = true
		s.Logger.Warn("refused a request its token may not make", "request_id", id, "method", r.Method, "path", r.URL.Path, "remote", r.RemoteAddr)
		// A valid token refused is recorded in the audit log; an unknown
		// one above is only logged: anyone could send those, and push
		// the real entries out of the log.
		rec.audit = &auditState{}
		s.Error(rec, r, err)
		return
	}
	if r.Body != http.NoBody { // a request without a body has nothing to limit
		r.Body = http.MaxBytesReader(rec, r.Body, MaxBodyBytes)
	}
	if p := shortForm(r.URL.Path); p != "" {
		r.URL.Path = p
		r.URL.RawPath = ""
	}
	s.router.ServeHTTP(rec, r)
}

// requestID returns the client's X-Request-Id when it is a short token,
// or a new random one, so a request can be followed through the logs.
func requestID(r *http.Request) string {
	if id := headerValue(r.Header, "X-Request-Id"); id != "" && len(id) <= 64 && strings.Trim(id, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_.") == "" {
		return id
	}
	// Not a secret: only unique enough to tell requests apart in the log.
	var b [8]byte
	binary.LittleEndian.PutUint64(b[:], rand.Uint64())
	return hex.EncodeToString(b[:])
}

// logRequest writes the request's line of the log, the line Logger.Info
// would write, at the time its duration was taken, and without looking up
// the caller (serve's handlers do not show the source). A read answered
// without an error is logged at Debug: the dashboard and scripts poll, and
// every change is also in the audit log (see the README, Operations).
func (s *Server) logRequest(end time.Time, id string, r *http.Request, status int, d time.Duration) {
	level := slog.LevelInfo
	if (r.Method == http.MethodGet || r.Method == http.MethodHead) && status < 400 {
		level = slog.LevelDebug
	}
	h, ctx := s.Logger.Handler(), context.Background()
	if !h.Enabled(ctx, level) {
		return
	}
	line := slog.NewRecord(end, level, "request", 0)
	line.AddAttrs(slog.String("request_id", id), slog.String("method", r.Method), slog.String("path", r.URL.Path),
		slog.Int("status", status), slog.Duration("duration", d.Round(time.Microsecond)))
	_ = h.Handle(ctx, line)
}

// headerValue is h.Get(key) for a key written in canonical form, as the
// server stores a request's keys, without canonicalizing it once more.
func headerValue(h http.Header, key string) string {
	if v := h[key]; len(v) > 0 {
		return v[0]
	}
	return ""
}

// shortForm returns the canonical path for a /:app/... path, or "".
func shortForm(path string) string {
	first, rest, _ := strings.Cut(strings.TrimPrefix(path, "/"), "/")
	if first == "" || rest == "" || reserved[first] {
		return ""
	}
	return "/apps/" + first + "/" + rest
}

// public reports whether r asks for the dashboard's static files, which
// hold no data: the page must load before it can ask for the token. Every
// request the page makes for data carries the token.
func (s *Server) public(r *http.Request) bool {
	return s.UI != nil && (r.Method == http.MethodGet || r.Method == http.MethodHead) &&
		(r.URL.Path == "/ui" || strings.HasPrefix(r.URL.Path, "/ui/"))
}

// authorized reports whether the request carries the API token.
func (s *Server) authorized(r *http.Request) bool { return s.tokenRole(r) == roleAPI }

// requestToken returns the token of X-Auth or Authorization: Bearer.
func requestToken(r *http.Request) string {
	got := headerValue(r.Header, "X-Auth")
	if got == "" {
		if h := headerValue(r.Header, "Authorization"); len(h) > 7 && strings.EqualFold(h[:7], "bearer ") {
			got = strings.TrimSpace(h[7:])
		}
	}
	return got
}

// tokenSums keeps the hashes of the server's tokens, so that a request
// hashes only the token it carries.
type tokenSums struct {
	api, router       string
	apiSum, routerSum [32]byte
}

// sumOf returns want's hash: the one kept when want is the token it was
// taken of, else computed.
func sumOf(want, kept string, sum *[32]byte) [32]byte {
	if want == kept {
		return *sum
	}
	return sha256.Sum256([]byte(want))
}

// tokenMatches compares the hash of a request's token with a token's hash
// in constant time; an empty token matches nothing.
func tokenMatches(got *[32]byte, want string, wantSum [32]byte) bool {
	return want != "" && subtle.ConstantTimeCompare(got[:], wantSum[:]) == 1
}

// handle registers h for method and pattern, naming the route for the
// request log and metrics.
func (s *Server) handle(r *httprouter.Router, method, pattern string, h httprouter.Handle) {
	if s.Leadership != nil && leaderOnly(method, pattern) {
		h = s.leaderRoute(h)
	}
	n := routeNeeds[[2]string{method, pattern}]
	audited := auditedRoute(method, pattern)
	r.Handle(method, pattern, func(w http.ResponseWriter, req *http.Request, ps httprouter.Params) {
		if rec, ok := w.(*statusRecorder); ok {
			rec.route = pattern
			if audited {
				rec.audit = &auditState{params: ps}
			}
			if err := permit(&rec.caller, n, req, ps); err != nil {
				s.Logger.Warn("refused a request its token may not make", "method", req.Method, "path", req.URL.Path, "token", rec.caller.Name, "remote", req.RemoteAddr)
				s.Error(w, req, err)
				return
			}
		}
		h(w, req, ps)
	})
}

// fallible adapts a handler that returns its error: s.Error writes it, so
// that no handler writes an error answer of its own.
func (s *Server) fallible(h func(http.ResponseWriter, *http.Request, httprouter.Params) error) httprouter.Handle {
	return func(w http.ResponseWriter, r *http.Request, ps httprouter.Params) {
		if err := h(w, r, ps); err != nil {
			s.Error(w, r, err)
		}
	}
}

// forApp adapts a handler of an /apps/:app/... route: it gets the app,
// its name checked and the app loaded (404 when unknown), and returns its
// error for s.Error to write.
func (s *Server) forApp(h func(http.ResponseWriter, *http.Request, *cluster.App, httprouter.Params) error) httprouter.Handle {
	return s.fallible(func(w http.ResponseWriter, r *http.Request, ps httprouter.Params) error {
		app, err := s.app(ps)
		if err != nil {
			return err
		}
		return h(w, r, app, ps)
	})
}

// statusRecorder remembers the status written, the route matched and who
// asked, for the request log, metrics and the handlers; and for the audit
// log, whether the request is recorded, what it named, and its error.
type statusRecorder struct {
	http.ResponseWriter
	status int
	route  string
	caller Caller
	start  time.Time

	audit *auditState // set when the request is recorded in the audit log (see auditedRoute)
}

// auditState is what a request recorded in the audit log carries besides
// its status, made only for such requests: reads cost nothing more.
type auditState struct {
	forwarded bool                // sent to the leader, which records it
	params    httprouter.Params   // the route's, for the audit entry (httprouter v1.3 makes them per request: kept after it)
	args      map[string]string   // noted by the handler (note)
	failure   error               // the error answered (failed)
	write     *cluster.AuditWrite // the entry stored with the change, if it was (see changeStore)
}

// Caller is who made a request: the name of the token it carried, and
// what the token may do.
type Caller struct {
	Name  string        // "root" for the API token, "router" for the router token, else a stored token's
	Scope cluster.Scope // admin for the root token, none for the router token
	Apps  []string      // the apps a stored token is limited to; none: all
}

// The callers of the tokens the server holds in memory.
var (
	rootCaller   = Caller{Name: cluster.RootTokenName, Scope: cluster.ScopeAdmin}
	routerCaller = Caller{Name: cluster.RouterTokenName}
)

// callerOf returns who made the request w answers (the zero Caller for a
// request that carried no token, such as GET /healthz without one).
func callerOf(w http.ResponseWriter) Caller {
	if rec, ok := w.(*statusRecorder); ok {
		return rec.caller
	}
	return Caller{}
}

func (r *statusRecorder) WriteHeader(code int) {
	r.status = code
	r.ResponseWriter.WriteHeader(code)
}

func (r *statusRecorder) Flush() {
	if f, ok := r.ResponseWriter.(http.Flusher); ok {
		f.Flush()
	}
}

// Unwrap lets http.ResponseController reach the underlying writer.
func (r *statusRecorder) Unwrap() http.ResponseWriter { return r.ResponseWriter }
