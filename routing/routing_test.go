package routing_test

import (
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/helplinehq/helpline"
	"github.com/helplinehq/helpline/clocktest"
	"github.com/helplinehq/helpline/routing"
)

var t0 = time.Date(2024, 5, 1, 9, 0, 0, 0, time.UTC)

// world is a routing snapshot that tests build up and Decide reads, with
// Apply playing the store's part.
type world struct {
	clock *clocktest.Clock
	snap  helpline.RoutingSnapshot
	seq   int
}

func newWorld(queues ...*helpline.Queue) *world {
	w := &world{clock: clocktest.New(t0)}
	for _, q := range queues {
		q.InstanceID = "i1"
		q.Normalize()
		w.snap.Queues = append(w.snap.Queues, q)
	}
	return w
}

// online adds an enabled agent, online with a live connection, serving
// queues, with capacity (0 for the default) and the given last assignment.
func (w *world) online(id string, capacity int, assignedAt time.Time, queues ...string) *helpline.AgentState {
	a := &helpline.Agent{InstanceID: "i1", ID: id, Email: id + "@example.com", Capacity: capacity, Enabled: true, Queues: queues}
	a.Normalize()
	as := &helpline.AgentState{Agent: a, Presence: helpline.Presence{
		Status: helpline.PresenceOnline, StatusAt: t0, SeenAt: w.clock.Now(), AssignedAt: assignedAt}}
	w.snap.Agents = append(w.snap.Agents, as)
	return as
}

// wait puts a contact in queue q, entered now.
func (w *world) wait(id, q string) {
	w.snap.Waiting = append(w.snap.Waiting, helpline.Waiting{ContactID: id, QueueID: q, Version: 2, Since: w.clock.Now()})
}

func (w *world) agent(id string) *helpline.AgentState {
	for _, a := range w.snap.Agents {
		if a.Agent.ID == id {
			return a
		}
	}
	panic("no agent " + id)
}

// decide runs Decide now and applies the plan as a store would, returning
// the plan.
func (w *world) decide() *routing.Plan {
	now := w.clock.Now()
	p := routing.Decide(&w.snap, now, 0)
	for _, c := range p.Close {
		c.Offer.State, c.Offer.DecidedAt = c.State, now
	}
	for _, ch := range p.Requeue {
		id := strings.TrimPrefix(ch.From, "agent:")
		a := w.agent(id)
		a.Chats = slices.DeleteFunc(a.Chats, func(c helpline.Assignment) bool { return c.ContactID == ch.ContactID })
		w.snap.Waiting = append(w.snap.Waiting, helpline.Waiting{ContactID: ch.ContactID, QueueID: strings.TrimPrefix(ch.To, "queue:"),
			Version: ch.Version + 1, Since: now})
	}
	for _, o := range p.Offers {
		w.seq++
		o.Offer.ID = fmt.Sprintf("o%d", w.seq)
		w.snap.Offers = append(w.snap.Offers, o.Offer)
		w.agent(o.Offer.AgentID).Presence.OfferedAt = now
	}
	return p
}

// accept plays an agent accepting its pending offer of contact.
func (w *world) accept(t *testing.T, contact string) {
	t.Helper()
	for _, o := range w.snap.Offers {
		if o.ContactID == contact && o.State == helpline.OfferPending {
			o.State, o.DecidedAt = helpline.OfferAccepted, w.clock.Now()
			a := w.agent(o.AgentID)
			a.Chats = append(a.Chats, helpline.Assignment{ContactID: contact, QueueID: o.QueueID, Version: o.ContactVersion + 1, Since: w.clock.Now()})
			a.Presence.AssignedAt = w.clock.Now()
			w.snap.Waiting = slices.DeleteFunc(w.snap.Waiting, func(x helpline.Waiting) bool { return x.ContactID == contact })
			return
		}
	}
	t.Fatalf("no pending offer of %s to accept", contact)
}

