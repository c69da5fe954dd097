package scheduler_test

import (
	"testing"
	"time"

	"github.com/longshoreman/longshoreman/cluster"
	"github.com/longshoreman/longshoreman/scheduler"
)

// never is a schedule that never comes due.
type never struct{}

func (never) Next(time.Time) time.Time { return time.Time{} }

// TestDecideJob: what the runner does about a job at a moment, on a fake
// clock: wait for the next due time; run what came due; run late, once,
// what came due before this leader began (or several missed due times);
// skip, never overlap, while the last run runs.
func TestDecideJob(t *testing.T) {
	t.Parallel()
	t0 := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	every5s, err := cluster.ParseSchedule("@every 5s")
	if err != nil {
		t.Fatal(err)
	}
	quarter, err := cluster.ParseSchedule("*/15 * * * *")
	if err != nil {
		t.Fatal(err)
	}
	at := func(d time.Duration) time.Time { return t0.Add(d) }
	job := func(lastDue time.Duration) cluster.Job {
		j := cluster.Job{App: "a.example.com", Name: "report", Created: t0}
		if lastDue >= 0 {
			j.LastDue = at(lastDue)
		}
		return j
	}
	const none = -1
	for _, c := range []struct {
		name    string
		job     cluster.Job
		sched   cluster.Schedule
		running bool
		now     time.Duration
		since   time.Duration // from t0
		want    scheduler.JobDecision
	}{
		{name: "new job, not yet due", job: job(none), sched: every5s, now: 2 * time.Second,
			want: scheduler.JobDecision{Action: scheduler.JobWait, Due: at(5 * time.Second)}},
		{name: "due now", job: job(none), sched: every5s, now: 5 * time.Second,
			want: scheduler.JobDecision{Action: scheduler.JobRun, Due: at(5 * time.Second)}},
		{name: "due a moment ago, while this leader watched", job: job(none), sched: every5s, now: 5*time.Second + 300*time.Millisecond,
			want: scheduler.JobDecision{Action: scheduler.JobRun, Due: at(5 * time.Second)}},
		{name: "after a claim, the next due time", job: job(5 * time.Second), sched: every5s, now: 7 * time.Second,
			want: scheduler.JobDecision{Action: scheduler.JobWait, Due: at(10 * time.Second)}},
		{name: "due before this leader began: late", job: job(5 * time.Second), sched: every5s, now: 13 * time.Second, since: 12 * time.Second,
			want: scheduler.JobDecision{Action: scheduler.JobRun, Due: at(10 * time.Second), Late: true}},
		{name: "several missed: one late run for the latest", job: job(5 * time.Second), sched: every5s, now: 27 * time.Second, since: 26 * time.Second,
			want: scheduler.JobDecision{Action: scheduler.JobRun, Due: at(25 * time.Second), Late: true, Missed: 3}},
		{name: "missed while watching (a run that could not start): late", job: job(5 * time.Second), sched: every5s, now: 16 * time.Second,
			want: scheduler.JobDecision{Action: scheduler.JobRun, Due: at(15 * time.Second), Late: true, Missed: 1}},
		{name: "last run still runs: skip", job: job(5 * time.Second), sched: every5s, running: true, now: 10 * time.Second,
			want: scheduler.JobDecision{Action: scheduler.JobSkip, Due: at(10 * time.Second)}},
		{name: "last run still runs, several due: one skip", job: job(5 * time.Second), sched: every5s, running: true, now: 21 * time.Second, since: 20 * time.Second,
			want: scheduler.JobDecision{Action: scheduler.JobSkip, Due: at(20 * time.Second), Missed: 2}},
		{name: "running but nothing due: wait", job: job(5 * time.Second), sched: every5s, running: true, now: 6 * time.Second,
			want: scheduler.JobDecision{Action: scheduler.JobWait, Due: at(10 * time.Second)}},
		{name: "cron: next quarter hour", job: job(none), sched: quarter, now: 3 * time.Minute,
			want: scheduler.JobDecision{Action: scheduler.JobWait, Due: at(15 * time.Minute)}},
		{name: "cron: an hour without a leader, one late run", job: job(15 * time.Minute), sched: quarter, now: 80 * time.Minute, since: 79 * time.Minute,
			want: scheduler.JobDecision{Action: scheduler.JobRun, Due: at(75 * time.Minute), Late: true, Missed: 3}},
		{name: "never due again", job: job(none), sched: never{}, now: time.Hour,
			want: scheduler.JobDecision{Action: scheduler.JobWait}},
	} {
		t.Run(c.name, func(t *testing.T) {
			got := scheduler.DecideJob(scheduler.JobState{Job: c.job, Schedule: c.sched, Running: c.running, Now: at(c.now), Since: at(c.since)})
			if got.Action != c.want.Action || !got.Due.Equal(c.want.Due) || got.Late != c.want.Late || got.Missed != c.want.Missed {
				t.Errorf("DecideJob = %s due %s late %v missed %d; want %s due %s late %v missed %d",
					got.Action, got.Due.Sub(t0), got.Late, got.Missed, c.want.Action, c.want.Due.Sub(t0), c.want.Late, c.want.Missed)
			}
		})
	}
}

// TestParseSchedule: cron expressions and intervals parse; what does not
// is an EINVALID error that says how to write one.
func TestParseSchedule(t *testing.T) {
	t.Parallel()
	for _, ok := range []string{"*/15 * * * *", "0 3 * * 1-5", "@every 10m", "@every 1s", "@hourly", "@daily"} {
		if _, err := cluster.ParseSchedule(ok); err != nil {
			t.Errorf("ParseSchedule(%q): %v", ok, err)
		}
	}
	for _, bad := range []string{"", "every 10m", "* * * *", "61 * * * *", "@every 500ms", "@every", "* * * * * *"} {
		_, err := cluster.ParseSchedule(bad)
		if cluster.ErrorCode(err) != cluster.EINVALID {
			t.Errorf("ParseSchedule(%q) = %v; want EINVALID", bad, err)
		}
	}
}
