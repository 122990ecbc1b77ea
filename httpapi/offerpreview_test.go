package httpapi_test

import (
	"context"
	"encoding/json"
	"reflect"
	"strings"
	"testing"

	"github.com/helplinehq/helpline"
)

// handOff records a bot's handoff of contact c as the runner does: an
// EVENT with the HandoffContext, after the owner change.
func handOff(t *testing.T, store interface {
	AppendItem(context.Context, *helpline.Item) (bool, error)
}, bus helpline.Bus, c *helpline.Contact) {
	t.Helper()
	content, _ := json.Marshal(helpline.HandoffContext{Bot: "bot:shop", Queue: "sales", Reason: "refund_above_limit",
		Summary: "Refund of 250 EUR asked for order A1.", Intents: []string{"refund"},
		Entities: map[string]string{"order_number": "A1"}, Customer: helpline.HandoffCustomer{Name: "Carol"}})
	it := &helpline.Item{ContactID: c.ID, ID: helpline.NewID(), Type: helpline.ItemEvent, ContentType: helpline.EventHandoff,
		Content: string(content), ParticipantID: helpline.SystemParticipantID(c.ID), DisplayName: helpline.SystemDisplayName,
		Role: helpline.RoleSystem, ClientToken: "handoff:" + c.ID}
	if _, err := store.AppendItem(context.Background(), it); err != nil {
		t.Fatal(err)
	}
	if bus != nil {
		if err := bus.Publish(context.Background(), helpline.NewItemEvent(it)); err != nil {
			t.Fatal(err)
		}
	}
}

// An offer in the agent API carries its chat's preview: the handoff's
// reason, summary and intents, the customer's last question, the
// identity label and the key attributes (the handoff's entities, then the
// contact's own, Helpline's left out). The agent it is not made to sees
// neither the offer nor the chat.
func TestOfferPreview(t *testing.T) {
	e := newChatEnv(t)
	ctx := context.Background()
	started, err := e.engine.StartChat(ctx, helpline.StartChatInput{InstanceID: "i1", ContactFlowID: "f", DisplayName: "Carol",
		Attributes: map[string]string{"helpline_identity_verified": "true", "helpline_identity_email": "c@example.com",
			"plan": "gold", "bot_summary": "old", "bot_intent": "refund"}})
	if err != nil {
		t.Fatal(err)
	}
	sess, err := e.engine.Authenticate(ctx, helpline.ParticipantToken, started.ParticipantToken)
	if err != nil {
		t.Fatal(err)
	}
	for _, text := range []string{"hello", "  Can I get my money back for order A1?  "} {
		if _, err := e.engine.SendMessage(ctx, sess, helpline.ContentPlain, text, ""); err != nil {
			t.Fatal(err)
		}
	}
	c := started.Contact
	handOff(t, e.store, nil, c)
	o := e.offer(c, "ada")

	ans := e.do("GET", "/api/agent/offers", "", e.creds["ada"])
	var out struct {
		Offers []struct {
			ID      string         `json:"id"`
			Preview map[string]any `json:"preview"`
		} `json:"offers"`
	}
	if err := json.Unmarshal([]byte(ans.raw), &out); err != nil || len(out.Offers) != 1 || out.Offers[0].ID != o.ID {
		t.Fatalf("ada's offers: %d %s", ans.status, ans.raw)
	}
	want := map[string]any{"reason": "refund_above_limit", "summary": "Refund of 250 EUR asked for order A1.",
		"intents": []any{"refund"}, "last_question": "Can I get my money back for order A1?", "customer_name": "Carol",
		"identity": "verified", "attributes": map[string]any{"order_number": "A1", "plan": "gold"}}
	if got := out.Offers[0].Preview; !reflect.DeepEqual(got, want) {
		t.Errorf("preview = %v\nwant      %v", got, want)
	}

	// Bob serves the queue too, but the offer is not his: his list is
	// empty and the chat is closed to him.
	for _, who := range []string{"bob", "eve"} {
		ans := e.do("GET", "/api/agent/offers", "", e.creds[who])
		if ans.status != 200 || strings.Contains(ans.raw, c.ID) || strings.Contains(ans.raw, "refund") {
			t.Errorf("%s's offers: %d %s, want none", who, ans.status, ans.raw)
		}
	}
	if ans := e.do("GET", "/api/agent/chats/"+c.ID, "", e.creds["bob"]); ans.status != 403 {
		t.Errorf("bob reading the offered chat: %d %s, want 403", ans.status, ans.raw)
	}
	if ans := e.do("GET", "/api/agent/chats/"+c.ID+"/transcript", "", e.creds["bob"]); ans.status != 403 {
		t.Errorf("bob reading the offered chat's transcript: %d %s, want 403", ans.status, ans.raw)
	}
}

