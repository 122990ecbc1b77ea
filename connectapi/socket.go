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
	"sync"
	"sync/atomic"
	"time"

	"github.com/gorilla/websocket"

	"github.com/helplinehq/helpline"
)

// Socket limits. An idle socket holds no goroutine besides the one reading
// it, a 1 KiB read buffer and no write buffer (those are pooled and taken
// only while a frame is written), which keeps it well under 20 KB.
const (
	// socketQueueLen is how many frames may wait for a slow client; one
	// more drops the socket rather than hold up the engine.
	socketQueueLen  = 64
	socketReadLimit = 8 << 10 // client frames are a few dozen bytes
	writeTimeout    = 10 * time.Second
	// closeGrace is how long a socket waits for the client's close
	// frame after sending its own.
	closeGrace = 5 * time.Second
)

// Frames the server sends in reply to the client's keep-alives and
// subscription (§4.3 of the protocol notes).
var (
	subscribeAck   = []byte(`{"topic":"aws/subscribe","content":{"status":"success","topics":["aws/chat"]}}`)
	unsubscribeAck = []byte(`{"topic":"aws/unsubscribe","content":{"status":"success","topics":["aws/chat"]}}`)
	heartbeatReply = []byte(`{"topic":"aws/heartbeat"}`)
	pingReply      = []byte(`{"topic":"aws/ping","statusCode":200,"statusContent":"OK"}`)
)

// socketConfig is what every socket shares.
type socketConfig struct {
	srv      *server
	upgrader websocket.Upgrader
	idle     time.Duration
	frames   frameCache

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
// encoded once rather than once per socket.
type frameCache struct {
	mu      sync.Mutex // guards the fields below
	item    *helpline.Item
	initial string // the InitialContactId the frame carries
	frame   []byte // shared by the sockets' queues; never modified
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
	frame, err := json.Marshal(chatFrame{"aws/chat", "application/json", string(item)})
	if err != nil {
		return nil, err
	}
	fc.item, fc.initial, fc.frame = it, initial, frame
	return frame, nil
}

func newSocketConfig(s *server, idle time.Duration, draining <-chan struct{}) *socketConfig {
	if idle == 0 {
		idle = 60 * time.Second
	}
	sc := &socketConfig{srv: s, idle: idle, draining: draining, open: make(map[*socket]struct{})}
	sc.upgrader = websocket.Upgrader{
		HandshakeTimeout: 10 * time.Second,
		ReadBufferSize:   512,
		WriteBufferSize:  4096,
		WriteBufferPool:  &sync.Pool{},
		// serveSocket checks the Origin itself, before upgrading, so that
		// a refused browser gets an AWS-style error.
		CheckOrigin: func(*http.Request) bool { return true },
		Error: func(w http.ResponseWriter, r *http.Request, status int, reason error) {
			s.writeError(w, r, participantErrors, &apiError{status: status, name: "ValidationException", message: reason.Error()})
		},
	}
	return sc
}

// serveSocket upgrades GET /participant/ws?token=<WebSocketToken> and
// speaks the Connect participant WebSocket protocol on it:
//
//   - aws/subscribe with topics ["aws/chat"] is acknowledged, and from then
//     on (never before the ack) every item of the contact newer than the
//     socket's opening is pushed as an aws/chat frame, the sender's own
//     included; a second subscribe is acknowledged again.
//   - aws/heartbeat and aws/ping are answered at once.
//   - Only the first JSON value of a frame is read; trailing bytes are
//     ignored (the iOS SDK appends a stray ")"). Anything unreadable gets
//     an error frame without a topic, and the socket stays open.
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
// RateLimits. The socket's slot is given back when it closes, whatever
// closes it.
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
	id := w.Header().Get(requestIDHeader)
	ws, err := s.sockets.upgrader.Upgrade(w, r, nil)
	if err != nil {
		release()
		return // the upgrader has answered
	}
	c := &socket{cfg: s.sockets, ws: ws, sess: sess, id: id, from: sess.Contact.LastSeq, release: release}
	s.sockets.add(c)
	// The reader gets a goroutine of its own so that this handler
	// returns and the HTTP server's per-connection buffers are freed.
	// Watch uses its context only for the call itself.
	go c.run(context.Background())
}

// socket is one participant WebSocket. One goroutine reads it; a writer
// goroutine exists only while frames are queued. It is the engine's helpline.Sink for the socket's Watch.
type socket struct {
	cfg  *socketConfig
	ws   *websocket.Conn
	sess *helpline.Session
	id   string // connectionId in error frames
	// from is the contact's newest Seq when the socket opened; a Watch
	// starts after it, so nothing stored between opening and subscribing
	// is missed, and history is left to GetTranscript.
	from int64
	// delivered is the highest Seq pushed so far; a subscribe after an
	// unsubscribe resumes after it.
	delivered atomic.Int64
	// stop ends the Watch; it is set after the first subscribe and used
	// only by the reader goroutine.
	stop func()
	// release gives the participant's socket slot back; cleanup calls it.
	release func()

	mu       sync.Mutex // guards the fields below
	queue    [][]byte   // frames waiting to be written, at most socketQueueLen
	writing  bool       // a writer goroutine owns the connection's write side
	ending   bool       // End was called: close with 1000 once queue is empty
	restarts bool       // with ending: close with 1012 instead, the node draining
	closed   bool       // nothing more may be queued
}

