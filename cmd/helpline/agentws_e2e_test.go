package main

import (
	"encoding/json"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"
)

// agentWS is an agent console's WebSocket: a reader stamps each frame
// with when it arrived, so that a test measures delays without racing
// its own reads.
type agentWS struct {
	t      *testing.T
	conn   *websocket.Conn
	frames chan agentFrame // closed when the connection ends
	ended  error           // why it ended; read once frames is closed
}

type agentFrame struct {
	at time.Time
	m  map[string]any
}

func (f agentFrame) typ() string { s, _ := f.m["type"].(string); return s }

// str returns the string at a dotted path of the frame, "" if none.
func (f agentFrame) str(path string) string {
	var v any = f.m
	for _, k := range strings.Split(path, ".") {
		m, _ := v.(map[string]any)
		v = m[k]
	}
	s, _ := v.(string)
	return s
}

func (f agentFrame) num(path string) int64 {
	var v any = f.m
	for _, k := range strings.Split(path, ".") {
		m, _ := v.(map[string]any)
		v = m[k]
	}
	n, _ := v.(float64)
	return int64(n)
}

// openAgentWS opens the agent's own socket as a console page of the
// server's own host does: with the session cookie and the Origin of base.
func openAgentWS(t *testing.T, base string, a *agentClient) *agentWS {
	t.Helper()
	h := http.Header{}
	h.Set("Cookie", a.cookie.Name+"="+a.cookie.Value)
	h.Set("Origin", base)
	conn, resp, err := websocket.DefaultDialer.Dial("ws"+strings.TrimPrefix(base, "http")+"/api/agent/ws", h)
	if err != nil {
		t.Fatalf("opening the agent socket: %v %v", err, resp)
	}
	s := &agentWS{t: t, conn: conn, frames: make(chan agentFrame, 1024)}
	go func() {
		defer close(s.frames)
		for {
			_, data, err := conn.ReadMessage()
			if err != nil {
				s.ended = err
				return
			}
			f := agentFrame{at: time.Now()}
			if err := json.Unmarshal(data, &f.m); err != nil {
				s.ended = err
				return
			}
			s.frames <- f
		}
	}()
	t.Cleanup(func() { conn.Close() })
	return s
}

// await reads frames until one of type typ (any type when "") that match
// accepts (nil: any).
func (s *agentWS) await(typ string, match func(agentFrame) bool) agentFrame {
	s.t.Helper()
	timeout := time.After(10 * time.Second)
	for {
		select {
		case f, ok := <-s.frames:
			if !ok {
				s.t.Fatalf("the agent socket ended waiting for %s: %v", typ, s.ended)
			}
			if (typ == "" || f.typ() == typ) && (match == nil || match(f)) {
				return f
			}
		case <-timeout:
			s.t.Fatalf("no %s frame within 10 s", typ)
		}
	}
}

// until returns the frames read until one of type typ, not counting it,
// and that frame.
func (s *agentWS) until(typ string) ([]agentFrame, agentFrame) {
	s.t.Helper()
	var before []agentFrame
	for {
		f := s.await("", nil)
		if f.typ() == typ {
			return before, f
		}
		before = append(before, f)
	}
}

func (s *agentWS) send(frame string) {
	s.t.Helper()
	if err := s.conn.WriteMessage(websocket.TextMessage, []byte(frame)); err != nil {
		s.t.Fatal(err)
	}
}

// quiet reads for d and returns the frames that came.
func (s *agentWS) quiet(d time.Duration) []agentFrame {
	var got []agentFrame
	timeout := time.After(d)
	for {
		select {
		case f, ok := <-s.frames:
			if !ok {
				return got
			}
			got = append(got, f)
		case <-timeout:
			return got
		}
	}
}

func agentWSServe(t *testing.T, config string) (*testServer, string) {
	t.Helper()
	t.Setenv("HELPLINE_API_TOKEN", "")
	path := filepath.Join(t.TempDir(), "helpline.yaml")
	if err := os.WriteFile(path, []byte(config), 0o600); err != nil {
		t.Fatal(err)
	}
	s := startServe(t, "--config", path, "--data", t.TempDir())
	return s, strings.TrimSuffix(s.url(), "/")
}

