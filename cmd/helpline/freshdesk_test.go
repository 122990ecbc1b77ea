package main

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/helplinehq/helpline/connector/freshdesk/freshdesktest"
)

// freshdeskServe starts serve mirroring into a Freshdesk fake at fakeURL,
// with its webhook secret and resolve-ends-chat on.
func freshdeskServe(t *testing.T, fakeURL string) *testServer {
	t.Helper()
	t.Setenv("FRESHDESK_API_KEY", "fd-key")
	t.Setenv("FRESHDESK_WEBHOOK_SECRET", "fd-secret")
	cfg := fmt.Sprintf(`
mirror:
  poll_interval: 20ms
connectors:
  - name: freshdesk
    kind: freshdesk
    base_url: %s
    api_key_env: FRESHDESK_API_KEY
    webhook_secret_env: FRESHDESK_WEBHOOK_SECRET
    end_chat_on_resolve: true
`, fakeURL)
	path := filepath.Join(t.TempDir(), "helpline.yaml")
	if err := os.WriteFile(path, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	return startServe(t, "--config", path, "--data", t.TempDir(), "--disable-rate-limits")
}

// nextChatItem reads the socket until an aws/chat item comes and returns
// its type, content type, content, role and display name.
func nextChatItem(t *testing.T, ws *websocket.Conn) (item struct{ Type, ContentType, Content, ParticipantRole, DisplayName string }) {
	t.Helper()
	ws.SetReadDeadline(time.Now().Add(10 * time.Second))
	for {
		_, data, err := ws.ReadMessage()
		if err != nil {
			t.Fatalf("reading the customer's socket: %v", err)
		}
		var frame struct{ Topic, Content string }
		if json.Unmarshal(data, &frame) != nil || frame.Topic != "aws/chat" || json.Unmarshal([]byte(frame.Content), &item) != nil {
			continue
		}
		return item
	}
}

// A chat's customer and agent lines land in the ticket in order, once; an
// agent's reply typed in Freshdesk reaches the customer's socket once and
// is not mirrored back; bad webhooks are refused and change nothing;
// resolving the ticket ends the chat.
func TestServeFreshdesk(t *testing.T) {
	fake := freshdesktest.NewServer(freshdesktest.Options{WebhookSecret: "fd-secret"})
	defer fake.Close()
	s := freshdeskServe(t, fake.URL)
	hook := s.url() + "/connectors/freshdesk/webhook"
	fake.SetWebhookURL(hook)

	contactID, token, ws := startCustomer(t, s)
	customer := chatSide{token}
	var want []string
	for i := range 6 {
		line := fmt.Sprintf("customer line %d", i)
		customer.say(t, s, line)
		want = append(want, line)
	}
	var ticket freshdesktest.Ticket
	inTicket := func(text string) bool {
		tickets := fake.TicketsOf(contactID)
		if len(tickets) == 1 && strings.Contains(tickets[0].Transcript(), text) {
			ticket = tickets[0]
			return true
		}
		return false
	}
	waitFor(t, "the customer's lines in the ticket", func() bool { return inTicket(want[len(want)-1]) })

	agent := fake.AddAgent("Grace Hopper", "grace@example.com")
	const reply = "It left our warehouse this morning."
	if _, status, err := fake.AgentReply(ticket.ID, agent.ID, reply); err != nil || status != 200 {
		t.Fatalf("the rule's webhook: status %d, %v", status, err)
	}
	for {
		item := nextChatItem(t, ws)
		if item.Type == "MESSAGE" && item.Content == reply {
			if item.ParticipantRole != "AGENT" || item.DisplayName != "Grace Hopper" {
				t.Errorf("the reply came as %s %q, want AGENT %q", item.ParticipantRole, item.DisplayName, "Grace Hopper")
			}
			break
		}
	}

	// Bad deliveries: each refused, none changes anything.
	body := freshdesktest.WebhookBody(ticket.ID)
	for _, tc := range []struct {
		name, secret string
		body         []byte
		status       int
	}{
		{"no secret", "", body, 401},
		{"wrong secret", "fd-secreT", body, 401},
		{"replayed (nothing new: acknowledged, changes nothing)", "fd-secret", body, 200},
		{"not JSON", "fd-secret", []byte(`ticket_id=1`), 400},
		{"no ticket id", "fd-secret", []byte(`{"id": "1"}`), 400},
		{"placeholder not rendered", "fd-secret", []byte(`{"ticket_id": "{{ticket.id}}"}`), 400},
	} {
		if status, err := freshdesktest.PostWebhook(hook, tc.secret, tc.body); err != nil || status != tc.status {
			t.Errorf("%s: status %d, %v; want %d", tc.name, status, err, tc.status)
		}
	}

	customer.say(t, s, "Thanks!")
	want = append(want, reply, "Thanks!")
	waitFor(t, "the last line in the ticket", func() bool { return inTicket("Thanks!") })
	text := ticket.Transcript()
	at := -1
	for _, line := range want {
		if n := strings.Count(text, line); n != 1 {
			t.Errorf("%q is in the ticket %d times, want once:\n%s", line, n, text)
		}
		i := strings.Index(text, line)
		if i < at {
			t.Errorf("%q is out of order in\n%s", line, text)
		}
		at = i
	}

	// Resolving the ticket ends the chat for the customer, once.
	if status, err := fake.Resolve(ticket.ID); err != nil || status != 200 {
		t.Fatalf("the resolve webhook: status %d, %v", status, err)
	}
	for {
		item := nextChatItem(t, ws)
		if item.ContentType == "application/vnd.amazonaws.connect.event.chat.ended" {
			break
		}
	}
	if status, _ := freshdesktest.PostWebhook(hook, "fd-secret", body); status != 200 {
		t.Errorf("a replay after the end: status %d, want 200 (nothing new)", status)
	}
	waitFor(t, "the ticket resolved with the chat's end in it", func() bool {
		return inTicket("The chat ended") && ticket.Status == 4
	})
}
