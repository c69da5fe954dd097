//go:build integration

package integration

import (
	"fmt"
	"io"
	"net/http"
	"net/http/cookiejar"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/longshoreman/longshoreman/internal/testenv"
	"github.com/longshoreman/longshoreman/router"
)

// canaryGet sends GET / for app through r with client and cookie (if
// any), and returns the status, the version that answered ("version=N")
// and the canary cookie set in the answer ("" when none).
func canaryGet(r *Router, client *http.Client, app, cookie string) (status int, version, set string, err error) {
	req, _ := http.NewRequest("GET", r.URL+"/", nil)
	req.Host = app
	if cookie != "" {
		req.Header.Set("Cookie", router.CanaryCookie+"="+cookie)
	}
	resp, err := client.Do(req)
	if err != nil {
		return 0, "", "", err
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	for _, ck := range resp.Cookies() {
		if ck.Name == router.CanaryCookie {
			set = ck.Value
		}
	}
	version, _, _ = strings.Cut(string(b), " ")
	return resp.StatusCode, version, set, nil
}

// canaryLoad sends requests through r until stopped, half from clients
// without cookies and half from one that keeps them, and counts them.
type canaryLoad struct {
	total, failures atomic.Int64
	mu              sync.Mutex
	lastErr         string
	stop, done      chan struct{}
}

func startCanaryLoad(r *Router, app string) *canaryLoad {
	l := &canaryLoad{stop: make(chan struct{}), done: make(chan struct{})}
	jar, _ := cookiejar.New(nil)
	sticky := &http.Client{Jar: jar, Timeout: routerClient.Timeout}
	go func() {
		defer close(l.done)
		for i := 0; ; i++ {
			select {
			case <-l.stop:
				return
			default:
			}
			client := routerClient
			if i%2 == 1 {
				client = sticky
			}
			status, version, _, err := canaryGet(r, client, app, "")
			l.total.Add(1)
			if err != nil || status != 200 {
				l.failures.Add(1)
				l.mu.Lock()
				l.lastErr = fmt.Sprintf("%d %s %v", status, version, err)
				l.mu.Unlock()
			}
			time.Sleep(2 * time.Millisecond)
		}
	}()
	return l
}

func (l *canaryLoad) Stop() (total, failures int64, lastErr string) {
	close(l.stop)
	<-l.done
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.total.Load(), l.failures.Load(), l.lastErr
}

// underLoad runs op (named what) while clients send requests through r,
// waits until a client with cookie gets version and no side is assigned
// any more, and fails the test when a request failed.
func underLoad(t *testing.T, r *Router, app, what, cookie, version string, op func()) {
	t.Helper()
	load := startCanaryLoad(r, app)
	time.Sleep(300 * time.Millisecond) // some load before op begins
	op()
	testenv.Eventually(t, 15*time.Second, what+": every request on "+version+", no client assigned", func() bool {
		s, v, set, _ := canaryGet(r, routerClient, app, cookie)
		return s == 200 && v == version && set == ""
	})
	total, failures, lastErr := load.Stop()
	t.Logf("%s: %d requests, %d failed", what, total, failures)
	if failures != 0 || total < 20 {
		t.Fatalf("%s: %d of %d requests failed; last: %s\nrouter log:\n%s", what, failures, total, lastErr, r.Log())
	}
}

// canaryController starts a Redis of the test's own and a controller on
// it with every test host, and names an app (prefix) whose containers are
// removed when the test ends.
func canaryController(t *testing.T, prefix string) (c *Controller, redisAddr, app string) {
	t.Helper()
	hosts := testenv.Hosts(t)
	redis := testenv.StartRedis(t)
	c = StartControllerOn(t, redis.Addr, "LONGSHOREMAN_DRAIN=1s")
	c.AddHosts(t, hosts...)
	app = testenv.App(t, prefix)
	return c, redis.Addr, app
}

// TestCanaryThroughRouter: a canary taking 20% of an app's requests, with
// the real dockerd, Redis and router. Of 1,000 requests from clients
// without the cookie 15-25% reach the canary, each told its side in a
// cookie; a client sending the cookie back stays on its side; abort and
// promote, each under load, fail no request, and leave every request on
// the old revision and on the canary's respectively.
func TestCanaryThroughRouter(t *testing.T) {
	t.Parallel()
	c, redisAddr, app := canaryController(t, "canary")
	v1, v2 := testenv.Image(t, "1"), testenv.Image(t, "2")
	c.MustCall(t, "POST", "/"+app+"/deploy", `{"image":"`+v1+`","count":2}`)
	r := StartRouter(t, redisAddr)
	r.WaitRoutes(t, app, 10*time.Second)

	startCanary := func(rev int) {
		t.Helper()
		out := c.MustCall(t, "POST", "/"+app+"/deploy", `{"image":"`+v2+`","canary":20}`)
		if fmt.Sprint(out["revision"]) != fmt.Sprint(rev) {
			t.Fatalf("canary deploy answered %v", out)
		}
		side := fmt.Sprintf("%d-c", rev)
		testenv.Eventually(t, 15*time.Second, "router routes the canary", func() bool {
			s, v, _, _ := canaryGet(r, routerClient, app, side)
			return s == 200 && v == "version=2"
		})
	}
	startCanary(2)
	if out := c.MustCall(t, "GET", "/apps/"+app, ""); !strings.Contains(fmt.Sprint(out), "weight:20") {
		t.Fatalf("the app does not show its canary: %v", out)
	}

	// 1,000 new clients: 15-25% on the canary, each told its side.
	onCanary := 0
	for i := 0; i < 1000; i++ {
		s, v, set, err := canaryGet(r, routerClient, app, "")
		if err != nil || s != 200 {
			t.Fatalf("request %d: %d %v", i, s, err)
		}
		if want := map[string]string{"version=2": "2-c", "version=1": "2-s"}[v]; set != want {
			t.Fatalf("request %d answered by %s with cookie %q, want %q", i, v, set, want)
		}
		if v == "version=2" {
			onCanary++
		}
	}
	t.Logf("%d of 1000 requests reached the canary", onCanary)
	if onCanary < 150 || onCanary > 250 {
		t.Fatalf("%d of 1000 requests reached the canary of 20%%", onCanary)
	}
	// The cookie keeps a client on its side.
	for _, side := range []string{"2-c", "2-s"} {
		want := map[string]string{"2-c": "version=2", "2-s": "version=1"}[side]
		for i := 0; i < 100; i++ {
			if s, v, set, err := canaryGet(r, routerClient, app, side); err != nil || s != 200 || v != want || set != "" {
				t.Fatalf("cookie %s, request %d: %d %s, cookie set %q (%v); want %s and no new cookie", side, i, s, v, set, err, want)
			}
		}
	}

	// Abort under load: no request fails, then all go to version 1, the
	// canary's cookie too.
	underLoad(t, r, app, "abort", "2-c", "version=1", func() {
		c.MustCall(t, "POST", "/"+app+"/abort", `{"reason":"test abort"}`)
	})
	for i := 0; i < 50; i++ {
		if s, v, set, _ := canaryGet(r, routerClient, app, ""); s != 200 || v != "version=1" || set != "" {
			t.Fatalf("after abort, request %d: %d %s cookie %q", i, s, v, set)
		}
	}

	// Promote under load: no request fails, then all go to version 2.
	startCanary(3)
	underLoad(t, r, app, "promote", "3-s", "version=2", func() {
		if out := c.MustCall(t, "POST", "/"+app+"/promote", ""); fmt.Sprint(out["revision"]) != "3" {
			t.Fatalf("promote answered %v", out)
		}
	})
	for i := 0; i < 50; i++ {
		if s, v, set, _ := canaryGet(r, routerClient, app, ""); s != 200 || v != "version=2" || set != "" {
			t.Fatalf("after promote, request %d: %d %s cookie %q", i, s, v, set)
		}
	}
	if n := len(anyStrings(c.MustCall(t, "GET", "/"+app+"/instances", "")["instances"])); n != 2 {
		t.Fatalf("after promote: %d instances, want 2", n)
	}
}

// TestCanaryAutoAbort: with the real dockerd, Redis, router and
// controller, a canary whose instances answer GET /ping with 500 (the test
// app's FAIL_HEALTH, its health check on /) while the old revision's
// answer 200 is aborted by itself when its --canary-auto delay of 15 s is
// up, requests going through the router meanwhile: its revision fails
// with a reason naming both 5xx rates, and every request reaches the old
// revision again.
func TestCanaryAutoAbort(t *testing.T) {
	t.Parallel()
	c, redisAddr, app := canaryController(t, "autoabort")
	v1, v2 := testenv.Image(t, "1"), testenv.Image(t, "2")
	c.MustCall(t, "POST", "/"+app+"/deploy", `{"image":"`+v1+`","count":2,"healthcheck":{"path":"/"}}`)
	// Revision 2: the same image with /ping failing; its instances are
	// told to answer it again, the canary's will not be.
	out := c.MustCall(t, "POST", "/"+app+"/envs", `{"env":"FAIL_HEALTH=1"}`)
	for _, addr := range anyStrings(out["instances"]) {
		resp, err := http.Post("http://"+addr+"/health/ok", "text/plain", nil)
		if err != nil {
			t.Fatalf("telling %s to answer /ping: %v", addr, err)
		}
		resp.Body.Close()
	}
	r := StartRouter(t, redisAddr)
	ping := func() int {
		req, _ := http.NewRequest("GET", r.URL+"/ping", nil)
		req.Host = app
		resp, err := routerClient.Do(req)
		if err != nil {
			return 0
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	testenv.Eventually(t, 30*time.Second, "the router routes revision 2", func() bool { return ping() == 200 })

	out = c.MustCall(t, "POST", "/"+app+"/deploy", `{"image":"`+v2+`","canary":30,"canary_auto":"15s","healthcheck":{"path":"/"}}`)
	if fmt.Sprint(out["revision"]) != "3" {
		t.Fatalf("canary deploy answered %v", out)
	}
	// Clients without the cookie until the canary is gone: about 30% of
	// them reach it and get 500.
	var sent, failed int
	reason := ""
	testenv.Eventually(t, 120*time.Second, "the canary aborted by itself", func() bool {
		for range 20 {
			sent++
			if ping() != 200 {
				failed++
			}
		}
		for _, e := range c.MustCall(t, "GET", "/"+app+"/history", "")["history"].([]any) {
			if h := e.(map[string]any); fmt.Sprint(h["revision"]) == "3" && h["status"] == "failed" {
				reason = fmt.Sprint(h["reason"])
				return true
			}
		}
		return false
	})
	t.Logf("%d requests, %d answered 500; revision 3: %s", sent, failed, reason)
	if failed == 0 {
		t.Fatalf("no request reached the failing canary in %d", sent)
	}
	for _, want := range []string{"canary answered", "% 5xx", "against ", "for revision 2", "more than 1 point above: aborted"} {
		if !strings.Contains(reason, want) {
			t.Fatalf("revision 3's reason %q does not say %q\n%s", reason, want, c.Log())
		}
	}
	if a := c.MustCall(t, "GET", "/apps/"+app, ""); strings.Contains(fmt.Sprint(a), "canary:map") || fmt.Sprint(a["description"].(map[string]any)["revision"]) != "2" {
		t.Fatalf("after the abort the app is %v", a)
	}
	testenv.Eventually(t, 30*time.Second, "every request on revision 2", func() bool {
		for range 50 {
			if ping() != 200 {
				return false
			}
		}
		return true
	})
}
