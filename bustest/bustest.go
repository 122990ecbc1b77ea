// Package bustest is the contract suite every helpline.Bus implementation
// must pass. It assumes nothing about timing beyond "delivered within a few
// seconds", so a bus that crosses process boundaries (NATS) runs it too.
package bustest

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/helplinehq/helpline"
)

// Wait is how long the suite waits for an event that must arrive.
const Wait = 5 * time.Second

// quiet is how long the suite watches for an event that must not arrive.
const quiet = 200 * time.Millisecond

// stallEvents is how many events the stalled-subscriber test publishes; it
// exceeds the buffer of any subscription, per-contact or all-contacts.
const stallEvents = 70000

// Run runs the contract suite. newBus returns a fresh, empty bus; Run closes
// it at the end of each subtest if the subtest has not.
func Run(t *testing.T, newBus func(t *testing.T) helpline.Bus) {
	open := func(t *testing.T) helpline.Bus {
		t.Helper()
		b := newBus(t)
		t.Cleanup(func() { b.Close() })
		return b
	}
	t.Run("ContactDelivery", func(t *testing.T) { testContactDelivery(t, open(t)) })
	t.Run("AllContacts", func(t *testing.T) { testAllContacts(t, open(t)) })
	t.Run("NoCrossTalk", func(t *testing.T) { testNoCrossTalk(t, open(t)) })
	t.Run("Order", func(t *testing.T) { testOrder(t, open(t)) })
	t.Run("ConcurrentPublishers", func(t *testing.T) { testConcurrentPublishers(t, open(t)) })
	t.Run("StalledSubscriber", func(t *testing.T) { testStalledSubscriber(t, open(t)) })
	t.Run("SubscriptionClose", func(t *testing.T) { testSubscriptionClose(t, open(t)) })
	t.Run("BusClose", func(t *testing.T) { testBusClose(t, open(t)) })
	t.Run("Kinds", func(t *testing.T) { testKinds(t, open(t)) })
	t.Run("OrderAcrossKinds", func(t *testing.T) { testOrderAcrossKinds(t, open(t)) })
	t.Run("SubjectsApart", func(t *testing.T) { testSubjectsApart(t, open(t)) })
	t.Run("Wildcards", func(t *testing.T) { testWildcards(t, open(t)) })
	t.Run("Invalid", func(t *testing.T) { testInvalid(t, open(t)) })
	t.Run("LostEveryKind", func(t *testing.T) { testLostEveryKind(t, open(t)) })
	t.Run("Groups", func(t *testing.T) { testGroups(t, open(t)) })
	t.Run("GroupMemberClose", func(t *testing.T) { testGroupMemberClose(t, open(t)) })
	t.Run("GroupInvalid", func(t *testing.T) { testGroupInvalid(t, open(t)) })
}

// contact and agent are the subjects of contact or agent id.
var (
	contact = helpline.ContactSubject
	agent   = helpline.AgentSubject
)

// kindNote is a kind the suite makes up: a bus carries events of any kind,
// known to the root package or not, as they are.
const kindNote helpline.EventKind = "bustest.note"

// event returns a stored-item event of contact id with the given Seq.
func event(id string, seq int64) helpline.Event {
	return helpline.NewItemEvent(&helpline.Item{
		ContactID: id, Seq: seq, ID: id + "-" + strconv.FormatInt(seq, 10),
		Type: helpline.ItemMessage, ContentType: helpline.ContentPlain, Content: "m" + strconv.FormatInt(seq, 10),
		ParticipantID: "p-" + id, DisplayName: "Pat", Role: helpline.RoleCustomer,
		Time: time.UnixMilli(1700000000000 + seq).UTC(),
	})
}

// ownerChange returns an owner-change event of contact id.
func ownerChange(id string, version int64) helpline.Event {
	return helpline.Event{Kind: helpline.EventOwner, Subject: contact(id),
		Owner: &helpline.Ownership{Owner: "agent:a" + strconv.FormatInt(version, 10), Version: version}}
}

