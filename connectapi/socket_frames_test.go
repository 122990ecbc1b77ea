package connectapi_test

import (
	"encoding/json"
	"errors"
	"net"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gorilla/websocket"
)

// readClose reads w until the server's close frame and returns its code,
// failing the test if the connection ends without one.
func (w *ws) readClose() int {
	w.t.Helper()
	w.conn.SetReadDeadline(time.Now().Add(5 * time.Second))
	for {
		_, _, err := w.conn.ReadMessage()
		if err == nil {
			continue
		}
		var ce *websocket.CloseError
		if !errors.As(err, &ce) {
			w.t.Fatalf("socket ended with %v, want a close frame", err)
		}
		return ce.Code
	}
}

// A burst of items reaches every socket of the chat whole and in order,
// however many sockets there are.
func TestSocketBurstInOrder(t *testing.T) {
	e := newEnv(t, nil)
	cust := e.startChat(t)
	cc := e.connect(t, cust.participantToken)
	const sockets, messages = 30, 120
	got := make([][]string, sockets)
	var wg sync.WaitGroup
	for i := range sockets {
		w := dial(t, e.connect(t, cust.participantToken).Websocket.Url)
		w.subscribe()
		wg.Add(1)
		go func() {
			defer wg.Done()
			w.conn.SetReadDeadline(time.Now().Add(30 * time.Second))
			for len(got[i]) < messages {
				_, data, err := w.conn.ReadMessage()
				if err != nil {
					return
				}
				if it, ok := chatItem(data); ok && it.Type == "MESSAGE" {
					got[i] = append(got[i], it.Id)
				}
			}
		}()
	}
	// Large messages, so that frames outrun the clients and some wait
	// for the writers.
	long := strings.Repeat("x", 1000)
	var sent []string
	for i := range messages {
		sent = append(sent, e.sendMessage(t, cc.ConnectionCredentials.ConnectionToken, strconv.Itoa(i)+long[len(strconv.Itoa(i)):]))
	}
	wg.Wait()
	for i, ids := range got {
		if strings.Join(ids, ",") != strings.Join(sent, ",") {
			t.Fatalf("socket %d received %d messages %v, want the %d sent in order", i, len(ids), ids, len(sent))
		}
	}
}

// chatItem decodes the item of an aws/chat frame; ok is false for any
// other frame.
func chatItem(data []byte) (it item, ok bool) {
	var f frame
	var s string
	if json.Unmarshal(data, &f) != nil || f.Topic != "aws/chat" || json.Unmarshal(f.Content, &s) != nil {
		return it, false
	}
	return it, json.Unmarshal([]byte(s), &it) == nil
}

// WebSocket pings are answered with a pong carrying their payload.
func TestSocketPingPong(t *testing.T) {
	e := newEnv(t, nil)
	cust := e.startChat(t)
	w := dial(t, e.connect(t, cust.participantToken).Websocket.Url)
	pong := make(chan string, 1)
	w.conn.SetPongHandler(func(data string) error { pong <- data; return nil })
	if err := w.conn.WriteControl(websocket.PingMessage, []byte("are you there"), time.Now().Add(time.Second)); err != nil {
		t.Fatal(err)
	}
	w.send(`{"topic":"aws/heartbeat"}`)
	if f := w.read(); f.Topic != "aws/heartbeat" {
		t.Fatalf("heartbeat reply %+v", f)
	}
	select {
	case p := <-pong:
		if p != "are you there" {
			t.Errorf("pong %q, want the ping's payload", p)
		}
	default:
		t.Error("no pong before the heartbeat reply")
	}
}

// A message split into fragments is read whole.
func TestSocketFragmentedMessage(t *testing.T) {
	e := newEnv(t, nil)
	cust := e.startChat(t)
	d := websocket.Dialer{WriteBufferSize: 40} // a frame per 26 bytes or so
	conn, _, err := d.Dial(e.connect(t, cust.participantToken).Websocket.Url, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	w := &ws{t, conn}
	w.subscribe()
}

// The client's close frame is answered with its code, and the connection
// closes.
func TestSocketClientClose(t *testing.T) {
	e := newEnv(t, nil)
	cust := e.startChat(t)
	w := dial(t, e.connect(t, cust.participantToken).Websocket.Url)
	w.subscribe()
	if err := w.conn.WriteMessage(websocket.CloseMessage, websocket.FormatCloseMessage(4001, "bye")); err != nil {
		t.Fatal(err)
	}
	if code := w.readClose(); code != 4001 {
		t.Errorf("close reply %d, want 4001", code)
	}
	assertClosed(t, w.conn.NetConn())
}

// assertClosed fails unless the server closes conn within 5 s.
func assertClosed(t *testing.T, conn net.Conn) {
	t.Helper()
	conn.SetReadDeadline(time.Now().Add(5 * time.Second))
	buf := make([]byte, 64)
	for {
		if _, err := conn.Read(buf); err != nil {
			if ne, ok := err.(net.Error); ok && ne.Timeout() {
				t.Fatal("the server did not close the connection")
			}
			return
		}
	}
}

// A message over the read limit is refused with close code 1009, and an
// unmasked frame, which breaks RFC 6455, with 1002; both connections
// close.
func TestSocketRefusesBadFrames(t *testing.T) {
	e := newEnv(t, nil)
	cust := e.startChat(t)
	big := dial(t, e.connect(t, cust.participantToken).Websocket.Url)
	if err := big.conn.WriteMessage(websocket.TextMessage, []byte(`{"topic":"aws/heartbeat","pad":"`+strings.Repeat("x", 9000)+`"}`)); err != nil {
		t.Fatal(err)
	}
	if code := big.readClose(); code != websocket.CloseMessageTooBig {
		t.Errorf("oversize message closed with %d, want 1009", code)
	}
	assertClosed(t, big.conn.NetConn())

	unmasked := dial(t, e.connect(t, cust.participantToken).Websocket.Url)
	if _, err := unmasked.conn.NetConn().Write(append([]byte{0x81, 25}, `{"topic":"aws/heartbeat"}`...)); err != nil {
		t.Fatal(err)
	}
	if code := unmasked.readClose(); code != websocket.CloseProtocolError {
		t.Errorf("unmasked frame closed with %d, want 1002", code)
	}
	assertClosed(t, unmasked.conn.NetConn())

	// A message just under the limit is read.
	ok := dial(t, e.connect(t, cust.participantToken).Websocket.Url)
	ok.send(`{"topic":"aws/heartbeat","pad":"` + strings.Repeat("x", 8000) + `"}`)
	if f := ok.read(); f.Topic != "aws/heartbeat" {
		t.Errorf("heartbeat of 8000 bytes answered %+v", f)
	}
}

// A request to the socket URL that is no WebSocket handshake gets an AWS
// error, not an upgrade.
func TestSocketNotAHandshake(t *testing.T) {
	e := newEnv(t, nil)
	cust := e.startChat(t)
	url := e.connect(t, cust.participantToken).Websocket.Url
	path := strings.TrimPrefix(strings.Replace(url, "ws://", "http://", 1), e.srv.URL)
	if r := e.do(t, "GET", path, "", ""); r.status != 400 || r.errorType() != "ValidationException" {
		t.Errorf("plain GET of the socket URL: %d %s", r.status, r.body)
	}
}
