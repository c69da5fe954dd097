//go:build integration

package integration

import (
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/longshoreman/longshoreman/internal/testenv"
)

// streamJSON sends a JSON body asking for the ndjson progress stream and
// returns the stream, read line by line.
func streamJSON(t *testing.T, c *Controller, method, path, body string) *progressStream {
	t.Helper()
	return streamProgress(t, c, method, path, "application/json", body)
}

// routedApp starts a controller on the test hosts with its own Redis and
// a router fed by it, deploys two instances of a new app (prefix) and
// waits until the router routes it.
func routedApp(t *testing.T, prefix string) (*Controller, *Router, string) {
	t.Helper()
	c, redisAddr := controllerOwnRedis(t)
	r := StartRouter(t, redisAddr)
	app := testenv.App(t, prefix)
	c.MustCall(t, "POST", "/apps/"+app+"/deploy", `{"image":"`+testenv.Image(t, "1")+`","count":2}`)
	r.WaitRoutes(t, app, 60*time.Second)
	return c, r, app
}

// controllerOwnRedis starts a controller on the test hosts with a Redis of
// its own, and returns it with that Redis's address, for the routers the
// test starts.
func controllerOwnRedis(t *testing.T) (*Controller, string) {
	t.Helper()
	hosts := testenv.Hosts(t)
	redis := testenv.StartRedis(t)
	c := StartControllerOn(t, redis.Addr, "LONGSHOREMAN_REPUBLISH=1s", "LONGSHOREMAN_DRAIN=1s")
	c.AddHosts(t, hosts...)
	return c, redis.Addr
}

// TestDeploysWaitTheirTurn sends two deploys with "wait": true at once,
// the first holding the app in its release command: the second reports
// that it waits for the first, then both answer 200 in order, the second
// image ends live, and no request through the router fails. A deploy
// without wait sent meanwhile still gets 409.
func TestDeploysWaitTheirTurn(t *testing.T) {
	t.Parallel()
	c, r, app := routedApp(t, "edge-wait")
	load := StartLoad(r, app, 1000000, 10*time.Minute)

	// The release command keeps the first deploy holding the app while
	// the second arrives.
	first := streamJSON(t, c, "POST", "/apps/"+app+"/deploy", `{"image":"`+testenv.Image(t, "1")+`","release":["sleep","8s"],"wait":true}`)
	first.until(t, "release", 2*time.Minute)
	second := streamJSON(t, c, "POST", "/apps/"+app+"/deploy", `{"image":"`+testenv.Image(t, "2")+`","release":[],"wait":true,"wait_timeout":"5m"}`)
	waiting := second.until(t, "waiting", time.Minute)
	if msg, _ := waiting["message"].(string); !strings.Contains(msg, "a deploy of "+app) || !strings.Contains(msg, "at most 5m0s") {
		t.Errorf("waiting step %q: want it to name the deploy it waits for and the timeout", msg)
	}
	if status, out := c.Call("POST", "/apps/"+app+"/deploy", `{"image":"`+testenv.Image(t, "2")+`"}`); status != http.StatusConflict {
		t.Errorf("a deploy without wait during the first: %d %v; want 409", status, out)
	}

	a, b := first.final(t, 5*time.Minute), second.final(t, 5*time.Minute)
	if a["error"] != false || b["error"] != false {
		t.Fatalf("answers: first %v, second %v; want both without error\n%s", a, b, c.Log())
	}
	ra, rb := a["revision"].(float64), b["revision"].(float64)
	if rb != ra+1 {
		t.Fatalf("revisions: first %v, second %v; want the second right after the first", ra, rb)
	}
	testenv.Eventually(t, 60*time.Second, "the router serves the second image", func() bool {
		s, body, _ := r.Get(app)
		return s == 200 && strings.Contains(body, "version=2")
	})
	total, failures, versions, lastErr := load.Stop()
	t.Logf("%d requests through the router, %d failed; by version %v", total, failures, versions)
	if failures != 0 {
		t.Fatalf("%d of %d requests through the router failed; last: %s\nrouter log:\n%s", failures, total, lastErr, r.Log())
	}
	if d := c.MustCall(t, "GET", "/apps/"+app, "")["description"].(map[string]any); d["image"] != testenv.Image(t, "2") || d["revision"] != rb {
		t.Fatalf("app after both deploys: %v", d)
	}
}

