package scheduler

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/longshoreman/longshoreman/cluster"
)

// DefaultJobPoll is how often the job runner reads the jobs again when
// none comes due sooner: a job added (on any controller) is seen within it.
const DefaultJobPoll = time.Second

// JobRunnerConfig tunes a JobRunner. Zero values take the defaults.
type JobRunnerConfig struct {
	Poll time.Duration    // default DefaultJobPoll
	Now  func() time.Time // the clock the schedules are read on; default time.Now
}

// JobRunner runs the scheduled jobs (cluster.Job) while this controller
// leads: each pass reads every job, decides with DecideJob, and claims
// each run or skip in the store before anything starts (see jobs.go). A
// run is a one-off task of the app's current revision (runTask), so it
// outlives this controller like any task: whichever controller leads
// records its end, and this runner copies that end into the job's run.
type JobRunner struct {
	s    *Scheduler
	poll time.Duration
	now  func() time.Time

	mu      sync.Mutex        // guards the maps below
	pending map[string]bool   // app/job -> a run decided, not yet claimed or given up
	warned  map[string]string // app/job -> the schedule already reported as unreadable
}

// NewJobRunner returns the job runner of s.
func NewJobRunner(s *Scheduler, cfg JobRunnerConfig) *JobRunner {
	if cfg.Poll == 0 {
		cfg.Poll = DefaultJobPoll
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	return &JobRunner{s: s, poll: cfg.Poll, now: cfg.Now, pending: map[string]bool{}, warned: map[string]string{}}
}

// Run runs the jobs until ctx ends; with a Fence, within one leadership
// term (ctx's, or the current one). A due time that passed before it began
// is run once, late. The runs it started run on when it returns; the next
// leader records how they ended.
func (r *JobRunner) Run(ctx context.Context) {
	ctx, end, err := r.s.begin(ctx)
	if err != nil {
		r.s.cfg.Logger.Warn("not running jobs", "err", cluster.ErrorMessage(err))
		return
	}
	defer end()
	since := r.now()
	var wg sync.WaitGroup
	defer wg.Wait()
	for {
		wake := r.pass(ctx, &wg, since)
		t := time.NewTimer(max(wake.Sub(r.now()), 0))
		select {
		case <-ctx.Done():
			t.Stop()
			return
		case <-t.C:
		}
	}
}

// pass decides about every job and carries out what is due; it returns
// when to pass again: at the next due time, or after the poll interval.
func (r *JobRunner) pass(ctx context.Context, wg *sync.WaitGroup, since time.Time) time.Time {
	now := r.now()
	wake := now.Add(r.poll)
	jobs, err := r.s.store.AllJobs()
	if err != nil {
		r.s.cfg.Logger.Warn("reading the jobs failed; retrying", "err", cluster.ErrorMessage(err))
		return wake
	}
	for _, j := range jobs {
		if ctx.Err() != nil {
			return wake
		}
		key := j.App + "/" + j.Name
		sched, err := cluster.ParseSchedule(j.Schedule)
		if err != nil {
			r.warnOnce(key, j.Schedule, err)
			continue
		}
		if r.isPending(key) {
			continue
		}
		running := r.s.settleJob(ctx, &j)
		d := DecideJob(JobState{Job: j, Schedule: sched, Running: running != nil, Now: now, Since: since})
		switch d.Action {
		case JobWait:
			if !d.Due.IsZero() && d.Due.Before(wake) {
				wake = d.Due
			}
		case JobSkip:
			r.s.skipJob(ctx, j, *running, d, now)
		case JobRun:
			r.setPending(key, true)
			wg.Go(func() {
				defer r.setPending(key, false)
				r.s.runJob(ctx, j, d, func() { r.setPending(key, false) })
			})
		}
	}
	return wake
}

func (r *JobRunner) isPending(key string) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.pending[key]
}

func (r *JobRunner) setPending(key string, on bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if on {
		r.pending[key] = true
	} else {
		delete(r.pending, key)
	}
}

// warnOnce logs a job whose stored schedule does not parse, once per
// schedule: one written by a later release, or by hand.
func (r *JobRunner) warnOnce(key, schedule string, err error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.warned[key] == schedule {
		return
	}
	r.warned[key] = schedule
	r.s.cfg.Logger.Warn("a job's schedule does not parse; it does not run", "job", key, "err", cluster.ErrorMessage(err))
}

