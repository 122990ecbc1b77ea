package storetest

import (
	"context"
	"maps"
	"slices"
	"testing"
	"time"

	"github.com/helplinehq/helpline"
)

func testCreateContact(t *testing.T, open func(t *testing.T) helpline.Store) {
	ctx := context.Background()
	t.Run("RoundTrip", func(t *testing.T) {
		s := open(t)
		nc := newContact("i1")
		nc.Contact.RelatedContactID = helpline.NewID()
		nc.Items = append(nc.Items, message(nc.Customer, "hello", "", at(time.Second)))
		mustCreateContact(t, s, nc)

		if nc.Contact.LastSeq != 2 {
			t.Errorf("LastSeq = %d, want 2", nc.Contact.LastSeq)
		}
		for i, it := range nc.Items {
			if it.Seq != int64(i+1) || it.ContactID != nc.Contact.ID {
				t.Errorf("item %d: Seq %d ContactID %q, want %d %q", i, it.Seq, it.ContactID, i+1, nc.Contact.ID)
			}
		}
		sameContact(t, mustFindContact(t, s, nc.Contact.ID), nc.Contact)
		p, err := s.FindParticipantByID(ctx, nc.Customer.ID)
		if err != nil {
			t.Fatalf("FindParticipantByID(customer): %v", err)
		}
		sameParticipant(t, p, nc.Customer)
		sameItems(t, mustFindItems(t, s, nc.Contact.ID, helpline.ItemQuery{}), nc.Items)
	})
	t.Run("Idempotent", func(t *testing.T) {
		s := open(t)
		first := newContact("i1")
		first.Contact.ClientToken = "tok"
		mustCreateContact(t, s, first)

		retry := newContact("i1")
		retry.Contact.ClientToken = "tok"
		retry.Contact.Attributes = map[string]string{"other": "x"}
		retryID := retry.Contact.ID
		replayed, err := s.CreateContact(ctx, retry)
		if err != nil || !replayed {
			t.Fatalf("retry: replayed %v, %v; want true, nil", replayed, err)
		}
		sameContact(t, retry.Contact, first.Contact)
		sameParticipant(t, retry.Customer, first.Customer)
		if retry.Items != nil {
			t.Errorf("retry: Items = %v, want nil", retry.Items)
		}
		_, err = s.FindContactByID(ctx, retryID)
		wantNotFound(t, "FindContactByID(retry's own id)", err, helpline.ResourceContact, retryID)
		if items := mustFindItems(t, s, first.Contact.ID, helpline.ItemQuery{}); len(items) != 1 {
			t.Errorf("after retry the contact has %d items, want 1", len(items))
		}

		elsewhere := newContact("i2")
		elsewhere.Contact.ClientToken = "tok"
		mustCreateContact(t, s, elsewhere)
	})
	t.Run("NoTokenNoIdempotency", func(t *testing.T) {
		s := open(t)
		mustCreateContact(t, s, newContact("i1"))
		mustCreateContact(t, s, newContact("i1"))
	})
	t.Run("Quota", func(t *testing.T) {
		s := open(t)
		var active []*helpline.NewContact
		for range 2 {
			nc := newContact("i1")
			nc.Contact.ClientToken = helpline.NewID()
			nc.MaxActive = 2
			mustCreateContact(t, s, nc)
			active = append(active, nc)
		}
		over := newContact("i1")
		over.MaxActive = 2
		_, err := s.CreateContact(ctx, over)
		wantCode(t, "CreateContact over quota", err, helpline.EQUOTA)
		_, err = s.FindContactByID(ctx, over.Contact.ID)
		wantNotFound(t, "FindContactByID(refused contact)", err, helpline.ResourceContact, over.Contact.ID)

		retry := newContact("i1")
		retry.Contact.ClientToken = active[0].Contact.ClientToken
		retry.MaxActive = 2
		if replayed, err := s.CreateContact(ctx, retry); err != nil || !replayed {
			t.Errorf("retry of an existing contact at quota: replayed %v, %v; want true, nil", replayed, err)
		}

		other := newContact("i2")
		other.MaxActive = 2
		mustCreateContact(t, s, other)
		unlimited := newContact("i1")
		mustCreateContact(t, s, unlimited)

		if _, err := s.EndContact(ctx, active[0].Contact.ID, helpline.EndAPI, at(time.Minute), nil); err != nil {
			t.Fatal(err)
		}
		if _, err := s.EndContact(ctx, unlimited.Contact.ID, helpline.EndAPI, at(time.Minute), nil); err != nil {
			t.Fatal(err)
		}
		over = newContact("i1")
		over.MaxActive = 2
		if _, err := s.CreateContact(ctx, over); err != nil {
			t.Errorf("CreateContact after an active contact ended: %v (ended contacts must not count)", err)
		}
	})
	t.Run("NotFound", func(t *testing.T) {
		s := open(t)
		_, err := s.FindContactByID(ctx, "missing")
		wantNotFound(t, "FindContactByID", err, helpline.ResourceContact, "missing")
	})
}

