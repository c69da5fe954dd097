package scheduler_test

import (
	"context"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/longshoreman/longshoreman/cluster"
	"github.com/longshoreman/longshoreman/internal/testenv"
	"github.com/longshoreman/longshoreman/scheduler"
)

// jobCounts counts the job runs an Observer is told of, and the job
// events emitted.
type jobCounts struct {
	mu     sync.Mutex     // guards runs
	runs   map[string]int // app/job/outcome -> count
	events eventLog
}

func (c *jobCounts) Deploy(string, time.Duration) {}
func (c *jobCounts) ReconcilePass(time.Duration)  {}
func (c *jobCounts) JobRun(app, job, outcome string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.runs[app+"/"+job+"/"+outcome]++
}

func (c *jobCounts) event(e cluster.Event) {
	if e.Type == cluster.EventJob {
		c.events.add(e)
	}
}

func (c *jobCounts) count(key string) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.runs[key]
}

func (c *jobCounts) steps(step string) int {
	return len(c.events.where(func(e cluster.Event) bool { return e.Step == step }))
}

// jobCluster is a fake cluster with a deployed app and a job of it.
func jobCluster(t *testing.T, name string, command ...string) (*FakeCluster, *jobCounts, cluster.Job) {
	t.Helper()
	counts := &jobCounts{runs: map[string]int{}}
	c := MustOpenFakeCluster(t, scheduler.Config{Observer: counts, Events: counts.event})
	app := c.App(t, name)
	c.MustDeploy(t, app, goodImage, 1)
	j, err := c.AddJob(context.Background(), cluster.Job{App: app, Name: "report", Schedule: "@every 1s", Command: command, Timeout: cluster.Duration(time.Minute)})
	if err != nil {
		t.Fatal(err)
	}
	return c, counts, *j
}

// runJobs runs a job runner over c until the test ends.
func runJobs(t *testing.T, c *FakeCluster) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		scheduler.NewJobRunner(c.Scheduler, scheduler.JobRunnerConfig{Poll: 50 * time.Millisecond}).Run(ctx)
	}()
	t.Cleanup(func() { cancel(); <-done })
}

// endedRuns returns the job's runs that ended, oldest first.
func endedRuns(t *testing.T, c *FakeCluster, j cluster.Job) []cluster.JobRun {
	t.Helper()
	stored, err := c.DB.Job(j.App, j.Name)
	if err != nil {
		t.Fatal(err)
	}
	var out []cluster.JobRun
	for i := len(stored.Runs) - 1; i >= 0; i-- {
		if r := stored.Runs[i]; r.Outcome != cluster.JobRunning {
			out = append(out, r)
		}
	}
	return out
}

// checkOnceEach: no due time has two runs, and every task of the job is
// the task of one run.
func checkOnceEach(t *testing.T, c *FakeCluster, j cluster.Job) {
	t.Helper()
	// The tasks first: a task is recorded in the write that claims its
	// run, so the job read after names every task read before.
	all, err := c.DB.Tasks(j.App)
	if err != nil {
		t.Fatal(err)
	}
	stored, err := c.DB.Job(j.App, j.Name)
	if err != nil {
		t.Fatal(err)
	}
	dues, tasks := map[time.Time]bool{}, map[string]bool{}
	for _, r := range stored.Runs {
		if dues[r.Due] {
			t.Errorf("two runs due at %s: %+v", r.Due, stored.Runs)
		}
		dues[r.Due] = true
		if r.Task != "" {
			tasks[r.Task] = true
		}
	}
	oldest := stored.Runs[len(stored.Runs)-1].Start
	for _, task := range all {
		if task.Job == j.Name && !task.Started.Before(oldest) && !tasks[task.ID] {
			t.Errorf("task %s of job %s started at %s is the task of no run: a run started twice? runs %+v", task.ID, j.Name, task.Started, stored.Runs)
		}
	}
}

