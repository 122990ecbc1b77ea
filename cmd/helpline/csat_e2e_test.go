package main

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/connect"
	"github.com/aws/aws-sdk-go-v2/service/connect/types"
	"github.com/gorilla/websocket"

	"github.com/helplinehq/helpline"
	"github.com/helplinehq/helpline/connector/webhook/webhooktest"
)

// startRatingCustomer starts a chat in the shop's flow as a customer
// whose client shows interactive messages, as ChatJS's widget does, and
// subscribes its socket; it returns the contact id, the connection token
// and the socket.
func startRatingCustomer(t *testing.T, s *testServer, flow string) (string, string, *websocket.Conn) {
	t.Helper()
	started, err := s.connectWith(shopKeyID, shopSecret).StartChatContact(context.Background(), &connect.StartChatContactInput{
		InstanceId:         aws.String("shop"),
		ContactFlowId:      aws.String(flow),
		ParticipantDetails: &types.ParticipantDetails{DisplayName: aws.String("Ada")},
		SupportedMessagingContentTypes: []string{helpline.ContentPlain, helpline.ContentInteractive,
			helpline.ContentInteractiveResponse},
	})
	if err != nil {
		t.Fatal(err)
	}
	var conn struct {
		Websocket             struct{ Url string }
		ConnectionCredentials struct{ ConnectionToken string }
	}
	if code := participantCall(t, s.url(), "/participant/connection", *started.ParticipantToken,
		map[string]any{"Type": []string{"WEBSOCKET", "CONNECTION_CREDENTIALS"}}, &conn); code != 200 {
		t.Fatalf("CreateParticipantConnection: %d", code)
	}
	ws, _, err := websocket.DefaultDialer.Dial(conn.Websocket.Url, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ws.Close() })
	if err := ws.WriteMessage(websocket.TextMessage, []byte(`{"topic":"aws/subscribe","content":{"topics":["aws/chat"]}}`)); err != nil {
		t.Fatal(err)
	}
	return *started.ContactId, conn.ConnectionCredentials.ConnectionToken, ws
}

// takeChat has the agent accept the offer of the contact.
func takeChat(t *testing.T, agent *agentClient, contactID string) {
	t.Helper()
	var offerID string
	waitFor(t, "an offer of the chat", func() bool {
		offers, _ := agent.must(200, "GET", "/api/agent/offers", "")["offers"].([]any)
		for _, o := range offers {
			if o := o.(map[string]any); o["contact_id"] == contactID {
				offerID = o["id"].(string)
			}
		}
		return offerID != ""
	})
	if got := agent.must(200, "POST", "/api/agent/offers/"+offerID+"/accept", ""); got["owner"] != "agent:ada" {
		t.Fatalf("accept: %v", got)
	}
}

