package app

import (
	"context"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/helplinehq/helpline"
	"github.com/helplinehq/helpline/chat"
	"github.com/helplinehq/helpline/clocktest"
	"github.com/helplinehq/helpline/inmem"
	"github.com/helplinehq/helpline/routing"
	"github.com/helplinehq/helpline/sqlite"
)

// routed is the real engine on SQLite and the in-process bus with a fake
// clock, an instance whose flow "sales" sends chats to queue sales, and
// a router whose rounds the test runs itself.
type routed struct {
	store  helpline.Store
	bus    helpline.Bus
	engine *chat.Service
	clock  *clocktest.Clock
	router *router
	inst   string
}

func newRouted(t *testing.T, agents ...*helpline.Agent) *routed {
	t.Helper()
	ctx := context.Background()
	db, err := sqlite.Open(filepath.Join(t.TempDir(), "helpline.db"))
	if err != nil {
		t.Fatal(err)
	}
	e := &routed{store: db, bus: inmem.NewBus(), clock: clocktest.New(time.Date(2025, 3, 3, 10, 0, 0, 0, time.UTC)), inst: "shop"}
	in := &helpline.Instance{ID: e.inst, Name: "Shop", Flows: []helpline.Flow{{ID: "sales", Name: "Sales", Queue: "sales"}}}
	if err := db.SaveInstance(ctx, in); err != nil {
		t.Fatal(err)
	}
	for _, q := range []string{"sales", "empty"} {
		if err := db.SaveQueue(ctx, &helpline.Queue{InstanceID: e.inst, ID: q}); err != nil {
			t.Fatal(err)
		}
	}
	for _, a := range agents {
		a.InstanceID, a.Email, a.Enabled = e.inst, a.ID+"@example.com", true
		if a.Queues == nil {
			a.Queues = []string{"sales"}
		}
		if err := db.CreateAgent(ctx, a); err != nil {
			t.Fatal(err)
		}
	}
	e.engine = chat.New(chat.Config{Store: db, Bus: e.bus, Tokens: helpline.NewTokens([]byte("0123456789abcdef0123456789abcdef")),
		Now: e.clock.Now, Logger: quiet()})
	e.router = newRouter(db, e.bus, e.engine, e.clock.Now, RoutingConfig{}, quiet())
	runCtx, cancel := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- e.engine.Run(runCtx) }()
	<-e.engine.Ready()
	t.Cleanup(func() {
		cancel()
		<-done
		e.bus.Close()
		db.Close()
	})
	return e
}

func (e *routed) presence(t *testing.T, agentID, status string) {
	t.Helper()
	ctx := context.Background()
	if err := e.store.SetPresence(ctx, e.inst, agentID, status, e.clock.Now()); err != nil {
		t.Fatal(err)
	}
	if err := e.store.TouchAgent(ctx, e.inst, agentID, e.clock.Now()); err != nil {
		t.Fatal(err)
	}
}

// chat is a started chat and what its customer's socket received.
type watched struct {
	contact *helpline.Contact
	mu      sync.Mutex // guards items
	items   []*helpline.Item
}

func (w *watched) Deliver(it *helpline.Item) bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.items = append(w.items, it)
	return true
}

func (w *watched) End() {}

