package storetest

import (
	"context"
	"testing"
	"time"

	"github.com/helplinehq/helpline"
)

func testBotState(t *testing.T, open func(t *testing.T) helpline.Store) {
	ctx := context.Background()
	s := open(t)
	nc := newContact("i1")
	mustCreateContact(t, s, nc)
	id := nc.Contact.ID
	if got, err := s.FindBotState(ctx, id); err != nil || got != nil {
		t.Errorf("FindBotState before any = %q, %v; want nil", got, err)
	}
	for _, state := range []string{`{"bot":"shop","last_seq":3}`, `{"bot":"shop","last_seq":7}`} {
		if err := s.SaveBotState(ctx, id, []byte(state)); err != nil {
			t.Fatal(err)
		}
		if got, err := s.FindBotState(ctx, id); err != nil || string(got) != state {
			t.Errorf("FindBotState = %q, %v; want the last saved %s", got, err, state)
		}
	}
	// The state is not an attribute of the contact.
	if c := mustFindContact(t, s, id); len(c.Attributes) != 1 || c.Attributes["orderId"] != "A-1" {
		t.Errorf("attributes %v after saving bot states, want only the contact's own", c.Attributes)
	}
	// Ended contacts keep theirs and take new ones.
	if _, err := s.EndContact(ctx, id, helpline.EndAPI, at(time.Minute), nil); err != nil {
		t.Fatal(err)
	}
	if err := s.SaveBotState(ctx, id, []byte(`{"bot":"shop","last_seq":9}`)); err != nil {
		t.Errorf("SaveBotState of an ended contact: %v", err)
	}
	if err := s.SaveBotState(ctx, id, nil); err != nil {
		t.Fatal(err)
	}
	if got, err := s.FindBotState(ctx, id); err != nil || got != nil {
		t.Errorf("FindBotState after an empty save = %q, %v; want nil", got, err)
	}
	err := s.SaveBotState(ctx, "missing", []byte(`{}`))
	wantNotFound(t, "SaveBotState of a missing contact", err, helpline.ResourceContact, "missing")
	if got, err := s.FindBotState(ctx, "missing"); err != nil || got != nil {
		t.Errorf("FindBotState of a missing contact = %q, %v; want nil", got, err)
	}
}
