package http_test

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/longshoreman/longshoreman/cluster"
	"github.com/longshoreman/longshoreman/db"
	"github.com/longshoreman/longshoreman/events"
	"github.com/longshoreman/longshoreman/http"
	"github.com/longshoreman/longshoreman/internal/testenv"
)

// auditServer is the API over a real data file and the fake Docker
// engines, with its log, its event bus, and the number of audit entries
// the test has accounted for.
type auditServer struct {
	*httptest.Server
	DB     *db.DB
	Log    *testenv.Log
	Events *events.Bus
	seen   int
}

// mustOpenAuditServer starts an auditServer; edit, when not nil, changes
// the Server before it starts.
func mustOpenAuditServer(tb testing.TB, edit func(*http.Server)) *auditServer {
	tb.Helper()
	s := &auditServer{Log: &testenv.Log{}, Events: events.New(0, 0)}
	tb.Cleanup(s.Events.Close)
	s.Server, s.DB = mustOpenFakeAPI(tb, func(api *http.Server) {
		api.RouterToken, api.Events = testRouterToken, s.Events
		api.Logger = slog.New(slog.NewJSONHandler(s.Log, nil))
		if edit != nil {
			edit(api)
		}
	})
	return s
}

// send makes a request with token and returns its status and body.
func (s *auditServer) send(tb testing.TB, token, method, path, body string, headers ...string) (int, string) {
	tb.Helper()
	return send(tb, s.URL, token, method, path, body, headers...)
}

// audit returns GET /audit's entries for query, and the raw answer.
func (s *auditServer) audit(tb testing.TB, query string) ([]cluster.AuditEntry, string) {
	tb.Helper()
	status, body := s.send(tb, testToken, "GET", "/audit?"+query+"&limit=1000", "")
	var answer struct {
		Error bool                 `json:"error"`
		Audit []cluster.AuditEntry `json:"audit"`
	}
	if err := json.Unmarshal([]byte(body), &answer); status != 200 || err != nil || answer.Error || answer.Audit == nil {
		tb.Fatalf("GET /audit?%s = %d %s (%v); want 200 with a list", query, status, body, err)
	}
	return answer.Audit, body
}

// mustAuditOne checks that exactly one entry was added since the last
// check, of operation op by token on app, and returns it. A request the
// test makes, then this one line, check that it was recorded once.
func (s *auditServer) mustAuditOne(tb testing.TB, op, token, app string) cluster.AuditEntry {
	tb.Helper()
	entries, _ := s.audit(tb, "")
	if len(entries) != s.seen+1 {
		tb.Fatalf("%d audit entries after %s by %s; want %d, one more than before: %+v", len(entries), op, token, s.seen+1, entries)
	}
	s.seen++
	e := entries[0]
	if e.Operation != op || e.Token != token || e.App != app || e.Source != "127.0.0.1" || e.Time.IsZero() || time.Since(e.Time) > time.Hour {
		tb.Fatalf("the newest audit entry = %+v; want %s by %s on %q from 127.0.0.1, now", e, op, token, app)
	}
	return e
}

// mustAuditNone checks that no entry was added since the last check.
func (s *auditServer) mustAuditNone(tb testing.TB, what string) {
	tb.Helper()
	if entries, _ := s.audit(tb, ""); len(entries) != s.seen {
		tb.Fatalf("%s: %d audit entries, want %d as before: %+v", what, len(entries), s.seen, entries[0])
	}
}