// lines returns "type display-name content" of what the customer saw
// after its own participant.joined, waiting until want of them arrived.
func (w *watched) lines(t *testing.T, want int) []string {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		w.mu.Lock()
		out := describe(w.items[min(1, len(w.items)):])
		w.mu.Unlock()
		if len(out) >= want || time.Now().After(deadline) {
			return out
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// describe renders items as "type display-name content".
func describe(items []*helpline.Item) []string {
	var out []string
	for _, it := range items {
		kind := it.ContentType
		if i := strings.Index(kind, "event."); i >= 0 {
			kind = kind[i+len("event."):]
		} else if it.Type == helpline.ItemMessage {
			kind = "message"
		}
		out = append(out, strings.TrimSpace(kind+" "+it.DisplayName+" "+it.Content))
	}
	return out
}

// stored returns what the store holds of the contact's transcript after
// its customer's participant.joined, described.
func (e *routed) stored(t *testing.T, contactID string) []string {
	t.Helper()
	items, err := e.store.FindItems(context.Background(), contactID, helpline.ItemQuery{})
	if err != nil {
		t.Fatal(err)
	}
	return describe(items[1:])
}

func (e *routed) start(t *testing.T) *watched {
	t.Helper()
	ctx := context.Background()
	started, err := e.engine.StartChat(ctx, helpline.StartChatInput{InstanceID: e.inst, ContactFlowID: "sales", DisplayName: "Casey"})
	if err != nil {
		t.Fatal(err)
	}
	sess, err := e.engine.Authenticate(ctx, helpline.ParticipantToken, started.ParticipantToken)
	if err != nil {
		t.Fatal(err)
	}
	w := &watched{contact: started.Contact}
	stop, err := e.engine.Watch(ctx, sess, 0, w)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(stop)
	return w
}

// offers subscribes to an agent's offer events.
func (e *routed) offers(t *testing.T, agentID string) func() *helpline.Offer {
	t.Helper()
	sub, err := e.bus.Subscribe(context.Background(), helpline.AgentSubject(agentID))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(sub.Close)
	return func() *helpline.Offer {
		t.Helper()
		for {
			select {
			case ev := <-sub.Events():
				if ev.Kind == helpline.EventOffer {
					return ev.Offer
				}
			case <-time.After(5 * time.Second):
				t.Fatalf("no offer event for %s", agentID)
				return nil
			}
		}
	}
}

func (e *routed) owner(t *testing.T, contactID string) string {
	t.Helper()
	c, err := e.store.FindContactByID(context.Background(), contactID)
	if err != nil {
		t.Fatal(err)
	}
	return c.Owner
}

// A chat enters the queue, is offered to the longest-idle online agent,
// moves to the next when the offer expires, comes back when that agent
// goes offline, and once accepted seats the agent in the chat; a transfer
// makes one agent leave and the other join.
func TestRoutingOffersAndAssigns(t *testing.T) {
	e := newRouted(t, &helpline.Agent{ID: "ada", DisplayName: "Ada L."}, &helpline.Agent{ID: "bo", DisplayName: "Bo"})
	ctx := context.Background()
	e.presence(t, "ada", helpline.PresenceOnline)
	e.presence(t, "bo", helpline.PresenceOnline)
	toAda, toBo := e.offers(t, "ada"), e.offers(t, "bo")

	w := e.start(t)
	if w.contact.Owner != "queue:sales" {
		t.Fatalf("new chat owned by %q, want queue:sales", w.contact.Owner)
	}
	e.router.round(ctx)
	first := toAda()
	if first.ContactID != w.contact.ID || first.State != helpline.OfferPending {
		t.Fatalf("ada's offer %+v, want the chat pending", first)
	}

	e.clock.Advance(helpline.DefaultAcceptWithin)
	e.router.round(ctx)
	if o := toAda(); o.ID != first.ID || o.State != helpline.OfferExpired {
		t.Errorf("ada's next event %+v, want her offer expired", o)
	}
	second := toBo()
	if second.ContactID != w.contact.ID || second.State != helpline.OfferPending {
		t.Fatalf("bo's offer %+v, want the chat moved on to him", second)
	}

	e.presence(t, "ada", helpline.PresenceOnline) // her connection seen again
	e.presence(t, "bo", helpline.PresenceOffline)
	e.router.round(ctx)
	if o := toBo(); o.ID != second.ID || o.State != helpline.OfferWithdrawn {
		t.Errorf("bo's next event %+v, want his offer withdrawn as he went offline", o)
	}
	third := toAda()
	if third.ContactID != w.contact.ID || third.State != helpline.OfferPending {
		t.Fatalf("ada's offer %+v, want the chat back with her", third)
	}
	if _, _, err := e.engine.AcceptOffer(ctx, third.ID); err != nil {
		t.Fatalf("AcceptOffer: %v", err)
	}
	if o := toAda(); o.State != helpline.OfferAccepted {
		t.Errorf("ada's event %+v, want accepted", o)
	}
	if got := e.owner(t, w.contact.ID); got != "agent:ada" {
		t.Fatalf("owner %q, want agent:ada", got)
	}

	e.presence(t, "bo", helpline.PresenceOnline)
	if _, _, err := e.engine.Transfer(ctx, e.inst, w.contact.ID, "agent:bo", "agent:ada"); err != nil {
		t.Fatalf("Transfer: %v", err)
	}
	e.router.round(ctx) // nothing waits: no offer, no notice
	want := []string{
		"owner.changed SYSTEM_MESSAGE " + `{"from":"","to":"queue:sales","reason":"flow","actor":"flow:sales"}`,
		"owner.changed SYSTEM_MESSAGE " + `{"from":"queue:sales","to":"agent:ada","reason":"accepted","actor":"agent:ada"}`,
		"participant.joined Ada L.",
		"owner.changed SYSTEM_MESSAGE " + `{"from":"agent:ada","to":"agent:bo","reason":"transfer","actor":"agent:ada"}`,
		"participant.left Ada L.",
		"participant.joined Bo",
	}
	if got := w.lines(t, len(want)); !slices.Equal(got, want) {
		t.Errorf("the customer saw\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

// An agent is never offered more than its capacity; the chats beyond it
// wait in FIFO order and are told their place, again when it moves, and
// once that nobody is online when that is so.
func TestRoutingCapacityAndQueueNotices(t *testing.T) {
	e := newRouted(t, &helpline.Agent{ID: "ada", DisplayName: "Ada", Capacity: 1})
	ctx := context.Background()
	e.presence(t, "ada", helpline.PresenceOnline)
	toAda := e.offers(t, "ada")
	first := e.start(t)
	e.clock.Advance(time.Millisecond)
	second := e.start(t)
	e.router.round(ctx)
	e.router.round(ctx) // a second round neither offers more nor repeats a notice
	if o := toAda(); o.ContactID != first.contact.ID {
		t.Fatalf("ada was offered %s, want the first chat", o.ContactID)
	}
	if got, want := e.stored(t, second.contact.ID), []string{
		"owner.changed SYSTEM_MESSAGE " + `{"from":"","to":"queue:sales","reason":"flow","actor":"flow:sales"}`,
		"message SYSTEM_MESSAGE You are number 2 in the queue.",
	}; !slices.Equal(got, want) {
		t.Errorf("the second customer saw %q, want %q", got, want)
	}
	if got := e.stored(t, first.contact.ID); len(got) != 1 {
		t.Errorf("the first customer, offered at once, saw %q, want only the queue's transition", got)
	}

	e.presence(t, "ada", helpline.PresenceOffline)
	e.router.round(ctx)
	e.router.round(ctx)
	want := []string{
		"owner.changed SYSTEM_MESSAGE " + `{"from":"","to":"queue:sales","reason":"flow","actor":"flow:sales"}`,
		"message SYSTEM_MESSAGE You are number 1 in the queue.",
		"message SYSTEM_MESSAGE " + nobodyNotice,
	}
	if got := e.stored(t, first.contact.ID); !slices.Equal(got, want) {
		t.Errorf("once ada went offline the first customer saw %q, want %q", got, want)
	}
	if got := e.stored(t, second.contact.ID); len(got) != 3 || got[2] != "message SYSTEM_MESSAGE "+nobodyNotice {
		t.Errorf("the second customer saw %q, want its place, then nobody online once", got)
	}
}

// Run wakes on a contact entering a queue and an agent coming online,
// without the test running rounds itself.
func TestRoutingRunWakesOnEvents(t *testing.T) {
	e := newRouted(t, &helpline.Agent{ID: "ada", DisplayName: "Ada", Capacity: 1})
	e.presence(t, "ada", helpline.PresenceOnline)
	toAda := e.offers(t, "ada")
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- e.router.Run(ctx) }()
	defer func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Run: %v", err)
		}
	}()
	w := e.start(t)
	if o := toAda(); o.ContactID != w.contact.ID || o.State != helpline.OfferPending {
		t.Fatalf("offer %+v, want the new chat to ada", o)
	}
}

// A round is worth running only for an event that may allow a new offer,
// or a gap in the bus, which may have lost one.
func TestRoutingWakes(t *testing.T) {
	owner := func(from, to string) helpline.Event {
		return helpline.Event{Kind: helpline.EventOwner, Subject: helpline.ContactSubject("c1"),
			Owner: &helpline.Ownership{Owner: to, From: from, Version: 2}}
	}
	offer := func(state string) helpline.Event {
		return helpline.Event{Kind: helpline.EventOffer, Subject: helpline.AgentSubject("ada"),
			Offer: &helpline.Offer{ID: "o1", AgentID: "ada", State: state}}
	}
	item := func(contentType string) helpline.Event {
		return helpline.NewItemEvent(&helpline.Item{ContactID: "c1", ContentType: contentType})
	}
	for name, tc := range map[string]struct {
		ev   helpline.Event
		want bool
	}{
		"entering a queue":         {owner("", "queue:sales"), true},
		"handed off to a queue":    {owner("bot:b", "queue:sales"), true},
		"transferred to a queue":   {owner("agent:ada", "queue:sales"), true},
		"transferred to an agent":  {owner("agent:ada", "agent:bo"), true},
		"handed back to the bot":   {owner("agent:ada", "bot:b"), true},
		"accepted from the queue":  {owner("queue:sales", "agent:ada"), false},
		"given to the flow's bot":  {owner("", "bot:b"), false},
		"offer made":               {offer(helpline.OfferPending), false},
		"offer accepted":           {offer(helpline.OfferAccepted), false},
		"offer declined":           {offer(helpline.OfferDeclined), true},
		"offer expired":            {offer(helpline.OfferExpired), true},
		"offer withdrawn":          {offer(helpline.OfferWithdrawn), true},
		"presence":                 {helpline.Event{Kind: helpline.EventPresence, Subject: helpline.AgentSubject("ada"), Presence: &helpline.Presence{}}, true},
		"chat ended":               {item(helpline.EventChatEnded), true},
		"agent signed out":         {helpline.Event{Kind: helpline.EventSignedOut, Subject: helpline.AgentSubject("ada"), SignedOut: &helpline.SignedOut{InstanceID: "i1"}}, true},
		"a message":                {item(helpline.ContentPlain), false},
		"owner event without data": {helpline.Event{Kind: helpline.EventOwner, Subject: helpline.ContactSubject("c1")}, false},
		"a gap in the bus":         {helpline.Event{Kind: helpline.EventGap}, true},
		"some future kind":         {helpline.Event{Kind: "some.future.kind"}, false},
	} {
		if got := wakes(tc.ev); got != tc.want {
			t.Errorf("%s: wakes %v, want %v", name, got, tc.want)
		}
	}
}

// When the grace of an agent whose connections all closed runs out, the
// round at that moment announces its presence (offline) on its subject,
// for the consoles watching it, and withdraws its pending offer: the chat
// keeps its place ahead of a later one, and goes to the next agent to
// come online.
func TestRoutingGraceLapse(t *testing.T) {
	e := newRouted(t, &helpline.Agent{ID: "ada", Capacity: 1}, &helpline.Agent{ID: "bo", Capacity: 1})
	ctx := context.Background()
	// Offers outlast the grace, so that only the lapse ends ada's.
	if err := e.store.SaveQueue(ctx, &helpline.Queue{InstanceID: e.inst, ID: "sales", AcceptWithin: 10 * time.Minute}); err != nil {
		t.Fatal(err)
	}
	e.presence(t, "ada", helpline.PresenceOnline) // seen now, then never again
	first := e.start(t)
	e.clock.Advance(time.Millisecond)
	second := e.start(t)
	sub, err := e.bus.Subscribe(ctx, helpline.AgentSubject("ada"))
	if err != nil {
		t.Fatal(err)
	}
	defer sub.Close()
	next := func(kind helpline.EventKind) helpline.Event {
		t.Helper()
		for {
			select {
			case ev := <-sub.Events():
				if ev.Kind == kind {
					return ev
				}
			case <-time.After(5 * time.Second):
				t.Fatalf("no %s event for ada", kind)
			}
		}
	}
	e.router.round(ctx)
	if o := next(helpline.EventOffer).Offer; o.ContactID != first.contact.ID || o.State != helpline.OfferPending {
		t.Fatalf("ada's offer %+v, want the first chat", o)
	}
	snap, err := e.store.RoutingSnapshot(ctx, e.inst)
	if err != nil {
		t.Fatal(err)
	}
	lapse := routing.Next(snap, e.clock.Now(), routing.DefaultGrace)
	if want := e.clock.Now().Add(routing.DefaultGrace); lapse.Before(want) || lapse.After(want.Add(time.Second)) {
		t.Fatalf("the next round is due at %v, want when ada's grace runs out, %v", lapse, want)
	}
	e.clock.Advance(lapse.Sub(e.clock.Now()) - 2*time.Millisecond)
	e.router.round(ctx) // still within the grace: nothing to tell
	e.clock.Advance(2 * time.Millisecond)
	e.router.round(ctx)
	ev := next(helpline.EventPresence)
	if st := routing.Status(*ev.Presence, e.clock.Now(), routing.DefaultGrace); st != helpline.PresenceOffline || ev.Presence.Status != helpline.PresenceOnline {
		t.Errorf("announced presence %+v (%s), want ada's, set online, lapsed to offline", *ev.Presence, st)
	}
	if o := next(helpline.EventOffer).Offer; o.ContactID != first.contact.ID || o.State != helpline.OfferWithdrawn {
		t.Errorf("ada's offer %+v after the lapse, want it withdrawn", o)
	}
	e.router.round(ctx) // a lapse is told once
	select {
	case ev := <-sub.Events():
		t.Errorf("a second round published %+v for ada", ev)
	default:
	}
	toBo := e.offers(t, "bo")
	e.presence(t, "bo", helpline.PresenceOnline)
	e.router.round(ctx)
	if o := toBo(); o.ContactID != first.contact.ID {
		t.Errorf("bo was offered %s, want the first chat, still ahead of %s", o.ContactID, second.contact.ID)
	}
	if got := e.owner(t, first.contact.ID); got != "queue:sales" {
		t.Errorf("the first chat is owned by %q, want still queue:sales", got)
	}
}
