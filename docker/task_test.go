//go:build integration

package docker_test

import (
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/longshoreman/longshoreman/cluster"
	"github.com/longshoreman/longshoreman/internal/testenv"
)

// taskContainers lists, with docker ps -a, the containers of app that carry
// LabelTask.
func taskContainers(t *testing.T, app string) string {
	t.Helper()
	return strings.TrimSpace(testenv.Docker(t, "ps", "-a", "-q", "--filter", "label="+cluster.LabelApp+"="+app, "--filter", "label="+cluster.LabelTask))
}

// TestRunTask runs tasks of the test app on a real dockerd: its output
// comes line by line on the right stream with the task's env, its exit
// code comes back, a task past its timeout is killed and reported as
// timed out, and no container of any of them remains.
func TestRunTask(t *testing.T) {
	e := newEngines(t)
	host := testenv.Hosts(t)[0]
	app := testenv.UniqueApp(t, "docker-task")
	t.Cleanup(func() { testenv.RemoveContainers(t, app) })
	spec := func(task string, cmd ...string) cluster.ContainerSpec {
		return cluster.ContainerSpec{App: app, Revision: 3, Host: host, Image: testenv.Image(t, "1"), Env: []string{"GREETING=hi there"}, Command: cmd, Task: task}
	}
	var mu sync.Mutex
	var lines []cluster.TaskLine
	collect := func(l cluster.TaskLine) {
		mu.Lock()
		defer mu.Unlock()
		lines = append(lines, l)
	}

	res, err := e.RunTask(ctxFor(t, time.Minute), spec("t1", "exit", "3", "migration", "failed"), time.Minute, collect)
	if err != nil {
		t.Fatal(err)
	}
	if res.ExitCode != 3 || res.TimedOut {
		t.Errorf("RunTask(exit 3) = %+v; want exit code 3", res)
	}
	mu.Lock()
	got := lines
	lines = nil
	mu.Unlock()
	want := map[cluster.TaskLine]bool{{Stream: "stdout", Line: "migration failed"}: true, {Stream: "stderr", Line: "exit 3"}: true}
	if len(got) != 2 || !want[got[0]] || !want[got[1]] {
		t.Errorf("output = %+v; want stdout %q and stderr %q", got, "migration failed", "exit 3")
	}

	res, err = e.RunTask(ctxFor(t, time.Minute), spec("t2", "env", "GREETING"), time.Minute, collect)
	if err != nil || res.ExitCode != 0 {
		t.Fatalf("RunTask(env GREETING) = %+v, %v", res, err)
	}
	mu.Lock()
	if len(lines) != 1 || lines[0] != (cluster.TaskLine{Stream: "stdout", Line: "GREETING=hi there"}) {
		t.Errorf("output = %+v; want the env's value", lines)
	}
	mu.Unlock()
	if left := taskContainers(t, app); left != "" {
		t.Errorf("task containers left after the tasks ended: %s", left)
	}

	start := time.Now()
	res, err = e.RunTask(ctxFor(t, time.Minute), spec("t3", "sleep", "60s"), 2*time.Second, nil)
	if err != nil {
		t.Fatal(err)
	}
	if !res.TimedOut {
		t.Errorf("RunTask(sleep 60s) with a 2s timeout = %+v; want it timed out", res)
	}
	if took := time.Since(start); took > 40*time.Second {
		t.Errorf("a task with a 2s timeout ran %s: it was not killed", took)
	}
	if left := taskContainers(t, app); left != "" {
		t.Errorf("task container left after a timeout: %s", left)
	}

	// A task whose caller goes away is killed and removed too.
	ctx := ctxFor(t, 3*time.Second)
	if _, err := e.RunTask(ctx, spec("t4", "sleep", "60s"), time.Minute, nil); err == nil {
		t.Error("RunTask with a context that ended returned no error")
	}
	if left := taskContainers(t, app); left != "" {
		t.Errorf("task container left after its context ended: %s", left)
	}

	_, err = e.RunTask(ctxFor(t, time.Minute), cluster.ContainerSpec{App: app, Revision: 3, Host: host, Image: "longshoreman-no-such-image:9", Task: "t5"}, time.Minute, nil)
	wantCode(t, err, cluster.EHOST, "longshoreman-no-such-image:9", "pull it first")
}

// TestListMarksTasks checks that List and Inspect tell a task container
// from an instance by LabelTask, so the reconciler never counts it.
func TestListMarksTasks(t *testing.T) {
	e := newEngines(t)
	host := testenv.Hosts(t)[0]
	app := testenv.UniqueApp(t, "docker-tasklist")
	t.Cleanup(func() { testenv.RemoveContainers(t, app) })
	done := make(chan error, 1)
	go func() {
		_, err := e.RunTask(ctxFor(t, time.Minute), cluster.ContainerSpec{App: app, Revision: 1, Host: host, Image: testenv.Image(t, "1"), Command: []string{"sleep", "30s"}, Task: "listed"}, 5*time.Second, nil)
		done <- err
	}()
	var found cluster.Container
	deadline := time.Now().Add(30 * time.Second)
	for found.ID == "" && time.Now().Before(deadline) {
		list, err := e.List(ctxFor(t, 20*time.Second), host)
		if err != nil {
			t.Fatal(err)
		}
		for _, ct := range list {
			if ct.App == app {
				found = ct
			}
		}
		time.Sleep(100 * time.Millisecond)
	}
	if found.Task != "listed" || found.Port != 0 || found.Revision != 1 {
		t.Errorf("List has the task's container as %+v; want Task %q and no port", found, "listed")
	}
	if found.ID != "" {
		got, err := e.Inspect(ctxFor(t, 20*time.Second), host, found.ID)
		if err != nil || got.Task != "listed" {
			t.Errorf("Inspect = %+v, %v; want Task %q", got, err, "listed")
		}
	}
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}

// TestRunHonoursCommand checks that an instance's Command replaces the
// image's CMD and keeps its ENTRYPOINT: the test app given arguments
// performs them instead of serving.
func TestRunHonoursCommand(t *testing.T) {
	e := newEngines(t)
	host := testenv.Hosts(t)[0]
	app := testenv.UniqueApp(t, "docker-cmd")
	t.Cleanup(func() { testenv.RemoveContainers(t, app) })
	ct, err := e.Run(ctxFor(t, time.Minute), cluster.ContainerSpec{App: app, Revision: 1, Host: host, Image: testenv.Image(t, "1"),
		Port: cluster.DefaultPort, Command: []string{"echo", "not", "serving"}})
	if err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(30 * time.Second)
	var logs []string
	for time.Now().Before(deadline) {
		if logs, err = e.Logs(ctxFor(t, 20*time.Second), host, ct.ID, 10); err == nil && len(logs) > 0 {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	if len(logs) == 0 || logs[0] != "not serving" {
		t.Errorf("logs of a container run with command echo not serving = %q, %v", logs, err)
	}
}
