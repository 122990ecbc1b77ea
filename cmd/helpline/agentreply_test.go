package main

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/helplinehq/helpline/connector/zendesk/zendesktest"
)

// A public reply an agent types in Zendesk reaches the customer's socket
// as an AGENT message, once, and is not mirrored back into the ticket.
func TestServeZendeskAgentReplyReachesCustomerSocket(t *testing.T) {
	const secret = "zd-webhook-secret"
	fake := zendesktest.NewServer(zendesktest.Options{WebhookSecret: secret})
	defer fake.Close()
	t.Setenv("ZENDESK_WEBHOOK_SECRET", secret)
	s := zendeskServe(t, fake.URL, "    webhook_secret_env: ZENDESK_WEBHOOK_SECRET\n")
	fake.SetWebhookURL(s.url() + "/connectors/zendesk/webhook")

	contactID, token, ws := startCustomer(t, s)
	customer := chatSide{token}
	customer.say(t, s, "Where is my parcel?")

	var ticket zendesktest.Ticket
	waitFor(t, "the customer's line in the ticket", func() bool {
		tk, ok := fake.TicketByExternalID(contactID)
		for _, c := range tk.Comments {
			if ok && strings.Contains(c.Body, "Where is my parcel?") {
				ticket = tk
				return true
			}
		}
		return false
	})
	agent := fake.AddAgent("Grace Hopper", "grace@example.com")
	const reply = "It left our warehouse this morning."
	if _, status, err := fake.AgentReply(ticket.ID, agent.ID, reply); err != nil || status != 200 {
		t.Fatalf("the trigger webhook: status %d, %v", status, err)
	}

	ws.SetReadDeadline(time.Now().Add(10 * time.Second))
	for {
		_, data, err := ws.ReadMessage()
		if err != nil {
			t.Fatalf("the reply never reached the customer's socket: %v", err)
		}
		var frame struct{ Topic, Content string }
		var item struct{ Type, Content, ParticipantRole, DisplayName string }
		if json.Unmarshal(data, &frame) != nil || frame.Topic != "aws/chat" || json.Unmarshal([]byte(frame.Content), &item) != nil {
			continue
		}
		if item.Type == "MESSAGE" && item.Content == reply {
			if item.ParticipantRole != "AGENT" || item.DisplayName != "Grace Hopper" {
				t.Errorf("the reply came as %s %q, want AGENT %q", item.ParticipantRole, item.DisplayName, "Grace Hopper")
			}
			break
		}
	}

	// The customer writes again; once that is mirrored, the agent's reply
	// must still be in the ticket exactly once (no echo).
	customer.say(t, s, "Thanks!")
	waitFor(t, "the second line in the ticket", func() bool {
		tk, _ := fake.TicketByExternalID(contactID)
		for _, c := range tk.Comments {
			if strings.Contains(c.Body, "Thanks!") {
				ticket = tk
				return true
			}
		}
		return false
	})
	echoes := 0
	for _, c := range ticket.Comments {
		echoes += strings.Count(c.Body, reply)
	}
	if echoes != 1 {
		t.Errorf("the agent's reply is in the ticket %d times, want once (no echo)", echoes)
	}
}
