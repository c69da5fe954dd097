//go:build linux

package router_test

import (
	"bufio"
	"io"
	"net"
	"net/http"
	"syscall"
	"testing"
	"time"
	"unsafe"

	"github.com/longshoreman/longshoreman/router"
)

// strayAfterHead is an instance that writes a whole second answer on its
// connection some time after answering a HEAD request, as an app that
// writes a body for HEAD does, when the test says so. It answers GET with
// "genuine".
type strayAfterHead struct {
	addr  string
	write chan struct{} // the test: write the stray answer now
	wrote chan struct{} // the instance: the router's kernel holds it
}

func newStrayAfterHead(t *testing.T) *strayAfterHead {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	s := &strayAfterHead{addr: l.Addr().String(), write: make(chan struct{}), wrote: make(chan struct{})}
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			t.Cleanup(func() { c.Close() })
			go s.serve(t, c)
		}
	}()
	return s
}

func (s *strayAfterHead) serve(t *testing.T, c net.Conn) {
	br := bufio.NewReader(c)
	for {
		req, err := http.ReadRequest(br)
		if err != nil {
			return
		}
		if req.Method != http.MethodHead {
			io.WriteString(c, "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 7\r\n\r\ngenuine")
			continue
		}
		io.WriteString(c, "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 7\r\n\r\n")
		select {
		case <-s.write:
		case <-time.After(20 * time.Second):
			return
		}
		io.WriteString(c, "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 6\r\n\r\npoison")
		waitAcked(t, c)
		close(s.wrote)
	}
}

// waitAcked waits until the peer's kernel has acknowledged everything
// written on c (Linux's SIOCOUTQ: bytes not yet acknowledged).
func waitAcked(t *testing.T, c net.Conn) {
	raw, err := c.(*net.TCPConn).SyscallConn()
	if err != nil {
		t.Error(err)
		return
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		var queued int32
		var errno syscall.Errno
		raw.Control(func(fd uintptr) {
			_, _, errno = syscall.Syscall(syscall.SYS_IOCTL, fd, syscall.TIOCOUTQ, uintptr(unsafe.Pointer(&queued)))
		})
		if errno != 0 {
			t.Errorf("SIOCOUTQ: %v", errno)
			return
		}
		if queued == 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Errorf("%d bytes still unacknowledged after 10s", queued)
			return
		}
		time.Sleep(time.Millisecond)
	}
}

// TestStrayBytesAfterHeadAreNotServed: bytes an instance sends on a
// kept-alive connection after an answer are not taken for the answer to
// the next request the fast path sends on it (behind the router's loop or
// net/http's server): the connection is closed and the request goes over
// a new one. (The reverse proxy's Transport notices them only once its
// read goroutine runs, a race this test would lose on a busy machine.)
func TestStrayBytesAfterHeadAreNotServed(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name string
		loop bool
	}{{"loop", true}, {"fast", false}} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			inst := newStrayAfterHead(t)
			routes := map[string][]string{"a.example.com": {inst.addr}}
			var url string
			if tc.loop {
				url = serveLoop(t, router.Config{}, routes)
			} else {
				_, url = proxyWith(t, router.Config{}, routes)
			}
			if a := do(t, "HEAD", url+"/", "a.example.com", "", nil); a.status != 200 || a.body != "" {
				t.Fatalf("HEAD: %d %q", a.status, a.body)
			}
			// The router has the HEAD answer's connection back in its
			// pool once the client has the answer.
			close(inst.write)
			select {
			case <-inst.wrote:
			case <-time.After(15 * time.Second):
				t.Fatal("the instance did not write its stray answer")
			}
			for i := range 3 {
				if a := do(t, "GET", url+"/", "a.example.com", "", nil); a.status != 200 || a.body != "genuine" {
					t.Fatalf("GET %d after the stray answer: %d %q, want 200 \"genuine\"", i, a.status, a.body)
				}
			}
		})
	}
}
