package connectapi

import (
	"bytes"
	"context"
	"encoding/json"
	"net"
	"net/http"
	"net/netip"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/gobwas/ws"

	"github.com/helplinehq/helpline"
)

// Socket limits. An idle socket holds no goroutine and no buffer: on Linux
// the poller (socket_epoll_linux.go) hands a readable socket to one of a
// few workers, which read what has arrived into a buffer of their own, and
// frames are written straight from Deliver when the kernel takes them.
// What stays is the socket's record, its connection and its idle timer.
const (
	// socketQueueLen is how many frames may wait for a slow client; one
	// more drops the socket rather than hold up the engine.
	socketQueueLen  = 64
	socketReadLimit = 8 << 10 // client frames are a few dozen bytes
	writeTimeout    = 10 * time.Second
	// closeGrace is how long a socket waits for the client's close
	// frame after sending its own.
	closeGrace = 5 * time.Second
	// handshakeTimeout bounds the writing of the upgrade's answer.
	handshakeTimeout = 10 * time.Second
)

// Frames the server sends in reply to the client's keep-alives and
// subscription (§4.3 of the protocol notes), and its close frames, each
// built once with its WebSocket header: a server's frames are not masked,
// so the same bytes go to every client.
var (
	subscribeAck   = textFrame([]byte(`{"topic":"aws/subscribe","content":{"status":"success","topics":["aws/chat"]}}`))
	unsubscribeAck = textFrame([]byte(`{"topic":"aws/unsubscribe","content":{"status":"success","topics":["aws/chat"]}}`))
	heartbeatReply = textFrame([]byte(`{"topic":"aws/heartbeat"}`))
	pingReply      = textFrame([]byte(`{"topic":"aws/ping","statusCode":200,"statusContent":"OK"}`))
	closeChatEnded = closeFrame(ws.StatusNormalClosure, "chat ended")
	closeRestart   = closeFrame(statusServiceRestart, "server restarting; reconnect")
)

// statusServiceRestart is close code 1012, which clients answer by
// reconnecting.
const statusServiceRestart ws.StatusCode = 1012

// textFrame returns payload as a whole server text frame, header included.
func textFrame(payload []byte) []byte {
	return ws.MustCompileFrame(ws.NewTextFrame(payload))
}

func closeFrame(code ws.StatusCode, reason string) []byte {
	return ws.MustCompileFrame(ws.NewCloseFrame(ws.NewCloseFrameBody(code, reason)))
}

// socketConfig is what every socket shares.
type socketConfig struct {
	srv    *server
	idle   time.Duration
	frames frameCache
	// epoch is the origin of the sockets' heard times.
	epoch time.Time

	// draining is Config.Draining; watchOnce starts the goroutine that
	// waits for it, with the first socket.
	draining  <-chan struct{}
	watchOnce sync.Once
	mu        sync.Mutex // guards open
	open      map[*socket]struct{}
}

// retryAfterDrain is the Retry-After of a socket refused while the node
// drains: by then a load balancer has another node to send it to.
const retryAfterDrain = "1"

// add records c as open; c is restarted at once if the node drains.
func (sc *socketConfig) add(c *socket) {
	sc.mu.Lock()
	sc.open[c] = struct{}{}
	sc.mu.Unlock()
	if sc.draining == nil {
		return
	}
	sc.watchOnce.Do(func() { go sc.watch() })
	select {
	case <-sc.draining:
		c.restart()
	default:
	}
}

func (sc *socketConfig) remove(c *socket) {
	sc.mu.Lock()
	delete(sc.open, c)
	sc.mu.Unlock()
}

// isDraining reports whether the node drains.
func (sc *socketConfig) isDraining() bool {
	select {
	case <-sc.draining:
		return true
	default:
		return false
	}
}

// watch restarts every open socket once the node drains.
func (sc *socketConfig) watch() {
	<-sc.draining
	sc.mu.Lock()
	defer sc.mu.Unlock()
	for c := range sc.open {
		c.restart()
	}
}

