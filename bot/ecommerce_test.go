package bot

import (
	"context"
	"encoding/json"
	"strings"
	"testing"

	"github.com/helplinehq/helpline"
	"github.com/helplinehq/helpline/bot/orderstest"
	"gopkg.in/yaml.v3"
)

func defaultPolicies(t testing.TB) *Policies {
	t.Helper()
	var p Policies
	dec := yaml.NewDecoder(strings.NewReader(string(DefaultPolicies)))
	dec.KnownFields(true)
	if err := dec.Decode(&p); err != nil {
		t.Fatal(err)
	}
	return &p
}

// chat drives a bot through customer messages, carrying the state and
// the transcript from turn to turn as a runner would.
type chat struct {
	t        *testing.T
	bot      Bot
	contact  *helpline.Contact
	customer Customer
	state    State
	items    []*helpline.Item
}

func newChat(t *testing.T, orders Orders) *chat {
	t.Helper()
	b, err := NewEcommerce(Config{Classifier: defaultClassifier(t), Policies: defaultPolicies(t), Orders: orders})
	if err != nil {
		t.Fatal(err)
	}
	return &chat{t: t, bot: b, contact: &helpline.Contact{ID: "c1", SupportedContentTypes: []string{helpline.ContentPlain}}}
}

func (c *chat) send(it *helpline.Item) *Response {
	c.t.Helper()
	it.Role = helpline.RoleCustomer
	resp, err := c.bot.Turn(context.Background(), &Turn{Contact: c.contact, Customer: c.customer, State: c.state, Recent: c.items, Item: it})
	if err != nil {
		c.t.Fatalf("turn %q: %v", it.Content, err)
	}
	c.items = append(c.items, it)
	for _, r := range resp.Replies {
		c.items = append(c.items, &helpline.Item{Type: helpline.ItemMessage, Role: helpline.RoleBot, ContentType: r.ContentType, Content: r.Content})
	}
	c.state = resp.State
	return resp
}

func (c *chat) say(text string) *Response {
	c.t.Helper()
	return c.send(&helpline.Item{Type: helpline.ItemMessage, ContentType: helpline.ContentPlain, Content: text})
}

func replies(r *Response) string {
	var s []string
	for _, rep := range r.Replies {
		s = append(s, rep.Content)
	}
	return strings.Join(s, " | ")
}

func wantReply(t *testing.T, r *Response, substr string) {
	t.Helper()
	if !strings.Contains(replies(r), substr) {
		t.Errorf("replies %q, want one containing %q", replies(r), substr)
	}
}

func wantHandoff(t *testing.T, r *Response, reason string) {
	t.Helper()
	if r.Handoff == nil {
		t.Fatalf("no handoff (replies %q), want one for %s", replies(r), reason)
	}
	if r.Handoff.Reason != reason || r.Handoff.Queue != "support" {
		t.Errorf("handoff %+v, want reason %s to queue support", r.Handoff, reason)
	}
	if r.Attributes["bot_handoff_reason"] != reason {
		t.Errorf("attributes %v, want bot_handoff_reason %s", r.Attributes, reason)
	}
}

func noHandoff(t *testing.T, r *Response) {
	t.Helper()
	if r.Handoff != nil {
		t.Fatalf("handoff %+v (replies %q), want none", r.Handoff, replies(r))
	}
}

func fakeOrders(t *testing.T) (*orderstest.Server, *OrdersClient) {
	srv := orderstest.NewServer("secret")
	t.Cleanup(srv.Close)
	srv.Add(orderstest.Order{Number: "884421", Email: "ada@example.com", Status: "shipped", Carrier: "UPS",
		TrackingURL: "https://track.example/1Z", Items: []orderstest.Item{{Name: "Mug", Quantity: 2}}})
	return srv, &OrdersClient{BaseURL: srv.URL, Token: "secret"}
}

