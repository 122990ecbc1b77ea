// Package bustest is the contract suite every helpline.Bus implementation
// must pass. It assumes nothing about timing beyond "delivered within a few
// seconds", so a bus that crosses process boundaries (NATS) runs it too.
package bustest

import (
	"context"
	"fmt"
	"strconv"
	"sync"
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
}

// event returns a stored-item event of contact with the given Seq.
func event(contact string, seq int64) helpline.Event {
	return helpline.Event{ContactID: contact, Item: &helpline.Item{
		ContactID: contact, Seq: seq, ID: contact + "-" + strconv.FormatInt(seq, 10),
		Type: helpline.ItemMessage, ContentType: helpline.ContentPlain, Content: "m" + strconv.FormatInt(seq, 10),
		ParticipantID: "p-" + contact, DisplayName: "Pat", Role: helpline.RoleCustomer,
		Time: time.UnixMilli(1700000000000 + seq).UTC(),
	}}
}

func subscribe(t *testing.T, b helpline.Bus, contact string) helpline.Subscription {
	t.Helper()
	sub, err := b.Subscribe(context.Background(), contact)
	if err != nil {
		t.Fatalf("Subscribe(%q): %v", contact, err)
	}
	t.Cleanup(sub.Close)
	return sub
}

func publish(t *testing.T, b helpline.Bus, ev helpline.Event) {
	t.Helper()
	if err := b.Publish(context.Background(), ev); err != nil {
		t.Fatalf("Publish(%s #%d): %v", ev.ContactID, ev.Item.Seq, err)
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
			t.Fatalf("unexpected event %s #%d", ev.ContactID, ev.Item.Seq)
		}
	case <-time.After(quiet):
	}
}

func testContactDelivery(t *testing.T, b helpline.Bus) {
	sub := subscribe(t, b, "c1")
	want := event("c1", 1)
	publish(t, b, want)
	got := next(t, sub)
	if got.ContactID != "c1" || got.Item == nil {
		t.Fatalf("got %+v, want contact c1 with an item", got)
	}
	g, w := got.Item, want.Item
	if g.ID != w.ID || g.Seq != w.Seq || g.Type != w.Type || g.ContentType != w.ContentType || g.Content != w.Content ||
		g.ParticipantID != w.ParticipantID || g.DisplayName != w.DisplayName || g.Role != w.Role || !g.Time.Equal(w.Time) {
		t.Errorf("item = %+v, want %+v", *g, *w)
	}
}

func testAllContacts(t *testing.T, b helpline.Bus) {
	all := subscribe(t, b, "")
	publish(t, b, event("c1", 1))
	publish(t, b, event("c2", 1))
	seen := map[string]bool{}
	for range 2 {
		seen[next(t, all).ContactID] = true
	}
	if !seen["c1"] || !seen["c2"] {
		t.Errorf("all-contacts subscriber saw %v, want c1 and c2", seen)
	}
	// Ephemeral events (Seq 0) travel too.
	typing := event("c3", 0)
	typing.Item.Type, typing.Item.ContentType, typing.Item.Content = helpline.ItemEvent, helpline.EventTyping, ""
	publish(t, b, typing)
	if got := next(t, all); got.ContactID != "c3" || got.Item.Seq != 0 || got.Item.ContentType != helpline.EventTyping {
		t.Errorf("typing event = %+v", got.Item)
	}
}

func testNoCrossTalk(t *testing.T, b helpline.Bus) {
	c1 := subscribe(t, b, "c1")
	c2 := subscribe(t, b, "c2")
	for seq := int64(1); seq <= 5; seq++ {
		publish(t, b, event("c2", seq))
	}
	publish(t, b, event("c1", 1))
	if got := next(t, c1); got.ContactID != "c1" || got.Item.Seq != 1 {
		t.Fatalf("c1 subscriber got %s #%d, want c1 #1", got.ContactID, got.Item.Seq)
	}
	expectNothing(t, c1)
	for seq := int64(1); seq <= 5; seq++ {
		if got := next(t, c2); got.ContactID != "c2" || got.Item.Seq != seq {
			t.Fatalf("c2 subscriber got %s #%d, want c2 #%d", got.ContactID, got.Item.Seq, seq)
		}
	}
	expectNothing(t, c2)
}

func testOrder(t *testing.T, b helpline.Bus) {
	const n = 2000
	one := subscribe(t, b, "c1")
	all := subscribe(t, b, "")
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
	all := subscribe(t, b, "")
	var wg sync.WaitGroup
	for p := range publishers {
		wg.Go(func() {
			contact := fmt.Sprintf("c%d", p)
			for seq := int64(1); seq <= n; seq++ {
				if err := b.Publish(context.Background(), event(contact, seq)); err != nil {
					t.Errorf("Publish: %v", err)
					return
				}
			}
		})
	}
	last := map[string]int64{}
	for range publishers * n {
		ev := next(t, all)
		if ev.Item.Seq != last[ev.ContactID]+1 {
			t.Fatalf("%s: got #%d after #%d", ev.ContactID, ev.Item.Seq, last[ev.ContactID])
		}
		last[ev.ContactID] = ev.Item.Seq
	}
	wg.Wait()
}

// testStalledSubscriber checks that subscribers that never read neither
// block the publisher nor starve a subscriber that keeps up, and that they
// count what they lose.
func testStalledSubscriber(t *testing.T, b helpline.Bus) {
	const batch = 1000
	stalledOne := subscribe(t, b, "c1")
	stalledAll := subscribe(t, b, "")
	active := subscribe(t, b, "c1")

	done := make(chan struct{})
	go func() {
		defer close(done)
		for seq := int64(1); seq <= stallEvents; seq++ {
			if err := b.Publish(context.Background(), event("c1", seq)); err != nil {
				t.Errorf("Publish: %v", err)
				return
			}
			if seq%batch == 0 {
				// Let the active subscriber drain so that it never overflows.
				for active.Lost() == 0 && len(active.Events()) > 0 {
					time.Sleep(time.Millisecond)
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
	gone := subscribe(t, b, "c1")
	stays := subscribe(t, b, "c1")
	gone.Close()
	gone.Close() // a second Close is harmless
	waitClosed(t, gone)
	publish(t, b, event("c1", 1))
	if got := next(t, stays); got.Item.Seq != 1 {
		t.Errorf("remaining subscriber got #%d, want #1", got.Item.Seq)
	}
}

func testBusClose(t *testing.T, b helpline.Bus) {
	one := subscribe(t, b, "c1")
	all := subscribe(t, b, "")
	if err := b.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	waitClosed(t, one)
	waitClosed(t, all)
	one.Close() // closing after the bus is harmless
	if _, err := b.Subscribe(context.Background(), "c1"); err == nil {
		t.Error("Subscribe after Close succeeded")
	}
	if err := b.Publish(context.Background(), event("c1", 1)); err == nil {
		t.Error("Publish after Close succeeded")
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
