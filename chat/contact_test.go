package chat_test

import (
	"strings"
	"testing"
	"time"

	"github.com/helplinehq/helpline"
	"github.com/helplinehq/helpline/chat"
)

func TestStartChat(t *testing.T) {
	e := newEnv(t)
	started, err := e.svc.StartChat(ctx, helpline.StartChatInput{
		InstanceID: e.inst.ID, ContactFlowID: "flow-greet", DisplayName: "Casey",
		Attributes:            map[string]string{"order_id": "A-1"},
		InitialMessage:        struct{ ContentType, Content string }{helpline.ContentMarkdown, "**hi**"},
		SupportedContentTypes: []string{helpline.ContentPlain, helpline.ContentMarkdown},
		ChatDuration:          90 * time.Minute,
		CustomerID:            "cust-9",
	})
	if err != nil {
		t.Fatal(err)
	}
	c, p := started.Contact, started.Participant
	now := e.clock.Now()
	if c.State != helpline.ContactActive || c.InstanceID != e.inst.ID || c.FlowID != "flow-greet" || c.InitialContactID != c.ID ||
		c.CustomerID != "cust-9" || c.Attributes["order_id"] != "A-1" || !c.ExpiresAt.Equal(now.Add(90*time.Minute)) || c.LastSeq != 3 {
		t.Errorf("contact = %+v", c)
	}
	if p.Role != helpline.RoleCustomer || p.DisplayName != "Casey" || p.ContactID != c.ID {
		t.Errorf("customer = %+v", p)
	}

	items := e.items(t, c.ID)
	want := []string{helpline.EventParticipantJoined, helpline.ContentPlain, helpline.ContentMarkdown}
	if !equal(contentTypes(items), want) {
		t.Fatalf("items = %v, want %v", contentTypes(items), want)
	}
	joined, greeting, initial := items[0], items[1], items[2]
	if joined.Type != helpline.ItemEvent || joined.ParticipantID != p.ID || joined.Role != helpline.RoleCustomer || joined.DisplayName != "Casey" {
		t.Errorf("joined = %+v", joined)
	}
	if greeting.Type != helpline.ItemMessage || greeting.Content != "Hello! How can we help?" || greeting.Role != helpline.RoleSystem ||
		greeting.DisplayName != chat.SystemDisplayName || greeting.ParticipantID == "" {
		t.Errorf("greeting = %+v", greeting)
	}
	if initial.Content != "**hi**" || initial.ParticipantID != p.ID || initial.Role != helpline.RoleCustomer {
		t.Errorf("initial message = %+v", initial)
	}
	for i, it := range items {
		if it.Seq != int64(i+1) || it.ID == "" || it.ContactID != c.ID || !it.Time.Equal(now) || it.Time.Location() != time.UTC {
			t.Errorf("item %d = %+v", i, it)
		}
	}

	sess := e.auth(t, helpline.ParticipantToken, started.ParticipantToken)
	if sess.Participant.ID != p.ID || sess.Contact.ID != c.ID || sess.Instance.ID != e.inst.ID {
		t.Errorf("session = %+v", sess)
	}
	// The participant token lasts as long as the chat.
	e.clock.Advance(89 * time.Minute)
	e.auth(t, helpline.ParticipantToken, started.ParticipantToken)
	e.clock.Advance(time.Minute)
	_, err = e.svc.Authenticate(ctx, helpline.ParticipantToken, started.ParticipantToken)
	wantCode(t, err, helpline.EFORBIDDEN)
}

func TestStartChatDefaults(t *testing.T) {
	e := newEnv(t)
	started, _ := e.start(t, helpline.StartChatInput{})
	c := started.Contact
	if !equal(c.SupportedContentTypes, []string{helpline.ContentPlain}) {
		t.Errorf("SupportedContentTypes = %v", c.SupportedContentTypes)
	}
	if got := c.ExpiresAt.Sub(c.CreatedAt); got != 25*time.Hour {
		t.Errorf("chat duration = %v, want 25h", got)
	}
	if items := e.items(t, c.ID); !equal(contentTypes(items), []string{helpline.EventParticipantJoined}) {
		t.Errorf("items = %v, want only participant.joined", contentTypes(items))
	}
}

