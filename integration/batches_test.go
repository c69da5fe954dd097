//go:build integration

package integration

import (
	"bufio"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	api "github.com/longshoreman/longshoreman/http"
	"github.com/longshoreman/longshoreman/internal/testenv"
)

// appContainer is one running container of an app as the Docker API
// lists it.
type appContainer struct {
	ID     string            `json:"Id"`
	Labels map[string]string `json:"Labels"`
	Ports  []struct {
		PublicPort int `json:"PublicPort"`
	} `json:"Ports"`
}

// runningContainers lists the app's running containers straight from the
// test daemon's API (what docker ps shows), every host address included.
func runningContainers(tb testing.TB, app string) []appContainer {
	tb.Helper()
	filters, _ := json.Marshal(map[string][]string{"label": {"longshoreman.app=" + app}, "status": {"running"}})
	u := fmt.Sprintf("http://%s/containers/json?filters=%s", testenv.Addr(testenv.Hosts(tb)[0], testenv.DockerPort(tb)), url.QueryEscape(string(filters)))
	resp, err := http.Get(u)
	if err != nil {
		tb.Errorf("listing the containers of %s: %v", app, err)
		return nil
	}
	defer resp.Body.Close()
	var out []appContainer
	if err := json.NewDecoder(resp.Body).Decode(&out); err != nil {
		tb.Errorf("listing the containers of %s: %v", app, err)
	}
	return out
}

// containerSampler polls the app's running containers every 50ms and keeps
// the most seen at once.
type containerSampler struct {
	mu      sync.Mutex
	peak    int
	samples int
	stop    chan struct{}
	done    chan struct{}
}

func sampleContainers(tb testing.TB, app string) *containerSampler {
	s := &containerSampler{stop: make(chan struct{}), done: make(chan struct{})}
	go func() {
		defer close(s.done)
		for {
			n := len(runningContainers(tb, app))
			s.mu.Lock()
			s.peak, s.samples = max(s.peak, n), s.samples+1
			s.mu.Unlock()
			select {
			case <-s.stop:
				return
			case <-time.After(50 * time.Millisecond):
			}
		}
	}()
	return s
}

// Stop ends the sampling and returns the most containers seen at once and
// how many samples were taken.
func (s *containerSampler) Stop() (peak, samples int) {
	close(s.stop)
	<-s.done
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.peak, s.samples
}

