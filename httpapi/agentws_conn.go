package httpapi

import (
	"bufio"
	"bytes"
	"errors"
	"io"
	"net"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/gobwas/ws"
	"github.com/gobwas/ws/wsutil"

	"github.com/helplinehq/helpline"
)

// wsConn is the server side of one agent WebSocket, read and written
// with blocking calls: one goroutine reads messages (readMessage), any
// goroutine writes whole frames (writeFrame), one at a time.
//
// The reader answers the client's control frames itself: a ping with a
// pong of its payload, a close with a close of the same code (after
// which the connection is done), and it takes a pong as a sign of life.
// A message over wsReadLimit, its fragments together, is answered with
// close code 1009, and a frame that breaks RFC 6455 (unmasked, reserved
// bits or opcodes, a bad close code) with 1002.
type wsConn struct {
	conn net.Conn
	// idle is how long the client may send nothing, not even a pong,
	// before a read fails.
	idle time.Duration
	rd   wsutil.Reader // the reader goroutine's

	// mu guards the writing of frames and closeSent: no frame follows
	// the server's close frame.
	mu        sync.Mutex
	closeSent bool
}

// Agent socket handshake and control frame limits.
const (
	// wsHandshakeTimeout bounds the writing of the upgrade's answer.
	wsHandshakeTimeout = 10 * time.Second
	// wsControlWait bounds the writing of a close frame or of the
	// reader's answer to a control frame.
	wsControlWait = time.Second
	// wsReadBuffer is the read buffer of one socket: client frames are
	// small.
	wsReadBuffer = 1024
)

// wsStatusServiceRestart is close code 1012, which clients answer by
// reconnecting.
const wsStatusServiceRestart ws.StatusCode = 1012

// errCloseSent is a write after the server's close frame.
var errCloseSent = errors.New("websocket: close frame already sent")

// upgradeWS upgrades r to an agent WebSocket, or answers it with a JSON
// error (400, 405 for a method other than GET) when it is no WebSocket
// handshake. Client frames sent before the answer was read are kept.
func upgradeWS(w http.ResponseWriter, r *http.Request, idle time.Duration) (*wsConn, error) {
	if status, msg := wsHandshakeFault(r); msg != "" {
		writeJSON(w, status, errorBody(helpline.EINVALID, msg))
		return nil, errors.New(msg)
	}
	conn, rw, _, err := ws.HTTPUpgrader{Timeout: wsHandshakeTimeout}.Upgrade(r, w)
	if err != nil {
		if conn != nil {
			conn.Close()
		}
		return nil, err // the upgrader has answered, if it could
	}
	src := io.Reader(conn)
	if n := rw.Reader.Buffered(); n > 0 {
		early, _ := rw.Reader.Peek(n)
		src = io.MultiReader(bytes.NewReader(slices.Clone(early)), conn)
	}
	c := &wsConn{conn: conn, idle: idle}
	c.rd = wsutil.Reader{
		Source:         bufio.NewReaderSize(src, wsReadBuffer),
		State:          ws.StateServerSide,
		MaxFrameSize:   wsReadLimit,
		MaxMessageSize: wsReadLimit,
		OnIntermediate: c.control, // control frames between fragments
	}
	return c, nil
}

// wsHandshakeFault returns the status and message that refuse r when it
// is no WebSocket handshake (RFC 6455 §4.2.1), or "" when it is one. It
// refuses at least what ws.HTTPUpgrader refuses, so that every refusal
// is a JSON error.
func wsHandshakeFault(r *http.Request) (int, string) {
	switch {
	case r.Method != http.MethodGet:
		return http.StatusMethodNotAllowed, "A WebSocket handshake is a GET request."
	case !r.ProtoAtLeast(1, 1):
		return http.StatusBadRequest, "A WebSocket handshake needs HTTP/1.1."
	case !strings.EqualFold(r.Header.Get("Upgrade"), "websocket"):
		return http.StatusBadRequest, "The Upgrade header must be websocket."
	case !slices.ContainsFunc(strings.Split(r.Header.Get("Connection"), ","), func(t string) bool {
		return strings.EqualFold(strings.TrimSpace(t), "upgrade")
	}):
		return http.StatusBadRequest, "The Connection header must include upgrade."
	case r.Header.Get("Sec-Websocket-Version") != "13":
		return http.StatusBadRequest, "Sec-WebSocket-Version must be 13."
	case len(r.Header.Get("Sec-Websocket-Key")) != 24:
		return http.StatusBadRequest, "Sec-WebSocket-Key is missing or malformed."
	}
	return 0, ""
}

