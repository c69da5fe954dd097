//go:build integration

package cli_test

import (
	"fmt"
	"os"
	"regexp"
	"strings"
	"testing"
	"text/tabwriter"

	"github.com/longshoreman/longshoreman/internal/testenv"
)

// testImages tags the test app's versions 1 and 2 under a loopback
// registry name and returns their references, so the controller's pull
// never leaves the machine: pushed to the local registry when the test
// environment has one, else the pull fails on a closed loopback port and
// the local copy is used.
func testImages(t *testing.T) (v1, v2, missing string) {
	t.Helper()
	repo := "127.0.0.1:1/longshoreman-cli-test"
	registry := os.Getenv(testenv.EnvRegistry)
	if registry != "" {
		repo = registry + "/longshoreman-cli-test"
	}
	for _, v := range []string{"1", "2"} {
		testenv.Docker(t, "tag", testenv.Image(t, v), repo+":"+v)
		if registry != "" {
			testenv.Docker(t, "push", "-q", repo+":"+v)
		}
	}
	return repo + ":1", repo + ":2", repo + ":missing"
}

// TestDeployLifecycle drives an app through its life on the test hosts
// with the CLI: deploy with progress, tables, env changes, a failed
// deploy, rollback, scale, logs, kill, removal.
func TestDeployLifecycle(t *testing.T) {
	hosts := testenv.Hosts(t)
	port := testenv.DockerPort(t)
	v1, v2, missing := testImages(t)
	const app = "shop.example.com"
	t.Cleanup(func() { testenv.RemoveContainers(t, app) })
	testenv.RemoveContainers(t, app)

	// With Redis, old instances retire as soon as the routers were told.
	env := []string{fmt.Sprintf("DOCKER_PORT=%d", port)}
	if redis := os.Getenv(testenv.EnvRedis); redis != "" {
		host, rport, _ := strings.Cut(redis, ":")
		env = append(env, "REDIS_HOST="+host, "REDIS_PORT="+rport, "LONGSHOREMAN_CHANNEL="+app+".routes")
	}
	c := startController(t, env...)
	u := newCLI(t, c)
	for _, h := range hosts {
		u.ok("hosts:add", h)
	}

	out := u.ok("--app", app, "deploy", v1, "--count", "2")
	step := regexp.MustCompile(`(?m)^ +\d+\.\ds  (\S+) +(\S+)`)
	seen := map[string]bool{}
	for _, m := range step.FindAllStringSubmatch(out, -1) {
		seen[m[1]+" "+m[2]] = true
	}
	for _, want := range []string{"revision -", "pulling 127.0.0.1", "started 127.0.0.2", "healthy 127.0.0.1", "routed 127.0.0.2"} {
		if !seen[want] {
			t.Errorf("deploy progress lacks a %q step:\n%s", want, out)
		}
	}
	if !regexp.MustCompile(`(?m)^Deployed .*:1 to shop.example.com: revision 1, 2 instances, in \d+\.\ds\n  127.0.0.1:\d+\n  127.0.0.2:\d+\n$`).MatchString(out) {
		t.Errorf("deploy summary:\n%s", out)
	}
	golden(t, "instances/two", anyHost(regexp.MustCompile(`(?m)  \d{5}$`).ReplaceAllString(u.ok("-a", app, "instances"), "  PPPPP")))
	golden(t, "status/deployed", withImages(statusWithoutHostDetail(u.ok("status")), v1, v2, missing))

	u.ok("-a", app, "envs:set", "GREETING=hello world")
	u.ok("-a", app, "deploy", v2, "--memory", "64m", "--cpus", "0.5")
	inst := strings.Fields(u.ok("-a", app, "instances"))[3] // the first row's INSTANCE
	if _, body := testenv.HTTPGet(t, inst, "/env/GREETING", 5e9); !strings.Contains(body, "hello world") {
		t.Errorf("GET /env/GREETING on %s after envs:set: %q", inst, body)
	}

	golden(t, "describe/deployed", anyHost(withImages(u.ok("describe"), v1, v2, missing)))

	u.ok("-a", app, "rollback", "2")
	inst = strings.Fields(u.ok("-a", app, "instances"))[3]
	if _, body := testenv.HTTPGet(t, inst, "/", 5e9); !strings.Contains(body, "version=1") {
		t.Errorf("GET / on %s after rollback to revision 2: %q", inst, body)
	}
	golden(t, "history/rollback", withImages(u.ok("history", "--app", app), v1, v2, missing))
	u.fails([]string{"-a", app, "rollback", "99"}, "99")

	out = u.ok("-a", app, "scale", "3")
	if !strings.Contains(out, "Scaled shop.example.com: revision 4, 3 instances") {
		t.Errorf("scale 3:\n%s", out)
	}

	// A deploy that fails: the server's reason, exit 1, the old instances
	// keep serving.
	u.fails([]string{"-a", app, "deploy", missing}, missing)
	if n := strings.Count(u.ok("-a", app, "instances"), "\n"); n != 4 {
		t.Errorf("after a failed deploy: %d lines of instances, want a header and 3", n)
	}
	if logs := u.ok("-a", app, "logs"); !strings.Contains(logs, "GET /ping") {
		t.Errorf("logs lack the health checks:\n%s", logs)
	}
	u.ok("-a", app, "kill")
	if out := u.ok("describe", "--csv", "-a", app); !strings.Contains(out, "shop.example.com,4,") || !strings.Contains(out, ",0,3000,,") {
		t.Errorf("describe --csv after kill: %q", out)
	}
	u.ok("apps:rm", app)
	if ids := testenv.Docker(t, "ps", "-aq", "--filter", "label=longshoreman.app="+app); ids != "" {
		t.Errorf("containers left after apps:rm: %s", ids)
	}
}

// withImages replaces the test images, whose registry varies, with fixed
// names, drops the reason of a failed revision (the registry's wording),
// and aligns the table again for the new widths.
func withImages(s, v1, v2, missing string) string {
	s = strings.NewReplacer(missing, "IMAGE:missing", v1, "IMAGE:1", v2, "IMAGE:2").Replace(s)
	s = regexp.MustCompile(`(?m)  failed: .*$`).ReplaceAllString(s, "  failed: ...")
	s = regexp.MustCompile(` {2,}`).ReplaceAllString(s, "\t")
	var b strings.Builder
	tw := tabwriter.NewWriter(&b, 0, 8, 2, ' ', 0)
	tw.Write([]byte(s))
	tw.Flush()
	return b.String()
}

// anyHost hides which test host an instance landed on: placement is the
// scheduler's business, tested there.
func anyHost(s string) string {
	return regexp.MustCompile(`127\.0\.0\.\d\b`).ReplaceAllString(normalize(s), "127.0.0.N")
}
