package scheduler

import (
	"context"
	"fmt"
	"time"

	"github.com/longshoreman/longshoreman/cluster"
)

// Operations that wait their turn: an operator's deploy, rollback, scale
// or env change whose context asks to wait (cluster.WithWait) and finds
// its app held by another operation joins the app's queue instead of
// failing with ECONFLICT. The queue is FIFO: when the holder lets go
// (letGo), the first operation waiting takes the app at once, so no
// later one slips in between; an operation that did not ask to wait still
// gets ECONFLICT while any holds the app. A waiting operation gives up
// with ECONFLICT after its timeout, or when its client goes away, and
// leaves the queue; nothing of it was done. A repair holding the app is
// cancelled, as lock does. Env changes arriving while an env change runs
// still join its next batch (envqueue.go), bounded by the wait's timeout
// when they asked to wait.

// turn is one operation waiting for an app: the hold it takes when the
// app is handed to it.
type turn struct {
	h     *hold
	ready chan struct{} // closed (under Scheduler.mu) when s.busy[app] became h
}

// handOver gives app to the first operation waiting for it, or frees it;
// s.mu is held.
func (s *Scheduler) handOver(app string) {
	q := s.queue[app]
	if len(q) == 0 {
		delete(s.busy, app)
		return
	}
	t := q[0]
	if len(q) == 1 {
		delete(s.queue, app)
	} else {
		s.queue[app] = q[1:]
	}
	t.h.start = time.Now()
	s.busy[app] = t.h
	close(t.ready)
}

// lockTurn is lock for an operator's operation: when ctx asks to wait
// (cluster.WithWait), it waits for its turn as awaitTurn says, reporting
// the wait to progress, instead of failing with ECONFLICT.
func (s *Scheduler) lockTurn(ctx context.Context, app, op string, progress cluster.ProgressFunc) (unlock func(), err error) {
	w, ok := cluster.WaitOf(ctx)
	if !ok {
		return s.lock(app, op)
	}
	h := &hold{op: op, start: time.Now(), done: make(chan struct{})}
	s.mu.Lock()
	cur := s.busy[app]
	if cur == nil {
		return s.take(app, h), nil
	}
	return s.awaitTurn(ctx, app, cur, h, w, progress)
}

// awaitTurn queues h for app, held by cur, behind the operations already
// waiting, and returns once the app was handed to h, with the function
// that lets go of it. It fails with ECONFLICT, leaving the queue, when the
// wait's timeout passes or its client goes away first, and with ctx's
// cause when ctx (the operation's, bound to its leadership term) ends.
// s.mu is held and is released.
func (s *Scheduler) awaitTurn(ctx context.Context, app string, cur, h *hold, w cluster.Wait, progress cluster.ProgressFunc) (unlock func(), err error) {
	t := &turn{h: h, ready: make(chan struct{})}
	s.queue[app] = append(s.queue[app], t)
	ahead := len(s.queue[app]) - 1
	s.mu.Unlock()
	if cur.repair {
		s.cfg.Logger.Info("cancelling a repair for an operator's operation", "app", app, "operation", h.op)
		cur.cancel()
	}
	msg := waitingMessage(app, h.op, cur, ahead, w.Timeout)
	s.cfg.Logger.Info("operation waits for its turn", "app", app, "operation", h.op, "holder", cur.op, "ahead", ahead, "timeout", w.Timeout)
	s.emit(cluster.Event{Type: cluster.EventDeploy, Step: "waiting", App: app, Message: msg})
	if progress != nil {
		progress(cluster.Progress{Step: "waiting", Message: msg})
	}
	began := time.Now()
	timer := time.NewTimer(w.Timeout)
	defer timer.Stop()
	gone, ended := false, false
	select {
	case <-t.ready:
		return func() { s.letGo(app, h) }, nil
	case <-timer.C:
	case <-w.Done:
		gone = true
	case <-ctx.Done():
		ended = true
	}
	s.mu.Lock()
	select {
	case <-t.ready: // handed over as it gave up: it is its turn after all
		s.mu.Unlock()
		return func() { s.letGo(app, h) }, nil
	default:
	}
	s.queue[app] = withoutTurn(s.queue[app], t)
	if len(s.queue[app]) == 0 {
		delete(s.queue, app)
	}
	holder := "another operation"
	if now := s.busy[app]; now != nil {
		holder = now.op
	}
	s.mu.Unlock()
	if ended {
		return nil, interrupted(ctx, ctx.Err())
	}
	waited := time.Since(began).Round(time.Second)
	s.cfg.Logger.Info("operation gave up waiting for its turn", "app", app, "operation", h.op, "waited", waited, "client_gone", gone)
	if gone {
		return nil, cluster.Errorf(cluster.ECONFLICT, "%s of %s stopped waiting for %s of %s to finish after %s, because its client went away: nothing was changed", capitalize(h.op), app, holder, app, waited).WithFix("send it again, watching the one running with", cluster.OpHistory, cluster.ArgApp, app)
	}
	return nil, cluster.Errorf(cluster.ECONFLICT, "%s of %s waited %s (its wait timeout) for %s of %s to finish, and gave up: nothing was changed. Send it again with a longer wait timeout once that one is further along", capitalize(h.op), app, w.Timeout, holder, app).WithFix("watch the one running with", cluster.OpHistory, cluster.ArgApp, app)
}

// waitingMessage is the "waiting" progress step of op, queued for app
// behind cur and ahead other waiting operations.
func waitingMessage(app, op string, cur *hold, ahead int, timeout time.Duration) string {
	queued := ""
	switch ahead {
	case 0:
	case 1:
		queued = " and 1 operation queued before this one"
	default:
		queued = fmt.Sprintf(" and %d operations queued before this one", ahead)
	}
	return fmt.Sprintf("waiting for %s of %s (running for %s)%s to finish, at most %s; then %s begins", cur.op, app,
		time.Since(cur.start).Round(time.Second), queued, timeout, op)
}

func withoutTurn(q []*turn, t *turn) []*turn {
	out := q[:0:0]
	for _, x := range q {
		if x != t {
			out = append(out, x)
		}
	}
	return out
}
