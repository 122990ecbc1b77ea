package main

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/helplinehq/helpline/connector/kustomer/kustomertest"
)

// kustomerServe starts serve mirroring into a Kustomer fake at fakeURL.
func kustomerServe(t *testing.T, fakeURL string) *testServer {
	t.Helper()
	t.Setenv("KUSTOMER_API_KEY", "kus-key")
	t.Setenv("KUSTOMER_WEBHOOK_SECRET", "kus-webhook-secret")
	cfg := fmt.Sprintf(`
mirror:
  poll_interval: 20ms
connectors:
  - name: kustomer
    kind: kustomer
    base_url: %s
    api_key_env: KUSTOMER_API_KEY
    webhook_secret_env: KUSTOMER_WEBHOOK_SECRET
    end_chat_on_done: true
`, fakeURL)
	path := filepath.Join(t.TempDir(), "helpline.yaml")
	if err := os.WriteFile(path, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	return startServe(t, "--config", path, "--data", t.TempDir(), "--disable-rate-limits")
}

// readUntil reads the socket's chat items until want accepts one.
func readUntil(t *testing.T, ws *websocket.Conn, what string, want func(typ, contentType, content, role string) bool) {
	t.Helper()
	ws.SetReadDeadline(time.Now().Add(10 * time.Second))
	for {
		_, data, err := ws.ReadMessage()
		if err != nil {
			t.Fatalf("%s never reached the customer's socket: %v", what, err)
		}
		var frame struct{ Topic, Content string }
		var item struct{ Type, ContentType, Content, ParticipantRole string }
		if json.Unmarshal(data, &frame) != nil || frame.Topic != "aws/chat" || json.Unmarshal([]byte(frame.Content), &item) != nil {
			continue
		}
		if want(item.Type, item.ContentType, item.Content, item.ParticipantRole) {
			return
		}
	}
}

// A chat's customer and agent lines land in the Kustomer conversation in
// order, once; an agent's reply sent by Kustomer's webhook reaches the
// customer's socket once and is not mirrored back; the agent setting the
// conversation done ends the chat.
func TestServeKustomerMirrorsRepliesAndEnds(t *testing.T) {
	fake := kustomertest.NewServer(kustomertest.Options{WebhookSecret: "kus-webhook-secret"})
	defer fake.Close()
	s := kustomerServe(t, fake.URL)
	fake.SetWebhookURL(s.url() + "/connectors/kustomer/webhook")

	contactID, _, ws := startCustomer(t, s)
	contact, customer, agent := startMirroredChat(t, s)
	var want []string
	for i := range 10 {
		side, dir := customer, "in"
		if i%2 == 1 {
			side, dir = agent, "out"
		}
		line := fmt.Sprintf("line %d", i)
		side.say(t, s, line)
		want = append(want, dir+" "+line)
	}
	// timelineOf lists the lines of the conversation's messages, each
	// with its direction: a message's own, or, in a message the mirror
	// gathered when behind the customer's budget, the one its stamped
	// line's role gives.
	stamped := regexp.MustCompile(`^\[[^\]]*\] .* \((\w+)\): (.*)$`)
	timelineOf := func(id string) []string {
		var out []string
		for _, cv := range fake.ConversationsByExternalID(id) {
			for _, m := range cv.Messages {
				body := strings.Split(m.Body(), "\n")
				if len(body) == 1 {
					out = append(out, m.Direction+" "+body[0])
					continue
				}
				for _, ln := range body {
					dir, text := m.Direction, ln
					if sm := stamped.FindStringSubmatch(ln); sm != nil {
						dir, text = "out", sm[2]
						if sm[1] == "customer" {
							dir = "in"
						}
					}
					out = append(out, dir+" "+text)
				}
			}
		}
		return out
	}
	waitFor(t, "the chat's lines in Kustomer", func() bool { return len(timelineOf(contact)) >= len(want) })
	if got := timelineOf(contact); strings.Join(got, "|") != strings.Join(want, "|") {
		t.Fatalf("conversation timeline\n%q\nwant\n%q", got, want)
	}
	if n := len(fake.ConversationsByExternalID(contact)); n != 1 {
		t.Fatalf("%d conversations for the chat", n)
	}

	// The customer with a socket: her chat's conversation, then Grace's
	// reply.
	waitFor(t, "the socket customer's conversation", func() bool { return len(fake.ConversationsByExternalID(contactID)) == 1 })
	conv := fake.ConversationsByExternalID(contactID)[0]
	grace := fake.AddUser("Grace Hopper")
	const reply = "It left our warehouse this morning."
	if _, status, err := fake.AgentReply(conv.ID, grace, reply); err != nil || status != 200 {
		t.Fatalf("the webhook: status %d, %v", status, err)
	}
	readUntil(t, ws, "the reply", func(typ, _, content, role string) bool {
		if typ == "MESSAGE" && content == reply {
			if role != "AGENT" {
				t.Errorf("the reply came as %s", role)
			}
			return true
		}
		return false
	})
	// Kustomer delivers at least once: the same event again changes
	// nothing.
	if status, _ := fake.Redeliver(len(fake.Webhooks()) - 1); status != 409 {
		t.Errorf("the event delivered again: status %d, want 409", status)
	}

	// Ending from Kustomer ends the chat; the mirror then has nothing of
	// the reply to send back (it came from Kustomer).
	if status, err := fake.SetStatus(conv.ID, "done"); err != nil || status != 200 {
		t.Fatalf("the done webhook: status %d, %v", status, err)
	}
	readUntil(t, ws, "chat.ended", func(typ, contentType, _, _ string) bool {
		return typ == "EVENT" && strings.HasSuffix(contentType, "chat.ended")
	})
	waitFor(t, "the end in Kustomer", func() bool {
		cv := fake.ConversationsByExternalID(contactID)[0]
		for _, n := range cv.Notes {
			if strings.Contains(n.Body, "The chat ended") {
				return true
			}
		}
		return false
	})
	cv := fake.ConversationsByExternalID(contactID)[0]
	echoes := 0
	for _, m := range cv.Messages {
		echoes += strings.Count(m.Body(), reply)
	}
	// By now a duplicate of the first chat's lines would have landed.
	if got := timelineOf(contact); strings.Join(got, "|") != strings.Join(want, "|") {
		t.Errorf("conversation timeline later\n%q\nwant\n%q", got, want)
	}
	if echoes != 1 || cv.Status != "done" {
		t.Errorf("the reply is in the conversation %d times (want once, no echo); status %s", echoes, cv.Status)
	}
}
