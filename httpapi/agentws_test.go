package httpapi_test

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/helplinehq/helpline"
	"github.com/helplinehq/helpline/chat"
	"github.com/helplinehq/helpline/clocktest"
	"github.com/helplinehq/helpline/httpapi"
	"github.com/helplinehq/helpline/inmem"
	"github.com/helplinehq/helpline/routing"
	"github.com/helplinehq/helpline/sqlite"
)

// wsEnv is the agent API with its WebSocket over a real SQLite store, the
// engine and the in-process bus, on a real HTTP server, with a fake clock.
// Instance i1 has the flow "sales" into queue sales, which ada (agent)
// serves; sue is a supervisor.
type wsEnv struct {
	t      *testing.T
	store  *sqlite.DB
	bus    helpline.Bus
	engine *chat.Service
	clock  *clocktest.Clock
	srv    *httptest.Server
}

const wsGrace = time.Minute

func newWSEnv(t *testing.T, tune func(*httpapi.AgentConfig)) *wsEnv {
	t.Helper()
	hashOnce.Do(func() {
		var err error
		if hashed, err = routing.HashPassword(password); err != nil {
			panic(err)
		}
	})
	ctx := context.Background()
	db, err := sqlite.Open(filepath.Join(t.TempDir(), "helpline.db"))
	if err != nil {
		t.Fatal(err)
	}
	in := &helpline.Instance{ID: "i1", Name: "i1", Flows: []helpline.Flow{{ID: "sales", Name: "Sales", Queue: "sales"}}}
	if err := db.SaveInstance(ctx, in); err != nil {
		t.Fatal(err)
	}
	if err := db.SaveQueue(ctx, &helpline.Queue{InstanceID: "i1", ID: "sales"}); err != nil {
		t.Fatal(err)
	}
	for _, a := range []*helpline.Agent{
		{InstanceID: "i1", ID: "ada", Role: helpline.AgentRoleAgent, Queues: []string{"sales"}, Enabled: true},
		{InstanceID: "i1", ID: "sue", Role: helpline.AgentRoleSupervisor, Enabled: true},
	} {
		a.Email, a.DisplayName, a.PasswordHash = a.ID+"@example.com", a.ID, hashed
		if err := db.CreateAgent(ctx, a); err != nil {
			t.Fatal(err)
		}
	}
	e := &wsEnv{t: t, store: db, bus: inmem.NewBus(), clock: clocktest.New(time.Date(2024, 5, 1, 9, 0, 0, 0, time.UTC))}
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	e.engine = chat.New(chat.Config{Store: db, Bus: e.bus, Tokens: helpline.NewTokens([]byte("0123456789abcdef0123456789abcdef")),
		Now: e.clock.Now, Logger: quiet, PresenceGrace: wsGrace})
	runCtx, cancel := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- e.engine.Run(runCtx) }()
	<-e.engine.Ready()
	cfg := httpapi.AgentConfig{Agents: db, CheckPassword: routing.CheckPassword, DefaultInstance: "i1",
		CSRFKey: []byte("0123456789abcdef0123456789abcdef"), Now: e.clock.Now, Logger: quiet,
		Feed: e.engine, Bus: e.bus}
	if tune != nil {
		tune(&cfg)
	}
	e.srv = httptest.NewServer(httpapi.NewAgentAPI(cfg))
	t.Cleanup(func() {
		e.srv.CloseClientConnections()
		e.srv.Close()
		cancel()
		<-done
		e.bus.Close()
		db.Close()
	})
	return e
}

// login returns the session cookie of agent id.
func (e *wsEnv) login(id string) *http.Cookie {
	e.t.Helper()
	res, err := http.Post(e.srv.URL+"/api/agent/login", "application/json", strings.NewReader(loginBody(id+"@example.com", password)))
	if err != nil {
		e.t.Fatal(err)
	}
	res.Body.Close()
	c := sessionCookie(res.Header)
	if res.StatusCode != 200 || c == nil {
		e.t.Fatalf("login %s: %d", id, res.StatusCode)
	}
	return c
}

// token stores an API token of role and returns its secret.
func (e *wsEnv) token(role string) string {
	e.t.Helper()
	tok, secret, err := helpline.NewAPIToken("i1", role, role+"-bot", "test", e.clock.Now())
	if err == nil {
		err = e.store.CreateAPIToken(context.Background(), tok)
	}
	if err != nil {
		e.t.Fatal(err)
	}
	return secret
}

