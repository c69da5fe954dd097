package router

import (
	"context"
	"errors"
	"io"
	"net/http"
	"os"
	"strings"
	"time"
)

// The fast path proxies GET and HEAD requests without a body or an upgrade
// (nearly all traffic) over connections it holds itself: the handler's
// goroutine writes the request and reads the answer, with none of the
// Transport's per-request goroutine hand-offs. It measured 1.5 to 2.4 times
// the throughput of httputil.ReverseProxy on the benchmark (BENCHMARKS.md).
// Plain answers it frames itself (answer.go). Everything else goes through
// the ReverseProxy.

// fastPathOK reports whether req can take the fast path.
func fastPathOK(req *http.Request) bool {
	return (req.Method == http.MethodGet || req.Method == http.MethodHead) &&
		(req.Body == nil || req.Body == http.NoBody || req.ContentLength == 0) &&
		len(req.TransferEncoding) == 0 &&
		req.ProtoMajor == 1 &&
		req.Header["Upgrade"] == nil
}

// errSent: the request may have reached the instance; the answer failed.
var errSent = errors.New("instance failed after receiving the request")

// serveFast proxies req to an instance of a, retrying on the next instance
// after a dial error or a failure before any of the answer was written to
// the client (GET and HEAD are idempotent), but not after the backend
// timeout, as the proxy path does. It returns the instance tried last.
func (r *Router) serveFast(w http.ResponseWriter, req *http.Request, a *app, name string) (be *backend) {
	start := a.next.Add(1) - 1
	var tried uint64
	var lastErr error
	for attempt := 0; attempt < maxAttempts; attempt++ {
		now := time.Now()
		i := a.pick(tried, now.UnixNano(), start)
		if i < 0 {
			break
		}
		tried |= 1 << i
		be = a.at(start, i)
		written, err := r.forward(w, req, be, now)
		if err == nil {
			return be
		}
		lastErr = err
		if req.Context().Err() != nil {
			return be // the client went away; the instance is not to blame
		}
		if isDialError(err) {
			be.badUntil.Store(now.UnixNano() + int64(r.skipFor))
			r.log.Warn("cannot connect to instance; skipping it", "host", name, "instance", be.addr, "for", r.skipFor, "err", err)
		}
		if written {
			// Part of the answer reached the client: abort the response
			// so it is not mistaken for a complete one.
			panic(http.ErrAbortHandler)
		}
		if errors.Is(err, errBackendTimeout) {
			break
		}
	}
	r.proxyError(w, req, lastErr)
	return be
}

// forward sends req to be and copies the answer to w. written reports
// whether anything was written to w. now is the time of the attempt: the
// backend timeout runs from it, or from the end of a dial.
func (r *Router) forward(w http.ResponseWriter, req *http.Request, be *backend, now time.Time) (written bool, err error) {
	for {
		c := be.pool.get(now)
		reused := c != nil
		if reused {
			if st := c.state(); st != idleQuiet {
				c.conn.Close()
				if st == idleSent {
					r.strayBytes(be, now)
				}
				continue
			}
		} else {
			conn, err := r.dialer.DialContext(req.Context(), "tcp", be.addr)
			if err != nil {
				return false, err
			}
			c = newBackendConn(conn)
			now = time.Now() // the backend timeout starts after the dial
		}
		written, keep, err := r.exchange(w, req, c, now)
		if keep {
			be.pool.put(c, r.maxIdle)
		} else {
			c.conn.Close()
		}
		if err != nil && reused && !written && errors.Is(err, errStale) {
			continue // the instance had closed the idle connection: dial anew
		}
		return written, err
	}
}

// strayBytes logs, at most once a minute per instance, that it sent bytes
// on an idle connection.
func (r *Router) strayBytes(be *backend, now time.Time) {
	last := be.strayLogged.Load()
	if now.UnixNano()-last < int64(time.Minute) || !be.strayLogged.CompareAndSwap(last, now.UnixNano()) {
		return
	}
	r.log.Warn("an instance sent bytes nobody asked for on an idle keep-alive connection (a body after a HEAD answer, or a second answer); the connection was closed and the request sent on another. Check the app's HEAD handling",
		"instance", be.addr)
}