// A chat no bot handed over has a preview without a reason: the
// customer's question, and the identity left unsaid when nothing says it.
func TestOfferPreviewWithoutHandoff(t *testing.T) {
	e := newChatEnv(t)
	c := e.startChat("i1")
	e.offer(c, "ada")
	ans := e.do("GET", "/api/agent/offers", "", e.creds["ada"])
	var out struct {
		Offers []struct {
			Preview map[string]any `json:"preview"`
		} `json:"offers"`
	}
	if err := json.Unmarshal([]byte(ans.raw), &out); err != nil || len(out.Offers) != 1 {
		t.Fatalf("ada's offers: %d %s", ans.status, ans.raw)
	}
	// The chat's bot_summary attribute stands for the summary.
	want := map[string]any{"summary": "wants a refund", "attributes": map[string]any{"order": "A1"}}
	if got := out.Offers[0].Preview; !reflect.DeepEqual(got, want) {
		t.Errorf("preview = %v, want %v", got, want)
	}
}

// The offer frame carries the chat's preview. The bot changes the owner,
// which makes the offer, before it records its handoff: a handoff
// recorded after the offer was pushed pushes the offer again, same id,
// with the handoff in its preview. A socket of an agent the chat is not
// offered to gets neither.
func TestAgentSocketOfferPreview(t *testing.T) {
	e := newWSEnv(t, nil)
	ada, _ := e.open("ada")
	sue, _ := e.open("sue")
	c := e.startChat()
	c.say("Where is my parcel?")
	contact, _ := e.store.FindContactByID(context.Background(), c.sess.Contact.ID)
	o := e.offer(contact, "ada")
	f := ada.await("offer").sub("offer")
	if p := f.sub("preview"); f.str("id") != o.ID || p.str("last_question") != "Where is my parcel?" || p.str("reason") != "" {
		t.Errorf("offer frame = %v, want the question and no handoff yet", f)
	}
	handOff(t, e.store, e.bus, contact)
	f = ada.await("offer").sub("offer")
	if p := f.sub("preview"); f.str("id") != o.ID || p.str("reason") != "refund_above_limit" ||
		p.str("summary") != "Refund of 250 EUR asked for order A1." || p.str("last_question") != "Where is my parcel?" {
		t.Errorf("offer frame after the handoff = %v", f)
	}

	// Sue's first offer frame is her own offer of another chat, with
	// nothing of the first before it.
	other, _ := e.store.FindContactByID(context.Background(), e.startChat().sess.Contact.ID)
	mine := e.offer(other, "sue")
	f, skipped := sue.awaitAll("offer")
	if f.sub("offer").str("id") != mine.ID {
		t.Errorf("sue's offer frame = %v, want offer %s", f, mine.ID)
	}
	for _, s := range skipped {
		if s.str("contact") == contact.ID || s.sub("offer").str("contact") == contact.ID {
			t.Errorf("sue got a frame of a chat not offered to her: %v", s)
		}
	}
}

// A receipt's item frame carries the receipt (its metadata), so that a
// console shows "Read" without reading the transcript, which it may no
// longer read once the chat moved on.
func TestAgentSocketReceiptItem(t *testing.T) {
	e := newWSEnv(t, nil)
	s, _ := e.open("ada")
	s.send(`{"type":"resume","chats":{}}`)
	s.await("resumed")
	c := e.startChat()
	e.assign(c, "ada")
	said := c.say("hello")
	content, _ := json.Marshal(map[string]string{"messageId": said.ID})
	if _, err := e.engine.SendEvent(context.Background(), c.sess, helpline.EventMessageRead, string(content), ""); err != nil {
		t.Fatal(err)
	}
	for {
		f := s.await("item")
		it := f.sub("item")
		if it.str("type") != helpline.ItemMetadata {
			continue
		}
		md := it.sub("metadata")
		receipts, _ := md["Receipts"].([]any)
		if md.str("MessageID") != said.ID || len(receipts) != 1 || frame(receipts[0].(map[string]any)).str("ReadAt") == "" {
			t.Errorf("receipt frame = %v, want the receipt of %s", f, said.ID)
		}
		return
	}
}
