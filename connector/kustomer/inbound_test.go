package kustomer_test

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	"github.com/helplinehq/helpline"
	"github.com/helplinehq/helpline/blobfs"
	"github.com/helplinehq/helpline/chat"
	"github.com/helplinehq/helpline/clocktest"
	"github.com/helplinehq/helpline/connector/kustomer"
	"github.com/helplinehq/helpline/connector/kustomer/kustomertest"
	"github.com/helplinehq/helpline/inmem"
	"github.com/helplinehq/helpline/sqlite"
)

// engine is the real chat engine on SQLite and the in-process bus, with a
// Kustomer connector and its fake, the connector's webhook served as
// cmd/helpline serves it.
type engine struct {
	*fixture
	svc     *chat.Service
	store   helpline.Store
	hook    *httptest.Server
	serving atomic.Pointer[kustomer.Connector]
}

func newEngine(t *testing.T, set kustomer.Settings) *engine {
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
	c := clocktest.New(start)
	e.svc = chat.New(chat.Config{Store: db, Bus: bus, Blobs: blobs, Now: c.Now, Mirrors: []string{"kustomer"},
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
		http.StripPrefix("/connectors/kustomer", e.serving.Load()).ServeHTTP(w, r)
	}))
	t.Cleanup(e.hook.Close)
	set.WebhookSecretEnv = "KUSTOMER_WEBHOOK_SECRET"
	e.fixture = newFixtureClock(t, c, kustomertest.Options{WebhookURL: e.hook.URL + "/connectors/kustomer/webhook", WebhookSecret: "whsec"},
		set, helpline.ConnectorNode{Intake: e.svc, Mirrors: db, Replay: db})
	e.serving.Store(e.conn)
	return e
}

// startMirrored starts a chat and mirrors its first message the way the
// dispatcher would (claim, Mirror, save); it returns the customer's
// session and the conversation id.
func (e *engine) startMirrored(t *testing.T) (*helpline.Session, string) {
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
	pairs, err := e.store.ClaimMirrorPairs(ctx, "kustomer", sess.Contact.ID, "test", now, time.Minute, 1)
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
	return sess, res.Refs[kustomer.RefConversationID]
}

func (e *engine) agentMessages(t *testing.T, sess *helpline.Session) []string {
	t.Helper()
	page, err := e.svc.Transcript(ctx, sess, helpline.TranscriptQuery{MaxResults: 100, SortOrder: "ASCENDING"})
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, it := range page.Items {
		if it.Type == helpline.ItemMessage && it.Role == helpline.RoleAgent {
			out = append(out, it.DisplayName+": "+it.Content)
		}
	}
	return out
}

func (e *engine) post(t *testing.T, body []byte, sig string) int {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPost, e.hook.URL+"/connectors/kustomer/webhook", bytes.NewReader(body))
	if sig != "" {
		req.Header.Set("X-Kustomer-Webhook-Signature", sig)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var msg struct{ Error string }
	json.NewDecoder(resp.Body).Decode(&msg)
	if resp.StatusCode != http.StatusOK && msg.Error == "" {
		t.Errorf("status %d without an error message", resp.StatusCode)
	}
	return resp.StatusCode
}

func TestAgentReplyReachesTheChatOnceInOrder(t *testing.T) {
	e := newEngine(t, kustomer.Settings{})
	sess, convID := e.startMirrored(t)
	grace := e.fake.AddUser("Grace")

	// Two replies whose webhooks are held back, then delivered in
	// reverse order and the first one twice.
	e.fake.SetWebhookURL("")
	if _, _, err := e.fake.AgentReply(convID, grace, "It ships today."); err != nil {
		t.Fatal(err)
	}
	e.clock.Advance(time.Second)
	if _, _, err := e.fake.AgentReply(convID, grace, "Tracking: 1Z999."); err != nil {
		t.Fatal(err)
	}
	e.fake.SetWebhookURL(e.hook.URL + "/connectors/kustomer/webhook")
	whs := e.fake.Webhooks()
	for _, i := range []int{1, 0} {
		if status, err := e.fake.PostWebhook(whs[i].Event, whs[i].Body); err != nil || status != http.StatusOK {
			t.Fatalf("webhook %d: status %d, %v", i, status, err)
		}
	}
	if status, _ := e.fake.PostWebhook(whs[0].Event, whs[0].Body); status != http.StatusConflict {
		t.Errorf("a delivery of the same event again: status %d, want 409", status)
	}
	want := []string{"Grace: It ships today.", "Grace: Tracking: 1Z999."}
	if got := e.agentMessages(t, sess); len(got) != 2 || got[0] != want[0] || got[1] != want[1] {
		t.Fatalf("agent messages = %q, want %q", got, want)
	}
	// Helpline's own messages (app helpline) are never taken back.
	cv := only(t, e.fake, sess.Contact.ID)
	if n := len(cv.Messages); n != 3 {
		t.Errorf("%d messages in the conversation, want the customer's and two replies", n)
	}
}

