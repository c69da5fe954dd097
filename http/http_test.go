package http_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	nethttp "net/http"
	"net/http/httptest"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/longshoreman/longshoreman/db"
	"github.com/longshoreman/longshoreman/docker"
	"github.com/longshoreman/longshoreman/http"
	"github.com/longshoreman/longshoreman/internal/testenv"
	"github.com/longshoreman/longshoreman/scheduler"
)

const testToken = "s3cret-token"

// TestServer is the API over a real data file. MustOpenServer's Docker
// hosts are loopback addresses where nothing listens, so only what needs
// no host works: those tests are about the API, not deploys.
type TestServer struct {
	*httptest.Server
	DB        *db.DB
	API       *http.Server // the handler Server serves
	Scheduler *scheduler.Scheduler
}

func MustOpenServer(tb testing.TB) *TestServer {
	tb.Helper()
	return openServer(tb, serverSetup{})
}

// serverSetup is what openServer builds a test API from besides its data
// file; the zero value is MustOpenServer's.
type serverSetup struct {
	// engines are the scheduler's Docker hosts; nil: Docker engines on
	// port 1, where nothing listens. The caller closes engines it gives,
	// in a Cleanup registered before openServer so it runs after.
	engines   scheduler.Engines
	hosts     []string           // added to the data file before the scheduler starts
	scheduler scheduler.Config   // Controller is set to the data file's
	configure func(*http.Server) // when not nil, sets the Server's other parts before it starts
}

// openServer starts the API over a new data file as setup says; the
// server, the scheduler, the engines it made and the data file are closed
// in that order when the test ends.
func openServer(tb testing.TB, setup serverSetup) *TestServer {
	tb.Helper()
	d, err := db.Open(filepath.Join(tb.TempDir(), "longshoreman.db"), db.Options{Create: true})
	if err != nil {
		tb.Fatal(err)
	}
	for _, h := range setup.hosts {
		if _, err := d.AddHost(h); err != nil {
			tb.Fatal(err)
		}
	}
	engines, closeEngines := setup.engines, func() {}
	if engines == nil {
		e := docker.New(docker.Config{Port: 1}) // nothing listens on port 1
		engines, closeEngines = e, func() { e.Close() }
	}
	setup.scheduler.Controller = d.ControllerID()
	sched := scheduler.New(d, engines, setup.scheduler)
	cfg := &http.Server{Store: d, Scheduler: sched, Token: testToken}
	if setup.configure != nil {
		setup.configure(cfg)
	}
	api := http.NewServer(cfg)
	srv := httptest.NewUnstartedServer(api)
	srv.Config.ConnState = api.ConnState // as serve wires it
	srv.Start()
	tb.Cleanup(func() {
		srv.Close()
		sched.Close()
		closeEngines()
		d.Close()
	})
	return &TestServer{Server: srv, DB: d, API: api, Scheduler: sched}
}

// Do sends a request with the token and returns the status and the decoded
// JSON body.
func (s *TestServer) Do(tb testing.TB, method, path, body string) (int, map[string]any) {
	tb.Helper()
	return s.DoWith(tb, method, path, body, map[string]string{"X-Auth": testToken, "Content-Type": "application/json"})
}

