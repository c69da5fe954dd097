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
	match, after, err := eventsQuery(r)
	if err != nil {
		return err
	}
	sub := s.Events.Subscribe(match, after)
	defer sub.Close()
	st := s.newEventStream(w, r, sub)
	defer close(st.finished)

	h := w.Header()
	h.Set("Content-Type", "text/event-stream")
	h.Set("Cache-Control", "no-store")
	h.Set("X-Accel-Buffering", "no")
	w.WriteHeader(http.StatusOK)
	if st.write(": longshoreman events\nretry: 2000\n\n") != nil {
		return nil
	}
	tick := time.NewTicker(eventsHeartbeat)
	defer tick.Stop()
	for {
		select {
		case e, ok := <-sub.C:
			if !ok || st.dropped.Load() {
				st.endIfDropped()
				return nil
			}
			b, _ := json.Marshal(e.Event)
			if st.write("id: %d\nevent: %s\ndata: %s\n\n", e.ID, e.Type, b) != nil {
				st.endIfDropped()
				return nil
			}
		case <-tick.C:
			if st.write(": heartbeat\n\n") != nil {
				st.endIfDropped()
				return nil
			}
		case <-r.Context().Done():
			return nil
		}
	}
}

// eventsQuery reads GET /events' filter (?app=) and where to resume
// (Last-Event-ID).
func eventsQuery(r *http.Request) (match func(cluster.Event) bool, after uint64, err error) {
	if app := r.URL.Query().Get("app"); app != "" {
		if err := cluster.ValidateAppName(app); err != nil {
			return nil, 0, err
		}
		match = func(e cluster.Event) bool { return e.App == app || e.App == "" }
	}
	if id := r.Header.Get("Last-Event-ID"); id != "" {
		n, err := strconv.ParseUint(id, 10, 64)
		if err != nil {
			return nil, 0, cluster.Errorf(cluster.EINVALID, "Last-Event-ID %q is not an event id: send the id of the last event received, or none.", id)
		}
		after = n
	}
	return match, after, nil
}

// eventStream writes one client's events, each write bounded by
// eventsWriteTimeout.
type eventStream struct {
	s        *Server
	w        http.ResponseWriter
	rc       *http.ResponseController
	sub      *events.Subscription
	dropped  atomic.Bool   // the bus dropped the client
	finished chan struct{} // closed when the handler returns
}

// newEventStream watches sub: a client the bus drops has stopped reading,
// so a write blocked on it is cut at once rather than at its deadline.
func (s *Server) newEventStream(w http.ResponseWriter, r *http.Request, sub *events.Subscription) *eventStream {
	st := &eventStream{s: s, w: w, rc: http.NewResponseController(w), sub: sub, finished: make(chan struct{})}
	go func() {
		select {
		case <-sub.Done():
			if sub.Dropped() {
				st.dropped.Store(true)
				_ = st.rc.SetWriteDeadline(time.Now())
				s.Logger.Warn("dropped an event stream client that fell behind", "remote", r.RemoteAddr, "buffer", events.DefaultBuffer)
			}
		case <-st.finished:
		}
	}()
	return st
}

func (st *eventStream) write(format string, args ...any) error {
	if st.dropped.Load() {
		return errDropped
	}
	_ = st.rc.SetWriteDeadline(time.Now().Add(eventsWriteTimeout))
	if _, err := fmt.Fprintf(st.w, format, args...); err != nil {
		return err
	}
	return st.rc.Flush()
}

// endIfDropped ends a dropped client's stream with the connection, rather
// than keeping it alive for a next request: the client is not reading.
func (st *eventStream) endIfDropped() {
	if st.dropped.Load() || st.sub.Dropped() {
		st.s.endDropped(st.w, st.rc)
		panic(http.ErrAbortHandler)
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
