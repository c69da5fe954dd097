//go:build integration

package integration

import (
	"encoding/json"
	"io"
	"net/http"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/longshoreman/longshoreman/cluster"
	"github.com/longshoreman/longshoreman/internal/testenv"
)

// jobView is a job as GET /apps/:app/jobs shows it.
type jobView struct {
	Name     string           `json:"name"`
	Schedule string           `json:"schedule"`
	Next     time.Time        `json:"next"`
	Runs     []cluster.JobRun `json:"runs"`
}

// appJobs returns the app's jobs by name, as c answers GET /apps/:app/jobs.
func appJobs(t *testing.T, c *Controller, app string) map[string]jobView {
	t.Helper()
	req, _ := http.NewRequest("GET", c.URL+"/apps/"+app+"/jobs", nil)
	req.Header.Set("X-Auth", "t0ken-0123456789")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil // a controller killed meanwhile
	}
	defer resp.Body.Close()
	var out struct {
		Jobs []jobView `json:"jobs"`
	}
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 200 || json.Unmarshal(b, &out) != nil {
		t.Fatalf("GET /apps/%s/jobs = %d %s", app, resp.StatusCode, b)
	}
	jobs := map[string]jobView{}
	for _, j := range out.Jobs {
		jobs[j.Name] = j
	}
	return jobs
}

// endedJobRuns returns a job's runs that ended, newest first.
func endedJobRuns(j jobView) []cluster.JobRun {
	var out []cluster.JobRun
	for _, r := range j.Runs {
		if r.Outcome != cluster.JobRunning {
			out = append(out, r)
		}
	}
	return out
}

// ranJobRuns returns a job's runs that ran (started a task) and ended,
// newest first: not the skipped ones, which a busy machine makes when a
// run takes longer than the interval.
func ranJobRuns(j jobView) []cluster.JobRun {
	var out []cluster.JobRun
	for _, r := range endedJobRuns(j) {
		if r.Outcome != cluster.JobSkipped {
			out = append(out, r)
		}
	}
	return out
}

// jobRunsMetric returns longshoreman_job_runs_total of the app's job and
// outcome on c, 0 when absent.
func jobRunsMetric(t *testing.T, c *Controller, app, job, outcome string) float64 {
	t.Helper()
	_, b := c.CallRaw(t, "GET", "/metrics", "")
	re := regexp.MustCompile(`(?m)^longshoreman_job_runs_total\{app="` + regexp.QuoteMeta(app) + `",job="` + job + `",outcome="` + outcome + `"\} (\S+)$`)
	m := re.FindSubmatch(b)
	if m == nil {
		return 0
	}
	v, _ := strconv.ParseFloat(string(m[1]), 64)
	return v
}

// checkRunsOnce: no due time of a job has two runs, and every task
// container of the app that dockerd created since since (and since the
// oldest run the jobs keep) is the task of one of their runs, as fetch
// reads them: no run started twice. A run is claimed before its container
// is created, so the runs read after a moment name every container
// created before it.
func checkRunsOnce(t *testing.T, app string, since time.Time, fetch func() []jobView) {
	t.Helper()
	until := time.Now()
	tasks := map[string]bool{}
	for _, j := range fetch() {
		dues := map[time.Time]bool{}
		for _, r := range j.Runs {
			if dues[r.Due] {
				t.Errorf("job %s has two runs due at %s: %+v", j.Name, r.Due, j.Runs)
			}
			dues[r.Due] = true
			if r.Task != "" {
				tasks[r.Task] = true
			}
		}
		if n := len(j.Runs); n == cluster.JobRunHistory && j.Runs[n-1].Start.After(since) {
			since = j.Runs[n-1].Start
		}
	}
	out := testenv.Docker(t, "events", "--since", strconv.FormatInt(since.Unix(), 10), "--until", strconv.FormatInt(until.Unix()+1, 10),
		"--filter", "type=container", "--filter", "event=create", "--filter", "label="+cluster.LabelApp+"="+app, "--filter", "label="+cluster.LabelTask,
		"--format", `{{.Time}} {{index .Actor.Attributes "`+cluster.LabelTask+`"}}`)
	for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
		f := strings.Fields(line)
		if len(f) != 2 {
			continue
		}
		// Whole seconds: leave out the second the oldest kept run began
		// (an older run's may share it) and the second of until.
		if at, _ := strconv.ParseInt(f[0], 10, 64); at <= since.Unix() || at >= until.Unix() {
			continue
		}
		if !tasks[f[1]] {
			t.Errorf("dockerd created task %s of %s, which no run of its jobs names (a run started twice?)", f[1], app)
		}
	}
}

