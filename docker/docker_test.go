//go:build integration

package docker_test

import (
	"context"
	"errors"
	"net/http"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/longshoreman/longshoreman/cluster"
	"github.com/longshoreman/longshoreman/docker"
	"github.com/longshoreman/longshoreman/internal/testenv"
	"github.com/longshoreman/longshoreman/scheduler"
)

var _ scheduler.Engines = (*docker.Engines)(nil)

func newEngines(t *testing.T) *docker.Engines {
	t.Helper()
	e := docker.New(docker.Config{Port: testenv.DockerPort(t), Controller: "test-controller", Timeout: 20 * time.Second})
	t.Cleanup(func() { e.Close() })
	return e
}

func ctxFor(t *testing.T, d time.Duration) context.Context {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), d)
	t.Cleanup(cancel)
	return ctx
}

func wantCode(t *testing.T, err error, code string, contains ...string) {
	t.Helper()
	if got := cluster.ErrorCode(err); got != code {
		t.Fatalf("error %v has code %q, want %q", err, got, code)
	}
	for _, s := range contains {
		if !strings.Contains(cluster.ErrorMessage(err), s) {
			t.Errorf("error message %q does not mention %q", cluster.ErrorMessage(err), s)
		}
	}
}

// runApp starts the test app on host with a unique app name and removes
// its containers when the test ends.
func runApp(t *testing.T, e *docker.Engines, host string, env ...string) cluster.Container {
	t.Helper()
	ct := startApp(t, e, host, env...)
	// Docker's port is open before the app listens behind it: a request
	// then is reset. Wait until the app answers.
	if code, _ := testenv.HTTPGet(t, testenv.Addr(host, ct.Port), "/ping", 30*time.Second); code != http.StatusOK {
		t.Fatalf("the container on %s answers GET /ping with %d; want 200", host, code)
	}
	return ct
}

// uniqueApp returns an app name made of prefix and unique to the test;
// its containers are removed when the test ends.
func uniqueApp(t *testing.T, prefix string) string {
	t.Helper()
	app := testenv.UniqueApp(t, prefix)
	t.Cleanup(func() { testenv.RemoveContainers(t, app) })
	return app
}

// startApp starts a container of the test app on host, and does not wait
// for it to answer (it may be asked to crash).
func startApp(t *testing.T, e *docker.Engines, host string, env ...string) cluster.Container {
	t.Helper()
	app := uniqueApp(t, "docker-test")
	ct, err := e.Run(ctxFor(t, 30*time.Second), cluster.ContainerSpec{
		App: app, Revision: 7, Host: host, Image: testenv.Image(t, "1"), Env: env, Port: cluster.DefaultPort,
	})
	if err != nil {
		t.Fatalf("Run on %s: %v", host, err)
	}
	return ct
}

