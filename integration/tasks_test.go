//go:build integration

package integration

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/longshoreman/longshoreman/cluster"
	"github.com/longshoreman/longshoreman/internal/testenv"
)

// startTaskController starts the controller binary with the test hosts.
func startTaskController(t *testing.T) *Controller {
	t.Helper()
	c := StartController(t, filepath.Join(t.TempDir(), "ls.db"))
	c.AddHosts(t, testenv.Hosts(t)...)
	return c
}

// runCLIBinary runs the client binary against c and returns its stdout, stderr
// and exit code.
func runCLIBinary(t *testing.T, c *Controller, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	cmd := exec.Command(Binary(t), args...)
	cmd.Env = []string{"HOME=" + t.TempDir(), "LONGSHOREMAN_URL=" + c.URL, "LONGSHOREMAN_TOKEN=t0ken-0123456789"}
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	err := cmd.Run()
	var exit *exec.ExitError
	switch {
	case errors.As(err, &exit):
		code = exit.ExitCode()
	case err != nil:
		t.Fatalf("longshoreman %s: %v", strings.Join(args, " "), err)
	}
	return out.String(), errOut.String(), code
}

// dockerIDs lists with docker ps -a the containers of app: its task
// containers (tasks) or its instances' (not tasks).
func dockerIDs(t *testing.T, app string, tasks bool) []string {
	t.Helper()
	out := testenv.Docker(t, "ps", "-a", "--filter", "label="+cluster.LabelApp+"="+app, "--format", `{{.ID}} {{.Label "`+cluster.LabelTask+`"}}`)
	var ids []string
	for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
		f := strings.Fields(line)
		if len(f) == 0 || (len(f) == 2) != tasks {
			continue
		}
		ids = append(ids, f[0])
	}
	slices.Sort(ids)
	return ids
}

// taskCreates counts the task containers of app that dockerd created
// between since and now, from its event log.
func taskCreates(t *testing.T, app string, since time.Time) int {
	t.Helper()
	out := testenv.Docker(t, "events", "--since", strconv.FormatInt(since.Unix(), 10), "--until", strconv.FormatInt(time.Now().Unix()+1, 10),
		"--filter", "type=container", "--filter", "event=create", "--filter", "label="+cluster.LabelApp+"="+app, "--filter", "label="+cluster.LabelTask,
		"--format", "{{.ID}}")
	return len(strings.Fields(out))
}

// TestRunOneOffTask runs tasks with the CLI binary against the controller
// binary and real containers: a task exiting 3 makes the CLI exit 3 with
// its output; one running past its timeout is killed and the CLI says so;
// tasks get the app's envs; no task container remains and the app's
// instances are untouched; bad requests are refused naming the field.
func TestRunOneOffTask(t *testing.T) {
	t.Parallel()
	c := startTaskController(t)
	app := testenv.App(t, "task")
	_, stderr, code := runCLIBinary(t, c, "--app", app, "apps:add")
	if code != 0 {
		t.Fatalf("apps:add: %s", stderr)
	}
	status, out := c.Call("POST", "/"+app+"/run", `{"command":["echo","hi"]}`)
	if status != 400 || !strings.Contains(out["error"].(string), "never been deployed") {
		t.Errorf("run of an app never deployed = %d %v; want 400 saying to deploy", status, out)
	}
	c.MustCall(t, "POST", "/"+app+"/envs", `{"env":"GREETING=hello task"}`)
	c.MustCall(t, "POST", "/"+app+"/deploy", `{"image":"`+testenv.Image(t, "1")+`","count":1}`)
	instances := dockerIDs(t, app, false)

	stdout, stderr, code := runCLIBinary(t, c, "--app", app, "run", "--", "exit", "3", "migration", "failed")
	if code != 3 || !strings.Contains(stdout, "migration failed") || !strings.Contains(stderr, "exit 3") {
		t.Errorf("run -- exit 3: exit code %d, stdout %q, stderr %q; want 3 with the task's output", code, stdout, stderr)
	}
	stdout, stderr, code = runCLIBinary(t, c, "--app", app, "run", "--", "env", "GREETING")
	if code != 0 || strings.TrimSpace(stdout) != "GREETING=hello task" {
		t.Errorf("run -- env GREETING: exit code %d, stdout %q, stderr %q; want the app's env", code, stdout, stderr)
	}

	start := time.Now()
	stdout, stderr, code = runCLIBinary(t, c, "--app", app, "run", "--timeout", "2s", "--", "sleep", "60s")
	if code != 124 || !strings.Contains(stderr, "ran longer than its timeout (2s) and was killed") {
		t.Errorf("run past its timeout: exit code %d, stdout %q, stderr %q; want 124 saying it timed out", code, stdout, stderr)
	}
	if took := time.Since(start); took > 55*time.Second { // under the 60s it would sleep unkilled, whatever the load
		t.Errorf("a task with a 2s timeout took %s", took)
	}

	// Without streaming: one answer with the last lines.
	status, out = c.Call("POST", "/"+app+"/run", `{"command":["exit","4","bye"]}`)
	if status != 200 || out["exit_code"] != float64(4) || !slices.Contains(anyStrings(out["output"]), "bye") {
		t.Errorf("POST run (JSON) = %d %v; want exit_code 4 with the output", status, out)
	}
	for body, field := range map[string]string{`{}`: `"command"`, `{"command":[]}`: `"command"`, `{"command":["echo"],"timeout":"25h"}`: `"timeout"`, `{"command":["echo"],"timeout":"soon"}`: `"timeout"`} {
		if status, out := c.Call("POST", "/"+app+"/run", body); status != 400 || !strings.Contains(out["error"].(string), field) {
			t.Errorf("POST run %s = %d %v; want 400 naming %s", body, status, out, field)
		}
	}

	if left := dockerIDs(t, app, true); len(left) != 0 {
		t.Errorf("task containers left: %v", left)
	}
	if got := dockerIDs(t, app, false); !slices.Equal(got, instances) {
		t.Errorf("instances after the tasks: %v; want the same %v\n%s", got, instances, c.Log())
	}
	if n := len(anyStrings(c.MustCall(t, "GET", "/"+app+"/instances", "")["instances"])); n != 1 {
		t.Errorf("%d routed instances; want 1: a task is never routed nor counted", n)
	}
}

