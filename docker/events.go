package docker

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/docker/docker/api/types/events"
	"github.com/docker/docker/api/types/filters"

	"github.com/longshoreman/longshoreman/cluster"
)

// Events streams the host's events about containers that carry LabelApp and
// whose LabelHost is host, until ctx ends or the stream fails. A non-zero
// since replays the events from that time on first, so a stream reopened
// after a failure misses nothing that happened while it was down. The error
// channel then gets exactly one value (ctx's error when ctx ended, an EHOST
// error otherwise) and the event channel is closed.
//
// The event channel is unbuffered beyond a small queue: a consumer that
// stops reading stalls the stream, so read until the error arrives or
// cancel ctx.
func (e *Engines) Events(ctx context.Context, host string, since time.Time) (<-chan cluster.ContainerEvent, <-chan error) {
	out := make(chan cluster.ContainerEvent, 16)
	errc := make(chan error, 1)
	c, err := e.client(host)
	if err != nil {
		close(out)
		errc <- err
		return out, errc
	}
	opts := events.ListOptions{
		Filters: filters.NewArgs(
			filters.Arg("type", string(events.ContainerEventType)),
			filters.Arg("label", cluster.LabelApp),
			filters.Arg("label", cluster.LabelHost+"="+host),
		),
	}
	if !since.IsZero() {
		opts.Since = fmt.Sprintf("%d.%09d", since.Unix(), since.Nanosecond())
	}
	go func() {
		defer close(out)
		// The client's Events reads the negotiated API version on a
		// goroutine of its own, unsynchronized; a request made first
		// negotiates it under the client's lock, so that read is ordered
		// after the write.
		if _, err := c.ServerVersion(ctx); err != nil {
			if ctx.Err() != nil {
				errc <- ctx.Err()
			} else {
				errc <- e.hostError(host, "stream events", err)
			}
			return
		}
		msgs, derrs := c.Events(ctx, opts)
		for {
			select {
			case m := <-msgs:
				ev := cluster.ContainerEvent{
					Host:   host,
					ID:     m.Actor.ID,
					App:    m.Actor.Attributes[cluster.LabelApp],
					Action: string(m.Action),
					Time:   eventTime(m),
				}
				ev.Revision, _ = strconv.Atoi(m.Actor.Attributes[cluster.LabelRevision])
				select {
				case out <- ev:
				case <-ctx.Done():
					errc <- ctx.Err()
					return
				}
			case err := <-derrs:
				if ctx.Err() != nil {
					errc <- ctx.Err()
				} else if err == nil || errors.Is(err, context.Canceled) {
					errc <- cluster.Errorf(cluster.EHOST, "Docker on %s ended its event stream.", e.endpoint(host))
				} else {
					errc <- e.hostError(host, "stream events", err)
				}
				return
			case <-ctx.Done():
				errc <- ctx.Err()
				return
			}
		}
	}()
	return out, errc
}

func eventTime(m events.Message) time.Time {
	if m.TimeNano != 0 {
		return time.Unix(0, m.TimeNano)
	}
	return time.Unix(m.Time, 0)
}
