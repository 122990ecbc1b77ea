package httpapi_test

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/helplinehq/helpline"
	"github.com/helplinehq/helpline/blobfs"
	"github.com/helplinehq/helpline/chat"
	"github.com/helplinehq/helpline/httpapi"
	"github.com/helplinehq/helpline/inmem"
	"github.com/helplinehq/helpline/sqlite"
)

// chatEnv is the agent API with its chat endpoints over a real engine.
// Instance i1 has the queue sales (served by ada and bob, both online)
// and a flow f into it, and a flow fb whose chats its bot answers first;
// i2 has a flow g with no queue.
type chatEnv struct {
	*agentEnv
	engine *chat.Service
	creds  map[string]creds
}

func newChatEnv(t *testing.T, tune ...func(*httpapi.AgentConfig)) *chatEnv {
	t.Helper()
	ctx := context.Background()
	var engine *chat.Service
	e := newAgentEnv(t, func(cfg *httpapi.AgentConfig) {
		for _, f := range tune {
			f(cfg)
		}
		db := cfg.Agents.(*sqlite.DB)
		blobs, err := blobfs.New(t.TempDir())
		if err != nil {
			t.Fatal(err)
		}
		engine = chat.New(chat.Config{Store: db, Bus: inmem.NewBus(), Blobs: blobs,
			Tokens: helpline.NewTokens([]byte("0123456789abcdef0123456789abcdef")), Now: cfg.Now})
		cfg.Desk, cfg.Participants, cfg.Mirrors = engine, engine, db
	})
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(e.store.SaveInstance(ctx, &helpline.Instance{ID: "i1", Name: "i1", Flows: []helpline.Flow{{ID: "f", Name: "f", Queue: "sales"},
		{ID: "fb", Name: "fb", Queue: "sales", Bot: "shop"}}}))
	must(e.store.SaveInstance(ctx, &helpline.Instance{ID: "i2", Name: "i2", Flows: []helpline.Flow{{ID: "g", Name: "g"}}}))
	must(e.store.SaveQueue(ctx, &helpline.Queue{InstanceID: "i1", ID: "sales", Name: "Sales"}))
	must(e.store.SaveQueue(ctx, &helpline.Queue{InstanceID: "i1", ID: "empty"}))
	must(e.store.CreateAgent(ctx, &helpline.Agent{InstanceID: "i1", ID: "bob", DisplayName: "Bob", Email: "bob@example.com",
		PasswordHash: hashed, Role: helpline.AgentRoleAgent, Queues: []string{"sales"}, Enabled: true}))
	for _, id := range []string{"ada", "bob"} {
		must(e.store.SetPresence(ctx, "i1", id, helpline.PresenceOnline, e.clock.Now()))
		must(e.store.TouchAgent(ctx, "i1", id, e.clock.Now()))
	}
	ce := &chatEnv{agentEnv: e, engine: engine, creds: map[string]creds{}}
	for _, id := range []string{"ada", "bob", "sue", "eve"} {
		ce.creds[id] = e.login(id)
	}
	ce.creds["ada-nocsrf"] = creds{cookie: ce.creds["ada"].cookie}
	for _, role := range []string{helpline.AgentRoleAgent, helpline.AgentRoleSupervisor} {
		tok, secret, err := helpline.NewAPIToken("i1", role, role, "test", e.clock.Now())
		must(err)
		must(e.store.CreateAPIToken(ctx, tok))
		ce.creds[role+"-token"] = creds{bearer: secret}
	}
	return ce
}

// startChat starts a chat in instance i1 (waiting in sales) or i2.
func (e *chatEnv) startChat(instance string) *helpline.Contact {
	e.t.Helper()
	flow := map[string]string{"i1": "f", "i2": "g"}[instance]
	started, err := e.engine.StartChat(context.Background(), helpline.StartChatInput{InstanceID: instance, ContactFlowID: flow,
		DisplayName: "Carol", Attributes: map[string]string{"bot_summary": "wants a refund", "order": "A1"}})
	if err != nil {
		e.t.Fatal(err)
	}
	return started.Contact
}

// startBotChat starts a chat in i1's flow fb, owned by bot:shop.
func (e *chatEnv) startBotChat() *helpline.Contact {
	e.t.Helper()
	started, err := e.engine.StartChat(context.Background(), helpline.StartChatInput{InstanceID: "i1", ContactFlowID: "fb", DisplayName: "Carol"})
	if err != nil {
		e.t.Fatal(err)
	}
	return started.Contact
}