// dial opens /api/agent/ws?query with h's headers; it returns the socket
// (nil if refused) and the handshake's status.
func (e *wsEnv) dial(query string, h http.Header) (*socket, int) {
	e.t.Helper()
	u := "ws" + strings.TrimPrefix(e.srv.URL, "http") + "/api/agent/ws"
	if query != "" {
		u += "?" + query
	}
	ws, res, err := websocket.DefaultDialer.Dial(u, h)
	if err != nil {
		if res == nil {
			e.t.Fatal(err)
		}
		return nil, res.StatusCode
	}
	e.t.Cleanup(func() { ws.Close() })
	return &socket{t: e.t, ws: ws}, res.StatusCode
}

func withCookie(c *http.Cookie) http.Header {
	return http.Header{"Cookie": {c.Name + "=" + c.Value}}
}

// open opens agent id's own socket with its session and reads the hello.
func (e *wsEnv) open(id string) (*socket, frame) {
	e.t.Helper()
	s, status := e.dial("", withCookie(e.login(id)))
	if s == nil {
		e.t.Fatalf("socket of %s refused: %d", id, status)
	}
	return s, s.await("hello")
}

// frame is a server frame.
type frame map[string]any

func (f frame) str(key string) string { s, _ := f[key].(string); return s }

func (f frame) sub(key string) frame { m, _ := f[key].(map[string]any); return m }

func (f frame) num(key string) int64 { n, _ := f[key].(float64); return int64(n) }

// socket is a client's end of an agent socket.
type socket struct {
	t  *testing.T
	ws *websocket.Conn
}

func (s *socket) send(v string) {
	s.t.Helper()
	if err := s.ws.WriteMessage(websocket.TextMessage, []byte(v)); err != nil {
		s.t.Fatal(err)
	}
}

// next reads one frame, failing after 5 s.
func (s *socket) next() (frame, error) {
	s.ws.SetReadDeadline(time.Now().Add(5 * time.Second))
	_, data, err := s.ws.ReadMessage()
	if err != nil {
		return nil, err
	}
	var f frame
	if err := json.Unmarshal(data, &f); err != nil {
		s.t.Fatalf("frame %s: %v", data, err)
	}
	return f, nil
}

// await reads frames up to the first of type typ and returns it; the
// frames before it are in skipped.
func (s *socket) await(typ string) frame {
	s.t.Helper()
	f, _ := s.awaitAll(typ)
	return f
}

func (s *socket) awaitAll(typ string) (frame, []frame) {
	s.t.Helper()
	var skipped []frame
	for {
		f, err := s.next()
		if err != nil {
			s.t.Fatalf("waiting for a %s frame (after %v): %v", typ, skipped, err)
		}
		if f.str("type") == typ {
			return f, skipped
		}
		skipped = append(skipped, f)
	}
}

// customer is a started chat's customer session.
type customer struct {
	sess *helpline.Session
	e    *wsEnv
}

func (e *wsEnv) startChat() *customer {
	e.t.Helper()
	ctx := context.Background()
	started, err := e.engine.StartChat(ctx, helpline.StartChatInput{InstanceID: "i1", ContactFlowID: "sales", DisplayName: "Cat"})
	if err != nil {
		e.t.Fatal(err)
	}
	sess, err := e.engine.Authenticate(ctx, helpline.ParticipantToken, started.ParticipantToken)
	if err != nil {
		e.t.Fatal(err)
	}
	if !strings.HasPrefix(started.Contact.Owner, "queue:") {
		e.t.Fatalf("the chat's owner is %q, want the queue", started.Contact.Owner)
	}
	return &customer{sess: sess, e: e}
}

func (c *customer) say(text string) *helpline.Item {
	c.e.t.Helper()
	it, err := c.e.engine.SendMessage(context.Background(), c.sess, helpline.ContentPlain, text, "")
	if err != nil {
		c.e.t.Fatal(err)
	}
	return it
}

// assign offers the customer's chat to agent id through the store, as
// routing does, publishes the offer, and accepts it.
func (e *wsEnv) assign(c *customer, agentID string) *helpline.Offer {
	e.t.Helper()
	ctx := context.Background()
	contact, err := e.store.FindContactByID(ctx, c.sess.Contact.ID)
	if err != nil {
		e.t.Fatal(err)
	}
	o := e.offer(contact, agentID)
	if _, _, err := e.engine.AcceptOffer(ctx, o.ID); err != nil {
		e.t.Fatal(err)
	}
	return o
}