// jobsOf returns a fetch of the named jobs of app on c, for checkRunsOnce.
func jobsOf(t *testing.T, c *Controller, app string, names ...string) func() []jobView {
	return func() []jobView {
		jobs := appJobs(t, c, app)
		var out []jobView
		for _, n := range names {
			out = append(out, jobs[n])
		}
		return out
	}
}

// startJobApp starts the controller binary with the test hosts and a new
// app (prefix) running one instance, for jobs to run as its tasks.
func startJobApp(t *testing.T, prefix string) (*Controller, string) {
	t.Helper()
	c := startTaskController(t)
	app := testenv.App(t, prefix)
	c.MustCall(t, "POST", "/apps", `{"app":"`+app+`"}`)
	c.MustCall(t, "POST", "/"+app+"/deploy", `{"image":"`+testenv.Image(t, "1")+`","count":1}`)
	return c, app
}

// TestScheduledJobs runs the controller binary with the test hosts and
// adds two jobs every 5s with the CLI binary: each runs 3 times, as tasks
// of the app's current revision in real containers, and records its exit
// codes and output; the failing one's runs are counted by outcome and each
// reported on /events. jobs lists them; jobs:rm removes one.
func TestScheduledJobs(t *testing.T) {
	t.Parallel()
	c, app := startJobApp(t, "jobs")
	events := followEventsAt(t, c.URL, "t0ken-0123456789", "?app="+app)
	since := time.Now()

	// Every 10s: longer than a run takes on a loaded 2-core machine, so
	// that each job's last run is, between its end and the next, the run
	// that ended (a run still going makes the next due time a skip).
	for _, args := range [][]string{{"ok", "@every 10s", "--", "echo", "all good"}, {"fails", "@every 10s", "--", "exit", "3", "boom"}} {
		stdout, stderr, code := runCLIBinary(t, c, append([]string{"--app", app, "jobs:add"}, args...)...)
		if code != 0 || !strings.Contains(stdout, "Added job "+args[0]) {
			t.Fatalf("jobs:add %s: exit %d, %s%s", args[0], code, stdout, stderr)
		}
	}
	for body, field := range map[string]string{
		`{"name":"x","schedule":"every 5s","command":["echo"]}`:     "Schedule",
		`{"name":"Bad","schedule":"@every 5s","command":["echo"]}`:  "name",
		`{"name":"x","schedule":"@every 5s"}`:                       "command",
		`{"name":"ok","schedule":"@every 5s","command":["echo"]}`:   "already has a job",
		`{"name":"x","schedule":"@every 100ms","command":["echo"]}`: "once a second",
	} {
		status, out := c.Call("POST", "/apps/"+app+"/jobs", body)
		if msg, _ := out["error"].(string); (status != 400 && status != 409) || !strings.Contains(msg, field) {
			t.Errorf("POST /apps/%s/jobs %s = %d %v; want a 400 or 409 naming %s", app, body, status, out, field)
		}
	}

	testenv.Eventually(t, 3*time.Minute, "both jobs ran 3 times", func() bool {
		jobs := appJobs(t, c, app)
		return len(ranJobRuns(jobs["ok"])) >= 3 && len(ranJobRuns(jobs["fails"])) >= 3
	})
	jobs := appJobs(t, c, app)
	for name, want := range map[string]struct {
		outcome string
		code    int
		output  string
	}{"ok": {cluster.JobSucceeded, 0, "all good"}, "fails": {cluster.JobFailed, 3, "boom"}} {
		j := jobs[name]
		for _, r := range ranJobRuns(j) {
			if r.Outcome != want.outcome || r.ExitCode == nil || *r.ExitCode != want.code || !slices.Contains(r.Output, want.output) || r.Task == "" {
				t.Errorf("a run of %s = %+v; want %s with exit code %d and the output line %q", name, r, want.outcome, want.code, want.output)
			}
		}
		if j.Next.IsZero() || j.Schedule != "@every 10s" {
			t.Errorf("job %s = %+v; want its schedule and next run", name, j)
		}
	}
	checkRunsOnce(t, app, since, jobsOf(t, c, app, "ok", "fails"))
	// Counted once its end is recorded.
	testenv.Eventually(t, 30*time.Second, "longshoreman_job_runs_total counts 3 failed runs", func() bool { return jobRunsMetric(t, c, app, "fails", "failed") >= 3 })
	events.Wait(t, "a failed run's event", 30*time.Second, func(e cluster.Event) bool {
		return e.Type == cluster.EventJob && e.Step == cluster.JobFailed && e.Job == "fails" && strings.Contains(e.Message, "exit code 3")
	})

	// The listing names both jobs; one job's runs, listed, show the failed
	// ones with their exit code. (The table's last outcome is whichever run
	// is newest, running or skipped on a loaded machine: the CLI's own
	// tests check it with a job that fails at once.)
	if stdout, stderr, code := runCLIBinary(t, c, "--app", app, "jobs"); code != 0 || !strings.Contains(stdout, "fails") || !strings.Contains(stdout, "ok") || !strings.Contains(stdout, "@every 10s") {
		t.Errorf("jobs: exit %d, %s%s", code, stdout, stderr)
	}
	if stdout, stderr, code := runCLIBinary(t, c, "--app", app, "jobs", "--job", "fails"); code != 0 || !strings.Contains(stdout, "Job fails: @every 10s") || !regexp.MustCompile(`failed( \(late\))? +3 `).MatchString(stdout) {
		t.Errorf("jobs --job fails: exit %d, %s%s; want its failed runs with exit code 3", code, stdout, stderr)
	}
	if _, stderr, code := runCLIBinary(t, c, "--app", app, "jobs:rm", "fails"); code != 0 {
		t.Errorf("jobs:rm: exit %d, %s", code, stderr)
	}
	if _, ok := appJobs(t, c, app)["fails"]; ok {
		t.Errorf("the removed job is still listed")
	}
	if _, stderr, code := runCLIBinary(t, c, "--app", app, "jobs:rm", "fails"); code == 0 || !strings.Contains(stderr, "no job fails") {
		t.Errorf("jobs:rm of a removed job: exit %d, %s; want an error saying there is none", code, stderr)
	}
}

