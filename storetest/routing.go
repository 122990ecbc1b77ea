package storetest

import (
	"context"
	"fmt"
	"reflect"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/helplinehq/helpline"
)

// routingSetup returns a store with instance i1, queue sales and agents
// ada and bob serving it (capacity 2), and a contact waiting in sales.
func routingSetup(t *testing.T, open func(t *testing.T) helpline.Store) (helpline.Store, *helpline.Contact) {
	t.Helper()
	ctx := context.Background()
	s := open(t)
	if err := s.SaveInstance(ctx, &helpline.Instance{ID: "i1", Name: "i1"}); err != nil {
		t.Fatal(err)
	}
	if err := s.SaveQueue(ctx, &helpline.Queue{InstanceID: "i1", ID: "sales"}); err != nil {
		t.Fatalf("SaveQueue: %v", err)
	}
	for _, id := range []string{"ada", "bob"} {
		if err := s.CreateAgent(ctx, &helpline.Agent{InstanceID: "i1", ID: id, Email: id + "@example.com",
			Queues: []string{"sales"}, Capacity: 2, Enabled: true, CreatedAt: base}); err != nil {
			t.Fatalf("CreateAgent: %v", err)
		}
	}
	return s, waitingContact(t, s)
}

// waitingContact creates a contact of i1 owned by queue:sales.
func waitingContact(t *testing.T, s helpline.Store) *helpline.Contact {
	t.Helper()
	nc := newContact("i1")
	nc.Contact.Owner = "queue:sales"
	mustCreateContact(t, s, nc)
	return nc.Contact
}

func offerOf(c *helpline.Contact, agentID string, d time.Duration) *helpline.Offer {
	return &helpline.Offer{ContactID: c.ID, QueueID: "sales", AgentID: agentID, ContactVersion: c.Version,
		CreatedAt: at(d), ExpiresAt: at(d + 30*time.Second)}
}

func testAgents(t *testing.T, open func(t *testing.T) helpline.Store) {
	ctx := context.Background()
	s, _ := routingSetup(t, open)
	a := &helpline.Agent{InstanceID: "i1", ID: "cy", DisplayName: "Cy", Email: " Cy@Example.COM ", PasswordHash: "$h",
		Role: helpline.AgentRoleSupervisor, Enabled: true, CreatedAt: base}
	if err := s.CreateAgent(ctx, a); err != nil {
		t.Fatalf("CreateAgent: %v", err)
	}
	if a.Capacity != helpline.DefaultCapacity || a.Email != "cy@example.com" {
		t.Errorf("new agent capacity %d email %q, want the default %d and lower case", a.Capacity, a.Email, helpline.DefaultCapacity)
	}
	got, err := s.FindAgentByEmail(ctx, "i1", "CY@example.com")
	if err != nil || got.ID != "cy" || got.PasswordHash != "$h" || got.Role != helpline.AgentRoleSupervisor || !got.CreatedAt.Equal(base) {
		t.Errorf("FindAgentByEmail = %+v, %v", got, err)
	}
	for name, tc := range map[string]struct {
		a    helpline.Agent
		code string
	}{
		"capacity 11":      {helpline.Agent{InstanceID: "i1", ID: "x", Email: "x@example.com", Capacity: 11}, helpline.EINVALID},
		"capacity -1":      {helpline.Agent{InstanceID: "i1", ID: "x", Email: "x@example.com", Capacity: -1}, helpline.EINVALID},
		"bad email":        {helpline.Agent{InstanceID: "i1", ID: "x", Email: "not an email"}, helpline.EINVALID},
		"bad id":           {helpline.Agent{InstanceID: "i1", ID: "a.b", Email: "x@example.com"}, helpline.EINVALID},
		"bad role":         {helpline.Agent{InstanceID: "i1", ID: "x", Email: "x@example.com", Role: "boss"}, helpline.EINVALID},
		"duplicate email":  {helpline.Agent{InstanceID: "i1", ID: "x", Email: "ADA@example.com"}, helpline.ECONFLICT},
		"duplicate id":     {helpline.Agent{InstanceID: "i1", ID: "ada", Email: "x@example.com"}, helpline.ECONFLICT},
		"unknown instance": {helpline.Agent{InstanceID: "nope", ID: "x", Email: "x@example.com"}, helpline.ENOTFOUND},
	} {
		err := s.CreateAgent(ctx, &tc.a)
		wantCode(t, "CreateAgent "+name, err, tc.code)
	}
	// The same email in another instance is another agent.
	if err := s.SaveInstance(ctx, &helpline.Instance{ID: "i2", Name: "i2"}); err != nil {
		t.Fatal(err)
	}
	if err := s.CreateAgent(ctx, &helpline.Agent{InstanceID: "i2", ID: "ada", Email: "ada@example.com"}); err != nil {
		t.Errorf("CreateAgent ada in i2: %v", err)
	}

	got.Enabled, got.Capacity, got.Queues = false, 5, []string{"sales", "care"}
	if err := s.UpdateAgent(ctx, got); err != nil {
		t.Fatalf("UpdateAgent: %v", err)
	}
	if again, _ := s.FindAgentByID(ctx, "i1", "cy"); again.Enabled || again.Capacity != 5 || len(again.Queues) != 2 {
		t.Errorf("after UpdateAgent: %+v", again)
	}
	got.Email = "bob@example.com"
	wantCode(t, "UpdateAgent to bob's email", s.UpdateAgent(ctx, got), helpline.ECONFLICT)
	_, err = s.FindAgentByID(ctx, "i1", "nobody")
	wantNotFound(t, "FindAgentByID", err, helpline.ResourceAgent, "nobody")
	if all, err := s.FindAgents(ctx, "i1"); err != nil || len(all) != 3 || all[0].ID != "ada" || all[2].ID != "cy" {
		t.Errorf("FindAgents = %d agents, %v; want ada, bob, cy", len(all), err)
	}
}

