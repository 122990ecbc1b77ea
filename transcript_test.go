package helpline_test

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/helplinehq/helpline"
)

func TestTranscriptLineHandoff(t *testing.T) {
	at := time.Date(2025, 3, 4, 10, 42, 7, 0, time.UTC)
	handoff := func(h helpline.HandoffContext) *helpline.Item {
		content, _ := json.Marshal(h)
		return &helpline.Item{Type: helpline.ItemEvent, ContentType: helpline.EventHandoff, Content: string(content), Time: at}
	}
	for _, tc := range []struct {
		name string
		h    helpline.HandoffContext
		want string
	}{
		{"everything", helpline.HandoffContext{Bot: "bot:shop", Queue: "support", Reason: "customer_request",
			Summary: "Handed off by the bot: customer request.\nThe customer wrote:\n> a human please",
			Intents: []string{"order_status", "human_agent"}, Entities: map[string]string{"order_number": "884421", "email": "ada@example.com"},
			FirstSeq: 3, LastSeq: 9},
			"[10:42:07] The bot handed the chat to queue support (customer request): Handed off by the bot: customer request.\n" +
				"The customer wrote:\n> a human please\n" +
				"Intents: order status, human agent. Entities: email ada@example.com, order number 884421. The bot's part: items 3-9."},
		{"bare", helpline.HandoffContext{Queue: "support", Reason: "bot_error"},
			"[10:42:07] The bot handed the chat to queue support (bot error)"},
	} {
		line, ok := helpline.TranscriptLine(handoff(tc.h), "", "")
		if !ok || line != tc.want {
			t.Errorf("%s: TranscriptLine = %q, %v\nwant %q", tc.name, line, ok, tc.want)
		}
	}
	if line, ok := helpline.TranscriptLine(&helpline.Item{Type: helpline.ItemEvent, ContentType: helpline.EventHandoff, Content: "{", Time: at}, "", ""); ok {
		t.Errorf("a handoff that is not JSON makes line %q, want none", line)
	}
}