// frameCache remembers the frame of the item delivered last: the engine
// hands one item to every socket of its contact in turn, so each item is
// encoded once rather than once per socket, and every socket writes the
// same bytes.
type frameCache struct {
	mu      sync.Mutex // guards the fields below
	item    *helpline.Item
	initial string // the InitialContactId the frame carries
	frame   []byte // the whole WebSocket frame; shared, never modified
}

// encode returns the aws/chat frame of it as seen by a contact whose
// initial contact is initial.
func (fc *frameCache) encode(it *helpline.Item, initial string) ([]byte, error) {
	fc.mu.Lock()
	defer fc.mu.Unlock()
	if fc.item == it && fc.initial == initial {
		return fc.frame, nil
	}
	item, err := json.Marshal(toWireItem(it, initial))
	if err != nil {
		return nil, err
	}
	payload, err := json.Marshal(chatFrame{"aws/chat", "application/json", string(item)})
	if err != nil {
		return nil, err
	}
	fc.item, fc.initial, fc.frame = it, initial, textFrame(payload)
	return fc.frame, nil
}

func newSocketConfig(s *server, idle time.Duration, draining <-chan struct{}) *socketConfig {
	if idle == 0 {
		idle = 60 * time.Second
	}
	return &socketConfig{srv: s, idle: idle, epoch: time.Now(), draining: draining, open: make(map[*socket]struct{})}
}

// serveSocket upgrades GET /participant/ws?token=<WebSocketToken> and
// speaks the Connect participant WebSocket protocol on it:
//
//   - aws/subscribe with topics ["aws/chat"] is acknowledged, and from then
//     on (never before the ack) every item of the contact newer than the
//     socket's opening is pushed as an aws/chat frame, the sender's own
//     included; a second subscribe is acknowledged again.
//   - aws/heartbeat and aws/ping are answered at once, and so are
//     WebSocket pings (with a pong).
//   - Only the first JSON value of a frame is read; trailing bytes are
//     ignored (the iOS SDK appends a stray ")"). Anything unreadable gets
//     an error frame without a topic, and the socket stays open.
//   - A message over 8 KiB is refused with close code 1009, and a frame
//     that breaks RFC 6455 (unmasked, reserved bits or opcodes) with 1002.
//   - When the chat ends or the participant leaves, the engine's last item
//     (chat.ended) is flushed and the socket is closed with code 1000.
//   - A socket that sends no frame for SocketIdleTimeout is closed; one
//     whose client reads too slowly to keep its queue short is dropped.
//   - When the node drains (Config.Draining), the socket is closed with
//     code 1012 once its queue is written, and the client reconnects.
//
// While the node drains, a new socket is refused with 503
// ThrottlingException and Retry-After: 1.
// An unknown, expired or ended token is refused with 403 before upgrading.
// So is, with 429 ThrottlingException, a socket over the participant's
// open-socket limit ("Too many open WebSocket connections ...") or over
// its OpenWebSocket rate ("Rate exceeded for OpenWebSocket."); see
// RateLimits. A request that is no WebSocket handshake is refused with 400
// ValidationException. The socket's slot is given back when it closes,
// whatever closes it.
func (s *server) serveSocket(w http.ResponseWriter, r *http.Request) {
	if s.sockets.isDraining() {
		w.Header().Set("Retry-After", retryAfterDrain)
		s.writeError(w, r, participantErrors, &apiError{status: http.StatusServiceUnavailable, name: "ThrottlingException",
			message: "This server is restarting; reconnect."})
		return
	}
	token := r.URL.Query().Get("token")
	if token == "" {
		s.writeError(w, r, participantErrors, helpline.Errorf(helpline.EFORBIDDEN, "The token query parameter is required."))
		return
	}
	sess, err := s.svc.Authenticate(r.Context(), helpline.WebSocketToken, token)
	if err != nil {
		s.writeError(w, r, participantErrors, err)
		return
	}
	if !s.originAllowed(r.Header.Get("Origin")) {
		s.writeError(w, r, participantErrors, helpline.Errorf(helpline.EFORBIDDEN, "Origin not allowed."))
		return
	}
	instanceID, participantID := sess.Contact.InstanceID, sess.Participant.ID
	if !s.limits.openSocket(instanceID, participantID) {
		s.writeError(w, r, participantErrors, helpline.Errorf(helpline.ETHROTTLED,
			"Too many open WebSocket connections for this participant; close one first."))
		return
	}
	release := sync.OnceFunc(func() { s.limits.closeSocket(instanceID, participantID) })
	if !s.limits.allow(instanceID, participantID, OpenWebSocket, s.now()) {
		release()
		s.writeError(w, r, participantErrors, helpline.Errorf(helpline.ETHROTTLED, "Rate exceeded for %s.", OpenWebSocket))
		return
	}
	if msg := badHandshake(r); msg != "" {
		release()
		s.writeError(w, r, participantErrors, &apiError{status: http.StatusBadRequest, name: "ValidationException", message: msg})
		return
	}
	id := w.Header().Get(requestIDHeader)
	conn, rw, _, err := ws.HTTPUpgrader{Timeout: handshakeTimeout}.Upgrade(r, w)
	if err != nil {
		release()
		if conn != nil {
			conn.Close()
		}
		return // the upgrader has answered, if it could
	}
	// A client may send its first frame before it has read the answer:
	// what the HTTP server has already read of it is the reader's start.
	var early []byte
	if n := rw.Reader.Buffered(); n > 0 {
		b, _ := rw.Reader.Peek(n)
		early = slices.Clone(b)
	}
	// The socket keeps the identifiers it needs, not the session: the
	// session's contact may be a snapshot that the engine's cache has
	// since replaced, which the socket would keep alive.
	c := &socket{cfg: s.sockets, conn: conn, raw: rawConnOf(conn), id: id, release: release,
		contactID: sess.Contact.ID, initialContactID: sess.Contact.InitialContactID, participantID: participantID,
		from: sess.Contact.LastSeq}
	c.heard.Store(int64(time.Since(s.sockets.epoch)))
	c.timer = time.AfterFunc(s.sockets.idle, c.expire)
	s.sockets.add(c)
	if len(early) > 0 && !c.feed(context.Background(), early) {
		return
	}
	// The HTTP server's goroutine and buffers for this connection go
	// when this handler returns; the socket is read when it is readable.
	startReading(c)
}