// assign gives contact c to agent id (which joins the chat).
func (e *chatEnv) assign(c *helpline.Contact, id string) *helpline.Contact {
	e.t.Helper()
	c, _, err := e.engine.ChangeOwner(context.Background(), helpline.OwnerChange{ContactID: c.ID, From: c.Owner,
		Version: c.Version, To: "agent:" + id, Reason: "transfer", Actor: "test"})
	if err != nil {
		e.t.Fatal(err)
	}
	return c
}

// offer offers contact c, waiting in sales, to agent id.
func (e *chatEnv) offer(c *helpline.Contact, id string) *helpline.Offer {
	e.t.Helper()
	now := e.clock.Now()
	o := &helpline.Offer{InstanceID: c.InstanceID, ContactID: c.ID, QueueID: "sales", AgentID: id,
		ContactVersion: c.Version, CreatedAt: now, ExpiresAt: now.Add(helpline.DefaultAcceptWithin)}
	if err := e.store.CreateOffer(context.Background(), o); err != nil {
		e.t.Fatal(err)
	}
	return o
}

// end ends a contact, so that it weighs on no agent's capacity.
func (e *chatEnv) end(c *helpline.Contact) {
	if err := e.engine.StopContact(context.Background(), c.InstanceID, c.ID); err != nil {
		e.t.Fatal(err)
	}
}

// who are the principals every endpoint is tried with.
var who = []string{"ada", "ada-nocsrf", "bob", "sue", "agent-token", "supervisor-token", "eve", "nobody"}

// Outcomes by principal for the kinds of endpoint. A chat is ada's; an
// offer is made to ada.
var (
	// reads of ada's chat: ada, the supervisor and a supervisor token.
	chatRead = map[string]int{"ada": 200, "ada-nocsrf": 200, "bob": 403, "sue": 200, "agent-token": 403, "supervisor-token": 200, "eve": 404, "nobody": 401}
	// writing in ada's chat: ada alone, with the CSRF token.
	chatWrite = map[string]int{"ada": 200, "ada-nocsrf": 403, "bob": 403, "sue": 403, "agent-token": 403, "supervisor-token": 403, "eve": 404, "nobody": 401}
	// acting on ada's chat: ada, the supervisor, a supervisor token.
	chatAct = map[string]int{"ada": 200, "ada-nocsrf": 403, "bob": 403, "sue": 200, "agent-token": 403, "supervisor-token": 200, "eve": 404, "nobody": 401}
	// supervisors' actions.
	chatSupervise = map[string]int{"ada": 403, "ada-nocsrf": 403, "bob": 403, "sue": 200, "agent-token": 403, "supervisor-token": 200, "eve": 404, "nobody": 401}
	// ada's offer: ada alone; other agents do not see it exists.
	offerAct  = map[string]int{"ada": 200, "ada-nocsrf": 403, "bob": 404, "sue": 404, "agent-token": 403, "supervisor-token": 403, "eve": 404, "nobody": 401}
	offerList = map[string]int{"ada": 200, "ada-nocsrf": 200, "bob": 200, "sue": 200, "agent-token": 403, "supervisor-token": 403, "eve": 200, "nobody": 401}
	// listing what is one's own: any agent or a supervisor token.
	ownList = map[string]int{"ada": 200, "ada-nocsrf": 200, "bob": 200, "sue": 200, "agent-token": 403, "supervisor-token": 200, "eve": 200, "nobody": 401}
	allList = map[string]int{"ada": 403, "ada-nocsrf": 403, "bob": 403, "sue": 200, "agent-token": 403, "supervisor-token": 200, "eve": 200, "nobody": 401}
)

