package kustomer_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/helplinehq/helpline"
	"github.com/helplinehq/helpline/connector/kustomer"
	"github.com/helplinehq/helpline/connector/kustomer/kustomertest"
)

// pairStore holds the mirror pairs the ticket actions look conversations
// up in; only FindMirrorPairs is implemented.
type pairStore struct {
	helpline.MirrorStore
	pairs []*helpline.MirrorPair
}

func (p *pairStore) FindMirrorPairs(_ context.Context, f helpline.MirrorPairFilter) ([]*helpline.MirrorPair, error) {
	var out []*helpline.MirrorPair
	for _, mp := range p.pairs {
		if mp.Connector == f.Connector && mp.ContactID == f.ContactID {
			out = append(out, mp)
		}
	}
	return out, nil
}

// mirroredContact mirrors one line of contact-1 and records its pair.
func mirroredContact(t *testing.T, f *fixture, store *pairStore) map[string]string {
	t.Helper()
	l := newChatLog("contact-1")
	l.Say("p-cust", "Where is my order?")
	res := mirror(t, f.conn, l.Batch(0, map[string]string{}, 0))
	store.pairs = append(store.pairs, &helpline.MirrorPair{Connector: "kustomer", ContactID: "contact-1", Refs: res.Refs})
	return res.Refs
}

// Every ticket action against the fake: the conversation, a note, the
// newest message or note, assigning a user and a team, a hand-off
// (assignment, then the context as a note); a public reply is
// EUNSUPPORTED and sends nothing; unknown contacts, users and bad bodies
// are refused.
func TestTicketActions(t *testing.T) {
	store := &pairStore{}
	f := newFixture(t, kustomertest.Options{}, kustomer.Settings{}, helpline.ConnectorNode{Mirrors: store})
	refs := mirroredContact(t, f, store)
	grace := f.fake.AddUser("Grace")
	billing := f.fake.AddTeam("Billing")

	if _, err := f.conn.Ticket(ctx, "no-such-contact"); helpline.ErrorCode(err) != helpline.ENOTFOUND {
		t.Errorf("Ticket of an unmirrored contact: %v, want ENOTFOUND", err)
	}
	tk, err := f.conn.Ticket(ctx, "contact-1")
	if err != nil || tk.ID != refs[kustomer.RefConversationID] || tk.Subject != "Chat with Ada" || tk.Status != "open" || tk.AssigneeID != "" {
		t.Fatalf("Ticket = %+v, %v", tk, err)
	}
	latest, err := f.conn.LatestMessage(ctx, "contact-1")
	if err != nil || !latest.Public || !strings.Contains(latest.Body, "Where is my order?") {
		t.Fatalf("LatestMessage before any note = %+v, %v", latest, err)
	}

	before := f.fake.Stats()
	_, err = f.conn.Reply(ctx, "contact-1", "We are on it.")
	if helpline.ErrorCode(err) != helpline.EUNSUPPORTED || !strings.Contains(helpline.ErrorMessage(err), "Add a note") {
		t.Errorf("Reply: %v, want EUNSUPPORTED", err)
	}
	if after := f.fake.Stats(); after.Requests != before.Requests {
		t.Errorf("Reply sent %d requests, want none", after.Requests-before.Requests)
	}

	f.clock.Advance(time.Second)
	note, err := f.conn.AddNote(ctx, "contact-1", "VIP customer")
	if err != nil || note.Public || note.ID == "" || note.Body != "VIP customer" {
		t.Fatalf("AddNote = %+v, %v", note, err)
	}
	latest, err = f.conn.LatestMessage(ctx, "contact-1")
	if err != nil || latest.ID != note.ID || latest.Public {
		t.Fatalf("LatestMessage = %+v, %v", latest, err)
	}
	for _, body := range []string{"", " ", strings.Repeat("x", kustomertest.MaxNoteBody+1)} {
		if _, err := f.conn.AddNote(ctx, "contact-1", body); helpline.ErrorCode(err) != helpline.EINVALID {
			t.Errorf("AddNote of %d characters: %v, want EINVALID", len(body), err)
		}
	}

	if _, err := f.conn.Assign(ctx, "contact-1", helpline.TicketAssignment{AssigneeID: "nobody"}); helpline.ErrorCode(err) != helpline.EINVALID ||
		!strings.Contains(helpline.ErrorMessage(err), "assignedUsers") {
		t.Errorf("Assign to an unknown user: %v, want EINVALID naming assignedUsers", err)
	}
	for _, a := range []helpline.TicketAssignment{{}, {AssigneeID: "../users"}} {
		if _, err := f.conn.Assign(ctx, "contact-1", a); helpline.ErrorCode(err) != helpline.EINVALID {
			t.Errorf("Assign(%+v): %v, want EINVALID", a, err)
		}
	}
	tk, err = f.conn.Assign(ctx, "contact-1", helpline.TicketAssignment{GroupID: billing})
	if err != nil || tk.GroupID != billing || tk.AssigneeID != "" {
		t.Fatalf("Assign to a team = %+v, %v", tk, err)
	}
	tk, err = f.conn.HandOff(ctx, "contact-1", helpline.TicketAssignment{AssigneeID: grace}, "Wants a refund for order 1234.")
	if err != nil || tk.AssigneeID != grace || tk.GroupID != billing {
		t.Fatalf("HandOff = %+v, %v", tk, err)
	}

	cv := only(t, f.fake, "contact-1")
	if strings.Join(cv.AssignedUsers, ",") != grace || strings.Join(cv.AssignedTeams, ",") != billing {
		t.Errorf("assignment: users %v, teams %v", cv.AssignedUsers, cv.AssignedTeams)
	}
	var notes []string
	for _, n := range cv.Notes {
		notes = append(notes, n.Body)
	}
	if strings.Join(notes, "|") != "VIP customer|Wants a refund for order 1234." {
		t.Errorf("notes %q", notes)
	}
	if len(cv.Messages) != 1 {
		t.Errorf("%d messages, want the mirrored one only", len(cv.Messages))
	}
}

// A note from the ticket actions spends the customer's note budget that
// the mirror paces: once spent, ETHROTTLED, and nothing reaches
// Kustomer's 120-a-minute cap.
func TestTicketNotesShareTheCustomerBudget(t *testing.T) {
	store := &pairStore{}
	f := newFixture(t, kustomertest.Options{}, kustomer.Settings{}, helpline.ConnectorNode{Mirrors: store})
	mirroredContact(t, f, store)
	throttled := 0
	for range 40 {
		if _, err := f.conn.AddNote(ctx, "contact-1", "psst"); helpline.ErrorCode(err) == helpline.ETHROTTLED {
			throttled++
		} else if err != nil {
			t.Fatal(err)
		}
	}
	if throttled == 0 || f.fake.Stats().TooMany != 0 {
		t.Errorf("%d notes throttled by the connector, %d 429s from Kustomer; want some and none", throttled, f.fake.Stats().TooMany)
	}
}
