//go:build integration

package integration

import (
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/longshoreman/longshoreman/internal/testenv"
)

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
