//go:build integration

package integration

import (
	"bufio"
	"encoding/json"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/longshoreman/longshoreman/cluster"
	"github.com/longshoreman/longshoreman/internal/testenv"
)

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