// badHandshake says what makes r no WebSocket handshake, or "" if it is
// one (RFC 6455 §4.2.1), so that a refusal is an AWS error like the others.
func badHandshake(r *http.Request) string {
	switch {
	case r.ProtoMajor < 1 || (r.ProtoMajor == 1 && r.ProtoMinor < 1):
		return "A WebSocket handshake needs HTTP/1.1."
	case !headerHasToken(r.Header, "Connection", "upgrade"):
		return "The Connection header must include upgrade."
	case !headerHasToken(r.Header, "Upgrade", "websocket"):
		return "The Upgrade header must be websocket."
	case r.Header.Get("Sec-Websocket-Version") != "13":
		return "Sec-WebSocket-Version must be 13."
	case len(r.Header.Get("Sec-Websocket-Key")) != 24:
		return "Sec-WebSocket-Key is missing or malformed."
	}
	return ""
}

// headerHasToken reports whether a comma-separated header named name
// lists token, in any case.
func headerHasToken(h http.Header, name, token string) bool {
	for _, v := range h.Values(name) {
		for t := range strings.SplitSeq(v, ",") {
			if strings.EqualFold(strings.TrimSpace(t), token) {
				return true
			}
		}
	}
	return false
}

// socket is one participant WebSocket, and the engine's helpline.Sink for
// its Watch. It holds no goroutine: its frames are read by a worker once
// its connection is readable (one at a time), and written straight from
// Deliver, or by a writer of the shared pool when the kernel buffer is
// full.
type socket struct {
	cfg  *socketConfig
	conn net.Conn
	// raw, when set, reads and writes conn's file descriptor without
	// waiting (see rawConnOf); pollID names the socket to the poller.
	raw    syscall.RawConn
	pollID uint64
	id     string // connectionId in error frames
	// The socket's contact and participant; see serveSocket.
	contactID, initialContactID, participantID string
	// from is the contact's newest Seq when the socket opened; a Watch
	// starts after it, so nothing stored between opening and subscribing
	// is missed, and history is left to GetTranscript.
	from int64
	// delivered is the highest Seq pushed so far; a subscribe after an
	// unsubscribe resumes after it.
	delivered atomic.Int64
	// release gives the participant's socket slot back; shut calls it.
	release func()
	// heard is when the client last sent a frame, since cfg.epoch.
	heard atomic.Int64
	// timer closes the socket when the client has been silent for
	// cfg.idle, or closeGrace after the server's close frame.
	timer *time.Timer

	// Reader state: only the one reading touches it.
	// partial holds the start of a frame not yet whole, message the
	// fragments of a message not yet whole (nil when there are none),
	// and fragmented says a message's first fragment has come.
	partial    []byte
	message    []byte
	fragmented bool

	mu sync.Mutex // guards the fields below
	// queue holds frames (or a frame's unwritten rest, first) for the
	// writer pool; it is empty unless writing.
	queue [][]byte
	// writing: a writer of the pool owns the connection's write side.
	writing bool
	// ending: End or a close was asked for; the close frame is the last
	// frame queued, and no other may follow.
	ending bool
	// shutAfterClose: the client closed first; the connection is closed
	// as soon as the reply is written.
	shutAfterClose bool
	closeSent      bool // the close frame has been written
	done           bool // the connection is closed or closing
	// stop ends the Watch; it is set after the first subscribe.
	stop func()
}

