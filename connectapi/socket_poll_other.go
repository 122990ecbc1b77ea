//go:build !linux || helpline_noepoll

package connectapi

import (
	"net"
	"syscall"
)

// Without epoll, each socket is read by a goroutine of its own and
// written by the writer pool.

func rawConnOf(net.Conn) syscall.RawConn { return nil }

func startReading(c *socket) { go c.readLoop() }

func forget(*socket) {}

func (c *socket) writeNow([]byte) (int, error) { return 0, nil }
