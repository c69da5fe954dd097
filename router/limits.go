package router

import (
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// The limits that keep a hung instance or a slow client from holding the
// router's connections: a timeout on the instance's answer headers (both
// paths), a minimum request-body rate, the client's trusted X-Forwarded
// chain, and a cap on client connections (capConns). Nothing bounds a
// whole request or answer, so uploads, long polls, streams and upgraded
// connections pass.

// errBackendTimeout: the instance got the request but sent no answer
// headers within Config.BackendTimeout.
var errBackendTimeout = errors.New("instance sent no answer headers in time")

// isTimeout reports whether err is a timeout other than while connecting.
func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout() && !isDialError(err)
}

// peer returns the host of remoteAddr and whether it is a trusted proxy.
func (r *Router) peer(remoteAddr string) (ip string, trusted bool) {
	ip, _, err := net.SplitHostPort(remoteAddr)
	if err != nil {
		return "", false
	}
	if len(r.trusted) == 0 {
		return ip, false
	}
	a, err := netip.ParseAddr(ip)
	if err != nil {
		return ip, false
	}
	a = a.Unmap()
	for _, p := range r.trusted {
		if p.Contains(a) {
			return ip, true
		}
	}
	return ip, false
}

// ParseTrustedProxies parses a comma-separated list of CIDRs or single
// addresses (203.0.113.0/24, 10.0.0.1, fd00::/8) for
// Config.TrustForwarded. An empty string is an empty list.
func ParseTrustedProxies(s string) ([]netip.Prefix, error) {
	var out []netip.Prefix
	for f := range strings.SplitSeq(s, ",") {
		f = strings.TrimSpace(f)
		if f == "" {
			continue
		}
		if !strings.Contains(f, "/") {
			a, err := netip.ParseAddr(f)
			if err != nil {
				return nil, fmt.Errorf("%q is neither a CIDR such as 10.0.0.0/8 nor an IP address", f)
			}
			a = a.Unmap()
			out = append(out, netip.PrefixFrom(a, a.BitLen()))
			continue
		}
		p, err := netip.ParsePrefix(f)
		if err != nil {
			return nil, fmt.Errorf("%q is not a CIDR such as 10.0.0.0/8", f)
		}
		if p.Addr().Is4In6() {
			p = netip.PrefixFrom(p.Addr().Unmap(), max(p.Bits()-96, 0))
		}
		out = append(out, p.Masked())
	}
	return out, nil
}

// rateBody enforces the minimum body rate on a request body. The client
// holds an allowance of time: a Read may wait for it at most that long
// (a read deadline on the client's connection), the wait is taken off, and
// every byte received adds 1/rate seconds, up to one window. A client
// sending at least the rate never runs out; one trickling below it does,
// after the initial window of grace, whatever it sent before. Time between
// Reads (the instance not reading) is not charged.
type rateBody struct {
	rc      io.ReadCloser
	ctl     *http.ResponseController
	perByte time.Duration // credit earned per byte
	window  time.Duration
	allow   time.Duration // only the reading goroutine touches it
	off     bool          // the connection has no deadlines, or the body ended
	// Read by the proxy's error handler, which may run before Read
	// returns: the server cancels the request's context as soon as the
	// connection's read fails.
	tooSlow  atomic.Bool
	deadline atomic.Int64 // of the Read under way, Unix nanoseconds; 0 between Reads
}

func (r *Router) newRateBody(w http.ResponseWriter, rc io.ReadCloser) *rateBody {
	return &rateBody{
		rc:      rc,
		ctl:     http.NewResponseController(w),
		perByte: max(time.Second/time.Duration(r.rate), 1),
		window:  r.window,
		allow:   r.window,
	}
}

func (b *rateBody) Read(p []byte) (int, error) {
	if b.off {
		return b.rc.Read(p)
	}
	start := time.Now()
	deadline := start.Add(b.allow)
	if err := b.ctl.SetReadDeadline(deadline); err != nil {
		b.off = true // not an http.Server connection: no limit
		return b.rc.Read(p)
	}
	b.deadline.Store(deadline.UnixNano())
	n, err := b.rc.Read(p)
	b.allow = allowance(b.allow, time.Since(start), n, b.perByte, b.window)
	if err != nil {
		if errors.Is(err, os.ErrDeadlineExceeded) {
			b.tooSlow.Store(true)
			return n, fmt.Errorf("request body slower than the minimum rate: %w", err)
		}
		b.deadline.Store(0)
		// The body is done (the server clears the deadline itself at its
		// end; other errors end it too): later reads of the connection
		// are not this limit's business.
		b.off = true
		_ = b.ctl.SetReadDeadline(time.Time{})
		return n, err
	}
	b.deadline.Store(0)
	return n, err
}

// allowance is what remains of allow after a Read waited for n bytes: the
// wait is spent, each byte earns perByte, and no more than window is kept.
func allowance(allow, waited time.Duration, n int, perByte, window time.Duration) time.Duration {
	return min(allow-waited+time.Duration(n)*perByte, window)
}

// Close leaves the deadline in place: the server discards an unread rest
// of the body under it, and a client too slow for it loses the connection.
func (b *rateBody) Close() error { return b.rc.Close() }

// rateBodyKey is the context key of a request's rateBody.
type rateBodyKey struct{}

// bodyTooSlow reports whether req's body was cut for being slower than the
// minimum rate.
func bodyTooSlow(req *http.Request) bool {
	rb, ok := req.Context().Value(rateBodyKey{}).(*rateBody)
	if !ok {
		return false
	}
	d := rb.deadline.Load()
	return rb.tooSlow.Load() || d != 0 && time.Now().UnixNano() >= d
}

// capConns returns a listener that holds at most n accepted
// connections open at once: beyond that Accept waits until one closes,
// and new clients wait in the kernel's accept queue (their connect
// succeeds; the first byte of the answer comes late). Closing the listener
// ends a waiting Accept. n <= 0 returns l unchanged.
func capConns(l net.Listener, n int) net.Listener {
	if n <= 0 {
		return l
	}
	return &limitListener{Listener: l, slots: make(chan struct{}, n), done: make(chan struct{})}
}

type limitListener struct {
	net.Listener
	slots     chan struct{} // a token per open connection
	done      chan struct{} // closed by Close
	closeOnce sync.Once
}

func (l *limitListener) Accept() (net.Conn, error) {
	select {
	case l.slots <- struct{}{}:
	case <-l.done:
		return nil, net.ErrClosed
	}
	c, err := l.Listener.Accept()
	if err != nil {
		<-l.slots
		return nil, err
	}
	return &limitConn{Conn: c, free: func() { <-l.slots }}, nil
}

func (l *limitListener) Close() error {
	l.closeOnce.Do(func() { close(l.done) })
	return l.Listener.Close()
}

// limitConn gives its slot back once, on the first Close.
type limitConn struct {
	net.Conn
	once sync.Once
	free func()
}

func (c *limitConn) Close() error {
	err := c.Conn.Close()
	c.once.Do(c.free)
	return err
}

// CloseWrite half-closes the connection when it can, as the http.Server
// does before closing after an error answer.
func (c *limitConn) CloseWrite() error { return closeWrite(c.Conn) }