// errStale: a pooled connection failed before any byte of the answer.
var errStale = errors.New("idle connection closed by the instance")

var aLongTimeAgo = time.Unix(1, 0)

// watchAfter is how long an exchange waits on an instance before it
// watches the request's context for the client leaving. Registering that
// watch and removing it again costs about a tenth of the router's CPU per
// request, and nearly all answers come sooner; a client that leaves during
// a shorter wait is noticed when the wait ends.
const watchAfter = 200 * time.Millisecond

// clientWatch ends an exchange's I/O on c when the client leaves, once it
// started.
type clientWatch struct {
	req  *http.Request
	c    *backendConn
	full time.Time   // the backend timeout
	wait time.Time   // the first deadline: watchAfter from the start, or full if sooner
	stop func() bool // nil until the watch started
}

// start sets the backend timeout as c's deadline and watches the client
// from now on.
func (x *clientWatch) start() {
	if x.stop != nil {
		return
	}
	// The deadline first: a watch that fires at once must win.
	x.c.conn.SetDeadline(x.full)
	if cc, ok := x.req.Context().Value(connKey{}).(*clientConn); ok {
		cc.watchClient() // the loop reads the client only when asked
	}
	c := x.c
	x.stop = context.AfterFunc(x.req.Context(), func() { c.conn.SetDeadline(aLongTimeAgo) })
}

// retry reports whether an I/O on c that failed with err is to be resumed:
// it hit the first deadline, which came before the backend timeout, and
// the client is still there. The watch then starts.
func (x *clientWatch) retry(err error) bool {
	if x.stop != nil || !x.wait.Before(x.full) || !errors.Is(err, os.ErrDeadlineExceeded) || x.req.Context().Err() != nil {
		return false
	}
	x.start()
	return true
}

// end stops the watch. It reports false when the watch fired: c's deadline
// is spoiled.
func (x *clientWatch) end() bool { return x.stop == nil || x.stop() }

// timedOut reports whether err is the backend timeout rather than the
// client leaving.
func (x *clientWatch) timedOut(err error) bool {
	return errors.Is(err, os.ErrDeadlineExceeded) && x.req.Context().Err() == nil
}

// exchange does one request and answer on c. keep reports whether c can be
// reused.
func (r *Router) exchange(w http.ResponseWriter, req *http.Request, c *backendConn, now time.Time) (written, keep bool, err error) {
	// The backend timeout bounds sending the request and waiting for the
	// answer headers; the body of the answer may take as long as it takes.
	x := clientWatch{req: req, c: c, full: now.Add(r.timeout), wait: now.Add(watchAfter)}
	if x.full.Before(x.wait) {
		x.wait = x.full
	}
	defer func() {
		if !x.end() {
			keep = false
		}
	}()
	c.conn.SetDeadline(x.wait)
	if err := r.send(req, c, &x); err != nil {
		return false, false, err
	}
	h, plain, err := peekAnswerHead(c, &x)
	if err != nil {
		return false, false, err
	}
	if plain {
		return r.answerPlain(w, req, c, &x, &h)
	}
	// http.ReadResponse cannot resume after a deadline: watch from here.
	x.start()
	resp, err := readAnswer(c, &x)
	if err != nil {
		return false, false, err
	}
	r.clearDeadline(req, c)
	return answerParsed(w, req, resp)
}

// send writes req to c, resuming a write cut by the first deadline.
func (r *Router) send(req *http.Request, c *backendConn, x *clientWatch) error {
	c.wbuf = r.appendRequest(c.wbuf[:0], req)
	for p := c.wbuf; len(p) > 0; {
		n, err := c.conn.Write(p)
		p = p[n:]
		if err != nil && !x.retry(err) {
			if x.timedOut(err) {
				return errors.Join(errBackendTimeout, err)
			}
			return errors.Join(errStale, err)
		}
	}
	if cap(c.wbuf) > 64<<10 {
		c.wbuf = nil // a rare large request: do not keep its buffer
	}
	return nil
}