// offered returns "contact→agent" for each new offer of p.
func offered(p *routing.Plan) []string {
	var out []string
	for _, o := range p.Offers {
		out = append(out, o.Offer.ContactID+"→"+o.Offer.AgentID)
	}
	return out
}

func closed(p *routing.Plan) []string {
	var out []string
	for _, c := range p.Close {
		out = append(out, c.Offer.ContactID+"→"+c.Offer.AgentID+":"+c.State)
	}
	return out
}

func want(t *testing.T, what string, got []string, want ...string) {
	t.Helper()
	if !slices.Equal(got, want) {
		t.Errorf("%s = %q, want %q", what, got, want)
	}
}

func TestCapacityLimitsOffers(t *testing.T) {
	w := newWorld(&helpline.Queue{ID: "sales"})
	w.online("ada", 2, time.Time{}, "sales")
	for _, c := range []string{"c1", "c2", "c3"} {
		w.wait(c, "sales")
		w.clock.Advance(time.Second)
	}
	p := w.decide()
	want(t, "offers", offered(p), "c1→ada", "c2→ada")
	for _, o := range p.Offers {
		if !o.Offer.ExpiresAt.Equal(w.clock.Now().Add(helpline.DefaultAcceptWithin)) || o.Offer.ContactVersion != 2 {
			t.Errorf("offer %+v: want expiry now+30s and the waiting version 2", o.Offer)
		}
	}
	// Pending offers count towards capacity: nothing more now.
	want(t, "offers while two are pending", offered(w.decide()))
	w.accept(t, "c1")
	want(t, "offers with one chat and one offer", offered(w.decide()))
	// An accepted chat still counts; an ended one (gone from Chats) frees a slot.
	w.agent("ada").Chats = nil
	want(t, "offers once the chat ended", offered(w.decide()), "c3→ada")
}

func TestLongestIdleFirst(t *testing.T) {
	w := newWorld(&helpline.Queue{ID: "sales"})
	w.online("ada", 0, t0.Add(-time.Minute), "sales")
	w.online("bob", 0, t0.Add(-time.Hour), "sales")
	w.online("cy", 0, t0.Add(-2*time.Minute), "sales")
	w.wait("c1", "sales")
	w.wait("c2", "sales")
	w.wait("c3", "sales")
	w.wait("c4", "sales")
	// Each offer counts as the agent's latest assignment within a round,
	// so the offers go round the agents from the idlest; then ties go to
	// the smaller id.
	want(t, "offers", offered(w.decide()), "c1→bob", "c2→cy", "c3→ada", "c4→ada")
}

func TestNeverAssignedIsIdlest(t *testing.T) {
	w := newWorld(&helpline.Queue{ID: "sales"})
	w.online("ada", 0, t0.Add(-time.Hour), "sales")
	w.online("zed", 0, time.Time{}, "sales")
	w.wait("c1", "sales")
	want(t, "offers", offered(w.decide()), "c1→zed")
}

func TestRoundRobin(t *testing.T) {
	w := newWorld(&helpline.Queue{ID: "sales", Routing: helpline.RoutingRoundRobin})
	// Round robin ignores idle time and goes by the last offer.
	w.online("ada", 10, t0.Add(-time.Hour), "sales")
	w.online("bob", 10, t0.Add(-2*time.Hour), "sales")
	w.online("cy", 10, t0, "sales")
	var got []string
	for i := range 6 {
		w.wait(fmt.Sprintf("c%d", i), "sales")
		got = append(got, offered(w.decide())...)
		w.clock.Advance(time.Second)
	}
	want(t, "offers", got, "c0→ada", "c1→bob", "c2→cy", "c3→ada", "c4→bob", "c5→cy")
}

