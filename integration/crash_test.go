//go:build integration

package integration

import (
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/longshoreman/longshoreman/cluster"
	"github.com/longshoreman/longshoreman/internal/testenv"
)

// Controller is the controller binary running as a process, so that a test
// can kill -9 it.
type Controller struct {
	URL  string
	cmd  *exec.Cmd
	env  []string
	port int
	log  *os.File
}

func StartController(tb testing.TB, dbPath string, env ...string) *Controller {
	tb.Helper()
	c := &Controller{port: testenv.FreePort(tb)}
	c.URL = fmt.Sprintf("http://127.0.0.1:%d", c.port)
	c.env = append([]string{"PATH=" + os.Getenv("PATH"), "HOME=" + tb.TempDir(), "LONGSHOREMAN_DB=" + dbPath,
		"LONGSHOREMAN_CHANNEL=" + testChannel(tb),
		"LONGSHOREMAN_TOKEN=t0ken-0123456789", fmt.Sprintf("LONGSHOREMAN_LISTEN=127.0.0.1:%d", c.port), "REDIS_PORT=1",
		"LONGSHOREMAN_ADVERTISE=" + c.URL,
		"LONGSHOREMAN_INIT=1", "LONGSHOREMAN_ROUTES_KEY=" + testRoutesKey, "LONGSHOREMAN_SECRETS_KEY=" + testSecretsKey,
		"LONGSHOREMAN_DRAIN=300ms", "LONGSHOREMAN_RECONCILE=500ms", fmt.Sprintf("DOCKER_PORT=%d", testenv.DockerPort(tb))}, env...)
	log, err := os.CreateTemp(tb.TempDir(), "controller-*.log")
	if err != nil {
		tb.Fatal(err)
	}
	c.log = log
	c.Start(tb)
	tb.Cleanup(func() { c.Kill() })
	return c
}

// StartControllerOn starts a controller with a data file of its own that
// publishes its routing table through the Redis at redisAddr.
func StartControllerOn(tb testing.TB, redisAddr string, env ...string) *Controller {
	tb.Helper()
	host, port, _ := net.SplitHostPort(redisAddr)
	return StartController(tb, filepath.Join(tb.TempDir(), "ls.db"), append([]string{"REDIS_HOST=" + host, "REDIS_PORT=" + port}, env...)...)
}

// Start starts the process and waits until the API answers.
func (c *Controller) Start(tb testing.TB) {
	tb.Helper()
	c.cmd = exec.Command(Binary(tb), "serve")
	c.cmd.Env = c.env
	c.cmd.Stdout, c.cmd.Stderr = c.log, c.log
	if err := c.cmd.Start(); err != nil {
		tb.Fatal(err)
	}
	deadline := time.Now().Add(15 * time.Second)
	for {
		if resp, err := http.Get(c.URL + "/healthz"); err == nil {
			resp.Body.Close()
			return
		}
		if time.Now().After(deadline) {
			tb.Fatalf("controller did not start: %s", c.Log())
		}
		time.Sleep(30 * time.Millisecond)
	}
}

// Kill kills the process with SIGKILL, as a crash does.
func (c *Controller) Kill() {
	if c.cmd != nil && c.cmd.Process != nil {
		c.cmd.Process.Kill()
		c.cmd.Wait()
		c.cmd = nil
	}
}

func (c *Controller) Log() string {
	b, _ := os.ReadFile(c.log.Name())
	return string(b)
}

// Call sends an API request and decodes the JSON answer; status 0 means
// the request itself failed (as when the controller is killed mid-call).
func (c *Controller) Call(method, path, body string) (int, map[string]any) {
	req, _ := http.NewRequest(method, c.URL+path, strings.NewReader(body))
	req.Header.Set("X-Auth", "t0ken-0123456789")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, nil
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	var out map[string]any
	json.Unmarshal(b, &out)
	return resp.StatusCode, out
}

// CallRaw sends an API request and returns the status and the body as
// sent, failing the test when the request itself fails.
func (c *Controller) CallRaw(tb testing.TB, method, path, body string) (int, []byte) {
	tb.Helper()
	req, _ := http.NewRequest(method, c.URL+path, strings.NewReader(body))
	req.Header.Set("X-Auth", "t0ken-0123456789")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		tb.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, b
}

// Progress sends an API request asking for the progress stream (one JSON
// line a step, the answer last) with the body of contentType (none when
// empty), failing the test when the request itself fails. The caller
// closes the answer's body.
func (c *Controller) Progress(tb testing.TB, method, path, contentType, body string) *http.Response {
	tb.Helper()
	req, _ := http.NewRequest(method, c.URL+path, strings.NewReader(body))
	req.Header.Set("X-Auth", "t0ken-0123456789")
	req.Header.Set("Accept", "application/x-ndjson")
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		tb.Fatalf("%s %s: %v", method, path, err)
	}
	return resp
}

func (c *Controller) MustCall(tb testing.TB, method, path, body string) map[string]any {
	tb.Helper()
	status, out := c.Call(method, path, body)
	if status != 200 {
		tb.Fatalf("%s %s = %d %v\n%s", method, path, status, out, c.Log())
	}
	return out
}

// AddHosts adds the hosts to the cluster, failing the test on a refusal.
func (c *Controller) AddHosts(tb testing.TB, hosts ...string) {
	tb.Helper()
	for _, h := range hosts {
		c.MustCall(tb, "POST", "/hosts", `{"host":"`+h+`"}`)
	}
}

