package http

import (
	"context"
	"log/slog"
	"maps"
	"net"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/julienschmidt/httprouter"
	"github.com/longshoreman/longshoreman/cluster"
)

// operations names the routes in the audit log as the CLI names the
// commands that call them. A route missing here is named "METHOD
// PATTERN".
var operations = map[string]string{
	"POST /apps":                        cluster.OpAddApp,
	"DELETE /apps/:app":                 cluster.OpRemoveApp,
	"POST /apps/:app/deploy":            cluster.OpDeploy,
	"POST /apps/:app/envs":              cluster.OpSetEnv,
	"DELETE /apps/:app/envs/:key":       cluster.OpUnsetEnv,
	"GET /apps/:app/kill":               cluster.OpKill,
	"POST /apps/:app/kill":              cluster.OpKill,
	"POST /apps/:app/rollback":          cluster.OpRollback,
	"POST /apps/:app/scale":             cluster.OpScale,
	"POST /apps/:app/promote":           cluster.OpPromote,
	"POST /apps/:app/abort":             cluster.OpAbort,
	"POST /apps/:app/run":               "run",
	"POST /apps/:app/jobs":              cluster.OpAddJob,
	"DELETE /apps/:app/jobs/:job":       cluster.OpRemoveJob,
	"POST /apps/:app/settings":          "settings",
	"DELETE /apps/:app/volumes/:volume": cluster.OpRemoveVolume,
	"POST /apps/:app/https":             "https",
	"POST /apps/:app/maintenance":       "maintenance",
	"POST /hosts":                       cluster.OpAddHost,
	"DELETE /hosts/:host":               cluster.OpRemoveHost,
	"POST /registries":                  cluster.OpAddRegistry,
	"DELETE /registries/:registry":      cluster.OpRemoveRegistry,
	"POST /certs":                       "certs:add",
	"DELETE /certs/:domain":             "certs:rm",
	"POST /tokens":                      "tokens:add",
	"DELETE /tokens/:name":              "tokens:rm",
	"POST /secrets/rotate":              "secrets:rotate",
	"GET /backup":                       cluster.OpBackup,
}

// auditedRoute reports whether a route's requests are recorded in the
// audit log: every change (every method but GET and HEAD, and GET
// /apps/:app/kill) and backups. The reads are not: they must cost
// nothing more than before.
func auditedRoute(method, pattern string) bool {
	if method != http.MethodGet && method != http.MethodHead {
		return true
	}
	_, named := operations[method+" "+pattern]
	return named
}

// operationName names a route for the audit log.
func operationName(method, pattern string) string {
	if op, ok := operations[method+" "+pattern]; ok {
		return op
	}
	return method + " " + pattern
}

// matchRoute finds the route of a request that was refused before
// routing: its pattern and parameters, or the path itself and none when
// no route matches.
func matchRoute(method, path string) (string, httprouter.Params) {
	if p := shortForm(path); p != "" {
		path = p
	}
	segs := segments(path)
	for _, route := range Routes() {
		if route[0] == method {
			if ps, ok := matchPattern(segments(route[1]), segs); ok {
				return route[1], ps
			}
		}
	}
	return path, nil
}

// segments splits a path or a pattern at its slashes.
func segments(path string) []string { return strings.Split(strings.Trim(path, "/"), "/") }

// matchPattern matches a path's segments with a pattern's, whose
// ":name" segments match any segment but an empty one.
func matchPattern(pattern, segs []string) (httprouter.Params, bool) {
	if len(pattern) != len(segs) {
		return nil, false
	}
	var ps httprouter.Params
	for i, p := range pattern {
		switch {
		case strings.HasPrefix(p, ":") && segs[i] != "":
			ps = append(ps, httprouter.Param{Key: p[1:], Value: segs[i]})
		case p != segs[i]:
			return nil, false
		}
	}
	return ps, true
}

