//go:build integration

package integration

import (
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/longshoreman/longshoreman/internal/testenv"
)

// TestDashboardTraffic: traffic through a router process shows on the
// app's page as a chart of requests/s, p99 latency and error rate with the
// deploy and a canary's start and abort marked on its time axis, and as a sparkline on the cluster view;
// the page is kept as docs/ui-traffic.png (-update).
func TestDashboardTraffic(t *testing.T) {
	t.Parallel()
	hosts := testenv.Hosts(t)
	redis := testenv.Redis(t)
	c, _ := serveUI(t, map[string]string{"LONGSHOREMAN_CHANNEL": testChannel(t), "LONGSHOREMAN_ROUTES_KEY": testRoutesKey, "LONGSHOREMAN_REPUBLISH": "1s"})
	addHosts(t, c, hosts...)
	r := StartRouter(t, redis)
	app := testenv.App(t, "traffic-ui")
	mustCall(t, c, "POST", "/apps/"+app+"/deploy", `{"image":"`+testenv.Image(t, "1")+`","count":2}`)
	r.WaitRoutes(t, app, 60*time.Second)
	// A canary started and aborted: its two marks.
	mustCall(t, c, "POST", "/apps/"+app+"/deploy", `{"image":"`+testenv.Image(t, "2")+`","canary":20}`)
	mustCall(t, c, "POST", "/apps/"+app+"/abort", `{"reason":"marks"}`)
	for i := range 80 {
		path, want := "/", 200
		if i%8 == 0 {
			path, want = "/file?path=/", 500
		}
		if status, _, body := edgeCall(t, routerClient, r.URL, app, "GET", path, "", "", false); status != want {
			t.Fatalf("GET %s: %d %q, want %d", path, status, body, want)
		}
	}
	testenv.Eventually(t, 30*time.Second, "the controller has the traffic", func() bool {
		out := mustCall(t, c, "GET", "/apps/"+app+"/traffic?since=1h", "")
		n, _ := out["requests"].(float64)
		return n >= 80
	})

	shots := t.TempDir()
	b := newBrowser(t, 1280, 900)
	b.Open("opening the dashboard", c.URL()+"/ui/")
	b.Do("the sign-in form", chromedp.WaitVisible(css("#token")))
	b.Do("signing in", chromedp.SendKeys(css("#token"), uiToken), chromedp.Click(css("#signin-form button[type=submit]")))
	b.Wait("the app's sparkline", `document.querySelector('#apps-body td[data-traffic=`+js(app)+`] svg.sparkline polyline')`, 30*time.Second)
	b.Do("opening the app", chromedp.Click(css(`#apps-body a[href="#/apps/`+app+`"]`)))
	b.Wait("the chart's three lines", `document.querySelectorAll('#traffic-chart polyline').length === 3`, 30*time.Second)
	b.Wait("the deploy marked", `document.querySelector('#traffic-chart .c-mark[data-revision="1"] line')`, 30*time.Second)
	canary := evalJS[string](b, `[...document.querySelectorAll('#traffic-chart .c-mark.c-canary[data-revision="2"] title')].map(e => e.textContent.split(' of ')[0]).join('|')`)
	if canary != "canary start (20%)|canary abort" {
		t.Errorf("the canary's marks: %q, want its start and its abort", canary)
	}
	summary := evalJS[string](b, `document.getElementById('traffic-summary').textContent`)
	if !strings.Contains(summary, "% errors") || !strings.Contains(summary, "requests") {
		t.Errorf("the traffic summary: %q", summary)
	}
	// The error-rate line rises above its baseline somewhere: 1 in 8 failed.
	if top := evalJS[bool](b, `[...document.querySelector('#traffic-chart polyline[data-panel=error_rate]').points].some(p => p.y < 343)`); !top {
		t.Errorf("the error-rate line stays at 0")
	}
	if bad := consoleErrors(b); len(bad) > 0 {
		t.Errorf("console errors: %s", strings.Join(bad, "\n"))
	}
	b.Screenshot(shots, "ui-traffic.png")
	t.Logf("traffic summary on the page: %s", summary)
}

// consoleErrors returns the page's console errors and exceptions.
func consoleErrors(b *browser) []string {
	console := b.Console()
	noise := networkNoise(console)
	var bad []string
	for _, m := range console {
		if !noise(m) && (strings.HasPrefix(m, "error") || strings.HasPrefix(m, "exception")) {
			bad = append(bad, m)
		}
	}
	return bad
}

// networkNoise returns whether a console line of console is Chromium's, not
// the page's: Chromium aborts the requests under way when the machine's
// network interfaces change (Docker adds and removes one per container),
// logging ERR_NETWORK_CHANGED, and the page's fetch then fails; the page
// loads again or refreshes again.
func networkNoise(console []string) func(m string) bool {
	changed := slices.ContainsFunc(console, func(m string) bool { return strings.Contains(m, "ERR_NETWORK_CHANGED") })
	return func(m string) bool {
		return strings.Contains(m, "ERR_NETWORK_CHANGED") || changed && strings.Contains(m, "TypeError: Failed to fetch")
	}
}