// An agent's console end to end on a real server: the agent declared in
// the configuration logs in through the API, opens its WebSocket and goes
// online, and its socket alone keeps it so past the presence grace; a
// chat a Connect customer starts in the default flow is offered on the
// socket within a second; accepting it through the API brings `assigned`
// and the chat's items, the customer's lines come as `item` frames and the
// agent's reply reaches the customer's socket; a socket reopened with a
// resume gets exactly the items it missed, once; and once its socket is
// closed for longer than the grace the agent is offered nothing more,
// until it reconnects.
func TestServeAgentWebSocketEndToEnd(t *testing.T) {
	const grace = 2 * time.Second
	t.Setenv("ADA_PASSWORD", "ada's long passphrase")
	s, base := agentWSServe(t, `
routing:
  presence_grace: 2s
queues:
  - id: default
    accept_within: 1m
agents:
  - { id: ada, name: Ada Lovelace, email: ada@example.com, queues: [default], password_env: ADA_PASSWORD }
`)
	ada := agentLogin(t, base, "ada@example.com", "ada's long passphrase")
	ws := openAgentWS(t, base, ada)
	if hello := ws.await("hello", nil); hello.str("agent") != "ada" || hello.str("presence.status") != "offline" {
		t.Fatalf("hello: %v", hello.m)
	}
	ada.must(200, "PUT", "/api/agent/presence", `{"status":"online"}`)
	ws.await("presence", func(f agentFrame) bool { return f.str("presence.status") == "online" })
	ws.send(`{"type":"resume","chats":{}}`)
	ws.await("resumed", nil)
	// Past the grace only the socket's own signs of life keep ada online.
	for _, f := range ws.quiet(grace + time.Second) {
		if f.typ() == "presence" {
			t.Errorf("ada's presence changed with its socket open: %v", f.m)
		}
	}

	// The offer.
	start := time.Now()
	contactID, token, customerWS := startCustomer(t, s)
	customer := chatSide{token}
	offer := ws.await("offer", func(f agentFrame) bool { return f.str("offer.contact") == contactID })
	if d := offer.at.Sub(start); d >= time.Second {
		t.Errorf("the offer came %v after the chat started, want under 1 s", d)
	} else {
		t.Logf("the offer came %v after the chat started", d)
	}
	if offer.str("offer.queue") != "default" || offer.str("offer.state") != "pending" {
		t.Errorf("offer: %v", offer.m)
	}

	// The assignment, with the chat's items from the first.
	ada.must(200, "POST", "/api/agent/offers/"+offer.str("offer.id")+"/accept", "")
	assigned := ws.await("assigned", func(f agentFrame) bool { return f.str("contact") == contactID })
	lastSeq := assigned.num("chat.last_seq")
	if lastSeq < 1 {
		t.Fatalf("assigned: %v", assigned.m)
	}
	// line reads item frames, each the next Seq of the chat, up to the
	// message with content (any item when ""), and returns it.
	var seq int64
	line := func(content string) agentFrame {
		t.Helper()
		for {
			it := ws.await("item", nil)
			if it.str("contact") != contactID || it.num("seq") != seq+1 {
				t.Fatalf("item %v after Seq %d, want Seq %d of %s", it.m, seq, seq+1, contactID)
			}
			seq++
			if content == "" || it.str("item.type") == "MESSAGE" && it.str("item.content") == content {
				return it
			}
		}
	}
	for seq < lastSeq {
		line("")
	}

	// Both ways.
	customer.say(t, s, "My parcel is late.")
	if it := line("My parcel is late."); it.str("item.role") != "CUSTOMER" {
		t.Errorf("the customer's line: %v", it.m)
	}
	const reply = "Let me look that up."
	ada.must(200, "POST", "/api/agent/chats/"+contactID+"/messages", `{"content":"`+reply+`","client_token":"r1"}`)
	awaitItem(t, customerWS, "the agent's reply", func(typ, _, content, role, name string) bool {
		return typ == "MESSAGE" && content == reply && role == "AGENT" && name == "Ada Lovelace"
	})
	if it := line(reply); it.str("item.role") != "AGENT" {
		t.Errorf("the agent's line: %v", it.m)
	}

	// A reconnect with a resume: exactly what was missed, once.
	ws.conn.Close()
	missed := []string{"Hello?", "Are you there?"}
	for _, line := range missed {
		customer.say(t, s, line)
	}
	ws = openAgentWS(t, base, ada)
	if hello := ws.await("hello", nil); hello.str("presence.status") != "online" {
		t.Errorf("hello after the reconnect: %v", hello.m)
	}
	ws.send(`{"type":"resume","chats":{"` + contactID + `":` + jsonOf(seq) + `}}`)
	before, resumed := ws.until("resumed")
	var got []string
	for _, f := range before {
		if f.typ() != "item" {
			continue
		}
		if f.num("seq") != seq+1 {
			t.Errorf("item Seq %d after Seq %d: %v", f.num("seq"), seq, f.m)
		}
		seq = f.num("seq")
		got = append(got, f.str("item.content"))
	}
	if strings.Join(got, "|") != strings.Join(missed, "|") {
		t.Errorf("the resume brought %q, want %q", got, missed)
	}
	if n := resumed.num("seqs." + contactID); n != seq {
		t.Errorf("resumed at Seq %d, want %d", n, seq)
	}
	customer.say(t, s, "Thanks.")
	if it := ws.await("item", nil); it.num("seq") != seq+1 || it.str("item.content") != "Thanks." {
		t.Fatalf("item %v, want the next line as Seq %d", it.m, seq+1)
	}
	for _, f := range ws.quiet(300 * time.Millisecond) {
		if f.typ() == "item" {
			t.Errorf("an item again: %v", f.m)
		}
	}

	// Offline once the grace has passed without a socket.
	ws.conn.Close()
	time.Sleep(grace + 500*time.Millisecond)
	second, _, _ := startCustomer(t, s)
	time.Sleep(1500 * time.Millisecond) // more than a routing round
	if offers := jsonOf(ada.must(200, "GET", "/api/agent/offers", "")); strings.Contains(offers, second) {
		t.Fatalf("a chat was offered to ada %v after its socket closed: %s", grace, offers)
	}
	// Back online, ada is offered it: the chat was hers to be offered.
	ws = openAgentWS(t, base, ada)
	if hello := ws.await("hello", nil); !strings.Contains(jsonOf(hello.m["offers"]), second) {
		ws.await("offer", func(f agentFrame) bool { return f.str("offer.contact") == second })
	}
}