// recorderOf returns the statusRecorder beneath w, nil when there is none
// (a handler called without ServeHTTP).
func recorderOf(w http.ResponseWriter) *statusRecorder {
	for {
		switch x := w.(type) {
		case *statusRecorder:
			return x
		case interface{ Unwrap() http.ResponseWriter }:
			w = x.Unwrap()
		default:
			return nil
		}
	}
}

// note adds an argument to the audit entry of the request w answers, for
// a handler to say what the request named beyond its route's parameters:
// never a value that is a secret (an env's value, a password, a key).
// The argument "app" names the entry's app. Requests that are not
// recorded ignore it.
func note(w http.ResponseWriter, key, value string) {
	rec := recorderOf(w)
	if rec == nil || rec.audit == nil {
		return
	}
	a := rec.audit
	if a.args == nil {
		a.args = make(map[string]string, 4)
	}
	if len(a.args) < cluster.MaxAuditArgs {
		a.args[key] = value
	}
}

// failed records err as the outcome of the request w answers, for the
// audit log: the error of an answer the request's status does not tell (a
// stream whose 200 went out first, a body cut short). A refusal of the
// request's token (EFORBIDDEN) is recorded whatever the route, also a
// read's.
func failed(w http.ResponseWriter, err error) {
	rec := recorderOf(w)
	if rec == nil {
		return
	}
	if rec.audit == nil {
		if cluster.ErrorCode(err) != cluster.EFORBIDDEN || rec.caller.Name == "" {
			return
		}
		rec.audit = &auditState{}
	}
	rec.audit.failure = err
}

// audit records the request rec answered: in the store, unless its entry
// was stored with its change (see changeStore), as an event, and as a
// line of the log.
func (s *Server) audit(rec *statusRecorder, r *http.Request, id string, d time.Duration) {
	e := s.auditEntry(rec, r, d)
	if w := rec.audit.write; !w.Stored() {
		// A change of several writes, or one that failed: recorded in a
		// transaction of its own, after the answer (see the README, Audit
		// log).
		if err := s.Store.AppendAudit(e, s.auditKeep(), s.auditMaxAge()); err != nil {
			s.Logger.Error("the audit entry of a request was not stored", "operation", e.Operation, "app", e.App, "token", e.Token, "err", err)
		}
	}
	args := make([]any, 0, len(e.Args))
	for k, v := range e.Args {
		args = append(args, slog.String(k, v))
	}
	s.Logger.LogAttrs(context.Background(), slog.LevelInfo, "audit", slog.String("request_id", id), slog.String("token", e.Token),
		slog.String("source", e.Source), slog.String("operation", e.Operation), slog.String("app", e.App), slog.Group("args", args...),
		slog.Int("status", e.Status), slog.String("outcome", e.Outcome))
	if s.Events != nil {
		s.Events.Publish(cluster.Event{Type: cluster.EventAudit, Step: e.Operation, App: e.App, Token: e.Token, Source: e.Source,
			Message: e.Outcome, Time: e.Time})
	}
}

// auditEntry is the audit entry of the request rec answers, d after it
// began.
func (s *Server) auditEntry(rec *statusRecorder, r *http.Request, d time.Duration) cluster.AuditEntry {
	a := rec.audit
	pattern, params := rec.route, a.params
	switch {
	case pattern == "unmatched": // refused before routing
		pattern, params = matchRoute(r.Method, r.URL.Path)
	case params == nil: // a read refused by its handler
		params, _ = matchPattern(segments(pattern), segments(r.URL.Path))
	}
	e := cluster.AuditEntry{Time: rec.start.UTC(), Token: rec.caller.Name, Source: auditSource(r), Operation: operationName(r.Method, pattern),
		Status: rec.status, Outcome: cluster.AuditOK, Duration: d.Milliseconds()}
	if len(a.args)+len(params) > 0 {
		e.Args = make(map[string]string, len(a.args)+len(params))
		maps.Copy(e.Args, a.args)
	}
	for _, p := range params {
		e.Args[p.Key] = p.Value
	}
	if app, ok := e.Args["app"]; ok {
		e.App = app
		delete(e.Args, "app")
	}
	switch {
	case a.failure != nil:
		e.Outcome = errorResponse(a.failure).Error
		if e.Status < 400 {
			e.Status = ErrorStatusCode(cluster.ErrorCode(a.failure))
		}
	case e.Status >= 400:
		e.Outcome = http.StatusText(e.Status)
	}
	e.Clip()
	return e
}

