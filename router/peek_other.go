//go:build !unix || aix

package router

import "net"

// peeker cannot look at a socket on this platform: a pooled connection
// might hold bytes the instance sent while it was idle, so it is not
// reused (every request of the fast path dials anew).
type peeker struct{}

func (p *peeker) init(net.Conn) {}

func (p *peeker) state() idleState { return idleUnknown }