func TestStartChatValidation(t *testing.T) {
	e := newEnv(t)
	valid := func() helpline.StartChatInput {
		return helpline.StartChatInput{InstanceID: e.inst.ID, ContactFlowID: "flow-plain", DisplayName: "Casey"}
	}
	long := func(n int) string { return strings.Repeat("x", n) }
	tests := []struct {
		name   string
		change func(*helpline.StartChatInput)
	}{
		{"no instance", func(in *helpline.StartChatInput) { in.InstanceID = "" }},
		{"no flow", func(in *helpline.StartChatInput) { in.ContactFlowID = "" }},
		{"no display name", func(in *helpline.StartChatInput) { in.DisplayName = "" }},
		{"long display name", func(in *helpline.StartChatInput) { in.DisplayName = long(257) }},
		{"bad attribute name", func(in *helpline.StartChatInput) { in.Attributes = map[string]string{"a b": "v"} }},
		{"empty attribute name", func(in *helpline.StartChatInput) { in.Attributes = map[string]string{"": "v"} }},
		{"attributes too big", func(in *helpline.StartChatInput) {
			in.Attributes = map[string]string{"a": long(16384), "b": long(16383)}
		}},
		{"chat too short", func(in *helpline.StartChatInput) { in.ChatDuration = 59 * time.Minute }},
		{"chat too long", func(in *helpline.StartChatInput) { in.ChatDuration = 10081 * time.Minute }},
		{"supported without text/plain", func(in *helpline.StartChatInput) {
			in.SupportedContentTypes = []string{helpline.ContentMarkdown}
		}},
		{"unknown supported type", func(in *helpline.StartChatInput) {
			in.SupportedContentTypes = []string{helpline.ContentPlain, "text/html"}
		}},
		{"initial message type unsupported by chat", func(in *helpline.StartChatInput) {
			in.InitialMessage.ContentType, in.InitialMessage.Content = helpline.ContentMarkdown, "x"
		}},
		{"initial message unknown type", func(in *helpline.StartChatInput) {
			in.InitialMessage.ContentType, in.InitialMessage.Content = "text/html", "x"
		}},
		{"initial message without content", func(in *helpline.StartChatInput) { in.InitialMessage.ContentType = helpline.ContentPlain }},
		{"initial message without type", func(in *helpline.StartChatInput) { in.InitialMessage.Content = "x" }},
		{"initial message too big", func(in *helpline.StartChatInput) {
			in.InitialMessage.ContentType, in.InitialMessage.Content = helpline.ContentPlain, strings.Repeat("é", 8193)
		}},
		{"long client token", func(in *helpline.StartChatInput) { in.ClientToken = long(501) }},
		{"long customer id", func(in *helpline.StartChatInput) { in.CustomerID = long(129) }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			in := valid()
			tt.change(&in)
			_, err := e.svc.StartChat(ctx, in)
			wantCode(t, err, helpline.EINVALID)
		})
	}

	// The limits themselves are accepted.
	in := valid()
	in.DisplayName = long(256)
	in.Attributes = map[string]string{"a": long(16384), "b": long(16383)[1:]}
	in.ChatDuration = 60 * time.Minute
	in.InitialMessage.ContentType, in.InitialMessage.Content = helpline.ContentPlain, strings.Repeat("é", 8192)
	if _, err := e.svc.StartChat(ctx, in); err != nil {
		t.Errorf("StartChat at the limits: %v", err)
	}

	in = valid()
	in.InstanceID = "nope"
	_, err := e.svc.StartChat(ctx, in)
	wantCode(t, err, helpline.ENOTFOUND)
	if err.(*helpline.Error).Resource != helpline.ResourceInstance {
		t.Errorf("unknown instance: %+v", err)
	}
	in = valid()
	in.ContactFlowID = "nope"
	_, err = e.svc.StartChat(ctx, in)
	wantCode(t, err, helpline.ENOTFOUND)
	if err.(*helpline.Error).Resource != helpline.ResourceContactFlow {
		t.Errorf("unknown flow: %+v", err)
	}
}