// note returns an event of the suite's own kind on subject.
func note(subject helpline.Subject) helpline.Event {
	return helpline.Event{Kind: kindNote, Subject: subject}
}

// describe names ev in failure messages.
func describe(ev helpline.Event) string {
	switch {
	case ev.Kind == helpline.EventItem && ev.Item != nil:
		return fmt.Sprintf("%s %s #%d", ev.Kind, ev.Subject, ev.Item.Seq)
	case ev.Kind == helpline.EventOwner && ev.Owner != nil:
		return fmt.Sprintf("%s %s v%d", ev.Kind, ev.Subject, ev.Owner.Version)
	}
	return fmt.Sprintf("%s %s", ev.Kind, ev.Subject)
}

func subscribe(t *testing.T, b helpline.Bus, subject helpline.Subject) helpline.Subscription {
	t.Helper()
	sub, err := b.Subscribe(context.Background(), subject)
	if err != nil {
		t.Fatalf("Subscribe(%q): %v", subject, err)
	}
	t.Cleanup(sub.Close)
	return sub
}

func subscribeGroup(t *testing.T, b helpline.Bus, subject helpline.Subject, group string) helpline.Subscription {
	t.Helper()
	sub, err := b.SubscribeGroup(context.Background(), subject, group)
	if err != nil {
		t.Fatalf("SubscribeGroup(%q, %q): %v", subject, group, err)
	}
	t.Cleanup(sub.Close)
	return sub
}

func publish(t *testing.T, b helpline.Bus, ev helpline.Event) {
	t.Helper()
	if err := b.Publish(context.Background(), ev); err != nil {
		t.Fatalf("Publish(%s): %v", describe(ev), err)
	}
}

// next returns the subscription's next event or fails the test.
func next(t *testing.T, sub helpline.Subscription) helpline.Event {
	t.Helper()
	select {
	case ev, ok := <-sub.Events():
		if !ok {
			t.Fatal("subscription closed while an event was expected")
		}
		return ev
	case <-time.After(Wait):
		t.Fatal("no event within", Wait)
	}
	panic("unreachable")
}

// expectNothing fails if the subscription yields an event soon.
func expectNothing(t *testing.T, sub helpline.Subscription) {
	t.Helper()
	select {
	case ev, ok := <-sub.Events():
		if ok {
			t.Fatalf("unexpected event %s", describe(ev))
		}
	case <-time.After(quiet):
	}
}

func testContactDelivery(t *testing.T, b helpline.Bus) {
	sub := subscribe(t, b, contact("c1"))
	want := event("c1", 1)
	publish(t, b, want)
	got := next(t, sub)
	if got.Kind != helpline.EventItem || got.Subject != contact("c1") || got.Item == nil || got.Owner != nil {
		t.Fatalf("got %+v, want an item event of contact c1 with an item", got)
	}
	g, w := got.Item, want.Item
	if g.ID != w.ID || g.Seq != w.Seq || g.Type != w.Type || g.ContentType != w.ContentType || g.Content != w.Content ||
		g.ParticipantID != w.ParticipantID || g.DisplayName != w.DisplayName || g.Role != w.Role || !g.Time.Equal(w.Time) {
		t.Errorf("item = %+v, want %+v", *g, *w)
	}
}

func testAllContacts(t *testing.T, b helpline.Bus) {
	all := subscribe(t, b, helpline.AllContacts)
	publish(t, b, event("c1", 1))
	publish(t, b, event("c2", 1))
	seen := map[string]bool{}
	for range 2 {
		seen[next(t, all).Subject.ContactID()] = true
	}
	if !seen["c1"] || !seen["c2"] {
		t.Errorf("all-contacts subscriber saw %v, want c1 and c2", seen)
	}
	// Ephemeral events (Seq 0) travel too.
	typing := event("c3", 0)
	typing.Item.Type, typing.Item.ContentType, typing.Item.Content = helpline.ItemEvent, helpline.EventTyping, ""
	publish(t, b, typing)
	if got := next(t, all); got.Subject != contact("c3") || got.Item.Seq != 0 || got.Item.ContentType != helpline.EventTyping {
		t.Errorf("typing event = %+v", got.Item)
	}
}

