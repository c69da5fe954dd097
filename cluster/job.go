package cluster

import (
	"cmp"
	"fmt"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/robfig/cron/v3"
)

// Scheduled jobs: a command run as a one-off task of an app's current
// revision on a clock (POST /apps/:app/jobs).
const (
	// RecordJob is the record kind of jobs: Scope is the app, Key the
	// job's name.
	RecordJob = "jobs"
	// JobRunHistory is how many of a job's last runs (started or skipped)
	// its record keeps, newest first.
	JobRunHistory = 10
	// MaxJobs is how many jobs one app may have.
	MaxJobs = 50
)

// Operations on jobs, as a Fix may name them (see Ops).
const (
	OpJobs      = "jobs"
	OpAddJob    = "jobs:add"
	OpRemoveJob = "jobs:rm"
	ArgJob      = "job" // a job's name
)

func init() { Ops = append(Ops, OpJobs, OpAddJob, OpRemoveJob) }

// Outcomes of a job's run, its JobRun.Outcome and the outcome label of
// longshoreman_job_runs_total.
const (
	JobRunning   = "running"   // its task runs
	JobSucceeded = "succeeded" // its task exited 0
	JobFailed    = "failed"    // its task exited non-zero, timed out, or never started
	JobSkipped   = "skipped"   // it came due while the previous run still ran: not started
	JobLost      = "lost"      // its task's container vanished without its exit seen
)

// Job is a scheduled job of an app: Command run as a one-off task of the
// app's current revision each time Schedule comes due, by the leader only.
//
// LastDue is the store's record that the run due at that time was
// claimed (started, or skipped for a run still going): the leader claims a
// due time in the same write that records its task, conditioned on LastDue
// still being what it read, so a run is never started twice whichever
// controller leads; a due time that passed unclaimed (no leader, or a
// failover) runs once, late, and says so.
type Job struct {
	App      string    `json:"app"`
	Name     string    `json:"name"`
	Schedule string    `json:"schedule"`
	Command  []string  `json:"command"`
	Timeout  Duration  `json:"timeout"`
	Created  time.Time `json:"created"`
	LastDue  time.Time `json:"last_due,omitzero"` // zero before the first claim
	Runs     []JobRun  `json:"runs,omitempty"`    // newest first, at most JobRunHistory
}

// JobRun is one run of a job: started as a task, or skipped.
type JobRun struct {
	Due     time.Time `json:"due"`
	Start   time.Time `json:"start"`
	Outcome string    `json:"outcome"` // JobRunning, JobSucceeded, JobFailed, JobSkipped or JobLost
	// Late is set for a run started after its due time passed unclaimed
	// (no controller led then); Missed counts the due times before it
	// that passed unclaimed too, which this one run stands for.
	Late     bool     `json:"late,omitempty"`
	Missed   int      `json:"missed,omitempty"`
	Task     string   `json:"task,omitempty"` // the one-off task's id
	Host     string   `json:"host,omitempty"`
	Duration Duration `json:"duration"`
	ExitCode *int     `json:"exit_code,omitempty"`
	Output   []string `json:"output,omitempty"`
	Note     string   `json:"note,omitempty"` // why it was skipped, late, failed without an exit code, or lost
}

// Schedule says when a job comes due: the first time after a given one.
// A parsed cron expression or @every interval (ParseSchedule) is one.
type Schedule interface {
	Next(time.Time) time.Time
}

// ParseSchedule reads a job's schedule: a standard 5-field cron expression
// ("*/15 * * * *", in UTC), a descriptor (@hourly, @daily...) or "@every
// DURATION" of at least a second.
func ParseSchedule(s string) (Schedule, error) {
	sched, err := cron.ParseStandard(s)
	if err != nil {
		return nil, Errorf(EINVALID, "Schedule %q does not parse (%v): give a 5-field cron expression such as \"*/15 * * * *\" (minute hour day-of-month month day-of-week, in UTC) or an interval such as \"@every 10m\".", clip(s), err)
	}
	// cron.Every rounds an interval under a second up to one: refuse it
	// instead, as it would not run as often as it says.
	if every, ok := strings.CutPrefix(s, "@every "); ok {
		if d, err := time.ParseDuration(every); err == nil && d < time.Second {
			return nil, Errorf(EINVALID, "Schedule %q runs more often than once a second: give an interval of at least \"@every 1s\".", clip(s))
		}
	}
	return sched, nil
}