// TestScheduledJobNotOverlapped: a job every 3s whose run takes 8s is not
// overlapped: the due times that come while it runs are skipped and
// recorded so, and the next run starts after it ended.
func TestScheduledJobNotOverlapped(t *testing.T) {
	t.Parallel()
	c, app := startJobApp(t, "jobs-overlap")
	since := time.Now()
	c.MustCall(t, "POST", "/apps/"+app+"/jobs", `{"name":"slow","schedule":"@every 3s","command":["sleep","8s"]}`)

	var j jobView
	testenv.Eventually(t, 3*time.Minute, "a run, skipped runs, and the run after them", func() bool {
		j = appJobs(t, c, app)["slow"]
		// Newest first: a run that ended, and a skip older than it. The run
		// before the skips may have left the history already (it keeps
		// cluster.JobRunHistory runs, and a slow machine skips more).
		ended := false
		for _, r := range j.Runs {
			switch {
			case r.Outcome == cluster.JobSucceeded:
				ended = true
			case r.Outcome == cluster.JobSkipped && ended:
				return true
			}
		}
		return false
	})
	for _, r := range j.Runs {
		if r.Outcome == cluster.JobSkipped && (r.Task != "" || !strings.Contains(r.Note, "still running")) {
			t.Errorf("skipped run %+v; want no task and a note saying the run before it was still running", r)
		}
	}
	// Runs that started never overlap: each started after the one before
	// it had run its 8s.
	var started []cluster.JobRun
	for _, r := range j.Runs {
		if r.Task != "" {
			started = append(started, r)
		}
	}
	for i := 0; i+1 < len(started); i++ {
		newer, older := started[i], started[i+1]
		if newer.Start.Before(older.Start.Add(8 * time.Second)) {
			t.Errorf("run of %s started at %s, while the run started at %s ran its 8s", newer.Due, newer.Start, older.Start)
		}
	}
	testenv.Eventually(t, 30*time.Second, "longshoreman_job_runs_total counts a skipped run", func() bool { return jobRunsMetric(t, c, app, "slow", "skipped") >= 1 })
	checkRunsOnce(t, app, since, jobsOf(t, c, app, "slow"))
}