// The bot asks for the order number, then the email, and answers with
// the order only once the email matches it.
func TestOrderStatusDialog(t *testing.T) {
	srv, orders := fakeOrders(t)
	c := newChat(t, orders)
	r := c.say("hi, where is my order?")
	noHandoff(t, r)
	wantReply(t, r, "order number")
	r = c.say("it's 884421")
	wantReply(t, r, "email address")
	if len(srv.Lookups()) != 0 {
		t.Fatalf("looked up %v before knowing the email", srv.Lookups())
	}
	r = c.say("mallory@example.com")
	wantReply(t, r, "couldn't find order 884421")
	if c.state.Awaiting != AwaitOrderNumber {
		t.Errorf("after a miss the bot awaits %q, want the order number again", c.state.Awaiting)
	}
	r = c.say("order 884421, email ADA@example.com")
	noHandoff(t, r)
	wantReply(t, r, "Order 884421 is shipped, shipped with UPS. Track it here: https://track.example/1Z")
	if r.Attributes["order_status"] != "shipped" {
		t.Errorf("attributes %v, want order_status shipped", r.Attributes)
	}
	if got := srv.Lookups(); len(got) != 2 || got[1] != "884421 ada@example.com" {
		t.Errorf("lookups %q", got)
	}
}

// A customer whose email Helpline knows is asked only for the number.
func TestOrderStatusKnownEmail(t *testing.T) {
	_, orders := fakeOrders(t)
	c := newChat(t, orders)
	c.customer.Email = "ada@example.com"
	r := c.say("can you track order #884421")
	wantReply(t, r, "is shipped")
}

// The endpoint down, wrongly authorised or absent: an apology and a
// handoff that carries what the bot knew.
func TestOrdersUnavailable(t *testing.T) {
	srv, orders := fakeOrders(t)
	srv.SetDown(true)
	c := newChat(t, orders)
	c.customer.Email = "ada@example.com"
	r := c.say("where is order 884421")
	wantHandoff(t, r, ReasonOrdersDown)
	wantReply(t, r, "can't reach our order system")
	if r.Attributes["order_number"] != "884421" || !strings.Contains(r.Handoff.Summary, "Order: 884421") {
		t.Errorf("attributes %v, summary %q: want the order number", r.Attributes, r.Handoff.Summary)
	}

	c = newChat(t, &OrdersClient{BaseURL: srv.URL, Token: "wrong"})
	srv.SetDown(false)
	c.customer.Email = "ada@example.com"
	wantHandoff(t, c.say("where is order 884421"), ReasonOrdersDown)

	srv.Close()
	c = newChat(t, orders)
	c.customer.Email = "ada@example.com"
	wantHandoff(t, c.say("where is order 884421"), ReasonOrdersDown)

	c = newChat(t, nil)
	c.customer.Email = "ada@example.com"
	wantHandoff(t, c.say("where is order 884421"), ReasonOrdersDown)
}

// Policy intents are answered from the policies file's values.
func TestPolicyAnswers(t *testing.T) {
	for text, want := range map[string]string{
		"how much does delivery cost":     "Standard shipping takes 3 to 5 business days and costs $4.95",
		"what's your returns policy":      "within 30 days",
		"can i cancel my order":           "cancelled free of charge",
		"I need to change my address":     "change the delivery address",
		"my card was refused":             "We accept Visa",
		"is the sweater made of wool":     "Every product page",
		"thank you, that's all. goodbye!": "Have a great day",
	} {
		c := newChat(t, nil)
		r := c.say(text)
		noHandoff(t, r)
		wantReply(t, r, want)
	}
	c := newChat(t, nil)
	if r := c.say("thanks, bye"); !r.End {
		t.Errorf("goodbye did not end the chat: %+v", r)
	}
}

// Each handoff rule of the shipped policies.
func TestHandoffRules(t *testing.T) {
	c := newChat(t, nil)
	r := c.say("I want to talk to a human")
	wantHandoff(t, r, ReasonRequested)
	wantReply(t, r, "passing you to a person")

	c = newChat(t, nil)
	noHandoff(t, c.say("zxqv plmok"))
	wantHandoff(t, c.say("qwrtz blorp"), ReasonLowConfidence)

	c = newChat(t, nil)
	wantHandoff(t, c.say("I want a refund of $250 for my order"), ReasonRefundLimit)
	c = newChat(t, nil)
	noHandoff(t, c.say("I want a refund of $25 please"))

	c = newChat(t, nil)
	r = c.say("the vase arrived broken, I want a refund")
	noHandoff(t, r)
	wantReply(t, r, "send a photo")
	r = c.send(&helpline.Item{Type: helpline.ItemAttachment, Attachments: []helpline.AttachmentRef{{Name: "vase.jpg"}}})
	wantHandoff(t, r, ReasonDamagedItem)
	if !strings.Contains(r.Handoff.Summary, "arrived broken") {
		t.Errorf("summary %q does not quote the customer", r.Handoff.Summary)
	}

	c = newChat(t, nil)
	wantHandoff(t, c.say("This is unacceptable, worst shop ever"), ReasonNegative)
	c = newChat(t, nil)
	wantHandoff(t, c.say("where the fuck is my parcel"), ReasonProfanity)
}

