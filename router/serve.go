package router

import (
	"bufio"
	"context"
	"crypto/tls"
	"errors"
	"log/slog"
	"net"
	"net/http"
	"os"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

// The router serves client connections with a loop of its own: a
// goroutine per connection reads request heads from a small reused buffer
// and passes plain GET and HEAD requests (no body, HTTP/1.1, nothing to
// upgrade or expect) straight to the handler, with none of net/http's
// per-request background read. The first request it does not fully
// understand (a body, chunked framing, Upgrade, Expect, HTTP/1.0, an
// oversized or malformed head, anything unusual) and the rest of its
// connection go to an http.Server, bytes already read included, so that
// framing, errors (400, 431) and limits stay net/http's.

// connHeadSize is the buffer a connection reads request heads into. A
// head that does not fit goes to the http.Server, which allows heads up
// to its MaxHeaderBytes.
const connHeadSize = 4096

// maxRequestFields is the most header fields of a request the loop parses
// itself.
const maxRequestFields = 32

// connServer accepts client connections and serves them with the loop.
type connServer struct {
	handler       http.Handler
	fallback      *http.Server // serves the connections handed off
	handoff       *handoffListener
	log           *slog.Logger
	headerTimeout time.Duration
	idleTimeout   time.Duration
	// tlsConfig, when set, makes every connection TLS: HTTP/1.1 ones are
	// served by the loop over it, HTTP/2 ones go to fallback whole.
	tlsConfig *tls.Config

	shutting atomic.Bool
	mu       sync.Mutex // guards conns
	conns    map[*clientConn]struct{}
	wg       sync.WaitGroup // the connection goroutines
}

func newConnServer(h http.Handler, fallback *http.Server, log *slog.Logger) *connServer {
	s := &connServer{
		handler:       h,
		fallback:      fallback,
		handoff:       &handoffListener{conns: make(chan net.Conn), done: make(chan struct{})},
		log:           log,
		headerTimeout: fallback.ReadHeaderTimeout,
		idleTimeout:   fallback.IdleTimeout,
		conns:         map[*clientConn]struct{}{},
	}
	return s
}

// serve accepts connections from l until it is closed; it returns nil
// then, or the error of Accept or of the http.Server.
func (s *connServer) serve(l net.Listener) error {
	s.handoff.addr = l.Addr()
	// It returns when shutdown closes the hand-off listener.
	go func() { _ = s.fallback.Serve(s.handoff) }()
	var backoff time.Duration
	for {
		c, err := l.Accept()
		if err != nil {
			if s.shutting.Load() || errors.Is(err, net.ErrClosed) {
				return nil
			}
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() || errors.Is(err, syscall.EMFILE) || errors.Is(err, syscall.ENFILE) {
				// Out of file descriptors and the like: wait as
				// http.Server does, then accept again.
				backoff = min(max(2*backoff, 5*time.Millisecond), time.Second)
				s.log.Warn("accepting a connection failed; retrying", "err", err, "in", backoff)
				time.Sleep(backoff)
				continue
			}
			return err
		}
		backoff = 0
		cc := s.newConn(c)
		if cc == nil {
			c.Close()
			continue
		}
		go cc.serve()
	}
}

func (s *connServer) newConn(c net.Conn) *clientConn {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.shutting.Load() {
		return nil
	}
	if s.tlsConfig != nil {
		c = tls.Server(c, s.tlsConfig)
	}
	cc := &clientConn{srv: s, conn: c, remote: c.RemoteAddr().String(), accepted: time.Now()}
	cc.fresh.Store(true)
	s.conns[cc] = struct{}{}
	s.wg.Add(1)
	return cc
}

func (s *connServer) forget(cc *clientConn) {
	s.mu.Lock()
	delete(s.conns, cc)
	s.mu.Unlock()
	s.wg.Done()
}

// shutdown stops the loop as http.Server.Shutdown does: l is closed by
// the caller; idle connections close now, busy ones after their answer.
// It returns ctx's error if connections remained when ctx ended, after
// closing them.
func (s *connServer) shutdown(ctx context.Context) error {
	s.shutting.Store(true)
	fbDone := make(chan error, 1)
	go func() { fbDone <- s.fallback.Shutdown(ctx) }()
	all := make(chan struct{})
	go func() { s.wg.Wait(); close(all) }()
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	var err error
	for done := false; !done; {
		s.closeIdle()
		select {
		case <-all:
			done = true
		case <-ctx.Done():
			s.mu.Lock()
			for cc := range s.conns {
				cc.conn.Close()
			}
			s.mu.Unlock()
			<-all
			err, done = ctx.Err(), true
		case <-tick.C:
		}
	}
	if fbErr := <-fbDone; err == nil {
		err = fbErr
	}
	return err
}

func (s *connServer) closeIdle() {
	s.mu.Lock()
	defer s.mu.Unlock()
	for cc := range s.conns {
		if cc.idle.Load() || cc.fresh.Load() && time.Since(cc.accepted) > freshGrace {
			cc.conn.Close()
		}
	}
}

// freshGrace is how long shutdown lets a new connection send its first
// request: a client may have connected just before and be sending it.
const freshGrace = 5 * time.Second

// clientConn is one client connection served by the loop.
type clientConn struct {
	srv    *connServer
	conn   net.Conn
	remote string
	br     *bufio.Reader
	bw     *bufio.Writer
	idle   atomic.Bool // waiting for the first byte of a request
	// fresh: nothing received yet since accepted at accepted; shutdown
	// closes such a connection once it is older than freshGrace, as
	// http.Server does.
	fresh    atomic.Bool
	accepted time.Time
	tmpl     *http.Request
	cancel   context.CancelFunc
	// Reused from request to request: nothing the handler is given
	// outlives its ServeHTTP on this path (no body, no ReverseProxy).
	w       connWriter
	reqHead http.Header
	ansHead http.Header

	// The background read that watches for the client leaving while an
	// instance is slow (started by clientWatch). It owns pending while
	// bgDone is open.
	bgDone  chan struct{} // nil: no read under way
	pending []byte        // a byte it read: the start of the next request
	bgErr   error
}

// connKey is the context key under which a request served by the loop
// finds its clientConn.
type connKey struct{}

func (cc *clientConn) serve() {
	defer cc.srv.forget(cc)
	handedOff := false
	defer func() {
		if !handedOff {
			cc.conn.Close()
		}
	}()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	cc.cancel = cancel
	ctx = context.WithValue(ctx, connKey{}, cc)
	cc.tmpl = (&http.Request{
		Proto: "HTTP/1.1", ProtoMajor: 1, ProtoMinor: 1,
		Body: http.NoBody, RemoteAddr: cc.remote,
	}).WithContext(ctx)
	if cc.srv.tlsConfig != nil {
		var done bool
		if done, handedOff = cc.handshake(ctx); done {
			return
		}
	}
	cc.br = bufio.NewReaderSize(connReader{cc}, connHeadSize)
	cc.reqHead, cc.ansHead = make(http.Header, 8), make(http.Header, 8)
	cc.bw = bufio.NewWriterSize(cc.conn, 4096)
	first := true
	for {
		req, closeAfter, ok, err := cc.readRequest(first)
		if err != nil {
			return
		}
		if !ok {
			handedOff = cc.handOff()
			return
		}
		first = false
		if !cc.serveRequest(req, closeAfter) {
			return
		}
		if cc.srv.shutting.Load() {
			return
		}
	}
}

// readRequest waits for the next request and reads its head. ok is false
// when the request is one for the http.Server (nothing of it consumed);
// err is set when the connection is to be closed.
func (cc *clientConn) readRequest(first bool) (req *http.Request, closeAfter, ok bool, err error) {
	if first {
		if d := cc.srv.headerTimeout; d > 0 {
			cc.conn.SetReadDeadline(time.Now().Add(d))
		}
		_, err = cc.br.Peek(1)
		cc.fresh.Store(false)
		if err != nil {
			return nil, false, false, err
		}
	} else if cc.br.Buffered() == 0 {
		// The idle timeout, set after the previous answer, bounds this
		// wait.
		cc.idle.Store(true)
		if cc.srv.shutting.Load() {
			return nil, false, false, http.ErrServerClosed
		}
		_, err = cc.br.Peek(1)
		cc.idle.Store(false)
		if err != nil {
			return nil, false, false, err
		}
	}
	for timed := first; ; {
		b, _ := cc.br.Peek(cc.br.Buffered())
		if end := headEnd(b); end >= 0 {
			req, closeAfter, ok = cc.parseHead(b[:end])
			if ok {
				cc.br.Discard(end)
			}
			return req, closeAfter, ok, nil
		}
		if len(b) >= cc.br.Size() {
			return nil, false, false, nil // oversized: the http.Server answers 431
		}
		if !timed {
			// The head came in parts: the header timeout runs from its
			// first bytes, as in the http.Server. A head that arrives
			// whole (nearly all) needs no timer.
			timed = true
			if d := cc.srv.headerTimeout; d > 0 {
				cc.conn.SetReadDeadline(time.Now().Add(d))
			}
		}
		if _, err := cc.br.Peek(len(b) + 1); err != nil {
			// The client left, or was too slow with its head: closed
			// without an answer, as the http.Server does.
			return nil, false, false, err
		}
	}
}

// serveRequest runs the handler on req and finishes its answer. It
// reports whether the connection can carry another request.
func (cc *clientConn) serveRequest(req *http.Request, closeAfter bool) (keep bool) {
	// The handler does not read the client (the request has no body), so
	// the deadline left from reading the head stays: it costs a timer
	// update to clear, and the next one is set after the answer.
	clear(cc.ansHead)
	cc.w = connWriter{cc: cc, req: req, header: cc.ansHead, close: closeAfter, length: -1}
	w := &cc.w
	defer func() {
		cc.endWatch()
		if p := recover(); p != nil {
			if p != http.ErrAbortHandler {
				cc.srv.log.Error("panic serving a request", "remote", cc.remote, "path", req.URL.Path, "panic", p)
			}
			keep = false
		}
	}()
	cc.srv.handler.ServeHTTP(w, req)
	if err := w.finish(); err != nil {
		return false
	}
	if w.close {
		return false
	}
	if d := cc.srv.idleTimeout; d > 0 {
		cc.conn.SetReadDeadline(time.Now().Add(d))
	} else {
		cc.conn.SetReadDeadline(time.Time{})
	}
	return true
}

// handshake runs the TLS handshake, bounded by the header timeout. An
// HTTP/2 connection is handed to the http.Server as the *tls.Conn it
// needs (handedOff reports whether it took it); for HTTP/1.1 the loop
// goes on over TLS. done reports that serve has nothing more to do: the
// handshake failed or the connection was handed off.
func (cc *clientConn) handshake(ctx context.Context) (done, handedOff bool) {
	tc := cc.conn.(*tls.Conn) // newConn made it
	if d := cc.srv.headerTimeout; d > 0 {
		cc.conn.SetReadDeadline(time.Now().Add(d))
		cc.conn.SetWriteDeadline(time.Now().Add(d))
	}
	if err := tc.HandshakeContext(ctx); err != nil {
		// Scanners and clients asking for a name the router has no
		// certificate for: nothing to act on.
		cc.srv.log.Debug("TLS handshake failed", "remote", cc.remote, "err", err)
		return true, false
	}
	cc.conn.SetWriteDeadline(time.Time{})
	st := tc.ConnectionState()
	if st.NegotiatedProtocol == "h2" {
		cc.fresh.Store(false)
		cc.conn.SetReadDeadline(time.Time{})
		select {
		case cc.srv.handoff.conns <- tc:
			return true, true
		case <-cc.srv.handoff.done:
			return true, false
		}
	}
	cc.tmpl.TLS = &st
	return false, false
}

// handOff gives the connection, with what was read of it, to the
// http.Server. It reports false when the server is shutting down (the
// caller closes the connection).
func (cc *clientConn) handOff() bool {
	cc.conn.SetReadDeadline(time.Time{})
	hc := &handedConn{Conn: cc.conn, br: cc.br}
	select {
	case cc.srv.handoff.conns <- hc:
		return true
	case <-cc.srv.handoff.done:
		return false
	}
}

// watchClient starts a read of the client connection that cancels the
// requests' context when the client leaves. Without it a departure is
// noticed at the next read of the connection; clientWatch starts it when
// an instance is slow or an answer is streamed.
func (cc *clientConn) watchClient() {
	if cc.bgDone != nil || cc.br.Buffered() > 0 || len(cc.pending) > 0 {
		return // watching already, or the client sent more: it is there
	}
	cc.conn.SetReadDeadline(time.Time{}) // what remains of the head's
	done := make(chan struct{})
	cc.bgDone = done
	go func() {
		defer close(done)
		var b [1]byte
		n, err := cc.conn.Read(b[:])
		if n == 1 {
			cc.pending = append(cc.pending[:0], b[0])
			return
		}
		if err != nil && !errors.Is(err, os.ErrDeadlineExceeded) {
			cc.bgErr = err
			cc.cancel() // the client left
		}
	}()
}

// endWatch stops the background read, if any, and waits for it.
func (cc *clientConn) endWatch() {
	if cc.bgDone == nil {
		return
	}
	cc.conn.SetReadDeadline(aLongTimeAgo)
	<-cc.bgDone
	cc.bgDone = nil
	cc.conn.SetReadDeadline(time.Time{})
}

// connReader reads the connection, starting with a byte the background
// read took.
type connReader struct{ cc *clientConn }

func (r connReader) Read(p []byte) (int, error) {
	if cc := r.cc; len(cc.pending) > 0 {
		n := copy(p, cc.pending)
		cc.pending = cc.pending[n:]
		return n, nil
	}
	if err := r.cc.bgErr; err != nil {
		return 0, err
	}
	return r.cc.conn.Read(p)
}

// handedConn is a connection given to the http.Server: its reads start
// with what the loop had buffered.
type handedConn struct {
	net.Conn
	br *bufio.Reader
}

func (c *handedConn) Read(p []byte) (int, error) { return c.br.Read(p) }

// handoffListener feeds the http.Server the connections the loop hands
// off.
type handoffListener struct {
	conns     chan net.Conn
	done      chan struct{}
	closeOnce sync.Once
	addr      net.Addr
}

func (l *handoffListener) Accept() (net.Conn, error) {
	select {
	case c := <-l.conns:
		return c, nil
	case <-l.done:
		return nil, net.ErrClosed
	}
}

func (l *handoffListener) Close() error {
	l.closeOnce.Do(func() { close(l.done) })
	return nil
}

func (l *handoffListener) Addr() net.Addr { return l.addr }

// closeWriter is the half-close that lets the http.Server end a
// connection after an error answer without the client seeing a reset.
type closeWriter interface{ CloseWrite() error }

// CloseWrite half-closes the connection when it can.
func (c *handedConn) CloseWrite() error { return closeWrite(c.Conn) }

func closeWrite(c net.Conn) error {
	if cw, ok := c.(closeWriter); ok {
		return cw.CloseWrite()
	}
	return nil
}
