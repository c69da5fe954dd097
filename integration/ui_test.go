//go:build integration

package integration

import (
	"context"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/longshoreman/longshoreman/cluster"
	"github.com/longshoreman/longshoreman/internal/testenv"
)

var update = flag.Bool("update", false, "refresh the dashboard screenshots under docs/")

// browser is a headless Chromium tab, with every console message and
// uncaught exception of the page kept for the test to check.
type browser struct {
	t   *testing.T
	ctx context.Context

	mu      sync.Mutex // guards console
	console []string
}

func newBrowser(t *testing.T, width, height int) *browser {
	t.Helper()
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(testenv.Chromium(t)),
		chromedp.Headless, chromedp.NoSandbox, chromedp.Flag("disable-dev-shm-usage", true),
		chromedp.WindowSize(width, height),
	)
	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancel := chromedp.NewContext(actx)
	t.Cleanup(func() { cancel(); cancelAlloc() })
	b := &browser{t: t, ctx: ctx}
	// The first Run starts the browser; it must not have a timeout.
	if err := chromedp.Do(ctx); err != nil {
		t.Fatalf("starting %s: %v", testenv.Chromium(t), err)
	}
	messages := chromedp.Console(ctx)
	go func() {
		for m, err := range messages {
			if err != nil {
				return
			}
			b.mu.Lock()
			b.console = append(b.console, fmt.Sprintf("%s: %s (%s:%d)", m.Type, m.Text, m.URL, m.Line))
			b.mu.Unlock()
		}
	}()
	return b
}

// Console returns what the page wrote to the console so far.
func (b *browser) Console() []string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return append([]string(nil), b.console...)
}

// Do runs actions, failing the test with the page's console on an error.
//
// A single action on an element (a click) is tried again when the page
// replaced that element between finding and using it, as a list the page
// renders anew on every event does: nothing was done to it yet.
func (b *browser) Do(what string, actions ...chromedp.Action[chromedp.Void]) {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, 60*time.Second)
	defer cancel()
	for {
		err := chromedp.Do(ctx, actions...)
		if err == nil {
			return
		}
		if len(actions) == 1 && staleNode(err) && ctx.Err() == nil {
			b.t.Logf("%s: the element was replaced (%v); again", what, err)
			time.Sleep(50 * time.Millisecond)
			continue
		}
		b.t.Fatalf("%s: %v\nconsole:\n%s", what, err, strings.Join(b.Console(), "\n"))
	}
}

// Open loads url and waits until the page's modules ran. Chromium fails
// the loads of a page when the machine's network changes under it (a
// container's interface added or removed: ERR_NETWORK_CHANGED), which
// leaves the page without its scripts; Open loads it again then.
func (b *browser) Open(what, url string) {
	b.t.Helper()
	for try := 1; ; try++ {
		b.Do(what, chromedp.Navigate(url))
		ctx, cancel := context.WithTimeout(b.ctx, 20*time.Second)
		_, err := chromedp.Run(ctx, chromedp.Poll[bool]("document.documentElement.dataset.ready === 'true'", chromedp.WithPollingInterval(50*time.Millisecond), chromedp.WithPollingTimeout(15*time.Second)))
		cancel()
		if err == nil {
			return
		}
		if try == 3 {
			b.t.Fatalf("%s: the page's scripts did not run after %d loads: %v\nconsole:\n%s", what, try, err, strings.Join(b.Console(), "\n"))
		}
		b.t.Logf("%s: the page's scripts did not run (%v); loading it again", what, err)
	}
}

// staleNode reports whether err says that the element an action found
// left the document before the action used it.
func staleNode(err error) bool {
	msg := err.Error()
	return strings.Contains(msg, "Could not find node with given id") || strings.Contains(msg, "No node with given id") ||
		strings.Contains(msg, "Node with given id does not belong to the document") || strings.Contains(msg, "Node is detached from document")
}

