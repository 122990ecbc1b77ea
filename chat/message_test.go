package chat_test

import (
	"strings"
	"testing"
	"time"

	"github.com/helplinehq/helpline"
)

func TestAuthenticate(t *testing.T) {
	e := newEnv(t)
	started, customer := e.start(t, helpline.StartChatInput{})
	conn, err := e.svc.CreateConnection(ctx, customer, false)
	if err != nil {
		t.Fatal(err)
	}
	for _, tok := range []struct {
		kind  helpline.TokenKind
		token string
	}{
		{helpline.ParticipantToken, started.ParticipantToken},
		{helpline.ConnectionToken, conn.ConnectionToken},
		{helpline.WebSocketToken, conn.WebSocketToken},
	} {
		if sess := e.auth(t, tok.kind, tok.token); sess.Participant.ID != customer.Participant.ID {
			t.Errorf("kind %c: participant %s", tok.kind, sess.Participant.ID)
		}
	}
	bad := []struct {
		name  string
		kind  helpline.TokenKind
		token string
	}{
		{"wrong kind", helpline.ConnectionToken, started.ParticipantToken},
		{"tampered", helpline.ParticipantToken, started.ParticipantToken[:len(started.ParticipantToken)-2] + "xx"},
		{"garbage", helpline.ParticipantToken, "garbage"},
		{"empty", helpline.ParticipantToken, ""},
		{"page token kind", helpline.PageToken, started.ParticipantToken},
		{"unknown participant", helpline.ParticipantToken,
			testTokens.Sign(helpline.ParticipantToken, "nobody", e.clock.Now().Add(time.Hour))},
	}
	for _, tt := range bad {
		_, err := e.svc.Authenticate(ctx, tt.kind, tt.token)
		if helpline.ErrorCode(err) != helpline.EFORBIDDEN {
			t.Errorf("%s: error %v, want EFORBIDDEN", tt.name, err)
		}
	}
	// The WebSocket token expires after 100s.
	e.clock.Advance(100 * time.Second)
	_, err = e.svc.Authenticate(ctx, helpline.WebSocketToken, conn.WebSocketToken)
	wantCode(t, err, helpline.EFORBIDDEN)
	e.auth(t, helpline.ConnectionToken, conn.ConnectionToken)
}

func TestSessionSeesNewItems(t *testing.T) {
	e := newEnv(t)
	started, customer := e.start(t, helpline.StartChatInput{})
	e.auth(t, helpline.ParticipantToken, started.ParticipantToken) // cached now
	last := e.send(t, customer, "one")
	deadline := time.Now().Add(5 * time.Second)
	for {
		sess := e.auth(t, helpline.ParticipantToken, started.ParticipantToken)
		if sess.Contact.LastSeq == last.Seq {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("session LastSeq = %d, want %d", sess.Contact.LastSeq, last.Seq)
		}
		time.Sleep(time.Millisecond)
	}
}

func TestCreateConnection(t *testing.T) {
	e := newEnv(t)
	_, customer := e.start(t, helpline.StartChatInput{ChatDuration: 2 * time.Hour})
	now := e.clock.Now()
	conn, err := e.svc.CreateConnection(ctx, customer, false)
	if err != nil {
		t.Fatal(err)
	}
	// Capped at the chat's end (2h), not 24h.
	if !conn.ConnectionExpiry.Equal(customer.Contact.ExpiresAt) || !conn.WebSocketExpiry.Equal(now.Add(100*time.Second)) {
		t.Errorf("expiries = %v, %v", conn.ConnectionExpiry, conn.WebSocketExpiry)
	}
	p, _ := e.store.FindParticipantByID(ctx, customer.Participant.ID)
	if !p.ConnectedAt.IsZero() {
		t.Error("connect=false marked the participant connected")
	}
	if _, err := e.svc.CreateConnection(ctx, customer, true); err != nil {
		t.Fatal(err)
	}
	p, _ = e.store.FindParticipantByID(ctx, customer.Participant.ID)
	if !p.ConnectedAt.Equal(now) {
		t.Errorf("ConnectedAt = %v, want %v", p.ConnectedAt, now)
	}

	_, long := e.start(t, helpline.StartChatInput{})
	conn, _ = e.svc.CreateConnection(ctx, long, false)
	if !conn.ConnectionExpiry.Equal(now.Add(24 * time.Hour)) {
		t.Errorf("connection expiry = %v, want now+24h", conn.ConnectionExpiry)
	}
	// Repeatable: a second call issues working tokens too.
	e.clock.Advance(time.Minute)
	again, _ := e.svc.CreateConnection(ctx, long, false)
	e.auth(t, helpline.ConnectionToken, again.ConnectionToken)
	e.auth(t, helpline.WebSocketToken, again.WebSocketToken)
}