func testQueuesAndPresence(t *testing.T, open func(t *testing.T) helpline.Store) {
	ctx := context.Background()
	s, _ := routingSetup(t, open)
	q := &helpline.Queue{InstanceID: "i1", ID: "night", Routing: helpline.RoutingRoundRobin, AcceptWithin: 10 * time.Second,
		AutoAccept: true, ReassignAfter: time.Minute, Hours: &helpline.BusinessHours{TimeZone: "Europe/Paris",
			Open: []helpline.OpenPeriod{{Day: time.Monday, From: "20:00", To: "24:00"}}, Holidays: []string{"2025-12-25"}},
		AwayMessage: "We open at 20:00.", EndOutOfHours: true}
	if err := s.SaveQueue(ctx, q); err != nil {
		t.Fatalf("SaveQueue: %v", err)
	}
	got, err := s.FindQueueByID(ctx, "i1", "night")
	if err != nil || got.Name != "night" || got.Routing != helpline.RoutingRoundRobin || got.AcceptWithin != 10*time.Second ||
		!got.AutoAccept || got.ReassignAfter != time.Minute || got.Hours == nil || got.Hours.Open[0].To != "24:00" ||
		len(got.Hours.Holidays) != 1 || got.AwayMessage != "We open at 20:00." || !got.EndOutOfHours {
		t.Errorf("FindQueueByID = %+v, %v", got, err)
	}
	wantCode(t, "SaveQueue with an away message but no hours",
		s.SaveQueue(ctx, &helpline.Queue{InstanceID: "i1", ID: "x", AwayMessage: "closed"}), helpline.EINVALID)
	if sales, _ := s.FindQueueByID(ctx, "i1", "sales"); sales.Routing != helpline.RoutingLongestIdle || sales.AcceptWithin != helpline.DefaultAcceptWithin {
		t.Errorf("queue defaults: %+v", sales)
	}
	wantCode(t, "SaveQueue with routing random", s.SaveQueue(ctx, &helpline.Queue{InstanceID: "i1", ID: "x", Routing: "random"}), helpline.EINVALID)
	wantCode(t, "SaveQueue in an unknown instance", s.SaveQueue(ctx, &helpline.Queue{InstanceID: "nope", ID: "x"}), helpline.ENOTFOUND)
	_, err = s.FindQueueByID(ctx, "i1", "nope")
	wantNotFound(t, "FindQueueByID", err, helpline.ResourceQueue, "nope")
	if qs, _ := s.FindQueues(ctx, "i1"); len(qs) != 2 {
		t.Errorf("FindQueues: %d queues, want 2", len(qs))
	}

	if p, err := s.FindPresence(ctx, "i1", "ada"); err != nil || p.Status != helpline.PresenceOffline {
		t.Errorf("new agent's presence %+v, %v; want offline", p, err)
	}
	if err := s.SetPresence(ctx, "i1", "ada", helpline.PresenceOnline, at(time.Second)); err != nil {
		t.Fatal(err)
	}
	if err := s.TouchAgent(ctx, "i1", "ada", at(time.Minute)); err != nil {
		t.Fatal(err)
	}
	if err := s.TouchAgent(ctx, "i1", "ada", at(time.Second)); err != nil {
		t.Fatal(err)
	}
	if p, _ := s.FindPresence(ctx, "i1", "ada"); p.Status != helpline.PresenceOnline || !p.StatusAt.Equal(at(time.Second)) || !p.SeenAt.Equal(at(time.Minute)) {
		t.Errorf("presence %+v, want online since 1s, seen at 1m (an older touch ignored)", p)
	}
	wantCode(t, "SetPresence busy", s.SetPresence(ctx, "i1", "ada", "busy", base), helpline.EINVALID)
	wantCode(t, "SetPresence of nobody", s.SetPresence(ctx, "i1", "nobody", helpline.PresenceAway, base), helpline.ENOTFOUND)
	wantCode(t, "TouchAgent of nobody", s.TouchAgent(ctx, "i1", "nobody", base), helpline.ENOTFOUND)
}