// runJob starts the run d decided of job j: a one-off task of the app's
// current revision, claimed in the write that records its task (claimed
// is called once it is). A run that cannot start (no deployed revision,
// no host, a failed pull) is claimed as failed, so that it is not tried
// again at every pass; a claim refused because another run of that due
// time was claimed starts nothing.
func (s *Scheduler) runJob(ctx context.Context, j cluster.Job, d JobDecision, claimed func()) {
	run := cluster.JobRun{Due: d.Due, Start: time.Now().UTC(), Outcome: cluster.JobRunning, Late: d.Late, Missed: d.Missed, Note: lateNote(d)}
	var claimErr error
	claim := func(ctx context.Context, rec cluster.Task) error {
		run.Task, run.Host, run.Start = rec.ID, rec.Host, rec.Started
		if claimErr = s.claimJobRun(ctx, j, run, &rec); claimErr != nil {
			return claimErr
		}
		s.tasks.track(rec)
		claimed()
		s.jobStarted(j, run)
		return nil
	}
	rev, err := s.jobRevision(j.App)
	if err == nil {
		_, err = s.runTask(ctx, rev, taskRun{command: j.Command, job: j.Name, timeout: j.Timeout.D(), claim: claim})
	}
	switch {
	case run.Task == "" && claimErr == nil && err != nil:
		run.Outcome, run.Note = cluster.JobFailed, strings.TrimSpace(run.Note+" It did not start: "+cluster.ErrorMessage(err))
		if s.claimJobRun(ctx, j, run, nil) == nil {
			s.jobEnded(j.App, j.Name, run)
		}
	case claimErr != nil:
		if cluster.ErrorCode(claimErr) != cluster.ECONFLICT {
			s.cfg.Logger.Warn("claiming a job's run failed; the next pass decides again", "app", j.App, "job", j.Name, "err", cluster.ErrorMessage(claimErr))
		}
	default:
		// Ended, or followed no more (the next leader records its end):
		// the job's run takes its end from the task's record.
		if t, err := s.store.Task(j.App, run.Task); err == nil && t.State != cluster.TaskRunning {
			s.endJobRun(ctx, j.App, j.Name, run.Due, t)
		}
	}
}

// jobRevision returns the revision a run of app's job runs: its current
// one.
func (s *Scheduler) jobRevision(app string) (*cluster.Revision, error) {
	a, err := s.store.App(app)
	if err != nil {
		return nil, err
	}
	if err := notDeleting(a); err != nil {
		return nil, err
	}
	if !a.Deployed() {
		return nil, cluster.Errorf(cluster.EINVALID, "App %s has never been deployed, so it has no image to run its jobs with", app).WithFix("deploy an image first with", cluster.OpDeploy, cluster.ArgApp, app)
	}
	return s.store.Revision(app, a.Revision)
}

// claimJobRun records run as the job's newest and its due time as the
// last claimed, with task when given, in one write held to ctx's term; it
// fails with ECONFLICT when the job's last due time is no longer the one
// j was read with: another pass, or another controller, claimed it.
func (s *Scheduler) claimJobRun(ctx context.Context, j cluster.Job, run cluster.JobRun, task *cluster.Task) error {
	_, err := s.fenced(ctx).UpdateJob(j.App, j.Name, func(cur *cluster.Job) error {
		if !cur.LastDue.Equal(j.LastDue) {
			return cluster.Errorf(cluster.ECONFLICT, "The run of job %s of %s due at %s was claimed already (its last due time is now %s).", j.Name, j.App, run.Due.Format(time.RFC3339), cur.LastDue.Format(time.RFC3339))
		}
		cur.LastDue = run.Due
		cur.AddRun(run)
		return nil
	}, task)
	return err
}

// skipJob records the run d decided to skip: prev, an earlier run, still
// runs.
func (s *Scheduler) skipJob(ctx context.Context, j cluster.Job, prev cluster.JobRun, d JobDecision, now time.Time) {
	run := cluster.JobRun{Due: d.Due, Start: now.UTC(), Outcome: cluster.JobSkipped, Missed: d.Missed,
		Note: fmt.Sprintf("Skipped: the run due at %s (task %s) was still running, and runs of a job never overlap.", prev.Due.Format(time.RFC3339), prev.Task)}
	if err := s.claimJobRun(ctx, j, run, nil); err != nil {
		if cluster.ErrorCode(err) != cluster.ECONFLICT {
			s.cfg.Logger.Warn("recording a skipped run failed; the next pass decides again", "app", j.App, "job", j.Name, "err", cluster.ErrorMessage(err))
		}
		return
	}
	s.jobEnded(j.App, j.Name, run)
}