func TestRunOnEveryHost(t *testing.T) {
	e := newEngines(t)
	hosts := testenv.Hosts(t)
	for i, host := range hosts {
		other := hosts[(i+1)%len(hosts)]
		t.Run(host, func(t *testing.T) {
			ctx := ctxFor(t, time.Minute)
			ct := runApp(t, e, host, "GREETING=hello")
			if !ct.Running || ct.Port == 0 || ct.ID == "" {
				t.Fatalf("Run returned %+v; want a running container with a published port", ct)
			}
			if ct.Host != host || ct.Revision != 7 || ct.Controller != "test-controller" || !strings.HasPrefix(ct.App, "docker-test-") {
				t.Errorf("labels read back as %+v", ct)
			}
			labels := testenv.Docker(t, "inspect", "--format",
				`{{index .Config.Labels "longshoreman.app"}} {{index .Config.Labels "longshoreman.host"}} {{.HostConfig.RestartPolicy.Name}} {{.Name}}`, ct.ID)
			wantName := "/ls-" + strings.ReplaceAll(ct.App, ".", "-") + "-r7-"
			if f := strings.Fields(labels); len(f) != 4 || f[0] != ct.App || f[1] != host || f[2] != "unless-stopped" || !strings.HasPrefix(f[3], wantName) {
				t.Errorf("docker inspect says %q; want app %s, host %s, unless-stopped, name %s...", labels, ct.App, host, wantName)
			}

			addr := testenv.Addr(host, ct.Port)
			if code, body := testenv.HTTPGet(t, addr, "/ping", 10*time.Second); code != 200 || body != "pong" {
				t.Errorf("GET %s/ping = %d %q", addr, code, body)
			}
			if code, body := testenv.HTTPGet(t, addr, "/env/GREETING", 5*time.Second); code != 200 || body != "hello" {
				t.Errorf("GET %s/env/GREETING = %d %q", addr, code, body)
			}

			got, err := e.Inspect(ctx, host, ct.ID)
			if err != nil || got != ct {
				t.Errorf("Inspect = %+v, %v; want %+v", got, err, ct)
			}

			// Docker copies a container's output to its log asynchronously.
			var logs []string
			for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(100 * time.Millisecond) {
				if logs, err = e.Logs(ctx, host, ct.ID, 10); err != nil {
					t.Fatal(err)
				}
				if slices.Contains(logs, "testapp 1 listening on :3000") && slices.Contains(logs, "GET /ping") || time.Now().After(deadline) {
					break
				}
			}
			if !slices.Contains(logs, "testapp 1 listening on :3000") || !slices.Contains(logs, "GET /ping") {
				t.Errorf("Logs = %q; want the listening line and GET /ping", logs)
			}

			list, err := e.List(ctx, host)
			if err != nil {
				t.Fatal(err)
			}
			if i := slices.IndexFunc(list, func(c cluster.Container) bool { return c.ID == ct.ID }); i < 0 {
				t.Errorf("List(%s) = %+v; want it to include %s", host, list, ct.ID)
			} else if list[i] != ct {
				t.Errorf("List(%s) has %+v; want %+v", host, list[i], ct)
			}
			list, err = e.List(ctx, other)
			if err != nil {
				t.Fatal(err)
			}
			if slices.ContainsFunc(list, func(c cluster.Container) bool { return c.ID == ct.ID }) {
				t.Errorf("List(%s) includes %s, which runs on %s", other, ct.ID, host)
			}

			if err := e.Stop(ctx, host, ct.ID, 5*time.Second); err != nil {
				t.Fatal(err)
			}
			_, err = e.Inspect(ctx, host, ct.ID)
			wantCode(t, err, cluster.ENOTFOUND, ct.ID)
			if err := e.Stop(ctx, host, ct.ID, time.Second); err != nil {
				t.Errorf("Stop of a removed container = %v; want nil", err)
			}
		})
	}
}

func TestStopIsGraceful(t *testing.T) {
	e := newEngines(t)
	host := testenv.Hosts(t)[0]
	ct := runApp(t, e, host)
	testenv.HTTPGet(t, testenv.Addr(host, ct.Port), "/ping", 10*time.Second)
	// Keep the container after it stops to read its exit code: 0 after
	// SIGTERM, 137 had Docker killed it once the 60 s were up. (Not the
	// time the stop took: a loaded daemon takes seconds either way.)
	testenv.Docker(t, "stop", "-t", "60", ct.ID)
	if code := testenv.Docker(t, "inspect", "--format", "{{.State.ExitCode}}", ct.ID); code != "0" {
		t.Errorf("exit code after SIGTERM = %s; want 0 (137: SIGTERM was not handled)", code)
	}
	ctx := ctxFor(t, 30*time.Second)
	list, err := e.List(ctx, host)
	if err != nil {
		t.Fatal(err)
	}
	i := slices.IndexFunc(list, func(c cluster.Container) bool { return c.ID == ct.ID })
	if i < 0 || list[i].Running || list[i].Port != 0 || list[i].State != "exited" {
		t.Errorf("List after docker stop = %+v; want %s exited with no port", list, ct.ID)
	}
	if err := e.Stop(ctx, host, ct.ID, time.Second); err != nil {
		t.Fatal(err)
	}
}

// Stops of one container at once (an operation's and a repair's) each
// return only once it is gone: one removes it, the others wait for that
// removal, so a caller that goes on to remove the container's volume finds
// it free.
func TestConcurrentStopsReturnOnceRemoved(t *testing.T) {
	e := newEngines(t)
	host := testenv.Hosts(t)[0]
	for round := range 3 {
		app := uniqueApp(t, "docker-test-stops")
		volume := cluster.VolumeName(app, "data")
		t.Cleanup(func() { // after its containers (cleanups run last first)
			testenv.RemoveContainers(t, app)
			testenv.DockerErr(t, "volume", "rm", volume)
		})
		ctx := ctxFor(t, time.Minute)
		ct, err := e.Run(ctx, cluster.ContainerSpec{App: app, Revision: 1, Host: host, Image: testenv.Image(t, "1"),
			Port: cluster.DefaultPort, Mounts: []cluster.VolumeMount{{Source: volume, Target: "/data"}}})
		if err != nil {
			t.Fatalf("Run on %s: %v", host, err)
		}
		var wg sync.WaitGroup
		for i := range 3 {
			wg.Go(func() {
				if err := e.Stop(ctx, host, ct.ID, 5*time.Second); err != nil {
					t.Errorf("round %d, Stop %d: %v", round, i, err)
					return
				}
				if _, err := e.Inspect(ctx, host, ct.ID); cluster.ErrorCode(err) != cluster.ENOTFOUND {
					t.Errorf("round %d, Stop %d returned while the container exists: Inspect = %v", round, i, err)
				}
				if _, err := e.RemoveVolume(ctx, host, volume); err != nil {
					t.Errorf("round %d, removing the volume after Stop %d: %v", round, i, err)
				}
			})
		}
		wg.Wait()
	}
}