func anyStrings(v any) []string {
	var out []string
	list, _ := v.([]any)
	for _, x := range list {
		out = append(out, fmt.Sprint(x))
	}
	sort.Strings(out)
	return out
}

// TestKillNineDuringDeploys kills the controller with SIGKILL at several
// moments of a deploy, restarts it, and checks after each restart that the
// reconciler leaves no orphan container, routes only instances that answer,
// keeps the desired count, settles the interrupted revision and loses no
// app, host or env.
func TestKillNineDuringDeploys(t *testing.T) {
	t.Parallel()
	hosts := testenv.Hosts(t)
	path := filepath.Join(t.TempDir(), "ls.db")
	redis := testenv.StartRedis(t)
	c := StartController(t, path, "REDIS_HOST=127.0.0.1", "REDIS_PORT="+redis.Addr[strings.LastIndex(redis.Addr, ":")+1:])
	c.AddHosts(t, hosts...)
	app := testenv.App(t, "crash")
	c.MustCall(t, "POST", "/apps", `{"app":"`+app+`"}`)
	c.MustCall(t, "POST", "/"+app+"/envs", `{"env":"KEEP=me"}`)
	c.MustCall(t, "POST", "/"+app+"/deploy", `{"image":"`+testenv.Image(t, "1")+`","count":2}`)
	controller := c.MustCall(t, "GET", "/routes", "")["controller"].(string)

	for i, delay := range []time.Duration{30 * time.Millisecond, 150 * time.Millisecond, 400 * time.Millisecond, 800 * time.Millisecond, 1500 * time.Millisecond, 2500 * time.Millisecond} {
		image := testenv.Image(t, fmt.Sprint(2-i%2))
		go c.Call("POST", "/"+app+"/deploy", `{"image":"`+image+`"}`)
		time.Sleep(delay)
		c.Kill()
		c.Start(t)
		checkRecovered(t, c, app, controller, hosts, fmt.Sprintf("kill -9 at %s", delay), []string{"KEEP=me"})
	}
	// The kills did land mid-deploy: some revisions were settled as
	// interrupted.
	interrupted := 0
	for _, h := range c.MustCall(t, "GET", "/"+app+"/history", "")["history"].([]any) {
		if reason, _ := h.(map[string]any)["reason"].(string); strings.HasPrefix(reason, "Interrupted") {
			interrupted++
		}
	}
	if interrupted == 0 {
		t.Fatal("no kill interrupted a deploy: the test did not test recovery")
	}
	t.Logf("%d of 6 kills interrupted a deploy", interrupted)
}

// checkRecovered waits until the cluster is consistent again (see
// recoveryProblem) and checks that hosts and, when wantEnvs is set, the
// app's envs survived; what names the step for failure messages.
func checkRecovered(t *testing.T, c *Controller, app, controller string, hosts []string, what string, wantEnvs []string) {
	t.Helper()
	deadline := time.Now().Add(40 * time.Second)
	var problem string
	for time.Now().Before(deadline) {
		problem = recoveryProblem(t, c, app, controller)
		if problem == "" {
			break
		}
		time.Sleep(200 * time.Millisecond)
	}
	if problem != "" {
		t.Fatalf("after %s: %s\n%s", what, problem, c.Log())
	}
	if got := anyStrings(c.MustCall(t, "GET", "/hosts", "")["hosts"]); strings.Join(got, ",") != strings.Join(hosts, ",") {
		t.Fatalf("hosts after %s = %v", what, got)
	}
	if wantEnvs == nil {
		return
	}
	if got := anyStrings(c.MustCall(t, "GET", "/"+app+"/envs", "")["envs"]); strings.Join(got, ",") != strings.Join(wantEnvs, ",") {
		t.Fatalf("envs after %s = %v, want %v", what, got, wantEnvs)
	}
}

// recoveryProblem returns what is still wrong, or "".
func recoveryProblem(t *testing.T, c *Controller, app, controller string) string {
	status, hist := c.Call("GET", "/"+app+"/history", "")
	if status != 200 {
		return fmt.Sprintf("history answered %d", status)
	}
	for _, h := range hist["history"].([]any) {
		if h.(map[string]any)["status"] == cluster.StatusDeploying {
			return "a revision is still deploying"
		}
	}
	_, inst := c.Call("GET", "/"+app+"/instances", "")
	routed := anyStrings(inst["instances"])
	if len(routed) != 2 {
		return fmt.Sprintf("%d routed instances, want 2: %v", len(routed), routed)
	}
	for _, a := range routed {
		resp, err := http.Get("http://" + a + "/ping")
		if err != nil || resp.StatusCode != 200 {
			return "routed instance " + a + " does not answer"
		}
		resp.Body.Close()
	}
	out, err := testenv.DockerErr(t, "ps", "-a", "--filter", "label="+cluster.LabelController+"="+controller,
		"--filter", "label="+cluster.LabelApp+"="+app, "--format", `{{.Label "longshoreman.host"}} {{.Ports}}`)
	if err != nil {
		return "docker ps: " + out
	}
	if n := len(strings.Split(strings.TrimSpace(out), "\n")); strings.TrimSpace(out) == "" || n != 2 {
		return fmt.Sprintf("%d containers of the app exist, want exactly the 2 routed: %q", n, out)
	}
	return ""
}
