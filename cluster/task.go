package cluster

import (
	"sort"
	"sync"
	"time"
)

// One-off task limits: POST /apps/:app/run and release commands.
const (
	DefaultTaskTimeout = 10 * time.Minute
	MaxTaskTimeout     = 24 * time.Hour
	// TaskTailLines is how many of a task's last output lines an answer
	// without streaming, or a failed release's reason, carries.
	TaskTailLines = 10
)

// Task states. A task is running from its record's creation, before its
// container is created, until its end is recorded; lost is final only
// until its container shows up again (a host that comes back), when its
// real end is recorded.
const (
	TaskRunning   = "running"
	TaskSucceeded = "succeeded" // exited 0
	TaskFailed    = "failed"    // exited non-zero, was killed at its deadline (TimedOut), or never started (Error)
	TaskLost      = "lost"      // its container is gone without its exit seen (Error says why)
)

// TaskHistory is how many tasks of each app the store keeps: the newest
// by start. A record is at most TaskTailLines lines of MaxTaskRecordLine
// bytes of output plus its command (at most 64 KiB, as every command), so
// an app's tasks take at most about 1.5 MiB and usually a few KiB.
const TaskHistory = 20

// MaxTaskRecordLine bounds one output line kept in a task's record; longer
// lines are cut there.
const MaxTaskRecordLine = 1 << 10

// RecordTask is the record kind of one-off tasks: Scope is the app, Key
// the task id.
const RecordTask = "tasks"

// Task is the record of one one-off task (POST /apps/:app/run, or a
// deploy's release command), kept by the store from before its container
// is created until it is pruned: whichever controller leads records how it
// ended, even when the one that started it stopped meanwhile.
type Task struct {
	ID       string   `json:"id"`
	App      string   `json:"app"`
	Revision int      `json:"revision"`
	Command  []string `json:"command"`
	Release  bool     `json:"release,omitempty"` // a deploy's release command
	Job      string   `json:"job,omitempty"`     // the scheduled job it is a run of
	Host     string   `json:"host"`
	State    string   `json:"state"` // TaskRunning, TaskSucceeded, TaskFailed or TaskLost
	// ExitCode is set once the container's exit was seen: its code, or
	// 137 for one killed at its deadline (TimedOut).
	ExitCode *int `json:"exit_code,omitempty"`
	TimedOut bool `json:"timed_out,omitempty"`
	// Error says why a task has no exit code: it never started, or it
	// was lost.
	Error    string    `json:"error,omitempty"`
	Started  time.Time `json:"started"`
	Deadline time.Time `json:"deadline"` // when it is killed if still running
	Finished time.Time `json:"finished,omitzero"`
	Output   []string  `json:"output,omitempty"` // its last TaskTailLines lines, each cut at MaxTaskRecordLine
}

// Ended reports whether the task's end is recorded: exited, killed at its
// deadline or never started. A lost task has not ended: its container may
// still report how it did.
func (t *Task) Ended() bool { return t.State == TaskSucceeded || t.State == TaskFailed }

// End records how the task ended: res (an exit, or TimedOut), its last
// output lines, at at.
func (t *Task) End(res TaskResult, output []string, at time.Time) {
	code := res.ExitCode
	t.ExitCode, t.TimedOut, t.Error = &code, res.TimedOut, ""
	t.State = TaskSucceeded
	if code != 0 || res.TimedOut {
		t.State = TaskFailed
	}
	t.Finished = at.UTC()
	t.Output = clipLines(output)
}

// Fail records that the task never ran to an exit code, for reason.
func (t *Task) Fail(reason string, at time.Time) {
	t.State, t.ExitCode, t.Error, t.Finished = TaskFailed, nil, reason, at.UTC()
}

// Lose records that the task's container is gone without its exit seen,
// for reason.
func (t *Task) Lose(reason string, at time.Time) {
	t.State, t.ExitCode, t.Error, t.Finished = TaskLost, nil, reason, at.UTC()
}

// clipLines returns the last TaskTailLines of lines, each cut at
// MaxTaskRecordLine bytes.
func clipLines(lines []string) []string {
	if len(lines) > TaskTailLines {
		lines = lines[len(lines)-TaskTailLines:]
	}
	out := make([]string, len(lines))
	for i, l := range lines {
		if len(l) > MaxTaskRecordLine {
			l = l[:MaxTaskRecordLine]
		}
		out[i] = l
	}
	return out
}

// SortTasks sorts tasks newest first (by Started, then ID), as every
// store lists them and prunes them.
func SortTasks(tasks []Task) {
	sort.Slice(tasks, func(i, j int) bool {
		if !tasks[i].Started.Equal(tasks[j].Started) {
			return tasks[i].Started.After(tasks[j].Started)
		}
		return tasks[i].ID > tasks[j].ID
	})
}

// TaskLine is one line a one-off task wrote.
type TaskLine struct {
	Stream string `json:"stream"` // "stdout" or "stderr"
	Line   string `json:"line"`
}

// TaskResult is how a one-off task ended: its exit code, or TimedOut when
// it ran past its timeout and was killed.
type TaskResult struct {
	ExitCode int
	TimedOut bool
	// Task is the task's id; Host and Container where its container runs
	// (Container is empty until it was created). Started reports whether
	// the container was started: when a run fails after that, the
	// container runs on, to its own end or deadline.
	Task      string
	Host      string
	Container string
	Started   bool
}

// TaskTail keeps the last TaskTailLines lines of a task's output, for an
// answer or a failure's reason. It is safe for concurrent use: output comes
// from the task's stream goroutines while the tail may be read.
type TaskTail struct {
	mu    sync.Mutex
	lines []string
}

// Add is a task's output function.
func (t *TaskTail) Add(l TaskLine) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.lines = append(t.lines, l.Line)
	if len(t.lines) > TaskTailLines {
		t.lines = t.lines[len(t.lines)-TaskTailLines:]
	}
}

// Lines returns a copy of the lines kept, never nil.
func (t *TaskTail) Lines() []string {
	t.mu.Lock()
	defer t.mu.Unlock()
	return append([]string{}, t.lines...)
}