func testNoCrossTalk(t *testing.T, b helpline.Bus) {
	c1 := subscribe(t, b, contact("c1"))
	c2 := subscribe(t, b, contact("c2"))
	for seq := int64(1); seq <= 5; seq++ {
		publish(t, b, event("c2", seq))
	}
	publish(t, b, event("c1", 1))
	if got := next(t, c1); got.Subject != contact("c1") || got.Item.Seq != 1 {
		t.Fatalf("c1 subscriber got %s, want c1 #1", describe(got))
	}
	expectNothing(t, c1)
	for seq := int64(1); seq <= 5; seq++ {
		if got := next(t, c2); got.Subject != contact("c2") || got.Item.Seq != seq {
			t.Fatalf("c2 subscriber got %s, want c2 #%d", describe(got), seq)
		}
	}
	expectNothing(t, c2)
}

func testOrder(t *testing.T, b helpline.Bus) {
	const n = 2000
	one := subscribe(t, b, contact("c1"))
	all := subscribe(t, b, helpline.AllContacts)
	for seq := int64(1); seq <= n; seq++ {
		publish(t, b, event("c1", seq))
	}
	for _, sub := range []helpline.Subscription{one, all} {
		for seq := int64(1); seq <= n; seq++ {
			if got := next(t, sub); got.Item.Seq != seq {
				t.Fatalf("got #%d, want #%d", got.Item.Seq, seq)
			}
		}
		if sub.Lost() != 0 {
			t.Errorf("Lost() = %d, want 0", sub.Lost())
		}
	}
}

func testConcurrentPublishers(t *testing.T, b helpline.Bus) {
	const publishers, n = 8, 500
	all := subscribe(t, b, helpline.AllContacts)
	var wg sync.WaitGroup
	for p := range publishers {
		wg.Go(func() {
			id := fmt.Sprintf("c%d", p)
			for seq := int64(1); seq <= n; seq++ {
				if err := b.Publish(context.Background(), event(id, seq)); err != nil {
					t.Errorf("Publish: %v", err)
					return
				}
			}
		})
	}
	last := map[string]int64{}
	for range publishers * n {
		ev := next(t, all)
		id := ev.Subject.ContactID()
		if ev.Item.Seq != last[id]+1 {
			t.Fatalf("%s: got #%d after #%d", id, ev.Item.Seq, last[id])
		}
		last[id] = ev.Item.Seq
	}
	wg.Wait()
}

// testStalledSubscriber checks that subscribers that never read neither
// block the publisher nor starve a subscriber that keeps up, and that they
// count what they lose.
func testStalledSubscriber(t *testing.T, b helpline.Bus) {
	const batch = 1000
	stalledOne := subscribe(t, b, contact("c1"))
	stalledAll := subscribe(t, b, helpline.AllContacts)
	active := subscribe(t, b, contact("c1"))

	// read is the last Seq the active subscriber took; stop ends the
	// publisher when the test fails.
	var read atomic.Int64
	stop := make(chan struct{})
	defer close(stop)
	done := make(chan struct{})
	go func() {
		defer close(done)
		for seq := int64(1); seq <= stallEvents; seq++ {
			if err := b.Publish(context.Background(), event("c1", seq)); err != nil {
				t.Errorf("Publish: %v", err)
				return
			}
			if seq%batch == 0 {
				// Let the active subscriber take every event published
				// so far, those still on their way included, so that
				// it never overflows.
				for read.Load() < seq {
					select {
					case <-stop:
						return
					case <-time.After(time.Millisecond):
					}
				}
			}
		}
	}()
	deadline := time.After(60 * time.Second)
	for seq := int64(1); seq <= stallEvents; seq++ {
		select {
		case ev := <-active.Events():
			if ev.Item.Seq != seq {
				t.Fatalf("active subscriber got #%d, want #%d", ev.Item.Seq, seq)
			}
			read.Store(seq)
		case <-deadline:
			t.Fatalf("active subscriber starved at #%d", seq)
		}
	}
	<-done
	if active.Lost() != 0 {
		t.Errorf("active subscriber Lost() = %d, want 0", active.Lost())
	}
	for name, sub := range map[string]helpline.Subscription{"contact": stalledOne, "all": stalledAll} {
		waitFor(t, func() bool { return sub.Lost() > 0 }, name+" stalled subscriber's Lost() to grow")
		// What it kept is still in order.
		var last int64
		for len(sub.Events()) > 0 {
			ev := <-sub.Events()
			if ev.Item.Seq <= last {
				t.Fatalf("%s stalled subscriber: #%d after #%d", name, ev.Item.Seq, last)
			}
			last = ev.Item.Seq
		}
	}
}