func (e *wsEnv) offer(contact *helpline.Contact, agentID string) *helpline.Offer {
	e.t.Helper()
	ctx := context.Background()
	now := e.clock.Now()
	o := &helpline.Offer{InstanceID: "i1", ContactID: contact.ID, QueueID: "sales", AgentID: agentID,
		ContactVersion: contact.Version, CreatedAt: now, ExpiresAt: now.Add(30 * time.Second)}
	if err := e.store.CreateOffer(ctx, o); err != nil {
		e.t.Fatal(err)
	}
	ev := helpline.Event{Kind: helpline.EventOffer, Subject: helpline.AgentSubject(agentID), Offer: o}
	if err := e.bus.Publish(ctx, ev); err != nil {
		e.t.Fatal(err)
	}
	return o
}

// seqs returns the Seqs of the item frames of contact id among fs.
func seqs(fs []frame, id string) []int64 {
	var out []int64
	for _, f := range fs {
		if f.str("type") == "item" && f.str("contact") == id {
			out = append(out, f.num("seq"))
		}
	}
	return out
}

// Who may open which socket: no credentials is 401 before any upgrade; a
// session's cookie from another site's page is 403; a page of the
// server's host or of an allowed origin, or no Origin, is let in. A
// supervisor or admin token watches the agent it names; an agent-role
// token reaches no chats (403); an agent may not watch another.
func TestAgentSocketAuth(t *testing.T) {
	e := newWSEnv(t, func(c *httpapi.AgentConfig) {
		c.PublicURL = "https://support.example.com/helpline"
		c.AllowedOrigins = []string{"https://desk.example.com"}
	})
	ada, sue := e.login("ada"), e.login("sue")
	host := strings.TrimPrefix(e.srv.URL, "http://")
	origin := func(c *http.Cookie, o string) http.Header {
		h := withCookie(c)
		h.Set("Origin", o)
		return h
	}
	bearer := func(secret string) http.Header { return http.Header{"Authorization": {"Bearer " + secret}} }
	for _, tc := range []struct {
		name   string
		query  string
		header http.Header
		want   int
	}{
		{"no credentials", "", nil, 401},
		{"unknown session", "", withCookie(&http.Cookie{Name: httpapi.SessionCookie, Value: "nope"}), 401},
		{"cross-site page with the cookie", "", origin(ada, "https://evil.example"), 403},
		{"lookalike origin", "", origin(ada, "https://support.example.com.evil.example"), 403},
		{"the server's own page", "", origin(ada, "http://"+host), 101},
		{"public_url's origin", "", origin(ada, "https://support.example.com"), 101},
		{"an allowed origin", "", origin(ada, "https://DESK.example.com"), 101},
		{"no Origin (not a browser)", "", withCookie(ada), 101},
		{"an agent watching another", "agent=sue", withCookie(ada), 403},
		{"a supervisor watching ada", "agent=ada", withCookie(sue), 101},
		{"a supervisor watching nobody", "agent=nobody", withCookie(sue), 404},
		{"admin token naming ada", "agent=ada", bearer(e.token(helpline.AgentRoleAdmin)), 101},
		{"admin token naming nobody", "", bearer(e.token(helpline.AgentRoleAdmin)), 400},
		{"agent-role token", "agent=ada", bearer(e.token(helpline.AgentRoleAgent)), 403},
		{"bad token", "agent=ada", bearer("hlt_nope"), 401},
	} {
		s, status := e.dial(tc.query, tc.header)
		if status != tc.want {
			t.Errorf("%s: status %d, want %d", tc.name, status, tc.want)
			continue
		}
		if s != nil {
			if hello := s.await("hello"); hello.str("agent") == "" {
				t.Errorf("%s: hello %v names no agent", tc.name, hello)
			}
			s.ws.Close()
		}
	}
}

