//go:build unix && !aix

package router

import (
	"net"
	"syscall"
)

// peeker looks at a connection's socket without reading from it or
// waiting. The function given to RawConn.Read is made once per connection,
// so that a look allocates nothing.
type peeker struct {
	raw    syscall.RawConn // nil: not a socket; state reports idleUnknown
	look   func(fd uintptr) bool
	result idleState
	buf    [1]byte
}

func (p *peeker) init(c net.Conn) {
	sc, ok := c.(syscall.Conn)
	if !ok {
		return
	}
	raw, err := sc.SyscallConn()
	if err != nil {
		return
	}
	p.raw = raw
	p.look = func(fd uintptr) bool {
		for {
			n, _, err := syscall.Recvfrom(int(fd), p.buf[:], syscall.MSG_PEEK|syscall.MSG_DONTWAIT)
			switch {
			case err == syscall.EINTR:
				continue
			case err == syscall.EAGAIN || err == syscall.EWOULDBLOCK:
				p.result = idleQuiet
			case err != nil || n == 0: // a reset, or the instance's FIN
				p.result = idleClosed
			default:
				p.result = idleSent
			}
			return true // never wait for the socket to become readable
		}
	}
}

// state peeks at one byte with MSG_PEEK|MSG_DONTWAIT: a byte is idleSent,
// the end of the stream or an error idleClosed, nothing idleQuiet.
func (p *peeker) state() idleState {
	if p.raw == nil {
		return idleUnknown
	}
	if err := p.raw.Read(p.look); err != nil {
		return idleClosed // closed on this side
	}
	return p.result
}