// Wait polls the JavaScript expression until it is true.
func (b *browser) Wait(what, expr string, timeout time.Duration) {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, timeout+10*time.Second)
	defer cancel()
	start := time.Now()
	_, err := chromedp.Run(ctx, chromedp.Poll[bool]("!!("+expr+")", chromedp.WithPollingInterval(100*time.Millisecond), chromedp.WithPollingTimeout(timeout)))
	if err != nil {
		body, _ := chromedp.Run(b.ctx, chromedp.Evaluate[string](`document.getElementById('main').innerText`))
		b.t.Fatalf("waiting %s for %s: %v\npage:\n%s\nconsole:\n%s", timeout, what, err, body, strings.Join(b.Console(), "\n"))
	}
	b.t.Logf("%s after %s", what, time.Since(start).Round(time.Millisecond))
}

// Eval returns the value of a JavaScript expression.
func evalJS[T any](b *browser, expr string) T {
	b.t.Helper()
	v, err := chromedp.Run(b.ctx, chromedp.Evaluate[T](expr))
	if err != nil {
		b.t.Fatalf("evaluating %s: %v", expr, err)
	}
	return v
}

// Screenshot writes the whole page to dir/name, and with -update to docs/.
func (b *browser) Screenshot(dir, name string) {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, 60*time.Second)
	defer cancel()
	png, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
	if err != nil {
		b.t.Fatalf("screenshot %s: %v", name, err)
	}
	if err := os.WriteFile(filepath.Join(dir, name), png, 0o644); err != nil {
		b.t.Fatal(err)
	}
	if *update {
		if err := os.WriteFile(filepath.Join("docs", name), png, 0o644); err != nil {
			b.t.Fatal(err)
		}
	}
	b.t.Logf("screenshot %s", filepath.Join(dir, name))
}

func css(sel string) chromedp.CSS { return chromedp.CSS(sel) }

// js quotes s as a JavaScript string.
func js(s string) string { return fmt.Sprintf("%q", s) }

