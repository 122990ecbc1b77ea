package httpapi

import (
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gobwas/ws"
	"github.com/gorilla/websocket"

	"github.com/helplinehq/helpline"
)

// The hub may drop a socket (its queue overflowed, its agent was
// disabled) from the moment it is added, before the upgrade is done: a
// drop that comes first closes the connection the upgrade then gives,
// and one that races with it closes it too. Run with -race: drop and
// attach are on different goroutines.
func TestSocketDroppedWhileUpgrading(t *testing.T) {
	for _, order := range []string{"drop first", "at once"} {
		t.Run(order, func(t *testing.T) {
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				s := &agentSocket{done: make(chan struct{})}
				var wg sync.WaitGroup
				wg.Add(1)
				go func() { // the hub's goroutine
					defer wg.Done()
					s.drop()
				}()
				if order == "drop first" {
					wg.Wait()
				}
				ws, err := upgradeWS(w, r, time.Minute)
				if err != nil {
					return
				}
				s.attach(ws)
				wg.Wait()
			}))
			defer srv.Close()
			ws, _, err := websocket.DefaultDialer.Dial("ws"+strings.TrimPrefix(srv.URL, "http"), nil)
			if err != nil {
				t.Fatal(err)
			}
			defer ws.Close()
			ws.SetReadDeadline(time.Now().Add(10 * time.Second))
			_, _, err = ws.ReadMessage()
			if err == nil || websocket.IsCloseError(err) || strings.Contains(err.Error(), "timeout") {
				t.Errorf("reading a dropped socket: %v, want the connection closed without a close frame", err)
			}
		})
	}
}

// echoServer upgrades with upgradeWS and echoes each text message.
func echoServer(t *testing.T) string {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, err := upgradeWS(w, r, time.Minute)
		if err != nil {
			return
		}
		defer c.close()
		for {
			_, data, err := c.readMessage()
			if err != nil {
				return
			}
			if c.writeFrame(ws.OpText, data, time.Now().Add(time.Second)) != nil {
				return
			}
		}
	}))
	t.Cleanup(srv.Close)
	return "ws" + strings.TrimPrefix(srv.URL, "http")
}

func dialEcho(t *testing.T) *websocket.Conn {
	c, _, err := websocket.DefaultDialer.Dial(echoServer(t), nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	c.SetReadDeadline(time.Now().Add(10 * time.Second))
	return c
}

// A message over wsReadLimit, in one frame or in fragments, is answered
// with close code 1009; one of the limit exactly is read.
func TestWSConnReadLimit(t *testing.T) {
	c := dialEcho(t)
	ok := strings.Repeat("x", wsReadLimit)
	if err := c.WriteMessage(websocket.TextMessage, []byte(ok)); err != nil {
		t.Fatal(err)
	}
	if _, data, err := c.ReadMessage(); err != nil || string(data) != ok {
		t.Fatalf("a message of the limit: %d bytes, %v", len(data), err)
	}
	for _, fragmented := range []bool{false, true} {
		c := dialEcho(t)
		big := []byte(strings.Repeat("x", wsReadLimit+1))
		if fragmented {
			w, _ := c.NextWriter(websocket.TextMessage)
			for i := 0; i < len(big); i += 1024 {
				w.Write(big[i:min(i+1024, len(big))]) // the server may close before the end
			}
			w.Close()
		} else {
			c.WriteMessage(websocket.TextMessage, big)
		}
		_, _, err := c.ReadMessage()
		var ce *websocket.CloseError
		if !errors.As(err, &ce) || ce.Code != websocket.CloseMessageTooBig {
			t.Errorf("fragmented %v: after an oversize message: %v, want close code 1009", fragmented, err)
		}
	}
}

// A ping gets a pong with its payload, and the socket reads on.
func TestWSConnPing(t *testing.T) {
	c := dialEcho(t)
	pong := make(chan string, 1)
	c.SetPongHandler(func(p string) error { pong <- p; return nil })
	if err := c.WriteControl(websocket.PingMessage, []byte("are you there"), time.Now().Add(time.Second)); err != nil {
		t.Fatal(err)
	}
	c.WriteMessage(websocket.TextMessage, []byte("after"))
	if _, data, err := c.ReadMessage(); err != nil || string(data) != "after" {
		t.Fatalf("read %q, %v", data, err)
	}
	select {
	case p := <-pong:
		if p != "are you there" {
			t.Errorf("pong %q, want the ping's payload", p)
		}
	default:
		t.Error("no pong before the echo")
	}
}

// A client's close is echoed with its code; a bad close code is a
// protocol error (1002).
func TestWSConnClose(t *testing.T) {
	for _, tc := range []struct {
		code, want int
	}{{4000, 4000}, {websocket.CloseNormalClosure, websocket.CloseNormalClosure}, {1004, websocket.CloseProtocolError}} {
		c := dialEcho(t)
		if err := c.WriteControl(websocket.CloseMessage, websocket.FormatCloseMessage(tc.code, "bye"), time.Now().Add(time.Second)); err != nil {
			t.Fatal(err)
		}
		_, _, err := c.ReadMessage()
		var ce *websocket.CloseError
		if !errors.As(err, &ce) || ce.Code != tc.want {
			t.Errorf("close %d: %v, want close code %d", tc.code, err, tc.want)
		}
	}
}

// A request that is no handshake is refused with a JSON error.
func TestWSConnNotAHandshake(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if c, err := upgradeWS(w, r, time.Minute); err == nil {
			c.close()
		}
	}))
	defer srv.Close()
	for _, method := range []string{"GET", "POST"} {
		req, _ := http.NewRequest(method, srv.URL, nil)
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		var body struct {
			Error struct{ Code, Message string }
		}
		json.NewDecoder(res.Body).Decode(&body)
		res.Body.Close()
		want := map[string]int{"GET": 400, "POST": 405}[method]
		if res.StatusCode != want || body.Error.Code != helpline.EINVALID || body.Error.Message == "" {
			t.Errorf("%s without upgrade: %d %+v, want %d and an %s error", method, res.StatusCode, body, want, helpline.EINVALID)
		}
	}
}
