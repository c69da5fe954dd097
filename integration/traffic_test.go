//go:build integration

package integration

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/longshoreman/longshoreman/internal/testenv"
)

// trafficOf reads GET /apps/:app/traffic?since=1h&instances=true.
func trafficOf(t *testing.T, c *Controller, app string) map[string]any {
	t.Helper()
	return c.MustCall(t, "GET", "/apps/"+app+"/traffic?since=1h&instances=true", "")
}

func figure(m map[string]any, k string) int {
	v, _ := m[k].(float64)
	return int(v)
}

// TestTrafficTwoRouters: known traffic through two router processes, N
// requests of which M answered 500 by the app (GET /file of a folder),
// adds up in the controller's GET /apps/:app/traffic within 10 s: the
// requests, the errors, the error rate, and each instance's share. Each
// router's own metrics count its half.
func TestTrafficTwoRouters(t *testing.T) {
	t.Parallel()
	c, redisAddr := controllerOwnRedis(t)
	one, two := StartRouter(t, redisAddr), StartRouter(t, redisAddr)
	app := testenv.App(t, "traffic")
	c.MustCall(t, "POST", "/apps/"+app+"/deploy", `{"image":"`+testenv.Image(t, "1")+`","count":2}`)
	for _, r := range []*Router{one, two} {
		r.WaitRoutes(t, app, 60*time.Second)
	}
	// The probes above are counted too: wait until their summaries are
	// all in (each router sends every 5 s), then take them as the base.
	var base map[string]any
	prev := -1
	testenv.Eventually(t, 60*time.Second, "the probes' figures settle", func() bool {
		base = trafficOf(t, c, app)
		n := figure(base, "requests")
		settled := n > 0 && n == prev
		prev = n
		if !settled {
			time.Sleep(6 * time.Second)
		}
		return settled
	})
	baseReq, baseErr := figure(base, "requests"), figure(base, "errors")

	const perRouter, failPerRouter = 60, 15
	for _, r := range []*Router{one, two} {
		for i := range perRouter {
			path, want := "/", 200
			if i < failPerRouter {
				path, want = "/file?path=/", 500 // reading a folder fails
			}
			if status, _, body := edgeCall(t, routerClient, r.URL, app, "GET", path, "", "", false); status != want {
				t.Fatalf("GET %s through %s: %d %q, want %d", path, r.URL, status, body, want)
			}
		}
	}
	n, m := 2*perRouter, 2*failPerRouter
	wantReq, wantErr := baseReq+n, baseErr+m
	var got map[string]any
	deadline := time.Now().Add(10 * time.Second)
	for {
		got = trafficOf(t, c, app)
		if figure(got, "requests") >= wantReq || time.Now().After(deadline) {
			break
		}
		time.Sleep(250 * time.Millisecond)
	}
	if figure(got, "requests") != wantReq || figure(got, "errors") != wantErr {
		t.Fatalf("traffic within 10 s: %d requests, %d errors; want %d and %d (%d before)\n%v", figure(got, "requests"), figure(got, "errors"), wantReq, wantErr, baseReq, got)
	}
	rate, _ := got["error_rate"].(float64)
	if want := float64(wantErr) / float64(wantReq); rate < want-1e-9 || rate > want+1e-9 {
		t.Errorf("error rate %v, want %v", rate, want)
	}
	if answers, _ := got["answers"].(map[string]any); figure(answers, "5xx") != wantErr {
		t.Errorf("answers by class: %v; want %d 5xx", answers, wantErr)
	}
	if p99, _ := got["p99"].(float64); p99 <= 0 {
		t.Errorf("p99 %v, want above 0", p99)
	}
	points, _ := got["points"].([]any)
	var inPoints int
	for _, p := range points {
		inPoints += figure(p.(map[string]any), "requests")
	}
	if len(points) != 360 || inPoints != wantReq {
		t.Errorf("%d points holding %d requests; want 360 holding %d", len(points), inPoints, wantReq)
	}
	instances, _ := got["instances"].(map[string]any)
	var inInstances int
	for _, v := range instances {
		inInstances += figure(v.(map[string]any), "requests")
	}
	if len(instances) != 2 || inInstances != wantReq {
		t.Errorf("instances %v: want 2 holding %d requests", instances, wantReq)
	}
	for _, r := range []*Router{one, two} {
		metrics := routerMetrics(t, r)
		var errs int
		for l := range strings.SplitSeq(metrics, "\n") {
			if strings.HasPrefix(l, fmt.Sprintf(`longshoreman_router_requests_total{app=%q,class="5xx"} `, app)) {
				fmt.Sscanf(l[strings.LastIndexByte(l, ' ')+1:], "%d", &errs)
			}
		}
		if errs != failPerRouter {
			t.Errorf("router %s counts %d 5xx, want %d:\n%s", r.URL, errs, failPerRouter, metrics)
		}
	}
}
