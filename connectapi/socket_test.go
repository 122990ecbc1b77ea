package connectapi_test

import (
	"context"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/helplinehq/helpline"
	"github.com/helplinehq/helpline/connectapi"
)

func TestChatOverWebSocket(t *testing.T) {
	e := newEnv(t, nil)
	cust := e.startChat(t)
	agentPT := e.addAgent(t, cust.contactID)

	cc := e.connect(t, cust.participantToken)
	if !strings.HasPrefix(cc.Websocket.Url, "ws://127.0.0.1:") || cc.Websocket.ConnectionExpiry == "" ||
		cc.ConnectionCredentials.ConnectionToken == "" || cc.ConnectionCredentials.Expiry == "" {
		t.Fatalf("CreateParticipantConnection = %+v", cc)
	}
	var ac connection
	e.ok(t, "/participant/connection", agentPT, `{"Type":["WEBSOCKET","CONNECTION_CREDENTIALS"],"ConnectParticipant":true}`, &ac)
	custCT, agentCT := cc.ConnectionCredentials.ConnectionToken, ac.ConnectionCredentials.ConnectionToken

	custWS := dial(t, cc.Websocket.Url)
	agentWS := dial(t, ac.Websocket.Url)

	// Keep-alives are answered before any subscription.
	custWS.send(`{"topic":"aws/ping"}`)
	if f := custWS.read(); f.Topic != "aws/ping" || f.StatusCode != 200 || f.StatusContent != "OK" {
		t.Errorf("ping reply %+v", f)
	}
	custWS.send(`{"topic":"aws/heartbeat"}`)
	if f := custWS.read(); f.Topic != "aws/heartbeat" {
		t.Errorf("heartbeat reply %+v", f)
	}

	// A message sent before subscribing arrives after the ack, never
	// before it.
	early := e.sendMessage(t, custCT, "hello before subscribing")
	custWS.subscribe()
	if it := custWS.read().item(t); it.Id != early {
		t.Errorf("first item after the ack is %+v, want the early message", it)
	}
	// The iOS SDK's subscribe frame has a stray ")".
	agentWS.send(`{"topic": "aws/subscribe", "content": {"topics": ["aws/chat"]}})`)
	if f := agentWS.read(); f.Topic != "aws/subscribe" || !strings.Contains(string(f.Content), `"success"`) {
		t.Fatalf("subscribe ack for a frame with trailing garbage: %+v", f)
	}

	// Garbage frames get an error frame without a topic and the socket
	// stays open.
	for _, g := range []string{"not json", `{"topic":"aws/nope"}`, `[1,2]`, `{"topic":"aws/subscribe","content":{"topics":["other"]}}`} {
		custWS.send(g)
		f := custWS.read()
		if g == `{"topic":"aws/subscribe","content":{"topics":["other"]}}` {
			if f.Topic != "aws/subscribe" || !strings.Contains(string(f.Content), `"failure"`) {
				t.Errorf("subscribe to another topic: %+v", f)
			}
			continue
		}
		if f.Topic != "" || f.Message == "" || f.ConnectionID == "" || f.RequestID == "" {
			t.Errorf("frame %q answered %+v", g, f)
		}
	}
	if err := custWS.conn.WriteMessage(websocket.BinaryMessage, []byte{1, 2, 3}); err != nil {
		t.Fatal(err)
	}
	if f := custWS.read(); f.Message == "" {
		t.Errorf("binary frame answered %+v", f)
	}

	// A message reaches both participants, the sender included.
	msgID := e.sendMessage(t, custCT, "Where is my parcel?")
	for _, w := range []*ws{custWS, agentWS} {
		it := w.nextItem(func(it item) bool { return it.Id == msgID })
		if it.Type != "MESSAGE" || it.Content != "Where is my parcel?" || it.ParticipantRole != "CUSTOMER" ||
			it.ParticipantId != cust.participantID || it.ContactId != cust.contactID || it.InitialContactId != cust.contactID ||
			it.DisplayName != "Casey" || it.AbsoluteTime == "" {
			t.Errorf("pushed message %+v", it)
		}
	}

	// Typing is pushed, without content, and not stored.
	e.ok(t, "/participant/event", agentCT, `{"ContentType":"application/vnd.amazonaws.connect.event.typing"}`, nil)
	typing := custWS.nextItem(func(it item) bool { return it.ContentType == helpline.EventTyping })
	if typing.Type != "EVENT" || typing.Content != "" || typing.ParticipantRole != "AGENT" || typing.InitialContactId != cust.contactID {
		t.Errorf("typing item %+v", typing)
	}

	// A read receipt becomes a MESSAGEMETADATA item.
	e.ok(t, "/participant/event", agentCT, `{"ContentType":"application/vnd.amazonaws.connect.event.message.read","Content":"{\"messageId\":\"`+msgID+`\"}"}`, nil)
	receipt := custWS.nextItem(func(it item) bool { return it.Type == "MESSAGEMETADATA" })
	if m := receipt.MessageMetadata; m == nil || m.MessageId != msgID || len(m.Receipts) != 1 || m.Receipts[0].ReadTimestamp == "" ||
		m.Receipts[0].RecipientParticipantId == "" || m.Receipts[0].RecipientParticipantId == cust.participantID {
		t.Errorf("receipt item %+v %+v", receipt, receipt.MessageMetadata)
	}

	// Reconnect: a new URL, a new socket, and the transcript has it all.
	custWS.conn.Close()
	cc2 := e.connect(t, cust.participantToken)
	custWS = dial(t, cc2.Websocket.Url)
	custWS.subscribe()
	reply := e.sendMessage(t, agentCT, "Let me check.")
	custWS.nextItem(func(it item) bool { return it.Id == reply })
	items := e.transcriptAll(t, cc2.ConnectionCredentials.ConnectionToken)
	for _, id := range []string{early, msgID, reply} {
		if !hasItem(items, func(it item) bool { return it.Id == id }) {
			t.Errorf("transcript lacks %s: %+v", id, items)
		}
	}
	if hasItem(items, func(it item) bool { return it.ContentType == helpline.EventTyping }) {
		t.Error("transcript holds a typing event")
	}
	if !hasItem(items, func(it item) bool { return it.Type == "MESSAGEMETADATA" && it.MessageMetadata != nil }) {
		t.Error("transcript lacks the read receipt")
	}

	// The customer leaves: chat.ended reaches everyone, then the sockets
	// close with 1000 and the tokens stop working.
	e.ok(t, "/participant/disconnect", custCT, `{}`, nil)
	for _, w := range []*ws{custWS, agentWS} {
		w.nextItem(func(it item) bool { return it.ContentType == helpline.EventChatEnded })
		if code := w.readClose(); code != websocket.CloseNormalClosure {
			t.Errorf("socket closed with %d, want 1000", code)
		}
	}
	if r := e.do(t, http.MethodPost, "/participant/connection", cust.participantToken, `{"Type":["WEBSOCKET"]}`); r.status != 403 || r.errorType() != "AccessDeniedException" {
		t.Errorf("CreateParticipantConnection after the end: %d %s", r.status, r.body)
	}
	if r := e.do(t, http.MethodPost, "/participant/message", agentCT, `{"ContentType":"text/plain","Content":"hi"}`); r.status != 403 {
		t.Errorf("SendMessage after the end: %d %s", r.status, r.body)
	}
	wsURL := strings.Replace(cc2.Websocket.Url, "ws://", "http://", 1)
	if r := e.do(t, http.MethodGet, strings.TrimPrefix(wsURL, e.srv.URL), "", ""); r.status != 403 {
		t.Errorf("socket URL after the end: %d %s", r.status, r.body)
	}
}

