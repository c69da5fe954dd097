package cluster

import (
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