// Rules switched off in the policies are not applied.
func TestHandoffRulesConfigurable(t *testing.T) {
	p := defaultPolicies(t)
	p.Handoff = HandoffRules{Queue: "billing"}
	b, err := NewEcommerce(Config{Classifier: defaultClassifier(t), Policies: p})
	if err != nil {
		t.Fatal(err)
	}
	for _, text := range []string{"This is unacceptable, worst shop ever", "I want a refund of $250", "damn it", "agent please", "qwrtz blorp"} {
		r, err := b.Turn(context.Background(), &Turn{Item: &helpline.Item{Type: helpline.ItemMessage, ContentType: helpline.ContentPlain, Content: text}})
		if err != nil {
			t.Fatal(err)
		}
		noHandoff(t, r)
	}
}

// The greeting and "didn't get that" offer topics as Connect quick
// replies when the contact supports interactive messages, and a tap on
// one (an interactive response) is understood.
func TestQuickReplies(t *testing.T) {
	c := newChat(t, nil)
	c.contact.SupportedContentTypes = []string{helpline.ContentPlain, helpline.ContentInteractive, helpline.ContentInteractiveResponse}
	r := c.say("hello")
	if len(r.Replies) != 1 || r.Replies[0].ContentType != helpline.ContentInteractive {
		t.Fatalf("replies %+v, want one interactive message", r.Replies)
	}
	var msg struct {
		TemplateType string
		Version      string
		Data         struct {
			Content struct {
				Title    string
				Elements []struct{ Title string }
			}
		}
	}
	if err := json.Unmarshal([]byte(r.Replies[0].Content), &msg); err != nil {
		t.Fatal(err)
	}
	if msg.TemplateType != "QuickReply" || msg.Version != "1.0" || !strings.HasPrefix(msg.Data.Content.Title, "Hi!") || len(msg.Data.Content.Elements) != 4 {
		t.Fatalf("quick reply %+v", msg)
	}
	tap := `{"templateType":"QuickReply","version":"1.0","data":{"content":{"title":"Talk to a person"}}}`
	r = c.send(&helpline.Item{Type: helpline.ItemMessage, ContentType: helpline.ContentInteractiveResponse, Content: tap})
	wantHandoff(t, r, ReasonRequested)

	c = newChat(t, nil)
	if r := c.say("hello"); r.Replies[0].ContentType != helpline.ContentPlain {
		t.Errorf("a plain-text contact got %s", r.Replies[0].ContentType)
	}
}

// Bad input never breaks a turn: it is not understood, and the bot says so.
func TestTurnBadInput(t *testing.T) {
	for name, text := range map[string]string{
		"empty":     "",
		"spaces":    "   \n\t",
		"symbols":   "?!?! :-) ###",
		"invalid":   "\xff\xfe\xfd",
		"huge":      strings.Repeat("blorp ", 100000),
		"binaryish": "\x00\x01\x02",
	} {
		c := newChat(t, nil)
		r := c.say(text)
		if r.Handoff != nil || len(r.Replies) != 1 || !strings.Contains(r.Replies[0].Content, "didn't get that") {
			t.Errorf("%s: %+v", name, r)
		}
	}
	b, _ := NewEcommerce(Config{Classifier: defaultClassifier(t), Policies: defaultPolicies(t)})
	if _, err := b.Turn(context.Background(), &Turn{}); err == nil {
		t.Error("a turn without an item did not fail")
	}
}

// A policies file missing an answer, with a broken template or naming an
// unknown value is refused when the bot is built.
func TestPoliciesChecked(t *testing.T) {
	for name, edit := range map[string]func(*Policies){
		"missing answer": func(p *Policies) { delete(p.Answers, "shipping_info") },
		"bad template":   func(p *Policies) { p.Answers["greeting"] = "Hi {{.shop" },
		"unknown value":  func(p *Policies) { p.Answers["greeting"] = "Hi from {{.nowhere}}" },
		"no queue":       func(p *Policies) { p.Handoff.Queue = "" },
	} {
		p := defaultPolicies(t)
		edit(p)
		if _, err := NewEcommerce(Config{Classifier: defaultClassifier(t), Policies: p}); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}
