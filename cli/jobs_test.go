package cli_test

import (
	"strings"
	"testing"
	"time"
)

// TestJobsCommands adds, lists and removes scheduled jobs with the CLI
// against a real controller: a schedule that does not parse is refused
// before any request; the list shows each job's schedule, next run and
// last outcome (here failed: the app was never deployed, which --job
// says); removing a job twice says there is none.
func TestJobsCommands(t *testing.T) {
	t.Parallel()
	u := newUser(t)
	const app = "jobs.example.com"
	u.ok("apps:add", app)
	u.fails([]string{"--app", app, "jobs:add", "report", "every day", "--", "report"}, `Schedule "every day" does not parse`)
	u.fails([]string{"--app", app, "jobs:add", "report", "@every 1s"}, "needs the command after --")
	if r := u.run("--app", app, "jobs"); r.Code != 0 || !strings.Contains(r.Stderr, "no scheduled job") {
		t.Errorf("jobs of an app without any: %+v", r)
	}
	if out := u.ok("--app", app, "jobs:add", "report", "@every 1s", "--timeout", "2m", "--", "report", "--daily"); !strings.Contains(out, "Added job report of "+app+" (@every 1s)") {
		t.Errorf("jobs:add: %q", out)
	}
	u.fails([]string{"--app", app, "jobs:add", "report", "@every 1s", "--", "report"}, "already has a job named report", "remove that one with longshoreman --app "+app+" jobs:rm report.")

	var out string
	deadline := time.Now().Add(30 * time.Second)
	for out = u.ok("--app", app, "jobs"); !strings.Contains(out, "failed"); out = u.ok("--app", app, "jobs") {
		if time.Now().After(deadline) {
			t.Fatalf("no run recorded within 30s:\n%s", out)
		}
		time.Sleep(100 * time.Millisecond)
	}
	if !strings.Contains(out, "JOB") || !strings.Contains(out, "report") || !strings.Contains(out, "@every 1s") || !strings.Contains(out, "report --daily") {
		t.Errorf("jobs:\n%s", out)
	}
	if runs := u.ok("--app", app, "jobs", "--job", "report"); !strings.Contains(runs, "Job report: @every 1s") || !strings.Contains(runs, "never been deployed") || !strings.Contains(runs, "timeout 2m0s") {
		t.Errorf("jobs --job report:\n%s", runs)
	}
	u.fails([]string{"--app", app, "jobs", "--job", "nope"}, "has no job nope")

	if out := u.ok("--app", app, "jobs:rm", "report"); !strings.Contains(out, "Removed job report") {
		t.Errorf("jobs:rm: %q", out)
	}
	u.fails([]string{"--app", app, "jobs:rm", "report"}, "has no job report", "see its jobs with longshoreman --app "+app+" jobs.")
}