// TestJobRunsOnSchedule (fake Docker): a job every second runs, each run a
// one-off task whose exit code and output its run records; each failed
// run is counted and reported as an event.
func TestJobRunsOnSchedule(t *testing.T) {
	t.Parallel()
	c, counts, j := jobCluster(t, "jobs-run.example.com", "exit", "3")
	runJobs(t, c)
	testenv.Eventually(t, 30*time.Second, "three runs ended", func() bool { return len(endedRuns(t, c, j)) >= 3 })
	for _, r := range endedRuns(t, c, j) {
		if r.Outcome != cluster.JobFailed || r.ExitCode == nil || *r.ExitCode != 3 || r.Task == "" || r.Host == "" {
			t.Errorf("run %+v; want failed with exit code 3, with its task and host", r)
		}
	}
	// Each is counted and reported once its end is recorded.
	testenv.Eventually(t, 10*time.Second, "three failed runs counted and reported", func() bool {
		return counts.count(j.App+"/report/failed") >= 3 && counts.steps(cluster.JobFailed) >= 3
	})
	task, err := c.DB.Task(j.App, endedRuns(t, c, j)[0].Task)
	if err != nil || task.Job != "report" || task.ExitCode == nil || *task.ExitCode != 3 {
		t.Errorf("the run's task = %+v, %v; want a task of job report exiting 3", task, err)
	}
	checkOnceEach(t, c, j)
}

// TestJobRunNotOverlapped (fake Docker): a run longer than the interval is
// not overlapped: the due times that come while it runs are skipped and
// recorded so, and no two runs' tasks run at once.
func TestJobRunNotOverlapped(t *testing.T) {
	t.Parallel()
	c, counts, j := jobCluster(t, "jobs-overlap.example.com", "sleep", "2500ms")
	runJobs(t, c)
	testenv.Eventually(t, 30*time.Second, "a run ended after a skipped one", func() bool {
		runs := endedRuns(t, c, j)
		for i, r := range runs {
			if r.Outcome == cluster.JobSkipped && i+1 < len(runs) && runs[i+1].Outcome == cluster.JobSucceeded {
				return true
			}
		}
		return false
	})
	tasks, err := c.DB.Tasks(j.App)
	if err != nil {
		t.Fatal(err)
	}
	for _, a := range tasks {
		for _, b := range tasks {
			if a.ID != b.ID && a.Job != "" && b.Job != "" && !a.Finished.IsZero() && a.Started.Before(b.Started) && b.Started.Before(a.Finished) {
				t.Errorf("task %s started at %s while task %s ran (%s to %s)", b.ID, b.Started, a.ID, a.Started, a.Finished)
			}
		}
	}
	testenv.Eventually(t, 10*time.Second, "a skipped run counted and reported", func() bool {
		return counts.count(j.App+"/report/skipped") > 0 && counts.steps(cluster.JobSkipped) > 0
	})
	checkOnceEach(t, c, j)
}

// TestJobRunnersClaimOnce (fake Docker): two runners on one store (as two
// controllers would be for a moment around a failover, without the fence)
// never start a run of one due time twice: the claim is a compare-and-set
// on the job's last due time.
func TestJobRunnersClaimOnce(t *testing.T) {
	t.Parallel()
	c, _, j := jobCluster(t, "jobs-twice.example.com", "echo", "hi")
	runJobs(t, c)
	runJobs(t, c)
	testenv.Eventually(t, 30*time.Second, "four runs ended", func() bool { return len(endedRuns(t, c, j)) >= 4 })
	checkOnceEach(t, c, j)
	for _, r := range endedRuns(t, c, j) {
		if r.Outcome != cluster.JobSucceeded || len(r.Output) != 1 || r.Output[0] != "hi" {
			t.Errorf("run %+v; want succeeded with its output", r)
		}
	}
}

