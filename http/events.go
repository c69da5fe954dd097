package http

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/julienschmidt/httprouter"
	"github.com/longshoreman/longshoreman/cluster"
	"github.com/longshoreman/longshoreman/events"
)

// eventsHeartbeat is how often GET /events writes a comment when nothing
// happens, so proxies keep the stream open and a dead client is noticed.
const eventsHeartbeat = 15 * time.Second

// eventsWriteTimeout bounds one write of the event stream: a client that
// stops reading is cut off after it, even before the bus drops it.
const eventsWriteTimeout = 30 * time.Second

// events streams the cluster's events as Server-Sent Events until the
// client goes, or falls so far behind that the bus drops it: the stream
// then ends with an event of type "dropped", and the client reconnects
// with Last-Event-ID to resume (the bus keeps the recent events).
func (s *Server) events(w http.ResponseWriter, r *http.Request, _ httprouter.Params) error {
	if s.Events == nil {
		return cluster.Errorf(cluster.EUNAVAILABLE, "This controller has no event stream.")
	}
	app := r.URL.Query().Get("app")
	if app != "" {
		if err := cluster.ValidateAppName(app); err != nil {
			return err
		}
	}
	var after uint64
	if id := r.Header.Get("Last-Event-ID"); id != "" {
		n, err := strconv.ParseUint(id, 10, 64)
		if err != nil {
			return cluster.Errorf(cluster.EINVALID, "Last-Event-ID %q is not an event id: send the id of the last event received, or none.", id)
		}
		after = n
	}
	var match func(cluster.Event) bool
	if app != "" {
		match = func(e cluster.Event) bool { return e.App == app || e.App == "" }
	}
	sub := s.Events.Subscribe(match, after)
	defer sub.Close()

	rc := http.NewResponseController(w)
	// A client the bus drops has stopped reading: a write blocked on it is
	// cut at once rather than at its deadline.
	var dropped atomic.Bool
	finished := make(chan struct{})
	defer close(finished)
	go func() {
		select {
		case <-sub.Done():
			if sub.Dropped() {
				dropped.Store(true)
				_ = rc.SetWriteDeadline(time.Now())
				s.Logger.Warn("dropped an event stream client that fell behind", "remote", r.RemoteAddr, "buffer", events.DefaultBuffer)
			}
		case <-finished:
		}
	}()
	write := func(format string, args ...any) error {
		if dropped.Load() {
			return errDropped
		}
		_ = rc.SetWriteDeadline(time.Now().Add(eventsWriteTimeout))
		if _, err := fmt.Fprintf(w, format, args...); err != nil {
			return err
		}
		return rc.Flush()
	}

	// A dropped client's stream ends with the connection, rather than
	// being kept alive for a next request: the client is not reading.
	endIfDropped := func() {
		if dropped.Load() || sub.Dropped() {
			s.endDropped(w, rc)
			panic(http.ErrAbortHandler)
		}
	}

	h := w.Header()
	h.Set("Content-Type", "text/event-stream")
	h.Set("Cache-Control", "no-store")
	h.Set("X-Accel-Buffering", "no")
	w.WriteHeader(http.StatusOK)
	if write(": longshoreman events\nretry: 2000\n\n") != nil {
		return nil
	}
	tick := time.NewTicker(eventsHeartbeat)
	defer tick.Stop()
	for {
		select {
		case e, ok := <-sub.C:
			if !ok || dropped.Load() {
				endIfDropped()
				return nil
			}
			b, _ := json.Marshal(e.Event)
			if write("id: %d\nevent: %s\ndata: %s\n\n", e.ID, e.Type, b) != nil {
				endIfDropped()
				return nil
			}
		case <-tick.C:
			if write(": heartbeat\n\n") != nil {
				endIfDropped()
				return nil
			}
		case <-r.Context().Done():
			return nil
		}
	}
}

// errDropped ends the writes to a client the bus dropped.
var errDropped = errors.New("dropped")

// endDropped tells a dropped client why its stream ends, if it still
// reads, within a second.
func (s *Server) endDropped(w http.ResponseWriter, rc *http.ResponseController) {
	_ = rc.SetWriteDeadline(time.Now().Add(time.Second))
	b, _ := json.Marshal(cluster.Event{Type: "dropped", Step: "dropped", Message: "this client fell too far behind and was dropped: reconnect, with Last-Event-ID to resume", Time: time.Now().UTC()})
	if _, err := fmt.Fprintf(w, "event: dropped\ndata: %s\n\n", b); err == nil {
		_ = rc.Flush()
	}
}