// peekAnswerHead waits for the answer's head on c and, when it is a plain
// one the fast path can copy (peekPlainHead), parses it.
func peekAnswerHead(c *backendConn, x *clientWatch) (h plainHead, plain bool, err error) {
	for {
		_, err = c.br.Peek(1)
		if err == nil {
			h, plain, err = peekPlainHead(c.br, x.req.Method)
		}
		if err == nil {
			return h, plain, nil
		}
		if x.retry(err) {
			continue // Peek keeps what arrived: the head is read on
		}
		if x.timedOut(err) {
			return h, false, errors.Join(errBackendTimeout, err)
		}
		if c.br.Buffered() == 0 {
			return h, false, errors.Join(errStale, err)
		}
		return h, false, errors.Join(errSent, err)
	}
}

// answerPlain copies a plain answer (head h) from c to w.
func (r *Router) answerPlain(w http.ResponseWriter, req *http.Request, c *backendConn, x *clientWatch, h *plainHead) (written, keep bool, err error) {
	if int64(c.br.Buffered()-h.size) < h.bodyLen {
		x.start()
		r.clearDeadline(req, c)
	}
	// Else the whole answer is in the buffer: no more reads, and the
	// next exchange sets its own deadline, so it can stay.
	head, _ := c.br.Peek(h.size)
	copyHead(w.Header(), head, h)
	c.br.Discard(h.size)
	w.WriteHeader(h.status)
	if err := copyBody(w, c.br, h.bodyLen); err != nil {
		return true, false, err
	}
	// Bytes beyond the body were not asked for: the connection is
	// out of step and not reused.
	return true, !h.close && c.br.Buffered() == 0, nil
}

// readAnswer reads the answer's head with net/http, past any 1xx.
func readAnswer(c *backendConn, x *clientWatch) (*http.Response, error) {
	for {
		if _, err := c.br.Peek(1); err != nil {
			if x.timedOut(err) {
				return nil, errors.Join(errBackendTimeout, err)
			}
			return nil, errors.Join(errSent, err)
		}
		resp, err := http.ReadResponse(c.br, x.req)
		if err != nil {
			if x.timedOut(err) {
				return nil, errors.Join(errBackendTimeout, err)
			}
			return nil, errors.Join(errSent, err)
		}
		if resp.StatusCode >= 200 || resp.StatusCode == http.StatusSwitchingProtocols {
			return resp, nil
		}
		resp.Body.Close() // 1xx: informational, wait for the answer
	}
}

// answerParsed copies an answer read by net/http to w: its end-to-end
// headers, its body (flushed as it comes when its length is unknown) and
// its trailers.
func answerParsed(w http.ResponseWriter, req *http.Request, resp *http.Response) (written, keep bool, err error) {
	dst := w.Header()
	connTokens := resp.Header["Connection"]
	for k, vv := range resp.Header {
		if hopByHop(k) || listed(connTokens, k) {
			continue
		}
		if old, ok := dst[k]; ok { // a canary's cookie set before
			dst[k] = append(old, vv...)
			continue
		}
		dst[k] = vv
	}
	if len(resp.Trailer) > 0 {
		keys := make([]string, 0, len(resp.Trailer))
		for k := range resp.Trailer {
			keys = append(keys, k)
		}
		dst["Trailer"] = []string{strings.Join(keys, ", ")}
	}
	w.WriteHeader(resp.StatusCode)

	buf := buffers.Get().(*[]byte)
	defer buffers.Put(buf)
	var copyErr error
	if resp.ContentLength == -1 && req.Method != http.MethodHead {
		copyErr = copyFlushing(w, resp.Body, *buf)
	} else {
		_, copyErr = io.CopyBuffer(w, resp.Body, *buf)
	}
	resp.Body.Close()
	if copyErr != nil {
		return true, false, copyErr
	}
	for k, vv := range resp.Trailer {
		dst[k] = vv
	}
	return true, !resp.Close, nil
}

