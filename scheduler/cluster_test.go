//go:build integration

package scheduler_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/longshoreman/longshoreman/cluster"
	"github.com/longshoreman/longshoreman/db"
	"github.com/longshoreman/longshoreman/docker"
	"github.com/longshoreman/longshoreman/internal/testenv"
	"github.com/longshoreman/longshoreman/scheduler"
)

// TestCluster is a scheduler over a real store (a data file unless
// MustOpenClusterOn is given another) and the real Docker hosts of
// scripts/test. Its containers are removed when the test ends.
type TestCluster struct {
	*scheduler.Scheduler
	DB      cluster.Store
	Engines *docker.Engines
	Hosts   []string
	routes  sync.WaitGroup
}

func MustOpenCluster(tb testing.TB) *TestCluster {
	tb.Helper()
	testenv.Hosts(tb)
	d, err := db.Open(filepath.Join(tb.TempDir(), "ls.db"), db.Options{Create: true})
	if err != nil {
		tb.Fatal(err)
	}
	return MustOpenClusterOn(tb, d)
}

// MustOpenClusterOn is MustOpenCluster on the store d, which it closes at
// the end.
func MustOpenClusterOn(tb testing.TB, d cluster.Store) *TestCluster {
	tb.Helper()
	return mustOpenClusterWith(tb, d, testenv.Hosts(tb), scheduler.Config{})
}

// mustOpenClusterWith is MustOpenClusterOn with the hosts given and cfg
// (its controller, drain, stop timeout and logger set here).
func mustOpenClusterWith(tb testing.TB, d cluster.Store, hosts []string, cfg scheduler.Config) *TestCluster {
	tb.Helper()
	e := docker.New(docker.Config{Port: testenv.DockerPort(tb), Controller: d.ControllerID()})
	c := &TestCluster{DB: d, Engines: e, Hosts: hosts}
	cfg.Controller, cfg.Drain, cfg.StopTimeout = d.ControllerID(), 300*time.Millisecond, 2*time.Second
	cfg.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	c.Scheduler = scheduler.New(d, e, cfg)
	for _, h := range hosts {
		if _, err := d.AddHost(h); err != nil {
			tb.Fatal(err)
		}
	}
	tb.Cleanup(func() {
		c.removeAll(tb)
		e.Close()
		d.Close()
	})
	return c
}

// removeAll force-removes every container this cluster's controller made.
func (c *TestCluster) removeAll(tb testing.TB) {
	out, _ := testenv.DockerErr(tb, "ps", "-aq", "--filter", "label="+cluster.LabelController+"="+c.DB.ControllerID())
	if ids := strings.Fields(out); len(ids) > 0 {
		testenv.DockerErr(tb, append([]string{"rm", "-f"}, ids...)...)
	}
}

// App creates a uniquely named app with envs.
// mustOpenClusterApp is MustOpenCluster with an app named after prefix
// deployed at the test image's version 1 with count instances.
func mustOpenClusterApp(tb testing.TB, prefix string, count int) (*TestCluster, string, *cluster.DeployResult) {
	tb.Helper()
	c := MustOpenCluster(tb)
	app := c.App(tb, prefix)
	return c, app, c.MustDeploy(tb, app, testenv.Image(tb, "1"), count)
}

func (c *TestCluster) App(tb testing.TB, prefix string, envs ...string) string {
	tb.Helper()
	name := testenv.UniqueApp(tb, prefix)
	if _, err := c.DB.CreateApp(name); err != nil {
		tb.Fatal(err)
	}
	for _, kv := range envs {
		k, v, _ := cluster.ParseEnv(kv)
		c.DB.UpdateApp(name, func(a *cluster.App) error { a.Envs[k] = v; return nil })
	}
	return name
}

func (c *TestCluster) MustDeploy(tb testing.TB, app, image string, count int) *cluster.DeployResult {
	tb.Helper()
	res, err := c.Deploy(context.Background(), app, cluster.DeployRequest{Image: image, Count: count}, nil)
	if err != nil {
		tb.Fatalf("deploy %s of %s: %v", image, app, err)
	}
	return res
}

