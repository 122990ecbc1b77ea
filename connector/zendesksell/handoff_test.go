package zendesksell_test

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/helplinehq/helpline"
	"github.com/helplinehq/helpline/connector/zendesksell/zendeskselltest"
)

// A bot's handoff is a line of the lead's note, or of its description,
// with the summary, the intents and entities the bot saw and the items of
// its part; the summary's own lines are indented as a message's are.
func TestHandoffLineInNoteAndDescription(t *testing.T) {
	for _, mode := range []string{"notes", "description"} {
		t.Run(mode, func(t *testing.T) {
			fake := zendeskselltest.NewServer(token)
			defer fake.Close()
			conn := newConnector(t, fake, "mode: "+mode)
			c := newChat("c1", map[string]string{"email": "ada@example.com"})
			b := c.batch(1)
			content, _ := json.Marshal(helpline.HandoffContext{Bot: "bot:shop", Queue: "support", Reason: "refund_above_limit",
				Summary:  "Handed off by the bot: refund above limit. Order: 884421.\nThe customer wrote:\n> refund of $250 please",
				Intents:  []string{"return_refund"},
				Entities: map[string]string{"order_number": "884421", "amount": "250"}, FirstSeq: 1, LastSeq: 1})
			b.Items = append(b.Items, &helpline.Item{ContactID: "c1", Seq: 2, Type: helpline.ItemEvent, ContentType: helpline.EventHandoff,
				Content: string(content), ParticipantID: helpline.SystemParticipantID("c1"), DisplayName: helpline.SystemDisplayName,
				Role: helpline.RoleSystem, Time: t0.Add(2 * time.Second)})
			c.deliver(t, conn, b)

			want := "[10:42:08] Grace (agent): c1 line 1\n" +
				"[10:42:09] The bot handed the chat to queue support (refund above limit): Handed off by the bot: refund above limit. Order: 884421.\n" +
				"    The customer wrote:\n    > refund of $250 please\n" +
				"    Intents: return refund. Entities: amount 250, order number 884421. The bot's part: items 1-1.\n" +
				"— helpline c1 seq 1-2 #"
			var got string
			if mode == "notes" {
				notes := fake.Notes(leadOf(t, c))
				if len(notes) != 1 {
					t.Fatalf("%d notes, want 1", len(notes))
				}
				got = notes[0].Content
			} else {
				for _, l := range fake.Leads() {
					if l.ID == leadOf(t, c) {
						got = l.Description
					}
				}
			}
			if !strings.HasPrefix(got, want) {
				t.Errorf("%s:\n%s\nwant it to start:\n%s", mode, got, want)
			}
		})
	}
}