// deploySteps deploys with body, reading the progress stream, and returns
// the steps and the final line.
func deploySteps(t *testing.T, c *Controller, app, body string) (steps []string, final map[string]any) {
	t.Helper()
	resp := c.Progress(t, "POST", "/"+app+"/deploy", "application/json", body)
	defer resp.Body.Close()
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		var line map[string]any
		if err := json.Unmarshal(sc.Bytes(), &line); err != nil {
			t.Fatalf("progress line %q: %v", sc.Text(), err)
		}
		if _, last := line["error"]; last {
			return steps, line
		}
		steps = append(steps, line["step"].(string))
	}
	t.Fatalf("the progress stream ended without an answer; steps %v\n%s", steps, c.Log())
	return nil, nil
}

func count(list []string, s string) int {
	n := 0
	for _, x := range list {
		if x == s {
			n++
		}
	}
	return n
}

// TestReleaseCommand deploys with release commands on real containers: a
// failing one fails the deploy with its output and leaves the old
// instances (the same containers) serving; a passing one runs exactly once
// per deploy and env change, before any instance starts, and not on scale.
func TestReleaseCommand(t *testing.T) {
	t.Parallel()
	c := startTaskController(t)
	app := testenv.App(t, "release")
	c.MustCall(t, "POST", "/"+app+"/deploy", `{"image":"`+testenv.Image(t, "1")+`","count":2}`)
	old := dockerIDs(t, app, false)
	addrs := anyStrings(c.MustCall(t, "GET", "/"+app+"/instances", "")["instances"])
	if len(old) != 2 || len(addrs) != 2 {
		t.Fatalf("after the first deploy: containers %v, routed %v", old, addrs)
	}

	since := time.Now().Add(-time.Second)
	steps, final := deploySteps(t, c, app, `{"image":"`+testenv.Image(t, "2")+`","release":["exit","3","migration 42 failed"]}`)
	reason, _ := final["error"].(string)
	if !strings.Contains(reason, "exited with code 3") || !strings.Contains(reason, "migration 42 failed") || final["status"] != float64(502) {
		t.Errorf("deploy with a failing release answered %v; want 502 with the exit code and the output", final)
	}
	if slices.Contains(steps, "starting") || count(steps, "release") != 1 {
		t.Errorf("steps %v; want one release and nothing started", steps)
	}
	if got := dockerIDs(t, app, false); !slices.Equal(got, old) {
		t.Errorf("containers after a failed release %v; want the old ones %v", got, old)
	}
	for _, a := range addrs {
		host, port, _ := strings.Cut(a, ":")
		p, _ := strconv.Atoi(port)
		if code, body := testenv.HTTPGet(t, testenv.Addr(host, p), "/version", 10*time.Second); code != 200 || !strings.Contains(body, "1") {
			t.Errorf("old instance %s answers %d %q; want version 1 still serving", a, code, body)
		}
	}
	hist := c.MustCall(t, "GET", "/"+app+"/history", "")["history"].([]any)
	if last := hist[0].(map[string]any); last["status"] != "failed" || !strings.Contains(last["reason"].(string), "migration 42 failed") {
		t.Errorf("newest revision %v; want failed with the release's output", last)
	}
	if n := taskCreates(t, app, since); n != 1 {
		t.Errorf("%d task containers created for one deploy; want 1", n)
	}

	// A passing release: once per deploy, before anything starts, with the
	// new envs.
	since = time.Now()
	time.Sleep(1100 * time.Millisecond) // docker events --since has a one-second resolution
	steps, final = deploySteps(t, c, app, `{"image":"`+testenv.Image(t, "2")+`","release":["env","PORT"]}`)
	if final["error"] != false {
		t.Fatalf("deploy with a passing release: %v\n%s", final, c.Log())
	}
	if count(steps, "release") != 1 || count(steps, "released") != 1 || slices.Index(steps, "released") > slices.Index(steps, "starting") {
		t.Errorf("steps %v; want release, released once, before starting", steps)
	}
	if n := taskCreates(t, app, since); n != 1 {
		t.Errorf("%d task containers created for one deploy; want 1", n)
	}

	since = time.Now()
	time.Sleep(1100 * time.Millisecond)
	c.MustCall(t, "POST", "/"+app+"/scale", `{"count":3}`)
	if n := taskCreates(t, app, since); n != 0 {
		t.Errorf("scale created %d task containers; want none", n)
	}
	c.MustCall(t, "POST", "/"+app+"/envs", `{"env":"STAGE=two"}`)
	if n := taskCreates(t, app, since); n != 1 {
		t.Errorf("an env change created %d task containers; want 1", n)
	}
	if left := dockerIDs(t, app, true); len(left) != 0 {
		t.Errorf("task containers left: %v", left)
	}
}