func (c *socket) run(ctx context.Context) {
	defer c.cleanup()
	c.ws.SetReadLimit(socketReadLimit)
	c.ws.SetPingHandler(func(data string) error {
		c.extendDeadline()
		err := c.ws.WriteControl(websocket.PongMessage, []byte(data), time.Now().Add(writeTimeout))
		if err == websocket.ErrCloseSent {
			return nil
		}
		return err
	})
	for {
		c.extendDeadline()
		typ, data, err := c.ws.ReadMessage()
		if err != nil {
			return
		}
		c.handleFrame(ctx, typ, data)
	}
}

// extendDeadline gives the client SocketIdleTimeout (wall-clock time, as
// network deadlines are) to send its next frame, unless the socket is
// closing.
func (c *socket) extendDeadline() {
	c.mu.Lock()
	closed := c.closed
	c.mu.Unlock()
	if !closed {
		c.ws.SetReadDeadline(time.Now().Add(c.cfg.idle))
	}
}

func (c *socket) cleanup() {
	c.mu.Lock()
	c.closed = true
	c.queue = nil
	c.mu.Unlock()
	c.cfg.remove(c)
	if c.stop != nil {
		c.stop()
	}
	// The slot is free before the connection closes, so that a client
	// that sees its socket closed may open the next one at once.
	c.release()
	c.ws.Close()
}

// clientFrame is what clients send: {"topic":...,"content":...}.
type clientFrame struct {
	Topic   string          `json:"topic"`
	Content json.RawMessage `json:"content"`
}

func (c *socket) handleFrame(ctx context.Context, typ int, data []byte) {
	if typ != websocket.TextMessage {
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
		if c.stop != nil {
			c.stop()
			c.stop = nil
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
		c.enqueue(frame)
		return
	}
	if !c.enqueue(subscribeAck) || c.stop != nil {
		return
	}
	stop, err := c.cfg.srv.svc.Watch(ctx, c.sess, max(c.from, c.delivered.Load()), c)
	if err != nil {
		// The chat ended, or the participant left, since the socket
		// opened.
		c.sendError(helpline.ErrorMessage(err))
		c.End()
		return
	}
	c.stop = stop
}

// sendError queues an error frame without a topic, the form chatjs hands
// to its topic-failure callback.
func (c *socket) sendError(msg string) {
	frame, _ := json.Marshal(struct {
		Message      string `json:"message"`
		ConnectionID string `json:"connectionId"`
		RequestID    string `json:"requestId"`
	}{msg, c.id, helpline.NewID()})
	c.enqueue(frame)
}

// chatFrame is an aws/chat frame; Content is the item's JSON as a string.
type chatFrame struct {
	Topic       string `json:"topic"`
	ContentType string `json:"contentType"`
	Content     string `json:"content"`
}

// Deliver queues it as an aws/chat frame. It never blocks: a socket whose
// queue is full is dropped (closed at once) and Deliver returns false.
func (c *socket) Deliver(it *helpline.Item) bool {
	if helpline.IsHelplineEvent(it) {
		return true // an internal record, not for Connect clients
	}
	frame, err := c.cfg.frames.encode(it, c.sess.Contact.InitialContactID)
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
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed || c.ending {
		return
	}
	c.ending = true
	c.startWriter()
}

// restart closes the socket with code 1012 (service restart) once every
// queued frame is written: the node is stopping, and the client
// reconnects elsewhere.
func (c *socket) restart() {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed || c.ending {
		return
	}
	c.ending, c.restarts = true, true
	c.startWriter()
}

// enqueue queues a frame for the writer and reports whether it was
// queued.
func (c *socket) enqueue(frame []byte) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed || c.ending {
		return false
	}
	if len(c.queue) >= socketQueueLen {
		c.closed, c.queue = true, nil
		c.ws.NetConn().Close() // the reader fails and cleans up
		return false
	}
	c.queue = append(c.queue, frame)
	c.startWriter()
	return true
}

// startWriter starts the writer goroutine unless one is running. c.mu must
// be held.
func (c *socket) startWriter() {
	if !c.writing {
		c.writing = true
		go c.write()
	}
}

// write drains the queue and exits; after End it sends the close frame.
func (c *socket) write() {
	for {
		c.mu.Lock()
		if c.closed {
			c.mu.Unlock()
			return
		}
		if len(c.queue) == 0 {
			if !c.ending {
				c.writing = false
				c.mu.Unlock()
				return
			}
			c.closed = true
			restart := c.restarts
			c.mu.Unlock()
			msg := websocket.FormatCloseMessage(websocket.CloseNormalClosure, "chat ended")
			if restart {
				msg = websocket.FormatCloseMessage(websocket.CloseServiceRestart, "server restarting; reconnect")
			}
			c.ws.WriteControl(websocket.CloseMessage, msg, time.Now().Add(writeTimeout))
			c.ws.SetReadDeadline(time.Now().Add(closeGrace))
			return
		}
		frame := c.queue[0]
		c.queue[0] = nil
		c.queue = c.queue[1:]
		if len(c.queue) == 0 {
			c.queue = nil // an idle socket keeps no backing array
		}
		c.mu.Unlock()
		c.ws.SetWriteDeadline(time.Now().Add(writeTimeout))
		if err := c.ws.WriteMessage(websocket.TextMessage, frame); err != nil {
			c.mu.Lock()
			c.closed, c.queue = true, nil
			c.mu.Unlock()
			c.ws.NetConn().Close()
			return
		}
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