// settleJob returns the run of j that still runs, nil when none does
// (skips may have come after it). A run recorded running whose task ended
// (recorded by whichever controller followed it, or lost) has that end
// copied into the job first; one whose task record is gone is lost.
func (s *Scheduler) settleJob(ctx context.Context, j *cluster.Job) (running *cluster.JobRun) {
	for i := range j.Runs {
		run := &j.Runs[i]
		if run.Outcome != cluster.JobRunning {
			continue
		}
		t, err := s.store.Task(j.App, run.Task)
		switch {
		case cluster.ErrorCode(err) == cluster.ENOTFOUND:
			t = &cluster.Task{State: cluster.TaskLost, Started: run.Start, Error: "Its task's record is gone (pruned among the app's older tasks) without its end recorded."}
		case err != nil, t.State == cluster.TaskRunning:
			// Still running, or unknown: a new run must not overlap it.
			if running == nil {
				running = run
			}
			continue
		}
		s.endJobRun(ctx, j.App, j.Name, run.Due, t)
	}
	return running
}

// endJobRun copies how task t ended into the job's run due at due, once:
// a run already ended (by this runner's other path, or another
// controller's) is left as it is, and counted by whoever ended it.
func (s *Scheduler) endJobRun(ctx context.Context, app, name string, due time.Time, t *cluster.Task) {
	var ended cluster.JobRun
	_, err := s.fenced(ctx).UpdateJob(app, name, func(j *cluster.Job) error {
		r := j.Run(due)
		if r == nil || r.Outcome != cluster.JobRunning {
			return cluster.Errorf(cluster.ECONFLICT, "The run of job %s of %s due at %s has its end recorded already.", name, app, due.Format(time.RFC3339))
		}
		r.EndFrom(t)
		ended = *r
		return nil
	}, nil)
	if err != nil {
		if c := cluster.ErrorCode(err); c != cluster.ECONFLICT && c != cluster.ENOTFOUND {
			s.cfg.Logger.Warn("recording the end of a job's run failed; the next pass retries", "app", app, "job", name, "err", cluster.ErrorMessage(err))
		}
		return
	}
	s.jobEnded(app, name, ended)
}

// jobStarted logs and reports a run that started.
func (s *Scheduler) jobStarted(j cluster.Job, run cluster.JobRun) {
	msg := strings.Join(j.Command, " ")
	if run.Late {
		msg = run.Note + " " + msg
	}
	s.cfg.Logger.Info("job run started", "app", j.App, "job", j.Name, "due", run.Due, "late", run.Late, "task", run.Task, "host", run.Host)
	s.emit(cluster.Event{Type: cluster.EventJob, Step: "started", App: j.App, Host: run.Host, Job: j.Name, Message: msg})
}

// jobEnded logs, counts and reports a run's outcome: its end, a skip, or a
// failure to start.
func (s *Scheduler) jobEnded(app, name string, run cluster.JobRun) {
	msg := run.Note
	if run.ExitCode != nil {
		msg = strings.TrimSpace(fmt.Sprintf("exit code %d. %s", *run.ExitCode, run.Note))
	}
	log := s.cfg.Logger.Info
	if run.Outcome != cluster.JobSucceeded {
		log = s.cfg.Logger.Warn
	}
	log("job run "+run.Outcome, "app", app, "job", name, "due", run.Due, "task", run.Task, "result", msg)
	s.cfg.Observer.JobRun(app, name, run.Outcome)
	s.emit(cluster.Event{Type: cluster.EventJob, Step: run.Outcome, App: app, Host: run.Host, Job: name, Message: msg, Elapsed: run.Duration.D().Milliseconds()})
}

// lateNote says why a run starts late, or nothing for one on time.
func lateNote(d JobDecision) string {
	if !d.Late {
		return ""
	}
	note := fmt.Sprintf("Started late: it was due at %s, when no controller ran it (a restart, a failover, or a run that could not start).", d.Due.Format(time.RFC3339))
	if d.Missed > 0 {
		note += fmt.Sprintf(" %d earlier due times passed too; it ran once for them all.", d.Missed)
	}
	return note
}
