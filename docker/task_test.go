//go:build integration

package docker_test

import (
	"context"
	"errors"
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
// code comes back with its container, which is left in place (exited) for
// the caller to record the end and remove it with Stop; a task past its
// timeout is killed and reported as timed out; a task whose caller stops
// waiting runs on to its own end, its output kept by Docker.
func TestRunTask(t *testing.T) {
	e := newEngines(t)
	host := testenv.Hosts(t)[0]
	app := uniqueApp(t, "docker-task")
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
	// ended checks that the task's container is left, exited, and removes it.
	ended := func(res cluster.TaskResult, code int) {
		t.Helper()
		got, err := e.Inspect(ctxFor(t, 20*time.Second), host, res.Container)
		if err != nil || got.Running || got.ExitCode != code || got.Task != res.Task {
			t.Errorf("the ended task's container = %+v, %v; want it left, exited with %d", got, err, code)
		}
		if err := e.Stop(ctxFor(t, 20*time.Second), host, res.Container, 0); err != nil {
			t.Fatal(err)
		}
	}

	res, err := e.RunTask(ctxFor(t, time.Minute), spec("t1", "exit", "3", "migration", "failed"), time.Minute, collect)
	if err != nil {
		t.Fatal(err)
	}
	if res.ExitCode != 3 || res.TimedOut || !res.Started || res.Container == "" || res.Task != "t1" || res.Host != host {
		t.Errorf("RunTask(exit 3) = %+v; want exit code 3 with its container", res)
	}
	ended(res, 3)
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
	ended(res, 0)
	mu.Lock()
	if len(lines) != 1 || lines[0] != (cluster.TaskLine{Stream: "stdout", Line: "GREETING=hi there"}) {
		t.Errorf("output = %+v; want the env's value", lines)
	}
	mu.Unlock()

	start := time.Now()
	res, err = e.RunTask(ctxFor(t, time.Minute), spec("t3", "sleep", "60s"), 2*time.Second, nil)
	if err != nil {
		t.Fatal(err)
	}
	if !res.TimedOut || res.ExitCode != 137 {
		t.Errorf("RunTask(sleep 60s) with a 2s timeout = %+v; want it timed out", res)
	}
	if took := time.Since(start); took > 55*time.Second { // under the 60s it would sleep unkilled, whatever the load
		t.Errorf("a task with a 2s timeout ran %s: it was not killed", took)
	}
	deadline := time.Now().Add(30 * time.Second)
	for {
		got, err := e.Inspect(ctxFor(t, 20*time.Second), host, res.Container)
		if err == nil && !got.Running {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the task killed at its timeout still runs: %+v, %v", got, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
	if err := e.Stop(ctxFor(t, 20*time.Second), host, res.Container, 0); err != nil {
		t.Fatal(err)
	}
	if left := taskContainers(t, app); left != "" {
		t.Errorf("task containers left after Stop: %s", left)
	}

	// The caller stops waiting: the task runs on to its end.
	ctx, stop := context.WithCancel(context.Background())
	go func() {
		defer stop()
		deadline := time.Now().Add(30 * time.Second)
		for time.Now().Before(deadline) {
			list, _ := e.List(context.Background(), host)
			for _, ct := range list {
				if ct.App == app && ct.Task == "t4" && ct.Running {
					return
				}
			}
			time.Sleep(20 * time.Millisecond)
		}
	}()
	res, err = e.RunTask(ctx, spec("t4", "sleep", "3s"), time.Minute, nil)
	if !errors.Is(err, context.Canceled) || !res.Started || res.Container == "" {
		t.Fatalf("RunTask whose context ended = %+v, %v; want the context's error, started", res, err)
	}
	running, err := e.Inspect(ctxFor(t, 20*time.Second), host, res.Container)
	if err != nil || !running.Running || running.TaskDeadline.Before(time.Now().Add(50*time.Second)) {
		t.Fatalf("the task's container after its caller went = %+v, %v; want it running, with its deadline a minute on", running, err)
	}
	deadline = time.Now().Add(40 * time.Second)
	for {
		got, err := e.Inspect(ctxFor(t, 20*time.Second), host, res.Container)
		if err == nil && !got.Running {
			if got.ExitCode != 0 {
				t.Errorf("the task that ran on exited with %d; want 0", got.ExitCode)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the task that ran on did not end: %+v, %v", got, err)
		}
		time.Sleep(100 * time.Millisecond)
	}
	if out, err := e.Logs(ctxFor(t, 20*time.Second), host, res.Container, cluster.TaskTailLines); err != nil || len(out) != 1 || out[0] != "slept 3s" {
		t.Errorf("the logs of the task that ran on = %q, %v; want its output", out, err)
	}
	ended(res, 0)

	_, err = e.RunTask(ctxFor(t, time.Minute), cluster.ContainerSpec{App: app, Revision: 3, Host: host, Image: "longshoreman-no-such-image:9", Task: "t5"}, time.Minute, nil)
	wantCode(t, err, cluster.EHOST, "longshoreman-no-such-image:9", "pull it first")
	if left := taskContainers(t, app); left != "" {
		t.Errorf("task containers left: %s", left)
	}
}

// TestListMarksTasks checks that List and Inspect tell a task container
// from an instance by LabelTask, so the reconciler never counts it, and
// read its deadline.
func TestListMarksTasks(t *testing.T) {
	e := newEngines(t)
	host := testenv.Hosts(t)[0]
	app := uniqueApp(t, "docker-tasklist")
	taskDeadline := time.Now().Add(5 * time.Second).Truncate(time.Millisecond)
	done := make(chan error, 1)
	go func() {
		_, err := e.RunTask(ctxFor(t, time.Minute), cluster.ContainerSpec{App: app, Revision: 1, Host: host, Image: testenv.Image(t, "1"), Command: []string{"sleep", "30s"}, Task: "listed", TaskDeadline: taskDeadline}, time.Minute, nil)
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
	if found.Task != "listed" || found.Port != 0 || found.Revision != 1 || !found.TaskDeadline.Equal(taskDeadline) {
		t.Errorf("List has the task's container as %+v; want Task %q, deadline %s and no port", found, "listed", taskDeadline)
	}
	if found.ID != "" {
		got, err := e.Inspect(ctxFor(t, 20*time.Second), host, found.ID)
		if err != nil || got.Task != "listed" || !got.TaskDeadline.Equal(taskDeadline) {
			t.Errorf("Inspect = %+v, %v; want Task %q and its deadline", got, err, "listed")
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
	app := uniqueApp(t, "docker-cmd")
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