func TestSendMessage(t *testing.T) {
	e := newEnv(t)
	_, customer := e.start(t, helpline.StartChatInput{
		SupportedContentTypes: []string{helpline.ContentPlain, helpline.ContentJSON, helpline.ContentInteractiveResponse, helpline.ContentInteractive},
	})
	bot := e.addAgent(t, customer.Contact, helpline.RoleBot)
	s := newSink(0)
	if _, err := e.svc.Watch(ctx, customer, customer.Contact.LastSeq, s); err != nil {
		t.Fatal(err)
	}

	it, err := e.svc.SendMessage(ctx, customer, helpline.ContentPlain, strings.Repeat("ü", 1024), "tok-1")
	if err != nil {
		t.Fatal(err)
	}
	if it.Seq == 0 || it.ID == "" || it.Type != helpline.ItemMessage || it.ParticipantID != customer.Participant.ID ||
		it.Role != helpline.RoleCustomer || it.DisplayName != "Casey" || !it.Time.Equal(e.clock.Now()) || it.ContactID != customer.Contact.ID {
		t.Errorf("item = %+v", it)
	}
	// The sender's own watcher receives it.
	if got := s.waitN(t, 2); got[1].ID != it.ID {
		t.Errorf("delivered %+v, want the message", got[1])
	}

	again, err := e.svc.SendMessage(ctx, customer, helpline.ContentPlain, strings.Repeat("ü", 1024), "tok-1")
	if err != nil || again.ID != it.ID || again.Seq != it.Seq {
		t.Fatalf("replay = %+v, %v; want item %s", again, err, it.ID)
	}
	// Tokens are per participant: the bot's "tok-1" is a new message.
	botMsg, err := e.svc.SendMessage(ctx, bot, helpline.ContentPlain, "hello", "tok-1")
	if err != nil || botMsg.ID == it.ID {
		t.Fatalf("bot message = %+v, %v", botMsg, err)
	}
	if _, err := e.svc.SendMessage(ctx, bot, helpline.ContentInteractive, `{"templateType":"QuickReply"}`, ""); err != nil {
		t.Errorf("bot interactive message: %v", err)
	}
	ok := []struct{ contentType, content string }{
		{helpline.ContentJSON, strings.Repeat("j", 12000)},
		{helpline.ContentInteractiveResponse, strings.Repeat("r", 12288)},
	}
	for _, m := range ok {
		if _, err := e.svc.SendMessage(ctx, customer, m.contentType, m.content, ""); err != nil {
			t.Errorf("%s at its limit: %v", m.contentType, err)
		}
	}
	bad := []struct{ name, contentType, content, clientToken string }{
		{"plain too long", helpline.ContentPlain, strings.Repeat("ü", 1025), ""},
		{"empty", helpline.ContentPlain, "", ""},
		{"json too long", helpline.ContentJSON, strings.Repeat("j", 12001), ""},
		{"interactive response too long", helpline.ContentInteractiveResponse, strings.Repeat("r", 12289), ""},
		{"markdown not supported by this chat", helpline.ContentMarkdown, "x", ""},
		{"unknown type", "text/html", "x", ""},
		{"customer interactive", helpline.ContentInteractive, "{}", ""},
		{"client token too long", helpline.ContentPlain, "x", strings.Repeat("t", 501)},
	}
	for _, tt := range bad {
		_, err := e.svc.SendMessage(ctx, customer, tt.contentType, tt.content, tt.clientToken)
		if helpline.ErrorCode(err) != helpline.EINVALID {
			t.Errorf("%s: error %v, want EINVALID", tt.name, err)
		}
	}
	// Eight stored items in all: joined x2, the five accepted messages... and nothing else.
	if n := len(e.items(t, customer.Contact.ID)); n != 7 {
		t.Errorf("stored %d items, want 7", n)
	}
}