// changeStore returns the store through which a handler makes its
// change in one write: that write's transaction also stores the request's
// audit entry, saying the request was answered with status, so that no
// crash leaves the change unrecorded. The entry of a change of several
// writes is stored after the answer, when its outcome is known.
func (s *Server) changeStore(w http.ResponseWriter, r *http.Request, status int) Store {
	if aw := s.auditWrite(w, r, status); aw != nil {
		return s.Store.Audited(aw)
	}
	return s.Store
}

// changeContext is changeStore for a change the scheduler makes in one
// write: the scheduler's store for the returned context carries the entry.
func (s *Server) changeContext(w http.ResponseWriter, r *http.Request, status int) context.Context {
	if aw := s.auditWrite(w, r, status); aw != nil {
		return cluster.WithAuditWrite(r.Context(), aw)
	}
	return r.Context()
}

// auditWrite returns the AuditWrite of the request w answers, nil when it
// is not recorded here (a read, or a request forwarded to the leader).
func (s *Server) auditWrite(w http.ResponseWriter, r *http.Request, status int) *cluster.AuditWrite {
	rec := recorderOf(w)
	if rec == nil || rec.audit == nil || rec.audit.forwarded {
		return nil
	}
	aw := &cluster.AuditWrite{Keep: s.auditKeep(), MaxAge: s.auditMaxAge()}
	aw.Entry = func() cluster.AuditEntry {
		e := s.auditEntry(rec, r, time.Since(rec.start))
		e.Status, e.Outcome = status, cluster.AuditOK
		return e
	}
	rec.audit.write = aw
	return aw
}

// auditSource is the address of the client that made r. For a request a
// follower forwarded, the client the follower saw (the last address of
// X-Forwarded-For, which the follower set) "via" the follower: the first
// is what the follower says, the second what this controller saw.
func auditSource(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		host = r.RemoteAddr
	}
	if headerValue(r.Header, forwardedHeader) == "" {
		return host
	}
	xff := r.Header.Values("X-Forwarded-For")
	if len(xff) == 0 {
		return host
	}
	client := xff[len(xff)-1]
	client = strings.TrimSpace(client[strings.LastIndexByte(client, ',')+1:])
	return client + " via " + host
}

func (s *Server) auditKeep() int {
	if s.AuditKeep > 0 {
		return s.AuditKeep
	}
	return cluster.DefaultAuditKeep
}

func (s *Server) auditMaxAge() time.Duration {
	if s.AuditMaxAge > 0 {
		return s.AuditMaxAge
	}
	return cluster.DefaultAuditMaxAge
}

// listAudit answers GET /audit?app=&token=&since=&limit=: the entries
// matching, newest first.
func (s *Server) listAudit(w http.ResponseWriter, r *http.Request, _ httprouter.Params) error {
	q := r.URL.Query()
	f := cluster.AuditFilter{App: q.Get("app"), Token: q.Get("token")}
	if v := q.Get("since"); v != "" {
		since, err := cluster.ParseLogSince(v, time.Now())
		if err != nil {
			return err
		}
		f.Since = since
	}
	if v := q.Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > cluster.MaxAuditLimit {
			return cluster.Errorf(cluster.EINVALID, "Query limit=%q is not a number from 1 to %d: give how many entries to list, newest first.", clipBytes([]byte(v)), cluster.MaxAuditLimit)
		}
		f.Limit = n
	}
	entries, err := s.Store.Audit(f)
	if err != nil {
		return err
	}
	ok(w, AuditResponse{Audit: entries})
	return nil
}
