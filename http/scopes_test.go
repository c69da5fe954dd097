package http_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/longshoreman/longshoreman/cluster"
	"github.com/longshoreman/longshoreman/http"
)

// scopeCaller is a token the scope tests call with.
type scopeCaller struct {
	name   string
	secret string
	scope  cluster.Scope // "" for the router token
	apps   []string
}

// scopeCallers makes the tokens of the table: the root and router tokens
// and a stored token of each scope, with and without a list of apps.
func scopeCallers(t *testing.T, s *TestServer) []scopeCaller {
	callers := []scopeCaller{
		{name: "root", secret: testToken, scope: cluster.ScopeAdmin},
		{name: "router", secret: testRouterToken},
	}
	for _, c := range []scopeCaller{
		{name: "reader", scope: cluster.ScopeRead},
		{name: "reader-a", scope: cluster.ScopeRead, apps: []string{"a.example.com"}},
		{name: "deployer", scope: cluster.ScopeDeploy},
		{name: "deployer-a", scope: cluster.ScopeDeploy, apps: []string{"a.example.com"}},
		{name: "admin", scope: cluster.ScopeAdmin},
	} {
		c.secret = "lst_secret-of-" + c.name
		mustCreateToken(t, s, c.name, c.scope, c.secret, time.Time{}, c.apps...)
		callers = append(callers, c)
	}
	return callers
}

// mustCreateToken stores a token with the hash of secret.
func mustCreateToken(t *testing.T, s *TestServer, name string, scope cluster.Scope, secret string, expires time.Time, apps ...string) {
	t.Helper()
	err := s.DB.CreateToken(cluster.APIToken{Name: name, Scope: scope, Apps: apps, Hash: cluster.HashToken(secret), Created: time.Now().UTC(), Expires: expires})
	if err != nil {
		t.Fatal(err)
	}
}

// routeScopes is the scope of every route as the README's table gives it:
// a new route fails TestEveryRouteHasAScope until it is decided here.
var routeScopes = map[[2]string]string{
	{"GET", "/apps"}: "read", {"POST", "/apps"}: "deploy-app", {"GET", "/apps/:app"}: "read", {"DELETE", "/apps/:app"}: "admin",
	{"POST", "/apps/:app/deploy"}: "deploy-app", {"GET", "/apps/:app/instances"}: "read", {"GET", "/apps/:app/envs"}: "read-app",
	{"POST", "/apps/:app/envs"}: "deploy-app", {"DELETE", "/apps/:app/envs/:key"}: "deploy-app", {"GET", "/apps/:app/history"}: "read",
	{"GET", "/apps/:app/traffic"}: "read",
	{"GET", "/apps/:app/logs"}:    "read-app", {"GET", "/apps/:app/kill"}: "deploy-app", {"POST", "/apps/:app/kill"}: "deploy-app",
	{"POST", "/apps/:app/rollback"}: "deploy-app", {"POST", "/apps/:app/scale"}: "deploy-app",
	{"POST", "/apps/:app/run"}: "deploy-app", {"GET", "/apps/:app/tasks"}: "read",
	{"GET", "/apps/:app/jobs"}: "read", {"POST", "/apps/:app/jobs"}: "deploy-app", {"DELETE", "/apps/:app/jobs/:job"}: "deploy-app",
	{"GET", "/apps/:app/settings"}: "read", {"POST", "/apps/:app/settings"}: "deploy-app", {"DELETE", "/apps/:app/volumes/:volume"}: "admin",
	{"GET", "/hosts"}: "read", {"POST", "/hosts"}: "admin", {"DELETE", "/hosts/:host"}: "admin",
	{"GET", "/registries"}: "read", {"POST", "/registries"}: "admin", {"DELETE", "/registries/:registry"}: "admin",
	{"GET", "/describe"}: "read", {"GET", "/routes"}: "read+router", {"GET", "/healthz"}: "public", {"GET", "/backup"}: "admin",
	{"GET", "/metrics"}: "read", {"POST", "/apps/:app/https"}: "deploy-app",
	{"GET", "/certs"}: "read", {"POST", "/certs"}: "admin", {"DELETE", "/certs/:domain"}: "admin", {"GET", "/router/certs"}: "router",
	{"GET", "/events"}: "read", {"GET", "/overview"}: "read", {"POST", "/apps/:app/maintenance"}: "deploy-app",
	{"POST", "/apps/:app/promote"}: "deploy-app", {"POST", "/apps/:app/abort"}: "deploy-app",
	{"GET", "/tokens"}: "admin", {"POST", "/tokens"}: "admin", {"DELETE", "/tokens/:name"}: "admin", {"GET", "/whoami"}: "any", {"GET", "/audit"}: "admin",
	{"POST", "/secrets/rotate"}: "admin",
}