// readMessage returns the next data message of the client and its opcode
// (ws.OpText or ws.OpBinary), answering the control frames before it. It
// fails when the client sends nothing, not even a pong, for c.idle; a
// message over wsReadLimit and a frame breaking the protocol are
// answered with a close frame first.
func (c *wsConn) readMessage() (ws.OpCode, []byte, error) {
	c.conn.SetReadDeadline(time.Now().Add(c.idle))
	for {
		h, err := c.rd.NextFrame()
		if err != nil {
			return 0, nil, c.readFailed(err)
		}
		if h.OpCode.IsControl() {
			if err := c.control(h, &c.rd); err != nil {
				return 0, nil, c.readFailed(err)
			}
			continue
		}
		data, err := io.ReadAll(&c.rd)
		if err != nil {
			return 0, nil, c.readFailed(err)
		}
		return h.OpCode, data, nil
	}
}

// readFailed sends the close frame that answers err, if any, and
// returns err.
func (c *wsConn) readFailed(err error) error {
	var pe ws.ProtocolError
	switch {
	case errors.Is(err, wsutil.ErrFrameTooLarge), errors.Is(err, wsutil.ErrMessageTooLarge):
		c.writeClose(ws.StatusMessageTooBig, "")
	case errors.As(err, &pe):
		c.writeClose(ws.StatusProtocolError, pe.Error())
	}
	return err
}

// control handles the client's control frame h, its payload read from
// body (unmasked).
func (c *wsConn) control(h ws.Header, body io.Reader) error {
	var buf [ws.MaxControlFramePayloadSize]byte
	p := buf[:h.Length] // ws.CheckHeader has bounded it
	if _, err := io.ReadFull(body, p); err != nil {
		return err
	}
	switch h.OpCode {
	case ws.OpPing:
		if err := c.writeFrame(ws.OpPong, p, time.Now().Add(wsControlWait)); err != nil && err != errCloseSent {
			return err
		}
	case ws.OpPong:
		c.conn.SetReadDeadline(time.Now().Add(c.idle))
	case ws.OpClose:
		code, reason := ws.ParseCloseFrameData(p)
		switch {
		case len(p) == 0:
			code = ws.StatusNoStatusRcvd // echoed with no code
		case !validCloseCode(code):
			return ws.ProtocolError("bad close code " + strconv.Itoa(int(code)))
		case !utf8.ValidString(reason):
			return ws.ErrProtocolInvalidUTF8
		}
		c.writeFrame(ws.OpClose, p[:min(len(p), 2)], time.Now().Add(wsControlWait))
		return wsutil.ClosedError{Code: code, Reason: reason}
	}
	return nil
}

// validCloseCode reports whether a client may close with code (RFC 6455
// §7.4 and the IANA registry).
func validCloseCode(code ws.StatusCode) bool {
	switch {
	case code >= 3000 && code <= 4999:
		return true
	case code >= 1000 && code <= 1003, code >= 1007 && code <= 1011, code == 1012, code == 1013:
		return true
	}
	return false
}

// writeClose sends a close frame with code and reason; no frame follows
// it.
func (c *wsConn) writeClose(code ws.StatusCode, reason string) error {
	return c.writeFrame(ws.OpClose, ws.NewCloseFrameBody(code, reason), time.Now().Add(wsControlWait))
}

// writeFrame writes one whole frame of payload p, in one write that must
// be done by deadline. It fails with errCloseSent after a close frame.
func (c *wsConn) writeFrame(op ws.OpCode, p []byte, deadline time.Time) error {
	frame, err := ws.CompileFrame(ws.NewFrame(op, true, p))
	if err != nil {
		return err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closeSent {
		return errCloseSent
	}
	c.closeSent = op == ws.OpClose
	c.conn.SetWriteDeadline(deadline)
	_, err = c.conn.Write(frame)
	return err
}

// close closes the connection without a close frame.
func (c *wsConn) close() error { return c.conn.Close() }