func TestRunFailsCleanly(t *testing.T) {
	e := newEngines(t)
	host := testenv.Hosts(t)[0]
	app := uniqueApp(t, "docker-test-missing")
	ctx := ctxFor(t, 30*time.Second)
	_, err := e.Run(ctx, cluster.ContainerSpec{App: app, Revision: 1, Host: host, Image: "longshoreman-testapp:nope", Port: 3000})
	wantCode(t, err, cluster.EHOST, "longshoreman-testapp:nope", host)
	if out := testenv.Docker(t, "ps", "-aq", "--filter", "label=longshoreman.app="+app); out != "" {
		t.Errorf("a failed Run left containers: %s", out)
	}
	_, err = e.Run(ctx, cluster.ContainerSpec{App: app, Revision: 1, Host: host, Image: testenv.Image(t, "1"), Port: 0})
	wantCode(t, err, cluster.EINVALID)
}

func TestLogsOfCrashedContainer(t *testing.T) {
	e := newEngines(t)
	host := testenv.Hosts(t)[1]
	ct := startApp(t, e, host, "CRASH=1")
	ctx := ctxFor(t, 30*time.Second)
	var logs []string
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
		var err error
		if logs, err = e.Logs(ctx, host, ct.ID, 5); err != nil {
			t.Fatal(err)
		}
		if slices.Contains(logs, "crashing at start as asked") {
			break
		}
	}
	if !slices.Contains(logs, "crashing at start as asked") {
		t.Errorf("Logs = %q; want the crash line from stderr", logs)
	}
	if len(logs) > 5 {
		t.Errorf("Logs returned %d lines; want at most 5", len(logs))
	}
	_, err := e.Logs(ctx, host, "no-such-container", 5)
	wantCode(t, err, cluster.ENOTFOUND, "no-such-container")
}

func TestPull(t *testing.T) {
	e := newEngines(t)
	hosts := testenv.Hosts(t)
	registry := testenv.Registry(t)

	t.Run("from the registry", func(t *testing.T) {
		ref := registry + "/" + testenv.Image(t, "1")
		warning, err := e.Pull(ctxFor(t, time.Minute), hosts[0], ref)
		if err != nil || warning != "" {
			t.Fatalf("Pull(%s) = %q, %v", ref, warning, err)
		}
		testenv.Docker(t, "image", "inspect", ref)
	})

	t.Run("unknown tag", func(t *testing.T) {
		ref := registry + "/" + testenv.Image(t, "does-not-exist")
		start := time.Now()
		warning, err := e.Pull(ctxFor(t, time.Minute), hosts[1], ref)
		if warning != "" {
			t.Errorf("warning %q", warning)
		}
		wantCode(t, err, cluster.EHOST, ref, hosts[1], "registry")
		t.Logf("%s (%s)", cluster.ErrorMessage(err), time.Since(start))
	})

	t.Run("unreachable registry, image present", func(t *testing.T) {
		// docker.io is out of reach in the test sandbox, and may be
		// anywhere else: the pull fails (or times out) either way, since
		// this tag exists only locally.
		ref := testenv.Image(t, "1")
		start := time.Now()
		warning, err := e.Pull(ctxFor(t, 20*time.Second), hosts[2], ref)
		if err != nil {
			t.Fatalf("Pull(%s) = %v; want a warning only", ref, err)
		}
		if !strings.Contains(warning, ref) || !strings.Contains(warning, hosts[2]) {
			t.Errorf("warning %q does not name %s and %s", warning, ref, hosts[2])
		}
		t.Logf("%s (%s)", warning, time.Since(start))
	})

	t.Run("invalid reference", func(t *testing.T) {
		_, err := e.Pull(ctxFor(t, 10*time.Second), hosts[0], "Not A Reference")
		wantCode(t, err, cluster.EINVALID)
	})
}

