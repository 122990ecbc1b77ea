package freshdesk_test

import (
	"context"
	"strconv"
	"strings"
	"testing"

	"github.com/helplinehq/helpline"
	"github.com/helplinehq/helpline/connector/freshdesk"
	"github.com/helplinehq/helpline/connector/freshdesk/freshdesktest"
)

// pairStore holds the mirror pairs the ticket actions look tickets up
// in; only FindMirrorPairs is implemented.
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

// Every ticket action against the fake: the ticket, a public reply, a
// private note, the newest conversation, assigning an agent and a group,
// a hand-off (assignment, then the context as a private note), and the
// errors of an unknown contact, an unknown agent, a bad id and an empty
// body.
func TestTicketActions(t *testing.T) {
	store := &pairStore{}
	f := newFixture(t, freshdesktest.Options{}, freshdesk.Settings{}, helpline.ConnectorNode{Mirrors: store})
	l := newChatLog("contact-1")
	l.Say("p-cust", "Where is my order?")
	res := mirror(t, f.conn, l.Batch(0, map[string]string{}, 0))
	store.pairs = append(store.pairs, &helpline.MirrorPair{Connector: "freshdesk", ContactID: "contact-1", Refs: res.Refs})
	ticket := ticketID(t, res.Refs)
	grace := f.fake.AddAgent("Grace", "grace@example.com")
	billing := f.fake.AddGroup("Billing")

	if _, err := f.conn.Ticket(ctx, "no-such-contact"); helpline.ErrorCode(err) != helpline.ENOTFOUND {
		t.Errorf("Ticket of an unmirrored contact: %v, want ENOTFOUND", err)
	}
	if _, err := f.conn.LatestMessage(ctx, "contact-1"); helpline.ErrorCode(err) != helpline.ENOTFOUND {
		t.Errorf("LatestMessage of a ticket without conversations: %v, want ENOTFOUND", err)
	}
	tk, err := f.conn.Ticket(ctx, "contact-1")
	if err != nil || tk.ID != strconv.FormatInt(ticket, 10) || tk.Subject != "Chat with Ada" || tk.Status != "open" ||
		tk.URL != f.fake.URL+"/a/tickets/"+tk.ID || tk.AssigneeID != "" {
		t.Fatalf("Ticket = %+v, %v", tk, err)
	}
	reply, err := f.conn.Reply(ctx, "contact-1", "We are on it.\nHold on <3")
	if err != nil || !reply.Public || reply.Body != "We are on it.\nHold on <3" || reply.AuthorID != strconv.FormatInt(f.fake.AgentID, 10) {
		t.Fatalf("Reply = %+v, %v", reply, err)
	}
	note, err := f.conn.AddNote(ctx, "contact-1", "VIP customer")
	if err != nil || note.Public || note.ID == "" {
		t.Fatalf("AddNote = %+v, %v", note, err)
	}
	latest, err := f.conn.LatestMessage(ctx, "contact-1")
	if err != nil || latest.ID != note.ID || latest.Body != "VIP customer" || latest.Public {
		t.Fatalf("LatestMessage = %+v, %v", latest, err)
	}
	for _, body := range []string{"", "  "} {
		if _, err := f.conn.AddNote(ctx, "contact-1", body); helpline.ErrorCode(err) != helpline.EINVALID {
			t.Errorf("AddNote(%q): %v, want EINVALID", body, err)
		}
	}

	if _, err := f.conn.Assign(ctx, "contact-1", helpline.TicketAssignment{AssigneeID: "424242"}); helpline.ErrorCode(err) != helpline.EINVALID ||
		!strings.Contains(helpline.ErrorMessage(err), "responder_id") {
		t.Errorf("Assign to an unknown agent: %v, want EINVALID naming responder_id", err)
	}
	for _, a := range []helpline.TicketAssignment{{}, {AssigneeID: "grace"}, {GroupID: "-1"}} {
		if _, err := f.conn.Assign(ctx, "contact-1", a); helpline.ErrorCode(err) != helpline.EINVALID {
			t.Errorf("Assign(%+v): %v, want EINVALID", a, err)
		}
	}
	tk, err = f.conn.Assign(ctx, "contact-1", helpline.TicketAssignment{GroupID: strconv.FormatInt(billing, 10)})
	if err != nil || tk.GroupID != strconv.FormatInt(billing, 10) || tk.AssigneeID != "" {
		t.Fatalf("Assign to a group = %+v, %v", tk, err)
	}
	tk, err = f.conn.HandOff(ctx, "contact-1", helpline.TicketAssignment{AssigneeID: strconv.FormatInt(grace.ID, 10)}, "Wants a refund for order 1234.")
	if err != nil || tk.AssigneeID != strconv.FormatInt(grace.ID, 10) || tk.GroupID != strconv.FormatInt(billing, 10) {
		t.Fatalf("HandOff = %+v, %v", tk, err)
	}

	held := only(t, f.fake, "contact-1")
	if held.ResponderID == nil || *held.ResponderID != grace.ID || held.GroupID == nil || *held.GroupID != billing {
		t.Errorf("ticket assignment: responder %v, group %v", held.ResponderID, held.GroupID)
	}
	want := "reply:\nWe are on it.\nHold on <3\nprivate note:\nVIP customer\nprivate note:\nWants a refund for order 1234.\n"
	if got := held.Transcript()[strings.Index(held.Transcript(), "reply:"):]; got != want {
		t.Errorf("conversations\n%s\nwant\n%s", got, want)
	}
}

// Ticket actions on a ticket Freshdesk no longer has are ENOTFOUND, and
// its rate limit ETHROTTLED.
func TestTicketActionErrors(t *testing.T) {
	store := &pairStore{pairs: []*helpline.MirrorPair{{Connector: "freshdesk", ContactID: "gone", Refs: map[string]string{freshdesk.RefTicketID: "99999"}}}}
	f := newFixture(t, freshdesktest.Options{RequestsPerMinute: 1}, freshdesk.Settings{}, helpline.ConnectorNode{Mirrors: store})
	if _, err := f.conn.Ticket(ctx, "gone"); helpline.ErrorCode(err) != helpline.ENOTFOUND {
		t.Errorf("Ticket of a deleted ticket: %v, want ENOTFOUND", err)
	}
	if _, err := f.conn.AddNote(ctx, "gone", "psst"); helpline.ErrorCode(err) != helpline.ETHROTTLED {
		t.Errorf("AddNote over the account limit: %v, want ETHROTTLED", err)
	}
}