// shut closes the socket: the Watch stops, the slot is given back and
// the connection closes. It may be called more than once, from anywhere
// but Deliver (stop waits for the engine's fan-out).
func (c *socket) shut() {
	c.mu.Lock()
	if c.done {
		c.mu.Unlock()
		return
	}
	c.done = true
	c.queue = nil
	stop := c.stop
	c.stop = nil
	c.mu.Unlock()
	c.timer.Stop()
	c.cfg.remove(c)
	if stop != nil {
		stop()
	}
	// The slot is free before the connection closes, so that a client
	// that sees its socket closed may open the next one at once.
	c.release()
	forget(c)
	c.conn.Close()
}

// expire runs when the socket's timer fires: it closes a socket whose
// close frame has had its grace, or whose client has been silent for the
// idle timeout, and otherwise sets the timer for when that would be.
func (c *socket) expire() {
	silent := time.Since(c.cfg.epoch) - time.Duration(c.heard.Load())
	c.mu.Lock()
	if !c.closeSent && silent < c.cfg.idle {
		c.timer.Reset(c.cfg.idle - silent)
		c.mu.Unlock()
		return
	}
	c.mu.Unlock()
	c.shut()
}

// clientFrame is what clients send: {"topic":...,"content":...}.
type clientFrame struct {
	Topic   string          `json:"topic"`
	Content json.RawMessage `json:"content"`
}

// feed reads the frames in data, which follows what was fed before, and
// handles each whole one; it keeps an incomplete frame's start for the
// next call. It reports whether the socket is still open for reading.
// data is the reader's to modify (payloads are unmasked in place) but not
// kept.
func (c *socket) feed(ctx context.Context, data []byte) bool {
	if c.partial != nil {
		data = append(c.partial, data...)
		c.partial = nil
	}
	for len(data) > 0 {
		h, n, err := frameHeader(data)
		if err == nil && n > 0 {
			state := ws.StateServerSide
			if c.fragmented {
				state = state.Set(ws.StateFragmented)
			}
			err = ws.CheckHeader(h, state)
		}
		if err != nil {
			c.fail(ws.StatusProtocolError, err.Error())
			return false
		}
		if n == 0 || (h.Length <= socketReadLimit && int64(len(data)-n) < h.Length) {
			// Not whole yet; nothing here is bigger than the limit.
			c.partial = slices.Clone(data)
			return true
		}
		if h.Length+int64(len(c.message)) > socketReadLimit {
			c.fail(ws.StatusMessageTooBig, "message too big")
			return false
		}
		c.heard.Store(int64(time.Since(c.cfg.epoch)))
		payload := data[n : n+int(h.Length)]
		data = data[n+int(h.Length):]
		ws.Cipher(payload, h.Mask, 0)
		switch {
		case h.OpCode == ws.OpPing:
			c.enqueue(ws.MustCompileFrame(ws.NewPongFrame(payload)))
		case h.OpCode == ws.OpPong:
		case h.OpCode == ws.OpClose:
			c.closed(payload)
			return false
		case !h.Fin:
			if !c.fragmented {
				c.fragmented = true
				c.message = append(make([]byte, 0, len(payload)+1), byte(h.OpCode))
			}
			c.message = append(c.message, payload...)
		case c.fragmented:
			op := ws.OpCode(c.message[0])
			msg := append(c.message[1:], payload...)
			c.message, c.fragmented = nil, false
			c.handleMessage(ctx, op, msg)
		default:
			c.handleMessage(ctx, h.OpCode, payload)
		}
	}
	return true
}

