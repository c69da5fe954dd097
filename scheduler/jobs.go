package scheduler

import (
	"context"
	"time"

	"github.com/longshoreman/longshoreman/cluster"
)

// What the job runner does about one job at one moment: DecideJob, a pure
// function of the job's record, its schedule, whether its last run still
// runs, the time, and when this leader began running jobs. The runner
// (jobrunner.go) carries it out: a run or a skip is claimed in the store
// by a write conditioned on the job's LastDue being what was read, in the
// same transaction as the run's task record, so that whichever controller
// leads a due time is claimed once.

// JobAction is what DecideJob says to do about a job.
type JobAction int

const (
	JobWait JobAction = iota // nothing is due: wake at Due
	JobRun                   // start a run for Due
	JobSkip                  // Due came while the last run still runs: record it skipped
)

func (a JobAction) String() string {
	switch a {
	case JobRun:
		return "run"
	case JobSkip:
		return "skip"
	}
	return "wait"
}

// JobState is what DecideJob reads.
type JobState struct {
	Job      cluster.Job
	Schedule cluster.Schedule
	// Running reports whether the job's last claimed run still runs.
	Running bool
	Now     time.Time
	// Since is when this controller began running jobs (its term began):
	// a due time before it passed while no controller watched the clock.
	Since time.Time
}

// JobDecision is DecideJob's answer.
type JobDecision struct {
	Action JobAction
	// Due is the due time acted on (the latest one passed, for a run or a
	// skip), or the next one to wake at (JobWait; zero when the schedule
	// never comes due again).
	Due time.Time
	// Late is set for a run whose first unclaimed due time passed before
	// Since, or when due times were missed.
	Late bool
	// Missed counts the due times before Due that passed unclaimed: the
	// one run (or skip) stands for them, a job never runs twice to catch
	// up.
	Missed int
}

// maxCatchUp bounds the due times DecideJob walks past: @every 1s missed
// for a day is 86400 of them.
const maxCatchUp = 1 << 20

// DecideJob decides what to do about a job now. Nothing due: wait for the
// next due time. Due times passed and unclaimed: one decision covers the
// latest of them (Missed counts the others), a skip when the last run
// still runs (runs never overlap), else a run, late when the first of them
// passed before this controller watched the clock or others were missed.
func DecideJob(st JobState) JobDecision {
	due := st.Job.NextDue(st.Schedule)
	if due.IsZero() || due.After(st.Now) {
		return JobDecision{Action: JobWait, Due: due}
	}
	first, missed := due, 0
	for range maxCatchUp {
		next := st.Schedule.Next(due)
		if next.IsZero() || next.After(st.Now) {
			break
		}
		due, missed = next, missed+1
	}
	if st.Running {
		return JobDecision{Action: JobSkip, Due: due, Missed: missed}
	}
	return JobDecision{Action: JobRun, Due: due, Missed: missed, Late: first.Before(st.Since) || missed > 0}
}

// AddJob stores a new scheduled job of an app (validated; its Created is
// now), held to the leadership term like every change. The leader's job
// runner sees it within DefaultJobPoll; its first run is due at the
// schedule's first time after its creation.
func (s *Scheduler) AddJob(ctx context.Context, j cluster.Job) (*cluster.Job, error) {
	if err := j.Validate(); err != nil {
		return nil, err
	}
	ctx, end, err := s.begin(ctx)
	if err != nil {
		return nil, err
	}
	defer end()
	a, err := s.store.App(j.App)
	if err != nil {
		return nil, err
	}
	if err := notDeleting(a); err != nil {
		return nil, err
	}
	j.Created, j.LastDue, j.Runs = time.Now().UTC(), time.Time{}, nil
	if err := s.fenced(ctx).CreateJob(j); err != nil {
		return nil, err
	}
	s.cfg.Logger.Info("job added", "app", j.App, "job", j.Name, "schedule", j.Schedule)
	return &j, nil
}

// RemoveJob removes a scheduled job: no run starts after it; a run going
// on runs to its end, recorded as a task of the app.
func (s *Scheduler) RemoveJob(ctx context.Context, app, name string) error {
	ctx, end, err := s.begin(ctx)
	if err != nil {
		return err
	}
	defer end()
	if err := s.fenced(ctx).DeleteJob(app, name); err != nil {
		return err
	}
	s.cfg.Logger.Info("job removed", "app", app, "job", name)
	return nil
}
