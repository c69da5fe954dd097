//go:build integration

package integration

import (
	"bytes"
	"encoding/json"
	"errors"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/longshoreman/longshoreman/cluster"
	"github.com/longshoreman/longshoreman/internal/testenv"
)

// cliRun is `longshoreman run` of the client binary, running in the
// background.
type cliRun struct {
	cmd            *exec.Cmd
	stdout, stderr bytes.Buffer
	done           chan struct{}
	code           int
}

// startRun starts the client binary's `run --app APP -- command...` against c.
func startRun(t *testing.T, c *Controller, app string, command ...string) *cliRun {
	t.Helper()
	r := &cliRun{done: make(chan struct{})}
	r.cmd = exec.Command(Binary(t), append([]string{"--app", app, "run", "--"}, command...)...)
	r.cmd.Env = []string{"HOME=" + t.TempDir(), "LONGSHOREMAN_URL=" + c.URL, "LONGSHOREMAN_TOKEN=t0ken-0123456789"}
	r.cmd.Stdout, r.cmd.Stderr = &r.stdout, &r.stderr
	if err := r.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() {
		defer close(r.done)
		var exit *exec.ExitError
		if err := r.cmd.Wait(); errors.As(err, &exit) {
			r.code = exit.ExitCode()
		}
	}()
	t.Cleanup(func() { _ = r.cmd.Process.Kill(); <-r.done })
	return r
}

// wait waits for the client to exit and returns its exit code.
func (r *cliRun) wait(t *testing.T, timeout time.Duration) int {
	t.Helper()
	select {
	case <-r.done:
		return r.code
	case <-time.After(timeout):
		t.Fatalf("longshoreman run did not exit within %s; stderr: %s", timeout, r.stderr.String())
		return 0
	}
}

// runningTasks returns the ids of the app's task containers that run,
// from docker ps.
func runningTasks(t *testing.T, app string) []string {
	t.Helper()
	out := testenv.Docker(t, "ps", "--filter", "label="+cluster.LabelApp+"="+app, "--filter", "label="+cluster.LabelTask, "--format", `{{.Label "`+cluster.LabelTask+`"}}`)
	ids := strings.Fields(out)
	slices.Sort(ids)
	return ids
}

// appTasks returns the app's task records as GET /apps/APP/tasks lists
// them, by command.
func appTasks(t *testing.T, c *Controller, app string) map[string]cluster.Task {
	t.Helper()
	status, out := c.Call("GET", "/apps/"+app+"/tasks", "")
	if status != 200 {
		return nil
	}
	b, _ := json.Marshal(out["tasks"])
	var tasks []cluster.Task
	if err := json.Unmarshal(b, &tasks); err != nil {
		t.Fatal(err)
	}
	byCommand := map[string]cluster.Task{}
	for _, task := range tasks {
		byCommand[strings.Join(task.Command, " ")] = task
	}
	return byCommand
}

// ended reports whether every task named by command has its end recorded.
func ended(tasks map[string]cluster.Task, commands ...string) bool {
	for _, cmd := range commands {
		if task, ok := tasks[cmd]; !ok || task.State == cluster.TaskRunning {
			return false
		}
	}
	return true
}