// An offer made by routing reaches the agent's socket; accepting it
// pushes offer.closed, assigned, the chat's items from the first, then
// the customer's lines and typing as they happen. The queue's waiting
// count follows the chat in and out.
func TestAgentSocketOfferAssignmentItems(t *testing.T) {
	e := newWSEnv(t, nil)
	s, hello := e.open("ada")
	if qs, _ := hello["queues"].([]any); len(qs) != 1 || frame(qs[0].(map[string]any)).num("waiting") != 0 {
		t.Fatalf("hello = %v, want queue sales with nobody waiting", hello)
	}
	s.send(`{"type":"resume","chats":{}}`)
	s.await("resumed")

	c := e.startChat()
	if q := s.await("queue"); q.str("queue") != "sales" || q.num("waiting") != 1 {
		t.Errorf("queue frame = %v, want sales waiting 1", q)
	}
	contact, _ := e.store.FindContactByID(context.Background(), c.sess.Contact.ID)
	o := e.offer(contact, "ada")
	if f := s.await("offer").sub("offer"); f.str("id") != o.ID || f.str("contact") != contact.ID || f.str("state") != "pending" || f.str("expires_at") == "" {
		t.Errorf("offer frame = %v", f)
	}
	if _, _, err := e.engine.AcceptOffer(context.Background(), o.ID); err != nil {
		t.Fatal(err)
	}
	// offer.closed and assigned come in either order, the chat's first
	// items around them.
	var closed, assigned frame
	var before []frame
	for closed == nil || assigned == nil {
		f, err := s.next()
		if err != nil {
			t.Fatalf("waiting for offer.closed and assigned (after %v): %v", before, err)
		}
		switch f.str("type") {
		case "offer.closed":
			closed = f.sub("offer")
		case "assigned":
			assigned = f
		default:
			before = append(before, f)
		}
	}
	if closed.str("id") != o.ID || closed.str("state") != helpline.OfferAccepted {
		t.Errorf("offer.closed = %v", closed)
	}
	if assigned.str("contact") != contact.ID || assigned.sub("chat").str("queue") != "sales" {
		t.Errorf("assigned = %v", assigned)
	}
	c.say("hello?")
	line, rest := s.awaitAll("item")
	all := append(append(before, rest...), line)
	for line.sub("item").str("content") != "hello?" {
		line, rest = s.awaitAll("item")
		all = append(append(all, rest...), line)
	}
	emptied := false
	for _, f := range all {
		emptied = emptied || f.str("type") == "queue" && f.num("waiting") == 0
	}
	if !emptied {
		if f := s.await("queue"); f.num("waiting") != 0 {
			t.Errorf("queue frame %v after the assignment, want sales emptied", f)
		}
	}
	got := seqs(all, contact.ID)
	stored, _ := e.store.FindContactByID(context.Background(), contact.ID)
	for i, seq := range got {
		if seq != int64(i+1) {
			t.Fatalf("item seqs = %v, want 1..%d each once", got, stored.LastSeq)
		}
	}
	if int64(len(got)) != stored.LastSeq {
		t.Errorf("item seqs = %v, want 1..%d", got, stored.LastSeq)
	}
	if _, err := e.engine.SendEvent(context.Background(), c.sess, helpline.EventTyping, "", ""); err != nil {
		t.Fatal(err)
	}
	if f := s.await("typing"); f.str("contact") != contact.ID || f.str("role") != helpline.RoleCustomer || f.str("display_name") != "Cat" {
		t.Errorf("typing = %v", f)
	}
	if err := e.engine.StopContact(context.Background(), "i1", contact.ID); err != nil {
		t.Fatal(err)
	}
	if f := s.await("unassigned"); f.str("contact") != contact.ID {
		t.Errorf("unassigned = %v", f)
	}
}

// A socket that reconnects with resume gets exactly the items it missed,
// from the store, then live ones: each Seq once, in order.
func TestAgentSocketResume(t *testing.T) {
	e := newWSEnv(t, nil)
	c := e.startChat()
	e.assign(c, "ada")
	id := c.sess.Contact.ID
	s, hello := e.open("ada")
	if chats, _ := hello["chats"].([]any); len(chats) != 1 || frame(chats[0].(map[string]any)).str("contact") != id {
		t.Fatalf("hello = %v, want the assigned chat", hello)
	}
	c.say("one")
	s.send(`{"type":"resume"}`)
	resumed, first := s.awaitAll("resumed")
	last := resumed.sub("seqs").num(id)
	if got := seqs(first, id); len(got) == 0 || got[len(got)-1] != last || int64(len(got)) != last {
		t.Fatalf("first connection got %v, resumed at %d", got, last)
	}
	s.ws.Close()

	c.say("two")
	c.say("three")
	s2, _ := e.open("ada")
	s2.send(`{"type":"resume","chats":{"` + id + `":` + jsonInt(last) + `}}`)
	resumed2, missed := s2.awaitAll("resumed")
	if got := seqs(missed, id); len(got) != 2 || got[0] != last+1 || got[1] != last+2 ||
		missed[len(missed)-1].sub("item").str("content") != "three" || resumed2.sub("seqs").num(id) != last+2 {
		t.Fatalf("after resuming at %d: %v, resumed %v; want %d and %d (two, three)", last, missed, resumed2, last+1, last+2)
	}
	c.say("four")
	live, between := s2.awaitAll("item")
	if live.num("seq") != last+3 || len(seqs(between, id)) != 0 || live.sub("item").str("content") != "four" {
		t.Errorf("live item %v after %v, want Seq %d once", live, between, last+3)
	}
}

