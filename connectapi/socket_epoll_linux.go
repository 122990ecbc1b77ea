//go:build linux && !helpline_noepoll

package connectapi

import (
	"context"
	"io"
	"net"
	"runtime"
	"sync"
	"syscall"

	"golang.org/x/sys/unix"
)

// The sockets' poller: one epoll instance watches every socket's
// connection for input, and a few workers read a socket once it is
// readable, so that an idle socket holds no goroutine and no buffer.
// Each registration is one-shot: a socket is read by one worker at a
// time and watched again when that worker is done with it.
type poller struct {
	epfd  int
	ready chan *socket

	mu      sync.Mutex // guards sockets and next
	sockets map[uint64]*socket
	next    uint64
}

const (
	pollEvents = unix.EPOLLIN | unix.EPOLLRDHUP | unix.EPOLLONESHOT
	// pollReadSize is a worker's read buffer: a whole frame of the
	// largest size allowed, and then some.
	pollReadSize = socketReadLimit + 8<<10
)

var (
	pollOnce  sync.Once
	thePoller *poller // nil if epoll is not available
)

// getPoller returns the process's poller, started on first use.
func getPoller() *poller {
	pollOnce.Do(func() {
		epfd, err := unix.EpollCreate1(unix.EPOLL_CLOEXEC)
		if err != nil {
			return
		}
		p := &poller{epfd: epfd, ready: make(chan *socket, 1024), sockets: make(map[uint64]*socket)}
		for range max(4, 2*runtime.GOMAXPROCS(0)) {
			go p.work()
		}
		go p.wait()
		thePoller = p
	})
	return thePoller
}

// rawConnOf returns conn's file descriptor access, or nil if it has none
// (a TLS connection, say), in which case the socket is read by a
// goroutine of its own and written by the writer pool.
func rawConnOf(conn net.Conn) syscall.RawConn {
	sc, ok := conn.(syscall.Conn)
	if !ok {
		return nil
	}
	raw, err := sc.SyscallConn()
	if err != nil {
		return nil
	}
	return raw
}

// startReading has c read when its connection is readable.
func startReading(c *socket) {
	p := getPoller()
	if c.raw == nil || p == nil || !p.add(c) {
		go c.readLoop()
	}
}

// forget stops watching c; shut calls it before closing the connection.
func forget(c *socket) {
	if p := thePoller; p != nil && c.pollID != 0 {
		p.remove(c)
	}
}

func (p *poller) add(c *socket) bool {
	p.mu.Lock()
	p.next++
	id := p.next
	p.sockets[id] = c
	p.mu.Unlock()
	c.pollID = id
	if p.ctl(c, unix.EPOLL_CTL_ADD) {
		return true
	}
	p.mu.Lock()
	delete(p.sockets, id)
	p.mu.Unlock()
	c.pollID = 0
	return false
}

func (p *poller) remove(c *socket) {
	p.mu.Lock()
	delete(p.sockets, c.pollID)
	p.mu.Unlock()
	p.ctl(c, unix.EPOLL_CTL_DEL)
}

// ctl changes c's registration. It goes through the connection's
// Control, which holds the descriptor open: once the connection is
// closed, its number may belong to another, and ctl does nothing.
func (p *poller) ctl(c *socket, op int) bool {
	ev := unix.EpollEvent{Events: pollEvents, Fd: int32(uint32(c.pollID)), Pad: int32(uint32(c.pollID >> 32))}
	var cerr error
	err := c.raw.Control(func(fd uintptr) { cerr = unix.EpollCtl(p.epfd, op, int(fd), &ev) })
	return err == nil && cerr == nil
}

// wait hands every socket epoll reports to the workers.
func (p *poller) wait() {
	events := make([]unix.EpollEvent, 256)
	for {
		n, err := unix.EpollWait(p.epfd, events, -1)
		if err != nil {
			if err == unix.EINTR {
				continue
			}
			panic("connectapi: epoll_wait: " + err.Error())
		}
		for _, ev := range events[:n] {
			id := uint64(uint32(ev.Fd)) | uint64(uint32(ev.Pad))<<32
			p.mu.Lock()
			c := p.sockets[id]
			p.mu.Unlock()
			if c != nil {
				p.ready <- c
			}
		}
	}
}

// work reads the sockets handed to it, what has arrived and no more, and
// watches each again unless it is closing.
func (p *poller) work() {
	buf := make([]byte, pollReadSize)
	for c := range p.ready {
		n, err := c.readNow(buf)
		if err != nil {
			c.shut()
			continue
		}
		if n > 0 && !c.feed(context.Background(), buf[:n]) {
			continue
		}
		p.ctl(c, unix.EPOLL_CTL_MOD)
	}
}

// readNow reads what c's connection holds into buf without waiting; 0
// bytes and no error when nothing has arrived.
func (c *socket) readNow(buf []byte) (int, error) {
	var n int
	var rerr error
	err := c.raw.Read(func(fd uintptr) bool {
		for {
			n, rerr = unix.Read(int(fd), buf)
			if rerr != unix.EINTR {
				return true
			}
		}
	})
	switch {
	case err != nil:
		return 0, err
	case rerr == unix.EAGAIN:
		return 0, nil
	case rerr != nil:
		return 0, rerr
	case n == 0:
		return 0, io.EOF
	}
	return n, nil
}

// writeNow writes what of b the kernel takes without waiting.
func (c *socket) writeNow(b []byte) (int, error) {
	if c.raw == nil {
		return 0, nil
	}
	var n int
	var werr error
	err := c.raw.Write(func(fd uintptr) bool {
		for n < len(b) {
			m, err := unix.Write(int(fd), b[n:])
			if err == unix.EINTR {
				continue
			}
			if err != nil {
				if err != unix.EAGAIN {
					werr = err
				}
				break
			}
			n += m
		}
		return true
	})
	if err == nil {
		err = werr
	}
	return n, err
}