// TestScheduledJobThroughFailover runs two controller binaries on an etcd
// prefix and kills the leader (kill -9) a moment before a job's run is
// due: the other controller, once it leads, runs it exactly once (late,
// and saying so, when it took the leadership after the due time), and
// never twice.
func TestScheduledJobThroughFailover(t *testing.T) {
	t.Parallel()
	lead, other, app := leaderWithApp(t, "jobs-failover")
	since := time.Now()
	lead.MustCall(t, "POST", "/apps/"+app+"/jobs", `{"name":"tick","schedule":"@every 20s","command":["echo","tick"]}`)

	// One run on the first leader, then the kill 1.5s before the next.
	var due time.Time
	testenv.Eventually(t, 2*time.Minute, "a first run ended", func() bool {
		j := appJobs(t, other, app)["tick"]
		due = j.Next
		return len(endedJobRuns(j)) >= 1
	})
	testenv.Eventually(t, time.Minute, "1.5s before the next run is due", func() bool { return time.Until(due) < 1500*time.Millisecond })
	lead.Kill()
	killed := time.Now()
	waitLeader(t, []string{other.URL}, 30*time.Second)
	t.Logf("the other controller leads %s after the kill (the run was due %s after it)", time.Since(killed).Round(time.Millisecond), due.Sub(killed).Round(time.Millisecond))

	var run cluster.JobRun
	testenv.Eventually(t, 2*time.Minute, "the run due at the kill ended", func() bool {
		for _, r := range endedJobRuns(appJobs(t, other, app)["tick"]) {
			if r.Due.Equal(due) {
				run = r
				return true
			}
		}
		return false
	})
	j := appJobs(t, other, app)["tick"]
	n := 0
	for _, r := range j.Runs {
		if r.Due.Equal(due) {
			n++
		}
	}
	// Killed before the due time, the old leader claimed nothing: the run
	// is the new leader's and runs. On a machine so busy that the kill
	// came after it, the old leader may have claimed it and died before
	// creating its container: then it is lost, but still not run twice.
	ranOnce := run.Outcome == cluster.JobSucceeded && strings.Join(run.Output, "|") == "tick"
	if n != 1 || (!ranOnce && (killed.Before(due) || run.Outcome != cluster.JobLost)) {
		t.Errorf("%d runs due at %s; want exactly one, succeeded with its output: %+v\n%s", n, due, j.Runs, other.Log())
	}
	if run.Late != strings.Contains(run.Note, "late") {
		t.Errorf("run %+v: late %v but its note says otherwise", run, run.Late)
	}
	t.Logf("the run due at the kill started %s after its due time, late %v: %s", run.Start.Sub(due).Round(time.Millisecond), run.Late, run.Note)
	checkRunsOnce(t, app, since, jobsOf(t, other, app, "tick"))
	if strings.Contains(other.Log(), "panic") {
		t.Errorf("the new leader's log shows a panic:\n%s", other.Log())
	}
}