func TestOfferTimesOutAndMovesOn(t *testing.T) {
	w := newWorld(&helpline.Queue{ID: "sales", AcceptWithin: 20 * time.Second})
	w.online("ada", 0, time.Time{}, "sales")
	w.online("bob", 0, t0, "sales")
	w.wait("c1", "sales")
	want(t, "offers", offered(w.decide()), "c1→ada")

	w.clock.Advance(19 * time.Second)
	w.agent("ada").Presence.SeenAt = w.clock.Now()
	w.agent("bob").Presence.SeenAt = w.clock.Now()
	p := w.decide()
	want(t, "closed before expiry", closed(p))
	want(t, "offers before expiry", offered(p))

	w.clock.Advance(time.Second)
	p = w.decide()
	want(t, "closed at expiry", closed(p), "c1→ada:expired")
	want(t, "offers at expiry", offered(p), "c1→bob")

	// Bob lets it pass too: back to Ada, who passed longest ago.
	w.clock.Advance(20 * time.Second)
	w.agent("ada").Presence.SeenAt = w.clock.Now()
	w.agent("bob").Presence.SeenAt = w.clock.Now()
	p = w.decide()
	want(t, "closed", closed(p), "c1→bob:expired")
	want(t, "offers", offered(p), "c1→ada")
}

func TestAutoAccept(t *testing.T) {
	w := newWorld(&helpline.Queue{ID: "sales", AutoAccept: true}, &helpline.Queue{ID: "care"})
	w.online("ada", 0, time.Time{}, "sales", "care")
	w.wait("c1", "sales")
	w.wait("c2", "care")
	p := w.decide()
	if len(p.Offers) != 2 || !p.Offers[0].AutoAccept || p.Offers[1].AutoAccept {
		t.Errorf("offers %+v: want c1 auto-accepted (sales) and c2 not (care)", p.Offers)
	}
}

func TestAgentGoingAwayWithdrawsOffersKeepsChats(t *testing.T) {
	for _, status := range []string{helpline.PresenceAway, helpline.PresenceOffline} {
		t.Run(status, func(t *testing.T) {
			w := newWorld(&helpline.Queue{ID: "sales"})
			ada := w.online("ada", 0, time.Time{}, "sales")
			for _, c := range []string{"c1", "c2", "c3"} {
				w.wait(c, "sales")
				w.clock.Advance(time.Second)
			}
			want(t, "offers", offered(w.decide()), "c1→ada", "c2→ada", "c3→ada")
			w.accept(t, "c1")

			ada.Presence.Status, ada.Presence.StatusAt = status, w.clock.Now()
			p := w.decide()
			want(t, "closed", closed(p), "c2→ada:withdrawn", "c3→ada:withdrawn")
			want(t, "offers with nobody online", offered(p))
			if len(p.Requeue) != 0 {
				t.Errorf("requeued %+v without reassign_after", p.Requeue)
			}
			w.clock.Advance(time.Hour)
			if p := w.decide(); len(p.Requeue) != 0 || len(p.Offers) != 0 {
				t.Errorf("an hour later: %+v, want nothing", p)
			}
			if len(ada.Chats) != 1 || ada.Chats[0].ContactID != "c1" {
				t.Errorf("ada's chats %+v, want c1 kept", ada.Chats)
			}
			// The contacts kept their places: the next agent online gets
			// c2 before c3.
			w.online("bob", 1, time.Time{}, "sales")
			want(t, "offers once bob is online", offered(w.decide()), "c2→bob")
		})
	}
}

func TestConnectionLossAfterGrace(t *testing.T) {
	w := newWorld(&helpline.Queue{ID: "sales", AcceptWithin: time.Hour})
	w.online("ada", 0, time.Time{}, "sales")
	w.wait("c1", "sales")
	w.decide()
	w.clock.Advance(routing.DefaultGrace)
	if got := routing.Status(w.agent("ada").Presence, w.clock.Now(), 0); got != helpline.PresenceOnline {
		t.Errorf("status at the end of the grace = %s, want online", got)
	}
	want(t, "closed within the grace", closed(w.decide()))
	w.clock.Advance(time.Millisecond)
	want(t, "closed after the grace", closed(w.decide()), "c1→ada:withdrawn")
	if got := routing.Status(helpline.Presence{Status: helpline.PresenceOnline}, t0, 0); got != helpline.PresenceOffline {
		t.Errorf("status never connected = %s, want offline", got)
	}
}