func TestAgentChatEndpointsAuthorisation(t *testing.T) {
	e := newChatEnv(t)
	type endpoint struct {
		method, path, body string // {c} is the contact, {o} the offer, {m} a message of the chat
		want               map[string]int
		ok                 int // the status of success, if not 200
	}
	for _, ep := range []endpoint{
		{"GET", "/api/agent/queues", "", ownList, 0},
		{"GET", "/api/agent/offers", "", offerList, 0},
		{"POST", "/api/agent/offers/{o}/accept", "", offerAct, 0},
		{"POST", "/api/agent/offers/{o}/decline", "", offerAct, 204},
		{"GET", "/api/agent/chats", "", ownList, 0},
		{"GET", "/api/agent/chats?all=1", "", allList, 0},
		{"GET", "/api/agent/chats/{c}", "", chatRead, 0},
		{"GET", "/api/agent/chats/{c}/transcript?after=0&limit=5", "", chatRead, 0},
		{"POST", "/api/agent/chats/{c}/messages", `{"content":"hello","client_token":"t1"}`, chatWrite, 0},
		{"POST", "/api/agent/chats/{c}/typing", "", chatWrite, 204},
		{"POST", "/api/agent/chats/{c}/read", `{"message_id":"{m}"}`, chatWrite, 0},
		{"POST", "/api/agent/chats/{c}/attachments", `{"name":"a.txt","content_type":"text/plain","size":3,"client_token":"a1"}`, chatWrite, 201},
		{"POST", "/api/agent/chats/{c}/transfer", `{"queue_id":"sales"}`, chatAct, 0},
		{"POST", "/api/agent/chats/{c}/close", "", chatAct, 204},
		{"POST", "/api/agent/chats/{c}/reassign", `{"agent_id":"bob"}`, chatSupervise, 0},
	} {
		for _, p := range who {
			c := e.startChat("i1")
			var o *helpline.Offer
			if strings.Contains(ep.path, "{o}") {
				o = e.offer(c, "ada")
			} else {
				c = e.assign(c, "ada")
			}
			msg, err := e.engine.Notify(context.Background(), c.ID, "a line", "")
			if err != nil {
				t.Fatal(err)
			}
			path, body := strings.ReplaceAll(ep.path, "{c}", c.ID), strings.ReplaceAll(ep.body, "{m}", msg.ID)
			if o != nil {
				path = strings.ReplaceAll(path, "{o}", o.ID)
			}
			want := ep.want[p]
			if want == 200 && ep.ok != 0 {
				want = ep.ok
			}
			if ans := e.do(ep.method, path, body, e.creds[p]); ans.status != want {
				t.Errorf("%s %s as %s: %d %s, want %d", ep.method, ep.path, p, ans.status, ans.raw, want)
			} else if want >= 400 && ans.code() == "" {
				t.Errorf("%s %s as %s: %s, want an error body", ep.method, ep.path, p, ans.raw)
			}
			if o != nil {
				e.store.CloseOffer(context.Background(), o.ID, helpline.OfferWithdrawn, e.clock.Now())
			}
			e.end(c)
		}
	}
}

