package zendesk_test

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"github.com/helplinehq/helpline"
	"github.com/helplinehq/helpline/blobfs"
	"github.com/helplinehq/helpline/chat"
	"github.com/helplinehq/helpline/clocktest"
	"github.com/helplinehq/helpline/connector/zendesk"
	"github.com/helplinehq/helpline/connector/zendesk/zendesktest"
	"github.com/helplinehq/helpline/inmem"
	"github.com/helplinehq/helpline/sqlite"
)

// engine is the real chat engine on SQLite and the in-process bus, with a
// Zendesk connector and its fake, the connector's webhook served as
// cmd/helpline serves it.
type engine struct {
	*fixture
	svc   *chat.Service
	store helpline.Store
	hook  *httptest.Server
	// serving is the connector the hook server hands requests to.
	serving atomic.Pointer[zendesk.Connector]
}

func newEngine(t *testing.T) *engine {
	t.Helper()
	e := &engine{}
	db, err := sqlite.Open(filepath.Join(t.TempDir(), "helpline.db"))
	if err != nil {
		t.Fatal(err)
	}
	e.store = db
	inst := &helpline.Instance{ID: "inst-1", Name: "Shop", Flows: []helpline.Flow{{ID: "flow-plain", Name: "Plain"}}}
	if err := db.SaveInstance(ctx, inst); err != nil {
		t.Fatal(err)
	}
	blobs, err := blobfs.New(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	bus := inmem.NewBus()
	c := clocktest.New(time.Date(2025, 3, 1, 10, 42, 0, 0, time.UTC))
	e.svc = chat.New(chat.Config{Store: db, Bus: bus, Blobs: blobs, Now: c.Now, Mirrors: []string{"zendesk"},
		Tokens: helpline.NewTokens([]byte("0123456789abcdef0123456789abcdef"))})
	runCtx, cancel := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- e.svc.Run(runCtx) }()
	<-e.svc.Ready()
	t.Cleanup(func() {
		cancel()
		<-done
		bus.Close()
		db.Close()
	})

	e.hook = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.StripPrefix("/connectors/zendesk", e.serving.Load()).ServeHTTP(w, r)
	}))
	t.Cleanup(e.hook.Close)
	e.fixture = newFixtureClock(t, c, zendesktest.Options{WebhookURL: e.hook.URL + "/connectors/zendesk/webhook", WebhookSecret: "whsec"},
		zendesk.Settings{WebhookSecretEnv: "ZENDESK_WEBHOOK_SECRET"},
		helpline.ConnectorNode{Intake: e.svc, Mirrors: db, Replay: db})
	e.serving.Store(e.conn)
	return e
}

// restart replaces the serving connector with a new one on the same
// store, as a restarted process (or another node) would have.
func (e *engine) restart(t *testing.T) {
	t.Helper()
	e.conn = e.build(t)
	e.serving.Store(e.conn)
}

// startMirrored starts a chat, mirrors its first items into a ticket the
// way the dispatcher would (claim, Mirror, save) and returns the
// customer's session and the ticket id.
func (e *engine) startMirrored(t *testing.T) (*helpline.Session, int64) {
	t.Helper()
	started, err := e.svc.StartChat(ctx, helpline.StartChatInput{InstanceID: "inst-1", ContactFlowID: "flow-plain", DisplayName: "Ada",
		Attributes: map[string]string{"email": "ada@example.com"}})
	if err != nil {
		t.Fatal(err)
	}
	sess, err := e.svc.Authenticate(ctx, helpline.ParticipantToken, started.ParticipantToken)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.svc.SendMessage(ctx, sess, helpline.ContentPlain, "Where is my order?", "m1"); err != nil {
		t.Fatal(err)
	}
	now := e.clock.Now()
	pairs, err := e.store.ClaimMirrorPairs(ctx, "zendesk", sess.Contact.ID, "test", now, time.Minute, 1)
	if err != nil || len(pairs) != 1 {
		t.Fatalf("claim: %v, %d pairs", err, len(pairs))
	}
	p := pairs[0]
	items, err := e.store.FindItems(ctx, sess.Contact.ID, helpline.ItemQuery{From: p.Cursor + 1})
	if err != nil {
		t.Fatal(err)
	}
	contact, err := e.svc.FindContact(ctx, "inst-1", sess.Contact.ID)
	if err != nil {
		t.Fatal(err)
	}
	res := mirror(t, e.conn, &helpline.MirrorBatch{Contact: contact, Items: items, Refs: p.Refs})
	p.Cursor, p.Refs = items[res.Delivered-1].Seq, res.Refs
	if err := e.store.SaveMirrorPair(ctx, p, "test", now); err != nil {
		t.Fatal(err)
	}
	ticketID, _ := strconv.ParseInt(res.Refs["ticket_id"], 10, 64)
	return sess, ticketID
}