// mayCall says whether c may call a route of scope on app.
func mayCall(c scopeCaller, scope, app string) bool {
	if c.name == "router" {
		return scope == "router" || scope == "read+router" || scope == "any" || scope == "public"
	}
	ownApp := len(c.apps) == 0 || c.apps[0] == app
	switch scope {
	case "public", "any", "read", "read+router":
		return true
	case "read-app":
		return ownApp
	case "deploy-app":
		return c.scope != cluster.ScopeRead && ownApp
	case "admin":
		return c.scope == cluster.ScopeAdmin
	}
	return false // "router": the router token's alone
}

// callStatus sends a request with token and returns its status and, for a
// refusal, its error message; streams are cut after their header.
func callStatus(t *testing.T, s *TestServer, method, path, body, token string) (int, string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	resp := open(t, ctx, s.URL, token, method, path, body)
	defer resp.Body.Close()
	if resp.StatusCode != 401 && resp.StatusCode != 403 {
		return resp.StatusCode, ""
	}
	raw, _ := io.ReadAll(resp.Body)
	var out struct {
		Error string `json:"error"`
	}
	_ = json.Unmarshal(raw, &out)
	return resp.StatusCode, out.Error
}

// TestEveryRouteHasAScope walks every route with every kind of token, on
// an app a limited token names and on one it does not: a token is refused
// with 403 naming the scope or the apps it lacks exactly where the scope
// table says, and is never refused where it may call.
func TestEveryRouteHasAScope(t *testing.T) {
	s := mustOpenCertServer(t)
	callers := scopeCallers(t, s)
	for _, app := range []string{"a.example.com", "b.example.com"} {
		s.MustOK(t, "POST", "/apps", `{"app":"`+app+`"}`)
	}
	routes := http.Routes()
	if len(routes) != len(routeScopes) {
		t.Errorf("%d routes, %d with a scope decided here: decide the scope of every new route", len(routes), len(routeScopes))
	}
	for _, r := range routes {
		scope, ok := routeScopes[r]
		if !ok {
			t.Errorf("%s %s: no scope decided here (nor, probably, in http/scopes.go)", r[0], r[1])
			continue
		}
		for _, app := range []string{"a.example.com", "b.example.com"} {
			repl := strings.NewReplacer(":app", app, ":key", "FOO", ":host", "127.0.0.9", ":job", "nightly",
				":volume", "data", ":registry", "r.example.com", ":domain", app, ":name", "nobody")
			path, body := repl.Replace(r[1]), "{}"
			if r == [2]string{"POST", "/apps"} {
				body = `{"app":"` + app + `"}`
			} else if !strings.Contains(r[1], ":app") && app != "a.example.com" {
				continue // the same route again
			}
			for _, c := range callers {
				status, msg := callStatus(t, s, r[0], path, body, c.secret)
				want := mayCall(c, scope, app)
				switch {
				case want && (status == 401 || status == 403):
					t.Errorf("%s %s with %s (scope %s %v) = %d %q; want it allowed (route scope %s)", r[0], path, c.name, c.scope, c.apps, status, msg, scope)
				case !want && status != 403:
					t.Errorf("%s %s with %s (scope %s %v) = %d; want 403 (route scope %s)", r[0], path, c.name, c.scope, c.apps, status, scope)
				case !want && c.name != "root" && c.name != "router" && !strings.Contains(msg, `Token "`+c.name+`"`):
					t.Errorf("%s %s with %s: refusal %q does not name the token", r[0], path, c.name, msg)
				}
			}
		}
	}
}

