package zendesk_test

import (
	"strings"
	"testing"

	"github.com/helplinehq/helpline"
	"github.com/helplinehq/helpline/connector/zendesk"
	"github.com/helplinehq/helpline/connector/zendesk/zendesktest"
)

// The handoff lands in the ticket's internal note with the bot's lines:
// the reason, the summary, the intents and entities the bot saw and the
// items of its part, while the customer's words stay public.
func TestMirrorHandoffInInternalNote(t *testing.T) {
	f := newFixture(t, zendesktest.Options{}, zendesk.Settings{}, helpline.ConnectorNode{})
	l := newChatLog("contact-h")
	l.Say("p-cust", "where is my order 884421?")
	l.Say("p-bot", "What email was the order placed with?")
	l.Say("p-cust", "I want to talk to a human")
	l.Say("p-bot", "I'm connecting you with a person now.")
	l.HandOff(helpline.HandoffContext{Bot: "bot:shop", Queue: "support", Reason: "customer_request",
		Summary: "Handed off by the bot: customer request. Topic: human agent. Order: 884421.\nThe customer wrote:\n> where is my order 884421?\n> I want to talk to a human",
		Intents: []string{"order_status", "human_agent"}, Entities: map[string]string{"order_number": "884421"},
		Customer: helpline.HandoffCustomer{Name: "Ada", Email: "ada@example.com"}, FirstSeq: 1, LastSeq: 4})
	if res := mirror(t, f.conn, l.Batch(0, nil, 0)); res.Delivered != 5 {
		t.Fatalf("result = %+v", res)
	}
	tickets := f.fake.Tickets()
	if len(tickets) != 1 {
		t.Fatalf("%d tickets, want 1", len(tickets))
	}
	want := []string{
		"public: Chat contact-h with Ada started at 2025-03-01 10:42:00 UTC.\n\n[10:42:07] Ada (customer): where is my order 884421?\n[10:42:21] Ada (customer): I want to talk to a human\n\n(Helpline chat contact-h, items 1-3)",
		"note: [10:42:14] Shopbot (bot): What email was the order placed with?\n" +
			"[10:42:28] Shopbot (bot): I'm connecting you with a person now.\n" +
			"[10:42:35] The bot handed the chat to queue support (customer request): Handed off by the bot: customer request. Topic: human agent. Order: 884421.\n" +
			"The customer wrote:\n> where is my order 884421?\n> I want to talk to a human\n" +
			"Intents: order status, human agent. Entities: order number 884421. The bot's part: items 1-4.\n" +
			"\n(Helpline chat contact-h, items 2-5)",
	}
	if got := commentBodies(tickets[0]); strings.Join(got, "\n|\n") != strings.Join(want, "\n|\n") {
		t.Errorf("comments:\n%s\nwant:\n%s", strings.Join(got, "\n|\n"), strings.Join(want, "\n|\n"))
	}
	assertGolden(t, "handoff_requests", f.rec.String())
}
