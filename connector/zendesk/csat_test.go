package zendesk_test

import (
	"strings"
	"testing"

	"github.com/helplinehq/helpline"
	"github.com/helplinehq/helpline/connector/zendesk"
	"github.com/helplinehq/helpline/connector/zendesk/zendesktest"
)

// The CSAT question (a quick reply) and the customer's rating land in
// the ticket's internal note as readable lines; the customer's answer is
// public like any of their words.
func TestMirrorCSATInInternalNote(t *testing.T) {
	f := newFixture(t, zendesktest.Options{}, zendesk.Settings{}, helpline.ConnectorNode{})
	l := newChatLog("contact-r")
	l.Add("p-bot", helpline.ItemMessage, helpline.ContentInteractive,
		`{"templateType":"QuickReply","version":"1.0","data":{"content":{"title":"How did we do?","elements":[{"title":"1"},{"title":"2"},{"title":"3"},{"title":"4"},{"title":"5"}]}}}`)
	l.Add("p-cust", helpline.ItemMessage, helpline.ContentInteractiveResponse, "4")
	rating := l.Add("p-cust", helpline.ItemEvent, helpline.EventCSAT, `{"rating":4,"owner":"agent:grace"}`)
	rating.ParticipantID, rating.Role, rating.DisplayName = helpline.SystemParticipantID("contact-r"), helpline.RoleSystem, helpline.SystemDisplayName
	if res := mirror(t, f.conn, l.Batch(0, nil, 0)); res.Delivered != 3 {
		t.Fatalf("result = %+v", res)
	}
	tickets := f.fake.Tickets()
	if len(tickets) != 1 {
		t.Fatalf("%d tickets, want 1", len(tickets))
	}
	want := []string{
		"note: Chat contact-r with Ada started at 2025-03-01 10:42:00 UTC.\n\n[10:42:07] Shopbot (bot): How did we do? [1 | 2 | 3 | 4 | 5]\n" +
			"[10:42:21] The customer rated the chat 4 of 5\n" +
			"\n(Helpline chat contact-r, items 1-3)",
		"public: [10:42:14] Ada (customer): 4\n\n(Helpline chat contact-r, items 2-2)",
	}
	if got := commentBodies(tickets[0]); strings.Join(got, "\n|\n") != strings.Join(want, "\n|\n") {
		t.Errorf("comments:\n%s\nwant:\n%s", strings.Join(got, "\n|\n"), strings.Join(want, "\n|\n"))
	}
}