func TestConversationDoneEndsTheChat(t *testing.T) {
	t.Run("end_chat_on_done", func(t *testing.T) {
		e := newEngine(t, kustomer.Settings{EndChatOnDone: true})
		sess, convID := e.startMirrored(t)
		if status, err := e.fake.SetStatus(convID, "done"); err != nil || status != http.StatusOK {
			t.Fatalf("webhook: status %d, %v", status, err)
		}
		c, err := e.svc.FindContact(ctx, "inst-1", sess.Contact.ID)
		if err != nil || c.State != helpline.ContactEnded {
			t.Errorf("contact %+v, %v; want it ended", c, err)
		}
	})
	t.Run("off by default", func(t *testing.T) {
		e := newEngine(t, kustomer.Settings{})
		sess, convID := e.startMirrored(t)
		if status, err := e.fake.SetStatus(convID, "done"); err != nil || status != http.StatusOK {
			t.Fatalf("webhook: status %d, %v", status, err)
		}
		c, err := e.svc.FindContact(ctx, "inst-1", sess.Contact.ID)
		if err != nil || c.State == helpline.ContactEnded {
			t.Errorf("contact %+v, %v; want it still active", c, err)
		}
	})
}

func TestWebhookRefusesBadRequests(t *testing.T) {
	e := newEngine(t, kustomer.Settings{EndChatOnDone: true})
	sess, convID := e.startMirrored(t)
	grace := e.fake.AddUser("Grace")
	e.fake.SetWebhookURL("")
	if _, _, err := e.fake.AgentReply(convID, grace, "Hello from Kustomer"); err != nil {
		t.Fatal(err)
	}
	// The reply is in Kustomer; tests forge its event.
	msgs := only(t, e.fake, sess.Contact.ID).Messages
	reply := msgs[len(msgs)-1]
	event := func(id string, at time.Time) []byte {
		b, _ := json.Marshal(map[string]any{"id": id, "name": "kustomer.message.create", "createdAt": at.Format(time.RFC3339),
			"data": map[string]any{"type": "message", "id": reply.ID,
				"attributes":    map[string]any{"direction": "out", "app": "chat", "preview": reply.Preview},
				"relationships": map[string]any{"conversation": map[string]any{"data": map[string]string{"type": "conversation", "id": convID}}}}})
		return b
	}
	now := e.clock.Now()
	good := event("evt-1", now)
	done, _ := json.Marshal(map[string]any{"id": "evt-2", "name": "kustomer.conversation.update", "createdAt": now.Format(time.RFC3339),
		"data": map[string]any{"type": "conversation", "id": convID, "attributes": map[string]any{"status": "done"}}})
	for _, tc := range []struct {
		name string
		body []byte
		sig  string
		want int
	}{
		{"unsigned", good, "", http.StatusUnauthorized},
		{"signature not hex", good, "not-hex", http.StatusUnauthorized},
		{"badly signed", good, kustomertest.Sign("wrong", good), http.StatusUnauthorized},
		{"signed for another body", good, kustomertest.Sign("whsec", event("evt-9", now)), http.StatusUnauthorized},
		{"unsigned end", done, "", http.StatusUnauthorized},
		{"malformed JSON", []byte(`{"id":`), kustomertest.Sign("whsec", []byte(`{"id":`)), http.StatusBadRequest},
		{"not an event", []byte(`{"hello":"world"}`), kustomertest.Sign("whsec", []byte(`{"hello":"world"}`)), http.StatusBadRequest},
		{"stale", event("evt-3", now.Add(-3*time.Hour)), kustomertest.Sign("whsec", event("evt-3", now.Add(-3*time.Hour))), http.StatusUnauthorized},
	} {
		if got := e.post(t, tc.body, tc.sig); got != tc.want {
			t.Errorf("%s: status %d, want %d", tc.name, got, tc.want)
		}
	}
	if got := e.agentMessages(t, sess); len(got) != 0 {
		t.Fatalf("refused webhooks appended %q", got)
	}
	if c, _ := e.svc.FindContact(ctx, "inst-1", sess.Contact.ID); c.State == helpline.ContactEnded {
		t.Fatal("a refused webhook ended the chat")
	}
	if got := e.post(t, good, kustomertest.Sign("whsec", good)); got != http.StatusOK {
		t.Fatalf("good webhook: status %d", got)
	}
	// A replay is refused, after a restart too: the guard keeps its
	// memory in the store.
	e.conn = e.build(t)
	e.serving.Store(e.conn)
	e.clock.Advance(30 * time.Minute)
	if got := e.post(t, good, kustomertest.Sign("whsec", good)); got != http.StatusConflict {
		t.Errorf("replayed webhook after a restart: status %d, want 409", got)
	}
	if got := e.agentMessages(t, sess); len(got) != 1 || got[0] != "Grace: Hello from Kustomer" {
		t.Errorf("agent messages = %q, want the one reply once", got)
	}
	// Requests the endpoint does not take.
	for _, tc := range []struct {
		method, path string
		want         int
	}{
		{http.MethodGet, "/webhook", http.StatusMethodNotAllowed},
		{http.MethodPost, "/other", http.StatusNotFound},
	} {
		req, _ := http.NewRequest(tc.method, e.hook.URL+"/connectors/kustomer"+tc.path, nil)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != tc.want {
			t.Errorf("%s %s: status %d, want %d", tc.method, tc.path, resp.StatusCode, tc.want)
		}
	}
}