func TestReassignAfter(t *testing.T) {
	w := newWorld(&helpline.Queue{ID: "sales", ReassignAfter: 5 * time.Minute}, &helpline.Queue{ID: "care"})
	ada := w.online("ada", 0, time.Time{}, "sales", "care")
	w.wait("c1", "sales")
	w.wait("c2", "care")
	w.decide()
	w.accept(t, "c1")
	w.accept(t, "c2")
	ada.Presence.Status, ada.Presence.StatusAt = helpline.PresenceAway, w.clock.Now()

	w.clock.Advance(5*time.Minute - time.Millisecond)
	if p := w.decide(); len(p.Requeue) != 0 {
		t.Errorf("requeued %+v before reassign_after", p.Requeue)
	}
	w.clock.Advance(time.Millisecond)
	p := w.decide()
	if len(p.Requeue) != 1 {
		t.Fatalf("requeued %+v, want c1 only (care has no reassign_after)", p.Requeue)
	}
	if ch := p.Requeue[0]; ch.ContactID != "c1" || ch.From != "agent:ada" || ch.To != "queue:sales" || ch.Version != 3 || ch.Reason != routing.ReasonReassign {
		t.Errorf("requeue %+v", ch)
	}
	bob := w.online("bob", 0, time.Time{}, "sales")
	want(t, "offers", offered(w.decide()), "c1→bob")
	_ = bob
}

func TestEmptyQueueKeepsWaiting(t *testing.T) {
	w := newWorld(&helpline.Queue{ID: "sales"}, &helpline.Queue{ID: "care"})
	w.online("ada", 0, time.Time{}, "care")
	away := w.online("bob", 0, time.Time{}, "sales")
	away.Presence.Status = helpline.PresenceAway
	disabled := w.online("cy", 0, time.Time{}, "sales")
	disabled.Agent.Enabled = false
	w.wait("c1", "sales")
	w.wait("c2", "care")
	w.wait("c3", "gone") // an unknown queue: waits too
	want(t, "offers", offered(w.decide()), "c2→ada")
	w.accept(t, "c2")
	w.clock.Advance(time.Hour)
	w.agent("ada").Presence.SeenAt = w.clock.Now()
	want(t, "offers an hour later", offered(w.decide()))
}

func TestFIFOUnderContention(t *testing.T) {
	// Two queues share one agent with one slot: the contact that waited
	// longest, whatever its queue, goes first; later ones wait their turn.
	w := newWorld(&helpline.Queue{ID: "sales"}, &helpline.Queue{ID: "care"})
	w.online("ada", 1, time.Time{}, "sales", "care")
	order := []string{"c1", "c2", "c3", "c4", "c5"}
	for i, c := range order {
		w.wait(c, []string{"care", "sales"}[i%2])
		w.clock.Advance(time.Second)
	}
	// The snapshot lists waiting contacts oldest first, as the store does.
	var got []string
	for range order {
		got = append(got, offered(w.decide())...)
		w.accept(t, got[len(got)-1][:2])
		w.agent("ada").Chats = nil // the chat ended
	}
	want(t, "offers in turn", got, "c1→ada", "c2→ada", "c3→ada", "c4→ada", "c5→ada")
}

