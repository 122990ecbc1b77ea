package storetest

import (
	"context"
	"encoding/json"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/helplinehq/helpline"
)

func testChangeOwner(t *testing.T, open func(t *testing.T) helpline.Store) {
	ctx := context.Background()
	// setup creates a contact owned by bot:greeter.
	setup := func(t *testing.T) (helpline.Store, *helpline.Contact) {
		s := open(t)
		nc := newContact("i1")
		nc.Contact.Owner = "bot:greeter"
		mustCreateContact(t, s, nc)
		return s, nc.Contact
	}
	change := func(c *helpline.Contact, to string) *helpline.OwnerChange {
		return &helpline.OwnerChange{
			ContactID: c.ID, From: c.Owner, Version: c.Version, To: to,
			Reason: "handoff", Actor: c.Owner, At: at(time.Minute),
		}
	}
	// unchanged fails the test unless the contact still has c's owner,
	// version and items.
	unchanged := func(t *testing.T, s helpline.Store, c *helpline.Contact) {
		t.Helper()
		got := mustFindContact(t, s, c.ID)
		if got.Owner != c.Owner || got.Version != c.Version || got.LastSeq != c.LastSeq {
			t.Errorf("after a failed change: owner %q version %d LastSeq %d, want %q %d %d (nothing written)",
				got.Owner, got.Version, got.LastSeq, c.Owner, c.Version, c.LastSeq)
		}
	}

	t.Run("CreatedAtVersion1", func(t *testing.T) {
		s, c := setup(t)
		if c.Version != 1 {
			t.Errorf("CreateContact set Version %d, want 1", c.Version)
		}
		if got := mustFindContact(t, s, c.ID); got.Owner != "bot:greeter" || got.Version != 1 {
			t.Errorf("stored owner %q version %d, want bot:greeter 1", got.Owner, got.Version)
		}
		nobody := newContact("i1")
		mustCreateContact(t, s, nobody)
		if got := mustFindContact(t, s, nobody.Contact.ID); got.Owner != "" || got.Version != 1 {
			t.Errorf("contact created without owner: owner %q version %d, want empty, 1", got.Owner, got.Version)
		}
		bad := newContact("i1")
		bad.Contact.Owner = "robot:x"
		_, err := s.CreateContact(ctx, bad)
		wantCode(t, "CreateContact with owner robot:x", err, helpline.EINVALID)
	})
	t.Run("Succeeds", func(t *testing.T) {
		s, c := setup(t)
		ch := change(c, "queue:billing")
		got, it, err := s.ChangeOwner(ctx, ch)
		if err != nil {
			t.Fatalf("ChangeOwner: %v", err)
		}
		if got.Owner != "queue:billing" || got.Version != 2 || got.LastSeq != c.LastSeq+1 {
			t.Errorf("returned owner %q version %d LastSeq %d, want queue:billing 2 %d", got.Owner, got.Version, got.LastSeq, c.LastSeq+1)
		}
		sameContact(t, mustFindContact(t, s, c.ID), got)
		if it.Seq != c.LastSeq+1 || it.Type != helpline.ItemEvent || it.ContentType != helpline.EventOwnerChanged ||
			it.Role != helpline.RoleSystem || !it.Time.Equal(ch.At) {
			t.Errorf("transition item %s, want an owner.changed SYSTEM event at Seq %d and %v", formatItem(it), c.LastSeq+1, ch.At)
		}
		var tr helpline.OwnerTransition
		if err := json.Unmarshal([]byte(it.Content), &tr); err != nil {
			t.Fatalf("transition content %q: %v", it.Content, err)
		}
		want := helpline.OwnerTransition{From: "bot:greeter", To: "queue:billing", Reason: "handoff", Actor: "bot:greeter"}
		if tr != want {
			t.Errorf("transition %+v, want %+v", tr, want)
		}
		sameItems(t, mustFindItems(t, s, c.ID, helpline.ItemQuery{From: it.Seq}), []*helpline.Item{it})

		// The next change starts from what the first left.
		if _, _, err := s.ChangeOwner(ctx, change(got, "agent:ada")); err != nil {
			t.Fatalf("second ChangeOwner: %v", err)
		}
		if got := mustFindContact(t, s, c.ID); got.Owner != "agent:ada" || got.Version != 3 {
			t.Errorf("after two changes: owner %q version %d, want agent:ada 3", got.Owner, got.Version)
		}
	})
	t.Run("FromNobody", func(t *testing.T) {
		s := open(t)
		nc := newContact("i1")
		mustCreateContact(t, s, nc)
		if _, _, err := s.ChangeOwner(ctx, change(nc.Contact, "bot:default")); err != nil {
			t.Fatalf("ChangeOwner from nobody: %v", err)
		}
	})
	t.Run("StaleVersion", func(t *testing.T) {
		s, c := setup(t)
		ch := change(c, "queue:billing")
		ch.Version = 0
		_, _, err := s.ChangeOwner(ctx, ch)
		wantCode(t, "ChangeOwner from version 0", err, helpline.ECONFLICT)
		unchanged(t, s, c)

		// A version that was current once but is no longer.
		moved, _, err := s.ChangeOwner(ctx, change(c, "queue:billing"))
		if err != nil {
			t.Fatal(err)
		}
		back := change(c, "agent:ada")
		back.From = moved.Owner
		_, _, err = s.ChangeOwner(ctx, back)
		wantCode(t, "ChangeOwner from the current owner at an old version", err, helpline.ECONFLICT)
		unchanged(t, s, moved)
	})
	t.Run("WrongOwner", func(t *testing.T) {
		s, c := setup(t)
		ch := change(c, "agent:ada")
		ch.From = "queue:billing"
		_, _, err := s.ChangeOwner(ctx, ch)
		wantCode(t, "ChangeOwner from queue:billing", err, helpline.ECONFLICT)
		unchanged(t, s, c)
	})
	t.Run("Ended", func(t *testing.T) {
		s, c := setup(t)
		if _, err := s.EndContact(ctx, c.ID, helpline.EndAPI, at(time.Second), nil); err != nil {
			t.Fatal(err)
		}
		ended := mustFindContact(t, s, c.ID)
		for _, ch := range []*helpline.OwnerChange{change(c, "agent:ada"), change(ended, "agent:ada")} {
			_, _, err := s.ChangeOwner(ctx, ch)
			wantCode(t, fmt.Sprintf("ChangeOwner of an ended contact from %q at version %d", ch.From, ch.Version), err, helpline.ECONFLICT)
			unchanged(t, s, ended)
		}
	})
	t.Run("EndClearsOwner", func(t *testing.T) {
		s, c := setup(t)
		if _, err := s.EndContact(ctx, c.ID, helpline.EndAPI, at(time.Second), nil); err != nil {
			t.Fatal(err)
		}
		if got := mustFindContact(t, s, c.ID); got.Owner != "" || got.Version != c.Version+1 {
			t.Errorf("ended contact: owner %q version %d, want empty, %d", got.Owner, got.Version, c.Version+1)
		}
	})
	t.Run("Invalid", func(t *testing.T) {
		s, c := setup(t)
		for _, to := range []string{"", "bot:greeter", "robot:x", "agent:"} {
			_, _, err := s.ChangeOwner(ctx, change(c, to))
			wantCode(t, fmt.Sprintf("ChangeOwner to %q", to), err, helpline.EINVALID)
		}
		unchanged(t, s, c)
	})
	t.Run("NotFound", func(t *testing.T) {
		s := open(t)
		_, _, err := s.ChangeOwner(ctx, &helpline.OwnerChange{ContactID: "missing", Version: 1, To: "bot:x", At: base})
		wantNotFound(t, "ChangeOwner of a missing contact", err, helpline.ResourceContact, "missing")
	})
	t.Run("Race", func(t *testing.T) {
		s, c := setup(t)
		const n = 50
		errs := make([]error, n)
		var wg sync.WaitGroup
		for i := range n {
			wg.Go(func() {
				_, _, errs[i] = s.ChangeOwner(ctx, change(c, fmt.Sprintf("agent:%d", i)))
			})
		}
		wg.Wait()
		winner := -1
		for i, err := range errs {
			switch helpline.ErrorCode(err) {
			case "":
				if winner >= 0 {
					t.Errorf("agents %d and %d both took the contact", winner, i)
				}
				winner = i
			case helpline.ECONFLICT:
			default:
				t.Errorf("agent %d: %v, want success or ECONFLICT", i, err)
			}
		}
		if winner < 0 {
			t.Fatal("no agent took the contact")
		}
		got := mustFindContact(t, s, c.ID)
		if want := fmt.Sprintf("agent:%d", winner); got.Owner != want || got.Version != 2 {
			t.Errorf("owner %q version %d, want %s 2", got.Owner, got.Version, want)
		}
		transitions := 0
		for _, it := range mustFindItems(t, s, c.ID, helpline.ItemQuery{}) {
			if it.ContentType == helpline.EventOwnerChanged {
				transitions++
			}
		}
		if transitions != 1 {
			t.Errorf("%d transition items, want 1", transitions)
		}
	})
}