func testUpdateContactAttributes(t *testing.T, open func(t *testing.T) helpline.Store) {
	ctx := context.Background()
	t.Run("Merge", func(t *testing.T) {
		s := open(t)
		nc := newContact("i1")
		nc.Contact.Attributes = map[string]string{"a": "1", "b": "2"}
		mustCreateContact(t, s, nc)
		c, err := s.UpdateContactAttributes(ctx, nc.Contact.ID, map[string]string{"b": "3", "c": "4"})
		if err != nil {
			t.Fatal(err)
		}
		want := map[string]string{"a": "1", "b": "3", "c": "4"}
		if !maps.Equal(c.Attributes, want) {
			t.Errorf("returned attributes %v, want %v", c.Attributes, want)
		}
		nc.Contact.Attributes = want
		sameContact(t, c, nc.Contact)
		sameContact(t, mustFindContact(t, s, nc.Contact.ID), nc.Contact)
	})
	t.Run("EndedContact", func(t *testing.T) {
		s := open(t)
		nc := newContact("i1")
		mustCreateContact(t, s, nc)
		if _, err := s.EndContact(ctx, nc.Contact.ID, helpline.EndAPI, at(time.Minute), nil); err != nil {
			t.Fatal(err)
		}
		if _, err := s.UpdateContactAttributes(ctx, nc.Contact.ID, map[string]string{"after": "end"}); err != nil {
			t.Fatalf("UpdateContactAttributes on an ended contact: %v", err)
		}
		if got := mustFindContact(t, s, nc.Contact.ID).Attributes["after"]; got != "end" {
			t.Errorf("attribute after end = %q, want %q", got, "end")
		}
	})
	t.Run("NotFound", func(t *testing.T) {
		s := open(t)
		_, err := s.UpdateContactAttributes(ctx, "missing", map[string]string{"a": "b"})
		wantNotFound(t, "UpdateContactAttributes", err, helpline.ResourceContact, "missing")
	})
}

func testFindContactsToExpire(t *testing.T, open func(t *testing.T) helpline.Store) {
	ctx := context.Background()
	s := open(t)
	create := func(instanceID string, expires time.Time) string {
		nc := newContact(instanceID)
		nc.Contact.ExpiresAt = expires
		mustCreateContact(t, s, nc)
		return nc.Contact.ID
	}
	third := create("i1", at(3*time.Minute))
	first := create("i1", at(time.Minute))
	second := create("i2", at(2*time.Minute))
	create("i1", time.Time{}) // no expiry
	ended := create("i1", at(0))
	if _, err := s.EndContact(ctx, ended, helpline.EndAPI, at(0), nil); err != nil {
		t.Fatal(err)
	}
	ids := func(cs []*helpline.Contact) []string {
		var s []string
		for _, c := range cs {
			s = append(s, c.ID)
		}
		return s
	}
	for _, tc := range []struct {
		name  string
		t     time.Time
		limit int
		want  []string
	}{
		{"AtOrBefore", at(2 * time.Minute), 10, []string{first, second}},
		{"Limit", at(10 * time.Minute), 2, []string{first, second}},
		{"All", at(10 * time.Minute), 10, []string{first, second, third}},
		{"None", at(30 * time.Second), 10, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cs, err := s.FindContactsToExpire(ctx, tc.t, tc.limit)
			if err != nil {
				t.Fatal(err)
			}
			if got := ids(cs); !slices.Equal(got, tc.want) {
				t.Errorf("FindContactsToExpire(%v, %d) = %v, want %v (oldest first, active only)", tc.t, tc.limit, got, tc.want)
			}
		})
	}
}