// TestDashboard drives the dashboard in headless Chromium against a real
// controller, Docker hosts and the test app, as a person would: sign in,
// deploy from the form, watch an instance killed with docker kill come
// back, set an env, roll back, see a failed deploy's reason, sign out.
func TestDashboard(t *testing.T) {
	t.Parallel()
	hosts := testenv.Hosts(t)
	image1, image2 := testenv.Image(t, "1"), testenv.Image(t, "2")
	_ = image2
	// The app with a volume, deployed near the end. Its cleanup is
	// registered before the controller starts, so that it runs once the
	// controller has stopped: a controller still running repairs the
	// instance the cleanup removes, and the new container holds the volume.
	data := testenv.UniqueApp(t, "ui-data")
	t.Cleanup(func() {
		testenv.RemoveContainers(t, data)
		testenv.Docker(t, "volume", "rm", "-f", cluster.VolumeName(data, "files"))
	})
	c, log := serveUI(t, nil)
	addHosts(t, c, hosts...)
	app := testenv.App(t, "shop")
	shots := t.TempDir()

	b := newBrowser(t, 1280, 900)
	b.Open("opening the dashboard", c.URL()+"/ui/")
	b.Do("the sign-in form", chromedp.WaitVisible(css("#token")))
	b.Do("marking the page", chromedp.Evaluate[chromedp.Void](`window.notReloaded = true`))

	// A wrong token, sent with the keyboard.
	b.Do("a wrong token", chromedp.SendKeys(css("#token"), "not-the-token-0000\r"))
	b.Wait(`"Invalid token"`, `document.getElementById('signin-error').textContent === 'Invalid token'`, 20*time.Second)
	if n := evalJS[int](b, `sessionStorage.length`); n != 0 {
		t.Fatalf("a wrong token was kept: sessionStorage has %d items", n)
	}

	b.Do("typing the token", chromedp.Evaluate[chromedp.Void](`document.getElementById('token').value = ''`), chromedp.SendKeys(css("#token"), uiToken))
	b.Do("signing in", chromedp.Click(css("#signin-form button[type=submit]")))
	b.Wait("the hosts listed", fmt.Sprintf(`document.querySelectorAll('#hosts-body tr[data-host]').length === %d`, len(hosts)), 30*time.Second)
	b.Wait("the hosts' memory", `[...document.querySelectorAll('#hosts-body tr[data-host] td:nth-child(4)')].every(td => /iB$/.test(td.textContent))`, 30*time.Second)
	b.Wait("the event stream live", `document.getElementById('live').textContent === 'live'`, 30*time.Second)

	// Deploy from the form; the steps appear as they happen.
	b.Do("filling the deploy form",
		chromedp.SetValue(css("#deploy-app"), app), chromedp.SetValue(css("#deploy-image"), image1),
		chromedp.SetValue(css("#deploy-count"), "2"), chromedp.Click(css("#deploy-submit")))
	b.Wait("a first step shown while the deploy runs", `document.querySelector('#deploy-steps li') && !document.getElementById('deploy-status').textContent.startsWith('Revision')`, 60*time.Second)
	b.Wait("the steps reaching routed", `document.querySelectorAll('#deploy-steps li[data-step=routed]').length === 2`, 120*time.Second)
	b.Wait("the deploy's outcome", `document.getElementById('deploy-status').textContent.startsWith('Revision 1 is live')`, 60*time.Second)
	b.Wait("the app listed healthy", `[...document.querySelectorAll('#apps-body tr')].some(r => r.dataset.app === `+js(app)+` && r.querySelector('.healthy').textContent === '2/2')`, 30*time.Second)
	b.Wait("the deploy in the event list", `document.querySelector('#events li[data-type=revision][data-step=succeeded]')`, 30*time.Second)
	b.Screenshot(shots, "ui-cluster.png")
	b.Do("a phone's width", chromedp.EmulateViewport(375, 800))
	b.Wait("the cluster view within 375px", `document.documentElement.scrollWidth <= 375`, 10*time.Second)
	b.Do("back to the desktop", chromedp.EmulateViewport(1280, 900))

	// The app's page shows its instances.
	b.Do("opening the app", chromedp.Click(css(`#apps-body a[href="#/apps/`+app+`"]`)))
	b.Wait("two healthy instances", `document.querySelectorAll('#instances-body tr[data-health=healthy]').length === 2`, 30*time.Second)
	insts, err := c.Store().Instances(app)
	if err != nil || len(insts) != 2 {
		t.Fatalf("instances of %s: %v %v", app, insts, err)
	}
	killed := insts[0]

	// docker kill: the page shows the instance leave, then a new one
	// healthy, without a reload.
	testenv.Docker(t, "kill", killed.ID)
	b.Wait("the killed instance no longer healthy", `!document.querySelector('#instances-body tr[data-instance=`+js(killed.Addr())+`][data-health=healthy]')`, 30*time.Second)
	b.Wait("two healthy instances again", `document.querySelectorAll('#instances-body tr[data-health=healthy]').length === 2 && !document.querySelector('#instances-body tr[data-instance=`+js(killed.Addr())+`]')`, 90*time.Second)
	// Died, from the host's event stream or the pass that replaced it; or,
	// when its failed health checks unrouted it before either saw the
	// death (a busy machine), unrouted.
	b.Wait("the death in the event list", `document.querySelector('#events li[data-type=instance][data-step=died]') || [...document.querySelectorAll('#events li[data-type=instance][data-step=unrouted]')].some(li => li.textContent.includes(`+js(killed.Addr())+`))`, 30*time.Second)

	// Set an env: a new revision; the value hidden until revealed.
	b.Do("setting an env", chromedp.SetValue(css("#env-key"), "COLOR"), chromedp.SetValue(css("#env-value"), "blue"), chromedp.Click(css("#env-form button[type=submit]")))
	b.Wait("revision 2", `document.getElementById('app-revision').textContent === '2'`, 120*time.Second)
	b.Wait("the env listed", `document.querySelector('#envs-body tr[data-env=COLOR]')`, 30*time.Second)
	// The change's steps, listed above the envs as they come, move the
	// Reveal button until the change ends: a click before may miss it.
	b.Wait("the env change's outcome", `document.getElementById('op-status').textContent.startsWith('Revision 2 is live')`, 120*time.Second)
	if v := evalJS[string](b, `document.querySelector('#envs-body tr[data-env=COLOR] td').textContent`); strings.Contains(v, "blue") {
		t.Fatalf("the env's value is shown before it is revealed: %q", v)
	}
	b.Do("revealing the env", chromedp.Click(css("#reveal-COLOR")))
	b.Wait("the env's value revealed", `document.querySelector('#envs-body tr[data-env=COLOR] td').textContent === 'blue'`, 10*time.Second)

	// Roll back to revision 1, confirming in the dialog.
	b.Do("rolling back", chromedp.Click(css("#rollback-1")))
	b.Wait("the confirmation", `document.getElementById('confirm').open`, 10*time.Second)
	b.Do("confirming", chromedp.Click(css("#confirm-ok")))
	b.Wait("revision 3 current", `document.getElementById('app-revision').textContent === '3' && document.querySelector('#history-body tr[data-revision="3"].current')`, 120*time.Second)
	b.Wait("the rollback's outcome", `document.getElementById('op-status').textContent.startsWith('Revision 3 is live')`, 120*time.Second)

	// Maintenance, turned on through the API, shows on the app's page at
	// once (its event refreshes the view), with its message, and goes.
	mustCall(t, c, "POST", "/apps/"+app+"/maintenance", `{"enabled":true,"message":"Back soon, from the dashboard test."}`)
	b.Wait("maintenance shown on the app's page", `document.getElementById('app-maintenance')?.textContent.includes('Back soon, from the dashboard test.')`, 30*time.Second)
	b.Wait("the maintenance event listed", `document.querySelector('#events li[data-type=app][data-step=maintenance]')`, 10*time.Second)
	mustCall(t, c, "POST", "/apps/"+app+"/maintenance", `{"enabled":false}`)
	b.Wait("maintenance gone from the app's page", `!document.getElementById('app-maintenance')`, 30*time.Second)
	// A scheduled job: its next run, then its last run's outcome and exit
	// code, without a reload.
	// Every 10s, longer than a run takes on a loaded machine: the last run
	// shown is then the one that ended until the next starts (a run still
	// going when the next is due makes that one a skip).
	mustCall(t, c, "POST", "/apps/"+app+"/jobs", `{"name":"tick","schedule":"@every 10s","command":["echo","tick"]}`)
	b.Wait("the job listed with its next run", `document.querySelector('#jobs-body tr[data-job=tick] td:nth-child(3) time')`, 30*time.Second)
	b.Wait("the job's last run succeeded", `document.querySelector('#jobs-body tr[data-job=tick] .b-succeeded') && document.querySelector('#jobs-body tr[data-job=tick] td:nth-child(6)').textContent === '0'`, 60*time.Second)
	mustCall(t, c, "DELETE", "/apps/"+app+"/jobs/tick", "")

	// A deploy whose health check never passes: its reason, with the
	// container's last log lines, in the form and the history.
	// The page draws its forms anew on events (the job's runs, the audit
	// of its removal): a form filled and sent while that happens may be
	// lost before it is sent; it is sent again then, as a person would.
	for try := 1; ; try++ {
		b.Do("a deploy that fails",
			chromedp.SetValue(css("#app-deploy-health"), "/no-such-health-check"), chromedp.SetValue(css("#app-deploy-timeout"), "3s"),
			chromedp.Click(css("#app-deploy-submit")))
		ctx, cancel := context.WithTimeout(b.ctx, 15*time.Second)
		_, err := chromedp.Run(ctx, chromedp.Poll[bool](`!!(document.getElementById('app-deploy-status')?.textContent || document.querySelector('#history-body tr[data-revision="4"]'))`,
			chromedp.WithPollingInterval(50*time.Millisecond), chromedp.WithPollingTimeout(10*time.Second)))
		cancel()
		if err == nil || try == 3 {
			break
		}
		t.Logf("the failing deploy did not start (%v); sending the form again", err)
	}
	b.Wait("the failure's reason", `document.getElementById('app-deploy-status').className === 'error' && document.getElementById('app-deploy-status').textContent.length > 20`, 120*time.Second)
	b.Wait("the failed revision's reason in the history", `document.querySelector('#history-body tr[data-revision="4"] .b-failed') && document.querySelector('#history-body tr[data-revision="4"] pre.reason')`, 30*time.Second)
	reason := evalJS[string](b, `document.querySelector('#history-body tr[data-revision="4"] pre.reason').textContent`)
	t.Logf("failed deploy's reason: %s", reason)
	if !strings.Contains(reason, "/no-such-health-check") {
		t.Fatalf("the failed deploy's reason does not name the health check: %q", reason)
	}
	b.Do("refreshing the logs", chromedp.Click(css("#logs-refresh")))
	b.Wait("the logs shown", `document.getElementById('logs').textContent.length > 0 && document.getElementById('logs').textContent !== 'Loading…'`, 30*time.Second)
	b.Do("scrolling to the top", chromedp.Evaluate[chromedp.Void](`window.scrollTo(0, 0)`))
	b.Screenshot(shots, "ui-app.png")

	// At 375 px wide nothing overflows the page sideways.
	b.Do("a phone's width", chromedp.EmulateViewport(375, 800))
	b.Wait("the app view within 375px", `document.documentElement.scrollWidth <= 375`, 10*time.Second)
	b.Do("back to the desktop", chromedp.EmulateViewport(1280, 900))

	// Scaling down stops instances: it asks first, and Cancel changes
	// nothing.
	b.Do("scaling to 1", chromedp.SetValue(css("#scale-count"), "1"), chromedp.Click(css("#scale-form button[type=submit]")))
	b.Wait("the confirmation", `document.getElementById('confirm').open`, 10*time.Second)
	b.Do("cancelling", chromedp.Click(css("#confirm-cancel")))
	b.Wait("the dialog closed", `!document.getElementById('confirm').open`, 10*time.Second)
	if n := evalJS[string](b, `document.getElementById('app-healthy').textContent`); n != "2/2" {
		t.Fatalf("a cancelled scale changed the app: %s", n)
	}
	b.Do("scaling to 1 again", chromedp.Click(css("#scale-form button[type=submit]")))
	b.Wait("the confirmation", `document.getElementById('confirm').open`, 10*time.Second)
	b.Do("confirming", chromedp.Click(css("#confirm-ok")))
	b.Wait("one instance", `document.getElementById('app-healthy').textContent === '1/1' && document.querySelectorAll('#instances-body tr[data-instance]').length === 1`, 60*time.Second)
	b.Do("killing", chromedp.Click(css("#kill")))
	b.Wait("the confirmation", `document.getElementById('confirm').open`, 10*time.Second)
	b.Do("confirming", chromedp.Click(css("#confirm-ok")))
	b.Wait("the app stopped", `document.getElementById('app-healthy').textContent === '0/0' && !document.querySelector('#instances-body tr[data-instance]')`, 60*time.Second)

	// Add a host, then drain it.
	extra := testenv.FaultHost(t)
	b.Do("back to the cluster", chromedp.Click(css(`a[href="#/"]`)))
	b.Do("adding a host", chromedp.SetValue(css("#host-add-addr"), extra), chromedp.Click(css("#host-add-form button[type=submit]")))
	b.Wait("the new host listed", `document.querySelector('#hosts-body tr[data-host=`+js(extra)+`]')`, 30*time.Second)
	b.Do("draining it", chromedp.Click(css("#drain-"+strings.ReplaceAll(extra, ".", `\.`))))
	b.Wait("the confirmation", `document.getElementById('confirm').open`, 10*time.Second)
	b.Do("confirming", chromedp.Click(css("#confirm-ok")))
	b.Wait("the host gone", `!document.querySelector('#hosts-body tr[data-host=`+js(extra)+`]') && document.querySelectorAll('#hosts-body tr[data-host]').length === `+fmt.Sprint(len(hosts)), 60*time.Second)

	// An app with a volume shows it on its page, with its pinned host.
	mustCall(t, c, "POST", "/apps/"+data+"/deploy", `{"image":"`+image1+`","count":1,"volumes":["files:/data"],"hosts":["`+hosts[0]+`"]}`)
	b.Wait("the app with a volume listed", `document.querySelector('#apps-body a[href="#/apps/`+data+`"]')`, 30*time.Second)
	b.Do("opening it", chromedp.Click(css(`#apps-body a[href="#/apps/`+data+`"]`)))
	b.Wait("its volume and host shown", `(document.getElementById('app-volumes')?.textContent || '').includes('files:/data') && document.getElementById('app-volumes').textContent.includes(`+js(hosts[0])+`)`, 30*time.Second)
	b.Do("back to the cluster", chromedp.Click(css(`a[href="#/"]`)))

	// The audit log lists the changes made from the page, by the API
	// token, the env's key without its value; its filter narrows it.
	b.Do("opening the audit log", chromedp.Click(css(`a[href="#/audit"]`)))
	b.Wait("the deploy in the audit log", `[...document.querySelectorAll('#audit-body tr[data-operation=deploy]')].some(r => r.dataset.app === `+js(app)+` && r.dataset.token === 'root')`, 30*time.Second)
	b.Wait("the env set with its key", `[...document.querySelectorAll('#audit-body tr[data-operation="envs:set"]')].some(r => r.dataset.app === `+js(app)+` && r.textContent.includes('key=COLOR'))`, 10*time.Second)
	if v := evalJS[string](b, `document.getElementById('audit-body').textContent`); strings.Contains(v, "blue") {
		t.Fatalf("the audit log shows the env's value: %s", v)
	}
	b.Do("filtering by app", chromedp.SetValue(css("#audit-app"), data), chromedp.Click(css("#audit-form button[type=submit]")))
	b.Wait("only that app's entries", `document.querySelector('#audit-body tr[data-app]') && [...document.querySelectorAll('#audit-body tr')].every(r => r.dataset.app === `+js(data)+`)`, 10*time.Second)
	b.Do("back to the cluster", chromedp.Click(css(`a[href="#/"]`)))

	if !evalJS[bool](b, `window.notReloaded === true`) {
		t.Fatal("the page was reloaded during the test: the views must update themselves")
	}
	b.Do("signing out", chromedp.Click(css("#signout")))
	b.Wait("the sign-in form again", `!document.getElementById('signin').hidden && document.getElementById('view').hidden`, 10*time.Second)
	if n := evalJS[int](b, `sessionStorage.length`); n != 0 {
		t.Fatalf("sessionStorage holds %d items after signing out", n)
	}
	console := b.Console()
	noise := networkNoise(console)
	for _, m := range console {
		if strings.Contains(m, "status of 401") {
			continue // the wrong token's answer
		}
		if noise(m) {
			continue
		}
		if strings.HasPrefix(m, "error") || strings.HasPrefix(m, "exception") || strings.Contains(m, "Content Security Policy") {
			t.Errorf("the page logged: %s", m)
		}
	}
	if strings.Contains(log.String(), uiToken) {
		t.Fatalf("the token is in the controller's log")
	}
	if !strings.Contains(log.String(), "path=/overview") {
		t.Fatalf("the dashboard's requests are not in the log (is the log captured?)")
	}
}

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

