//go:build integration

package integration

import (
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/longshoreman/longshoreman/internal/testenv"
)

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