// agentMessages lists the contact's AGENT messages.
func (e *engine) agentMessages(t *testing.T, sess *helpline.Session) []*helpline.Item {
	t.Helper()
	page, err := e.svc.Transcript(ctx, sess, helpline.TranscriptQuery{MaxResults: 100, SortOrder: "ASCENDING"})
	if err != nil {
		t.Fatal(err)
	}
	var out []*helpline.Item
	for _, it := range page.Items {
		if it.Type == helpline.ItemMessage && it.Role == helpline.RoleAgent {
			out = append(out, it)
		}
	}
	return out
}

func TestAgentReplyReachesTheChatOnce(t *testing.T) {
	e := newEngine(t)
	sess, ticketID := e.startMirrored(t)
	grace := e.fake.AddAgent("Grace", "grace@example.com")

	if _, status, err := e.fake.AgentReply(ticketID, grace.ID, "It ships today."); err != nil || status != http.StatusOK {
		t.Fatalf("webhook: status %d, %v", status, err)
	}
	// A second reply's webhook re-reads the ticket: the first reply is
	// not appended twice, and Helpline's own comments never come back.
	if _, status, err := e.fake.AgentReply(ticketID, grace.ID, "Tracking: 1Z999."); err != nil || status != http.StatusOK {
		t.Fatalf("webhook: status %d, %v", status, err)
	}
	got := e.agentMessages(t, sess)
	if len(got) != 2 || got[0].Content != "It ships today." || got[1].Content != "Tracking: 1Z999." {
		t.Fatalf("agent messages = %v", contents(got))
	}
	if got[0].DisplayName != "Grace" || got[0].Origin != "zendesk" {
		t.Errorf("reply item = %+v; want author Grace, origin zendesk", got[0])
	}
}

func contents(items []*helpline.Item) []string {
	var out []string
	for _, it := range items {
		out = append(out, it.Content)
	}
	return out
}

// postWebhook posts body to the connector's webhook with the signature
// headers given (none when empty) and returns the status.
func (e *engine) postWebhook(t *testing.T, body []byte, sig, ts string) int {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPost, e.hook.URL+"/connectors/zendesk/webhook", bytes.NewReader(body))
	if sig != "" {
		req.Header.Set("X-Zendesk-Webhook-Signature", sig)
	}
	if ts != "" {
		req.Header.Set("X-Zendesk-Webhook-Signature-Timestamp", ts)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	var msg struct{ Error string }
	json.NewDecoder(resp.Body).Decode(&msg)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK && msg.Error == "" {
		t.Errorf("status %d without an error message", resp.StatusCode)
	}
	return resp.StatusCode
}

// A delivery accepted before a restart is still refused after it: the
// guard's memory is the store's, not the process's.
func TestWebhookReplayRefusedAfterRestart(t *testing.T) {
	e := newEngine(t)
	sess, ticketID := e.startMirrored(t)
	grace := e.fake.AddAgent("Grace", "grace@example.com")
	e.fake.SetWebhookURL("")
	if _, _, err := e.fake.AgentReply(ticketID, grace.ID, "Hello from Zendesk"); err != nil {
		t.Fatal(err)
	}
	body, _ := json.Marshal(zendesk.WebhookPayload{TicketID: strconv.FormatInt(ticketID, 10), CurrentUserID: strconv.FormatInt(grace.ID, 10)})
	now := e.clock.Now().UTC()
	ts := now.Format(time.RFC3339)
	good := zendesktest.Sign("whsec", ts, body)
	if got := e.postWebhook(t, body, good, ts); got != http.StatusOK {
		t.Fatalf("good webhook: status %d", got)
	}
	if got := e.postWebhook(t, body, good, ts); got != http.StatusConflict {
		t.Errorf("replay to the same connector: status %d, want 409", got)
	}
	e.restart(t)
	e.clock.Advance(4 * time.Minute) // still inside the freshness window
	if got := e.postWebhook(t, body, good, ts); got != http.StatusConflict {
		t.Errorf("replay after a restart: status %d, want 409", got)
	}
	stale := now.Add(-6 * time.Minute).Format(time.RFC3339)
	if got := e.postWebhook(t, body, zendesktest.Sign("whsec", stale, body), stale); got != http.StatusUnauthorized {
		t.Errorf("stale webhook after a restart: status %d, want 401", got)
	}
	if got := e.agentMessages(t, sess); len(got) != 1 || got[0].Content != "Hello from Zendesk" {
		t.Errorf("agent messages = %v, want the one reply once", contents(got))
	}
}