var jobName = regexp.MustCompile(`^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$`)

// Validate checks a job's name, schedule, command and timeout.
func (j *Job) Validate() error {
	if !jobName.MatchString(j.Name) {
		return Errorf(EINVALID, "Job name %q is not allowed: use 1 to 63 lower-case letters, digits and dashes, not starting or ending with a dash (e.g. \"nightly-report\").", clip(j.Name))
	}
	if _, err := ParseSchedule(j.Schedule); err != nil {
		return err
	}
	if len(j.Command) == 0 {
		return Errorf(EINVALID, "Job %s has no command: give the command to run after `--`, or as \"command\": [\"report\", \"--daily\"].", j.Name)
	}
	if t := j.Timeout.D(); t <= 0 || t > MaxTaskTimeout {
		return Errorf(EINVALID, "The timeout of job %s is %s: give a duration above 0 and at most %s, such as \"10m\".", j.Name, t, MaxTaskTimeout)
	}
	return nil
}

// NextDue returns the first time sched comes due after the job's last
// claimed due time (after its creation, before any claim): when its next
// run is due, which may have passed.
func (j *Job) NextDue(sched Schedule) time.Time {
	base := j.LastDue
	if base.IsZero() {
		base = j.Created
	}
	return sched.Next(base)
}

// AddRun puts run first among the job's runs, keeping the newest
// JobRunHistory.
func (j *Job) AddRun(run JobRun) {
	j.Runs = append([]JobRun{run}, j.Runs...)
	if len(j.Runs) > JobRunHistory {
		j.Runs = j.Runs[:JobRunHistory]
	}
}

// LastRun returns the newest of runs (newest first) that started, and
// false when none did: a skipped due time is not a run, and listing it
// as the last would hide how the run it gave way to went.
func LastRun(runs []JobRun) (JobRun, bool) {
	for _, r := range runs {
		if r.Outcome != JobSkipped {
			return r, true
		}
	}
	return JobRun{}, false
}

// Run returns the job's kept run due at due, nil when none is kept.
func (j *Job) Run(due time.Time) *JobRun {
	for i := range j.Runs {
		if j.Runs[i].Due.Equal(due) {
			return &j.Runs[i]
		}
	}
	return nil
}

// EndFrom records on the run how task t ended: its outcome, exit code,
// duration and output. A task still running changes nothing.
func (r *JobRun) EndFrom(t *Task) {
	switch t.State {
	case TaskSucceeded:
		r.Outcome = JobSucceeded
	case TaskFailed:
		r.Outcome = JobFailed
	case TaskLost:
		r.Outcome = JobLost
	default:
		return
	}
	r.ExitCode, r.Output = t.ExitCode, t.Output
	if !t.Finished.IsZero() {
		r.Duration = Duration(t.Finished.Sub(t.Started).Round(time.Millisecond))
	}
	switch {
	case t.TimedOut:
		r.Note = strings.TrimSpace(r.Note + fmt.Sprintf(" It timed out after %s and was killed.", t.Deadline.Sub(t.Started)))
	case t.Error != "":
		r.Note = strings.TrimSpace(r.Note + " " + t.Error)
	}
}

// SortJobs sorts jobs by app, then name, as every store lists them.
func SortJobs(jobs []Job) {
	slices.SortFunc(jobs, func(a, b Job) int {
		return cmp.Or(cmp.Compare(a.App, b.App), cmp.Compare(a.Name, b.Name))
	})
}

// NoJob is the error of an unknown job.
func NoJob(app, name string) error {
	return Errorf(ENOTFOUND, "App %s has no job %s", app, name).WithFix("see its jobs with", OpJobs, ArgApp, app)
}

// JobExists is the error of a job created under a name its app has.
func JobExists(app, name string) error {
	return Errorf(ECONFLICT, "App %s already has a job named %s", app, name).WithFix("give the new one another name, or remove that one with", OpRemoveJob, ArgApp, app, ArgJob, name)
}

// TooManyJobs is the error of a job created for an app with MaxJobs.
func TooManyJobs(app string) error {
	return Errorf(EINVALID, "App %s has %d jobs, the most one app may have: remove one first", app, MaxJobs).WithFix("see them with", OpJobs, ArgApp, app)
}