// TestAuditRecordsEveryChangeOnce: a deploy, an env set, a host added, a
// backup and a request refused for its token's scope each add one entry
// with the token's name, the operation, the app and the outcome, also to
// the event bus and the log; reads and unknown tokens add none; the env's
// value is nowhere in the audit log, the events or the log.
func TestAuditRecordsEveryChangeOnce(t *testing.T) {
	s := mustOpenAuditServer(t, nil)
	const app, secret = "audited.example.com", "hunter2-a-secret-value"

	if status, body := s.send(t, testToken, "POST", "/apps/"+app+"/deploy", `{"image": "registry.example/app:1", "count": 2}`); status != 200 {
		t.Fatalf("deploy: %d %s", status, body)
	}
	e := s.mustAuditOne(t, cluster.OpDeploy, "root", app)
	if e.Status != 200 || e.Outcome != cluster.AuditOK || e.Args["image"] != "registry.example/app:1" || e.Args["count"] != "2" || e.Args["revision"] != "1" {
		t.Fatalf("deploy's entry = %+v; want 200 ok with its image, count and revision", e)
	}

	if status, body := s.send(t, testToken, "POST", "/apps/"+app+"/envs", `{"env": "DB_PASSWORD=`+secret+`"}`, "Accept", "application/x-ndjson"); status != 200 || !strings.Contains(body, `"error":false`) {
		t.Fatalf("env set: %d %s", status, body)
	}
	e = s.mustAuditOne(t, cluster.OpSetEnv, "root", app)
	if e.Status != 200 || e.Outcome != cluster.AuditOK || len(e.Args) != 2 || e.Args["key"] != "DB_PASSWORD" || e.Args["revision"] != "2" {
		t.Fatalf("env set's entry = %+v; want 200 ok with the key and the revision only", e)
	}

	if status, body := s.send(t, testToken, "POST", "/hosts", `{"host": "127.0.0.3"}`); status != 200 {
		t.Fatalf("host add: %d %s", status, body)
	}
	if e = s.mustAuditOne(t, cluster.OpAddHost, "root", ""); e.Args["host"] != "127.0.0.3" || e.Outcome != cluster.AuditOK {
		t.Fatalf("host add's entry = %+v", e)
	}

	if status, _ := s.send(t, testToken, "GET", "/backup", ""); status != 200 {
		t.Fatalf("backup: %d", status)
	}
	if e = s.mustAuditOne(t, cluster.OpBackup, "root", ""); e.Args["keys"] != "false" || e.Status != 200 {
		t.Fatalf("backup's entry = %+v", e)
	}

	// A token made and removed: one entry each, naming it, never its
	// secret; then a request it may not make, refused and recorded under
	// its own name.
	status, body := s.send(t, testToken, "POST", "/tokens", `{"name": "ci", "scope": "read"}`)
	var made struct{ Token string }
	if err := json.Unmarshal([]byte(body), &made); status != 200 || err != nil || made.Token == "" {
		t.Fatalf("token add: %d %s", status, body)
	}
	if e = s.mustAuditOne(t, "tokens:add", "root", ""); e.Args["name"] != "ci" || e.Args["scope"] != "read" || e.Outcome != cluster.AuditOK {
		t.Fatalf("token add's entry = %+v; want ok with the name and scope", e)
	}
	if status, body = s.send(t, made.Token, "POST", "/hosts", `{"host": "127.0.0.4"}`); status != 403 {
		t.Fatalf("host add with a read token: %d %s; want 403", status, body)
	}
	if e = s.mustAuditOne(t, cluster.OpAddHost, "ci", ""); e.Status != 403 {
		t.Fatalf("the read token's refusal's entry = %+v; want 403 by ci", e)
	}
	if status, body = s.send(t, testToken, "DELETE", "/tokens/ci", ""); status != 200 {
		t.Fatalf("token rm: %d %s", status, body)
	}
	if e = s.mustAuditOne(t, "tokens:rm", "root", ""); e.Args["name"] != "ci" || e.Outcome != cluster.AuditOK {
		t.Fatalf("token rm's entry = %+v; want ok naming ci", e)
	}
	if entries, raw := s.audit(t, ""); strings.Contains(raw, made.Token) || len(entries) == 0 {
		t.Fatalf("the token's secret is in the audit log: %s", raw)
	}

	// The router token may not create apps: refused (403) and recorded.
	status, body = s.send(t, testRouterToken, "POST", "/apps/"+app+"/scale", `{"count": 1}`)
	if status != 403 {
		t.Fatalf("scale with the router token: %d %s; want 403", status, body)
	}
	e = s.mustAuditOne(t, cluster.OpScale, "router", app)
	var refusal struct{ Error string }
	_ = json.Unmarshal([]byte(body), &refusal)
	if e.Status != 403 || e.Outcome != refusal.Error || e.Outcome == "" {
		t.Fatalf("the refusal's entry = %+v; want 403 with the answer's sentence %q", e, refusal.Error)
	}

	// Reads, unknown tokens and unknown routes are not recorded.
	for _, r := range []struct{ token, method, path string }{
		{testToken, "GET", "/apps"}, {testToken, "GET", "/apps/" + app + "/envs"}, {testToken, "GET", "/audit"},
		{"not-a-token", "POST", "/apps/" + app + "/scale"}, {"", "DELETE", "/apps/" + app},
		{testToken, "POST", "/no/such/endpoint"},
	} {
		s.send(t, r.token, r.method, r.path, `{"count": 1}`)
		s.mustAuditNone(t, r.method+" "+r.path)
	}

	all, raw := s.audit(t, "")
	if strings.Contains(raw, secret) {
		t.Errorf("GET /audit holds the env's value: %s", raw)
	}
	if log := s.Log.String(); strings.Contains(log, secret) {
		t.Errorf("the log holds the env's value:\n%s", log)
	} else if n := strings.Count(log, `"msg":"audit"`); n != len(all) {
		t.Errorf("%d audit lines in the log, want %d:\n%s", n, len(all), log)
	} else if !strings.Contains(log, `"operation":"scale","app":"audited.example.com","args":{"count":"1"},"status":403`) &&
		!strings.Contains(log, `"operation":"scale","app":"audited.example.com","status":403`) {
		t.Errorf("the log has no audit line of the refused scale:\n%s", log)
	}
	var audited []cluster.Event
	for _, ev := range s.Events.Since(0) {
		if b, _ := json.Marshal(ev.Event); strings.Contains(string(b), secret) {
			t.Errorf("event %s holds the env's value", b)
		}
		if ev.Type == cluster.EventAudit {
			audited = append(audited, ev.Event)
		}
	}
	if len(audited) != len(all) || audited[0].Step != cluster.OpDeploy || audited[0].Token != "root" || audited[0].App != app ||
		audited[len(audited)-1].Step != cluster.OpScale || audited[len(audited)-1].Token != "router" || audited[len(audited)-1].Message != refusal.Error {
		t.Errorf("audit events %+v; want one per entry, in order, with their token and outcome", audited)
	}
}