// An item past a gap (the bus lost the ones before it) catches the chat up
// from the store: the socket still gets every Seq once, in order.
func TestAgentSocketGapCatchesUp(t *testing.T) {
	e := newWSEnv(t, nil)
	c := e.startChat()
	e.assign(c, "ada")
	id := c.sess.Contact.ID
	s, _ := e.open("ada")
	s.send(`{"type":"resume"}`)
	last := s.await("resumed").sub("seqs").num(id)
	// Two lines stored without being published, then a published one.
	var newest *helpline.Item
	for _, text := range []string{"lost 1", "lost 2", "seen"} {
		newest = &helpline.Item{ContactID: id, ID: helpline.NewID(), Type: helpline.ItemMessage, ContentType: helpline.ContentPlain,
			Content: text, ParticipantID: c.sess.Participant.ID, Role: helpline.RoleCustomer, Time: e.clock.Now()}
		if _, err := e.store.AppendItem(context.Background(), newest); err != nil {
			t.Fatal(err)
		}
	}
	if err := e.bus.Publish(context.Background(), helpline.NewItemEvent(newest)); err != nil {
		t.Fatal(err)
	}
	var got []string
	for len(got) < 3 {
		f := s.await("item")
		if f.num("seq") != last+int64(len(got))+1 {
			t.Fatalf("item %v after %v, want Seq %d", f, got, last+int64(len(got))+1)
		}
		got = append(got, f.sub("item").str("content"))
	}
	if strings.Join(got, ",") != "lost 1,lost 2,seen" {
		t.Errorf("items = %v", got)
	}
}

// A socket whose client stops reading is dropped once its queue is full;
// the bus's publisher is never held up, and the agent's other socket,
// which reads, gets everything.
func TestAgentSocketSlowReaderDropped(t *testing.T) {
	e := newWSEnv(t, nil)
	c := e.startChat()
	e.assign(c, "ada")
	id := c.sess.Contact.ID
	slow, _ := e.open("ada")
	slow.send(`{"type":"resume"}`)
	slow.await("resumed")
	fast, _ := e.open("ada")
	fast.send(`{"type":"resume"}`)
	fast.await("resumed")

	// Typing frames of 16 KiB each, far more than the socket buffers of
	// the slow client's connection hold, published one at a time as the
	// fast client reads them.
	big := strings.Repeat("x", 16<<10)
	const n = 2000
	for i := range n {
		it := &helpline.Item{ContactID: id, ID: helpline.NewID(), Type: helpline.ItemEvent, ContentType: helpline.EventTyping,
			ParticipantID: c.sess.Participant.ID, DisplayName: big, Role: helpline.RoleCustomer}
		if i == n-1 {
			it.DisplayName = "last"
		}
		start := time.Now()
		if err := e.bus.Publish(context.Background(), helpline.NewItemEvent(it)); err != nil {
			t.Fatal(err)
		}
		if d := time.Since(start); d > time.Second {
			t.Fatalf("publishing took %v: the slow socket held it up", d)
		}
		if f := fast.await("typing"); f.str("display_name") != it.DisplayName {
			t.Fatalf("typing frame %d is not the one published", i)
		}
	}
	for {
		f, err := slow.next()
		if err != nil {
			break // dropped
		}
		if f.str("display_name") == "last" {
			t.Fatal("the slow socket got every frame: it was not dropped")
		}
	}
}

