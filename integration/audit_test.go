//go:build integration

package integration

import (
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/longshoreman/longshoreman/cluster"
	"github.com/longshoreman/longshoreman/command"
	"github.com/longshoreman/longshoreman/internal/testenv"
)

// auditLog follows a controller's audit log for a test: how many entries
// the test has accounted for.
type auditLog struct {
	c    *command.ServeCommand
	seen int
}

// entries returns GET /audit's entries, newest first.
func (a *auditLog) entries(tb testing.TB) []cluster.AuditEntry {
	tb.Helper()
	status, b := call(tb, a.c, "GET", "/audit?limit=1000", "")
	var out struct{ Audit []cluster.AuditEntry }
	if err := json.Unmarshal(b, &out); status != 200 || err != nil {
		tb.Fatalf("GET /audit = %d %s", status, b)
	}
	return out.Audit
}

// mustAuditOne checks that the request just made added exactly one entry,
// of operation op by the token named token on app, and returns it: one
// line after each request a test checks (tokens:add included).
func (a *auditLog) mustAuditOne(tb testing.TB, op, token, app string) cluster.AuditEntry {
	tb.Helper()
	entries := a.entries(tb)
	if len(entries) != a.seen+1 {
		tb.Fatalf("%d audit entries after %s by %s; want %d, one more than before: %+v", len(entries), op, token, a.seen+1, entries)
	}
	a.seen++
	if e := entries[0]; e.Operation != op || e.Token != token || e.App != app || e.Source != "127.0.0.1" {
		tb.Fatalf("the newest audit entry = %+v; want %s by %s on %q from 127.0.0.1", e, op, token, app)
	}
	return entries[0]
}

// TestAuditOfRealChanges: on a controller driving the test hosts, a
// deploy, an env set, a host added, a task run and a request the router
// token is refused each add one entry with the right token's name and
// outcome; the env's value is in neither the audit log nor the log.
func TestAuditOfRealChanges(t *testing.T) {
	t.Parallel()
	hosts := testenv.Hosts(t)
	image := testenv.Image(t, "1")
	c, log := serveUI(t, nil)
	app := testenv.App(t, "audited")
	a := &auditLog{c: c}
	const secret = "s3cret-value-never-logged"

	for _, h := range hosts {
		mustCall(t, c, "POST", "/hosts", `{"host":"`+h+`"}`)
		if e := a.mustAuditOne(t, cluster.OpAddHost, "root", ""); e.Args["host"] != h || e.Outcome != cluster.AuditOK {
			t.Fatalf("host add's entry = %+v", e)
		}
	}
	mustCall(t, c, "POST", "/apps/"+app+"/deploy", `{"image":"`+image+`","count":2}`)
	if e := a.mustAuditOne(t, cluster.OpDeploy, "root", app); e.Args["image"] != image || e.Args["revision"] != "1" || e.Status != 200 || e.Outcome != cluster.AuditOK {
		t.Fatalf("deploy's entry = %+v", e)
	}
	mustCall(t, c, "POST", "/apps/"+app+"/envs", `{"env":"API_KEY=`+secret+`"}`)
	if e := a.mustAuditOne(t, cluster.OpSetEnv, "root", app); e.Args["key"] != "API_KEY" || e.Args["revision"] != "2" || e.Outcome != cluster.AuditOK {
		t.Fatalf("env set's entry = %+v", e)
	}
	mustCall(t, c, "POST", "/apps/"+app+"/run", `{"command":["exit","3"]}`)
	if e := a.mustAuditOne(t, "run", "root", app); e.Args["command"] != "exit 3" || e.Args["exit_code"] != "3" || e.Args["task"] == "" {
		t.Fatalf("task run's entry = %+v", e)
	}

	routerToken, err := c.Store().RouterToken()
	if err != nil || routerToken == "" {
		t.Fatalf("router token: %q %v", routerToken, err)
	}
	req, _ := http.NewRequest("POST", c.URL()+"/apps/"+app+"/deploy", strings.NewReader(`{"image":"`+image+`"}`))
	req.Header.Set("X-Auth", routerToken)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 403 {
		t.Fatalf("deploy with the router token: %d %s; want 403", resp.StatusCode, body)
	}
	if e := a.mustAuditOne(t, cluster.OpDeploy, "router", app); e.Status != 403 || e.Outcome == cluster.AuditOK || e.Args["revision"] != "" {
		t.Fatalf("the refusal's entry = %+v; want 403 with its sentence", e)
	}

	_, raw := call(t, c, "GET", "/audit?app="+app, "")
	if strings.Contains(string(raw), secret) || strings.Contains(log.String(), secret) {
		t.Fatalf("the env's value is in the audit log or the controller's log")
	}
	if n := strings.Count(log.String(), "msg=audit"); n != a.seen {
		t.Fatalf("%d audit lines in the log, want %d", n, a.seen)
	}
}
