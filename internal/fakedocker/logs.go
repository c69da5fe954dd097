package fakedocker

import (
	"context"
	"time"

	"github.com/longshoreman/longshoreman/cluster"
)

// Print makes the container print line on stream ("stdout" or "stderr"),
// as a test app writing to its output; StreamLogs followers get it.
func (e *Engines) Print(id, stream, line string) error {
	e.mu.Lock()
	defer e.mu.Unlock()
	c, ok := e.containers[id]
	if !ok {
		return cluster.Errorf(cluster.ENOTFOUND, "Container %s is not on any fake host.", id)
	}
	if e.printed == nil {
		e.printed = map[string][]cluster.LogLine{}
	}
	e.printed[id] = append(e.printed[id], cluster.LogLine{Host: c.Host, Stream: stream, Time: time.Now().UTC(), Line: line})
	e.wakeLogsLocked()
	return nil
}

// wakeLogsLocked tells StreamLogs followers to look again; e.mu held.
func (e *Engines) wakeLogsLocked() {
	if e.logWake != nil {
		close(e.logWake)
		e.logWake = nil
	}
}

// StreamLogs implements scheduler.Engines: the container's first line
// names it, then come the lines given to Print. With opts.Follow it waits
// for more until ctx ends or the container exits or is removed.
func (e *Engines) StreamLogs(ctx context.Context, host, id string, opts cluster.LogOptions, emit func(cluster.LogLine) error) error {
	sent := 0
	first := true
	for {
		e.mu.Lock()
		if err := e.call("StreamLogs", host); err != nil {
			e.mu.Unlock()
			return err
		}
		c, ok := e.containers[id]
		if !ok || c.Host != host {
			e.mu.Unlock()
			if first {
				return cluster.Errorf(cluster.ENOTFOUND, "Container %s is not on %s.", id, host)
			}
			return nil
		}
		lines := append([]cluster.LogLine{{Host: host, Stream: "stdout", Line: "fake container " + short(id) + " of " + c.Image}}, e.printed[id]...)
		running := c.Running
		if e.logWake == nil {
			e.logWake = make(chan struct{})
		}
		wake := e.logWake
		e.mu.Unlock()

		all := len(lines)
		if first {
			lines = selectLines(lines, opts)
			first = false
		} else {
			lines = lines[min(sent, all):]
		}
		sent = all
		for _, l := range lines {
			if err := emit(l); err != nil {
				return err
			}
		}
		if !opts.Follow || !running {
			return nil
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-wake:
		}
	}
}

// selectLines applies opts.Since and opts.Tail to a container's lines.
func selectLines(lines []cluster.LogLine, opts cluster.LogOptions) []cluster.LogLine {
	if !opts.Since.IsZero() {
		var kept []cluster.LogLine
		for _, l := range lines {
			if !l.Time.Before(opts.Since) {
				kept = append(kept, l)
			}
		}
		lines = kept
	}
	if opts.Tail >= 0 && len(lines) > opts.Tail {
		lines = lines[len(lines)-opts.Tail:]
	}
	return lines
}