// frameHeader reads the frame header at the start of b; n is its length,
// or 0 when b does not hold all of it yet.
func frameHeader(b []byte) (h ws.Header, n int, err error) {
	if len(b) < 2 {
		return h, 0, nil
	}
	n = 2
	if b[1]&0x80 != 0 {
		n += 4
	}
	switch b[1] & 0x7f {
	case 126:
		n += 2
	case 127:
		n += 8
	}
	if len(b) < n {
		return h, 0, nil
	}
	h, err = ws.ReadHeader(bytes.NewReader(b[:n]))
	return h, n, err
}

// fail closes the socket for a frame that breaks the protocol or the
// size limit: the close frame says why, and the connection closes once
// it is written.
func (c *socket) fail(code ws.StatusCode, reason string) {
	c.finish(closeFrame(code, reason), true)
}

// closed answers the client's close frame with payload and closes the
// socket.
func (c *socket) closed(payload []byte) {
	c.mu.Lock()
	ending := c.ending
	c.mu.Unlock()
	if ending {
		// Ours was sent, or is queued: the client has nothing more to say.
		c.shut()
		return
	}
	reply := ws.MustCompileFrame(ws.NewCloseFrame(nil))
	if code, reason := ws.ParseCloseFrameData(payload); len(payload) == 1 || (!code.Empty() && ws.CheckCloseFrameData(code, reason) != nil) {
		reply = closeFrame(ws.StatusProtocolError, "bad close frame")
	} else if !code.Empty() {
		reply = closeFrame(code, "")
	}
	c.finish(reply, true)
}

func (c *socket) handleMessage(ctx context.Context, op ws.OpCode, data []byte) {
	if op != ws.OpText {
		c.sendError("Only JSON text frames are accepted.")
		return
	}
	var f clientFrame
	// Decode reads the first JSON value and ignores what follows it.
	if err := json.NewDecoder(bytes.NewReader(data)).Decode(&f); err != nil {
		c.sendError("The frame is not a JSON object.")
		return
	}
	switch f.Topic {
	case "aws/subscribe":
		c.subscribe(ctx, f.Content)
	case "aws/unsubscribe":
		c.mu.Lock()
		stop := c.stop
		c.stop = nil
		c.mu.Unlock()
		if stop != nil {
			stop()
		}
		c.enqueue(unsubscribeAck)
	case "aws/heartbeat":
		c.enqueue(heartbeatReply)
	case "aws/ping":
		c.enqueue(pingReply)
	default:
		c.sendError("Unknown topic.")
	}
}

func (c *socket) subscribe(ctx context.Context, content json.RawMessage) {
	var sub struct {
		Topics []string `json:"topics"`
	}
	if json.Unmarshal(content, &sub) != nil || !slices.Contains(sub.Topics, "aws/chat") {
		if sub.Topics == nil {
			sub.Topics = []string{}
		}
		frame, _ := json.Marshal(map[string]any{
			"topic":   "aws/subscribe",
			"content": map[string]any{"status": "failure", "topics": sub.Topics},
		})
		c.enqueue(textFrame(frame))
		return
	}
	if !c.enqueue(subscribeAck) {
		return
	}
	c.mu.Lock()
	watching := c.stop != nil
	c.mu.Unlock()
	if watching {
		return
	}
	// Watch reads the session's contact and participant IDs only.
	sess := &helpline.Session{
		Contact:     &helpline.Contact{ID: c.contactID, InitialContactID: c.initialContactID},
		Participant: &helpline.Participant{ID: c.participantID, ContactID: c.contactID},
	}
	stop, err := c.cfg.srv.svc.Watch(ctx, sess, max(c.from, c.delivered.Load()), c)
	if err != nil {
		// The chat ended, or the participant left, since the socket
		// opened.
		c.sendError(helpline.ErrorMessage(err))
		c.End()
		return
	}
	c.mu.Lock()
	if c.done {
		c.mu.Unlock()
		stop()
		return
	}
	c.stop = stop
	c.mu.Unlock()
}