// TestDeployTokenForOneApp: a deploy token for app A changes A, and may not
// touch app B, the hosts or the backup; the refusals say what it lacks.
func TestDeployTokenForOneApp(t *testing.T) {
	s := mustOpenCertServer(t)
	s.MustOK(t, "POST", "/apps", `{"app":"b.example.com"}`)
	mustCreateToken(t, s, "ci", cluster.ScopeDeploy, "lst_ci-secret", time.Time{}, "a.example.com")
	ci := map[string]string{"X-Auth": "lst_ci-secret", "Content-Type": "application/json"}
	if status, out := s.DoWith(t, "POST", "/apps", `{"app":"a.example.com"}`, ci); status != 200 {
		t.Fatalf("ci creating its own app = %d %v", status, out)
	}
	if status, out := s.DoWith(t, "POST", "/a.example.com/settings", `{"batch": 2}`, ci); status != 200 {
		t.Fatalf("ci changing its own app's settings (short form) = %d %v", status, out)
	}
	for _, c := range []struct{ method, path, body, want string }{
		{"POST", "/apps", `{"app":"c.example.com"}`, `Token "ci" (scope deploy, apps a.example.com) may not POST /apps: it is limited to apps a.example.com. Ask an admin for a token that names c.example.com.`},
		{"POST", "/b.example.com/settings", `{"batch": 2}`, `Token "ci" (scope deploy, apps a.example.com) may not POST /apps/b.example.com/settings: it is limited to apps a.example.com.`},
		{"GET", "/apps/b.example.com/envs", "", "limited to apps a.example.com"},
		{"DELETE", "/apps/a.example.com", "", "that needs scope admin"},
		{"POST", "/hosts", `{"host":"10.0.0.9"}`, `Token "ci" (scope deploy, apps a.example.com) may not POST /hosts: that needs scope admin. Ask an admin for a token with that scope.`},
		{"DELETE", "/hosts/1.2.3.4", "", "may not DELETE /hosts/1.2.3.4: that needs scope admin"},
		{"GET", "/backup", "", "may not GET /backup: that needs scope admin"},
		{"GET", "/tokens", "", "that needs scope admin"},
	} {
		status, out := s.DoWith(t, c.method, c.path, c.body, ci)
		if msg, _ := out["error"].(string); status != 403 || !strings.Contains(msg, c.want) {
			t.Errorf("%s %s with ci = %d %v; want 403 containing %q", c.method, c.path, status, out, c.want)
		}
	}
	if a, err := s.DB.App("b.example.com"); err != nil || a.Batch != 0 {
		t.Fatalf("b.example.com after the refusals: %+v, %v", a, err)
	}
	if _, err := s.DB.App("c.example.com"); cluster.ErrorCode(err) != cluster.ENOTFOUND {
		t.Fatalf("c.example.com was created: %v", err)
	}
}

