//go:build integration

package integration

import (
	"bufio"
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

// startDurabilityCluster starts the controller binary on a private Redis
// with every test host and one app deployed at version 1, count 2.
func startDurabilityCluster(t *testing.T, env ...string) (*Controller, *testenv.RedisServer, string) {
	t.Helper()
	redis := testenv.StartRedis(t)
	_, port, _ := strings.Cut(redis.Addr, ":")
	c := StartController(t, filepath.Join(t.TempDir(), "ls.db"), append([]string{"REDIS_HOST=127.0.0.1", "REDIS_PORT=" + port}, env...)...)
	c.AddHosts(t, testenv.Hosts(t)...)
	app := testenv.App(t, "durable")
	c.MustCall(t, "POST", "/apps", `{"app":"`+app+`"}`)
	c.MustCall(t, "POST", "/"+app+"/deploy", `{"image":"`+testenv.Image(t, "1")+`","count":2}`)
	return c, redis, app
}

// containersOf returns the app's containers of this controller, as docker
// ps shows them.
func containersOf(t *testing.T, c *Controller, app string) []string {
	controller := c.MustCall(t, "GET", "/routes", "")["controller"].(string)
	out := testenv.Docker(t, "ps", "-aq", "--filter", "label="+cluster.LabelController+"="+controller, "--filter", "label="+cluster.LabelApp+"="+app)
	return strings.Fields(out)
}

// deployUntil streams a deploy and returns once progress step `step` was
// reported; the deploy goes on.
func deployUntil(t *testing.T, c *Controller, app, body, step string) {
	t.Helper()
	resp := c.Progress(t, "POST", "/"+app+"/deploy", "application/json", body)
	t.Cleanup(func() { resp.Body.Close() })
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		var p map[string]any
		json.Unmarshal(sc.Bytes(), &p)
		if p["step"] == step {
			return
		}
		if _, final := p["error"]; final {
			t.Fatalf("the deploy ended before %q: %s", step, sc.Text())
		}
	}
	t.Fatalf("the deploy's stream ended before %q: %v\n%s", step, sc.Err(), c.Log())
}

// A deploy whose new instances were routed when the controller was killed
// finishes after the restart: it succeeded, the new instances stay routed
// and the old ones go.
func TestKillNineAfterRoutingFinishesDeploy(t *testing.T) {
	t.Parallel()
	// A long drain keeps the deploy between routing and stopping the old
	// instances while the controller is killed.
	c, _, app := startDurabilityCluster(t, "LONGSHOREMAN_DRAIN=30s")
	deployUntil(t, c, app, `{"image":"`+testenv.Image(t, "2")+`"}`, "routed")
	c.Kill()
	c.Start(t)

	var problem string
	deadline := time.Now().Add(90 * time.Second)
	for ; time.Now().Before(deadline); time.Sleep(300 * time.Millisecond) {
		problem = ""
		_, hist := c.Call("GET", "/"+app+"/history", "")
		list, _ := hist["history"].([]any)
		if len(list) == 0 {
			problem = "no history"
			continue
		}
		newest := list[0].(map[string]any)
		if newest["status"] != cluster.StatusSucceeded || newest["current"] != true {
			problem = fmt.Sprintf("the interrupted revision is %v (current %v, reason %v), want succeeded and current", newest["status"], newest["current"], newest["reason"])
			continue
		}
		_, inst := c.Call("GET", "/"+app+"/instances", "")
		routed := anyStrings(inst["instances"])
		if len(routed) != 2 {
			problem = fmt.Sprintf("%d routed, want 2", len(routed))
			continue
		}
		for _, a := range routed {
			if _, body := testenv.HTTPGet(t, a, "/", 5*time.Second); !strings.HasPrefix(body, "version=2") {
				problem = fmt.Sprintf("routed %s answers %q, want version 2", a, body)
			}
		}
		if n := len(containersOf(t, c, app)); problem == "" && n != 2 {
			problem = fmt.Sprintf("%d containers, want the 2 new ones", n)
		}
		if problem == "" {
			break
		}
	}
	if problem != "" {
		t.Fatalf("after kill -9 once the new instances were routed: %s\n%s", problem, c.Log())
	}
}

// A DELETE /apps/X cut short by kill -9 (its instances unrouted, the drain
// under way) is completed after the restart: no container, the app gone.
func TestKillNineDuringDeleteCompletesIt(t *testing.T) {
	t.Parallel()
	c, _, app := startDurabilityCluster(t, "LONGSHOREMAN_DRAIN=30s")
	go c.Call("DELETE", "/apps/"+app, "")
	testenv.Eventually(t, 30*time.Second, "the app's instances unrouted by the delete", func() bool {
		_, routes := c.Call("GET", "/routes", "")
		r, _ := routes["routes"].(map[string]any)
		_, ok := r[app]
		return routes != nil && !ok
	})
	c.Kill()
	if n := len(strings.Fields(testenv.Docker(t, "ps", "-q", "--filter", "label="+cluster.LabelApp+"="+app))); n != 2 {
		t.Fatalf("%d containers running at the kill, want the 2 being drained", n)
	}
	c.Start(t)
	testenv.Eventually(t, 90*time.Second, "the delete completed after the restart", func() bool {
		status, _ := c.Call("GET", "/apps/"+app, "")
		return status == 404 && len(containersOf(t, c, app)) == 0
	})
	if _, routes := c.Call("GET", "/routes", ""); routes["routes"].(map[string]any)[app] != nil {
		t.Fatalf("%s routed after its delete completed", app)
	}
}

// Redis is down, a deploy retires the old instances in the background, and
// the controller is killed and started again: the old instances the router
// still routes to keep running until the router has the new table, so a
// client going through the router sees no failure.
func TestRestartDuringRedisOutageKeepsOldInstances(t *testing.T) {
	t.Parallel()
	c, redis, app := startDurabilityCluster(t)
	r := StartRouter(t, redis.Addr)
	testenv.Eventually(t, 30*time.Second, "the router serves version 1", func() bool {
		status, body, _ := r.Get(app)
		return status == 200 && strings.HasPrefix(body, "version=1")
	})
	load := StartLoad(r, app, 1_000_000, 5*time.Minute)

	redis.Stop()
	c.MustCall(t, "POST", "/"+app+"/deploy", `{"image":"`+testenv.Image(t, "2")+`"}`)
	c.Kill()
	c.Start(t)
	// The restarted controller must not stop the old instances while the
	// router, cut off from Redis, still sends them every request.
	time.Sleep(5 * time.Second)
	redis.Start()
	testenv.Eventually(t, 90*time.Second, "the router serves version 2", func() bool {
		_, body, _ := r.Get(app)
		return strings.HasPrefix(body, "version=2")
	})
	testenv.Eventually(t, 120*time.Second, "the old instances stopped", func() bool { return len(containersOf(t, c, app)) == 2 })
	time.Sleep(time.Second)
	total, failures, versions, lastErr := load.Stop()
	t.Logf("%d requests through the router, versions %v", total, versions)
	if failures > 0 {
		t.Fatalf("%d of %d requests failed (last: %s)\ncontroller:\n%s\nrouter:\n%s", failures, total, lastErr, c.Log(), r.Log())
	}
	if versions["version=1"] == 0 || versions["version=2"] == 0 {
		t.Fatalf("versions seen %v: the test did not cover the switch", versions)
	}
}
