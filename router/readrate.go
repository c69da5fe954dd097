package router

import (
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"sync"
	"time"
)

// The minimum read rate (Config.MinReadRate) is the answer-side twin of the
// minimum body rate: a client that does not take the answer it asked for
// (a GET of a large file, then nothing read) would otherwise hold its
// connection, its slot under --max-conns and a connection to the instance
// for ever. It is the same allowance of time as the body rate's
// (allowance): a write to the client may wait for it at most that long,
// the wait is taken off, and every byte the client takes earns 1/rate
// seconds, up to one window. Time between writes (the instance thinking,
// a stream waiting for its next event) is not charged, so a stream read
// steadily, however slowly it flows, is never cut.
//
// It holds in two places:
//   - rateConn, under every client connection Run and Serve accept (under
//     TLS, too): the router's own loop, net/http's server, upgraded
//     connections and HTTP/2 all write through it. A write that hits its
//     deadline after the client took some bytes goes on with the credit
//     they earned, so one large write is not cut for taking longer than
//     the allowance at a rate above the minimum.
//   - rateStream, around an HTTP/2 answer: HTTP/2 flow control stops the
//     answer before the socket fills when the client does not read it, so
//     each write is watched by a timer and the stream reset when the write
//     has waited longer than the allowance plus the time the minimum rate
//     takes for its bytes. The connection, idle then, is closed by the idle
//     timeout.
//
// A client cut for reading too slowly gets no error answer (its answer has
// begun): its connection is closed (HTTP/2: the stream is reset), and the
// instance's connection with it.

// errReadTooSlow: the client took the answer slower than the minimum rate.
var errReadTooSlow = errors.New("the client read the answer slower than the minimum rate")

// readRateListener returns l with the minimum read rate on every connection
// it accepts; l itself when the rate is off.
func (r *Router) readRateListener(l net.Listener) net.Listener {
	if r.readRate <= 0 {
		return l
	}
	return &rateListener{Listener: l, perByte: max(time.Second/time.Duration(r.readRate), 1), window: r.window, rate: r.readRate, log: r.log}
}

type rateListener struct {
	net.Listener
	perByte time.Duration
	window  time.Duration
	rate    int64
	log     *slog.Logger
}

func (l *rateListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	return &rateConn{Conn: c, l: l, allow: l.window}, nil
}

// rateConn is a client connection whose writes keep to the minimum read
// rate. It is safe for concurrent use as a net.Conn is: Writes are
// serialized, and a deadline set with SetWriteDeadline or SetDeadline
// (net/http's, TLS's) is kept: a write's deadline is the earlier of it and
// the allowance's, and its expiry is not counted against the client.
type rateConn struct {
	net.Conn
	l *rateListener

	wmu   sync.Mutex    // serializes Writes; guards allow and cut
	allow time.Duration // the client's allowance
	cut   bool          // the client was too slow: every write fails

	dmu   sync.Mutex // guards outer and set, and orders the deadlines set on Conn
	outer time.Time  // the deadline set from outside; zero: none
	set   time.Time  // the write deadline in force on Conn; zero: none
}

func (c *rateConn) Write(p []byte) (int, error) {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	if c.cut {
		return 0, errReadTooSlow
	}
	done := 0
	for {
		start := time.Now()
		c.arm(start)
		n, err := c.Conn.Write(p[done:])
		done += n
		c.allow = allowance(c.allow, time.Since(start), n, c.l.perByte, c.l.window)
		if err == nil || !errors.Is(err, os.ErrDeadlineExceeded) {
			return done, err
		}
		if c.outerPassed() {
			return done, err // not this limit's deadline
		}
		if c.allow > 0 {
			// The deadline came early (set for an earlier write), or
			// the client took enough bytes meanwhile: go on.
			continue
		}
		c.cut = true
		c.l.log.Debug("client cut: it read the answer slower than the minimum rate", "remote", c.RemoteAddr(), "min_read_rate", c.l.rate)
		return done, fmt.Errorf("%w (%d bytes/s): %w", errReadTooSlow, c.l.rate, err)
	}
}

// arm sets the write deadline for a write starting at now, unless the one
// in force will do: it is not later than the allowance (or the outer
// deadline) permits, and at least half the allowance away. A deadline that
// comes early costs a wake-up, not a cut (Write goes on while allowance
// remains); keeping it saves resetting a timer on nearly every write.
func (c *rateConn) arm(now time.Time) {
	want := now.Add(c.allow)
	c.dmu.Lock()
	defer c.dmu.Unlock()
	if !c.outer.IsZero() && c.outer.Before(want) {
		want = c.outer
	}
	if !c.set.IsZero() && !c.set.After(want) && c.set.After(now.Add(c.allow/2)) {
		return
	}
	c.set = want
	_ = c.Conn.SetWriteDeadline(want)
}

// outerPassed reports whether a deadline set from outside has passed.
func (c *rateConn) outerPassed() bool {
	c.dmu.Lock()
	defer c.dmu.Unlock()
	return !c.outer.IsZero() && !time.Now().Before(c.outer)
}