func TestWebSocketOrigin(t *testing.T) {
	e := newEnv(t, func(c *connectapi.Config) { c.AllowedOrigins = []string{"https://shop.example.com"} })
	cust := e.startChat(t)
	url := e.connect(t, cust.participantToken).Websocket.Url

	_, resp, err := websocket.DefaultDialer.Dial(url, http.Header{"Origin": {"https://evil.example.com"}})
	if err == nil || resp == nil || resp.StatusCode != 403 {
		t.Errorf("foreign origin: %v %v", err, resp)
	}
	w, _, err := websocket.DefaultDialer.Dial(url, http.Header{"Origin": {"https://shop.example.com"}})
	if err != nil {
		t.Fatalf("allowed origin: %v", err)
	}
	w.Close()
}

func TestWebSocketURLFromPublicURL(t *testing.T) {
	e := newEnv(t, func(c *connectapi.Config) { c.PublicURL = "https://chat.example.com/connect" })
	cust := e.startChat(t)
	c := e.connect(t, cust.participantToken)
	if !strings.HasPrefix(c.Websocket.Url, "wss://chat.example.com/connect/participant/ws?token=") {
		t.Errorf("Websocket.Url = %s", c.Websocket.Url)
	}
}

func TestIdleSocketClosed(t *testing.T) {
	e := newEnv(t, func(c *connectapi.Config) { c.SocketIdleTimeout = 300 * time.Millisecond })
	cust := e.startChat(t)
	w := dial(t, e.connect(t, cust.participantToken).Websocket.Url)
	w.subscribe()
	// Frames keep the socket open past the timeout...
	for range 3 {
		time.Sleep(150 * time.Millisecond) // the client's heartbeat interval, not a wait for the server
		w.send(`{"topic":"aws/heartbeat"}`)
		if f := w.read(); f.Topic != "aws/heartbeat" {
			t.Fatalf("heartbeat reply %+v", f)
		}
	}
	// ...and silence closes it.
	w.conn.SetReadDeadline(time.Now().Add(5 * time.Second))
	if _, _, err := w.conn.ReadMessage(); err == nil {
		t.Fatal("idle socket still open")
	} else if ne, ok := err.(interface{ Timeout() bool }); ok && ne.Timeout() {
		t.Fatal("server did not close the idle socket")
	}
}