func testSubscriptionClose(t *testing.T, b helpline.Bus) {
	gone := subscribe(t, b, contact("c1"))
	stays := subscribe(t, b, contact("c1"))
	gone.Close()
	gone.Close() // a second Close is harmless
	waitClosed(t, gone)
	publish(t, b, event("c1", 1))
	if got := next(t, stays); got.Item.Seq != 1 {
		t.Errorf("remaining subscriber got #%d, want #1", got.Item.Seq)
	}
}

func testBusClose(t *testing.T, b helpline.Bus) {
	one := subscribe(t, b, contact("c1"))
	all := subscribe(t, b, helpline.AllContacts)
	member := subscribeGroup(t, b, helpline.AllContacts, "g")
	if err := b.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	waitClosed(t, one)
	waitClosed(t, all)
	waitClosed(t, member)
	one.Close() // closing after the bus is harmless
	if _, err := b.Subscribe(context.Background(), contact("c1")); err == nil {
		t.Error("Subscribe after Close succeeded")
	}
	if _, err := b.SubscribeGroup(context.Background(), contact("c1"), "g"); err == nil {
		t.Error("SubscribeGroup after Close succeeded")
	}
	if err := b.Publish(context.Background(), event("c1", 1)); err == nil {
		t.Error("Publish after Close succeeded")
	}
}

// testKinds checks that events of every kind reach the subscribers of
// their subject with their payloads.
func testKinds(t *testing.T, b helpline.Bus) {
	c1 := subscribe(t, b, contact("c1"))
	a1 := subscribe(t, b, agent("a1"))
	publish(t, b, event("c1", 1))
	publish(t, b, ownerChange("c1", 7))
	publish(t, b, note(agent("a1")))

	if got := next(t, c1); got.Kind != helpline.EventItem || got.Item == nil || got.Item.Seq != 1 {
		t.Errorf("contact subscriber's first event = %s, want item #1", describe(got))
	}
	got := next(t, c1)
	if got.Kind != helpline.EventOwner || got.Subject != contact("c1") || got.Item != nil ||
		got.Owner == nil || *got.Owner != (helpline.Ownership{Owner: "agent:a7", Version: 7}) {
		t.Errorf("contact subscriber's second event = %+v, want the owner change to agent:a7, version 7", got)
	}
	if got := next(t, a1); got.Kind != kindNote || got.Subject != agent("a1") || got.Item != nil || got.Owner != nil {
		t.Errorf("agent subscriber's event = %+v, want a %s of a1 without payload", got, kindNote)
	}
	expectNothing(t, c1)
	expectNothing(t, a1)
}