func TestStartChatIdempotent(t *testing.T) {
	e := newEnv(t)
	in := helpline.StartChatInput{ClientToken: "start-1", InitialMessage: struct{ ContentType, Content string }{helpline.ContentPlain, "hi"}}
	first, _ := e.start(t, in)
	s := newSink(0)
	sess := e.auth(t, helpline.ParticipantToken, first.ParticipantToken)
	if _, err := e.svc.Watch(ctx, sess, 0, s); err != nil {
		t.Fatal(err)
	}
	s.waitN(t, 2)

	again, _ := e.start(t, in)
	if again.Contact.ID != first.Contact.ID || again.Participant.ID != first.Participant.ID {
		t.Fatalf("replay started contact %s / participant %s, want %s / %s",
			again.Contact.ID, again.Participant.ID, first.Contact.ID, first.Participant.ID)
	}
	e.auth(t, helpline.ParticipantToken, again.ParticipantToken)
	if n := len(e.items(t, first.Contact.ID)); n != 2 {
		t.Errorf("replay stored more items: %d, want 2", n)
	}
	// The replay published nothing: the next item the sink sees is #3.
	e.send(t, sess, "after")
	items := s.waitN(t, 3)
	checkSeqs(t, storedSeqs(items), 0, 3)

	// Another token starts another chat.
	other, _ := e.start(t, helpline.StartChatInput{ClientToken: "start-2"})
	if other.Contact.ID == first.Contact.ID {
		t.Error("a different ClientToken replayed the first chat")
	}
}

func TestStartChatQuota(t *testing.T) {
	e := newEnv(t, withLimits(chat.Limits{MaxActiveChats: 2}))
	first, _ := e.start(t, helpline.StartChatInput{})
	e.start(t, helpline.StartChatInput{})
	_, err := e.svc.StartChat(ctx, helpline.StartChatInput{InstanceID: e.inst.ID, ContactFlowID: "flow-plain", DisplayName: "C"})
	wantCode(t, err, helpline.EQUOTA)
	if err := e.svc.StopContact(ctx, e.inst.ID, first.Contact.ID); err != nil {
		t.Fatal(err)
	}
	e.start(t, helpline.StartChatInput{})
}

func TestAddParticipant(t *testing.T) {
	e := newEnv(t)
	started, _ := e.start(t, helpline.StartChatInput{})
	c := started.Contact

	in := helpline.AddParticipantInput{InstanceID: e.inst.ID, ContactID: c.ID, Role: helpline.RoleBot, DisplayName: "Bot", ClientToken: "add-1"}
	added, err := e.svc.AddParticipant(ctx, in)
	if err != nil {
		t.Fatal(err)
	}
	if p := added.Participant; p.Role != helpline.RoleBot || p.DisplayName != "Bot" || p.ContactID != c.ID || !added.Expiry.Equal(c.ExpiresAt) {
		t.Errorf("added = %+v, participant %+v", added, p)
	}
	sess := e.auth(t, helpline.ParticipantToken, added.ParticipantToken)
	if sess.Participant.ID != added.Participant.ID {
		t.Errorf("token authenticates %s", sess.Participant.ID)
	}
	again, err := e.svc.AddParticipant(ctx, in)
	if err != nil || again.Participant.ID != added.Participant.ID {
		t.Fatalf("replay = %+v, %v; want participant %s", again, err, added.Participant.ID)
	}

	agent, err := e.svc.AddParticipant(ctx, helpline.AddParticipantInput{InstanceID: e.inst.ID, ContactID: c.ID, Role: helpline.RoleAgent})
	if err != nil {
		t.Fatal(err)
	}
	if agent.Participant.DisplayName != helpline.RoleAgent {
		t.Errorf("default display name = %q", agent.Participant.DisplayName)
	}
	items := e.items(t, c.ID)
	want := []string{helpline.EventParticipantJoined, helpline.EventParticipantJoined, helpline.EventParticipantJoined}
	if !equal(contentTypes(items), want) {
		t.Fatalf("items = %v", contentTypes(items))
	}
	if items[1].ParticipantID != added.Participant.ID || items[1].Role != helpline.RoleBot || items[2].Role != helpline.RoleAgent {
		t.Errorf("joined items = %+v, %+v", items[1], items[2])
	}

	for _, bad := range []helpline.AddParticipantInput{
		{InstanceID: e.inst.ID, ContactID: c.ID, Role: helpline.RoleCustomer},
		{InstanceID: e.inst.ID, ContactID: c.ID, Role: helpline.RoleSupervisor},
		{InstanceID: e.inst.ID, ContactID: c.ID, Role: helpline.RoleBot, DisplayName: strings.Repeat("x", 257)},
		{InstanceID: e.inst.ID, ContactID: c.ID, Role: helpline.RoleBot, ClientToken: strings.Repeat("x", 501)},
	} {
		_, err := e.svc.AddParticipant(ctx, bad)
		wantCode(t, err, helpline.EINVALID)
	}
	_, err = e.svc.AddParticipant(ctx, helpline.AddParticipantInput{InstanceID: "other", ContactID: c.ID, Role: helpline.RoleBot})
	wantCode(t, err, helpline.ENOTFOUND)
	_, err = e.svc.AddParticipant(ctx, helpline.AddParticipantInput{InstanceID: e.inst.ID, ContactID: "nope", Role: helpline.RoleBot})
	wantCode(t, err, helpline.ENOTFOUND)

	if err := e.svc.StopContact(ctx, e.inst.ID, c.ID); err != nil {
		t.Fatal(err)
	}
	_, err = e.svc.AddParticipant(ctx, helpline.AddParticipantInput{InstanceID: e.inst.ID, ContactID: c.ID, Role: helpline.RoleBot})
	wantCode(t, err, helpline.ECONFLICT)
}