// dialRefused dials url, which must be refused before the upgrade with
// 429 ThrottlingException.
func dialRefused(t *testing.T, url string) {
	t.Helper()
	conn, resp, err := websocket.DefaultDialer.Dial(url, nil)
	if err == nil {
		conn.Close()
		t.Fatal("socket opened, want 429 ThrottlingException")
	}
	if resp == nil || resp.StatusCode != http.StatusTooManyRequests || resp.Header.Get("X-Amzn-ErrorType") != "ThrottlingException" {
		t.Fatalf("refused socket: %v %v", err, resp)
	}
}

// closeAndWait closes w and returns once the server has closed its end
// of the connection, which it does after freeing the socket's slot.
func (w *ws) closeAndWait() {
	w.t.Helper()
	w.conn.WriteMessage(websocket.CloseMessage, websocket.FormatCloseMessage(websocket.CloseNormalClosure, ""))
	w.conn.SetReadDeadline(time.Now().Add(5 * time.Second))
	for {
		if _, _, err := w.conn.ReadMessage(); err != nil {
			break
		}
	}
	nc := w.conn.NetConn()
	nc.SetReadDeadline(time.Now().Add(5 * time.Second))
	if _, err := io.Copy(io.Discard, nc); err != nil {
		w.t.Fatalf("waiting for the server to close the socket: %v", err)
	}
}

// TestSocketsPerParticipant: one participant holds at most
// SocketsPerParticipant open sockets, from one URL or several; closing
// one lets a new one open.
func TestSocketsPerParticipant(t *testing.T) {
	e, clock := limitedEnv(t)
	cust := e.startChat(t)
	url := e.connect(t, cust.participantToken).Websocket.Url
	var open []*ws
	for range connectapi.DefaultSocketsPerParticipant {
		w := dial(t, url)
		w.subscribe()
		open = append(open, w)
	}
	dialRefused(t, url)
	// A fresh URL of the same participant counts against the same limit.
	clock.Advance(time.Minute)
	dialRefused(t, e.connect(t, cust.participantToken).Websocket.Url)

	open[0].closeAndWait()
	w := dial(t, url)
	w.subscribe()
	// The sockets that stayed open still get every item.
	id := e.sendMessage(t, e.connect(t, cust.participantToken).ConnectionCredentials.ConnectionToken, "still delivered")
	for _, s := range append(open[1:], w) {
		s.nextItem(func(it item) bool { return it.Id == id })
	}
	// Another participant has slots of its own.
	other := e.startChat(t)
	dial(t, e.connect(t, other.participantToken).Websocket.Url)
}