// The agent's socket is its live connection: opening it records the
// agent as seen (and publishes its presence, now online), every client
// frame does again, and once it is closed the agent counts as offline
// after the grace. A supervisor watching the agent's desk does not keep
// it online.
func TestAgentSocketPresence(t *testing.T) {
	e := newWSEnv(t, nil)
	ctx := context.Background()
	if err := e.store.SetPresence(ctx, "i1", "ada", helpline.PresenceOnline, e.clock.Now()); err != nil {
		t.Fatal(err)
	}
	status := func() (string, time.Time) {
		p, err := e.store.FindPresence(ctx, "i1", "ada")
		if err != nil {
			t.Fatal(err)
		}
		return routing.Status(*p, e.clock.Now(), wsGrace), p.SeenAt
	}
	if st, _ := status(); st != helpline.PresenceOffline {
		t.Fatalf("before any socket ada is %s, want offline", st)
	}
	watch, _ := e.dial("agent=ada", withCookie(e.login("sue")))
	watch.await("hello")
	if st, _ := status(); st != helpline.PresenceOffline {
		t.Fatalf("with sue watching ada is %s, want offline", st)
	}
	events, err := e.bus.Subscribe(ctx, helpline.AgentSubject("ada"))
	if err != nil {
		t.Fatal(err)
	}
	defer events.Close()

	s, hello := e.open("ada")
	if st, seen := status(); st != helpline.PresenceOnline || !seen.Equal(e.clock.Now()) {
		t.Fatalf("with its socket open ada is %s, seen %v", st, seen)
	}
	if p := hello.sub("presence"); p.str("status") != "online" || p.str("set") != "online" {
		t.Errorf("hello presence = %v", p)
	}
	select {
	case ev := <-events.Events():
		if ev.Kind != helpline.EventPresence || ev.Presence.SeenAt.IsZero() {
			t.Errorf("event %+v, want ada's presence", ev)
		}
	case <-time.After(5 * time.Second):
		t.Error("no presence event when ada came online")
	}
	if f := watch.await("presence").sub("presence"); f.str("status") != "online" {
		t.Errorf("sue saw ada's presence %v", f)
	}

	e.clock.Advance(wsGrace - time.Second)
	s.send(`{"type":"ping"}`)
	s.await("pong")
	if st, seen := status(); st != helpline.PresenceOnline || !seen.Equal(e.clock.Now()) {
		t.Fatalf("after a ping ada is %s, seen %v, want seen at %v", st, seen, e.clock.Now())
	}
	s.ws.Close()
	e.clock.Advance(wsGrace)
	if st, _ := status(); st != helpline.PresenceOnline {
		t.Errorf("within the grace after closing ada is %s, want still online", st)
	}
	e.clock.Advance(time.Second)
	if st, _ := status(); st != helpline.PresenceOffline {
		t.Errorf("after the grace ada is %s, want offline", st)
	}
}

// A presence set through the API is news on the bus: the agent's open
// socket shows it at once (and routing, woken by the same event, acts on
// it), rather than at the socket's next reread of the desk.
func TestAgentSocketPresenceSetThroughAPI(t *testing.T) {
	e := newWSEnv(t, nil)
	cookie := e.login("ada")
	s, _ := e.dial("", withCookie(cookie))
	if p := s.await("hello").sub("presence"); p.str("status") != "offline" {
		t.Fatalf("hello presence = %v, want offline before ada sets one", p)
	}
	req, _ := http.NewRequest("GET", e.srv.URL+"/api/agent/me", nil)
	req.AddCookie(cookie)
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	var me struct {
		CSRF string `json:"csrf_token"`
	}
	json.NewDecoder(res.Body).Decode(&me)
	res.Body.Close()
	for _, status := range []string{"online", "away"} {
		req, _ := http.NewRequest("PUT", e.srv.URL+"/api/agent/presence", strings.NewReader(`{"status":"`+status+`"}`))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("X-CSRF-Token", me.CSRF)
		req.AddCookie(cookie)
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		if res.StatusCode != 200 {
			t.Fatalf("PUT presence %s: %d", status, res.StatusCode)
		}
		if p := s.await("presence").sub("presence"); p.str("status") != status || p.str("set") != status {
			t.Errorf("presence frame %v, want %s", p, status)
		}
	}
}