func TestAgentChatBadInput(t *testing.T) {
	e := newChatEnv(t)
	ada, sue := e.creds["ada"], e.creds["sue"]
	c := e.assign(e.startChat("i1"), "ada")
	other := e.startChat("i2")
	for _, tc := range []struct {
		who                creds
		method, path, body string
		status             int
		code               string
	}{
		{ada, "POST", "/api/agent/offers/nope/accept", "", 404, "not_found"},
		{ada, "POST", "/api/agent/offers/nope/decline", "", 404, "not_found"},
		{sue, "GET", "/api/agent/chats?all=yes", "", 400, "invalid"},
		{ada, "GET", "/api/agent/chats/nope", "", 404, "not_found"},
		{ada, "GET", "/api/agent/chats/" + other.ID, "", 404, "not_found"},
		{ada, "GET", "/api/agent/chats/{c}/transcript?after=-1", "", 400, "invalid"},
		{ada, "GET", "/api/agent/chats/{c}/transcript?after=x", "", 400, "invalid"},
		{ada, "GET", "/api/agent/chats/{c}/transcript?limit=0", "", 400, "invalid"},
		{ada, "GET", "/api/agent/chats/{c}/transcript?limit=101", "", 400, "invalid"},
		{ada, "POST", "/api/agent/chats/{c}/messages", `{"content":"hi"}`, 400, "invalid"},
		{ada, "POST", "/api/agent/chats/{c}/messages", `{"client_token":"x"}`, 400, "invalid"},
		{ada, "POST", "/api/agent/chats/{c}/messages", `{"content":"hi","client_token":"x","extra":1}`, 400, "invalid"},
		{ada, "POST", "/api/agent/chats/{c}/messages", `{"content":"hi","client_token":"x","content_type":"image/gif"}`, 400, "invalid"},
		{ada, "POST", "/api/agent/chats/{c}/messages", `{"content":"` + strings.Repeat("x", 70<<10) + `","client_token":"x"}`, 413, "too_large"},
		{ada, "POST", "/api/agent/chats/{c}/messages", `not json`, 400, "invalid"},
		{ada, "POST", "/api/agent/chats/{c}/typing", `{"x":1}`, 400, "invalid"},
		{ada, "POST", "/api/agent/chats/{c}/read", `{}`, 400, "invalid"},
		{ada, "POST", "/api/agent/chats/{c}/read", `{"message_id":"nope"}`, 400, "invalid"},
		{ada, "POST", "/api/agent/chats/{c}/attachments", `{"name":"a.exe","content_type":"application/x-msdownload","size":3,"client_token":"a"}`, 400, "invalid"},
		{ada, "POST", "/api/agent/chats/{c}/attachments", `{"name":"a.txt","content_type":"text/plain","size":0,"client_token":"a"}`, 400, "invalid"},
		{ada, "POST", "/api/agent/chats/{c}/attachments", `{"name":"a.txt","content_type":"text/plain","size":3}`, 400, "invalid"},
		{ada, "PUT", "/api/agent/chats/{c}/attachments/nope", "abc", 400, "invalid"},
		{ada, "PUT", "/api/agent/chats/{c}/attachments/nope?token=forged", "abc", 400, "invalid"},
		{ada, "POST", "/api/agent/chats/{c}/attachments/nope/complete", `{"client_token":"c"}`, 400, "invalid"},
		{ada, "POST", "/api/agent/chats/{c}/attachments/nope/complete", `{}`, 400, "invalid"},
		{ada, "POST", "/api/agent/chats/{c}/transfer", `{}`, 400, "invalid"},
		{ada, "POST", "/api/agent/chats/{c}/transfer", `{"agent_id":"bob","queue_id":"sales"}`, 400, "invalid"},
		{ada, "POST", "/api/agent/chats/{c}/transfer", `{"queue_id":"nope"}`, 404, "not_found"},
		{ada, "POST", "/api/agent/chats/{c}/transfer", `{"agent_id":"nope"}`, 404, "not_found"},
		{ada, "POST", "/api/agent/chats/{c}/transfer", `{"agent_id":"sue"}`, 409, "conflict"},
		{ada, "POST", "/api/agent/chats/{c}/transfer", `{"agent_id":"ada"}`, 400, "invalid"},
		{ada, "POST", "/api/agent/chats/{c}/close", `{"reason":"x"}`, 400, "invalid"},
		{sue, "POST", "/api/agent/chats/{c}/reassign", `{}`, 400, "invalid"},
		{sue, "POST", "/api/agent/chats/{c}/reassign", `{"agent_id":"ghost"}`, 404, "not_found"},
		{ada, "GET", "/api/agent/nowhere", "", 404, "not_found"},
	} {
		path := strings.ReplaceAll(tc.path, "{c}", c.ID)
		who := tc.who
		if ans := e.do(tc.method, path, tc.body, who); ans.status != tc.status || ans.code() != tc.code {
			t.Errorf("%s %s %.60s: %d %s, want %d %s", tc.method, tc.path, tc.body, ans.status, ans.raw, tc.status, tc.code)
		}
	}
	// Nothing refused was taken: the chat is still ada's, with no line of hers.
	ans := e.do("GET", "/api/agent/chats/"+c.ID+"/transcript", "", ada)
	if ans.status != 200 {
		t.Fatalf("transcript: %d %s", ans.status, ans.raw)
	}
	for _, it := range ans.body["items"].([]any) {
		if m := it.(map[string]any); m["type"] == "MESSAGE" || m["type"] == "ATTACHMENT" {
			t.Errorf("refused input left %v in the transcript", m)
		}
	}
	if got, _ := e.store.FindContactByID(context.Background(), c.ID); got.Owner != "agent:ada" {
		t.Errorf("owner after refused transfers = %s, want agent:ada", got.Owner)
	}
}