// TestMaintenanceThroughRouter turns maintenance on: the router answers
// 503 with the message while the instances keep running; a deploy in
// maintenance works (the page stays); the setting shows in GET /apps/:app
// and /describe and survives a restart; turned off, the router serves the
// new revision.
func TestMaintenanceThroughRouter(t *testing.T) {
	t.Parallel()
	c, r, app := routedApp(t, "edge-maint")

	const msg = "Moving to a bigger database; back at 10:00 UTC."
	on := c.MustCall(t, "POST", "/apps/"+app+"/maintenance", `{"enabled":true,"message":"`+msg+`"}`)
	if m, _ := on["maintenance"].(map[string]any); m["enabled"] != true || m["message"] != msg {
		t.Fatalf("answer: %v", on)
	}
	inMaintenance := func(what string) {
		t.Helper()
		testenv.Eventually(t, 60*time.Second, what, func() bool {
			s, body, _ := r.Get(app)
			return s == http.StatusServiceUnavailable && strings.Contains(body, msg)
		})
	}
	inMaintenance("the router answers 503 with the message")
	req, _ := http.NewRequest("GET", r.URL+"/", nil)
	req.Host = app
	req.Header.Set("Accept", "application/json")
	resp, err := routerClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.Header.Get("Retry-After") == "" || resp.Header.Get("Content-Type") != "application/json" || !strings.Contains(string(body), msg) {
		t.Fatalf("JSON answer in maintenance: %d %v %s", resp.StatusCode, resp.Header, body)
	}
	instances := anyStrings(c.MustCall(t, "GET", "/apps/"+app+"/instances", "")["instances"])
	if len(instances) != 2 {
		t.Fatalf("instances in maintenance: %v; want the 2 still running and routed", instances)
	}
	if s, b := testenv.HTTPGet(t, instances[0], "/", 10*time.Second); s != 200 || !strings.Contains(b, "version=1") {
		t.Fatalf("an instance in maintenance answers %d %q", s, b)
	}

	dep := c.MustCall(t, "POST", "/apps/"+app+"/deploy", `{"image":"`+testenv.Image(t, "2")+`"}`)
	inMaintenance("the router still answers 503 after a deploy in maintenance")
	instances = anyStrings(dep["instances"])
	if len(instances) != 2 {
		t.Fatalf("deploy in maintenance: %v", dep)
	}
	if s, b := testenv.HTTPGet(t, instances[0], "/", 10*time.Second); s != 200 || !strings.Contains(b, "version=2") {
		t.Fatalf("a new instance answers %d %q", s, b)
	}
	shown := func(where string) {
		t.Helper()
		d := c.MustCall(t, "GET", "/apps/"+app, "")["description"].(map[string]any)
		if m, _ := d["maintenance"].(map[string]any); m["enabled"] != true || m["message"] != msg || m["since"] == nil {
			t.Fatalf("GET /apps/%s %s: maintenance %v", app, where, d["maintenance"])
		}
		all := c.MustCall(t, "GET", "/describe", "")["description"].(map[string]any)
		if m, _ := all[app].(map[string]any)["maintenance"].(map[string]any); m["enabled"] != true {
			t.Fatalf("GET /describe %s: %v", where, all[app])
		}
	}
	shown("in maintenance")
	c.Kill()
	c.Start(t)
	shown("after a restart")
	inMaintenance("the router answers 503 after the controller restarted")

	if status, out := c.Call("POST", "/apps/"+app+"/maintenance", `{"message":"no enabled field"}`); status != 400 {
		t.Fatalf("a request without enabled: %d %v; want 400", status, out)
	}
	c.MustCall(t, "POST", "/apps/"+app+"/maintenance", `{"enabled":false}`)
	testenv.Eventually(t, 60*time.Second, "the router serves the new revision after maintenance", func() bool {
		s, b, _ := r.Get(app)
		return s == 200 && strings.Contains(b, "version=2")
	})
	if d := c.MustCall(t, "GET", "/apps/"+app, "")["description"].(map[string]any); d["maintenance"] != nil {
		t.Fatalf("maintenance still shown after off: %v", d["maintenance"])
	}
}
