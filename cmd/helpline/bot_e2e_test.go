package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	"github.com/helplinehq/helpline"
	"github.com/helplinehq/helpline/bot/orderstest"
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
// owner change to it, the handoff item right after, with the reason, and
// no bot line after it; it returns the handoff context.
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
	for _, it := range items {
		if it.ContentType == helpline.EventOwnerChanged && strings.Contains(it.Content, `"queue:`+queue+`"`) {
			toQueue = append(toQueue, it)
		}
		if it.Seq > h.Seq && it.Role == helpline.RoleBot {
			t.Errorf("the bot said %q (Seq %d) after the handoff (Seq %d)", it.Content, it.Seq, h.Seq)
		}
	}
	if len(toQueue) != 1 || toQueue[0].Seq != h.Seq-1 {
		t.Errorf("%d owner changes to queue:%s, want one right before the handoff item", len(toQueue), queue)
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

		// The helpdesk: the ticket's internal note holds the summary.
		firstLine, _, _ := strings.Cut(hc.Summary, "\n")
		waitFor(t, "the handoff note in the ticket", func() bool {
			tk, _ := desk.TicketByExternalID(contactID)
			for _, cm := range tk.Comments {
				if !cm.Public && strings.Contains(cm.Body, firstLine) {
					return true
				}
			}
			return false
		})

		// An agent of the queue comes online, is offered the chat, accepts
		// it and reads the handoff in its context.
		agent := agentLoginIn(t, strings.TrimSuffix(s.url(), "/"), "shop", "ada@example.com", "ada's long passphrase")
		agent.must(200, "PUT", "/api/agent/presence", `{"status":"online"}`)
		var offerID string
		waitFor(t, "an offer of the chat", func() bool {
			offers, _ := agent.must(200, "GET", "/api/agent/offers", "")["offers"].([]any)
			for _, o := range offers {
				if o := o.(map[string]any); o["contact_id"] == contactID && o["queue_id"] == "support" {
					offerID = o["id"].(string)
				}
			}
			return offerID != ""
		})
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