func TestAgentChatFlow(t *testing.T) {
	e := newChatEnv(t)
	ctx := context.Background()
	ada, sue := e.creds["ada"], e.creds["sue"]
	c := e.startChat("i1")

	if ans := e.do("GET", "/api/agent/queues", "", ada); ans.status != 200 || !strings.Contains(ans.raw, `"id":"sales","name":"Sales","routing":"longest_idle","waiting":1`) {
		t.Errorf("queues: %d %s, want sales with 1 waiting", ans.status, ans.raw)
	}
	o := e.offer(c, "ada")
	ans := e.do("GET", "/api/agent/offers", "", ada)
	if offers, _ := ans.body["offers"].([]any); len(offers) != 1 || offers[0].(map[string]any)["id"] != o.ID || offers[0].(map[string]any)["expires_at"] == nil {
		t.Fatalf("offers: %s, want the one offer with its expiry", ans.raw)
	}
	if ans := e.do("GET", "/api/agent/offers", "", e.creds["bob"]); ans.raw != "{\"offers\":[]}\n" {
		t.Errorf("bob's offers: %s, want none", ans.raw)
	}
	if ans := e.do("POST", "/api/agent/offers/"+o.ID+"/accept", "", ada); ans.status != 200 || ans.body["owner"] != "agent:ada" {
		t.Fatalf("accept: %d %s", ans.status, ans.raw)
	}
	if ans := e.do("POST", "/api/agent/offers/"+o.ID+"/accept", "", ada); ans.status != 409 || ans.code() != "conflict" {
		t.Errorf("accepting twice: %d %s, want 409 conflict", ans.status, ans.raw)
	}
	if ans := e.do("GET", "/api/agent/chats", "", ada); !strings.Contains(ans.raw, c.ID) {
		t.Errorf("ada's chats: %s, want %s", ans.raw, c.ID)
	}
	if ans := e.do("GET", "/api/agent/chats", "", e.creds["bob"]); strings.Contains(ans.raw, c.ID) {
		t.Errorf("bob's chats: %s, want not %s", ans.raw, c.ID)
	}
	waiting := e.startChat("i1")
	if ans := e.do("GET", "/api/agent/chats?all=1", "", sue); !strings.Contains(ans.raw, c.ID) || !strings.Contains(ans.raw, waiting.ID) {
		t.Errorf("all chats: %s, want %s and the waiting %s", ans.raw, c.ID, waiting.ID)
	}

	// The chat and its context.
	ans = e.do("GET", "/api/agent/chats/"+c.ID, "", ada)
	cust, _ := ans.body["customer"].(map[string]any)
	if ans.status != 200 || ans.body["bot_summary"] != "wants a refund" || cust["display_name"] != "Carol" || ans.body["attributes"].(map[string]any)["order"] != "A1" {
		t.Errorf("chat: %d %s", ans.status, ans.raw)
	}
	if tickets, _ := ans.body["tickets"].([]any); tickets == nil || len(tickets) != 0 {
		t.Errorf("tickets: %v, want none (no connector mirrors here; the end-to-end test shows linked ones)", ans.body["tickets"])
	}

	// Messages are idempotent on client_token.
	first := e.do("POST", "/api/agent/chats/"+c.ID+"/messages", `{"content":"Hi Carol, Ada here.","client_token":"m1"}`, ada)
	again := e.do("POST", "/api/agent/chats/"+c.ID+"/messages", `{"content":"Hi Carol, Ada here.","client_token":"m1"}`, ada)
	if first.status != 200 || first.body["id"] != again.body["id"] || first.body["role"] != "AGENT" || first.body["display_name"] != "ada" {
		t.Errorf("send and retry: %s / %s, want one AGENT item", first.raw, again.raw)
	}
	if ans := e.do("POST", "/api/agent/chats/"+c.ID+"/read", fmt.Sprintf(`{"message_id":%q}`, first.body["id"]), ada); ans.status != 200 || ans.body["type"] != "MESSAGEMETADATA" {
		t.Errorf("read: %d %s", ans.status, ans.raw)
	}

	// An attachment: start, upload, complete.
	ans = e.do("POST", "/api/agent/chats/"+c.ID+"/attachments", `{"name":"note.txt","content_type":"text/plain","size":5,"client_token":"a1"}`, ada)
	upload, _ := ans.body["upload_url"].(string)
	attachment, _ := ans.body["attachment_id"].(string)
	if ans.status != 201 || upload == "" || attachment == "" {
		t.Fatalf("start attachment: %d %s", ans.status, ans.raw)
	}
	up := e.do("PUT", upload, "hello", creds{cookie: ada.cookie, csrf: ada.csrf, ctype: "text/plain"})
	if up.status != 204 {
		t.Fatalf("upload: %d %s", up.status, up.raw)
	}
	if ans := e.do("PUT", upload, "hello!", creds{cookie: ada.cookie, csrf: ada.csrf, ctype: "text/plain"}); ans.status != 400 || ans.code() != "invalid" {
		t.Errorf("a wrong size: %d %s, want 400 invalid", ans.status, ans.raw)
	}
	done := e.do("POST", "/api/agent/chats/"+c.ID+"/attachments/"+attachment+"/complete", `{"client_token":"c1"}`, ada)
	retry := e.do("POST", "/api/agent/chats/"+c.ID+"/attachments/"+attachment+"/complete", `{"client_token":"c1"}`, ada)
	if done.status != 200 || done.body["type"] != "ATTACHMENT" || retry.body["seq"] != done.body["seq"] {
		t.Errorf("complete and retry: %d %s / %s, want one ATTACHMENT item", done.status, done.raw, retry.raw)
	}
	// Its agent downloads it, always as a download; a supervisor, who does
	// not speak in the chat, may not; an unknown one is not found.
	down := e.do("GET", "/api/agent/chats/"+c.ID+"/attachments/"+attachment, "", ada)
	if down.status != 200 || down.raw != "hello" || down.header.Get("Content-Disposition") != "attachment; filename=note.txt" ||
		down.header.Get("X-Content-Type-Options") != "nosniff" {
		t.Errorf("download: %d %v %q", down.status, down.header, down.raw)
	}
	if ans := e.do("GET", "/api/agent/chats/"+c.ID+"/attachments/"+attachment, "", sue); ans.status != 403 {
		t.Errorf("a supervisor's download: %d %s, want 403", ans.status, ans.raw)
	}
	if ans := e.do("GET", "/api/agent/chats/"+c.ID+"/attachments/nope", "", ada); ans.status != 404 {
		t.Errorf("an unknown attachment: %d %s, want 404", ans.status, ans.raw)
	}

	// The transcript pages by seq.
	var seqs []float64
	after := 0.0
	for range 20 {
		ans := e.do("GET", fmt.Sprintf("/api/agent/chats/%s/transcript?after=%d&limit=2", c.ID, int(after)), "", ada)
		for _, it := range ans.body["items"].([]any) {
			seqs = append(seqs, it.(map[string]any)["seq"].(float64))
		}
		after = ans.body["next_after"].(float64)
		if ans.body["more"] != true {
			break
		}
	}
	latest, _ := e.store.FindContactByID(ctx, c.ID)
	for i, s := range seqs {
		if s != float64(i+1) {
			t.Fatalf("pages gave seqs %v, want 1..%d each once", seqs, latest.LastSeq)
		}
	}
	if int64(len(seqs)) != latest.LastSeq {
		t.Errorf("pages gave %d items, want %d", len(seqs), latest.LastSeq)
	}

	// A transfer into a queue nobody serves online is flagged; a
	// supervisor reassigns it to bob; ada may no longer read it.
	if ans := e.do("POST", "/api/agent/chats/"+c.ID+"/transfer", `{"queue_id":"empty"}`, ada); ans.status != 200 || ans.body["nobody_online"] != true || ans.body["owner"] != "queue:empty" {
		t.Errorf("transfer to an empty queue: %d %s", ans.status, ans.raw)
	}
	if ans := e.do("GET", "/api/agent/chats/"+c.ID, "", ada); ans.status != 403 {
		t.Errorf("ada reading a chat transferred away: %d, want 403", ans.status)
	}
	if ans := e.do("POST", "/api/agent/chats/"+c.ID+"/reassign", `{"agent_id":"bob"}`, sue); ans.status != 200 || ans.body["owner"] != "agent:bob" || ans.body["nobody_online"] != false {
		t.Errorf("reassign: %d %s", ans.status, ans.raw)
	}
	bob := e.creds["bob"]
	if ans := e.do("POST", "/api/agent/chats/"+c.ID+"/messages", `{"content":"Bob here.","client_token":"b1"}`, bob); ans.status != 200 || ans.body["display_name"] != "Bob" {
		t.Errorf("bob writes: %d %s", ans.status, ans.raw)
	}
	if ans := e.do("POST", "/api/agent/chats/"+c.ID+"/close", "", bob); ans.status != 204 {
		t.Fatalf("close: %d %s", ans.status, ans.raw)
	}
	got, _ := e.store.FindContactByID(ctx, c.ID)
	if !got.Ended() || got.EndReason != helpline.EndAgentDisconnect {
		t.Errorf("after close: %s %s, want ended with AGENT_DISCONNECT", got.State, got.EndReason)
	}
	last, _ := e.engine.ItemsAfter(ctx, c.ID, got.LastSeq-1, 1)
	if len(last) != 1 || last[0].ContentType != helpline.EventChatEnded {
		t.Errorf("last item %+v, want chat.ended", last)
	}
	if ans := e.do("POST", "/api/agent/chats/"+c.ID+"/messages", `{"content":"late","client_token":"b2"}`, bob); ans.status != 403 {
		t.Errorf("writing after close: %d %s, want 403", ans.status, ans.raw)
	}
	if ans := e.do("POST", "/api/agent/chats/"+c.ID+"/close", "", sue); ans.status != 204 {
		t.Errorf("closing a closed chat as supervisor: %d %s, want 204", ans.status, ans.raw)
	}
}