func TestStopContact(t *testing.T) {
	e := newEnv(t)
	started, customer := e.start(t, helpline.StartChatInput{})
	c := started.Contact
	agent := e.addAgent(t, c, helpline.RoleAgent)
	conn, err := e.svc.CreateConnection(ctx, customer, true)
	if err != nil {
		t.Fatal(err)
	}
	// Warm the session cache; ending must evict it.
	e.auth(t, helpline.ConnectionToken, conn.ConnectionToken)

	if err := e.svc.StopContact(ctx, e.inst.ID, c.ID); err != nil {
		t.Fatal(err)
	}
	items := e.items(t, c.ID)
	want := []string{helpline.EventParticipantJoined, helpline.EventParticipantJoined,
		helpline.EventParticipantLeft, helpline.EventParticipantLeft, helpline.EventChatEnded}
	if !equal(contentTypes(items), want) {
		t.Fatalf("items = %v, want %v", contentTypes(items), want)
	}
	if items[2].ParticipantID != agent.Participant.ID || items[3].ParticipantID != customer.Participant.ID {
		t.Errorf("left order: %s then %s; want the agent, then the customer", items[2].ParticipantID, items[3].ParticipantID)
	}
	if end := items[4]; end.Role != helpline.RoleSystem || end.DisplayName != chat.SystemDisplayName || end.Type != helpline.ItemEvent {
		t.Errorf("chat.ended = %+v", end)
	}
	got, err := e.svc.FindContact(ctx, e.inst.ID, c.ID)
	if err != nil || !got.Ended() || got.EndReason != helpline.EndAPI {
		t.Errorf("contact after stop = %+v, %v", got, err)
	}

	_, err = e.svc.Authenticate(ctx, helpline.ConnectionToken, conn.ConnectionToken)
	wantCode(t, err, helpline.EFORBIDDEN)
	_, err = e.svc.Authenticate(ctx, helpline.ParticipantToken, started.ParticipantToken)
	wantCode(t, err, helpline.EFORBIDDEN)
	// A session obtained before the end cannot write either.
	_, err = e.svc.SendMessage(ctx, agent, helpline.ContentPlain, "late", "")
	wantCode(t, err, helpline.EFORBIDDEN)

	// Stopping again is a no-op.
	if err := e.svc.StopContact(ctx, e.inst.ID, c.ID); err != nil {
		t.Errorf("second stop: %v", err)
	}
	if n := len(e.items(t, c.ID)); n != 5 {
		t.Errorf("second stop stored items: %d", n)
	}
	wantCode(t, e.svc.StopContact(ctx, "other", c.ID), helpline.ENOTFOUND)
	wantCode(t, e.svc.StopContact(ctx, e.inst.ID, "nope"), helpline.ENOTFOUND)
}

