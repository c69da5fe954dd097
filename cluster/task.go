package cluster

import "time"

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
