package cli

import (
	"context"
	"fmt"
	"net/url"
	"strings"
	"time"

	"github.com/longshoreman/longshoreman/cluster"
	api "github.com/longshoreman/longshoreman/http"
)

// runJobs prints a table of the app's scheduled jobs with their next run
// and last run (cluster.LastRun: skips aside), or with --job one job's
// last runs, skips included.
func runJobs(ctx context.Context, c *Call) error {
	var out api.JobsResponse
	if err := c.get(ctx, appPath(c.App, "jobs"), &out); err != nil {
		return err
	}
	if name := c.String("job"); name != "" {
		for _, j := range out.Jobs {
			if j.Name == name {
				return printJobRuns(c, j)
			}
		}
		return fmt.Errorf("%s has no job %s: list its jobs with longshoreman jobs --app %s", c.App, name, c.App)
	}
	if len(out.Jobs) == 0 {
		fmt.Fprintf(c.Stderr, "%s has no scheduled job: add one with longshoreman jobs:add --app %s NAME SCHEDULE -- CMD [ARG...]\n", c.App, c.App)
		return nil
	}
	tw := newTable(c.Stdout)
	fmt.Fprintln(tw, "JOB\tSCHEDULE\tNEXT\tLAST RUN\tOUTCOME\tEXIT\tCOMMAND")
	for _, j := range out.Jobs {
		last, outcome, exit := "-", "-", "-"
		if r, ok := cluster.LastRun(j.Runs); ok {
			last, outcome, exit = jobTime(r.Start), runOutcome(r), runExit(r)
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\n", j.Name, j.Schedule, jobTime(j.Next), last, outcome, exit, oneLine(strings.Join(j.Command, " ")))
	}
	return tw.Flush()
}

// printJobRuns prints one job's last runs, newest first.
func printJobRuns(c *Call, j api.Job) error {
	fmt.Fprintf(c.Stdout, "Job %s: %s, every run of `%s` (timeout %s); next run %s.\n", j.Name, j.Schedule, oneLine(strings.Join(j.Command, " ")), j.Timeout.D(), jobTime(j.Next))
	if len(j.Runs) == 0 {
		fmt.Fprintln(c.Stdout, "No run yet.")
		return nil
	}
	tw := newTable(c.Stdout)
	fmt.Fprintln(tw, "DUE\tSTARTED\tTOOK\tOUTCOME\tEXIT\tTASK\tNOTE")
	for _, r := range j.Runs {
		took := "-"
		if r.Outcome != cluster.JobRunning && r.Outcome != cluster.JobSkipped {
			took = fmt.Sprintf("%.1fs", r.Duration.D().Seconds())
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\n", jobTime(r.Due), jobTime(r.Start), took, runOutcome(r), runExit(r), orNone(r.Task), oneLine(r.Note))
	}
	return tw.Flush()
}

// runJobsAdd adds a scheduled job.
func runJobsAdd(ctx context.Context, c *Call) error {
	name, schedule := c.Args[0], c.Args[1]
	if len(c.Rest) == 0 {
		return fmt.Errorf("jobs:add needs the command after --, e.g. longshoreman jobs:add --app %s %s '%s' -- report --daily", c.App, name, schedule)
	}
	if _, err := cluster.ParseSchedule(schedule); err != nil {
		return err
	}
	timeout, err := taskTimeout(c)
	if err != nil {
		return err
	}
	body := api.JobRequest{Name: name, Schedule: schedule, Command: c.Rest, Timeout: timeout}
	cl, err := c.Client()
	if err != nil {
		return err
	}
	var out api.JobResponse
	if err := cl.do(ctx, request{method: "POST", path: appPath(c.App, "jobs"), body: body}, &out); err != nil {
		return err
	}
	fmt.Fprintf(c.Stdout, "Added job %s of %s (%s): its first run is due %s.\n", name, c.App, schedule, jobTime(out.Job.Next))
	return nil
}

// runJobsRemove removes a scheduled job.
func runJobsRemove(ctx context.Context, c *Call) error {
	if err := c.change(ctx, request{method: "DELETE", path: appPath(c.App, "jobs/"+url.PathEscape(c.Args[0]))}); err != nil {
		return err
	}
	fmt.Fprintf(c.Stdout, "Removed job %s of %s: it starts no more runs.\n", c.Args[0], c.App)
	return nil
}

// runOutcome is a run's outcome, marked when it started late.
func runOutcome(r cluster.JobRun) string {
	if r.Late {
		return r.Outcome + " (late)"
	}
	return r.Outcome
}

func runExit(r cluster.JobRun) string {
	if r.ExitCode == nil {
		return "-"
	}
	return fmt.Sprint(*r.ExitCode)
}

// jobTime is a time as the tables show it, "-" for none.
func jobTime(t time.Time) string {
	if t.IsZero() {
		return "-"
	}
	return t.Local().Format("2006-01-02 15:04:05")
}