// clearDeadline lifts the backend timeout once the answer's head arrived:
// the body may take as long as it takes.
func (r *Router) clearDeadline(req *http.Request, c *backendConn) {
	c.conn.SetDeadline(time.Time{})
	if req.Context().Err() != nil {
		// The client left while the deadline was being cleared: restore
		// what the AfterFunc set, so the copy stops.
		c.conn.SetDeadline(aLongTimeAgo)
	}
}

// copyFlushing copies a streamed answer, flushing after every read so
// server-sent events and long polls reach the client at once.
func copyFlushing(w http.ResponseWriter, src io.Reader, buf []byte) error {
	rc := http.NewResponseController(w)
	for {
		n, err := src.Read(buf)
		if n > 0 {
			if _, werr := w.Write(buf[:n]); werr != nil {
				return werr
			}
			if ferr := rc.Flush(); ferr != nil {
				return ferr
			}
		}
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return err
		}
	}
}

// appendRequest appends req to b as the instance should see it: the client's Host,
// minus hop-by-hop headers, with X-Forwarded-For, -Host and -Proto set to
// what the router saw, or, from a trusted proxy, the chain it sent with the
// peer appended and its -Host and -Proto kept.
func (r *Router) appendRequest(b []byte, req *http.Request) []byte {
	uri := req.RequestURI
	if !strings.HasPrefix(uri, "/") {
		uri = req.URL.RequestURI()
	}
	b = append(b, req.Method...)
	b = append(b, ' ')
	b = append(b, uri...)
	b = append(b, " HTTP/1.1\r\nHost: "...)
	b = append(b, req.Host...)
	b = append(b, "\r\n"...)
	connTokens := req.Header["Connection"]
	for k, vv := range req.Header {
		if hopByHop(k) || forwarded(k) || listed(connTokens, k) {
			continue
		}
		for _, v := range vv {
			b = append(b, k...)
			b = append(b, ": "...)
			b = append(b, v...)
			b = append(b, "\r\n"...)
		}
	}
	ip, trusted := r.peer(req.RemoteAddr)
	if ip != "" {
		b = append(b, "X-Forwarded-For: "...)
		if trusted {
			for _, v := range req.Header["X-Forwarded-For"] {
				b = append(b, v...)
				b = append(b, ", "...)
			}
		}
		b = append(b, ip...)
		b = append(b, "\r\n"...)
	}
	host, proto := req.Host, "http"
	if req.TLS != nil {
		proto = "https"
	}
	if trusted {
		if v := req.Header["X-Forwarded-Host"]; len(v) > 0 {
			host = v[0]
		}
		if v := req.Header["X-Forwarded-Proto"]; len(v) > 0 {
			proto = v[0]
		}
	}
	b = append(b, "X-Forwarded-Host: "...)
	b = append(b, host...)
	b = append(b, "\r\nX-Forwarded-Proto: "...)
	b = append(b, proto...)
	b = append(b, "\r\n\r\n"...)
	return b
}

// hopByHop reports whether the canonical header key k is a hop-by-hop
// header (RFC 9110, section 7.6.1), which a proxy must not forward.
func hopByHop(k string) bool {
	switch k {
	case "Connection", "Proxy-Connection", "Keep-Alive", "Proxy-Authenticate", "Proxy-Authorization",
		"Te", "Trailer", "Transfer-Encoding", "Upgrade":
		return true
	}
	return false
}

// forwarded reports whether k is a header the router sets itself.
func forwarded(k string) bool {
	switch k {
	case "Forwarded", "X-Forwarded-For", "X-Forwarded-Host", "X-Forwarded-Proto":
		return true
	}
	return false
}

// listed reports whether k is named in the Connection header values.
func listed(conn []string, k string) bool {
	for _, v := range conn {
		for tok := range strings.SplitSeq(v, ",") {
			if http.CanonicalHeaderKey(strings.TrimSpace(tok)) == k {
				return true
			}
		}
	}
	return false
}