func TestWebhookRefusesBadRequests(t *testing.T) {
	e := newEngine(t)
	sess, ticketID := e.startMirrored(t)
	grace := e.fake.AddAgent("Grace", "grace@example.com")
	// An agent comment the fake holds but whose webhook tests forge.
	body, _ := json.Marshal(zendesk.WebhookPayload{TicketID: strconv.FormatInt(ticketID, 10), CurrentUserID: strconv.FormatInt(grace.ID, 10)})
	post := func(sig, ts string) int { return e.postWebhook(t, body, sig, ts) }
	// Put a reply in the ticket without its webhook, through a
	// webhook-less trigger: only a good webhook may bring it in.
	e.fake.SetWebhookURL("")
	if _, _, err := e.fake.AgentReply(ticketID, grace.ID, "Hello from Zendesk"); err != nil {
		t.Fatal(err)
	}
	now := e.clock.Now().UTC()
	ts := now.Format(time.RFC3339)
	stale := now.Add(-6 * time.Minute).Format(time.RFC3339)
	for _, tc := range []struct {
		name    string
		sig, ts string
		want    int
	}{
		{"unsigned", "", "", http.StatusUnauthorized},
		{"badly signed", zendesktest.Sign("wrong", ts, body), ts, http.StatusUnauthorized},
		{"stale", zendesktest.Sign("whsec", stale, body), stale, http.StatusUnauthorized},
	} {
		if got := post(tc.sig, tc.ts); got != tc.want {
			t.Errorf("%s: status %d, want %d", tc.name, got, tc.want)
		}
	}
	if got := e.agentMessages(t, sess); len(got) != 0 {
		t.Fatalf("refused webhooks appended %v", contents(got))
	}
	good := zendesktest.Sign("whsec", ts, body)
	if got := post(good, ts); got != http.StatusOK {
		t.Fatalf("good webhook: status %d", got)
	}
	if got := post(good, ts); got != http.StatusConflict {
		t.Errorf("replayed webhook: status %d, want 409", got)
	}
	if got := e.agentMessages(t, sess); len(got) != 1 || got[0].Content != "Hello from Zendesk" {
		t.Errorf("agent messages = %v, want the one reply once", contents(got))
	}
}

func TestTicketActions(t *testing.T) {
	e := newEngine(t)
	sess, ticketID := e.startMirrored(t)
	contactID := sess.Contact.ID
	grace := e.fake.AddAgent("Grace", "grace@example.com")

	if _, err := e.conn.Ticket(ctx, "no-such-contact"); helpline.ErrorCode(err) != helpline.ENOTFOUND {
		t.Errorf("Ticket of an unmirrored contact: %v, want ENOTFOUND", err)
	}
	tk, err := e.conn.Ticket(ctx, contactID)
	if err != nil || tk.ID != strconv.FormatInt(ticketID, 10) || tk.Subject != "Chat with Ada" {
		t.Fatalf("Ticket = %+v, %v", tk, err)
	}
	if _, err := e.conn.Reply(ctx, contactID, "We are on it."); err != nil {
		t.Fatal(err)
	}
	note, err := e.conn.AddNote(ctx, contactID, "VIP customer")
	if err != nil || note.Public || note.ID == "" {
		t.Fatalf("AddNote = %+v, %v", note, err)
	}
	latest, err := e.conn.LatestMessage(ctx, contactID)
	if err != nil || latest.Body != "VIP customer" || latest.ID != note.ID {
		t.Fatalf("LatestMessage = %+v, %v", latest, err)
	}
	if _, err := e.conn.Assign(ctx, contactID, helpline.TicketAssignment{AssigneeID: "424242"}); helpline.ErrorCode(err) != helpline.EINVALID {
		t.Errorf("Assign to an unknown agent: %v, want EINVALID", err)
	}
	tk, err = e.conn.HandOff(ctx, contactID, helpline.TicketAssignment{AssigneeID: strconv.FormatInt(grace.ID, 10), GroupID: "55"}, "Wants a refund for order 1234.")
	if err != nil || tk.AssigneeID != strconv.FormatInt(grace.ID, 10) || tk.GroupID != "55" {
		t.Fatalf("HandOff = %+v, %v", tk, err)
	}
	held, _ := e.fake.TicketByExternalID(contactID)
	n := len(held.Comments)
	if n < 3 || held.Comments[n-1].Body != "Wants a refund for order 1234." || held.Comments[n-1].Public ||
		held.Comments[n-3].Body != "We are on it." || !held.Comments[n-3].Public {
		t.Errorf("ticket comments = %+v", held.Comments)
	}
	// The bot's public reply was made through the API: no webhook, and
	// it would not echo anyway.
	if got := e.agentMessages(t, sess); len(got) != 0 {
		t.Errorf("agent messages = %v, want none", contents(got))
	}
}