// Running returns the app's running containers on every host, as Docker
// reports them.
func (c *TestCluster) Running(tb testing.TB, app string) []cluster.Container {
	tb.Helper()
	var out []cluster.Container
	for _, h := range c.Hosts {
		list, err := c.Engines.List(context.Background(), h)
		if err != nil {
			tb.Fatal(err)
		}
		for _, ct := range list {
			if ct.App == app && ct.Running {
				out = append(out, ct)
			}
		}
	}
	return out
}

func get(addr, path string) (int, string) {
	client := http.Client{Timeout: 2 * time.Second}
	resp, err := client.Get("http://" + addr + path)
	if err != nil {
		return 0, err.Error()
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

func mustAnswer(tb testing.TB, addrs []string, path, want string) {
	tb.Helper()
	for _, a := range addrs {
		if status, body := get(a, path); status != 200 || !strings.Contains(body, want) {
			tb.Fatalf("GET %s%s = %d %q, want 200 containing %q", a, path, status, body, want)
		}
	}
}

func TestDeployOneInstancePerHost(t *testing.T) {
	t.Parallel()
	c, app, res := mustOpenClusterApp(t, "spread", 3)
	if res.Revision != 1 || len(res.Instances) != 3 {
		t.Fatalf("deploy = %+v", res)
	}
	mustAnswer(t, res.Instances, "/ping", "pong")
	insts, _ := c.DB.Instances(app)
	seen := map[string]bool{}
	for _, i := range insts {
		seen[i.Host] = true
		if !i.Routed {
			t.Errorf("instance %s not routed", i.Addr())
		}
	}
	if len(seen) != 3 {
		t.Fatalf("instances on %d hosts, want 3: %+v", len(seen), insts)
	}
	for _, ct := range c.Running(t, app) {
		if ct.Revision != 1 || ct.Controller != c.DB.ControllerID() || ct.Host == "" {
			t.Fatalf("container labels = %+v", ct)
		}
		labels := testenv.Docker(t, "inspect", "-f", "{{json .Config.Labels}}", ct.ID)
		for _, l := range []string{cluster.LabelApp, cluster.LabelRevision, cluster.LabelHost, cluster.LabelController} {
			if !strings.Contains(labels, l) {
				t.Fatalf("container %s lacks label %s: %s", ct.ID, l, labels)
			}
		}
	}
	revs, _ := c.DB.Revisions(app)
	if len(revs) != 1 || revs[0].Status != cluster.StatusSucceeded {
		t.Fatalf("revisions = %+v", revs)
	}
	table, _ := c.DB.RoutingTable()
	if len(table.Routes[app]) != 3 {
		t.Fatalf("routing table = %+v", table)
	}
}

// TestRedeployKeepsCapacity checks the app's containers at every step a
// redeploy reports (each pull, start, health check, route, unroute, the
// drain and each stop), while the redeploy waits for the check: at each,
// at least count of them answer their health check.
func TestRedeployKeepsCapacity(t *testing.T) {
	t.Parallel()
	c, app, first := mustOpenClusterApp(t, "capacity", 2)

	var mu sync.Mutex // the steps are reported from concurrent starts
	checked := map[string]int{}
	var short []string
	check := func(p cluster.Progress) {
		mu.Lock()
		defer mu.Unlock()
		healthy := 0
		for _, ct := range c.Running(t, app) {
			if status, _ := get(testenv.Addr(ct.Host, ct.Port), "/ping"); status == 200 {
				healthy++
			}
		}
		checked[p.Step]++
		if healthy < 2 {
			short = append(short, fmt.Sprintf("%s %s: %d answered", p.Step, p.Instance, healthy))
		}
	}
	second, err := c.Deploy(context.Background(), app, cluster.DeployRequest{Image: testenv.Image(t, "2"), Count: 2}, check)
	if err != nil {
		t.Fatal(err)
	}
	if len(short) > 0 {
		t.Fatalf("fewer than 2 instances answered during the redeploy, at: %s", strings.Join(short, "; "))
	}
	for _, step := range []string{"started", "healthy", "routed", "unrouted", "draining", "stopped"} {
		if checked[step] == 0 {
			t.Fatalf("the redeploy reported no %q step (checked at %v)", step, checked)
		}
	}
	mustAnswer(t, second.Instances, "/", "version=2")
	running := c.Running(t, app)
	if len(running) != 2 {
		t.Fatalf("%d containers after redeploy, want 2", len(running))
	}
	for _, ct := range running {
		if ct.Revision != 2 {
			t.Fatalf("old revision still running: %+v", ct)
		}
	}
	for _, a := range first.Instances {
		if status, _ := get(a, "/ping"); status != 0 {
			t.Fatalf("old instance %s still answers", a)
		}
	}
}

func TestEnvChangesRestart(t *testing.T) {
	t.Parallel()
	c, app, _ := mustOpenClusterApp(t, "envs", 2)
	res, err := c.SetEnv(context.Background(), app, "GREETING", "hello world", nil)
	if err != nil || res.Revision != 2 {
		t.Fatalf("SetEnv = %+v, %v", res, err)
	}
	mustAnswer(t, res.Instances, "/env/GREETING", "hello world")
	res, err = c.UnsetEnv(context.Background(), app, "GREETING", nil)
	if err != nil || res.Revision != 3 {
		t.Fatalf("UnsetEnv = %+v, %v", res, err)
	}
	for _, a := range res.Instances {
		if status, _ := get(a, "/env/GREETING"); status != 404 {
			t.Fatalf("GREETING still set on %s: %d", a, status)
		}
	}
	revs, _ := c.DB.Revisions(app)
	if len(revs) != 3 || strings.Join(revs[1].Envs, ",") != "GREETING=hello world" || len(revs[0].Envs) != 0 {
		t.Fatalf("history = %+v", revs)
	}
}

func TestRollbackAndScale(t *testing.T) {
	t.Parallel()
	c, app, _ := mustOpenClusterApp(t, "rollback", 3)
	c.MustDeploy(t, app, testenv.Image(t, "2"), 3)
	res, err := c.Rollback(context.Background(), app, 0, nil)
	if err != nil || res.Revision != 3 {
		t.Fatalf("Rollback = %+v, %v", res, err)
	}
	mustAnswer(t, res.Instances, "/", "version=1")

	perHost := func() map[string]int {
		m := map[string]int{}
		insts, _ := c.DB.Instances(app)
		for _, i := range insts {
			m[i.Host]++
		}
		return m
	}
	res, err = c.Scale(context.Background(), app, 5, nil)
	if err != nil || len(res.Instances) != 5 {
		t.Fatalf("Scale 5 = %+v, %v", res, err)
	}
	mustAnswer(t, res.Instances, "/", "version=1")
	counts := perHost()
	for _, h := range c.Hosts {
		if counts[h] < 1 || counts[h] > 2 {
			t.Fatalf("scale 5 spread = %v, want 2,2,1", counts)
		}
	}
	res, err = c.Scale(context.Background(), app, 1, nil)
	if err != nil || len(res.Instances) != 1 || len(c.Running(t, app)) != 1 {
		t.Fatalf("Scale 1 = %+v, %v", res, err)
	}
	if a, _ := c.DB.App(app); a.Count != 1 {
		t.Fatalf("count after scale = %d", a.Count)
	}
}

func TestConcurrentApps(t *testing.T) {
	t.Parallel()
	c := MustOpenCluster(t)
	var wg sync.WaitGroup
	apps := make([]string, 10)
	errs := make([]error, 10)
	for i := range apps {
		apps[i] = c.App(t, "concurrent")
		wg.Go(func() {
			_, errs[i] = c.Deploy(context.Background(), apps[i], cluster.DeployRequest{Image: testenv.Image(t, "1"), Count: 2}, nil)
		})
	}
	// A second deploy of a busy app is refused.
	time.Sleep(50 * time.Millisecond)
	_, err := c.Deploy(context.Background(), apps[0], cluster.DeployRequest{Image: testenv.Image(t, "1")}, nil)
	if cluster.ErrorCode(err) != cluster.ECONFLICT || !strings.Contains(cluster.ErrorMessage(err), "already running") {
		t.Errorf("second deploy of a busy app: %v, want ECONFLICT", err)
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Fatalf("deploy of %s: %v", apps[i], err)
		}
	}
	all, _ := c.DB.AllInstances()
	if len(all) != 20 {
		t.Fatalf("%d instance records, want 20", len(all))
	}
	for _, app := range apps {
		if got := len(c.Running(t, app)); got != 2 {
			t.Fatalf("%s has %d running containers", app, got)
		}
	}
}

func TestPullFromRegistry(t *testing.T) {
	t.Parallel()
	c := MustOpenCluster(t)
	image := testenv.Registry(t) + "/longshoreman-testapp:1"
	testenv.DockerErr(t, "rmi", image) // make sure the host must pull it
	app := c.App(t, "pull")
	res := c.MustDeploy(t, app, image, 1)
	mustAnswer(t, res.Instances, "/", "version=1")
}

func TestFailedDeploysLeaveOldServing(t *testing.T) {
	t.Parallel()
	c, app, good := mustOpenClusterApp(t, "failures", 2)
	fast := cluster.HealthCheck{Timeout: cluster.Duration(4 * time.Second)}

	t.Run("image that cannot be pulled", func(t *testing.T) {
		image := testenv.Registry(t) + "/longshoreman-testapp:missing"
		_, err := c.Deploy(context.Background(), app, cluster.DeployRequest{Image: image}, nil)
		if cluster.ErrorCode(err) != cluster.EHOST || !strings.Contains(cluster.ErrorMessage(err), image) || !strings.Contains(cluster.ErrorMessage(err), c.Hosts[0]) {
			t.Fatalf("deploy of a missing image: %v, want EHOST naming the image and host", err)
		}
	})
	t.Run("health check that fails", func(t *testing.T) {
		c.DB.UpdateApp(app, func(a *cluster.App) error { a.HealthCheck = fast; return nil })
		_, err := c.SetEnv(context.Background(), app, "FAIL_HEALTH", "1", nil)
		msg := cluster.ErrorMessage(err)
		if cluster.ErrorCode(err) != cluster.EDEPLOY || !strings.Contains(msg, "answered 500") || !strings.Contains(msg, "Last log lines") {
			t.Fatalf("failing health check: %v", err)
		}
		if a, _ := c.DB.App(app); a.Envs["FAIL_HEALTH"] != "" {
			t.Fatal("the env change stayed although its restart failed")
		}
	})
	t.Run("container that exits at start", func(t *testing.T) {
		// A long health timeout: the failure must come from seeing the
		// container exit, not from the timeout.
		slow := cluster.HealthCheck{Timeout: cluster.Duration(60 * time.Second)}
		c.DB.UpdateApp(app, func(a *cluster.App) error { a.HealthCheck = slow; return nil })
		start := time.Now()
		_, err := c.SetEnv(context.Background(), app, "CRASH", "1", nil)
		// Told by what the error says, not by how long it took (a loaded
		// machine's Docker takes most of a minute): the exit seen, not
		// the timeout's "no 2xx ... within".
		if msg := cluster.ErrorMessage(err); cluster.ErrorCode(err) != cluster.EDEPLOY || !strings.Contains(msg, "stopped") || strings.Contains(msg, "no 2xx") {
			t.Fatalf("crashing container: %v; want the deploy failed on its exit, not on the health timeout", err)
		}
		t.Logf("a crash at start failed the deploy in %s (health timeout %s)", time.Since(start), slow.Timeout.D())
	})
	// Through all of it the first instances kept serving, and only they run.
	mustAnswer(t, good.Instances, "/", "version=1")
	if n := len(c.Running(t, app)); n != 2 {
		t.Fatalf("%d containers after failed deploys, want the 2 old ones", n)
	}
	revs, _ := c.DB.Revisions(app)
	if len(revs) != 4 || revs[0].Status != cluster.StatusFailed || revs[0].Reason == "" || revs[3].Status != cluster.StatusSucceeded {
		t.Fatalf("history = %+v", revs)
	}
	table, _ := c.DB.RoutingTable()
	if strings.Join(table.Routes[app], ",") != strings.Join(good.Instances, ",") {
		t.Fatalf("routes = %v, want %v", table.Routes[app], good.Instances)
	}
}

func TestUnreachableHost(t *testing.T) {
	t.Parallel()
	c := MustOpenCluster(t)
	c.DB.AddHost("127.0.0.9") // nothing listens there
	app := c.App(t, "unreachable")
	res := c.MustDeploy(t, app, testenv.Image(t, "1"), 4)
	for _, a := range res.Instances {
		if strings.HasPrefix(a, "127.0.0.9:") {
			t.Fatalf("instance placed on the unreachable host: %v", res.Instances)
		}
	}
	for _, h := range c.Hosts {
		c.DB.RemoveHost(h)
	}
	_, err := c.Deploy(context.Background(), app, cluster.DeployRequest{Image: testenv.Image(t, "2")}, nil)
	if cluster.ErrorCode(err) != cluster.EUNAVAILABLE || !fixes(err, cluster.OpStatus, "") {
		t.Fatalf("deploy with no reachable host: %v, want EUNAVAILABLE", err)
	}
}

func TestKillAndDelete(t *testing.T) {
	t.Parallel()
	c, app, _ := mustOpenClusterApp(t, "kill", 2)
	if err := c.Kill(context.Background(), app); err != nil {
		t.Fatal(err)
	}
	if n := len(c.Running(t, app)); n != 0 {
		t.Fatalf("%d running after kill", n)
	}
	if a, _ := c.DB.App(app); a.Count != 0 {
		t.Fatalf("count after kill = %d", a.Count)
	}
	c.MustDeploy(t, app, testenv.Image(t, "1"), 1)
	if err := c.DeleteApp(context.Background(), app); err != nil {
		t.Fatal(err)
	}
	if n := len(c.Running(t, app)); n != 0 {
		t.Fatalf("%d running after delete", n)
	}
	if _, err := c.DB.App(app); cluster.ErrorCode(err) != cluster.ENOTFOUND {
		t.Fatalf("app after delete: %v", err)
	}
}

func TestRemoveHostDrains(t *testing.T) {
	t.Parallel()
	c, app, _ := mustOpenClusterApp(t, "drain", 3)
	if err := c.RemoveHost(context.Background(), c.Hosts[0], false); err != nil {
		t.Fatal(err)
	}
	insts, _ := c.DB.Instances(app)
	if len(insts) != 3 {
		t.Fatalf("%d instances after drain, want 3", len(insts))
	}
	for _, i := range insts {
		if i.Host == c.Hosts[0] {
			t.Fatalf("instance left on the removed host: %+v", i)
		}
	}
	mustAnswer(t, instanceAddrs(insts), "/ping", "pong")
	// The last host with instances cannot go without force.
	c.RemoveHost(context.Background(), c.Hosts[1], false)
	err := c.RemoveHost(context.Background(), c.Hosts[2], false)
	if cluster.ErrorCode(err) != cluster.ECONFLICT || !fixes(err, cluster.OpRemoveHost, cluster.ArgForce) {
		t.Fatalf("removing the last host: %v, want ECONFLICT", err)
	}
	if err := c.RemoveHost(context.Background(), c.Hosts[2], true); err != nil {
		t.Fatal(err)
	}
	if n := len(c.Running(t, app)); n != 0 {
		t.Fatalf("%d running after forced removal", n)
	}
}

func instanceAddrs(insts []cluster.Instance) []string {
	var out []string
	for _, i := range insts {
		out = append(out, i.Addr())
	}
	return out
}

func TestConfigurablePort(t *testing.T) {
	t.Parallel()
	c := MustOpenCluster(t)
	app := c.App(t, "port")
	res, err := c.Deploy(context.Background(), app, cluster.DeployRequest{Image: testenv.Image(t, "1"), Count: 1, Port: 8080}, nil)
	if err != nil {
		t.Fatal(err)
	}
	mustAnswer(t, res.Instances, "/env/PORT", "8080")
	ct := c.Running(t, app)[0]
	if ports := testenv.Docker(t, "port", ct.ID); !strings.Contains(ports, "8080/tcp") {
		t.Fatalf("docker port = %q, want 8080/tcp published", ports)
	}
	// The port sticks to the app: a redeploy without it keeps 8080.
	res = c.MustDeploy(t, app, testenv.Image(t, "2"), 1)
	mustAnswer(t, res.Instances, "/env/PORT", "8080")
}