// Disabling an agent through the admin API closes its open WebSocket at
// once and ends its session.
func TestServeAgentDisableDropsSocket(t *testing.T) {
	t.Setenv("ROOT_PASSWORD", "root's long passphrase")
	t.Setenv("ADA_PASSWORD", "ada's long passphrase")
	_, base := agentWSServe(t, `
agents:
  - { id: root, email: root@example.com, role: admin, password_env: ROOT_PASSWORD }
  - { id: ada, name: Ada Lovelace, email: ada@example.com, queues: [default], password_env: ADA_PASSWORD }
`)
	root := agentLogin(t, base, "root@example.com", "root's long passphrase")
	ada := agentLogin(t, base, "ada@example.com", "ada's long passphrase")
	ws := openAgentWS(t, base, ada)
	ws.await("hello", nil)

	start := time.Now()
	root.must(200, "POST", "/api/admin/agents/ada/disable", "")
	ws.quiet(5 * time.Second) // returns once the connection ends
	select {
	case _, open := <-ws.frames:
		if open {
			t.Fatal("ada's socket is open 5 s after ada was disabled")
		}
	default:
		t.Fatal("ada's socket is open 5 s after ada was disabled")
	}
	if d := time.Since(start); d > time.Second {
		t.Errorf("ada's socket closed %v after the disable, want at once", d)
	}
	if resp, _ := ada.call("GET", "/api/agent/me", ""); resp.StatusCode != 401 {
		t.Errorf("ada's session after the disable: %d, want 401", resp.StatusCode)
	}
}