func testEndContact(t *testing.T, open func(t *testing.T) helpline.Store) {
	ctx := context.Background()
	t.Run("Once", func(t *testing.T) {
		s := open(t)
		nc := newContact("i1")
		mustCreateContact(t, s, nc)
		agent := newAgent(nc.Contact.ID, "")
		if _, err := s.CreateParticipant(ctx, agent, nil); err != nil {
			t.Fatal(err)
		}
		early := newAgent(nc.Contact.ID, "")
		if _, err := s.CreateParticipant(ctx, early, nil); err != nil {
			t.Fatal(err)
		}
		if _, err := s.LeaveParticipant(ctx, early.ID, at(2*time.Minute), nil); err != nil {
			t.Fatal(err)
		}

		endAt := at(5 * time.Minute)
		items := []*helpline.Item{
			event(agent, helpline.EventParticipantLeft, endAt),
			event(nc.Customer, helpline.EventChatEnded, endAt),
		}
		ended, err := s.EndContact(ctx, nc.Contact.ID, helpline.EndCustomerDisconnect, endAt, items)
		if err != nil || !ended {
			t.Fatalf("EndContact = %v, %v; want true, nil", ended, err)
		}
		if items[0].Seq != 2 || items[1].Seq != 3 {
			t.Errorf("end items got Seq %d, %d; want 2, 3 (after the others)", items[0].Seq, items[1].Seq)
		}
		c := mustFindContact(t, s, nc.Contact.ID)
		if !c.Ended() || c.EndReason != helpline.EndCustomerDisconnect || !c.EndedAt.Equal(endAt) || c.LastSeq != 3 {
			t.Errorf("ended contact: State %s EndReason %s EndedAt %v LastSeq %d; want %s %s %v 3",
				c.State, c.EndReason, c.EndedAt, c.LastSeq, helpline.ContactEnded, helpline.EndCustomerDisconnect, endAt)
		}
		ps, err := s.FindParticipants(ctx, nc.Contact.ID)
		if err != nil {
			t.Fatal(err)
		}
		for _, p := range ps {
			want := endAt
			if p.ID == early.ID {
				want = at(2 * time.Minute)
			}
			if !p.LeftAt.Equal(want) {
				t.Errorf("participant %s (%s) LeftAt %v, want %v", p.ID, p.Role, p.LeftAt, want)
			}
		}

		again, err := s.EndContact(ctx, nc.Contact.ID, helpline.EndAPI, at(time.Hour),
			[]*helpline.Item{event(nc.Customer, helpline.EventChatEnded, at(time.Hour))})
		if err != nil || again {
			t.Fatalf("second EndContact = %v, %v; want false, nil", again, err)
		}
		sameContact(t, mustFindContact(t, s, nc.Contact.ID), c)
		if n := len(mustFindItems(t, s, nc.Contact.ID, helpline.ItemQuery{})); n != 3 {
			t.Errorf("after the second EndContact the contact has %d items, want 3", n)
		}
	})
	t.Run("NotFound", func(t *testing.T) {
		s := open(t)
		_, err := s.EndContact(ctx, "missing", helpline.EndAPI, base, nil)
		wantNotFound(t, "EndContact", err, helpline.ResourceContact, "missing")
	})
}

