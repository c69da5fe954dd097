package docker

import (
	"bytes"
	"context"
	"fmt"
	"strconv"
	"strings"
	"time"

	cerrdefs "github.com/containerd/errdefs"
	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/pkg/stdcopy"

	"github.com/longshoreman/longshoreman/cluster"
)

// maxLogLine bounds one line kept in memory while its end has not come;
// a longer line is sent in pieces of this size.
const maxLogLine = 64 << 10

// StreamLogs sends the lines the container printed on its stdout and stderr
// to emit, one call per line, in the order Docker sends them, with Host,
// Stream, Time and Line set. opts picks the lines: the last opts.Tail (or
// all), none printed before opts.Since; with opts.Follow it then sends each
// new line as it comes until ctx ends or the container stops, and is not
// bounded by the per-call timeout.
//
// It returns nil when the container's output ended (or, without Follow,
// was read), ctx's error when ctx ended, emit's error when emit failed, a
// *cluster.Error with ENOTFOUND for an unknown container and EHOST when
// the host failed. emit is called from one goroutine at a time.
func (e *Engines) StreamLogs(ctx context.Context, host, id string, opts cluster.LogOptions, emit func(cluster.LogLine) error) error {
	c, err := e.client(host)
	if err != nil {
		return err
	}
	if !opts.Follow {
		var cancel context.CancelFunc
		ctx, cancel = e.bounded(ctx)
		defer cancel()
	}
	lo := container.LogsOptions{ShowStdout: true, ShowStderr: true, Timestamps: true, Follow: opts.Follow, Tail: "all"}
	if opts.Tail >= 0 {
		lo.Tail = strconv.Itoa(opts.Tail)
	}
	if !opts.Since.IsZero() {
		lo.Since = fmt.Sprintf("%d.%09d", opts.Since.Unix(), opts.Since.Nanosecond())
	}
	rc, err := c.ContainerLogs(ctx, id, lo)
	if err != nil {
		if ctx.Err() != nil && opts.Follow {
			return ctx.Err()
		}
		if cerrdefs.IsNotFound(err) {
			return cluster.Errorf(cluster.ENOTFOUND, "Container %s is not on %s.", id, host)
		}
		if cerrdefs.IsConflict(err) || logFileGone(err) {
			// "can not get logs from container which is dead or marked
			// for removal", or its log file already deleted by the
			// removal: it is leaving, as a container gone is.
			return cluster.Errorf(cluster.ENOTFOUND, "Container %s on %s is being removed.", id, host)
		}
		return e.hostError(host, "read the logs of container "+id, err)
	}
	defer rc.Close()
	stdout := &logLineWriter{host: host, stream: "stdout", emit: emit}
	stderr := &logLineWriter{host: host, stream: "stderr", emit: emit}
	_, err = stdcopy.StdCopy(stdout, stderr, rc)
	if err == nil {
		err = stdout.flush()
	}
	if err == nil {
		err = stderr.flush()
	}
	switch {
	case err == nil:
		return nil
	case stdout.failed != nil || stderr.failed != nil:
		return err // emit's own error
	case ctx.Err() != nil && opts.Follow:
		return ctx.Err()
	}
	return e.hostError(host, "read the logs of container "+id, err)
}

// logLineWriter cuts one demultiplexed stream into lines, each starting with
// the timestamp Docker adds, and sends each whole line to emit.
type logLineWriter struct {
	host, stream string
	emit         func(cluster.LogLine) error
	partial      []byte    // the start of a line whose end has not come
	last         time.Time // the last line's timestamp
	failed       error     // emit's error, once it failed
}

func (w *logLineWriter) Write(p []byte) (int, error) {
	n := len(p)
	for len(p) > 0 {
		i := bytes.IndexByte(p, '\n')
		if i < 0 {
			w.partial = append(w.partial, p...)
			if len(w.partial) >= maxLogLine {
				if err := w.flush(); err != nil {
					return 0, err
				}
			}
			break
		}
		w.partial = append(w.partial, p[:i]...)
		p = p[i+1:]
		if err := w.flush(); err != nil {
			return 0, err
		}
	}
	return n, nil
}

// flush sends what is held as one line, if anything is.
func (w *logLineWriter) flush() error {
	if len(w.partial) == 0 {
		return nil
	}
	line := strings.TrimRight(string(w.partial), "\r")
	w.partial = w.partial[:0]
	// A piece of an over-long line has no timestamp of its own: it
	// belongs to the line before.
	l := cluster.LogLine{Host: w.host, Stream: w.stream, Line: line, Time: w.last}
	if ts, text, ok := strings.Cut(line, " "); ok {
		if at, err := time.Parse(time.RFC3339Nano, ts); err == nil {
			l.Time, l.Line = at, text
			w.last = at
		}
	}
	if err := w.emit(l); err != nil {
		w.failed = err
		return err
	}
	return nil
}

// logFileGone reports whether the daemon could not open a container's
// log file because its removal deleted it ("open .../ID-json.log: no such
// file or directory"), a removal the daemon has not finished saying.
func logFileGone(err error) bool {
	msg := err.Error()
	return strings.Contains(msg, "-json.log: no such file or directory")
}