func testOffers(t *testing.T, open func(t *testing.T) helpline.Store) {
	ctx := context.Background()
	t.Run("AcceptIsOwnerCAS", func(t *testing.T) {
		s, c := routingSetup(t, open)
		o := offerOf(c, "ada", time.Second)
		if err := s.CreateOffer(ctx, o); err != nil {
			t.Fatalf("CreateOffer: %v", err)
		}
		if o.ID == "" || o.State != helpline.OfferPending || o.InstanceID != "i1" {
			t.Errorf("created offer %+v", o)
		}
		wantCode(t, "a second pending offer", s.CreateOffer(ctx, offerOf(c, "bob", 2*time.Second)), helpline.ECONFLICT)
		got, it, err := s.AcceptOffer(ctx, o.ID, at(10*time.Second))
		if err != nil {
			t.Fatalf("AcceptOffer: %v", err)
		}
		if got.Owner != "agent:ada" || got.Version != c.Version+1 || it.ContentType != helpline.EventOwnerChanged || it.Seq != c.LastSeq+1 {
			t.Errorf("accepted: contact %+v item %s", got, formatItem(it))
		}
		if items := mustFindItems(t, s, c.ID, helpline.ItemQuery{}); len(items) != int(c.LastSeq)+1 {
			t.Errorf("%d items after the accept, want exactly one transition item more than %d", len(items), c.LastSeq)
		}
		if stored, _ := s.FindOfferByID(ctx, o.ID); stored.State != helpline.OfferAccepted || !stored.DecidedAt.Equal(at(10*time.Second)) {
			t.Errorf("offer after accept %+v", stored)
		}
		if p, _ := s.FindPresence(ctx, "i1", "ada"); !p.AssignedAt.Equal(at(10*time.Second)) || !p.OfferedAt.Equal(at(time.Second)) {
			t.Errorf("presence %+v, want assigned at 10s, offered at 1s", p)
		}
		_, _, err = s.AcceptOffer(ctx, o.ID, at(11*time.Second))
		wantCode(t, "accepting twice", err, helpline.ECONFLICT)
		_, _, err = s.AcceptOffer(ctx, "nope", at(11*time.Second))
		wantNotFound(t, "AcceptOffer", err, helpline.ResourceOffer, "nope")
	})
	t.Run("ExpiredOffer", func(t *testing.T) {
		s, c := routingSetup(t, open)
		o := offerOf(c, "ada", 0)
		if err := s.CreateOffer(ctx, o); err != nil {
			t.Fatal(err)
		}
		_, _, err := s.AcceptOffer(ctx, o.ID, o.ExpiresAt)
		wantCode(t, "accept at expiry", err, helpline.ECONFLICT)
		if got := mustFindContact(t, s, c.ID); got.Owner != "queue:sales" || got.Version != c.Version {
			t.Errorf("contact after a late accept: %q v%d, want unchanged", got.Owner, got.Version)
		}
		if stored, _ := s.FindOfferByID(ctx, o.ID); stored.State != helpline.OfferExpired {
			t.Errorf("late-accepted offer is %s, want expired", stored.State)
		}
		// Once expired, the contact can be offered to someone else.
		if err := s.CreateOffer(ctx, offerOf(c, "bob", 31*time.Second)); err != nil {
			t.Errorf("offer after the first expired: %v", err)
		}
	})
	t.Run("OwnerChangeWithdraws", func(t *testing.T) {
		s, c := routingSetup(t, open)
		o := offerOf(c, "ada", 0)
		if err := s.CreateOffer(ctx, o); err != nil {
			t.Fatal(err)
		}
		if _, _, err := s.ChangeOwner(ctx, &helpline.OwnerChange{ContactID: c.ID, From: c.Owner, Version: c.Version,
			To: "agent:bob", Reason: "transfer", Actor: "agent:bob", At: at(time.Second)}); err != nil {
			t.Fatal(err)
		}
		if stored, _ := s.FindOfferByID(ctx, o.ID); stored.State != helpline.OfferWithdrawn {
			t.Errorf("offer after the owner changed is %s, want withdrawn", stored.State)
		}
		_, _, err := s.AcceptOffer(ctx, o.ID, at(2*time.Second))
		wantCode(t, "accepting a withdrawn offer", err, helpline.ECONFLICT)
		wantCode(t, "offering a contact no longer waiting", s.CreateOffer(ctx, offerOf(c, "ada", 3*time.Second)), helpline.ECONFLICT)
	})
	t.Run("Close", func(t *testing.T) {
		s, c := routingSetup(t, open)
		o := offerOf(c, "ada", 0)
		if err := s.CreateOffer(ctx, o); err != nil {
			t.Fatal(err)
		}
		wantCode(t, "close as accepted", s.CloseOffer(ctx, o.ID, helpline.OfferAccepted, at(time.Second)), helpline.EINVALID)
		if err := s.CloseOffer(ctx, o.ID, helpline.OfferDeclined, at(time.Second)); err != nil {
			t.Fatal(err)
		}
		wantCode(t, "close twice", s.CloseOffer(ctx, o.ID, helpline.OfferExpired, at(time.Second)), helpline.ECONFLICT)
		snap, err := s.RoutingSnapshot(ctx, "i1")
		if err != nil {
			t.Fatal(err)
		}
		if len(snap.Waiting) != 1 || snap.Waiting[0].ContactID != c.ID || snap.Waiting[0].QueueID != "sales" ||
			len(snap.Offers) != 1 || snap.Offers[0].State != helpline.OfferDeclined || len(snap.Agents) != 2 || len(snap.Queues) != 1 {
			t.Errorf("snapshot %+v: want the contact waiting with its declined offer, two agents, one queue", snap)
		}
	})
	t.Run("CapacityAndDisabled", func(t *testing.T) {
		s, c := routingSetup(t, open)
		ada, _ := s.FindAgentByID(ctx, "i1", "ada")
		ada.Enabled = false
		if err := s.UpdateAgent(ctx, ada); err != nil {
			t.Fatal(err)
		}
		wantCode(t, "offer to a disabled agent", s.CreateOffer(ctx, offerOf(c, "ada", 0)), helpline.ECONFLICT)
		wantCode(t, "offer to nobody", s.CreateOffer(ctx, offerOf(c, "nobody", 0)), helpline.ENOTFOUND)
		for i := range 2 {
			other := waitingContact(t, s)
			if _, _, err := s.ChangeOwner(ctx, &helpline.OwnerChange{ContactID: other.ID, From: other.Owner, Version: other.Version,
				To: "agent:bob", Reason: "transfer", Actor: "x", At: at(time.Duration(i) * time.Second)}); err != nil {
				t.Fatalf("assigning chat %d of 2: %v", i+1, err)
			}
		}
		wantCode(t, "offer to a full agent", s.CreateOffer(ctx, offerOf(c, "bob", 5*time.Second)), helpline.EQUOTA)
		_, _, err := s.ChangeOwner(ctx, &helpline.OwnerChange{ContactID: c.ID, From: c.Owner, Version: c.Version,
			To: "agent:bob", Reason: "transfer", Actor: "x", At: at(5 * time.Second)})
		wantCode(t, "ChangeOwner to a full agent", err, helpline.EQUOTA)
		snap, _ := s.RoutingSnapshot(ctx, "i1")
		if len(snap.Agents) != 1 || len(snap.Agents[0].Chats) != 2 || snap.Agents[0].Agent.PasswordHash != "" {
			t.Errorf("snapshot agents %+v: want bob alone (ada disabled) with 2 chats", snap.Agents)
		}
	})
	t.Run("RacingAccepts", func(t *testing.T) {
		s, c := routingSetup(t, open)
		o := offerOf(c, "ada", 0)
		if err := s.CreateOffer(ctx, o); err != nil {
			t.Fatal(err)
		}
		var wins, conflicts atomic.Int32
		var wg sync.WaitGroup
		for range 50 {
			wg.Go(func() {
				_, _, err := s.AcceptOffer(ctx, o.ID, at(time.Second))
				switch helpline.ErrorCode(err) {
				case "":
					wins.Add(1)
				case helpline.ECONFLICT:
					conflicts.Add(1)
				default:
					t.Errorf("AcceptOffer: %v", err)
				}
			})
		}
		wg.Wait()
		if wins.Load() != 1 || conflicts.Load() != 49 {
			t.Errorf("%d accepts won and %d conflicted, want 1 and 49", wins.Load(), conflicts.Load())
		}
		if items := mustFindItems(t, s, c.ID, helpline.ItemQuery{}); len(items) != int(c.LastSeq)+1 {
			t.Errorf("%d items, want exactly one transition item", len(items))
		}
	})
	t.Run("RacingAssignmentsKeepCapacity", func(t *testing.T) {
		s, _ := routingSetup(t, open)
		var contacts []*helpline.Contact
		for range 20 {
			contacts = append(contacts, waitingContact(t, s))
		}
		var ok atomic.Int32
		var wg sync.WaitGroup
		for i, c := range contacts {
			wg.Go(func() {
				var err error
				if i%2 == 0 {
					err = s.CreateOffer(ctx, offerOf(c, "ada", 0))
				} else {
					_, _, err = s.ChangeOwner(ctx, &helpline.OwnerChange{ContactID: c.ID, From: c.Owner, Version: c.Version,
						To: "agent:ada", Reason: "transfer", Actor: "x", At: base})
				}
				switch helpline.ErrorCode(err) {
				case "":
					ok.Add(1)
				case helpline.EQUOTA:
				default:
					t.Errorf("assignment: %v", err)
				}
			})
		}
		wg.Wait()
		if ok.Load() != 2 {
			t.Errorf("%d of 20 racing offers and assignments to an agent of capacity 2 succeeded, want 2", ok.Load())
		}
	})
}

