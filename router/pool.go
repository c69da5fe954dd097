package router

import (
	"bufio"
	"net"
	"sync"
	"time"
)

// The fast path keeps its connections to the instances in a pool per
// instance. A connection taken from the pool is checked before it carries
// a request: bytes the instance sent on it while it sat idle (a body
// written after a HEAD answer, a second answer nobody asked for) would
// otherwise be read as the answer to the next client's request. Go's
// Transport notices them with a read it keeps running on every idle
// connection; the fast path, which has no such goroutine, looks once
// before reuse, with a non-blocking peek at the socket (peek_unix.go).

// idleTimeout closes pooled backend connections unused for this long.
const idleTimeout = 90 * time.Second

// backendConn is one keep-alive connection to an instance.
type backendConn struct {
	conn net.Conn
	br   *bufio.Reader
	wbuf []byte    // the request being sent, reused
	idle time.Time // when it was put back in the pool
	peek peeker    // looks at the socket for what arrived while idle
}

func newBackendConn(conn net.Conn) *backendConn {
	c := &backendConn{conn: conn, br: bufio.NewReaderSize(conn, 4096)}
	c.peek.init(conn)
	return c
}

// idleState is what an idle connection shows when taken from the pool.
type idleState int

const (
	idleQuiet   idleState = iota // nothing arrived: fit for a request
	idleSent                     // the instance sent bytes nobody asked for
	idleClosed                   // the instance closed it (or reset it)
	idleUnknown                  // this platform cannot tell: not reused
)

// state reports what arrived on c while it sat idle. Only the goroutine
// that took c from the pool may call it.
func (c *backendConn) state() idleState {
	if c.br.Buffered() > 0 {
		return idleSent
	}
	return c.peek.state()
}

// connPool holds a backend's idle connections, newest last.
type connPool struct {
	mu     sync.Mutex // guards idle and closed
	idle   []*backendConn
	closed bool // the backend left the table: connections are not kept
}

// get returns the newest idle connection, dropping those idle longer than
// idleTimeout at now. The caller checks its state before using it.
func (p *connPool) get(now time.Time) *backendConn {
	p.mu.Lock()
	defer p.mu.Unlock()
	for len(p.idle) > 0 {
		c := p.idle[len(p.idle)-1]
		p.idle[len(p.idle)-1] = nil
		p.idle = p.idle[:len(p.idle)-1]
		if now.Sub(c.idle) < idleTimeout {
			return c
		}
		c.conn.Close()
	}
	return nil
}

func (p *connPool) put(c *backendConn, max int) {
	p.mu.Lock()
	if p.closed || len(p.idle) >= max {
		p.mu.Unlock()
		c.conn.Close()
		return
	}
	c.idle = time.Now()
	p.idle = append(p.idle, c)
	p.mu.Unlock()
}

// close drops the idle connections and stops keeping new ones.
func (p *connPool) close() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.closed = true
	for _, c := range p.idle {
		c.conn.Close()
	}
	p.idle = nil
}