// TestAuditOutcomeOfAFailedStream: a deploy whose failure comes as the
// last line of a stream (its status 200 went out first) is recorded with
// the failure's status and sentence; one refused before it starts, with
// its 400.
func TestAuditOutcomeOfAFailedStream(t *testing.T) {
	s := mustOpenAuditServer(t, nil)
	const app = "failing.example.com"
	status, body := s.send(t, testToken, "POST", "/apps/"+app+"/deploy", `{"image": "registry.example/app:sick", "count": 1, "healthcheck": {"timeout": "1s"}}`, "Accept", "application/x-ndjson")
	lines := strings.Split(strings.TrimSpace(body), "\n")
	var last struct {
		Error  string
		Status int
	}
	if err := json.Unmarshal([]byte(lines[len(lines)-1]), &last); status != 200 || err != nil || last.Error == "" || last.Status < 400 {
		t.Fatalf("deploy of a sick image: %d %s; want a stream ending in an error", status, body)
	}
	e := s.mustAuditOne(t, cluster.OpDeploy, "root", app)
	if e.Status != last.Status || e.Outcome != clipped(last.Error) {
		t.Fatalf("the failed deploy's entry = %+v; want status %d and outcome %q", e, last.Status, last.Error)
	}

	if status, _ := s.send(t, testToken, "POST", "/apps/"+app+"/deploy", `{"count": 1}`); status != 400 {
		t.Fatalf("deploy without an image: %d, want 400", status)
	}
	if e = s.mustAuditOne(t, cluster.OpDeploy, "root", app); e.Status != 400 || e.Outcome == cluster.AuditOK || e.Outcome == "" {
		t.Fatalf("the refused deploy's entry = %+v; want 400 with its sentence", e)
	}
}