// testOrderAcrossKinds checks that one publisher's events on one subject
// keep their order whatever their kinds.
func testOrderAcrossKinds(t *testing.T, b helpline.Bus) {
	const n = 2000
	one := subscribe(t, b, contact("c1"))
	all := subscribe(t, b, helpline.AllContacts)
	// Odd numbers are items (Seq i), even ones owner changes (Version i).
	for i := int64(1); i <= n; i++ {
		if i%2 == 1 {
			publish(t, b, event("c1", i))
		} else {
			publish(t, b, ownerChange("c1", i))
		}
	}
	for name, sub := range map[string]helpline.Subscription{"contact": one, "all": all} {
		for i := int64(1); i <= n; i++ {
			got := next(t, sub)
			ok := got.Kind == helpline.EventItem && got.Item != nil && got.Item.Seq == i
			if i%2 == 0 {
				ok = got.Kind == helpline.EventOwner && got.Owner != nil && got.Owner.Version == i
			}
			if !ok {
				t.Fatalf("%s subscriber: event %d is %s", name, i, describe(got))
			}
		}
		if sub.Lost() != 0 {
			t.Errorf("%s subscriber: Lost() = %d, want 0", name, sub.Lost())
		}
	}
}

// testSubjectsApart checks that a subscriber gets only its own subject's
// events, also when a contact and an agent share an id.
func testSubjectsApart(t *testing.T, b helpline.Bus) {
	contactX := subscribe(t, b, contact("x"))
	agentX := subscribe(t, b, agent("x"))
	agentY := subscribe(t, b, agent("y"))
	publish(t, b, note(agent("x")))
	publish(t, b, event("x", 1))
	publish(t, b, ownerChange("x", 2))

	if got := next(t, contactX); got.Kind != helpline.EventItem || got.Subject != contact("x") {
		t.Errorf("contact x subscriber got %s, want item contact.x #1", describe(got))
	}
	if got := next(t, contactX); got.Kind != helpline.EventOwner || got.Subject != contact("x") {
		t.Errorf("contact x subscriber got %s, want the owner change of contact.x", describe(got))
	}
	if got := next(t, agentX); got.Kind != kindNote || got.Subject != agent("x") {
		t.Errorf("agent x subscriber got %s, want a note to agent.x", describe(got))
	}
	expectNothing(t, contactX)
	expectNothing(t, agentX)
	expectNothing(t, agentY)
}

// testWildcards checks that AllContacts gets every contact's events of
// every kind and no agent's, and AllAgents the reverse.
func testWildcards(t *testing.T, b helpline.Bus) {
	contacts := subscribe(t, b, helpline.AllContacts)
	agents := subscribe(t, b, helpline.AllAgents)
	sent := []helpline.Event{event("c1", 1), note(agent("a1")), ownerChange("c2", 1), note(contact("c1")), note(agent("a2"))}
	for _, ev := range sent {
		publish(t, b, ev)
	}
	for name, sub := range map[string]helpline.Subscription{"all contacts": contacts, "all agents": agents} {
		for _, want := range sent {
			if isContact := want.Subject.ContactID() != ""; isContact != (sub == contacts) {
				continue
			}
			if got := next(t, sub); got.Kind != want.Kind || got.Subject != want.Subject {
				t.Errorf("%s subscriber got %s, want %s", name, describe(got), describe(want))
			}
		}
		expectNothing(t, sub)
	}
}