// TestTasksOutliveTheController runs one-off tasks with the client binary
// against the controller binary, on real containers, and stops the
// controller mid-task: gracefully (SIGTERM, as systemd restarts it), then
// with kill -9. Each time the client says the task runs on and how to look
// it up, the task's container runs to its own end, and the controller
// started again records its exit code and output, which GET /apps/APP/tasks
// and `longshoreman tasks` list, then removes it. A task past its timeout
// is killed by the restarted controller and listed as timed out. The app's
// instance is untouched throughout.
func TestTasksOutliveTheController(t *testing.T) {
	c := startTaskController(t)
	app := testenv.App(t, "task-restart")
	c.MustCall(t, "POST", "/"+app+"/deploy", `{"image":"`+testenv.Image(t, "1")+`","count":1}`)
	instances := dockerIDs(t, app, false)

	// A graceful stop does not wait for the task, nor stop it.
	migrate := startRun(t, c, app, "sleep", "5s")
	testenv.Eventually(t, 60*time.Second, "the task runs", func() bool { return len(runningTasks(t, app)) == 1 })
	stopped := time.Now()
	if err := c.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	_ = c.cmd.Wait()
	c.cmd = nil
	if took := time.Since(stopped); took > 15*time.Second {
		t.Errorf("the controller took %s to stop with a task running; want it not to wait for the task", took)
	}
	if code := migrate.wait(t, 30*time.Second); code == 0 || !strings.Contains(migrate.stderr.String(), "runs on") || !strings.Contains(migrate.stderr.String(), "longshoreman --app "+app+" tasks") {
		t.Errorf("run when the controller stopped: exit %d, stderr %q; want an error saying the task runs on and to see longshoreman --app %s tasks", code, migrate.stderr.String(), app)
	}
	if n := len(runningTasks(t, app)); n != 1 {
		t.Fatalf("%d task containers run once the controller stopped; want the task running on", n)
	}
	c.Start(t)
	testenv.Eventually(t, 60*time.Second, "the restarted controller records the task's end", func() bool { return ended(appTasks(t, c, app), "sleep 5s") })
	if task := appTasks(t, c, app)["sleep 5s"]; task.State != cluster.TaskSucceeded || task.ExitCode == nil || *task.ExitCode != 0 ||
		strings.Join(task.Output, "|") != "slept 5s" || task.Finished.Sub(task.Started) < 5*time.Second {
		t.Errorf("the task that ran through a graceful restart = %+v; want succeeded with exit code 0 and its output, after its 5s", task)
	}

	// kill -9, with a second task that will pass its timeout meanwhile.
	long := startRun(t, c, app, "sleep", "6s")
	go c.Call("POST", "/"+app+"/run", `{"command":["sleep","1h"],"timeout":"8s"}`)
	testenv.Eventually(t, 60*time.Second, "both tasks run", func() bool { return len(runningTasks(t, app)) == 2 })
	c.Kill()
	if code := long.wait(t, 30*time.Second); code == 0 || !strings.Contains(long.stderr.String(), "runs on") || !strings.Contains(long.stderr.String(), "longshoreman --app "+app+" tasks") {
		t.Errorf("run when the controller was killed: exit %d, stderr %q; want an error saying the task runs on and to see longshoreman --app %s tasks", long.code, long.stderr.String(), app)
	}
	if n := len(runningTasks(t, app)); n != 2 {
		t.Fatalf("%d task containers run after kill -9; want both running on", n)
	}
	c.Start(t)
	testenv.Eventually(t, 60*time.Second, "the restarted controller records both ends", func() bool { return ended(appTasks(t, c, app), "sleep 6s", "sleep 1h") })
	tasks := appTasks(t, c, app)
	if task := tasks["sleep 6s"]; task.State != cluster.TaskSucceeded || task.ExitCode == nil || *task.ExitCode != 0 ||
		strings.Join(task.Output, "|") != "slept 6s" || task.Finished.Sub(task.Started) < 6*time.Second {
		t.Errorf("the task that ran through kill -9 = %+v; want succeeded with exit code 0 and its output, after its 6s", task)
	}
	if task := tasks["sleep 1h"]; task.State != cluster.TaskFailed || !task.TimedOut || task.ExitCode == nil || *task.ExitCode != 137 || task.Finished.Before(task.Deadline) {
		t.Errorf("the task past its timeout = %+v; want failed, timed out (137), at its deadline or after", task)
	}

	stdout, stderr, code := runCLIBinary(t, c, "tasks", "--app", app)
	if code != 0 || strings.Count(stdout, "succeeded") != 2 || !strings.Contains(stdout, "failed (timed out)") || !strings.Contains(stdout, "137") {
		t.Errorf("longshoreman tasks: exit %d, stdout:\n%s\nstderr: %s; want the two that succeeded and the one timed out", code, stdout, stderr)
	}
	testenv.Eventually(t, 30*time.Second, "no task container left", func() bool { return len(dockerIDs(t, app, true)) == 0 })
	if got := dockerIDs(t, app, false); !slices.Equal(got, instances) {
		t.Errorf("instances after the restarts %v; want %v adopted, not replaced; the controller's log:\n%s", got, instances, c.Log())
	}
}