// TestJobLateAfterRestart (fake Docker): due times that passed while no
// runner ran are run once, late, by the next runner, which says so.
func TestJobLateAfterRestart(t *testing.T) {
	t.Parallel()
	c, counts, j := jobCluster(t, "jobs-late.example.com", "echo", "late")
	sched, _ := cluster.ParseSchedule(j.Schedule)
	// No runner until two due times passed.
	missed := sched.Next(j.NextDue(sched))
	testenv.Eventually(t, 30*time.Second, "two due times passed", func() bool { return time.Now().After(missed.Add(100 * time.Millisecond)) })
	runJobs(t, c)
	testenv.Eventually(t, 30*time.Second, "a run ended", func() bool { return len(endedRuns(t, c, j)) >= 1 })
	first := endedRuns(t, c, j)[0]
	if !first.Late || first.Missed < 1 || first.Outcome != cluster.JobSucceeded || first.Due.Before(missed) {
		t.Errorf("first run %+v; want it late, for the latest due time, counting the missed ones", first)
	}
	testenv.Eventually(t, 10*time.Second, "a started event", func() bool { return counts.steps("started") > 0 })
	checkOnceEach(t, c, j)
}

// TestJobWithoutRevisionFails (fake Docker): a job of an app never
// deployed fails each run saying why, without retrying it at every pass.
func TestJobWithoutRevisionFails(t *testing.T) {
	t.Parallel()
	counts := &jobCounts{runs: map[string]int{}}
	c := MustOpenFakeCluster(t, scheduler.Config{Observer: counts, Events: counts.event})
	app := c.App(t, "jobs-undeployed.example.com")
	j, err := c.AddJob(context.Background(), cluster.Job{App: app, Name: "report", Schedule: "@every 1s", Command: []string{"report"}, Timeout: cluster.Duration(time.Minute)})
	if err != nil {
		t.Fatal(err)
	}
	runJobs(t, c)
	testenv.Eventually(t, 30*time.Second, "a run failed", func() bool { return len(endedRuns(t, c, *j)) >= 1 })
	r := endedRuns(t, c, *j)[0]
	if r.Outcome != cluster.JobFailed || r.Task != "" || !strings.Contains(r.Note, "never been deployed") {
		t.Errorf("run %+v; want failed without a task, saying the app was never deployed", r)
	}
	checkOnceEach(t, c, *j)
}

// TestAddJobRefusesBadInput: a bad name, schedule or timeout is a 400,
// and stores nothing; a name taken is a conflict.
func TestAddJobRefusesBadInput(t *testing.T) {
	t.Parallel()
	c := MustOpenFakeCluster(t, scheduler.Config{})
	app := c.App(t, "jobs-bad.example.com")
	good := cluster.Job{App: app, Name: "report", Schedule: "@every 1m", Command: []string{"report"}, Timeout: cluster.Duration(time.Minute)}
	for _, edit := range []func(*cluster.Job){
		func(j *cluster.Job) { j.Name = "Bad_Name" },
		func(j *cluster.Job) { j.Schedule = "every minute" },
		func(j *cluster.Job) { j.Command = nil },
		func(j *cluster.Job) { j.Timeout = 0 },
		func(j *cluster.Job) { j.Timeout = cluster.Duration(25 * time.Hour) },
	} {
		j := good
		edit(&j)
		if _, err := c.AddJob(context.Background(), j); cluster.ErrorCode(err) != cluster.EINVALID {
			t.Errorf("AddJob(%+v) = %v; want EINVALID", j, err)
		}
	}
	if jobs, _ := c.DB.Jobs(app); len(jobs) != 0 {
		t.Fatalf("refused jobs were stored: %+v", jobs)
	}
	if _, err := c.AddJob(context.Background(), good); err != nil {
		t.Fatal(err)
	}
	if _, err := c.AddJob(context.Background(), good); cluster.ErrorCode(err) != cluster.ECONFLICT {
		t.Errorf("a second job named %s: %v; want ECONFLICT", good.Name, err)
	}
	if err := c.RemoveJob(context.Background(), app, "nope"); cluster.ErrorCode(err) != cluster.ENOTFOUND {
		t.Errorf("removing an unknown job: %v; want ENOTFOUND", err)
	}
	if err := c.RemoveJob(context.Background(), app, good.Name); err != nil {
		t.Fatal(err)
	}
}