// sendError queues an error frame without a topic, the form chatjs hands
// to its topic-failure callback.
func (c *socket) sendError(msg string) {
	frame, _ := json.Marshal(struct {
		Message      string `json:"message"`
		ConnectionID string `json:"connectionId"`
		RequestID    string `json:"requestId"`
	}{msg, c.id, helpline.NewID()})
	c.enqueue(textFrame(frame))
}

// chatFrame is an aws/chat frame; Content is the item's JSON as a string.
type chatFrame struct {
	Topic       string `json:"topic"`
	ContentType string `json:"contentType"`
	Content     string `json:"content"`
}

// Deliver writes it as an aws/chat frame, or queues it if the client has
// not taken the frames before. It never blocks: a socket whose queue is
// full is dropped (closed at once) and Deliver returns false.
func (c *socket) Deliver(it *helpline.Item) bool {
	if helpline.IsHelplineEvent(it) {
		return true // an internal record, not for Connect clients
	}
	frame, err := c.cfg.frames.encode(it, c.initialContactID)
	if err != nil || !c.enqueue(frame) {
		return false
	}
	if it.Seq > c.delivered.Load() {
		c.delivered.Store(it.Seq)
	}
	return true
}

// End closes the socket with code 1000 once every queued frame is written.
func (c *socket) End() {
	c.finish(closeChatEnded, false)
}

// restart closes the socket with code 1012 (service restart) once every
// queued frame is written: the node is stopping, and the client
// reconnects elsewhere.
func (c *socket) restart() {
	c.finish(closeRestart, false)
}

// enqueue writes frame, or queues it behind the frames the client has not
// taken yet, and reports whether it did. It never blocks. A socket whose
// queue is full is dropped.
func (c *socket) enqueue(frame []byte) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.done || c.ending {
		return false
	}
	if len(c.queue) >= socketQueueLen {
		c.dropLocked()
		return false
	}
	if !c.pushLocked(frame) {
		c.dropLocked()
		return false
	}
	return true
}

// dropLocked closes the socket's connection at once; shut follows on a
// goroutine of its own, since Deliver may not wait for the engine. c.mu
// must be held.
func (c *socket) dropLocked() {
	c.ending, c.queue = true, nil
	go c.shut()
}

// finish queues the close frame, the last frame of the socket; with
// shutAfter the connection closes once it is written, otherwise the client
// has closeGrace to answer.
func (c *socket) finish(frame []byte, shutAfter bool) {
	c.mu.Lock()
	if c.done || c.ending {
		c.mu.Unlock()
		if shutAfter {
			c.shut()
		}
		return
	}
	c.ending, c.shutAfterClose = true, shutAfter
	ok := c.pushLocked(frame)
	written := ok && !c.writing
	c.mu.Unlock()
	switch {
	case !ok:
		c.shutSoon()
	case written:
		c.sentClose()
	}
}

// shutSoon shuts the socket on a goroutine of its own: finish may run
// where shut may not (restart, under the config's lock).
func (c *socket) shutSoon() { go c.shut() }

// sentClose notes that the close frame has been written.
func (c *socket) sentClose() {
	c.mu.Lock()
	c.closeSent = true
	now := c.shutAfterClose
	if !now {
		c.timer.Reset(closeGrace)
	}
	c.mu.Unlock()
	if now {
		c.shutSoon()
	}
}

