package chat_test

import (
	"testing"
	"time"

	"github.com/helplinehq/helpline"
)

func TestChangeOwner(t *testing.T) {
	e := newEnv(t)
	started, customer := e.start(t, helpline.StartChatInput{})
	c := started.Contact
	if c.Owner != "" || c.Version != 1 {
		t.Fatalf("new contact: owner %q version %d, want nobody at version 1", c.Owner, c.Version)
	}
	sub, err := e.bus.Subscribe(ctx, helpline.ContactSubject(c.ID))
	if err != nil {
		t.Fatal(err)
	}
	defer sub.Close()

	e.clock.Advance(time.Minute)
	got, it, err := e.svc.ChangeOwner(ctx, helpline.OwnerChange{
		ContactID: c.ID, From: "", Version: 1, To: "bot:default", Reason: "flow", Actor: "flow:" + c.FlowID,
	})
	if err != nil {
		t.Fatalf("ChangeOwner: %v", err)
	}
	if got.Owner != "bot:default" || got.Version != 2 {
		t.Errorf("contact owner %q version %d, want bot:default 2", got.Owner, got.Version)
	}
	if it.ContentType != helpline.EventOwnerChanged || !it.Time.Equal(e.clock.Now()) {
		t.Errorf("item %+v, want owner.changed stamped %v", *it, e.clock.Now())
	}
	nextEvent := func() helpline.Event {
		t.Helper()
		select {
		case ev := <-sub.Events():
			return ev
		case <-time.After(5 * time.Second):
			t.Fatal("nothing published")
			return helpline.Event{}
		}
	}
	next := func() *helpline.Item {
		t.Helper()
		ev := nextEvent()
		if ev.Kind != helpline.EventItem {
			t.Fatalf("published %+v, want an item", ev)
		}
		return ev.Item
	}
	if pub := next(); pub.ID != it.ID || pub.Seq != it.Seq {
		t.Errorf("published %+v, want the transition item %+v", *pub, *it)
	}
	if ev := nextEvent(); ev.Kind != helpline.EventOwner || ev.Owner == nil ||
		*ev.Owner != (helpline.Ownership{Owner: "bot:default", Version: 2}) {
		t.Errorf("published %+v, want the ownership event of bot:default at version 2", ev)
	}

	// A change from what the contact was is refused and publishes nothing:
	// the next event is the customer's message.
	_, _, err = e.svc.ChangeOwner(ctx, helpline.OwnerChange{ContactID: c.ID, From: "", Version: 1, To: "queue:sales"})
	wantCode(t, err, helpline.ECONFLICT)
	if stored, _ := e.svc.FindContact(ctx, c.InstanceID, c.ID); stored.Owner != "bot:default" {
		t.Errorf("after a refused change the owner is %q", stored.Owner)
	}
	msg := e.send(t, customer, "hello?")
	if pub := next(); pub.ID != msg.ID {
		t.Errorf("published %+v after a refused change, want the customer's message", *pub)
	}

	// The ownership event names the owner before the change.
	if _, _, err := e.svc.ChangeOwner(ctx, helpline.OwnerChange{ContactID: c.ID, From: "bot:default", Version: 2,
		To: "queue:sales", Reason: "handoff", Actor: "bot:default"}); err != nil {
		t.Fatalf("ChangeOwner: %v", err)
	}
	next()
	if ev := nextEvent(); ev.Kind != helpline.EventOwner || ev.Owner == nil ||
		*ev.Owner != (helpline.Ownership{Owner: "queue:sales", Version: 3, From: "bot:default"}) {
		t.Errorf("published %+v, want the ownership event of queue:sales at version 3 from bot:default", ev)
	}
}