func TestUnreachableHost(t *testing.T) {
	e := docker.New(docker.Config{Port: testenv.DockerPort(t), DialTimeout: time.Second})
	defer e.Close()
	const host = "127.0.0.9" // nothing listens there
	ctx := ctxFor(t, 30*time.Second)
	start := time.Now()
	err := e.Ping(ctx, host)
	wantCode(t, err, cluster.EHOST, "127.0.0.9:", "did not answer", "tcp://127.0.0.9:")
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("Ping of an unreachable host took %s", d)
	}
	_, err = e.List(ctx, host)
	wantCode(t, err, cluster.EHOST, "127.0.0.9")
	_, err = e.Pull(ctx, host, "busybox:1")
	wantCode(t, err, cluster.EHOST, "127.0.0.9")
	_, errc := e.Events(ctx, host, time.Time{})
	select {
	case err := <-errc:
		wantCode(t, err, cluster.EHOST, "127.0.0.9")
	case <-time.After(10 * time.Second):
		t.Error("Events of an unreachable host did not fail")
	}
	err = e.Ping(ctx, "not-an-ip")
	wantCode(t, err, cluster.EINVALID, "not-an-ip")
}

func TestPingAndFreeMemory(t *testing.T) {
	e := newEngines(t)
	for _, host := range testenv.Hosts(t) {
		ctx := ctxFor(t, 10*time.Second)
		if err := e.Ping(ctx, host); err != nil {
			t.Errorf("Ping(%s): %v", host, err)
		}
		if mem, err := e.FreeMemory(ctx, host); err != nil || mem <= 0 {
			t.Errorf("FreeMemory(%s) = %d, %v", host, mem, err)
		}
	}
}

func TestEvents(t *testing.T) {
	e := newEngines(t)
	hosts := testenv.Hosts(t)
	host := hosts[2]
	ctx, cancel := context.WithCancel(ctxFor(t, time.Minute))
	events, errc := e.Events(ctx, host, time.Time{})
	// Events on another host must not show containers of this one.
	otherCtx, otherCancel := context.WithCancel(ctx)
	defer otherCancel()
	otherEvents, _ := e.Events(otherCtx, hosts[0], time.Time{})
	time.Sleep(200 * time.Millisecond) // let the streams subscribe

	ct := runApp(t, e, host)
	testenv.Docker(t, "kill", ct.ID)

	var seen []string
	for done := false; !done; {
		select {
		case ev := <-events:
			if ev.ID != ct.ID {
				continue
			}
			if ev.Host != host || ev.App != ct.App || ev.Time.IsZero() {
				t.Errorf("event %+v; want host %s app %s and a time", ev, host, ct.App)
			}
			seen = append(seen, ev.Action)
			done = ev.Action == "die"
		case err := <-errc:
			t.Fatalf("event stream ended: %v (saw %v)", err, seen)
		case <-ctx.Done():
			t.Fatalf("no die event for %s (saw %v)", ct.ID, seen)
		}
	}
	if !slices.Contains(seen, "start") {
		t.Errorf("events %v; want a start before the die", seen)
	}
	for len(otherEvents) > 0 {
		if ev := <-otherEvents; ev.ID == ct.ID {
			t.Errorf("events of %s delivered %+v of a container on %s", hosts[0], ev, host)
		}
	}

	cancel()
	select {
	case err := <-errc:
		if !errors.Is(err, context.Canceled) {
			t.Errorf("after cancel the stream ended with %v; want context.Canceled", err)
		}
	case <-time.After(5 * time.Second):
		t.Error("the stream did not end after cancel")
	}
	for timeout := time.After(5 * time.Second); ; {
		select {
		case _, ok := <-events:
			if ok {
				continue
			}
		case <-timeout:
			t.Error("events channel still open after the stream ended")
		}
		break
	}
}

// A stream opened with since replays what happened before it opened: how
// a reconnecting watcher learns of a death it was not connected for.
func TestEventsSinceReplays(t *testing.T) {
	e := newEngines(t)
	host := testenv.Hosts(t)[1]
	before := time.Now().Add(-time.Second)
	ct := runApp(t, e, host)
	testenv.Docker(t, "kill", ct.ID)
	ctx, cancel := context.WithCancel(ctxFor(t, time.Minute))
	defer cancel()
	events, errc := e.Events(ctx, host, before)
	for {
		select {
		case ev := <-events:
			if ev.ID == ct.ID && ev.Action == "die" {
				return
			}
		case err := <-errc:
			t.Fatalf("event stream ended: %v", err)
		case <-ctx.Done():
			t.Fatalf("no replayed die event for %s", ct.ID)
		}
	}
}