// streamRollout sends a deploy-like request asking for its progress as
// application/x-ndjson, calls step (when not nil) with each step as it
// arrives, and returns every step and the last line, the answer.
func streamRollout(tb testing.TB, c *Controller, path, body string, step func(api.ProgressLine)) (steps []api.ProgressLine, answer api.ProgressLine) {
	tb.Helper()
	resp := c.Progress(tb, "POST", path, "application/json", body)
	defer resp.Body.Close()
	if resp.StatusCode != 200 || !strings.HasPrefix(resp.Header.Get("Content-Type"), "application/x-ndjson") {
		tb.Fatalf("POST %s = %d %s, want a progress stream", path, resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		var line api.ProgressLine
		if err := json.Unmarshal(sc.Bytes(), &line); err != nil {
			tb.Fatalf("POST %s: progress line %q: %v", path, sc.Text(), err)
		}
		if line.Error != nil {
			return steps, line
		}
		steps = append(steps, line)
		if step != nil {
			step(line)
		}
	}
	tb.Fatalf("POST %s: the stream ended without an answer (%v); steps: %v", path, sc.Err(), steps)
	return nil, api.ProgressLine{}
}

func messages(steps []api.ProgressLine, step string) []string {
	var out []string
	for _, s := range steps {
		if s.Step == step {
			out = append(out, s.Message)
		}
	}
	return out
}

// batchCluster is a controller on the test hosts, an app of four
// instances of version 1 deployed with extra deploy fields, and a router
// serving it with a client going through it.
type batchCluster struct {
	c    *Controller
	r    *Router
	app  string
	load *LoadClient
}

func startBatchCluster(t *testing.T, prefix, deployExtra string, setup func(c *Controller, app string)) *batchCluster {
	t.Helper()
	hosts := testenv.Hosts(t)
	redis := testenv.Redis(t)
	c := StartControllerOn(t, redis, "LONGSHOREMAN_DRAIN=1s")
	c.AddHosts(t, hosts...)
	app := testenv.App(t, prefix)
	c.MustCall(t, "POST", "/apps", `{"app":"`+app+`"}`)
	if setup != nil {
		setup(c, app)
	}
	c.MustCall(t, "POST", "/apps/"+app+"/deploy", `{"image":"`+testenv.Image(t, "1")+`","count":4`+deployExtra+`}`)
	r := StartRouter(t, redis)
	r.WaitRoutes(t, app, 60*time.Second)
	return &batchCluster{c: c, r: r, app: app, load: StartLoad(r, app, 1000000, 5*time.Minute)}
}

// stopLoad stops the client and fails the test when any request failed.
func (b *batchCluster) stopLoad(t *testing.T) map[string]int {
	t.Helper()
	total, failures, versions, lastErr := b.load.Stop()
	t.Logf("%d requests through the router, %d failed; answers by version: %v", total, failures, versions)
	if failures != 0 {
		t.Errorf("%d of %d requests failed; last: %s\nrouter log:\n%s", failures, total, lastErr, b.r.Log())
	}
	if total < 100 {
		t.Errorf("only %d requests went through the router", total)
	}
	return versions
}

// revisions counts the app's running containers by revision label.
func revisions(tb testing.TB, app string) map[string]int {
	out := map[string]int{}
	for _, ct := range runningContainers(tb, app) {
		out[ct.Labels["longshoreman.revision"]]++
	}
	return out
}

// TestBatchedDeployThroughRouter deploys version 2 over a 4-instance app
// one instance at a time while a client goes through the router and the
// app's containers are counted every 50ms: never more than 5 run, no
// request fails, and all 4 end on version 2.
func TestBatchedDeployThroughRouter(t *testing.T) {
	t.Parallel()
	b := startBatchCluster(t, "batched", "", nil)
	sampler := sampleContainers(t, b.app)
	steps, answer := streamRollout(t, b.c, "/apps/"+b.app+"/deploy", `{"image":"`+testenv.Image(t, "2")+`","batch":1}`, nil)
	peak, samples := sampler.Stop()
	versions := b.stopLoad(t)
	if err := answer.LineError(); err != nil {
		t.Fatalf("batched deploy failed: %v\n%s", err, b.c.Log())
	}
	t.Logf("at most %d containers of the app ran at once (%d samples)", peak, samples)
	if peak > 5 || peak < 4 || samples < 20 {
		t.Errorf("at most %d containers ran at once over %d samples; want 4 or 5", peak, samples)
	}
	if got := messages(steps, "batch"); len(got) != 4 || !strings.HasPrefix(got[0], "batch 1/4") || !strings.HasPrefix(got[3], "batch 4/4") {
		t.Errorf("batch steps %q, want batch 1/4 to 4/4", got)
	}
	if got := revisions(t, b.app); got["2"] != 4 || len(got) != 1 {
		t.Fatalf("running by revision %v, want 4 of revision 2", got)
	}
	if versions["version=1"] == 0 || versions["version=2"] == 0 {
		t.Errorf("answers did not move from version 1 to 2: %v", versions)
	}
	for range 20 {
		if status, body, _ := b.r.Get(b.app); status != 200 || !strings.HasPrefix(body, "version=2 ") {
			t.Fatalf("after the deploy the router answers %d %q", status, body)
		}
	}
}

// TestFailedBatchRestoresOldRevision: with the app's batch set to 1, an
// env change whose instances fail their health check fails in batch 1 and
// replaces nothing; a deploy whose third batch fails (its new container
// is killed before it is healthy) puts the two instances already replaced
// back on revision 1. Through both, no request fails, at most 5
// containers run, and the app ends with its 4 instances of version 1.
func TestFailedBatchRestoresOldRevision(t *testing.T) {
	t.Parallel()
	b := startBatchCluster(t, "batchfail", `,"healthcheck":{"timeout":"8s"}`, func(c *Controller, app string) {
		// Instances listen 2s after they start, so the test can kill one
		// before it is healthy.
		c.MustCall(t, "POST", "/apps/"+app+"/envs", `{"env":"SLOW_START=2s"}`)
		c.MustCall(t, "POST", "/apps/"+app+"/settings", `{"batch":1}`)
	})
	sampler := sampleContainers(t, b.app)

	_, answer := streamRollout(t, b.c, "/apps/"+b.app+"/envs", `{"env":"FAIL_HEALTH=1"}`, nil)
	err := answer.LineError()
	if err == nil || !strings.Contains(err.Error(), "Batch 1 of 4 failed") || !strings.Contains(err.Error(), "answered 500") {
		t.Fatalf("env change with failing health checks: %v; want batch 1 of 4 failed", err)
	}
	if got := revisions(t, b.app); got["1"] != 4 || len(got) != 1 {
		t.Fatalf("after the failed env change running by revision %v, want the 4 of revision 1", got)
	}

	batch3, killed := false, ""
	steps, answer := streamRollout(t, b.c, "/apps/"+b.app+"/deploy", `{"image":"`+testenv.Image(t, "2")+`"}`, func(p api.ProgressLine) {
		if p.Step == "batch" && strings.HasPrefix(p.Message, "batch 3/4") {
			batch3 = true
		}
		if p.Step != "started" || !batch3 || killed != "" {
			return
		}
		_, port, _ := net.SplitHostPort(p.Instance)
		for _, ct := range runningContainers(t, b.app) {
			for _, pt := range ct.Ports {
				if strconv.Itoa(pt.PublicPort) == port && ct.Labels["longshoreman.revision"] == "3" {
					killed = ct.ID
					testenv.Docker(t, "kill", ct.ID)
				}
			}
		}
	})
	peak, samples := sampler.Stop()
	err = answer.LineError()
	t.Logf("the deploy failed with: %v", err)
	if killed == "" {
		t.Fatalf("no container of batch 3 was found to kill; steps: %v", steps)
	}
	if err == nil || !strings.Contains(err.Error(), "Batch 3 of 4 failed") || !strings.Contains(err.Error(), "put back") {
		t.Fatalf("deploy whose third batch dies: %v; want batch 3 of 4 failed, the old revision put back", err)
	}
	if got := messages(steps, "restoring"); len(got) != 1 || !strings.Contains(got[0], "Starting 2 instance(s) of revision 1 again") {
		t.Errorf("restoring steps %q", got)
	}
	versions := b.stopLoad(t)
	t.Logf("at most %d containers of the app ran at once (%d samples)", peak, samples)
	if peak > 5 {
		t.Errorf("%d containers ran at once; batch 1 of 4 allows 5", peak)
	}
	if versions["version=2"] == 0 {
		t.Errorf("no answer came from version 2: the batches before the failure did not serve (%v)", versions)
	}
	if got := revisions(t, b.app); got["1"] != 4 || len(got) != 1 {
		t.Fatalf("running by revision %v, want the 4 of revision 1 only", got)
	}
	// All 4 routed: at once, unless a health check timed out twice on the
	// loaded machine and took one out until its next check passes.
	testenv.Eventually(t, 30*time.Second, "the 4 instances of revision 1 routed", func() bool {
		return len(anyStrings(b.c.MustCall(t, "GET", "/apps/"+b.app+"/instances", "")["instances"])) == 4
	})
	for range 20 {
		if status, body, _ := b.r.Get(b.app); status != 200 || !strings.HasPrefix(body, "version=1 ") {
			t.Fatalf("after the failed deploy the router answers %d %q, want version 1", status, body)
		}
	}
	history := b.c.MustCall(t, "GET", "/apps/"+b.app+"/history", "")["history"].([]any)
	last := history[0].(map[string]any)
	if last["status"] != "failed" || !strings.Contains(last["reason"].(string), "Batch 3 of 4 failed") {
		t.Fatalf("the failed revision is recorded as %v", last)
	}
}

// TestPerAppStopTimeoutAndDrain: an app's drain is the wait between
// unrouting its old instance and SIGTERM, and its stop timeout the time
// Docker gives it before SIGKILL. The old instance is kept busy by a
// request whose body never ends, so it does not exit on SIGTERM by itself
// (it waits up to 10s for requests in flight): with a stop timeout of 1s
// Docker kills it after 1s.
func TestPerAppStopTimeoutAndDrain(t *testing.T) {
	t.Parallel()
	hosts := testenv.Hosts(t)
	redis := testenv.Redis(t)
	c := StartControllerOn(t, redis, "LONGSHOREMAN_DRAIN=300ms")
	c.MustCall(t, "POST", "/hosts", `{"host":"`+hosts[0]+`"}`)
	app := testenv.App(t, "stoptimeout")
	c.MustCall(t, "POST", "/apps/"+app+"/deploy", `{"image":"`+testenv.Image(t, "1")+`","count":1}`)
	out := c.MustCall(t, "POST", "/apps/"+app+"/settings", `{"stop_timeout":"1s","drain":"3s"}`)
	if s := out["settings"].(map[string]any); s["stop_timeout"] != "1s" || s["drain"] != "3s" {
		t.Fatalf("settings answered %v", out)
	}
	old := runningContainers(t, app)
	if len(old) != 1 {
		t.Fatalf("%d containers, want 1", len(old))
	}
	addr := anyStrings(c.MustCall(t, "GET", "/apps/"+app+"/instances", "")["instances"])[0]
	conn, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	// A body shorter than announced: the server keeps reading it after
	// the answer, so the request stays in flight.
	if _, err := conn.Write([]byte("GET /version HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\npartial")); err != nil {
		t.Fatal(err)
	}
	since := time.Now().Add(-time.Second)

	steps, answer := streamRollout(t, c, "/apps/"+app+"/deploy", `{"image":"`+testenv.Image(t, "2")+`"}`, nil)
	if err := answer.LineError(); err != nil {
		t.Fatalf("deploy: %v", err)
	}
	var draining, stopped *api.ProgressLine
	for i := range steps {
		switch steps[i].Step {
		case "draining":
			draining = &steps[i]
		case "stopped":
			stopped = &steps[i]
		}
	}
	if draining == nil || stopped == nil || draining.Message != "waiting 3s for routers to switch" {
		t.Fatalf("steps %v; want the app's drain of 3s", steps)
	}
	if gap := time.Duration(stopped.Elapsed-draining.Elapsed) * time.Millisecond; gap < 3*time.Second {
		t.Errorf("the old instance stopped %s after the drain began, before the app's 3s", gap)
	}

	// Docker's own account: SIGTERM, then SIGKILL about 1s later, not after
	// Docker's default 10s. (Measured to the SIGKILL, not to the death: a
	// loaded daemon takes seconds more to report it.)
	events := testenv.Docker(t, "events", "--since", strconv.FormatInt(since.Unix(), 10), "--until", strconv.FormatInt(time.Now().Add(time.Second).Unix(), 10),
		"--filter", "container="+old[0].ID, "--format", `{{.Action}} {{.TimeNano}} {{index .Actor.Attributes "signal"}} {{index .Actor.Attributes "exitCode"}}`)
	var term, kill int64
	exit := ""
	for _, line := range strings.Split(events, "\n") {
		f := strings.Fields(line)
		if len(f) < 2 {
			continue
		}
		at, _ := strconv.ParseInt(f[1], 10, 64)
		switch {
		case f[0] == "kill" && len(f) > 2 && f[2] == "15" && term == 0:
			term = at
		case f[0] == "kill" && len(f) > 2 && f[2] == "9" && kill == 0:
			kill = at
		case f[0] == "die" && len(f) > 2:
			exit = f[len(f)-1]
		}
	}
	if term == 0 || kill == 0 || exit == "" {
		t.Fatalf("docker events of the old container lack the SIGTERM, the SIGKILL or the death:\n%s", events)
	}
	took := time.Duration(kill - term)
	t.Logf("SIGTERM to SIGKILL: %s, exit code %s", took, exit)
	if took < 900*time.Millisecond || took > 8*time.Second || exit != "137" {
		t.Fatalf("the old container got SIGKILL %s after SIGTERM and exited with code %s; want SIGKILL (137) after the app's 1s stop timeout, well before Docker's default 10s\n%s", took, exit, events)
	}
}