func TestSendEvent(t *testing.T) {
	e := newEnv(t)
	_, customer := e.start(t, helpline.StartChatInput{})
	agent := e.addAgent(t, customer.Contact, helpline.RoleAgent)
	msg := e.send(t, agent, "hi there")
	s := newSink(0)
	if _, err := e.svc.Watch(ctx, customer, msg.Seq, s); err != nil {
		t.Fatal(err)
	}

	typing, err := e.svc.SendEvent(ctx, customer, helpline.EventTyping, "", "t-1")
	if err != nil {
		t.Fatal(err)
	}
	if typing.Seq != 0 || typing.Type != helpline.ItemEvent || typing.Content != "" || typing.ID == "" || typing.ParticipantID != customer.Participant.ID {
		t.Errorf("typing = %+v", typing)
	}
	if got := s.waitN(t, 1)[0]; got.ID != typing.ID || got.ContentType != helpline.EventTyping {
		t.Errorf("delivered %+v, want the typing event", got)
	}

	read, err := e.svc.SendEvent(ctx, customer, helpline.EventMessageRead, `{"messageId":"`+msg.ID+`","disableThrottle":true}`, "r-1")
	if err != nil {
		t.Fatal(err)
	}
	if read.Type != helpline.ItemMetadata || read.ContentType != helpline.EventMessageMetadata || read.Seq != msg.Seq+1 ||
		read.Metadata == nil || read.Metadata.MessageID != msg.ID || len(read.Metadata.Receipts) != 1 {
		t.Fatalf("read receipt = %+v", read)
	}
	if r := read.Metadata.Receipts[0]; r.RecipientParticipantID != customer.Participant.ID || !r.ReadAt.Equal(e.clock.Now()) || !r.DeliveredAt.IsZero() {
		t.Errorf("receipt = %+v", r)
	}
	again, err := e.svc.SendEvent(ctx, customer, helpline.EventMessageRead, `{"messageId":"`+msg.ID+`"}`, "r-1")
	if err != nil || again.ID != read.ID {
		t.Errorf("replayed receipt = %+v, %v", again, err)
	}
	delivered, err := e.svc.SendEvent(ctx, customer, helpline.EventMessageDelivered, `{"messageId":"`+msg.ID+`"}`, "")
	if err != nil {
		t.Fatal(err)
	}
	if r := delivered.Metadata.Receipts[0]; r.DeliveredAt.IsZero() || !r.ReadAt.IsZero() {
		t.Errorf("delivered receipt = %+v", r)
	}
	// Typing was not stored; the receipts were, once each.
	items := e.items(t, customer.Contact.ID)
	want := []string{helpline.EventParticipantJoined, helpline.EventParticipantJoined, helpline.ContentPlain,
		helpline.EventMessageMetadata, helpline.EventMessageMetadata}
	if !equal(contentTypes(items), want) {
		t.Errorf("items = %v, want %v", contentTypes(items), want)
	}

	joinedID := items[0].ID
	bad := []struct{ name, contentType, content string }{
		{"no content", helpline.EventMessageRead, ""},
		{"not JSON", helpline.EventMessageRead, "read it"},
		{"no messageId", helpline.EventMessageRead, `{"id":"x"}`},
		{"unknown message", helpline.EventMessageDelivered, `{"messageId":"nope"}`},
		{"not a message", helpline.EventMessageRead, `{"messageId":"` + joinedID + `"}`},
		{"retired acknowledgement", helpline.EventPrefix + "connection.acknowledged", ""},
		{"unknown event", helpline.EventPrefix + "participant.joined", ""},
		{"not an event", helpline.ContentPlain, "hi"},
		{"content too long", helpline.EventTyping, strings.Repeat("x", 16385)},
	}
	for _, tt := range bad {
		_, err := e.svc.SendEvent(ctx, customer, tt.contentType, tt.content, "")
		if helpline.ErrorCode(err) != helpline.EINVALID {
			t.Errorf("%s: error %v, want EINVALID", tt.name, err)
		}
	}

	// A third participant present: receipts are a conflict.
	e.addAgent(t, customer.Contact, helpline.RoleBot)
	_, err = e.svc.SendEvent(ctx, customer, helpline.EventMessageRead, `{"messageId":"`+msg.ID+`"}`, "")
	wantCode(t, err, helpline.ECONFLICT)
}

// A connection token's session, the participant operations' (SendMessage
// above all), is the cached snapshot itself: no copy per message.
func TestConnectionSessionNotCopied(t *testing.T) {
	e := newEnv(t)
	_, customer := e.start(t, helpline.StartChatInput{})
	conn, err := e.svc.CreateConnection(ctx, customer, true)
	if err != nil {
		t.Fatal(err)
	}
	first := e.auth(t, helpline.ConnectionToken, conn.ConnectionToken)
	e.send(t, first, "one")
	e.send(t, first, "two")
	// The engine learns of the messages from the bus, at once in process:
	// the session stays the same while it does.
	for end := time.Now().Add(300 * time.Millisecond); time.Now().Before(end); time.Sleep(5 * time.Millisecond) {
		if again := e.auth(t, helpline.ConnectionToken, conn.ConnectionToken); again != first {
			t.Fatalf("the session was copied: %p then %p", first, again)
		}
	}
}