// testInvalid checks that malformed subjects and events are refused with
// EINVALID.
func testInvalid(t *testing.T, b helpline.Bus) {
	for _, s := range []helpline.Subject{"", "c1", "contact", "contact.", "room.c1", "contact.a.b", "agent.a*", "contact.>"} {
		if sub, err := b.Subscribe(context.Background(), s); helpline.ErrorCode(err) != helpline.EINVALID {
			t.Errorf("Subscribe(%q) = %v, want EINVALID", s, err)
			if sub != nil {
				sub.Close()
			}
		}
	}
	elsewhere := event("c1", 1)
	elsewhere.Subject = contact("c2")
	noKind := event("c1", 1)
	noKind.Kind = ""
	for name, ev := range map[string]helpline.Event{
		"no kind":                   noKind,
		"wildcard subject":          {Kind: kindNote, Subject: helpline.AllAgents},
		"no subject":                {Kind: kindNote},
		"item of another":           elsewhere,
		"item without item":         {Kind: helpline.EventItem, Subject: contact("c1")},
		"item to an agent":          {Kind: helpline.EventItem, Subject: agent("c1"), Item: elsewhere.Item},
		"owner without owner":       {Kind: helpline.EventOwner, Subject: contact("c1")},
		"owner of an agent":         {Kind: helpline.EventOwner, Subject: agent("a1"), Owner: &helpline.Ownership{Owner: "bot:b", Version: 1}},
		"presence without presence": {Kind: helpline.EventPresence, Subject: agent("a1")},
		"presence of a contact":     {Kind: helpline.EventPresence, Subject: contact("c1"), Presence: &helpline.Presence{Status: helpline.PresenceOnline}},
		"offer without offer":       {Kind: helpline.EventOffer, Subject: agent("a1")},
		"offer to another agent":    {Kind: helpline.EventOffer, Subject: agent("a1"), Offer: &helpline.Offer{AgentID: "a2"}},
		"sign-out without payload":  {Kind: helpline.EventSignedOut, Subject: agent("a1")},
		"sign-out of no instance":   {Kind: helpline.EventSignedOut, Subject: agent("a1"), SignedOut: &helpline.SignedOut{}},
		"sign-out of a contact":     {Kind: helpline.EventSignedOut, Subject: contact("c1"), SignedOut: &helpline.SignedOut{InstanceID: "i1"}},
	} {
		if err := b.Publish(context.Background(), ev); helpline.ErrorCode(err) != helpline.EINVALID {
			t.Errorf("Publish(%s) = %v, want EINVALID", name, err)
		}
	}
}

// testLostEveryKind checks that subscribers that never read count the
// events they lose whatever their kind, on one subject and on wildcards.
func testLostEveryKind(t *testing.T, b helpline.Bus) {
	subs := map[string]helpline.Subscription{
		"contact":      subscribe(t, b, contact("c1")),
		"all contacts": subscribe(t, b, helpline.AllContacts),
		"agent":        subscribe(t, b, agent("a1")),
		"all agents":   subscribe(t, b, helpline.AllAgents),
		"group member": subscribeGroup(t, b, helpline.AllContacts, "g"),
	}
	for v := int64(1); v <= stallEvents; v++ {
		publish(t, b, ownerChange("c1", v))
		publish(t, b, note(agent("a1")))
	}
	for name, sub := range subs {
		waitFor(t, func() bool { return sub.Lost() > 0 }, name+" stalled subscriber's Lost() to grow")
	}
}