// TestDeployCommandAndReleaseCLI gives the instances' command and the
// release command with the CLI binary: --cmd replaces the instances' CMD
// (the test app then runs the command instead of serving, and the failed
// deploy shows its output), --release -- runs the release command first,
// and a command after -- without --release is refused before any request.
func TestDeployCommandAndReleaseCLI(t *testing.T) {
	t.Parallel()
	c := startTaskController(t)
	app := testenv.App(t, "deploy-cmd")
	image := testenv.Image(t, "1")

	_, stderr, code := runCLIBinary(t, c, "--app", app, "deploy", image, "--count", "1", "--cmd", "echo", "--cmd", "instance command ran")
	if code == 0 || !strings.Contains(stderr, "instance command ran") {
		t.Errorf("deploy --cmd echo: exit code %d, stderr %q; want the deploy to fail showing the command's output", code, stderr)
	}
	_, stderr, code = runCLIBinary(t, c, "--app", app, "deploy", image, "--count", "1", "--", "exit", "3")
	if code == 0 || !strings.Contains(stderr, "add --release") {
		t.Errorf("deploy with a command after -- but no --release: exit code %d, stderr %q; want it refused", code, stderr)
	}
	stdout, stderr, code := runCLIBinary(t, c, "--app", app, "deploy", image, "--count", "1", "--release", "--", "exit", "3", "schema too new")
	if code == 0 || !strings.Contains(stderr, "schema too new") || !strings.Contains(stdout, "release") {
		t.Errorf("deploy --release -- exit 3: exit code %d, stdout %q, stderr %q; want it failed with the release's output", code, stdout, stderr)
	}
	stdout, stderr, code = runCLIBinary(t, c, "--app", app, "deploy", image, "--count", "1", "--release", "--", "env", "PORT")
	if code != 0 || !strings.Contains(stdout, "released") {
		t.Fatalf("deploy --release -- env PORT: exit code %d, stdout %q, stderr %q", code, stdout, stderr)
	}
	hist := c.MustCall(t, "GET", "/"+app+"/history", "")["history"].([]any)
	if n := len(hist); n != 3 {
		t.Errorf("%d revisions; want 3 (the refused deploy recorded none)", n)
	}
	if len(dockerIDs(t, app, false)) != 1 || len(dockerIDs(t, app, true)) != 0 {
		t.Errorf("after the deploys: instances %v, tasks %v; want one instance and no task", dockerIDs(t, app, false), dockerIDs(t, app, true))
	}
}

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
