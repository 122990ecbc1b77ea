package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	"github.com/helplinehq/helpline"
	"github.com/helplinehq/helpline/bot/orderstest"
	"github.com/helplinehq/helpline/bot/rasatest"
	"github.com/helplinehq/helpline/bot/watsontest"
	"github.com/helplinehq/helpline/connector/zendesk/zendesktest"
	"github.com/helplinehq/helpline/sqlite"
)

// The bot tests' instance: shop, signed with its own access key.
const (
	shopKeyID  = "AKIDSHOPBOT000000001"
	shopSecret = "shop-secret-shop-secret-shop-secret-01"
)

// botConfig writes a configuration with the instance shop, whose flows
// (YAML list entries, indented for flows:) are given, and extra settings
// at the top level; it returns its path.
func botConfig(t *testing.T, dir, flows, extra string) string {
	t.Helper()
	t.Setenv("SHOP_SECRET", shopSecret)
	cfg := fmt.Sprintf(`
instances:
  - id: shop
    name: Shop
    flows:
%s
    access_keys:
      - { id: %s, secret_env: SHOP_SECRET }
%s`, flows, shopKeyID, extra)
	path := filepath.Join(dir, "helpline.yaml")
	if err := os.WriteFile(path, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// shopEntry is the shop instance's flow.
func shopEntry(flow string) chatEntry { return chatEntry{"shop", flow, shopKeyID, shopSecret} }

// openStore opens the data directory's database beside the server, to
// read what it holds.
func openStore(t *testing.T, data string) *sqlite.DB {
	t.Helper()
	db, err := sqlite.Open(filepath.Join(data, "helpline.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

// contactItems returns the contact's stored items.
func contactItems(t *testing.T, db *sqlite.DB, contactID string) []*helpline.Item {
	t.Helper()
	items, err := db.FindItems(context.Background(), contactID, helpline.ItemQuery{})
	if err != nil {
		t.Fatal(err)
	}
	return items
}

// handoffOf waits for the contact's handoff item and returns it, its
// context and every item stored by then.
func handoffOf(t *testing.T, db *sqlite.DB, contactID string) (*helpline.Item, helpline.HandoffContext, []*helpline.Item) {
	t.Helper()
	var h *helpline.Item
	var items []*helpline.Item
	waitFor(t, "the handoff item", func() bool {
		items = contactItems(t, db, contactID)
		for _, it := range items {
			if it.ContentType == helpline.EventHandoff {
				h = it
			}
		}
		return h != nil
	})
	var hc helpline.HandoffContext
	if err := json.Unmarshal([]byte(h.Content), &hc); err != nil {
		t.Fatal(err)
	}
	return h, hc, items
}

// checkHandoff checks the contact's handoff: owned by queue:<queue>, one
// owner change to it, the handoff item right after, with the reason, no
// bot line after it and the bot leaving once; it returns the handoff
// context.
func checkHandoff(t *testing.T, db *sqlite.DB, contactID, queue, reason string) helpline.HandoffContext {
	t.Helper()
	h, hc, _ := handoffOf(t, db, contactID)
	// A bot that spoke after the handoff would do so at once; give it the
	// time to.
	time.Sleep(300 * time.Millisecond)
	items := contactItems(t, db, contactID)
	c, err := db.FindContactByID(context.Background(), contactID)
	if err != nil {
		t.Fatal(err)
	}
	if c.Owner != "queue:"+queue {
		t.Errorf("owner %q after the handoff, want queue:%s", c.Owner, queue)
	}
	var toQueue []*helpline.Item
	left := 0
	for _, it := range items {
		if it.ContentType == helpline.EventOwnerChanged && strings.Contains(it.Content, `"queue:`+queue+`"`) {
			toQueue = append(toQueue, it)
		}
		if it.Seq > h.Seq && it.Role == helpline.RoleBot && it.ContentType != helpline.EventParticipantLeft {
			t.Errorf("the bot said %q (Seq %d) after the handoff (Seq %d)", it.Content, it.Seq, h.Seq)
		}
		if it.Seq > h.Seq && it.Role == helpline.RoleBot && it.ContentType == helpline.EventParticipantLeft {
			left++
		}
	}
	if left != 1 {
		t.Errorf("the bot left %d times after the handoff, want once", left)
	}
	// Routing may tell the customer their place in the queue between the
	// two.
	if len(toQueue) != 1 || toQueue[0].Seq > h.Seq {
		t.Errorf("%d owner changes to queue:%s, want one before the handoff item", len(toQueue), queue)
	}
	if hc.Queue != queue || hc.Reason != reason || hc.Summary == "" {
		t.Errorf("handoff context %+v, want queue %s, reason %s and a summary", hc, queue, reason)
	}
	if got := c.Attributes[helpline.BotSummaryAttribute]; got != hc.Summary {
		t.Errorf("attribute bot_summary %q, want the handoff's summary %q", got, hc.Summary)
	}
	return hc
}

// awaitBot reads the customer's socket until a bot line containing want.
func awaitBot(t *testing.T, ws *websocket.Conn, want string) {
	t.Helper()
	awaitItem(t, ws, "the bot's "+want, func(typ, _, content, role, _ string) bool {
		return typ == "MESSAGE" && role == helpline.RoleBot && strings.Contains(content, want)
	})
}

// sendFile sends a file as the customer, through the attachment upload.
func sendFile(t *testing.T, s *testServer, token, name, contentType string, data []byte) {
	t.Helper()
	var up struct {
		AttachmentId   string
		UploadMetadata struct {
			Url              string
			HeadersToInclude map[string]string
		}
	}
	if code := participantCall(t, s.url(), "/participant/start-attachment-upload", token, map[string]any{
		"ContentType": contentType, "AttachmentSizeInBytes": len(data), "AttachmentName": name, "ClientToken": "up-" + name,
	}, &up); code != 200 {
		t.Fatalf("StartAttachmentUpload: %d", code)
	}
	req, _ := http.NewRequest(http.MethodPut, up.UploadMetadata.Url, bytes.NewReader(data))
	for k, v := range up.UploadMetadata.HeadersToInclude {
		req.Header.Set(k, v)
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil || res.StatusCode != 200 {
		t.Fatalf("upload: %v %v", res, err)
	}
	res.Body.Close()
	if code := participantCall(t, s.url(), "/participant/complete-attachment-upload", token,
		map[string]any{"AttachmentIds": []string{up.AttachmentId}, "ClientToken": "done-" + name}, nil); code != 200 {
		t.Fatalf("CompleteAttachmentUpload: %d", code)
	}
}

// The built-in bot, end to end, as README's "A flow with the bot" tells
// it: a Connect customer of the shop instance asks for an order and gets
// its status and tracking link from the orders endpoint; another reports
// a broken blender, is asked for a photo, sends one and is handed to the
// support queue — the Zendesk ticket's internal note holds the summary,
// and an online agent of the queue is offered the chat and reads the
// summary in its context. A third customer asks for a person and writes
// on at once: the bot says nothing after its handoff.
func TestServeBotEndToEnd(t *testing.T) {
	orders := orderstest.NewServer("orders-token")
	defer orders.Close()
	orders.Add(orderstest.Order{Number: "10023", Email: "ada@example.com", Status: "shipped", Carrier: "UPS",
		TrackingURL: "https://track.example.com/1Z10023", Items: []orderstest.Item{{Name: "Blender", Quantity: 1}}})
	desk := zendesktest.NewServer(zendesktest.Options{})
	defer desk.Close()
	t.Setenv("ORDERS_TOKEN", "orders-token")
	t.Setenv("ZENDESK_TOKEN", "zd-token")
	t.Setenv("ADA_PASSWORD", "ada's long passphrase")
	t.Setenv("HELPLINE_API_TOKEN", "")
	dir := t.TempDir()
	data := filepath.Join(dir, "data")
	path := botConfig(t, dir, fmt.Sprintf(`
      - id: shop-bot
        greeting: Hi! Ask me about an order, returns or shipping.
        queue: support
        bot:
          kind: ecommerce
          orders: { url: %s, token_env: ORDERS_TOKEN, timeout: 5s }`, orders.URL), fmt.Sprintf(`
mirror:
  poll_interval: 20ms
connectors:
  - { name: zendesk, kind: zendesk, base_url: %s, email: bot@example.com, token_env: ZENDESK_TOKEN }
routing:
  presence_grace: 1h
queues:
  - { id: support, instance: shop, accept_within: 1m }
agents:
  - { id: ada, instance: shop, name: Ada Lovelace, email: ada@example.com, queues: [support], password_env: ADA_PASSWORD }
`, desk.URL))
	s := startServe(t, "--config", path, "--data", data, "--disable-rate-limits")
	db := openStore(t, data)

	t.Run("order status", func(t *testing.T) {
		contactID, token, ws := startCustomerAt(t, s, shopEntry("shop-bot"))
		c, err := db.FindContactByID(context.Background(), contactID)
		if err != nil || c.Owner != "bot:shop-bot" {
			t.Fatalf("new chat %v owned by %q, want bot:shop-bot", err, c.Owner)
		}
		customer := chatSide{token}
		customer.say(t, s, "where is my order 10023?")
		awaitBot(t, ws, "What email address did you place order 10023 with?")
		customer.say(t, s, "ada@example.com")
		awaitBot(t, ws, "Order 10023 is shipped, shipped with UPS. Track it here: https://track.example.com/1Z10023")
		if got := orders.Lookups(); strings.Join(got, "|") != "10023 ada@example.com" {
			t.Errorf("order lookups %q, want one for 10023 with the customer's email", got)
		}
	})

	t.Run("handoff to an agent", func(t *testing.T) {
		contactID, token, ws := startCustomerAt(t, s, shopEntry("shop-bot"))
		customer := chatSide{token}
		customer.say(t, s, "my blender arrived broken, I want my money back")
		awaitBot(t, ws, "Please send a photo of the damage")
		sendFile(t, s, token, "blender.jpg", "image/jpeg", append([]byte("\xff\xd8\xff\xe0"), bytes.Repeat([]byte("px"), 512)...))
		awaitBot(t, ws, "I'm passing you to a person now")
		hc := checkHandoff(t, db, contactID, "support", "damaged_item")
		if !strings.Contains(hc.Summary, "my blender arrived broken") || strings.Join(hc.Intents, ",") != "return_refund" {
			t.Errorf("handoff context %+v, want the customer's words and the intent return_refund", hc)
		}

		// The helpdesk: the ticket's internal note holds the summary. The
		// exchange so far may have spent the ticket's burst of five updates
		// (Zendesk allows 30 in 10 minutes), so the note may wait for the
		// next one, 24 s later.
		firstLine, _, _ := strings.Cut(hc.Summary, "\n")
		for deadline := time.Now().Add(40 * time.Second); ; time.Sleep(20 * time.Millisecond) {
			tk, _ := desk.TicketByExternalID(contactID)
			noted := false
			for _, cm := range tk.Comments {
				noted = noted || !cm.Public && strings.Contains(cm.Body, firstLine)
			}
			if noted {
				break
			} else if time.Now().After(deadline) {
				var bodies []string
				for _, cm := range tk.Comments {
					bodies = append(bodies, fmt.Sprintf("public=%v %s", cm.Public, cm.Body))
				}
				t.Fatalf("no internal note with %q in the ticket after 40 s:\n%s", firstLine, strings.Join(bodies, "\n---\n"))
			}
		}

		// An agent of the queue comes online, is offered the chat, accepts
		// it and reads the handoff in its context.
		agent := agentLoginIn(t, strings.TrimSuffix(s.url(), "/"), "shop", "ada@example.com", "ada's long passphrase")
		agent.must(200, "PUT", "/api/agent/presence", `{"status":"online"}`)
		var offerID string
		var preview map[string]any
		waitFor(t, "an offer of the chat", func() bool {
			offers, _ := agent.must(200, "GET", "/api/agent/offers", "")["offers"].([]any)
			for _, o := range offers {
				if o := o.(map[string]any); o["contact_id"] == contactID && o["queue_id"] == "support" {
					offerID = o["id"].(string)
					preview, _ = o["preview"].(map[string]any)
				}
			}
			return offerID != ""
		})
		// The offer says, before it is accepted, why the bot handed over.
		if preview["reason"] != "damaged_item" || preview["summary"] != hc.Summary ||
			!strings.Contains(fmt.Sprint(preview["last_question"]), "blender arrived broken") {
			t.Errorf("the offer's preview = %v, want the handoff's reason and summary and the customer's question", preview)
		}
		if got := agent.must(200, "POST", "/api/agent/offers/"+offerID+"/accept", ""); got["owner"] != "agent:ada" {
			t.Fatalf("accept: %v", got)
		}
		detail := agent.must(200, "GET", "/api/agent/chats/"+contactID, "")
		if detail["bot_summary"] != hc.Summary {
			t.Errorf("the chat's context has bot_summary %q, want the handoff's %q", detail["bot_summary"], hc.Summary)
		}
		tr := jsonOf(agent.must(200, "GET", "/api/agent/chats/"+contactID+"/transcript?limit=100", ""))
		if !strings.Contains(tr, helpline.EventHandoff) {
			t.Errorf("the agent's transcript lacks the handoff item: %s", tr)
		}
		receiptsAfterHandoff(t, s, db, agent, contactID, customer)
	})

	t.Run("silent after the handoff", func(t *testing.T) {
		contactID, token, _ := startCustomerAt(t, s, shopEntry("shop-bot"))
		customer := chatSide{token}
		// The first hands off; the others are stored while its turn runs.
		customer.say(t, s, "i want to talk to a human")
		for _, line := range []string{"hello?", "where is my order 10023?", "what are the shipping costs?"} {
			customer.say(t, s, line)
		}
		checkHandoff(t, db, contactID, "support", "customer_request")
	})
}

// Bots run elsewhere drive the same story through the real server: a
// Rasa bot answers, then hands off with custom.handoff to the queue it
// names; a Watson assistant hands off with connect_to_agent and its
// session_history_key is kept as the contact attribute; a bot that is
// down gets the customer an apology and a person.
func TestServeRemoteBotsEndToEnd(t *testing.T) {
	rasa := rasatest.NewServer()
	defer rasa.Close()
	rasa.On("hi", rasatest.Message{Text: "Hello from Rasa."})
	rasa.On("my invoice is wrong", rasatest.Message{Text: "Let me find you a person."},
		rasatest.Message{Custom: map[string]any{"handoff": map[string]any{
			"queue": "billing", "reason": "invoice_dispute", "summary": "The customer disputes invoice 42."}}})
	down := rasatest.NewServer()
	defer down.Close()
	down.SetDown(http.StatusInternalServerError)
	watson := watsontest.NewServer("watson-key", "assistant-1", time.Now)
	defer watson.Close()
	watson.On("hello", watsontest.Text("Hi, this is Watson."))
	watson.On("a person please", watsontest.ConnectToAgent("Wants a person.", "Connecting you to an agent.",
		[]string{"Asked for a person."}, "history-key-1"))
	t.Setenv("WATSON_APIKEY", "watson-key")
	dir := t.TempDir()
	data := filepath.Join(dir, "data")
	path := botConfig(t, dir, fmt.Sprintf(`
      - id: shop-rasa
        queue: support
        bot: { kind: rasa, url: %s, timeout: 2s }
      - id: shop-watson
        queue: support
        bot: { kind: watson, url: %s, assistant_id: assistant-1, api_key_env: WATSON_APIKEY, token_url: %s }
      - id: shop-down
        queue: support
        bot: { kind: rasa, url: %s, timeout: 2s }`, rasa.WebhookURL(), watson.URL, watson.TokenURL(), down.WebhookURL()), `
queues:
  - { id: support, instance: shop }
  - { id: billing, instance: shop }
`)
	s := startServe(t, "--config", path, "--data", data, "--disable-rate-limits")
	db := openStore(t, data)

	t.Run("rasa", func(t *testing.T) {
		contactID, token, ws := startCustomerAt(t, s, shopEntry("shop-rasa"))
		customer := chatSide{token}
		customer.say(t, s, "hi")
		awaitBot(t, ws, "Hello from Rasa.")
		customer.say(t, s, "my invoice is wrong")
		awaitBot(t, ws, "Let me find you a person.")
		hc := checkHandoff(t, db, contactID, "billing", "invoice_dispute")
		if !strings.Contains(hc.Summary, "The customer disputes invoice 42.") {
			t.Errorf("summary %q, want Rasa's", hc.Summary)
		}
		if got := rasa.Received(); len(got) != 2 || got[0].Sender != contactID {
			t.Errorf("Rasa received %+v, want the two messages from the contact", got)
		}
	})

	t.Run("watson", func(t *testing.T) {
		contactID, token, ws := startCustomerAt(t, s, shopEntry("shop-watson"))
		customer := chatSide{token}
		customer.say(t, s, "hello")
		awaitBot(t, ws, "Hi, this is Watson.")
		customer.say(t, s, "a person please")
		awaitBot(t, ws, "Connecting you to an agent.")
		hc := checkHandoff(t, db, contactID, "support", "bot_handoff")
		if !strings.Contains(hc.Summary, "Wants a person.") || !strings.Contains(hc.Summary, "Asked for a person.") {
			t.Errorf("summary %q, want the message to the agent and the transfer's summary", hc.Summary)
		}
		c, _ := db.FindContactByID(context.Background(), contactID)
		if got := c.Attributes["session_history_key"]; got != "history-key-1" {
			t.Errorf("attribute session_history_key %q, want history-key-1", got)
		}
	})

	t.Run("down", func(t *testing.T) {
		contactID, token, ws := startCustomerAt(t, s, shopEntry("shop-down"))
		chatSide{token}.say(t, s, "hi")
		awaitBot(t, ws, "Sorry, our assistant cannot answer right now.")
		checkHandoff(t, db, contactID, "support", "bot_unavailable")
	})
}

// The process is killed (SIGKILL) while the bot's turns are pending — a
// Rasa bot that hangs on the first of three customer messages — and
// restarted on the same data directory: every customer message gets
// exactly one bot answer, in order.
func TestServeBotTurnsSurviveSIGKILL(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary and kills it")
	}
	dir := t.TempDir()
	bin := buildHelpline(t, dir)
	rasa := rasatest.NewServer()
	defer rasa.Close()
	lines := []string{"first", "second", "third"}
	for _, l := range lines {
		rasa.On(l, rasatest.Message{Text: "answer to " + l})
	}
	rasa.SetHang(true)
	path := botConfig(t, dir, fmt.Sprintf(`
      - id: shop-rasa
        queue: support
        bot: { kind: rasa, url: %s, timeout: 20s }`, rasa.WebhookURL()), "")
	env := []string{"SHOP_SECRET=" + shopSecret, "HELPLINE_API_TOKEN="}
	args := []string{"--config", path, "--data", filepath.Join(dir, "data"), "--disable-rate-limits"}
	proc, s, _ := crashServe(t, bin, env, args...)

	_, token, _ := connectCustomerAt(t, s, shopEntry("shop-rasa"))
	customer := chatSide{token}
	for _, l := range lines {
		customer.say(t, s, l)
	}
	waitFor(t, "the bot's first turn under way", func() bool { return rasa.Tries() > 0 })
	if n := len(botAnswers(t, s, token)); n != 0 {
		t.Fatalf("%d bot answers before the kill, want none", n)
	}
	if err := proc.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	proc.Wait()

	rasa.SetHang(false)
	_, s, logs := crashServe(t, bin, env, args...)
	want := "answer to first|answer to second|answer to third"
	waitFor(t, "the three answers after the restart", func() bool { return len(botAnswers(t, s, token)) >= len(lines) })
	time.Sleep(300 * time.Millisecond) // a repeated answer would come at once
	if got := strings.Join(botAnswers(t, s, token), "|"); got != want {
		t.Errorf("bot answers %q, want %q\nlogs:\n%s", got, want, logs)
	}
}

// botAnswers returns the bot's lines in the customer's transcript, in
// order.
func botAnswers(t *testing.T, s *testServer, token string) []string {
	t.Helper()
	var page struct {
		Transcript []struct{ Type, Content, ParticipantRole string }
	}
	if code := participantCall(t, s.url(), "/participant/transcript", token,
		map[string]any{"MaxResults": 100, "ScanDirection": "FORWARD", "SortOrder": "ASCENDING"}, &page); code != 200 {
		t.Fatalf("GetTranscript: %d", code)
	}
	var out []string
	for _, it := range page.Transcript {
		if it.Type == "MESSAGE" && it.ParticipantRole == helpline.RoleBot {
			out = append(out, it.Content)
		}
	}
	return out
}

// receiptsAfterHandoff checks that, the bot having left at its handoff,
// read receipts go both ways between the customer and the agent who
// accepted the chat: Connect refuses them with more than two participants
// present, and the bot is no longer one.
func receiptsAfterHandoff(t *testing.T, s *testServer, db *sqlite.DB, agent *agentClient, contactID string, customer chatSide) {
	t.Helper()
	present := map[string]int{}
	ps, err := db.FindParticipants(context.Background(), contactID)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range ps {
		if !p.Left() {
			present[p.Role]++
		}
	}
	if want := map[string]int{helpline.RoleCustomer: 1, helpline.RoleAgent: 1}; !reflect.DeepEqual(present, want) {
		t.Errorf("participants present after the handoff: %v, want %v (the bot left)", present, want)
	}
	agentMsg := agent.must(200, "POST", "/api/agent/chats/"+contactID+"/messages", `{"content":"Hello, I am Ada. Sorry about the blender.","client_token":"ada-1"}`)
	var sent struct{ Id string }
	if code := participantCall(t, s.url(), "/participant/message", customer.token,
		map[string]string{"ContentType": "text/plain", "Content": "thanks Ada"}, &sent); code != 200 {
		t.Fatalf("customer message: %d", code)
	}
	read := func(id string) map[string]string {
		return map[string]string{"ContentType": helpline.EventMessageRead, "Content": `{"messageId":"` + id + `"}`}
	}
	if code := participantCall(t, s.url(), "/participant/event", customer.token, read(agentMsg["id"].(string)), nil); code != 200 {
		t.Errorf("the customer's read receipt of the agent's message: %d, want 200", code)
	}
	agent.must(200, "POST", "/api/agent/chats/"+contactID+"/read", `{"message_id":"`+sent.Id+`"}`)
	// Each side's receipt is in the transcript the other side reads.
	receipts := func(items []any) map[string]bool {
		got := map[string]bool{}
		for _, raw := range items {
			it := raw.(map[string]any)
			if md, ok := it["MessageMetadata"].(map[string]any); ok {
				got[md["MessageId"].(string)] = true
			} else if md, ok := it["metadata"].(map[string]any); ok {
				got[md["MessageID"].(string)] = true
			}
		}
		return got
	}
	var ct struct{ Transcript []any }
	participantCall(t, s.url(), "/participant/transcript", customer.token, map[string]any{"MaxResults": 100, "SortOrder": "ASCENDING"}, &ct)
	if got := receipts(ct.Transcript); !got[sent.Id] {
		t.Errorf("the customer's transcript lacks the agent's read receipt of %s: %v", sent.Id, got)
	}
	items, _ := agent.must(200, "GET", "/api/agent/chats/"+contactID+"/transcript?limit=100", "")["items"].([]any)
	if got := receipts(items); !got[agentMsg["id"].(string)] {
		t.Errorf("the agent's transcript lacks the customer's read receipt of %s: %v", agentMsg["id"], got)
	}
}