// What the socket refuses: a binary frame, a frame that is not JSON or
// of an unknown shape or type, a negative Seq get an error frame and the
// socket stays open; a frame over 16 KiB closes it with 1009.
func TestAgentSocketBadFrames(t *testing.T) {
	e := newWSEnv(t, nil)
	s, _ := e.open("ada")
	for _, bad := range []string{`nope`, `{"type":"resume","chats":[1]}`, `{"type":"dance"}`, `{"type":"ping","extra":1}`, `{"type":"resume","chats":{"c":-1}}`} {
		s.send(bad)
		if f := s.await("error"); f.sub("error").str("code") != "invalid" || f.sub("error").str("message") == "" {
			t.Errorf("%s: %v", bad, f)
		}
	}
	if err := s.ws.WriteMessage(websocket.BinaryMessage, []byte(`{"type":"ping"}`)); err != nil {
		t.Fatal(err)
	}
	s.await("error")
	s.send(`{"type":"ping"}`)
	s.await("pong")
	// The server closes with 1009 at once; the client may see its write
	// reset before it reads the close frame, but the socket is closed.
	s.ws.WriteMessage(websocket.TextMessage, []byte(`{"type":"ping","chats":{"`+strings.Repeat("x", 20<<10)+`":1}}`))
	_, err := s.next()
	var ce *websocket.CloseError
	if err == nil || errors.As(err, &ce) && ce.Code != websocket.CloseMessageTooBig {
		t.Errorf("after an oversize frame: %v, want the socket closed with 1009", err)
	}
}

func jsonInt(n int64) string { b, _ := json.Marshal(n); return string(b) }

// countingFeed counts the desk and waiting-count reads of each agent.
type countingFeed struct {
	helpline.AgentFeed
	mu      sync.Mutex
	views   map[string]int
	waiting map[string]int
}

func (f *countingFeed) AgentView(ctx context.Context, instanceID, agentID string) (*helpline.AgentView, error) {
	f.mu.Lock()
	f.views[agentID]++
	f.mu.Unlock()
	return f.AgentFeed.AgentView(ctx, instanceID, agentID)
}

func (f *countingFeed) QueueWaiting(ctx context.Context, instanceID, agentID string) (map[string][]string, error) {
	f.mu.Lock()
	f.waiting[agentID]++
	f.mu.Unlock()
	return f.AgentFeed.QueueWaiting(ctx, instanceID, agentID)
}

func (f *countingFeed) reads(agentID string) (views, waiting int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.views[agentID], f.waiting[agentID]
}

// An owner change in a queue is, to a console of an agent serving it,
// only a new waiting count: it rereads the counts, not its desk. To a
// console of an agent that serves no such queue it is nothing: no frame,
// no read. Counts that change quickly end at the latest.
func TestAgentSocketQueueChangeReadsCountsOnly(t *testing.T) {
	feed := &countingFeed{views: map[string]int{}, waiting: map[string]int{}}
	e := newWSEnv(t, func(c *httpapi.AgentConfig) {
		feed.AgentFeed = c.Feed
		c.Feed = feed
	})
	ada, _ := e.open("ada")
	sue, _ := e.open("sue")

	e.startChat()
	if q := ada.await("queue"); q.str("queue") != "sales" || q.num("waiting") != 1 {
		t.Errorf("queue frame = %v, want sales waiting 1", q)
	}
	if views, waiting := feed.reads("ada"); views != 1 || waiting < 1 {
		t.Errorf("ada's console read its desk %d times (want 1, the hello) and the counts %d times (want 1 or more)", views, waiting)
	}
	sue.send(`{"type":"ping"}`)
	if f, err := sue.next(); err != nil || f.str("type") != "pong" {
		t.Errorf("sue's console: %v, %v; want only the pong", f, err)
	}
	if views, waiting := feed.reads("sue"); views != 1 || waiting != 0 {
		t.Errorf("sue's console read its desk %d times (want 1, the hello) and the counts %d times (want 0)", views, waiting)
	}

	for range 3 {
		e.startChat()
	}
	last := int64(1)
	for last != 4 {
		q := ada.await("queue")
		if q.num("waiting") <= last {
			t.Fatalf("queue frame %v after waiting %d, want the count rising to 4", q, last)
		}
		last = q.num("waiting")
	}
	if views, _ := feed.reads("ada"); views != 1 {
		t.Errorf("ada's console read its desk %d times, want 1", views)
	}
}