// An agent closes a chat of a flow with a CSAT question, through the
// real server: the customer's socket sees the agent leave and the
// question as a QuickReply of 1 to 5; an answer of 7 is asked again; the
// tap on 4 (an interactive response) is kept as the contact's attribute
// csat and a csat EVENT, mirrored to the webhook (the Zendesk rendering
// is the connector's TestMirrorCSATInInternalNote); the customer is thanked and the chat ends as the
// agent's close. A chat of a flow with a short wait ends unrated.
func TestServeCSATEndToEnd(t *testing.T) {
	recv := webhooktest.NewReceiver("hook-secret")
	defer recv.Close()
	t.Setenv("HOOK_SECRET", "hook-secret")
	t.Setenv("ADA_PASSWORD", "ada's long passphrase")
	t.Setenv("HELPLINE_API_TOKEN", "")
	dir := t.TempDir()
	data := filepath.Join(dir, "data")
	path := botConfig(t, dir, `
      - id: desk
        queue: support
        csat: { question: "How did we do?", thanks: "Thanks for rating us!", wait: 1m }
      - id: desk-quick
        queue: support
        csat: { wait: 1s }`, fmt.Sprintf(`
mirror:
  poll_interval: 20ms
connectors:
  - { name: hooks, kind: webhook, urls: [%s], secret_env: HOOK_SECRET, timeout: 1s }
routing:
  presence_grace: 1h
queues:
  - { id: support, instance: shop, accept_within: 1m }
agents:
  - { id: ada, instance: shop, name: Ada Lovelace, email: ada@example.com, queues: [support], password_env: ADA_PASSWORD }
`, recv.URL))
	s := startServe(t, "--config", path, "--data", data, "--disable-rate-limits")
	db := openStore(t, data)
	agent := agentLoginIn(t, strings.TrimSuffix(s.url(), "/"), "shop", "ada@example.com", "ada's long passphrase")
	agent.must(200, "PUT", "/api/agent/presence", `{"status":"online"}`)

	t.Run("answered", func(t *testing.T) {
		contactID, token, ws := startRatingCustomer(t, s, "desk")
		takeChat(t, agent, contactID)
		agent.must(200, "POST", "/api/agent/chats/"+contactID+"/messages", `{"content":"Glad I could help.","client_token":"m1"}`)
		agent.must(204, "POST", "/api/agent/chats/"+contactID+"/close", "")
		awaitItem(t, ws, "the agent leaving", func(typ, contentType, _, role, _ string) bool {
			return contentType == helpline.EventParticipantLeft && role == helpline.RoleAgent
		})
		awaitItem(t, ws, "the question", func(typ, contentType, content, role, _ string) bool {
			return typ == "MESSAGE" && contentType == helpline.ContentInteractive && role == helpline.RoleBot &&
				strings.Contains(content, `"templateType":"QuickReply"`) && strings.Contains(content, `"title":"How did we do?"`) &&
				strings.Contains(content, `{"title":"1"},{"title":"2"},{"title":"3"},{"title":"4"},{"title":"5"}`)
		})
		if c, _ := db.FindContactByID(context.Background(), contactID); c.Owner != helpline.OwnerCSAT || c.Ended() {
			t.Fatalf("while asked the chat is owned by %q, ended %v; want bot:csat, active", c.Owner, c.Ended())
		}
		// The agent has left: its words no longer reach the chat.
		if resp, _ := agent.call("POST", "/api/agent/chats/"+contactID+"/messages", `{"content":"one more thing","client_token":"m2"}`); resp.StatusCode < 400 {
			t.Errorf("the agent's message after the close: %d, want a refusal", resp.StatusCode)
		}
		chatSide{token}.say(t, s, "7")
		awaitBot(t, ws, "Sorry, please choose a number from 1 to 5.")
		if code := participantCall(t, s.url(), "/participant/message", token, map[string]string{
			"ContentType": helpline.ContentInteractiveResponse,
			"Content":     `{"templateType":"QuickReply","data":{"content":{"title":"4"}}}`}, nil); code != 200 {
			t.Fatalf("SendMessage of the quick reply: %d", code)
		}
		awaitBot(t, ws, "Thanks for rating us!")
		awaitItem(t, ws, "the chat ended", func(_, contentType, _, _, _ string) bool { return contentType == helpline.EventChatEnded })

		c, err := db.FindContactByID(context.Background(), contactID)
		if err != nil || c.EndReason != helpline.EndAgentDisconnect || c.Attributes[helpline.CSATAttribute] != "4" {
			t.Fatalf("contact %v: ended with %q, csat %q; want AGENT_DISCONNECT and 4", err, c.EndReason, c.Attributes[helpline.CSATAttribute])
		}
		var rated int
		for _, it := range contactItems(t, db, contactID) {
			if it.ContentType == helpline.EventCSAT && it.Content == `{"rating":4,"owner":"agent:ada"}` {
				rated++
			}
		}
		if rated != 1 {
			t.Errorf("%d csat items with rating 4 by agent:ada, want one", rated)
		}
		for _, it := range contactItems(t, db, contactID) {
			if it.Content == "one more thing" {
				t.Error("the agent's message after the close was stored")
			}
		}
		waitFor(t, "the rating at the webhook", func() bool {
			for _, d := range recv.Unique() {
				if d.ContactID == contactID && d.Type == helpline.ItemEvent && strings.Contains(string(d.Body), `"rating\":4`) {
					return true
				}
			}
			return false
		})
	})

	t.Run("no answer", func(t *testing.T) {
		contactID, _, ws := startRatingCustomer(t, s, "desk-quick")
		takeChat(t, agent, contactID)
		agent.must(204, "POST", "/api/agent/chats/"+contactID+"/close", "")
		awaitItem(t, ws, "the question", func(typ, contentType, content, role, _ string) bool {
			return contentType == helpline.ContentInteractive && strings.Contains(content, helpline.DefaultCSATQuestion)
		})
		awaitItem(t, ws, "the chat ended", func(_, contentType, _, _, _ string) bool { return contentType == helpline.EventChatEnded })
		c, _ := db.FindContactByID(context.Background(), contactID)
		if c.EndReason != helpline.EndAgentDisconnect || c.Attributes[helpline.CSATAttribute] != "" {
			t.Errorf("ended with %q, csat %q; want AGENT_DISCONNECT and no rating", c.EndReason, c.Attributes[helpline.CSATAttribute])
		}
	})
}