func TestDisconnect(t *testing.T) {
	e := newEnv(t)
	started, customer := e.start(t, helpline.StartChatInput{})
	c := started.Contact
	bot := e.addAgent(t, c, helpline.RoleBot)
	botConn, err := e.svc.CreateConnection(ctx, bot, false)
	if err != nil {
		t.Fatal(err)
	}
	e.auth(t, helpline.ConnectionToken, botConn.ConnectionToken)

	if err := e.svc.Disconnect(ctx, bot); err != nil {
		t.Fatal(err)
	}
	if err := e.svc.Disconnect(ctx, bot); err != nil {
		t.Errorf("second disconnect: %v", err)
	}
	_, err = e.svc.Authenticate(ctx, helpline.ConnectionToken, botConn.ConnectionToken)
	wantCode(t, err, helpline.EFORBIDDEN)
	// The chat goes on.
	e.send(t, customer, "still here")
	want := []string{helpline.EventParticipantJoined, helpline.EventParticipantJoined, helpline.EventParticipantLeft, helpline.ContentPlain}
	if got := contentTypes(e.items(t, c.ID)); !equal(got, want) {
		t.Fatalf("items = %v, want %v", got, want)
	}

	if err := e.svc.Disconnect(ctx, customer); err != nil {
		t.Fatal(err)
	}
	want = append(want, helpline.EventParticipantLeft, helpline.EventChatEnded)
	if got := contentTypes(e.items(t, c.ID)); !equal(got, want) {
		t.Fatalf("items = %v, want %v", got, want)
	}
	got, _ := e.svc.FindContact(ctx, e.inst.ID, c.ID)
	if got.EndReason != helpline.EndCustomerDisconnect {
		t.Errorf("EndReason = %q", got.EndReason)
	}
	if err := e.svc.Disconnect(ctx, customer); err != nil {
		t.Errorf("second customer disconnect: %v", err)
	}
}

// A participant who left on another node, whose participant.left event
// never reached this one, is still in this engine's session cache; the
// store refuses its messages all the same, and the engine then drops the
// stale session.
func TestSendAfterLeaveWhoseEventWasLost(t *testing.T) {
	e := newEnv(t)
	started, customer := e.start(t, helpline.StartChatInput{})
	c := started.Contact
	added, err := e.svc.AddParticipant(ctx, helpline.AddParticipantInput{InstanceID: c.InstanceID, ContactID: c.ID, Role: helpline.RoleAgent, DisplayName: "Alex"})
	if err != nil {
		t.Fatal(err)
	}
	agent := e.auth(t, helpline.ParticipantToken, added.ParticipantToken)
	e.send(t, agent, "hello")

	// The leave is stored, as another node's Disconnect stores it, and its
	// event is never published here.
	if _, err := e.store.LeaveParticipant(ctx, agent.Participant.ID, e.clock.Now(), nil); err != nil {
		t.Fatal(err)
	}
	if stale := e.auth(t, helpline.ParticipantToken, added.ParticipantToken); stale.Participant.Left() {
		t.Fatal("the cached session saw the leave; this test needs it stale")
	}
	before := len(e.items(t, c.ID))

	_, err = e.svc.SendMessage(ctx, agent, helpline.ContentPlain, "after leaving", "")
	wantCode(t, err, helpline.EFORBIDDEN)
	if n := len(e.items(t, c.ID)); n != before {
		t.Errorf("%d items after a refused send, want %d", n, before)
	}
	_, err = e.svc.Authenticate(ctx, helpline.ParticipantToken, added.ParticipantToken)
	wantCode(t, err, helpline.EFORBIDDEN)
	e.send(t, customer, "still here")
}

func TestExpireDue(t *testing.T) {
	e := newEnv(t)
	short, _ := e.start(t, helpline.StartChatInput{ChatDuration: time.Hour})
	long, _ := e.start(t, helpline.StartChatInput{})

	e.clock.Advance(59 * time.Minute)
	if n, err := e.svc.ExpireDue(ctx); err != nil || n != 0 {
		t.Fatalf("ExpireDue before the hour = %d, %v", n, err)
	}
	e.clock.Advance(time.Minute)
	if n, err := e.svc.ExpireDue(ctx); err != nil || n != 1 {
		t.Fatalf("ExpireDue at the hour = %d, %v; want 1", n, err)
	}
	c, _ := e.svc.FindContact(ctx, e.inst.ID, short.Contact.ID)
	if !c.Ended() || c.EndReason != helpline.EndExpired {
		t.Errorf("short chat = %+v", c)
	}
	want := []string{helpline.EventParticipantJoined, helpline.EventParticipantLeft, helpline.EventChatEnded}
	if got := contentTypes(e.items(t, c.ID)); !equal(got, want) {
		t.Errorf("items = %v, want %v", got, want)
	}
	if c, _ := e.svc.FindContact(ctx, e.inst.ID, long.Contact.ID); c.Ended() {
		t.Error("the 25-hour chat ended after an hour")
	}
	e.clock.Advance(24 * time.Hour)
	if n, err := e.svc.ExpireDue(ctx); err != nil || n != 1 {
		t.Fatalf("ExpireDue at 25h = %d, %v; want 1", n, err)
	}
	if n, _ := e.svc.ExpireDue(ctx); n != 0 {
		t.Errorf("a second sweep ended %d more", n)
	}
}

