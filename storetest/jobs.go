package storetest

import (
	"strings"
	"testing"
	"time"

	"github.com/longshoreman/longshoreman/cluster"
)

// job is a job of app created at the test clock's start.
func job(app, name string) cluster.Job {
	return cluster.Job{App: app, Name: name, Schedule: "@every 5s", Command: []string{"report"},
		Timeout: cluster.Duration(time.Minute), Created: time.Date(2026, 1, 2, 3, 0, 0, 0, time.UTC)}
}

func jobNames(jobs []cluster.Job) string {
	return joined(jobs, func(j cluster.Job) string { return j.App + "/" + j.Name })
}

// testJobs: jobs are created once per name, listed by name, refused for an
// unknown app, deleted alone or with their app; UpdateJob writes the job
// and the task together, or neither when fn refuses.
func testJobs(t *testing.T, open Opener) {
	const a, b = "a.example.com", "b.example.com"
	d := mustOpenWithApps(t, open, a, b)
	if err := d.CreateJob(job("nope.example.com", "x")); cluster.ErrorCode(err) != cluster.ENOTFOUND {
		t.Fatalf("CreateJob of an unknown app: %v, want ENOTFOUND", err)
	}
	if jobs, err := d.Jobs(a); err != nil || jobs == nil || len(jobs) != 0 {
		t.Fatalf("Jobs of an app without any = %v, %v; want an empty list", jobs, err)
	}
	must(t, d.CreateJob(job(a, "report")))
	must(t, d.CreateJob(job(a, "cleanup")))
	must(t, d.CreateJob(job(b, "report")))
	if err := d.CreateJob(job(a, "report")); cluster.ErrorCode(err) != cluster.ECONFLICT {
		t.Fatalf("CreateJob of a name the app has: %v, want ECONFLICT", err)
	}
	jobs, err := d.Jobs(a)
	must(t, err)
	if got := jobNames(jobs); got != a+"/cleanup,"+a+"/report" {
		t.Fatalf("jobs of %s = %s; want cleanup, report", a, got)
	}
	all, err := d.AllJobs()
	must(t, err)
	if got := jobNames(all); got != a+"/cleanup,"+a+"/report,"+b+"/report" {
		t.Fatalf("all jobs = %s", got)
	}

	// A claim writes the job and its task at once.
	due := job(a, "report").Created.Add(5 * time.Second)
	tk := task(a, 1)
	claim := func(j *cluster.Job) error {
		if !j.LastDue.IsZero() {
			return cluster.Errorf(cluster.ECONFLICT, "claimed already")
		}
		j.LastDue = due
		j.AddRun(cluster.JobRun{Due: due, Start: due, Outcome: cluster.JobRunning, Task: tk.ID})
		return nil
	}
	got, err := d.UpdateJob(a, "report", claim, &tk)
	must(t, err)
	if !got.LastDue.Equal(due) || len(got.Runs) != 1 {
		t.Fatalf("claimed job = %+v", got)
	}
	if _, err := d.Task(a, tk.ID); err != nil {
		t.Fatalf("the claim's task: %v", err)
	}
	// A second claim of the same due time is refused, and its task is not
	// recorded.
	tk2 := task(a, 2)
	if _, err := d.UpdateJob(a, "report", claim, &tk2); cluster.ErrorCode(err) != cluster.ECONFLICT {
		t.Fatalf("a second claim: %v, want ECONFLICT", err)
	}
	if _, err := d.Task(a, tk2.ID); cluster.ErrorCode(err) != cluster.ENOTFOUND {
		t.Fatalf("the refused claim's task: %v, want ENOTFOUND", err)
	}
	stored, err := d.Job(a, "report")
	must(t, err)
	if !stored.LastDue.Equal(due) || len(stored.Runs) != 1 || stored.Runs[0].Task != tk.ID || strings.Join(stored.Command, " ") != "report" {
		t.Fatalf("stored job = %+v", stored)
	}
	// Runs are kept to the newest JobRunHistory.
	for i := range cluster.JobRunHistory + 2 {
		_, err := d.UpdateJob(a, "report", func(j *cluster.Job) error {
			j.AddRun(cluster.JobRun{Due: due.Add(time.Duration(i+1) * time.Minute), Outcome: cluster.JobSkipped})
			return nil
		}, nil)
		must(t, err)
	}
	if stored, _ := d.Job(a, "report"); len(stored.Runs) != cluster.JobRunHistory {
		t.Fatalf("runs kept: %d, want %d", len(stored.Runs), cluster.JobRunHistory)
	}
	if _, err := d.UpdateJob(a, "nope", claim, nil); cluster.ErrorCode(err) != cluster.ENOTFOUND {
		t.Fatalf("UpdateJob of an unknown job: %v, want ENOTFOUND", err)
	}

	must(t, d.DeleteJob(a, "cleanup"))
	if err := d.DeleteJob(a, "cleanup"); cluster.ErrorCode(err) != cluster.ENOTFOUND {
		t.Fatalf("DeleteJob of a deleted job: %v, want ENOTFOUND", err)
	}
	if _, err := d.Job(a, "cleanup"); cluster.ErrorCode(err) != cluster.ENOTFOUND {
		t.Fatalf("Job of a deleted job: %v, want ENOTFOUND", err)
	}
	must(t, d.DeleteApp(a))
	must(t, errOf(d.CreateApp(a)))
	if jobs, _ := d.Jobs(a); len(jobs) != 0 {
		t.Fatalf("jobs of an app created again after its delete: %s", jobNames(jobs))
	}
	if all, _ := d.AllJobs(); jobNames(all) != b+"/report" {
		t.Fatalf("all jobs after the delete = %s; want b's", jobNames(all))
	}
}