func testUpdateCustomer(t *testing.T, open func(t *testing.T) helpline.Store) {
	ctx := context.Background()
	updated := func(nc *helpline.NewContact, name string, d time.Duration) *helpline.Item {
		it := event(nc.Customer, helpline.EventCustomerUpdated, at(d))
		it.DisplayName = name
		return it
	}
	customerName := func(t *testing.T, s helpline.Store, contactID string) string {
		t.Helper()
		ps, err := s.FindParticipants(ctx, contactID)
		if err != nil {
			t.Fatal(err)
		}
		for _, p := range ps {
			if p.Role == helpline.RoleCustomer {
				return p.DisplayName
			}
		}
		t.Fatal("no customer")
		return ""
	}
	t.Run("RenamesMergesAndAppendsOnce", func(t *testing.T) {
		s := open(t)
		nc := newContact("i1")
		mustCreateContact(t, s, nc)
		attrs := map[string]string{"email": "ada@example.com"}
		it := updated(nc, "Ada", time.Minute)
		c, changed, err := s.UpdateCustomer(ctx, nc.Contact.ID, "Ada", attrs, it)
		if err != nil || !changed {
			t.Fatalf("UpdateCustomer = changed %v, %v; want a change", changed, err)
		}
		if it.Seq != 2 || c.LastSeq != 2 {
			t.Errorf("item seq %d, contact LastSeq %d; want 2 and 2", it.Seq, c.LastSeq)
		}
		if got := mustFindContact(t, s, nc.Contact.ID); got.Attributes["email"] != "ada@example.com" || got.Attributes["orderId"] != "A-1" {
			t.Errorf("attributes %v: want email merged beside orderId", got.Attributes)
		}
		if got := customerName(t, s, nc.Contact.ID); got != "Ada" {
			t.Errorf("customer named %q, want Ada", got)
		}
		// The same update again changes nothing and appends nothing.
		again := updated(nc, "Ada", 2*time.Minute)
		if _, changed, err := s.UpdateCustomer(ctx, nc.Contact.ID, "Ada", attrs, again); err != nil || changed {
			t.Fatalf("repeated UpdateCustomer = changed %v, %v; want no change", changed, err)
		}
		items, err := s.FindItems(ctx, nc.Contact.ID, helpline.ItemQuery{})
		if err != nil {
			t.Fatal(err)
		}
		if len(items) != 2 || items[1].ContentType != helpline.EventCustomerUpdated || items[1].DisplayName != "Ada" {
			t.Fatalf("items after two updates: %d, want the joined event and one customer.updated by Ada", len(items))
		}
		// An empty name keeps the name; a new attribute alone is a change.
		if _, changed, err := s.UpdateCustomer(ctx, nc.Contact.ID, "", map[string]string{"phone": "+1"}, updated(nc, "Ada", 3*time.Minute)); err != nil || !changed {
			t.Fatalf("attribute-only UpdateCustomer = changed %v, %v; want a change", changed, err)
		}
		if got := customerName(t, s, nc.Contact.ID); got != "Ada" {
			t.Errorf("customer named %q after an update without a name, want Ada", got)
		}
	})
	t.Run("EndedContactAppendsNothing", func(t *testing.T) {
		s := open(t)
		nc := newContact("i1")
		mustCreateContact(t, s, nc)
		if _, err := s.EndContact(ctx, nc.Contact.ID, helpline.EndAPI, at(time.Minute), nil); err != nil {
			t.Fatal(err)
		}
		c, _, err := s.UpdateCustomer(ctx, nc.Contact.ID, "Ada", map[string]string{"email": "ada@example.com"}, updated(nc, "Ada", 2*time.Minute))
		if err != nil {
			t.Fatal(err)
		}
		if c.LastSeq != 1 || c.Attributes["email"] != "ada@example.com" {
			t.Errorf("ended contact: LastSeq %d, attributes %v; want 1 and the email merged", c.LastSeq, c.Attributes)
		}
	})
	t.Run("NotFound", func(t *testing.T) {
		s := open(t)
		_, _, err := s.UpdateCustomer(ctx, "missing", "Ada", nil, nil)
		wantNotFound(t, "UpdateCustomer", err, helpline.ResourceContact, "missing")
	})
}
