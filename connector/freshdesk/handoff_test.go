package freshdesk_test

import (
	"testing"

	"github.com/helplinehq/helpline"
	"github.com/helplinehq/helpline/connector/freshdesk"
	"github.com/helplinehq/helpline/connector/freshdesk/freshdesktest"
)

// A bot's handoff lands in a private note, with the bot's lines around
// it: its reason, summary, the intents and entities the bot saw and the
// items of its part; the customer's words stay public.
func TestMirrorHandoffInPrivateNote(t *testing.T) {
	f := newFixture(t, freshdesktest.Options{}, freshdesk.Settings{}, helpline.ConnectorNode{})
	l := newChatLog("contact-h")
	l.Say("p-cust", "Hi")
	res := mirror(t, f.conn, l.Batch(0, nil, 0))

	l.Say("p-cust", "I want to talk to a human")
	l.Say("p-bot", "I'm connecting you with a person now.")
	l.HandOff(helpline.HandoffContext{Bot: "bot:shop", Queue: "support", Reason: "customer_request",
		Summary:  "Handed off by the bot: customer request. Topic: human agent.\nThe customer wrote:\n> I want to talk to a human",
		Intents:  []string{"greeting", "human_agent"},
		Entities: map[string]string{"email": "ada@example.com"}, FirstSeq: 1, LastSeq: 3})
	l.Say("p-agent", "Hi Ada, Grace here.")
	if res := mirror(t, f.conn, l.Batch(1, res.Refs, 0)); res.Delivered != 4 {
		t.Fatalf("result = %+v", res)
	}

	tk := only(t, f.fake, "contact-h")
	want := `description:
[10:42:07] Ada (customer): Hi
— helpline contact-h seq 1-1 #mac
incoming note:
[10:42:14] Ada (customer): I want to talk to a human
— helpline contact-h seq 2-2 #mac
private note:
[10:42:21] Shopbot (bot): I'm connecting you with a person now.
[10:42:28] The bot handed the chat to queue support (customer request): Handed off by the bot: customer request. Topic: human agent.
The customer wrote:
> I want to talk to a human
Intents: greeting, human agent. Entities: email ada@example.com. The bot's part: items 1-3.
— helpline contact-h seq 3-4 #mac
reply:
[10:42:35] Grace (agent): Hi Ada, Grace here.
— helpline contact-h seq 5-5 #mac
`
	if got := stripMarkers(tk.Transcript()); got != want {
		t.Errorf("transcript:\n%s\nwant:\n%s", got, want)
	}
	if c := tk.Conversations[1]; !c.Private || c.Incoming {
		t.Errorf("the handoff is in %+v; want a private note", c)
	}
}