// clipped is s as an audit entry keeps it.
func clipped(s string) string {
	e := cluster.AuditEntry{Outcome: s}
	e.Clip()
	return e.Outcome
}

// TestAuditQuery: GET /audit filters by app, token and time, and limits;
// a bad since or limit is a 400 naming it; the oldest entries beyond
// LONGSHOREMAN_AUDIT_KEEP are gone.
func TestAuditQuery(t *testing.T) {
	s := mustOpenAuditServer(t, func(api *http.Server) { api.AuditKeep = 4 })
	for _, a := range []string{"a.example.com", "b.example.com", "c.example.com"} {
		if status, body := s.send(t, testToken, "POST", "/apps", `{"app": "`+a+`"}`); status != 200 {
			t.Fatalf("app add: %d %s", status, body)
		}
	}
	s.send(t, testRouterToken, "DELETE", "/apps/b.example.com", "")
	s.send(t, testToken, "DELETE", "/apps/c.example.com", "")
	names := func(entries []cluster.AuditEntry) string {
		var s []string
		for _, e := range entries {
			s = append(s, e.Operation+" "+e.App+" "+e.Token)
		}
		return strings.Join(s, ", ")
	}
	for _, c := range []struct{ query, want string }{
		{"", "apps:rm c.example.com root, apps:rm b.example.com router, apps:add c.example.com root, apps:add b.example.com root"},
		{"app=b.example.com", "apps:rm b.example.com router, apps:add b.example.com root"},
		{"token=router", "apps:rm b.example.com router"},
		{"since=1h&limit=2", "apps:rm c.example.com root, apps:rm b.example.com router"},
		{"since=" + time.Now().Add(time.Hour).UTC().Format(time.RFC3339), ""},
	} {
		entries, _ := s.audit(t, c.query)
		if got := names(entries); got != c.want {
			t.Errorf("GET /audit?%s = %s; want %s", c.query, got, c.want)
		}
	}
	for _, q := range []string{"since=yesterday", "limit=0", "limit=1001", "limit=x"} {
		if status, body := s.send(t, testToken, "GET", "/audit?"+q, ""); status != 400 || !strings.Contains(body, strings.Split(q, "=")[0]) {
			t.Errorf("GET /audit?%s = %d %s; want 400 naming it", q, status, body)
		}
	}
	if status, _ := s.send(t, testRouterToken, "GET", "/audit", ""); status != 403 {
		t.Errorf("GET /audit with the router token: %d, want 403", status)
	}
}

// followerOf is a fake Leadership of a controller that does not lead and
// names leader.
type followerOf struct{ leader string }

func (f followerOf) Leading() bool                     { return false }
func (f followerOf) Leader() (id, url string, ok bool) { return "leader", f.leader, true }
func (f followerOf) Context() context.Context          { return context.Background() }

// leading is a fake Leadership of the leader.
type leading struct{}

func (leading) Leading() bool                     { return true }
func (leading) Leader() (id, url string, ok bool) { return "leader", "", true }
func (leading) Context() context.Context          { return context.Background() }