// TestTokensLifecycle: POST /tokens answers a secret once and stores only
// its hash; the secret works at once, shows its last use and its whoami,
// is listed without secret, and is refused (401) once removed; an expired
// token is refused saying so, an unknown one as before.
func TestTokensLifecycle(t *testing.T) {
	s := mustOpenCertServer(t)
	out := s.MustOK(t, "POST", "/tokens", `{"name":"ci","scope":"deploy","apps":["shop.example.com"],"expires":"90d"}`)
	secret, _ := out["token"].(string)
	if !strings.HasPrefix(secret, cluster.TokenPrefix) || len(secret) != len(cluster.TokenPrefix)+64 || out["scope"] != "deploy" {
		t.Fatalf("POST /tokens = %v", out)
	}
	expires, err := time.Parse(time.RFC3339, out["expires"].(string))
	if err != nil || time.Until(expires) < 89*24*time.Hour || time.Until(expires) > 91*24*time.Hour {
		t.Fatalf("expires %v (%v); want in 90 days", out["expires"], err)
	}
	s.MustFail(t, "POST", "/tokens", `{"name":"ci","scope":"read"}`, 409, "A token named ci exists")
	s.MustFail(t, "POST", "/tokens", `{"name":"root","scope":"read"}`, 400, "reserved")
	s.MustFail(t, "POST", "/tokens", `{"name":"x","scope":"write"}`, 400, "not one of read, deploy, admin")
	s.MustFail(t, "POST", "/tokens", `{"name":"x","scope":"read","expires":"soon"}`, 400, "not a lifetime")
	recs := ""
	_ = s.DB.Records(func(r cluster.Record) error { recs += string(r.Value); return nil })
	if strings.Contains(recs, secret) || !strings.Contains(recs, cluster.HashToken(secret)) {
		t.Fatal("the store holds the secret, or not its hash")
	}

	ci := map[string]string{"X-Auth": secret}
	status, who := s.DoWith(t, "GET", "/whoami", "", ci)
	if status != 200 || who["name"] != "ci" || who["scope"] != "deploy" || strs(who["apps"])[0] != "shop.example.com" || who["expires"] == nil {
		t.Fatalf("GET /whoami with ci = %d %v", status, who)
	}
	if _, root := s.DoWith(t, "GET", "/whoami", "", map[string]string{"X-Auth": testToken}); root["name"] != "root" || root["scope"] != "admin" || root["expires"] != nil {
		t.Fatalf("GET /whoami with the root token = %v", root)
	}
	list := s.MustOK(t, "GET", "/tokens", "")
	raw, _ := json.Marshal(list)
	tokens := list["tokens"].([]any)
	if len(tokens) != 1 || strings.Contains(string(raw), secret) || strings.Contains(string(raw), cluster.HashToken(secret)) {
		t.Fatalf("GET /tokens = %s", raw)
	}
	if used, _ := tokens[0].(map[string]any)["last_used"].(string); used == "" {
		t.Fatalf("ci's last use not recorded: %v", tokens[0])
	}

	s.MustOK(t, "DELETE", "/tokens/ci", "")
	if status, out := s.DoWith(t, "GET", "/apps", "", ci); status != 401 || out["error"] != "Invalid token" {
		t.Fatalf("a removed token = %d %v; want 401 Invalid token", status, out)
	}
	s.MustFail(t, "DELETE", "/tokens/ci", "", 404, "No token is named ci")

	mustCreateToken(t, s, "old", cluster.ScopeAdmin, "lst_old-secret", time.Now().Add(-time.Minute))
	status, out = s.DoWith(t, "GET", "/apps", "", map[string]string{"X-Auth": "lst_old-secret"})
	if msg, _ := out["error"].(string); status != 401 || !strings.Contains(msg, `Token "old" expired at`) {
		t.Fatalf("an expired token = %d %v; want 401 saying it expired", status, out)
	}
	if status, out := s.DoWith(t, "GET", "/apps", "", map[string]string{"X-Auth": "lst_unknown"}); status != 401 || out["error"] != "Invalid token" {
		t.Fatalf("an unknown token = %d %v", status, out)
	}
}

// TestLimitedTokenReadsOnlyItsEnvs: a token naming apps reads the env
// values of those apps only, wherever an answer carries them: describe,
// an app's description and history, the overview.
func TestLimitedTokenReadsOnlyItsEnvs(t *testing.T) {
	s := mustOpenCertServer(t)
	for _, app := range []string{"a.example.com", "b.example.com"} {
		s.MustOK(t, "POST", "/apps", `{"app":"`+app+`"}`)
		s.MustOK(t, "POST", "/apps/"+app+"/envs", `{"env":"SECRET=value-of-`+app+`"}`)
		rev := &cluster.Revision{App: app, Image: "img:1", Count: 1, Port: 3000, Envs: []string{"SECRET=value-of-" + app}, Status: cluster.StatusDeploying}
		if err := s.DB.CreateRevision(rev); err != nil {
			t.Fatal(err)
		}
	}
	mustCreateToken(t, s, "reader-a", cluster.ScopeRead, "lst_reader-a-secret", time.Time{}, "a.example.com")
	reader := map[string]string{"X-Auth": "lst_reader-a-secret"}
	for _, path := range []string{"/describe", "/apps/a.example.com", "/apps/b.example.com", "/apps/a.example.com/history", "/apps/b.example.com/history", "/overview"} {
		for round := range 2 { // the second describe would come from its cache
			status, out := s.DoWith(t, "GET", path, "", reader)
			raw, _ := json.Marshal(out)
			if status != 200 || strings.Contains(string(raw), "value-of-b.example.com") {
				t.Fatalf("GET %s (%d) with a token for a.example.com = %d %s; want b's env values left out", path, round, status, raw)
			}
			if (path == "/describe" || strings.Contains(path, "a.example.com") || path == "/overview") && !strings.Contains(string(raw), "value-of-a.example.com") {
				t.Fatalf("GET %s with a token for a.example.com = %s; want a's env values", path, raw)
			}
		}
	}
	if out := s.MustOK(t, "GET", "/describe", ""); !strings.Contains(fmt.Sprint(out), "value-of-b.example.com") {
		t.Fatalf("GET /describe with the root token lacks b's envs: %v", out)
	}
}