// When the node drains, an open agent socket is closed with 1012 (service
// restart) and a new one is refused with 503 and Retry-After; the rest of
// the API still serves.
func TestAgentSocketDrain(t *testing.T) {
	draining := make(chan struct{})
	e := newWSEnv(t, func(c *httpapi.AgentConfig) { c.Draining = draining })
	ada, _ := e.open("ada")
	cookie := e.login("sue")
	close(draining)
	for {
		_, err := ada.next()
		if err == nil {
			continue
		}
		var ce *websocket.CloseError
		if !errors.As(err, &ce) || ce.Code != websocket.CloseServiceRestart {
			t.Errorf("socket ended with %v, want close 1012", err)
		}
		break
	}
	u := "ws" + strings.TrimPrefix(e.srv.URL, "http") + "/api/agent/ws"
	ws, res, err := websocket.DefaultDialer.Dial(u, withCookie(cookie))
	if err == nil {
		ws.Close()
		t.Fatal("a socket opened while draining")
	}
	if res == nil || res.StatusCode != http.StatusServiceUnavailable || res.Header.Get("Retry-After") == "" {
		t.Fatalf("socket while draining: %v %v, want 503 with Retry-After", err, res)
	}
	var body struct{ Error struct{ Code string } }
	json.NewDecoder(res.Body).Decode(&body)
	if body.Error.Code != "unavailable" {
		t.Errorf("error code %q, want unavailable", body.Error.Code)
	}
	if s := e.login("ada"); s == nil {
		t.Error("login failed while draining")
	}
}

// Disabling an agent through one node closes the sockets the agent
// opened on every node (the sign-out goes over the bus), and only those:
// a supervisor's socket watching the agent on the other node stays open.
func TestAgentSocketDisableClosesEveryNode(t *testing.T) {
	var cfg httpapi.AgentConfig
	e := newWSEnv(t, func(c *httpapi.AgentConfig) {
		c.HashPassword = routing.HashPassword
		cfg = *c
	})
	// Node b: another handler, with its own sockets, on the same store
	// and bus.
	b := httptest.NewServer(httpapi.NewAgentAPI(cfg))
	defer b.Close()
	defer b.CloseClientConnections()
	onB := func(cookie *http.Cookie, query string) *socket {
		t.Helper()
		u := "ws" + strings.TrimPrefix(b.URL, "http") + "/api/agent/ws" + query
		ws, _, err := websocket.DefaultDialer.Dial(u, withCookie(cookie))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { ws.Close() })
		s := &socket{t: t, ws: ws}
		s.await("hello")
		return s
	}
	ada := onB(e.login("ada"), "")
	watch := onB(e.login("sue"), "?agent=ada")

	req, _ := http.NewRequest("POST", e.srv.URL+"/api/admin/agents/ada/disable", nil)
	req.Header.Set("Authorization", "Bearer "+e.token(helpline.AgentRoleAdmin))
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != 200 {
		t.Fatalf("disable through node a: %d", res.StatusCode)
	}
	for { // frames already under way may come first
		if _, err := ada.next(); err != nil {
			if strings.Contains(err.Error(), "timeout") {
				t.Fatalf("ada's socket on node b after the disable: %v, want it closed", err)
			}
			break
		}
	}
	watch.send(`{"type":"ping"}`)
	watch.await("pong")
}

// When an agent's grace runs out after its last socket closed, routing
// announces its stored presence (still set online); a console watching it
// shows it offline then, as routing acts on it.
func TestAgentSocketPresenceLapse(t *testing.T) {
	e := newWSEnv(t, nil)
	ctx := context.Background()
	if err := e.store.SetPresence(ctx, "i1", "ada", helpline.PresenceOnline, e.clock.Now()); err != nil {
		t.Fatal(err)
	}
	watch, _ := e.dial("agent=ada", withCookie(e.login("sue")))
	watch.await("hello")
	ada, _ := e.open("ada")
	if p := watch.await("presence").sub("presence"); p.str("status") != "online" {
		t.Fatalf("sue saw ada %v, want online", p)
	}
	ada.ws.Close()
	e.clock.Advance(wsGrace + time.Second)
	p, err := e.store.FindPresence(ctx, "i1", "ada")
	if err != nil {
		t.Fatal(err)
	}
	if err := e.bus.Publish(ctx, helpline.Event{Kind: helpline.EventPresence, Subject: helpline.AgentSubject("ada"), Presence: p}); err != nil {
		t.Fatal(err)
	}
	if f := watch.await("presence").sub("presence"); f.str("status") != "offline" || f.str("set") != "online" {
		t.Errorf("sue saw ada %v after the grace, want offline (set online)", f)
	}
}