// The process is killed (SIGKILL) while a closed chat waits for its
// rating, and restarted on the same data directory: the chat still ends
// at its deadline, as the agent's close, with no rating.
func TestServeCSATWaitSurvivesSIGKILL(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary and kills it")
	}
	dir := t.TempDir()
	bin := buildHelpline(t, dir)
	data := filepath.Join(dir, "data")
	path := botConfig(t, dir, `
      - id: desk
        queue: support
        csat: { wait: 3s }`, `
routing:
  presence_grace: 1h
queues:
  - { id: support, instance: shop, accept_within: 1m }
agents:
  - { id: ada, instance: shop, name: Ada Lovelace, email: ada@example.com, queues: [support], password_env: ADA_PASSWORD }
`)
	env := []string{"SHOP_SECRET=" + shopSecret, "HELPLINE_API_TOKEN=", "ADA_PASSWORD=ada's long passphrase"}
	args := []string{"--config", path, "--data", data, "--disable-rate-limits"}
	proc, s, _ := crashServe(t, bin, env, args...)
	contactID, token, _ := startRatingCustomer(t, s, "desk")
	agent := agentLoginIn(t, strings.TrimSuffix(s.url(), "/"), "shop", "ada@example.com", "ada's long passphrase")
	agent.must(200, "PUT", "/api/agent/presence", `{"status":"online"}`)
	takeChat(t, agent, contactID)
	agent.must(204, "POST", "/api/agent/chats/"+contactID+"/close", "")
	waitFor(t, "the question", func() bool { return len(botAnswers(t, s, token)) == 1 })
	if err := proc.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	proc.Wait()

	_, _, logs := crashServe(t, bin, env, args...)
	db := openStore(t, data)
	waitFor(t, "the chat's end after the restart", func() bool {
		c, err := db.FindContactByID(context.Background(), contactID)
		return err == nil && c.Ended()
	})
	c, _ := db.FindContactByID(context.Background(), contactID)
	if c.EndReason != helpline.EndAgentDisconnect || c.Attributes[helpline.CSATAttribute] != "" {
		t.Errorf("ended with %q, csat %q; want AGENT_DISCONNECT and no rating\nlogs:\n%s", c.EndReason, c.Attributes[helpline.CSATAttribute], logs)
	}
	questions := 0
	for _, it := range contactItems(t, db, contactID) {
		if it.ContentType == helpline.ContentInteractive {
			questions++
		}
	}
	if questions != 1 {
		t.Errorf("%d questions, want one (asked before the kill, not again)", questions)
	}
}