// testAgentSnapshot checks that an agent's snapshot is its part of the
// instance's: the agent with its chats, the contacts waiting in its
// queues, its pending offers, and every queue.
func testAgentSnapshot(t *testing.T, open func(t *testing.T) helpline.Store) {
	ctx := context.Background()
	s, c := routingSetup(t, open)
	if err := s.SaveQueue(ctx, &helpline.Queue{InstanceID: "i1", ID: "support"}); err != nil {
		t.Fatal(err)
	}
	for _, a := range []*helpline.Agent{
		{InstanceID: "i1", ID: "cy", Email: "cy@example.com", Queues: []string{"support"}, Capacity: 3, Enabled: true, CreatedAt: base},
		{InstanceID: "i1", ID: "dee", Email: "dee@example.com", Queues: []string{"sales"}, Capacity: 3, Enabled: false, CreatedAt: base},
	} {
		if err := s.CreateAgent(ctx, a); err != nil {
			t.Fatal(err)
		}
	}
	// ada: a chat accepted from sales and a pending offer of c; bob: a
	// chat given to it directly; cy: nothing, and a contact waits in
	// support.
	taken := waitingContact(t, s)
	o := offerOf(taken, "ada", 0)
	if err := s.CreateOffer(ctx, o); err != nil {
		t.Fatal(err)
	}
	if _, _, err := s.AcceptOffer(ctx, o.ID, at(time.Second)); err != nil {
		t.Fatal(err)
	}
	pending := offerOf(c, "ada", 2*time.Second)
	if err := s.CreateOffer(ctx, pending); err != nil {
		t.Fatal(err)
	}
	given := waitingContact(t, s)
	if _, _, err := s.ChangeOwner(ctx, &helpline.OwnerChange{ContactID: given.ID, From: given.Owner, Version: given.Version,
		To: "agent:bob", Reason: "transfer", Actor: "x", At: at(3 * time.Second)}); err != nil {
		t.Fatal(err)
	}
	declined := waitingContact(t, s)
	o = offerOf(declined, "bob", 4*time.Second)
	if err := s.CreateOffer(ctx, o); err != nil {
		t.Fatal(err)
	}
	if err := s.CloseOffer(ctx, o.ID, helpline.OfferDeclined, at(5*time.Second)); err != nil {
		t.Fatal(err)
	}
	nc := newContact("i1")
	nc.Contact.Owner = "queue:support"
	mustCreateContact(t, s, nc)

	all, err := s.RoutingSnapshot(ctx, "i1")
	if err != nil {
		t.Fatal(err)
	}
	// part is the agent's part of all, as AgentSnapshot must read it.
	part := func(agentID string) *helpline.RoutingSnapshot {
		p := &helpline.RoutingSnapshot{Queues: all.Queues}
		for _, a := range all.Agents {
			if a.Agent.ID == agentID {
				p.Agents = append(p.Agents, a)
			}
		}
		for _, w := range all.Waiting {
			if len(p.Agents) == 1 && p.Agents[0].Agent.Serves(w.QueueID) {
				p.Waiting = append(p.Waiting, w)
			}
		}
		for _, o := range all.Offers {
			if o.AgentID == agentID && o.State == helpline.OfferPending {
				p.Offers = append(p.Offers, o)
			}
		}
		return p
	}
	for _, id := range []string{"ada", "bob", "cy", "dee", "nobody"} {
		got, err := s.AgentSnapshot(ctx, "i1", id)
		if err != nil {
			t.Fatalf("AgentSnapshot %s: %v", id, err)
		}
		if want := part(id); !reflect.DeepEqual(got, want) {
			t.Errorf("AgentSnapshot %s:\n got %s\nwant %s", id, snapshotString(got), snapshotString(want))
		}
	}
	// What the parts hold, so that the comparison above compares
	// something.
	ada, _ := s.AgentSnapshot(ctx, "i1", "ada")
	if len(ada.Agents) != 1 || len(ada.Agents[0].Chats) != 1 || ada.Agents[0].Chats[0].ContactID != taken.ID ||
		ada.Agents[0].Chats[0].QueueID != "sales" || len(ada.Offers) != 1 || ada.Offers[0].ID != pending.ID ||
		len(ada.Waiting) != 2 || !waits(ada, c.ID) || !waits(ada, declined.ID) || len(ada.Queues) != 2 {
		t.Errorf("ada's snapshot %s: want its chat from sales, its offer of the first contact and the two contacts waiting in sales", snapshotString(ada))
	}
	cy, _ := s.AgentSnapshot(ctx, "i1", "cy")
	if len(cy.Agents) != 1 || len(cy.Agents[0].Chats) != 0 || len(cy.Offers) != 0 || len(cy.Waiting) != 1 || cy.Waiting[0].ContactID != nc.Contact.ID {
		t.Errorf("cy's snapshot %s: want no chat, no offer and the contact waiting in support", snapshotString(cy))
	}
	_, err = s.AgentSnapshot(ctx, "i1", "")
	wantCode(t, "AgentSnapshot of no agent", err, helpline.EINVALID)
}

// waits reports whether contact id waits in snapshot s.
func waits(s *helpline.RoutingSnapshot, id string) bool {
	return slices.ContainsFunc(s.Waiting, func(w helpline.Waiting) bool { return w.ContactID == id })
}

func snapshotString(s *helpline.RoutingSnapshot) string {
	var b strings.Builder
	fmt.Fprintf(&b, "%d queues; agents", len(s.Queues))
	for _, a := range s.Agents {
		fmt.Fprintf(&b, " %s%+v", a.Agent.ID, a.Chats)
	}
	fmt.Fprintf(&b, "; waiting %+v; offers", s.Waiting)
	for _, o := range s.Offers {
		fmt.Fprintf(&b, " %s(%s→%s %s)", o.ID, o.ContactID, o.AgentID, o.State)
	}
	return b.String()
}