func TestTransfer(t *testing.T) {
	w := newWorld(&helpline.Queue{ID: "sales"}, &helpline.Queue{ID: "night"})
	w.online("ada", 1, time.Time{}, "sales")
	bob := w.online("bob", 1, time.Time{}, "sales")
	away := w.online("cy", 0, time.Time{}, "sales")
	away.Presence.Status = helpline.PresenceAway
	c := &helpline.Contact{ID: "c1", Owner: "agent:ada", Version: 4}
	now := w.clock.Now()

	tr, err := routing.PlanTransfer(&w.snap, c, "queue:night", "agent:ada", now, 0)
	if err != nil || !tr.NobodyOnline || tr.Change.From != "agent:ada" || tr.Change.To != "queue:night" || tr.Change.Version != 4 {
		t.Errorf("into an empty queue: %+v, %v; want allowed and flagged", tr, err)
	}
	if tr, err := routing.PlanTransfer(&w.snap, c, "queue:sales", "agent:ada", now, 0); err != nil || tr.NobodyOnline {
		t.Errorf("into a staffed queue: %+v, %v; want allowed, not flagged", tr, err)
	}
	if tr, err := routing.PlanTransfer(&w.snap, c, "agent:bob", "agent:ada", now, 0); err != nil || tr.Change.To != "agent:bob" || tr.Change.Reason != routing.ReasonTransfer {
		t.Errorf("to an online agent: %+v, %v", tr, err)
	}
	bob.Chats = []helpline.Assignment{{ContactID: "c9"}}
	for _, tc := range []struct{ target, code string }{
		{"agent:bob", helpline.EQUOTA},
		{"agent:cy", helpline.ECONFLICT},
		{"agent:nobody", helpline.ENOTFOUND},
		{"queue:nowhere", helpline.ENOTFOUND},
		{"bot:greeter", helpline.EINVALID},
		{"agent:ada", helpline.EINVALID},
		{"", helpline.EINVALID},
	} {
		if _, err := routing.PlanTransfer(&w.snap, c, tc.target, "agent:ada", now, 0); helpline.ErrorCode(err) != tc.code {
			t.Errorf("transfer to %q: %v, want code %s", tc.target, err, tc.code)
		}
	}
	// A pending offer holds bob's other slot as well.
	bob.Chats = nil
	w.snap.Offers = append(w.snap.Offers, &helpline.Offer{ID: "o", ContactID: "c8", AgentID: "bob", QueueID: "sales",
		State: helpline.OfferPending, ExpiresAt: now.Add(time.Second)})
	if _, err := routing.PlanTransfer(&w.snap, c, "agent:bob", "agent:ada", now, 0); helpline.ErrorCode(err) != helpline.EQUOTA {
		t.Errorf("to an agent with a pending offer: %v, want EQUOTA", err)
	}
}

// Next names the earliest moment a decision could change: here the
// grace of ada's connection, before bo's offer expires and cy's chat is
// due back.
func TestNext(t *testing.T) {
	now := time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)
	s := &helpline.RoutingSnapshot{
		Queues: []*helpline.Queue{{ID: "sales", ReassignAfter: 10 * time.Minute}},
		Agents: []*helpline.AgentState{
			{Agent: &helpline.Agent{ID: "ada", Enabled: true}, Presence: helpline.Presence{Status: helpline.PresenceOnline, SeenAt: now.Add(-50 * time.Second)}},
			{Agent: &helpline.Agent{ID: "cy", Enabled: true}, Presence: helpline.Presence{Status: helpline.PresenceAway, StatusAt: now.Add(-9 * time.Minute), SeenAt: now},
				Chats: []helpline.Assignment{{ContactID: "c2", QueueID: "sales"}}},
		},
		Offers: []*helpline.Offer{{ContactID: "c1", AgentID: "bo", State: helpline.OfferPending, ExpiresAt: now.Add(20 * time.Second)}},
	}
	if got, want := routing.Next(s, now, time.Minute), now.Add(10*time.Second+time.Millisecond); !got.Equal(want) {
		t.Errorf("Next = %v, want ada's grace ending at %v", got, want)
	}
	s.Agents = s.Agents[1:]
	if got, want := routing.Next(s, now, time.Minute), now.Add(20*time.Second); !got.Equal(want) {
		t.Errorf("Next = %v, want bo's offer expiring at %v", got, want)
	}
	s.Offers = nil
	if got, want := routing.Next(s, now, time.Minute), now.Add(time.Minute); !got.Equal(want) {
		t.Errorf("Next = %v, want cy's chat due back at %v", got, want)
	}
	if got := routing.Next(&helpline.RoutingSnapshot{}, now, 0); !got.IsZero() {
		t.Errorf("Next of nothing = %v, want zero", got)
	}
}