func TestUpdateContactAttributes(t *testing.T) {
	e := newEnv(t)
	started, _ := e.start(t, helpline.StartChatInput{Attributes: map[string]string{"a": "1", "b": "2"}})
	c, err := e.svc.UpdateContactAttributes(ctx, e.inst.ID, started.Contact.ID, map[string]string{"b": "3", "c": "4"})
	if err != nil {
		t.Fatal(err)
	}
	if c.Attributes["a"] != "1" || c.Attributes["b"] != "3" || c.Attributes["c"] != "4" {
		t.Errorf("attributes = %v", c.Attributes)
	}
	_, err = e.svc.UpdateContactAttributes(ctx, e.inst.ID, started.Contact.ID, map[string]string{"no spaces": "x"})
	wantCode(t, err, helpline.EINVALID)
	_, err = e.svc.UpdateContactAttributes(ctx, "other", started.Contact.ID, map[string]string{"a": "x"})
	wantCode(t, err, helpline.ENOTFOUND)
}

func TestUpdateCustomerRenamesAndRecordsTheChangeOnce(t *testing.T) {
	e := newEnv(t)
	started, _ := e.start(t, helpline.StartChatInput{DisplayName: "Stream user"})
	id := started.Contact.ID
	u := helpline.CustomerUpdate{ContactID: id, DisplayName: "Ada Lovelace", Attributes: map[string]string{"email": "ada@example.com"}}
	for i := 0; i < 2; i++ { // the second is a retry: nothing new
		if _, err := e.svc.UpdateCustomer(ctx, u); err != nil {
			t.Fatal(err)
		}
	}
	msg, err := e.svc.PostExternalMessage(ctx, helpline.ExternalMessage{ContactID: id, Origin: "stream", Role: helpline.RoleCustomer,
		ExternalID: "m1", ContentType: helpline.ContentPlain, Content: "hi"})
	if err != nil {
		t.Fatal(err)
	}
	if msg.DisplayName != "Ada Lovelace" {
		t.Errorf("a line after the update is by %q, want Ada Lovelace", msg.DisplayName)
	}
	items, err := e.store.FindItems(ctx, id, helpline.ItemQuery{})
	if err != nil {
		t.Fatal(err)
	}
	var updates []*helpline.Item
	for _, it := range items {
		if it.ContentType == helpline.EventCustomerUpdated {
			updates = append(updates, it)
		}
	}
	if len(updates) != 1 || updates[0].DisplayName != "Ada Lovelace" || updates[0].Role != helpline.RoleCustomer ||
		updates[0].Content != `{"display_name":"Ada Lovelace","attributes":{"email":"ada@example.com"}}` {
		t.Fatalf("customer.updated items %v, want one by the renamed customer naming the change", updates)
	}
	// An attribute set through UpdateContactAttributes is a change too.
	if _, err := e.svc.UpdateContactAttributes(ctx, e.inst.ID, id, map[string]string{"email": "ada@lovelace.org"}); err != nil {
		t.Fatal(err)
	}
	last, err := e.store.FindItems(ctx, id, helpline.ItemQuery{Backward: true, Limit: 1})
	if err != nil {
		t.Fatal(err)
	}
	if last[0].ContentType != helpline.EventCustomerUpdated || last[0].Content != `{"attributes":{"email":"ada@lovelace.org"}}` {
		t.Errorf("after UpdateContactAttributes the last item is %s %q, want a customer.updated naming the email", last[0].ContentType, last[0].Content)
	}

	_, err = e.svc.UpdateCustomer(ctx, helpline.CustomerUpdate{ContactID: id, DisplayName: strings.Repeat("x", 300)})
	wantCode(t, err, helpline.EINVALID)
	_, err = e.svc.UpdateCustomer(ctx, helpline.CustomerUpdate{ContactID: "missing", DisplayName: "Ada"})
	wantCode(t, err, helpline.ENOTFOUND)
}