// TestAuditForwardedRequestRecordedOnceByTheLeader: a change sent to a
// follower is recorded by the leader it is forwarded to, with the client's
// address via the follower's; the follower records nothing.
func TestAuditForwardedRequestRecordedOnceByTheLeader(t *testing.T) {
	leader := mustOpenAuditServer(t, func(api *http.Server) { api.Leadership = leading{} })
	follower := mustOpenAuditServer(t, func(api *http.Server) { api.Leadership = followerOf{leader: leader.URL} })
	if status, body := follower.send(t, testToken, "POST", "/apps", `{"app": "fwd.example.com"}`); status != 200 {
		t.Fatalf("app add through the follower: %d %s", status, body)
	}
	entries, _ := leader.audit(t, "")
	if len(entries) != 1 || entries[0].Operation != cluster.OpAddApp || entries[0].App != "fwd.example.com" || entries[0].Source != "127.0.0.1 via 127.0.0.1" {
		t.Fatalf("the leader's audit log = %+v; want the app add from 127.0.0.1 via 127.0.0.1", entries)
	}
	follower.mustAuditNone(t, "the forwarded request on the follower")
}

// appendFails is a data file whose audit log takes no entry of its own:
// only the entries stored in a change's transaction land.
type appendFails struct{ *db.DB }

func (appendFails) AppendAudit(cluster.AuditEntry, int, time.Duration) error {
	return errors.New("the audit log's own appends fail in this test")
}

// TestAuditEntryInTheChangesTransaction: a change made in one write
// stores its entry in that write's transaction, not by an append after
// the answer, which fails here; a change that failed wrote nothing, and
// its entry is such an append (lost here, and logged).
func TestAuditEntryInTheChangesTransaction(t *testing.T) {
	s := mustOpenAuditServer(t, func(api *http.Server) { api.Store = appendFails{api.Store.(*db.DB)} })
	const app = "tx.example.com"
	for _, c := range []struct{ method, path, body, op, app string }{
		{"POST", "/apps", `{"app": "` + app + `"}`, cluster.OpAddApp, app},
		{"POST", "/tokens", `{"name": "ci", "scope": "read"}`, "tokens:add", ""},
		{"DELETE", "/tokens/ci", "", "tokens:rm", ""},
		{"POST", "/hosts", `{"host": "127.0.0.5"}`, cluster.OpAddHost, ""},
		{"POST", "/registries", `{"registry": "r.example.com", "username": "u", "password": "p"}`, cluster.OpAddRegistry, ""},
		{"DELETE", "/registries/r.example.com", "", cluster.OpRemoveRegistry, ""},
		{"POST", "/apps/" + app + "/settings", `{"batch": 1}`, "settings", app},
		{"POST", "/apps/" + app + "/maintenance", `{"enabled": true}`, "maintenance", app},
		{"POST", "/apps/" + app + "/https", `{"enabled": true}`, "https", app},
		{"POST", "/apps/" + app + "/jobs", `{"name": "nightly", "schedule": "@daily", "command": ["true"]}`, cluster.OpAddJob, app},
		{"DELETE", "/apps/" + app + "/jobs/nightly", "", cluster.OpRemoveJob, app},
	} {
		if status, body := s.send(t, testToken, c.method, c.path, c.body); status != 200 {
			t.Fatalf("%s %s: %d %s", c.method, c.path, status, body)
		}
		if e := s.mustAuditOne(t, c.op, "root", c.app); e.Status != 200 || e.Outcome != cluster.AuditOK {
			t.Fatalf("%s %s: entry %+v; want 200 ok", c.method, c.path, e)
		}
	}
	if status, body := s.send(t, testToken, "DELETE", "/tokens/nobody", ""); status != 404 {
		t.Fatalf("removing a token that does not exist: %d %s; want 404", status, body)
	}
	s.mustAuditNone(t, "a failed token removal, with the audit log's own appends failing")
	if !strings.Contains(s.Log.String(), "the audit entry of a request was not stored") {
		t.Fatalf("the lost entry of the failed change is not logged:\n%s", s.Log.String())
	}
}