// pushLocked writes frame at once if the writer pool has nothing of the
// socket's, and queues what the kernel did not take for the pool. It
// reports false if the connection failed. c.mu must be held.
func (c *socket) pushLocked(frame []byte) bool {
	if !c.writing {
		n, err := c.writeNow(frame)
		if err != nil {
			return false
		}
		if n == len(frame) {
			return true
		}
		frame = frame[n:] // the rest of a shared frame, still unmodified
		c.writing = true
		writers.schedule(c)
	}
	c.queue = append(c.queue, frame)
	return true
}

// flush writes the socket's queue, waiting (up to writeTimeout per frame)
// for the client to take it; the writer pool runs it.
func (c *socket) flush() {
	for {
		c.mu.Lock()
		if c.done || len(c.queue) == 0 {
			c.writing = false
			closeWritten := c.ending && !c.done && !c.closeSent
			// Direct writes check the deadline too: an old one would
			// fail them.
			c.conn.SetWriteDeadline(time.Time{})
			c.mu.Unlock()
			if closeWritten {
				c.sentClose()
			}
			return
		}
		frame := c.queue[0]
		c.queue[0] = nil
		c.queue = c.queue[1:]
		if len(c.queue) == 0 {
			c.queue = nil // an idle socket keeps no backing array
		}
		c.mu.Unlock()
		c.conn.SetWriteDeadline(time.Now().Add(writeTimeout))
		if _, err := c.conn.Write(frame); err != nil {
			c.shut()
			return
		}
	}
}

// readLoop reads c on a goroutine of its own, for connections that the
// poller cannot watch.
func (c *socket) readLoop() {
	buf := make([]byte, 512)
	for {
		n, err := c.conn.Read(buf)
		if n > 0 && !c.feed(context.Background(), buf[:n]) {
			return
		}
		if err != nil {
			c.shut()
			return
		}
	}
}

// writerPool writes the frames that the kernel could not take at once:
// at most maxWriters goroutines, started only while sockets wait for one
// and ending when none does.
type writerPool struct {
	mu      sync.Mutex // guards the fields below
	waiting []*socket
	// running writers, of which busy are flushing a socket (and may
	// wait up to writeTimeout for its client).
	running, busy int
}

const maxWriters = 256

var writers writerPool

// schedule has a writer flush c.
func (p *writerPool) schedule(c *socket) {
	p.mu.Lock()
	p.waiting = append(p.waiting, c)
	start := p.running-p.busy < len(p.waiting) && p.running < maxWriters
	if start {
		p.running++
	}
	p.mu.Unlock()
	if start {
		go p.run()
	}
}

func (p *writerPool) run() {
	for {
		p.mu.Lock()
		if len(p.waiting) == 0 {
			p.running--
			p.waiting = nil
			p.mu.Unlock()
			return
		}
		c := p.waiting[0]
		p.waiting[0] = nil
		p.waiting = p.waiting[1:]
		p.busy++
		p.mu.Unlock()
		c.flush()
		p.mu.Lock()
		p.busy--
		p.mu.Unlock()
	}
}

// socketBaseURL is the ws:// or wss:// base of WebSocket URLs; see
// createParticipantConnection.
func (s *server) socketBaseURL(r *http.Request) string {
	if s.publicURL != nil {
		scheme := "wss"
		if s.publicURL.Scheme == "http" {
			scheme = "ws"
		}
		return scheme + "://" + s.publicURL.Host + s.publicURL.Path
	}
	if r.TLS != nil {
		return "wss://" + r.Host
	}
	if port, ok := loopbackPort(r); ok {
		return "ws://127.0.0.1:" + port
	}
	return "ws://" + r.Host
}

// loopbackPort returns the local port of a request that arrived on an
// IPv4 loopback address.
func loopbackPort(r *http.Request) (string, bool) {
	addr, ok := r.Context().Value(http.LocalAddrContextKey).(net.Addr)
	if !ok {
		return "", false
	}
	ap, err := netip.ParseAddrPort(addr.String())
	if err != nil || !ap.Addr().Unmap().Is4() || !ap.Addr().IsLoopback() {
		return "", false
	}
	return strconv.Itoa(int(ap.Port())), true
}