func TestPresenceIsAHeartbeat(t *testing.T) {
	e := newAgentEnv(t, nil)
	s := e.login("ada")
	if ans := e.do("PUT", "/api/agent/presence", `{"status":"online"}`, s); ans.status != http.StatusOK {
		t.Fatalf("presence: %d %s", ans.status, ans.raw)
	}
	p, err := e.store.FindPresence(context.Background(), "i1", "ada")
	if err != nil || !p.SeenAt.Equal(e.clock.Now()) {
		t.Errorf("SeenAt = %v (%v), want %v: setting a presence counts as a live connection", p.SeenAt, err, e.clock.Now())
	}
}

// Handing a chat back to its bot is authorised as a transfer is; the
// chat is then the bot's, and its agent no longer reaches it. A chat whose
// flow has no bot, or that no agent holds, cannot be handed back.
func TestAgentChatHandback(t *testing.T) {
	e := newChatEnv(t)
	for _, p := range who {
		c := e.assign(e.startBotChat(), "ada")
		e.handBackAs(p, c)
		e.end(c)
	}

	noBot := e.assign(e.startChat("i1"), "ada")
	if ans := e.do("POST", "/api/agent/chats/"+noBot.ID+"/handback", "", e.creds["ada"]); ans.status != 409 || ans.code() != "conflict" {
		t.Errorf("handing back a chat whose flow has no bot: %d %s, want 409 conflict", ans.status, ans.raw)
	}
	waiting := e.startChat("i1")
	if ans := e.do("POST", "/api/agent/chats/"+waiting.ID+"/handback", "", e.creds["sue"]); ans.status != 409 {
		t.Errorf("handing back a chat waiting in a queue: %d %s, want 409", ans.status, ans.raw)
	}
	if ans := e.do("POST", "/api/agent/chats/"+noBot.ID+"/handback", `{"x":1}`, e.creds["ada"]); ans.status != 400 {
		t.Errorf("handback with a body: %d %s, want 400", ans.status, ans.raw)
	}
}

// handBackAs hands ada's chat c back as principal p and checks the
// outcome.
func (e *chatEnv) handBackAs(p string, c *helpline.Contact) {
	t := e.t
	t.Helper()
	want := chatAct[p]
	ans := e.do("POST", "/api/agent/chats/"+c.ID+"/handback", "", e.creds[p])
	if ans.status != want {
		t.Errorf("handback as %s: %d %s, want %d", p, ans.status, ans.raw, want)
		return
	}
	got, err := e.engine.FindContact(context.Background(), "i1", c.ID)
	if err != nil {
		t.Fatal(err)
	}
	if want != 200 {
		if got.Owner != "agent:ada" {
			t.Errorf("after a refused handback as %s the owner is %q", p, got.Owner)
		}
		return
	}
	if got.Owner != "bot:shop" || !strings.Contains(ans.raw, `"owner":"bot:shop"`) {
		t.Errorf("handback as %s: %s, stored owner %q; want bot:shop", p, ans.raw, got.Owner)
	}
	if ans := e.do("GET", "/api/agent/chats/"+c.ID, "", e.creds["ada"]); ans.status != 403 {
		t.Errorf("ada reading the chat after handing it back: %d, want 403", ans.status)
	}
}