// testGroups checks that a group's subscriptions share its subject's
// events, each event going to one of them, in publish order within each,
// while plain subscriptions and other groups get every event.
func testGroups(t *testing.T, b helpline.Bus) {
	const contacts, perContact = 4, 50
	plain := subscribe(t, b, helpline.AllContacts)
	g1 := subscribeGroup(t, b, helpline.AllContacts, "g")
	g2 := subscribeGroup(t, b, helpline.AllContacts, "g")
	other := subscribeGroup(t, b, helpline.AllContacts, "other.group")
	// The same group name on another subject is another group.
	oneContact := subscribeGroup(t, b, contact("c1"), "g")
	agents := subscribeGroup(t, b, helpline.AllAgents, "g")
	for seq := int64(1); seq <= perContact; seq++ {
		for c := 1; c <= contacts; c++ {
			publish(t, b, event(fmt.Sprintf("c%d", c), seq))
		}
	}
	// Every plain subscriber and every other group gets everything, in
	// order.
	for name, sub := range map[string]helpline.Subscription{"plain": plain, "other group": other} {
		last := map[string]int64{}
		for range contacts * perContact {
			ev := next(t, sub)
			id := ev.Subject.ContactID()
			if ev.Item.Seq != last[id]+1 {
				t.Fatalf("%s subscriber: %s #%d after #%d", name, id, ev.Item.Seq, last[id])
			}
			last[id] = ev.Item.Seq
		}
		expectNothing(t, sub)
	}
	for seq := int64(1); seq <= perContact; seq++ {
		if got := next(t, oneContact); got.Subject != contact("c1") || got.Item.Seq != seq {
			t.Fatalf("contact c1's group member got %s, want c1 #%d", describe(got), seq)
		}
	}
	expectNothing(t, oneContact)

	// The two members of g share the events: each once, in order within
	// each member, and both get some.
	seen := map[string]bool{}
	counts := map[helpline.Subscription]int{}
	last := map[helpline.Subscription]map[string]int64{g1: {}, g2: {}}
	deadline := time.After(Wait)
	for len(seen) < contacts*perContact {
		var ev helpline.Event
		var from helpline.Subscription
		select {
		case ev = <-g1.Events():
			from = g1
		case ev = <-g2.Events():
			from = g2
		case <-deadline:
			t.Fatalf("group g got %d of %d events within %v", len(seen), contacts*perContact, Wait)
		}
		key := describe(ev)
		if seen[key] {
			t.Fatalf("group g got %s twice", key)
		}
		seen[key] = true
		counts[from]++
		id := ev.Subject.ContactID()
		if ev.Item.Seq <= last[from][id] {
			t.Fatalf("a member of g got %s #%d after #%d", id, ev.Item.Seq, last[from][id])
		}
		last[from][id] = ev.Item.Seq
	}
	expectNothing(t, g1)
	expectNothing(t, g2)
	if counts[g1] == 0 || counts[g2] == 0 {
		t.Errorf("group g's members got %d and %d events, want both some", counts[g1], counts[g2])
	}
	expectNothing(t, agents)
	for _, sub := range []helpline.Subscription{plain, g1, g2, other} {
		if sub.Lost() != 0 {
			t.Errorf("Lost() = %d, want 0", sub.Lost())
		}
	}
}

// testGroupMemberClose checks that a group's remaining member gets every
// event once the others have closed.
func testGroupMemberClose(t *testing.T, b helpline.Bus) {
	gone := subscribeGroup(t, b, helpline.AllAgents, "g")
	stays := subscribeGroup(t, b, helpline.AllAgents, "g")
	gone.Close()
	gone.Close()
	waitClosed(t, gone)
	for i := range 20 {
		publish(t, b, note(agent(fmt.Sprintf("a%d", i))))
	}
	for i := range 20 {
		if got := next(t, stays); got.Subject != agent(fmt.Sprintf("a%d", i)) {
			t.Fatalf("remaining member got %s, want a note to a%d", describe(got), i)
		}
	}
	expectNothing(t, stays)
}

// testGroupInvalid checks that malformed groups and subjects are refused
// with EINVALID.
func testGroupInvalid(t *testing.T, b helpline.Bus) {
	for _, g := range []string{"", "a b", ".g", "g.", "g*", ">", "g>", "g\n", strings.Repeat("g", 65)} {
		if sub, err := b.SubscribeGroup(context.Background(), helpline.AllContacts, g); helpline.ErrorCode(err) != helpline.EINVALID {
			t.Errorf("SubscribeGroup(%q) = %v, want EINVALID", g, err)
			if sub != nil {
				sub.Close()
			}
		}
	}
	if sub, err := b.SubscribeGroup(context.Background(), "room.c1", "g"); helpline.ErrorCode(err) != helpline.EINVALID {
		t.Errorf("SubscribeGroup(room.c1) = %v, want EINVALID", err)
		if sub != nil {
			sub.Close()
		}
	}
}

// waitClosed drains sub until its channel is closed.
func waitClosed(t *testing.T, sub helpline.Subscription) {
	t.Helper()
	deadline := time.After(Wait)
	for {
		select {
		case _, ok := <-sub.Events():
			if !ok {
				return
			}
		case <-deadline:
			t.Fatal("subscription not closed within", Wait)
		}
	}
}

func waitFor(t *testing.T, cond func() bool, what string) {
	t.Helper()
	deadline := time.Now().Add(Wait)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}