// TestSocketOpenRate: a participant opening and closing sockets in a burst
// is refused once the burst is spent, until the clock moves on.
func TestSocketOpenRate(t *testing.T) {
	e, clock := limitedEnv(t)
	cust := e.startChat(t)
	url := e.connect(t, cust.participantToken).Websocket.Url
	burst := connectapi.DefaultRateLimits().PerParticipant["OpenWebSocket"].Burst
	for range burst {
		dial(t, url).closeAndWait()
	}
	dialRefused(t, url)
	clock.Advance(time.Second)
	dial(t, url).subscribe()
}

// Helpline's own events (an owner change, a handoff) are internal
// records: a Connect client sees them neither on its socket nor in its
// transcript, and the items around them arrive as usual.
func TestHelplineEventsStayInternal(t *testing.T) {
	e := newEnv(t, nil)
	cust := e.startChat(t)
	cc := e.connect(t, cust.participantToken)
	ct := cc.ConnectionCredentials.ConnectionToken
	ws := dial(t, cc.Websocket.Url)
	ws.subscribe()

	if _, _, err := e.svc.ChangeOwner(context.Background(), helpline.OwnerChange{
		ContactID: cust.contactID, Version: 1, To: "queue:support", Reason: "flow", Actor: "test",
	}); err != nil {
		t.Fatal(err)
	}
	msg := e.sendMessage(t, ct, "after the owner change")
	if it := ws.read().item(t); it.Id != msg {
		t.Errorf("the socket's next item is %+v, want the message after the owner change", it)
	}
	items := e.transcriptAll(t, ct)
	if hasItem(items, func(it item) bool { return strings.HasPrefix(it.ContentType, helpline.HelplineEventPrefix) }) {
		t.Errorf("the transcript shows Helpline's own events: %+v", items)
	}
	if !hasItem(items, func(it item) bool { return it.Id == msg }) {
		t.Errorf("the transcript lacks the message: %+v", items)
	}
	stored, err := e.db.FindItems(context.Background(), cust.contactID, helpline.ItemQuery{})
	if err != nil {
		t.Fatal(err)
	}
	internal := 0
	for _, it := range stored {
		if helpline.IsHelplineEvent(it) {
			internal++
		}
	}
	if internal != 1 {
		t.Errorf("%d Helpline events stored, want the owner change", internal)
	}
}

// When the node drains, open sockets are closed with 1012 (service
// restart) after what was queued, and new ones are refused with 503 and
// Retry-After; the rest of the API still serves, so that the client can
// fetch a new socket URL, for another node.
func TestDrainClosesSocketsForReconnect(t *testing.T) {
	draining := make(chan struct{})
	e := newEnv(t, func(c *connectapi.Config) { c.Draining = draining })
	cust := e.startChat(t)
	cc := e.connect(t, cust.participantToken)
	w := dial(t, cc.Websocket.Url)
	w.subscribe()
	idle := dial(t, e.connect(t, cust.participantToken).Websocket.Url) // never subscribed

	close(draining)
	for name, s := range map[string]*ws{"subscribed": w, "unsubscribed": idle} {
		if code := s.readClose(); code != websocket.CloseServiceRestart {
			t.Errorf("%s socket closed with %d, want 1012", name, code)
		}
	}
	conn, resp, err := websocket.DefaultDialer.Dial(e.connect(t, cust.participantToken).Websocket.Url, nil)
	if err == nil {
		conn.Close()
		t.Fatal("a socket opened while draining")
	}
	if resp == nil || resp.StatusCode != http.StatusServiceUnavailable || resp.Header.Get("Retry-After") == "" {
		t.Fatalf("socket while draining: %v %v, want 503 with Retry-After", err, resp)
	}
	// The chat goes on: a message is still accepted.
	e.sendMessage(t, cc.ConnectionCredentials.ConnectionToken, "still here")
}
