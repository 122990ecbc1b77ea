package app

import (
	"errors"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"strings"
	"sync"
	"syscall"
	"time"
)

// connLimits are the bounds on the HTTP server's connections, resolved
// from HTTPConfig: a zero duration or cap means none.
type connLimits struct {
	readBody      time.Duration
	minUploadRate int64 // bytes per second, always positive
	idle          time.Duration
	maxConns      int
	maxPerIP      int
	exempt        []netip.Prefix // addresses maxPerIP does not apply to
}

// limits resolves h, whose values validate has checked, with the defaults
// HTTPConfig documents.
func (h *HTTPConfig) limits() connLimits {
	l := connLimits{
		readBody:      30 * time.Second,
		minUploadRate: 64 << 10,
		idle:          60 * time.Second,
		maxConns:      16384,
		maxPerIP:      1024,
	}
	if h.ReadBodyTimeout != nil {
		l.readBody = time.Duration(*h.ReadBodyTimeout)
	}
	if h.MinUploadRate != nil {
		l.minUploadRate = *h.MinUploadRate
	}
	if h.IdleTimeout != nil {
		l.idle = time.Duration(*h.IdleTimeout)
	}
	if h.MaxConnections != nil {
		l.maxConns = *h.MaxConnections
	}
	if h.MaxConnectionsPerIP != nil {
		l.maxPerIP = *h.MaxConnectionsPerIP
	}
	exempt := h.PerIPExempt
	if exempt == nil {
		exempt = []string{"127.0.0.0/8", "::1/128"}
	}
	for _, s := range exempt {
		p, _ := parsePrefix(s)
		l.exempt = append(l.exempt, p)
	}
	return l
}

// parsePrefix reads a CIDR prefix, or an address standing for itself.
func parsePrefix(s string) (netip.Prefix, error) {
	if strings.Contains(s, "/") {
		p, err := netip.ParsePrefix(s)
		return p.Masked(), err
	}
	a, err := netip.ParseAddr(s)
	if err != nil {
		return netip.Prefix{}, err
	}
	return netip.PrefixFrom(a.Unmap(), a.Unmap().BitLen()), nil
}

// limitBodyRead gives every request body timeout, from when its handler
// starts, to arrive: it sets the connection's read deadline, so that a
// body trickled slower fails to read and the server closes the
// connection. Once the body has been read to its end, net/http clears the
// deadline as it starts its background read (which notices a client going
// away), so a handler still working is not cancelled. A handler may move
// the deadline itself, as the attachment upload does in proportion to its
// size. A request without a body (GET, the WebSocket upgrade) gets no
// deadline: ReadHeaderTimeout has bounded its headers, its background
// read has already begun and would cancel the handler at the deadline,
// and a hijacked socket sets its own. timeout 0 sets none.
func limitBodyRead(timeout time.Duration, next http.Handler) http.Handler {
	if timeout <= 0 {
		return next
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Body != nil && r.Body != http.NoBody {
			http.NewResponseController(w).SetReadDeadline(time.Now().Add(timeout))
		}
		next.ServeHTTP(w, r)
	})
}

// limitListener caps the connections it accepts, in total and per client
// address. A connection over either cap is closed as soon as it is
// accepted, before any byte is read, and Accept goes on to the next one:
// the client sees its connection closed at once and may retry, instead of
// waiting unanswered in the listen backlog (as behind
// netutil.LimitListener, whose blocked Accept also leaves /healthz
// unanswered) until the backlog fills and connections time out. A
// connection counts until it is closed, hijacked WebSockets included.
type limitListener struct {
	net.Listener
	max, perIP int // 0 means no cap
	exempt     []netip.Prefix
	log        *slog.Logger

	mu       sync.Mutex // guards the fields below
	total    int
	byIP     map[netip.Addr]int // open connections by clientKey
	refused  int                // refusals not logged yet
	loggedAt time.Time          // when a refusal was last logged
}

// refusalLogEvery spaces the warnings about refused connections, which
// come in floods.
const refusalLogEvery = 10 * time.Second

func newLimitListener(ln net.Listener, l connLimits, log *slog.Logger) net.Listener {
	if l.maxConns == 0 && l.maxPerIP == 0 {
		return ln
	}
	return &limitListener{Listener: ln, max: l.maxConns, perIP: l.maxPerIP, exempt: l.exempt, log: log, byIP: map[netip.Addr]int{}}
}

func (l *limitListener) Accept() (net.Conn, error) {
	for {
		c, err := l.Listener.Accept()
		if err != nil {
			return nil, err
		}
		key, counted, reason := l.admit(c.RemoteAddr())
		if reason == "" {
			return &limitedConn{Conn: c, l: l, key: key, counted: counted}, nil
		}
		c.Close()
		l.noteRefusal(c.RemoteAddr(), reason)
	}
}

// admit counts a new connection from addr, or says which cap refuses it.
// counted is whether addr's key counts towards the per-address cap.
func (l *limitListener) admit(addr net.Addr) (key netip.Addr, counted bool, reason string) {
	key, counted = l.clientKey(addr)
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.max > 0 && l.total >= l.max {
		return key, false, "max_connections"
	}
	if counted && l.byIP[key] >= l.perIP {
		return key, false, "max_connections_per_ip"
	}
	l.total++
	if counted {
		l.byIP[key]++
	}
	return key, counted, ""
}

// clientKey is the address a connection counts against: the client's IP,
// or for IPv6 its /64, which one client usually holds whole. ok is false
// when no per-address cap applies to it.
func (l *limitListener) clientKey(addr net.Addr) (key netip.Addr, ok bool) {
	ap, err := netip.ParseAddrPort(addr.String())
	if l.perIP == 0 || err != nil {
		return netip.Addr{}, false
	}
	ip := ap.Addr().Unmap()
	for _, p := range l.exempt {
		if p.Contains(ip) {
			return netip.Addr{}, false
		}
	}
	if ip.Is6() {
		ip = netip.PrefixFrom(ip, 64).Masked().Addr()
	}
	return ip, true
}

func (l *limitListener) release(key netip.Addr, counted bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.total--
	if counted {
		if l.byIP[key]--; l.byIP[key] <= 0 {
			delete(l.byIP, key)
		}
	}
}

// noteRefusal logs a refusal at Warn, at most once per refusalLogEvery
// with the number refused since the last line.
func (l *limitListener) noteRefusal(addr net.Addr, reason string) {
	l.mu.Lock()
	l.refused++
	n := l.refused
	now := time.Now()
	due := now.Sub(l.loggedAt) >= refusalLogEvery
	if due {
		l.refused, l.loggedAt = 0, now
	}
	l.mu.Unlock()
	if due {
		l.log.Warn("connection refused: over "+reason, "remote", addr.String(), "refused", n)
	}
}

// limitedConn gives its place back to its listener when closed.
type limitedConn struct {
	net.Conn
	l       *limitListener
	key     netip.Addr
	counted bool
	once    sync.Once
}

func (c *limitedConn) Close() error {
	err := c.Conn.Close()
	c.once.Do(func() { c.l.release(c.key, c.counted) })
	return err
}

// SyscallConn gives access to the connection's file descriptor, which the
// participant WebSockets (package connectapi) watch for input instead of
// keeping a goroutine waiting on each.
func (c *limitedConn) SyscallConn() (syscall.RawConn, error) {
	sc, ok := c.Conn.(syscall.Conn)
	if !ok {
		return nil, errors.New("connection has no file descriptor")
	}
	return sc.SyscallConn()
}
