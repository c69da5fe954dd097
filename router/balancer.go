package router

import (
	"errors"
	"io"
	"net"
	"net/http"
	"sync/atomic"
	"time"
)

// balancer is the proxy's RoundTripper: it resolves the app name that
// Rewrite put in the URL to an instance, round-robin, and retries on another
// instance when that is safe.
type balancer struct {
	router  *Router
	base    http.RoundTripper
	skipFor time.Duration
}

// noBackendError: the app vanished from the table or has no instance left.
type noBackendError struct{ app string }

func (e noBackendError) Error() string { return "no instance of " + e.app + " in the routing table" }

// RoundTrip sends req to one instance of its app. On a dial error (nothing
// was sent) the instance is marked bad for skipFor and the request is
// retried on the next one; when the instance sends no answer headers within
// the backend timeout the request is not retried (the instance may still be
// working on it, and a retry would multiply the wait) and the error wraps
// errBackendTimeout; on any other error it is retried only when the method
// is idempotent and there is no body.
func (b *balancer) RoundTrip(req *http.Request) (*http.Response, error) {
	name := req.URL.Host
	s := b.router.snap.Load()
	a := chosenApp(req) // the side of a canary the request is on
	if a == nil && s != nil {
		a = s.apps[name]
	}
	if a == nil || len(a.backends) == 0 {
		if req.Body != nil {
			req.Body.Close()
		}
		return nil, noBackendError{name}
	}

	var body *trackedBody
	if req.Body != nil && req.Body != http.NoBody {
		// The transport closes the body on errors; keep it readable for a
		// retry after a dial error, when not a byte of it was sent.
		body = &trackedBody{rc: req.Body}
		req.Body = body
	}
	start := a.next.Add(1) - 1
	var tried uint64
	var lastErr error
	for attempt := 0; attempt < maxAttempts; attempt++ {
		now := time.Now().UnixNano()
		i := a.pick(tried, now, start)
		if i < 0 {
			break
		}
		tried |= 1 << i
		be := a.at(start, i)
		r := req
		if attempt > 0 {
			r = req.Clone(req.Context())
			r.Body = req.Body
		}
		r.URL.Host = be.addr
		if t, ok := req.Context().Value(tallyKey{}).(*tally); ok {
			t.be.Store(be)
		}
		resp, err := b.base.RoundTrip(r)
		if err == nil {
			return resp, nil
		}
		lastErr = err
		if req.Context().Err() != nil {
			return nil, err
		}
		if isTimeout(err) {
			return nil, errors.Join(errBackendTimeout, err)
		}
		dial := isDialError(err)
		if dial {
			be.badUntil.Store(now + int64(b.skipFor))
			b.router.log.Warn("cannot connect to instance; skipping it", "host", name, "instance", be.addr, "for", b.skipFor, "err", err)
		}
		if !retryable(req, body, dial) {
			return nil, err
		}
	}
	return nil, lastErr
}

func retryable(req *http.Request, body *trackedBody, dial bool) bool {
	if body != nil && body.read.Load() {
		return false // part of the body may be gone
	}
	if dial {
		return true
	}
	if body != nil {
		return false
	}
	switch req.Method {
	case http.MethodGet, http.MethodHead, http.MethodOptions, http.MethodPut, http.MethodDelete:
		return true
	}
	return false
}

// isDialError reports whether err happened while connecting, so the
// instance received nothing.
func isDialError(err error) bool {
	var op *net.OpError
	return errors.As(err, &op) && op.Op == "dial"
}

// trackedBody records whether the transport read from the body, and leaves
// closing it to the reverse proxy, which closes the original when done.
//
// It also keeps the body's end: once the body returned io.EOF, later
// Reads return io.EOF without reading the client's body again. The
// transport reads once more past a body of known length, to check that
// nothing is left, and that Read can come after the instance answered
// and the router sent the answer's headers: the http.Server then closes
// the client's body it saw end, the extra Read fails with "invalid Read on
// closed Body", and the transport closes the instance's connection in the
// middle of the answer.
type trackedBody struct {
	rc    io.ReadCloser
	read  atomic.Bool
	ended bool // only the transport's writer touches it
}

func (t *trackedBody) Read(p []byte) (int, error) {
	if t.ended {
		return 0, io.EOF
	}
	t.read.Store(true)
	n, err := t.rc.Read(p)
	if err == io.EOF {
		t.ended = true
	}
	return n, err
}

func (t *trackedBody) Close() error { return nil }