// SetWriteDeadline sets the deadline of writes as net.Conn's does; the
// allowance may end a write sooner.
func (c *rateConn) SetWriteDeadline(t time.Time) error {
	c.dmu.Lock()
	defer c.dmu.Unlock()
	c.outer, c.set = t, t
	return c.Conn.SetWriteDeadline(t)
}

func (c *rateConn) SetDeadline(t time.Time) error {
	if err := c.Conn.SetReadDeadline(t); err != nil {
		return err
	}
	return c.SetWriteDeadline(t)
}

// CloseWrite half-closes the connection when it can.
func (c *rateConn) CloseWrite() error { return closeWrite(c.Conn) }

// rateStream keeps an HTTP/2 answer to the minimum read rate: each write
// (at most chunk bytes at once) is watched by a timer, and the stream is
// reset (through its write deadline) when the write has waited longer than
// the client's allowance plus the time its bytes take at the minimum rate:
// how far a write has got is not known until it returns, so its bytes are
// credited when it starts. Unlike a deadline, the timer does not run
// between writes, so a stream waiting for its instance is not reset.
type rateStream struct {
	http.ResponseWriter
	ctl     *http.ResponseController
	perByte time.Duration
	window  time.Duration
	chunk   int           // the most bytes written at once
	allow   time.Duration // only the handler's goroutine touches it

	mu     sync.Mutex  // guards the fields below; held while the stream is reset
	since  time.Time   // start of the write under way; zero: none
	due    time.Time   // when that write runs out of allowance
	timer  *time.Timer // nil until the first write
	fireAt time.Time   // when timer fires; zero: stopped
	ended  bool        // the handler returned: the stream is not to be touched
	cut    bool
}

func (r *Router) newRateStream(w http.ResponseWriter) *rateStream {
	perByte := max(time.Second/time.Duration(r.readRate), 1)
	// Half a window's worth at the minimum rate, and at least an HTTP/2
	// frame: each write of the stream is a hand-off to the connection's
	// goroutine, and smaller ones cost a quarter more CPU on a download.
	chunk := int(min(max(float64(r.readRate)*r.window.Seconds()/2, 16<<10), 1<<20))
	return &rateStream{ResponseWriter: w, ctl: http.NewResponseController(w), perByte: perByte,
		window: r.window, chunk: chunk, allow: r.window}
}

func (w *rateStream) Write(p []byte) (int, error) {
	done := 0
	for len(p) > 0 {
		part := p[:min(len(p), w.chunk)]
		start := w.begin(len(part))
		n, err := w.ResponseWriter.Write(part)
		w.end(start, n)
		done += n
		p = p[n:]
		if err != nil {
			return done, w.reason(err)
		}
		if n == 0 {
			return done, io.ErrShortWrite
		}
	}
	return done, nil
}

// FlushError sends what is buffered, under the same watch.
func (w *rateStream) FlushError() error {
	start := w.begin(0)
	err := w.ctl.Flush()
	w.end(start, 0)
	if err != nil {
		return w.reason(err)
	}
	return nil
}

// Unwrap lets http.ResponseController reach the stream's own methods.
func (w *rateStream) Unwrap() http.ResponseWriter { return w.ResponseWriter }

func (w *rateStream) reason(err error) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.cut {
		return fmt.Errorf("%w: %w", errReadTooSlow, err)
	}
	return err
}

// begin notes a write of n bytes starting now and makes sure the timer
// fires by its due time. (A flush writes what earlier writes were
// credited for.)
func (w *rateStream) begin(n int) time.Time {
	now := time.Now()
	wait := w.allow + time.Duration(n)*w.perByte
	w.mu.Lock()
	defer w.mu.Unlock()
	w.since, w.due = now, now.Add(wait)
	if w.timer == nil {
		w.timer = time.AfterFunc(wait, w.check)
		w.fireAt = w.due
	} else if w.fireAt.IsZero() || w.due.Before(w.fireAt) {
		w.timer.Reset(wait)
		w.fireAt = w.due
	}
	return now
}

// end notes that the write begun at start is over, n bytes taken.
func (w *rateStream) end(start time.Time, n int) {
	w.mu.Lock()
	w.since = time.Time{}
	w.mu.Unlock()
	w.allow = allowance(w.allow, time.Since(start), n, w.perByte, w.window)
}

// check runs when the timer fires: it resets the stream if the write under
// way is past its due time, else waits for that.
func (w *rateStream) check() {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.fireAt = time.Time{}
	if w.ended || w.since.IsZero() {
		return
	}
	if now := time.Now(); now.Before(w.due) {
		w.timer.Reset(w.due.Sub(now))
		w.fireAt = w.due
		return
	}
	w.cut = true
	// A deadline in the past resets the stream at once; the write under
	// way returns an error.
	_ = w.ctl.SetWriteDeadline(aLongTimeAgo)
}

// finish stops the watch; the handler is returning.
func (w *rateStream) finish() {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.ended = true
	if w.timer != nil {
		w.timer.Stop()
	}
}