func (s *TestServer) DoWith(tb testing.TB, method, path, body string, headers map[string]string) (int, map[string]any) {
	tb.Helper()
	req, err := nethttp.NewRequest(method, s.URL+path, strings.NewReader(body))
	if err != nil {
		tb.Fatal(err)
	}
	for k, v := range headers {
		req.Header.Set(k, v)
	}
	resp, err := nethttp.DefaultClient.Do(req)
	if err != nil {
		tb.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	var out map[string]any
	if err := json.Unmarshal(raw, &out); err != nil {
		tb.Fatalf("%s %s: body is not a JSON object: %q", method, path, raw)
	}
	return resp.StatusCode, out
}

// MustOK fails unless the answer is 200 {"error": false, ...}.
func (s *TestServer) MustOK(tb testing.TB, method, path, body string) map[string]any {
	tb.Helper()
	status, out := s.Do(tb, method, path, body)
	if status != 200 || out["error"] != false {
		tb.Fatalf("%s %s %s = %d %v, want 200 {error:false}", method, path, body, status, out)
	}
	return out
}

// MustFail checks status and that the error message contains want.
func (s *TestServer) MustFail(tb testing.TB, method, path, body string, status int, want string) {
	tb.Helper()
	got, out := s.Do(tb, method, path, body)
	msg, _ := out["error"].(string)
	if got != status || msg == "" || !strings.Contains(msg, want) {
		tb.Fatalf("%s %s %q = %d %v, want %d with an error containing %q", method, path, body, got, out, status, want)
	}
}

// MustList fails unless GET path answers the list want (joined by commas)
// under key.
func (s *TestServer) MustList(tb testing.TB, path, key, want string) {
	tb.Helper()
	if got := strings.Join(strs(s.MustOK(tb, "GET", path, "")[key]), ","); got != want {
		tb.Fatalf("GET %s: %s = %q, want %q", path, key, got, want)
	}
}

func keys(m map[string]any) []string {
	var k []string
	for key := range m {
		k = append(k, key)
	}
	return k
}

func strs(v any) []string {
	var out []string
	for _, x := range v.([]any) {
		out = append(out, x.(string))
	}
	return out
}

func TestAuth(t *testing.T) {
	s := MustOpenServer(t)
	for _, h := range []map[string]string{
		{},
		{"X-Auth": "wrong"},
		{"X-Auth": testToken + "x"},
		{"Authorization": "Bearer wrong"},
		{"Authorization": "Basic " + testToken},
		{"X-Auth": ""},
	} {
		for _, path := range []string{"/apps", "/hosts", "/describe", "/routes", "/backup", "/a.example.com/envs", "/apps/a.example.com/envs", "/nope"} {
			status, out := s.DoWith(t, "GET", path, "", h)
			if status != 401 || out["error"] != "Invalid token" || len(out) != 1 {
				t.Fatalf("GET %s with %v = %d %v, want 401 {error: Invalid token}", path, h, status, out)
			}
		}
	}
	if status, _ := s.DoWith(t, "GET", "/apps", "", map[string]string{"Authorization": "Bearer " + testToken}); status != 200 {
		t.Fatalf("Bearer token refused: %d", status)
	}
	if status, out := s.DoWith(t, "GET", "/healthz", "", nil); status != 200 || out["status"] != "ok" || len(out) != 1 {
		t.Fatalf("healthz without token = %d %v, want 200 and only {status: ok}", status, out)
	}
	if status, out := s.DoWith(t, "GET", "/healthz", "", map[string]string{"X-Auth": "wrong"}); status != 200 || len(out) != 1 {
		t.Fatalf("healthz with a wrong token = %d %v, want only {status: ok}", status, out)
	}
	if status, out := s.Do(t, "GET", "/healthz", ""); status != 200 || out["status"] != "ok" || out["db"] != "ok" || out["hosts"] == nil {
		t.Fatalf("healthz with the token = %d %v, want the details", status, out)
	}
}

// TestEveryRouteNeedsToken walks every registered route.
func TestEveryRouteNeedsToken(t *testing.T) {
	s := MustOpenServer(t)
	repl := strings.NewReplacer(":app", "a.example.com", ":key", "FOO", ":host", "127.0.0.9")
	for _, r := range http.Routes() {
		path := repl.Replace(r[1])
		status, _ := s.DoWith(t, r[0], path, "{}", nil)
		if r[1] == "/healthz" {
			if status != 200 {
				t.Errorf("%s %s = %d without token, want 200", r[0], path, status)
			}
			continue
		}
		if status != 401 {
			t.Errorf("%s %s = %d without token, want 401", r[0], path, status)
		}
	}
}

func TestApps(t *testing.T) {
	s := MustOpenServer(t)
	if out := s.MustOK(t, "GET", "/apps", ""); len(out["apps"].([]any)) != 0 || len(out) != 2 {
		t.Fatalf("empty apps = %v", out)
	}
	for _, app := range []string{"b.example.com", "a.example.com", "b.example.com"} {
		if out := s.MustOK(t, "POST", "/apps", `{"app":"`+app+`"}`); len(out) != 1 {
			t.Fatalf("POST /apps answered extra keys: %v", keys(out))
		}
	}
	s.MustList(t, "/apps", "apps", "a.example.com,b.example.com")
	s.MustOK(t, "DELETE", "/apps/a.example.com", "")
	s.MustFail(t, "DELETE", "/apps/a.example.com", "", 404, "does not exist")
	s.MustList(t, "/apps", "apps", "b.example.com")
	// Form-encoded bodies work too.
	status, _ := s.DoWith(t, "POST", "/apps", "app=c.example.com", map[string]string{"X-Auth": testToken, "Content-Type": "application/x-www-form-urlencoded"})
	if status != 200 {
		t.Fatalf("form POST /apps = %d", status)
	}
	if _, err := s.DB.App("c.example.com"); err != nil {
		t.Fatal(err)
	}
}

func TestBadInput(t *testing.T) {
	s := MustOpenServer(t)
	s.MustOK(t, "POST", "/apps", `{"app":"a.example.com"}`)
	tests := []struct {
		method, path, body string
		status             int
		want               string
	}{
		{"POST", "/apps", ``, 400, "app name is required"},
		{"POST", "/apps", `{}`, 400, "app name is required"},
		{"POST", "/apps", `{"app":""}`, 400, "app name is required"},
		{"POST", "/apps", `{"app":"` + strings.Repeat("a", 300) + `.com"}`, 400, "at most 253"},
		{"POST", "/apps", `{"app":"ünïcode.example.com"}`, 400, "not a valid domain name"},
		{"POST", "/apps", `{"app":"../etc/passwd"}`, 400, "domain name"},
		{"POST", "/apps", `{"app":"has space.example.com"}`, 400, "not a valid domain name"},
		{"POST", "/apps", `{"app":"UPPER.example.com"}`, 400, "lower-case"},
		{"POST", "/apps", `{"app":"nodot"}`, 400, "with a dot"},
		{"POST", "/apps", `{"app":5}`, 400, `Field "app" must be a string, not a JSON number`},
		{"POST", "/apps", `{"app":["a.example.com"]}`, 400, `Field "app" must be a string`},
		{"POST", "/apps", `["a.example.com"]`, 400, "must be a JSON object"},
		{"POST", "/apps", `{"app":`, 400, "not valid JSON"},
		{"POST", "/apps", `{"app":"a.example.com"}}`, 400, "not valid JSON"},
		{"POST", "/apps", `nonsense`, 400, "not valid JSON"},
		{"POST", "/hosts", `{"host":"host.example.com"}`, 400, "is not an IP address"},
		{"POST", "/hosts", `{"host":"10.0.0"}`, 400, "is not an IP address"},
		{"POST", "/hosts", `{"host":"127.0.0.1:2375"}`, 400, "is not an IP address"},
		{"POST", "/hosts", `{"host":""}`, 400, "host is required"},
		{"POST", "/hosts", `{"host":"0.0.0.0"}`, 400, "unicast"},
		{"POST", "/hosts", `{"host":42}`, 400, `Field "host" must be a string`},
		{"DELETE", "/hosts/not-an-ip", ``, 400, "is not an IP address"},
		{"DELETE", "/hosts/127.0.0.77", ``, 404, "is not in the cluster"},
		{"POST", "/a.example.com/envs", `{"env":"FOO"}`, 400, "has no '='"},
		{"POST", "/a.example.com/envs", `{"env":"=bar"}`, 400, "env key is required"},
		{"POST", "/a.example.com/envs", `{"env":"1FOO=bar"}`, 400, "is not valid"},
		{"POST", "/a.example.com/envs", `{"env":"FO O=bar"}`, 400, "is not valid"},
		{"POST", "/a.example.com/envs", `{"env":"FÖÖ=bar"}`, 400, "is not valid"},
		{"POST", "/a.example.com/envs", `{"env":"../X=bar"}`, 400, "is not valid"},
		{"POST", "/a.example.com/envs", `{"env":""}`, 400, "has no '='"},
		{"POST", "/a.example.com/envs", `{"env":{"FOO":"bar"}}`, 400, `Field "env" must be a string`},
		{"POST", "/nope.example.com/envs", `{"env":"A=b"}`, 404, "does not exist"},
		{"GET", "/NOPE.example.com/envs", ``, 400, "lower-case"},
		{"DELETE", "/a.example.com/envs/NOT_SET", ``, 404, "has no env NOT_SET"},
		{"DELETE", "/a.example.com/envs/BAD-KEY", ``, 400, "is not valid"},
		{"POST", "/a.example.com/deploy", `{}`, 400, "An image is required"},
		{"POST", "/a.example.com/deploy", `{"image":"Bad Image"}`, 400, "not a valid Docker image reference"},
		{"POST", "/a.example.com/deploy", `{"image":"app:1","count":0}`, 400, "Count 0 is out of range"},
		{"POST", "/a.example.com/deploy", `{"image":"app:1","count":-1}`, 400, "out of range"},
		{"POST", "/a.example.com/deploy", `{"image":"app:1","count":100000}`, 400, "out of range"},
		{"POST", "/a.example.com/deploy", `{"image":"app:1","count":"two"}`, 400, `Field "count" must be a whole number`},
		{"POST", "/a.example.com/deploy", `{"image":"app:1","count":2.5}`, 400, `Field "count" must be a whole number`},
		{"POST", "/a.example.com/deploy", `{"image":"app:1","count":true}`, 400, `Field "count" must be a whole number`},
		{"POST", "/a.example.com/deploy", `{"image":"app:1","port":70000}`, 400, "Port 70000 is out of range"},
		{"POST", "/a.example.com/deploy", `{"image":"app:1","healthcheck":{"path":"ping"}}`, 400, "absolute URL path"},
		{"POST", "/a.example.com/deploy", `{"image":"app:1","healthcheck":{"timeout":"soon"}}`, 400, "not a duration"},
		{"POST", "/a.example.com/deploy", `{"image":"app:1","healthcheck":"yes"}`, 400, `Field "healthcheck" must be a JSON object`},
		{"POST", "/a.example.com/scale", `{}`, 400, "count is required"},
		{"POST", "/a.example.com/scale", `{"count":2}`, 400, "never been deployed"},
		{"POST", "/a.example.com/rollback", `{"revision":-3}`, 400, "not valid"},
		{"POST", "/a.example.com/rollback", `{}`, 404, "no succeeded revision"},
		{"POST", "/a.example.com/rollback", `{"revision":7}`, 404, "has no revision 7"},
		{"GET", "/nope.example.com/history", ``, 404, "does not exist"},
		{"GET", "/nope.example.com/instances", ``, 404, "does not exist"},
		{"PUT", "/apps", `{}`, 405, "not allowed"},
		{"GET", "/nothing/here/at/all", ``, 404, "No such endpoint"},
	}
	for _, tt := range tests {
		s.MustFail(t, tt.method, tt.path, tt.body, tt.status, tt.want)
	}
	// Nothing above changed any data.
	if apps, _ := s.DB.Apps(); len(apps) != 1 {
		t.Fatalf("apps after bad input = %v", apps)
	}
	if out := s.MustOK(t, "GET", "/a.example.com/envs", ""); len(out["envs"].([]any)) != 0 {
		t.Fatalf("envs after bad input = %v", out)
	}
}

func TestBodyLimit(t *testing.T) {
	s := MustOpenServer(t)
	big := `{"app":"a.example.com","pad":"` + strings.Repeat("x", http.MaxBodyBytes) + `"}`
	s.MustFail(t, "POST", "/apps", big, 413, "larger than")
	if apps, _ := s.DB.Apps(); len(apps) != 0 {
		t.Fatalf("a too-large body created %v", apps)
	}
}

func TestEnvs(t *testing.T) {
	s := MustOpenServer(t)
	s.MustOK(t, "POST", "/apps", `{"app":"a.example.com"}`)
	for _, env := range []string{"FOO=bar", "FOOBAR=1", "URL=http://x/?a=b", "FOO=baz", "EMPTY="} {
		s.MustOK(t, "POST", "/a.example.com/envs", `{"env":"`+env+`"}`)
	}
	s.MustList(t, "/a.example.com/envs", "envs", "EMPTY=,FOO=baz,FOOBAR=1,URL=http://x/?a=b")
	// Exactly that key: the 2014 original removed FOOBAR too.
	s.MustOK(t, "DELETE", "/apps/a.example.com/envs/FOO", "")
	s.MustList(t, "/apps/a.example.com/envs", "envs", "EMPTY=,FOOBAR=1,URL=http://x/?a=b")
}

func TestHosts(t *testing.T) {
	s := MustOpenServer(t)
	for _, h := range []string{"127.0.0.12", "127.0.0.11", "127.0.0.12", "::1"} {
		s.MustOK(t, "POST", "/hosts", `{"host":"`+h+`"}`)
	}
	s.MustList(t, "/hosts", "hosts", "127.0.0.11,127.0.0.12,::1")
	s.MustOK(t, "DELETE", "/hosts/127.0.0.11", "")
	s.MustList(t, "/hosts", "hosts", "127.0.0.12,::1")
	// healthz lists the hosts to a client with the token, and only to it.
	_, out := s.Do(t, "GET", "/healthz", "")
	hosts := out["hosts"].(map[string]any)
	if len(hosts) != 2 || hosts["127.0.0.12"] == nil {
		t.Fatalf("healthz hosts = %v", hosts)
	}
	if _, out := s.DoWith(t, "GET", "/healthz", "", nil); out["hosts"] != nil {
		t.Fatalf("healthz without a token lists hosts: %v", out)
	}
}

func TestDescribeHistoryRoutesEmpty(t *testing.T) {
	s := MustOpenServer(t)
	s.MustOK(t, "POST", "/apps", `{"app":"a.example.com"}`)
	s.MustOK(t, "POST", "/a.example.com/envs", `{"env":"K=v"}`)
	out := s.MustOK(t, "GET", "/describe", "")
	d := out["description"].(map[string]any)["a.example.com"].(map[string]any)
	if len(d["instances"].([]any)) != 0 || strs(d["envs"])[0] != "K=v" {
		t.Fatalf("describe = %v", out)
	}
	if h := s.MustOK(t, "GET", "/a.example.com/history", "")["history"].([]any); len(h) != 0 {
		t.Fatalf("history = %v", h)
	}
	if i := s.MustOK(t, "GET", "/a.example.com/instances", "")["instances"].([]any); len(i) != 0 {
		t.Fatalf("instances = %v", i)
	}
	status, table := s.Do(t, "GET", "/routes", "")
	if status != 200 || table["routes"] == nil || len(table["routes"].(map[string]any)) != 0 || table["controller"] != s.DB.ControllerID() {
		t.Fatalf("routes = %d %v", status, table)
	}
}

func TestBothPathForms(t *testing.T) {
	s := MustOpenServer(t)
	s.MustOK(t, "POST", "/apps", `{"app":"a.example.com"}`)
	s.MustOK(t, "POST", "/a.example.com/envs", `{"env":"SHORT=1"}`)
	s.MustOK(t, "POST", "/apps/a.example.com/envs", `{"env":"LONG=1"}`)
	for _, p := range []string{"/a.example.com/envs", "/apps/a.example.com/envs"} {
		s.MustList(t, p, "envs", "LONG=1,SHORT=1")
	}
	s.MustOK(t, "DELETE", "/a.example.com/envs/SHORT", "")
	s.MustOK(t, "GET", "/a.example.com/history", "")
	s.MustOK(t, "GET", "/apps/a.example.com/history", "")
	s.MustOK(t, "GET", "/a.example.com/kill", "")
	s.MustOK(t, "POST", "/apps/a.example.com/kill", "")
}

func TestBackupOverHTTP(t *testing.T) {
	s := MustOpenServer(t)
	s.MustOK(t, "POST", "/apps", `{"app":"a.example.com"}`)
	if status, body := s.raw(t, "/backup"); status != 200 || len(body) == 0 {
		t.Fatalf("backup = %d, %d bytes", status, len(body))
	}
}

func TestRegistries(t *testing.T) {
	s := MustOpenServer(t)
	s.MustOK(t, "POST", "/registries", `{"registry":"Registry.Example.com:5000","username":"deploy","password":"hunter2"}`)
	s.MustOK(t, "POST", "/registries", `{"registry":"registry.example.com:5000","username":"deploy","password":"hunter3"}`)
	s.MustList(t, "/registries", "registries", "registry.example.com:5000")
	for _, path := range []string{"/registries", "/describe", "/backup"} {
		_, raw := s.raw(t, path)
		if path != "/backup" && strings.Contains(raw, "hunter") {
			t.Fatalf("GET %s shows a registry password: %s", path, raw)
		}
	}
	if u, p, ok := s.DB.RegistryAuth("registry.example.com:5000"); !ok || u != "deploy" || p != "hunter3" {
		t.Fatalf("stored credentials = %q %q %v", u, p, ok)
	}
	s.MustFail(t, "POST", "/registries", `{"registry":"registry.example.com/path","username":"u","password":"p"}`, 400, "not a registry address")
	s.MustFail(t, "POST", "/registries", `{"registry":"registry.example.com"}`, 400, "username and a password are required")
	s.MustFail(t, "POST", "/registries", `{"username":"u","password":"p"}`, 400, "registry is required")
	s.MustOK(t, "DELETE", "/registries/registry.example.com:5000", "")
	s.MustFail(t, "DELETE", "/registries/registry.example.com:5000", "", 404, "No credentials")
}

// raw is GET path with the token: its status and body as they came.
func (s *TestServer) raw(tb testing.TB, path string) (int, string) {
	tb.Helper()
	return send(tb, s.URL, testToken, "GET", path, "")
}

// send is open's request, read through: its status and body.
func send(tb testing.TB, url, token, method, path, body string, headers ...string) (int, string) {
	tb.Helper()
	resp := open(tb, context.Background(), url, token, method, path, body, headers...)
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// open sends a request of a JSON body to the API at url with token and
// headers (name, value, ...), and returns the answer, whose body the
// caller closes.
func open(tb testing.TB, ctx context.Context, url, token, method, path, body string, headers ...string) *nethttp.Response {
	tb.Helper()
	req, err := nethttp.NewRequestWithContext(ctx, method, url+path, strings.NewReader(body))
	if err != nil {
		tb.Fatal(err)
	}
	req.Header.Set("X-Auth", token)
	req.Header.Set("Content-Type", "application/json")
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	resp, err := nethttp.DefaultClient.Do(req)
	if err != nil {
		tb.Fatal(err)
	}
	return resp
}

// TestLogsNameRequestsButNoSecrets checks every request is logged once
// with a request id, and that neither tokens nor registry passwords reach
// the log.
func TestLogsNameRequestsButNoSecrets(t *testing.T) {
	var logs testenv.Log
	s := openServer(t, serverSetup{configure: func(a *http.Server) {
		a.Logger = slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}})
	s.DoWith(t, "GET", "/apps", "", map[string]string{"X-Auth": "wrong-token-xyz"})
	s.DoWith(t, "GET", "/apps", "", map[string]string{"Authorization": "Bearer wrong-bearer-xyz"})
	s.MustOK(t, "POST", "/registries", `{"registry":"r.example.com","username":"u","password":"registry-pw-xyz"}`)
	resp := open(t, context.Background(), s.URL, testToken, "GET", "/apps", "", "X-Request-Id", "trace-42")
	resp.Body.Close()
	if resp.Header.Get("X-Request-Id") != "trace-42" {
		t.Fatalf("X-Request-Id = %q", resp.Header.Get("X-Request-Id"))
	}
	out := logs.String()
	for _, secret := range []string{testToken, "wrong-token-xyz", "wrong-bearer-xyz", "registry-pw-xyz"} {
		if strings.Contains(out, secret) {
			t.Fatalf("the log shows %q:\n%s", secret, out)
		}
	}
	if n := strings.Count(out, "msg=request "); n != 4 || !strings.Contains(out, "request_id=trace-42") {
		t.Fatalf("%d request lines, want 4 with request ids:\n%s", n, out)
	}
}

// TestCachedAnswersFollowWrites reads /apps and /describe between writes:
// an answer served from the cache must never be older than the last write.
func TestCachedAnswersFollowWrites(t *testing.T) {
	s := MustOpenServer(t)
	for i := range 5 {
		app := fmt.Sprintf("a%d.example.com", i)
		s.MustOK(t, "POST", "/apps", `{"app":"`+app+`"}`)
		if got := strs(s.MustOK(t, "GET", "/apps", "")["apps"]); len(got) != i+1 {
			t.Fatalf("apps after %d creates = %v", i+1, got)
		}
		s.MustOK(t, "POST", "/"+app+"/envs", `{"env":"N=`+fmt.Sprint(i)+`"}`)
		d := s.MustOK(t, "GET", "/describe", "")["description"].(map[string]any)
		if envs := strs(d[app].(map[string]any)["envs"]); len(envs) != 1 || envs[0] != "N="+fmt.Sprint(i) {
			t.Fatalf("describe of %s = %v", app, d[app])
		}
	}
	s.MustOK(t, "DELETE", "/apps/a0.example.com", "")
	if got := strs(s.MustOK(t, "GET", "/apps", "")["apps"]); len(got) != 4 || got[0] != "a1.example.com" {
		t.Fatalf("apps after delete = %v", got)
	}
}

// TestRequestLogLine reads the request lines of the log: each with a
// request id made for it (16 hex digits, another for each request), the
// method, the path, the status and the duration; a read answered without
// an error at DEBUG, anything else at INFO, so that a log at the default
// level holds the changes and the errors only.
func TestRequestLogLine(t *testing.T) {
	d, err := db.Open(filepath.Join(t.TempDir(), "ls.db"), db.Options{Create: true})
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	var debug, info testenv.Log
	both := teeHandler{slog.NewTextHandler(&debug, &slog.HandlerOptions{Level: slog.LevelDebug}), slog.NewTextHandler(&info, nil)}
	srv := httptest.NewServer(http.NewServer(&http.Server{Store: d, Token: testToken, Logger: slog.New(both)}))
	defer srv.Close()
	s := &TestServer{Server: srv, DB: d}
	s.MustOK(t, "GET", "/apps", "")
	s.MustOK(t, "GET", "/apps", "")
	s.DoWith(t, "GET", "/hosts", "", map[string]string{"X-Auth": "wrong-token-xyz"})
	s.MustOK(t, "POST", "/apps", `{"app":"logged.example.com"}`)
	// A line is written once the handler returned: after the client may
	// have read a flushed answer.
	for deadline := time.Now().Add(10 * time.Second); strings.Count(debug.String(), "msg=request ") < 4 && time.Now().Before(deadline); {
		time.Sleep(10 * time.Millisecond)
	}
	line := regexp.MustCompile(`^time=\S+ level=(DEBUG|INFO) msg=request request_id=([0-9a-f]{16}) method=(GET|POST) path=(\S+) status=(\d+) duration=\S+$`)
	lines := func(log string) (ids, got []string) {
		for _, l := range strings.Split(strings.TrimSpace(log), "\n") {
			if !strings.Contains(l, "msg=request ") {
				continue
			}
			m := line.FindStringSubmatch(l)
			if m == nil {
				t.Fatalf("request line %q is not of the form %s", l, line)
			}
			ids, got = append(ids, m[2]), append(got, m[1]+" "+m[3]+" "+m[4]+" "+m[5])
		}
		return ids, got
	}
	ids, got := lines(debug.String())
	if want := []string{"DEBUG GET /apps 200", "DEBUG GET /apps 200", "INFO GET /hosts 401", "INFO POST /apps 200"}; strings.Join(got, ",") != strings.Join(want, ",") {
		t.Fatalf("request lines %v, want %v:\n%s", got, want, debug.String())
	}
	if ids[0] == ids[1] || ids[1] == ids[2] || ids[0] == ids[2] || ids[2] == ids[3] {
		t.Fatalf("request ids %v, want one for each request", ids)
	}
	if _, got := lines(info.String()); strings.Join(got, ",") != "INFO GET /hosts 401,INFO POST /apps 200" {
		t.Fatalf("request lines at INFO %v, want the refusal and the change only:\n%s", got, info.String())
	}
}

// teeHandler sends each record to every handler that takes its level.
type teeHandler []slog.Handler

func (t teeHandler) Enabled(ctx context.Context, l slog.Level) bool {
	for _, h := range t {
		if h.Enabled(ctx, l) {
			return true
		}
	}
	return false
}

func (t teeHandler) Handle(ctx context.Context, r slog.Record) error {
	for _, h := range t {
		if h.Enabled(ctx, r.Level) {
			if err := h.Handle(ctx, r.Clone()); err != nil {
				return err
			}
		}
	}
	return nil
}

func (t teeHandler) WithAttrs(attrs []slog.Attr) slog.Handler {
	out := make(teeHandler, len(t))
	for i, h := range t {
		out[i] = h.WithAttrs(attrs)
	}
	return out
}

func (t teeHandler) WithGroup(name string) slog.Handler {
	out := make(teeHandler, len(t))
	for i, h := range t {
		out[i] = h.WithGroup(name)
	}
	return out
}