// TestTaskListedWhenItsClientGoes: a client that goes away (Ctrl-C) does
// not stop its task; the controller records its end as always.
func TestTaskListedWhenItsClientGoes(t *testing.T) {
	c := StartController(t, filepath.Join(t.TempDir(), "ls.db"))
	c.AddHosts(t, testenv.Hosts(t)...)
	app := testenv.App(t, "task-client")
	c.MustCall(t, "POST", "/"+app+"/deploy", `{"image":"`+testenv.Image(t, "1")+`","count":1}`)
	run := startRun(t, c, app, "sleep", "3s")
	testenv.Eventually(t, 60*time.Second, "the task runs", func() bool { return len(runningTasks(t, app)) == 1 })
	if err := run.cmd.Process.Signal(syscall.SIGINT); err != nil {
		t.Fatal(err)
	}
	if code := run.wait(t, 30*time.Second); code == 0 || !strings.Contains(run.stderr.String(), "runs on") {
		t.Errorf("run interrupted: exit %d, stderr %q; want an error saying the task runs on", code, run.stderr.String())
	}
	testenv.Eventually(t, 60*time.Second, "the task's end recorded", func() bool { return ended(appTasks(t, c, app), "sleep 3s") })
	if task := appTasks(t, c, app)["sleep 3s"]; task.State != cluster.TaskSucceeded || strings.Join(task.Output, "|") != "slept 3s" {
		t.Errorf("the task whose client went = %+v; want succeeded with its output", task)
	}
	testenv.Eventually(t, 30*time.Second, "no task container left", func() bool { return len(dockerIDs(t, app, true)) == 0 })
}

// TestTasksOutliveTheirLeader runs two controller binaries on an etcd
// prefix and kills the leader (kill -9) while it runs two tasks: the other
// controller, once it leads, finds them in the store and on the hosts,
// records the end of the one that ran to its end (exit code and output)
// and kills and records the one past its timeout, then removes both
// containers.
func TestTasksOutliveTheirLeader(t *testing.T) {
	lead, next, app := leaderWithApp(t, "task-failover")

	run := startRun(t, lead, app, "sleep", "8s")
	go lead.Call("POST", "/"+app+"/run", `{"command":["sleep","1h"],"timeout":"10s"}`)
	testenv.Eventually(t, 60*time.Second, "both tasks run", func() bool { return len(runningTasks(t, app)) == 2 })
	lead.Kill()
	if code := run.wait(t, 30*time.Second); code == 0 || !strings.Contains(run.stderr.String(), "runs on") {
		t.Errorf("run when its leader was killed: exit %d, stderr %q; want an error saying the task runs on", code, run.stderr.String())
	}
	waitLeader(t, []string{next.URL}, 30*time.Second)
	testenv.Eventually(t, 60*time.Second, "the new leader records both ends", func() bool { return ended(appTasks(t, next, app), "sleep 8s", "sleep 1h") })
	tasks := appTasks(t, next, app)
	if task := tasks["sleep 8s"]; task.State != cluster.TaskSucceeded || task.ExitCode == nil || *task.ExitCode != 0 ||
		strings.Join(task.Output, "|") != "slept 8s" || task.Finished.Sub(task.Started) < 8*time.Second {
		t.Errorf("the task that ran through the failover = %+v; want succeeded with exit code 0 and its output, after its 8s", task)
	}
	if task := tasks["sleep 1h"]; task.State != cluster.TaskFailed || !task.TimedOut || task.ExitCode == nil || *task.ExitCode != 137 {
		t.Errorf("the task past its timeout = %+v; want failed, timed out (137)", task)
	}
	testenv.Eventually(t, 30*time.Second, "no task container left", func() bool { return len(dockerIDs(t, app, true)) == 0 })
}
