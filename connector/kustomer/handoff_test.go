package kustomer_test

import (
	"net/http"
	"strings"
	"testing"

	"github.com/helplinehq/helpline"
	"github.com/helplinehq/helpline/connector/kustomer"
	"github.com/helplinehq/helpline/connector/kustomer/kustomertest"
)

const handoffSummary = "Handed off by the bot: customer request. Topic: human agent.\nThe customer wrote:\n> I want to talk to a human"

// botChat is a chat the bot hands off: the customer asks for a person,
// the bot says so, and the handoff EVENT follows as the runner records
// it.
func botChat(id, summary string, attrs map[string]string) *chatLog {
	l := newChatLog(id)
	for k, v := range attrs {
		l.Contact.Attributes[k] = v
	}
	l.Say("p-cust", "I want to talk to a human")
	l.Say("p-bot", "I'm connecting you with a person now.")
	l.HandOff(helpline.HandoffContext{Bot: "bot:shop", Queue: "support", Reason: "customer_request",
		Summary: summary, Intents: []string{"human_agent"}, FirstSeq: 1, LastSeq: 2})
	return l
}

// When a bot hands the contact to a person, the conversation's session
// history attribute holds the contact's session_history_key, else a link
// to its transcript, else its summary cut to the 1,024 characters of a
// Str attribute; the summary is a note either way.
func TestMirrorHandoffSetsSessionHistory(t *testing.T) {
	long := strings.Repeat("x", 1100)
	for _, tc := range []struct {
		name, summary string
		set           kustomer.Settings
		attrs         map[string]string
		attr, want    string
	}{
		{"session history key", handoffSummary, kustomer.Settings{TranscriptURL: "https://help.acme.com/chats/{contact}"},
			map[string]string{"session_history_key": "us-south::f8a1c2::7d2e"}, "watsonAssistantSessionHistoryStr", "us-south::f8a1c2::7d2e"},
		{"transcript link", handoffSummary, kustomer.Settings{TranscriptURL: "https://help.acme.com/chats/{contact}"},
			nil, "watsonAssistantSessionHistoryStr", "https://help.acme.com/chats/contact-h"},
		{"a key too long for a Str", handoffSummary, kustomer.Settings{},
			map[string]string{"session_history_key": long}, "watsonAssistantSessionHistoryStr", handoffSummary},
		{"summary", handoffSummary, kustomer.Settings{SessionHistoryAttribute: "botHandoffStr"},
			nil, "botHandoffStr", handoffSummary},
		{"long summary", long, kustomer.Settings{}, nil, "watsonAssistantSessionHistoryStr", long[:1023] + "…"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture(t, kustomertest.Options{}, tc.set, helpline.ConnectorNode{})
			l := botChat("contact-h", tc.summary, tc.attrs)
			if res := mirror(t, f.conn, l.Batch(0, nil, 0)); res.Delivered != 3 {
				t.Fatalf("result = %+v", res)
			}
			cv := only(t, f.fake, "contact-h")
			if got := cv.Custom[tc.attr]; got != tc.want || len(cv.Custom) != 1 {
				t.Errorf("custom = %q, want %s = %q", cv.Custom, tc.attr, tc.want)
			}
			if len(cv.Notes) != 1 || !strings.Contains(cv.Notes[0].Body, "The bot handed the chat to queue support (customer request): "+tc.summary) {
				t.Errorf("notes %+v; want one with the summary", cv.Notes)
			}
			if got := timeline(cv); len(got) != 2 {
				t.Errorf("timeline %q, want the customer's and the bot's messages", got)
			}
		})
	}
}

// A chat the bot never handed off sets no attribute.
func TestMirrorWithoutHandoffSetsNoAttribute(t *testing.T) {
	f := newFixture(t, kustomertest.Options{}, kustomer.Settings{}, helpline.ConnectorNode{})
	l := newChatLog("contact-n")
	l.Say("p-cust", "Hi")
	l.Say("p-bot", "Hello!")
	mirror(t, f.conn, l.Batch(0, nil, 0))
	if cv := only(t, f.fake, "contact-n"); len(cv.Custom) != 0 {
		t.Errorf("custom = %q, want none", cv.Custom)
	}
}

// An answer lost on the note or on the attribute's update leaves, after
// the retry, one note and the attribute set.
func TestMirrorHandoffOnceAfterLostAnswer(t *testing.T) {
	// The writes: customer, conversation, two messages, the note, the
	// attribute.
	for _, lose := range []string{"note", "attribute"} {
		t.Run(lose, func(t *testing.T) {
			f := newFixture(t, kustomertest.Options{}, kustomer.Settings{}, helpline.ConnectorNode{})
			l := botChat("contact-u", handoffSummary, map[string]string{"session_history_key": "key-1"})
			f.fake.LoseAnswerAfter(map[string]int{"note": 4, "attribute": 5}[lose])
			res, err := f.conn.Mirror(ctx, l.Batch(0, nil, 0))
			if err == nil {
				t.Fatalf("first delivery: no error with a lost answer (%+v)", res)
			}
			assertRetryable(t, err)
			if res = mirror(t, f.conn, l.Batch(0, res.Refs, 1)); res.Delivered != 3 {
				t.Fatalf("retry delivered %d", res.Delivered)
			}
			cv := only(t, f.fake, "contact-u")
			if len(cv.Notes) != 1 || len(timeline(cv)) != 2 || cv.Custom["watsonAssistantSessionHistoryStr"] != "key-1" {
				t.Errorf("after the retry: %d notes, timeline %q, custom %q", len(cv.Notes), timeline(cv), cv.Custom)
			}
		})
	}
}

// The fake refuses what Kustomer refuses of a Str attribute: a value
// longer than 1,024 characters, or one that is not a string.
func TestFakeRefusesBadStrAttribute(t *testing.T) {
	f := newFixture(t, kustomertest.Options{}, kustomer.Settings{}, helpline.ConnectorNode{})
	l := newChatLog("contact-s")
	l.Say("p-cust", "Hi")
	res := mirror(t, f.conn, l.Batch(0, nil, 0))
	for _, body := range []string{
		`{"custom":{"watsonAssistantSessionHistoryStr":"` + strings.Repeat("x", 1025) + `"}}`,
		`{"custom":{"watsonAssistantSessionHistoryStr":42}}`,
		`{"custom":{"watsonAssistantSessionHistory":"x"}}`,
	} {
		req, _ := http.NewRequest(http.MethodPatch, f.fake.URL+"/v1/conversations/"+res.Refs["conversation_id"], strings.NewReader(body))
		req.Header.Set("Authorization", "Bearer kus-key")
		req.Header.Set("Content-Type", "application/json")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusBadRequest {
			t.Errorf("PATCH %.60s…: %d, want 400", body, resp.StatusCode)
		}
	}
	if cv := only(t, f.fake, "contact-s"); len(cv.Custom) != 0 {
		t.Errorf("custom = %q after refused updates", cv.Custom)
	}
}
