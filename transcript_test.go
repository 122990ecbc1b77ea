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

// A quick reply is its title and options; the customer's tap on one is
// the option's title, not the JSON it came as; JSON of another shape is
// kept as it is.
func TestTranscriptLineInteractive(t *testing.T) {
	at := time.Date(2025, 3, 4, 10, 42, 7, 0, time.UTC)
	for _, tc := range []struct {
		contentType, content, want string
	}{
		{helpline.ContentInteractive, `{"templateType":"QuickReply","version":"1.0","data":{"content":{"title":"Rate us","elements":[{"title":"1"},{"title":"2"}]}}}`,
			"[10:42:07] Ada (customer): Rate us [1 | 2]"},
		{helpline.ContentInteractiveResponse, `{"templateType":"QuickReply","version":"1.0","data":{"content":{"title":"2"}}}`,
			"[10:42:07] Ada (customer): 2"},
		{helpline.ContentInteractiveResponse, `{"odd":true}`, `[10:42:07] Ada (customer): {"odd":true}`},
	} {
		it := &helpline.Item{Type: helpline.ItemMessage, ContentType: tc.contentType, Content: tc.content, Time: at}
		if line, ok := helpline.TranscriptLine(it, "Ada", helpline.RoleCustomer); !ok || line != tc.want {
			t.Errorf("TranscriptLine(%s) = %q, %v; want %q", tc.content, line, ok, tc.want)
		}
	}
}