// testCreateOwned: a contact that a flow gives to its queue or bot is
// created owned, with the owner.changed item that records it, in the one
// transaction of CreateContact: there is never a moment, nor a crash,
// that leaves it owned by nobody, and a create that fails leaves neither.
func testCreateOwned(t *testing.T, open func(t *testing.T) helpline.Store) {
	ctx := context.Background()
	owned := func(owner string) *helpline.NewContact {
		nc := newContact("i1")
		nc.Contact.Owner = owner
		nc.Contact.ClientToken = "start-" + owner
		ch := helpline.OwnerChange{ContactID: nc.Contact.ID, To: owner, Reason: "flow", Actor: "flow:flow-1", At: base}
		nc.Items = append(nc.Items, ch.Item())
		return nc
	}
	t.Run("InQueue", func(t *testing.T) {
		s, _ := routingSetup(t, open)
		nc := owned("queue:sales")
		mustCreateContact(t, s, nc)
		got := mustFindContact(t, s, nc.Contact.ID)
		if got.Owner != "queue:sales" || got.Version != 1 || got.LastSeq != 2 {
			t.Errorf("created contact owner %q version %d LastSeq %d, want queue:sales 1 2", got.Owner, got.Version, got.LastSeq)
		}
		items := mustFindItems(t, s, nc.Contact.ID, helpline.ItemQuery{})
		var tr helpline.OwnerTransition
		if len(items) != 2 || items[1].ContentType != helpline.EventOwnerChanged ||
			json.Unmarshal([]byte(items[1].Content), &tr) != nil || tr != (helpline.OwnerTransition{To: "queue:sales", Reason: "flow", Actor: "flow:flow-1"}) {
			t.Fatalf("items %v, want participant.joined then the owner change from nobody to queue:sales", items)
		}
		snap, err := s.RoutingSnapshot(ctx, "i1")
		if err != nil {
			t.Fatal(err)
		}
		var waiting *helpline.Waiting
		for i, w := range snap.Waiting {
			if w.ContactID == nc.Contact.ID {
				waiting = &snap.Waiting[i]
			}
		}
		if waiting == nil || waiting.QueueID != "sales" || waiting.Version != 1 || !waiting.Since.Equal(base) {
			t.Fatalf("snapshot waiting %+v, want the contact in sales at version 1 since its creation", snap.Waiting)
		}
		// It is offered and accepted at the version it was created at.
		o := offerOf(got, "ada", time.Second)
		if err := s.CreateOffer(ctx, o); err != nil {
			t.Fatalf("CreateOffer at version 1: %v", err)
		}
		if c, _, err := s.AcceptOffer(ctx, o.ID, at(2*time.Second)); err != nil || c.Owner != "agent:ada" || c.Version != 2 {
			t.Fatalf("AcceptOffer = %+v, %v; want agent:ada at version 2", c, err)
		}
		// A retry of the start replays: no second owner change.
		again := owned("queue:sales")
		again.Contact.ID = nc.Contact.ID
		if replayed, err := s.CreateContact(ctx, again); err != nil || !replayed || again.Contact.Owner != "agent:ada" {
			t.Errorf("retried create: replayed %v, err %v, owner %q; want the stored contact", replayed, err, again.Contact.Owner)
		}
		if n := len(mustFindItems(t, s, nc.Contact.ID, helpline.ItemQuery{})); n != 3 {
			t.Errorf("%d items after the retry, want 3 (joined, queued, accepted)", n)
		}
	})
	t.Run("ToBot", func(t *testing.T) {
		s := open(t)
		nc := owned("bot:greeter")
		mustCreateContact(t, s, nc)
		bots, err := s.FindBotContacts(ctx)
		if err != nil || len(bots) != 1 || bots[0].ID != nc.Contact.ID || bots[0].Owner != "bot:greeter" || bots[0].Version != 1 {
			t.Errorf("FindBotContacts = %v, %v; want the new contact, owned by bot:greeter at version 1", bots, err)
		}
	})
	t.Run("FailedCreateLeavesNothing", func(t *testing.T) {
		s, first := routingSetup(t, open)
		nc := owned("queue:sales")
		nc.MaxActive = 1 // first is active already
		_, err := s.CreateContact(ctx, nc)
		wantCode(t, "CreateContact over the quota", err, helpline.EQUOTA)
		_, err = s.FindContactByID(ctx, nc.Contact.ID)
		wantNotFound(t, "the refused contact", err, helpline.ResourceContact, nc.Contact.ID)
		snap, err := s.RoutingSnapshot(ctx, "i1")
		if err != nil || len(snap.Waiting) != 1 || snap.Waiting[0].ContactID != first.ID {
			t.Errorf("snapshot waiting %+v, %v; want only the contact created before", snap.Waiting, err)
		}
	})
}
