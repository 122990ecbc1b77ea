package chat_test

import (
	"slices"
	"testing"
	"time"

	"github.com/helplinehq/helpline"
)

// routingEnv is an env whose instance has a flow routed to queue sales,
// served by agents ada and bo, both online.
func routingEnv(t *testing.T) *env {
	t.Helper()
	e := newEnv(t)
	e.inst.Flows = append(e.inst.Flows,
		helpline.Flow{ID: "flow-sales", Name: "Sales", Queue: "sales"},
		helpline.Flow{ID: "flow-nobody", Name: "Nobody serves it", Queue: "empty"})
	if err := e.store.SaveInstance(ctx, e.inst); err != nil {
		t.Fatal(err)
	}
	for _, q := range []string{"sales", "empty"} {
		if err := e.store.SaveQueue(ctx, &helpline.Queue{InstanceID: e.inst.ID, ID: q}); err != nil {
			t.Fatal(err)
		}
	}
	for _, a := range []*helpline.Agent{
		{InstanceID: e.inst.ID, ID: "ada", DisplayName: "Ada L.", Email: "ada@example.com", Queues: []string{"sales"}, Enabled: true},
		{InstanceID: e.inst.ID, ID: "bo", DisplayName: "Bo", Email: "bo@example.com", Queues: []string{"sales"}, Enabled: true},
	} {
		if err := e.store.CreateAgent(ctx, a); err != nil {
			t.Fatal(err)
		}
		e.online(t, a.ID)
	}
	return e
}

// messages returns the contents of the contact's stored messages.
func (e *env) messages(t *testing.T, contactID string) []string {
	t.Helper()
	var out []string
	for _, it := range e.items(t, contactID) {
		if it.Type == helpline.ItemMessage {
			out = append(out, it.Content)
		}
	}
	return out
}

func (e *env) online(t *testing.T, agentID string) {
	t.Helper()
	if err := e.store.SetPresence(ctx, e.inst.ID, agentID, helpline.PresenceOnline, e.clock.Now()); err != nil {
		t.Fatal(err)
	}
	if err := e.store.TouchAgent(ctx, e.inst.ID, agentID, e.clock.Now()); err != nil {
		t.Fatal(err)
	}
}

// A flow's queue takes its new contacts when an agent serves it: they are
// created in it, with one owner.changed item, and the ownership event
// follows their opening items; where no agent serves it, nobody owns them
// until an agent serves it.
func TestStartChatEntersFlowQueue(t *testing.T) {
	e := routingEnv(t)
	sub, err := e.bus.Subscribe(ctx, helpline.AllContacts)
	if err != nil {
		t.Fatal(err)
	}
	defer sub.Close()
	started, _ := e.start(t, helpline.StartChatInput{ContactFlowID: "flow-sales"})
	if c := started.Contact; c.Owner != "queue:sales" || c.Version != 1 || c.LastSeq != 2 {
		t.Errorf("started owner %q version %d LastSeq %d, want queue:sales at 1 with its 2 items", c.Owner, c.Version, c.LastSeq)
	}
	want := []string{helpline.EventParticipantJoined, helpline.EventOwnerChanged}
	if got := contentTypes(e.items(t, started.Contact.ID)); !slices.Equal(got, want) {
		t.Errorf("items %q, want %q", got, want)
	}
	var kinds []string
	for len(kinds) < 3 {
		select {
		case ev := <-sub.Events():
			kinds = append(kinds, string(ev.Kind))
			if ev.Kind == helpline.EventOwner && *ev.Owner != (helpline.Ownership{Owner: "queue:sales", Version: 1}) {
				t.Errorf("ownership event %+v, want queue:sales at version 1 from nobody", *ev.Owner)
			}
		case <-time.After(5 * time.Second):
			t.Fatalf("published %q, want 2 items and the ownership event", kinds)
		}
	}
	if want := []string{"item", "item", "owner.changed"}; !slices.Equal(kinds, want) {
		t.Errorf("published %q, want %q", kinds, want)
	}

	started, _ = e.start(t, helpline.StartChatInput{ContactFlowID: "flow-nobody"})
	if c := started.Contact; c.Owner != "" || c.Version != 1 {
		t.Errorf("unserved queue: owner %q version %d, want nobody at 1", c.Owner, c.Version)
	}
	if got := contentTypes(e.items(t, started.Contact.ID)); !slices.Equal(got, want[:1]) {
		t.Errorf("unserved queue: items %q, want %q", got, want[:1])
	}
	// The first agent to serve the queue is heeded at the next start.
	if err := e.store.CreateAgent(ctx, &helpline.Agent{InstanceID: e.inst.ID, ID: "cy", Email: "cy@example.com",
		Queues: []string{"empty"}, Enabled: true}); err != nil {
		t.Fatal(err)
	}
	started, _ = e.start(t, helpline.StartChatInput{ContactFlowID: "flow-nobody"})
	if c := started.Contact; c.Owner != "queue:empty" {
		t.Errorf("queue served since: owner %q, want queue:empty", c.Owner)
	}
}