// TestDashboardHidesWhatATokenCannotDo signs in to the dashboard in
// headless Chromium with scoped tokens: a read token's pages show no
// deploy or host control, nor the envs and logs of an app outside its
// list, nor the audit log; a deploy token limited to one app shows the deploy controls on
// that app's page only, and no host control anywhere.
func TestDashboardHidesWhatATokenCannotDo(t *testing.T) {
	t.Parallel()
	c, _ := serveUI(t, nil)
	mustCall(t, c, "POST", "/hosts", `{"host":"`+testenv.Hosts(t)[0]+`"}`)
	mine, other := testenv.UniqueApp(t, "mine"), testenv.UniqueApp(t, "other")
	for _, app := range []string{mine, other} {
		mustCall(t, c, "POST", "/apps", `{"app":"`+app+`"}`)
	}
	reader := mustCall(t, c, "POST", "/tokens", `{"name":"reader","scope":"read","apps":["`+mine+`"]}`)["token"].(string)
	deployer := mustCall(t, c, "POST", "/tokens", `{"name":"deployer","scope":"deploy","apps":["`+mine+`"]}`)["token"].(string)

	b := newBrowser(t, 1280, 900)
	signIn := func(token, who string) {
		t.Helper()
		b.Open("opening the dashboard", c.URL()+"/ui/")
		b.Do("the sign-in form", chromedp.WaitVisible(css("#token")))
		b.Do("signing in as "+who, chromedp.SendKeys(css("#token"), token+"\r"))
		b.Wait("the hosts listed", `document.querySelectorAll('#hosts-body tr[data-host]').length === 1`, 30*time.Second)
		b.Wait("the token named", `document.getElementById('whoami').textContent.startsWith(`+js(who)+`)`, 10*time.Second)
	}
	openApp := func(app string) {
		t.Helper()
		b.Do("opening "+app, chromedp.Click(css(`#apps-body a[href="#/apps/`+app+`"]`)))
		b.Wait("its page", `document.getElementById('app-title')?.textContent === `+js(app)+` && document.querySelector('#history-body') && document.getElementById('app-summary').children.length > 0`, 30*time.Second)
	}
	absent := func(what string, selectors ...string) {
		t.Helper()
		for _, sel := range selectors {
			if evalJS[bool](b, `!!document.querySelector(`+js(sel)+`)`) {
				t.Errorf("%s: %s is shown", what, sel)
			}
		}
	}
	hostControls := []string{"#host-add-form", "[id^=drain-]"}
	deployControls := []string{"#scale-form", "#kill", "#app-deploy-form", "#env-form", "[id^=unset-]", "[id^=rollback-]"}

	signIn(reader, "reader (read: "+mine+")")
	absent("a read token's cluster page", append(hostControls, "#deploy-form")...)
	if !evalJS[bool](b, `document.getElementById('nav-audit').hidden`) {
		t.Errorf("a read token's navigation shows the audit log, which takes an admin token")
	}
	openApp(mine)
	absent("a read token's page of its app", deployControls...)
	b.Wait("its logs readable", `document.getElementById('logs-refresh')`, 10*time.Second)
	b.Open("back to the cluster", c.URL()+"/ui/#/")
	b.Wait("the cluster page", `document.querySelector('#apps-body a[href="#/apps/`+other+`"]')`, 30*time.Second)
	openApp(other)
	absent("a read token's page of another app", append(deployControls, "#logs-refresh")...)
	b.Wait("its envs withheld", `document.getElementById('envs-body').textContent.includes('does not read the envs')`, 10*time.Second)
	b.Do("signing out", chromedp.Click(css("#signout")))

	signIn(deployer, "deployer (deploy: "+mine+")")
	absent("a deploy token's cluster page", hostControls...)
	b.Wait("the deploy form", `document.getElementById('deploy-form')`, 10*time.Second)
	openApp(mine)
	b.Wait("the deploy controls of its app", `document.getElementById('scale-form') && document.getElementById('app-deploy-form') && document.getElementById('env-form')`, 30*time.Second)
	b.Open("back to the cluster", c.URL()+"/ui/#/")
	b.Wait("the cluster page", `document.querySelector('#apps-body a[href="#/apps/`+other+`"]')`, 30*time.Second)
	openApp(other)
	absent("a deploy token's page of another app", deployControls...)
}
