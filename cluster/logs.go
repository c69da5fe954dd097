package cluster

import (
	"strconv"
	"strings"
	"time"
)

// MaxLogLines bounds how many lines per instance one logs request may ask
// for (tail), and how many a request that gives only since returns.
const MaxLogLines = 10000

// LogTailAll, as LogOptions.Tail, asks for every line.
const LogTailAll = -1

// LogOptions selects the lines of an instance's output.
type LogOptions struct {
	// Tail is how many of the last lines to send first: 0 for none,
	// LogTailAll for every line.
	Tail int
	// Since, when not zero, leaves out the lines printed before it. Tail
	// then counts from the end of what is left.
	Since time.Time
	// Follow keeps sending lines as the container prints them, until the
	// caller's context ends or the container stops.
	Follow bool
}

// LogLine is one line an instance printed on its stdout or stderr, as a
// log stream sends it. A line with Error set carries no output: it says
// why the instance's output could not be read for a while.
type LogLine struct {
	Instance string    `json:"instance"` // HOST:PORT
	Host     string    `json:"host"`
	Stream   string    `json:"stream,omitempty"` // "stdout" or "stderr"
	Time     time.Time `json:"time"`             // when Docker received it
	Line     string    `json:"line"`
	Error    string    `json:"error,omitempty"`
}

// ParseLogTail reads a logs request's tail parameter: a number of lines
// from 0 to MaxLogLines.
func ParseLogTail(s string) (int, error) {
	n, err := strconv.Atoi(strings.TrimSpace(s))
	if err != nil || n < 0 || n > MaxLogLines {
		return 0, Errorf(EINVALID, "tail=%q is not a number of lines from 0 to %d: give, for example, tail=100.", clip(s), MaxLogLines)
	}
	return n, nil
}

// ParseLogSince reads a logs request's since parameter: a duration before
// now ("10m", "1h30m") or an RFC 3339 time ("2026-01-02T15:04:05Z").
func ParseLogSince(s string, now time.Time) (time.Time, error) {
	s = strings.TrimSpace(s)
	if d, err := time.ParseDuration(s); err == nil && d >= 0 {
		return now.Add(-d), nil
	}
	if t, err := time.Parse(time.RFC3339Nano, s); err == nil {
		return t, nil
	}
	return time.Time{}, Errorf(EINVALID, "since=%q is neither a duration such as 10m nor an RFC 3339 time such as 2026-01-02T15:04:05Z: give one of those.", clip(s))
}