// Accepting an offer seats the agent under its display name; a transfer
// to another agent makes the first leave and the second join; a transfer
// into a queue where nobody is online is made, and flagged.
func TestAcceptOfferAndTransfer(t *testing.T) {
	e := routingEnv(t)
	started, _ := e.start(t, helpline.StartChatInput{ContactFlowID: "flow-sales"})
	c := started.Contact
	sub, err := e.bus.Subscribe(ctx, helpline.AgentSubject("ada"))
	if err != nil {
		t.Fatal(err)
	}
	defer sub.Close()
	o := &helpline.Offer{InstanceID: c.InstanceID, ContactID: c.ID, QueueID: "sales", AgentID: "ada", ContactVersion: c.Version,
		CreatedAt: e.clock.Now(), ExpiresAt: e.clock.Now().Add(30 * time.Second)}
	if err := e.store.CreateOffer(ctx, o); err != nil {
		t.Fatal(err)
	}
	got, it, err := e.svc.AcceptOffer(ctx, o.ID)
	if err != nil {
		t.Fatalf("AcceptOffer: %v", err)
	}
	if got.Owner != "agent:ada" || it.ContentType != helpline.EventOwnerChanged {
		t.Errorf("accepted: owner %q, item %s", got.Owner, it.ContentType)
	}
	select {
	case ev := <-sub.Events():
		if ev.Kind != helpline.EventOffer || ev.Offer.ID != o.ID || ev.Offer.State != helpline.OfferAccepted {
			t.Errorf("agent's event %+v, want its offer accepted", ev)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("no offer event on the agent's subject")
	}
	_, _, err = e.svc.AcceptOffer(ctx, o.ID)
	wantCode(t, err, helpline.ECONFLICT)

	_, _, err = e.svc.Transfer(ctx, c.InstanceID, c.ID, "agent:nobody", "agent:ada")
	wantCode(t, err, helpline.ENOTFOUND)
	_, _, err = e.svc.Transfer(ctx, c.InstanceID, c.ID, "agent:ada", "agent:ada")
	wantCode(t, err, helpline.EINVALID)
	got, nobody, err := e.svc.Transfer(ctx, c.InstanceID, c.ID, "agent:bo", "agent:ada")
	if err != nil || got.Owner != "agent:bo" || nobody {
		t.Fatalf("Transfer to bo = %v, %v, %v", got, nobody, err)
	}
	got, nobody, err = e.svc.Transfer(ctx, c.InstanceID, c.ID, "queue:empty", "agent:bo")
	if err != nil || got.Owner != "queue:empty" || !nobody {
		t.Fatalf("Transfer to an empty queue = %v, nobodyOnline %v, %v; want made and flagged", got, nobody, err)
	}

	var seats []string
	for _, it := range e.items(t, c.ID) {
		if it.Role == helpline.RoleAgent {
			seats = append(seats, it.ContentType+" "+it.DisplayName)
		}
	}
	want := []string{"application/vnd.amazonaws.connect.event.participant.joined Ada L.",
		"application/vnd.amazonaws.connect.event.participant.left Ada L.",
		"application/vnd.amazonaws.connect.event.participant.joined Bo",
		"application/vnd.amazonaws.connect.event.participant.left Bo"}
	if !slices.Equal(seats, want) {
		t.Errorf("agents' items %q, want %q", seats, want)
	}
}

// Outside its flow's business hours a chat gets the away message and
// waits, or ends at once when the flow says so.
func TestStartChatOutOfHours(t *testing.T) {
	e := newEnv(t) // the clock stands on Saturday 1 March 2025, 12:00 UTC
	weekdays := &helpline.BusinessHours{TimeZone: "Europe/Paris", Open: []helpline.OpenPeriod{{Day: time.Monday, From: "09:00", To: "17:00"}}}
	e.inst.Flows = append(e.inst.Flows,
		helpline.Flow{ID: "flow-away", Name: "Away", Greeting: "Hi!", Hours: weekdays, AwayMessage: "Back on Monday."},
		helpline.Flow{ID: "flow-closed", Name: "Closed", Hours: weekdays, EndOutOfHours: true},
		helpline.Flow{ID: "flow-open", Name: "Open", Hours: &helpline.BusinessHours{Open: []helpline.OpenPeriod{{Day: time.Saturday, From: "00:00", To: "24:00"}}}})
	if err := e.store.SaveInstance(ctx, e.inst); err != nil {
		t.Fatal(err)
	}
	away, _ := e.start(t, helpline.StartChatInput{ContactFlowID: "flow-away"})
	if got := e.messages(t, away.Contact.ID); !slices.Equal(got, []string{"Hi!", "Back on Monday."}) || away.Contact.Ended() {
		t.Errorf("away flow: messages %q, ended %v; want the greeting then the away message, still waiting", got, away.Contact.Ended())
	}
	closed, err := e.svc.StartChat(ctx, helpline.StartChatInput{InstanceID: e.inst.ID, ContactFlowID: "flow-closed", DisplayName: "Casey"})
	if err != nil {
		t.Fatal(err)
	}
	if c := closed.Contact; !c.Ended() || c.EndReason != helpline.EndFlowDisconnect {
		t.Errorf("closed flow: contact %s/%s, want ended by the flow", c.State, c.EndReason)
	}
	if got := e.messages(t, closed.Contact.ID); !slices.Equal(got, []string{"We are closed right now. Leave us a message and we will answer as soon as we are open."}) {
		t.Errorf("closed flow: messages %q, want the default away message", got)
	}
	open, _ := e.start(t, helpline.StartChatInput{ContactFlowID: "flow-open"})
	if got := e.messages(t, open.Contact.ID); len(got) != 0 {
		t.Errorf("open flow: messages %q, want none", got)
	}
}

// A flow without hours of its own follows its queue's: outside them the
// chat gets the queue's away message and waits in the queue, or ends at
// once, owned by nobody, when the queue says so.
func TestStartChatQueueHours(t *testing.T) {
	e := routingEnv(t) // the clock stands on Saturday 1 March 2025, 12:00 UTC
	monday := &helpline.BusinessHours{TimeZone: "Europe/Paris", Open: []helpline.OpenPeriod{{Day: time.Monday, From: "09:00", To: "17:00"}}}
	q := &helpline.Queue{InstanceID: e.inst.ID, ID: "sales", Hours: monday, AwayMessage: "Sales opens on Monday."}
	if err := e.store.SaveQueue(ctx, q); err != nil {
		t.Fatal(err)
	}
	waits, _ := e.start(t, helpline.StartChatInput{ContactFlowID: "flow-sales"})
	if got := e.messages(t, waits.Contact.ID); !slices.Equal(got, []string{"Sales opens on Monday."}) || waits.Contact.Owner != "queue:sales" || waits.Contact.Ended() {
		t.Errorf("closed queue: messages %q, owner %q, ended %v; want the away message, waiting in the queue", got, waits.Contact.Owner, waits.Contact.Ended())
	}
	q.EndOutOfHours = true
	if err := e.store.SaveQueue(ctx, q); err != nil {
		t.Fatal(err)
	}
	ended, err := e.svc.StartChat(ctx, helpline.StartChatInput{InstanceID: e.inst.ID, ContactFlowID: "flow-sales", DisplayName: "Casey"})
	if err != nil {
		t.Fatal(err)
	}
	if c := ended.Contact; !c.Ended() || c.EndReason != helpline.EndFlowDisconnect || c.Owner != "" {
		t.Errorf("queue ending out of hours: contact %s/%s owned by %q, want ended by the flow, owned by nobody", c.State, c.EndReason, c.Owner)
	}
	q.Hours.Open = append(q.Hours.Open, helpline.OpenPeriod{Day: time.Saturday, From: "00:00", To: "24:00"})
	if err := e.store.SaveQueue(ctx, q); err != nil {
		t.Fatal(err)
	}
	open, _ := e.start(t, helpline.StartChatInput{ContactFlowID: "flow-sales"})
	if got := e.messages(t, open.Contact.ID); len(got) != 0 || open.Contact.Owner != "queue:sales" {
		t.Errorf("open queue: messages %q, owner %q; want none, in the queue", got, open.Contact.Owner)
	}
}

// An agent's receipt, like its message, counts only while the agent owns
// the chat: once the owner has moved on (here before the agent has been
// unseated), it is refused and nothing is stored.
func TestAgentReceiptNeedsOwnership(t *testing.T) {
	e := routingEnv(t)
	started, customer := e.start(t, helpline.StartChatInput{ContactFlowID: "flow-sales"})
	c := started.Contact
	o := &helpline.Offer{InstanceID: c.InstanceID, ContactID: c.ID, QueueID: "sales", AgentID: "ada", ContactVersion: c.Version,
		CreatedAt: e.clock.Now(), ExpiresAt: e.clock.Now().Add(30 * time.Second)}
	if err := e.store.CreateOffer(ctx, o); err != nil {
		t.Fatal(err)
	}
	accepted, _, err := e.svc.AcceptOffer(ctx, o.ID)
	if err != nil {
		t.Fatalf("AcceptOffer: %v", err)
	}
	ada, err := e.svc.AgentSession(ctx, c.InstanceID, c.ID, "ada")
	if err != nil {
		t.Fatalf("AgentSession: %v", err)
	}
	msg, err := e.svc.SendMessage(ctx, customer, "text/plain", "hello", "")
	if err != nil {
		t.Fatal(err)
	}
	read := `{"messageId":"` + msg.ID + `"}`
	if _, err := e.svc.SendEvent(ctx, ada, helpline.EventMessageRead, read, "r-1"); err != nil {
		t.Fatalf("the owner's receipt: %v", err)
	}
	if _, _, err := e.store.ChangeOwner(ctx, &helpline.OwnerChange{ContactID: c.ID, From: accepted.Owner, Version: accepted.Version,
		To: "queue:sales", Reason: "reassign", Actor: "agent:sup", At: e.clock.Now()}); err != nil {
		t.Fatal(err)
	}
	before := len(e.items(t, c.ID))
	_, err = e.svc.SendEvent(ctx, ada, helpline.EventMessageRead, read, "r-2")
	wantCode(t, err, helpline.ECONFLICT)
	if after := len(e.items(t, c.ID)); after != before {
		t.Errorf("a refused receipt stored %d items", after-before)
	}
}
