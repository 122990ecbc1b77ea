package bot

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/helplinehq/helpline"
)

// Config builds the built-in e-commerce bot.
type Config struct {
	Classifier *Classifier
	Policies   *Policies
	// Orders looks orders up; nil means the bot cannot, and hands order
	// questions to a person.
	Orders Orders
	// LookupTimeout bounds one order lookup; 0 is 5 s.
	LookupTimeout time.Duration
}

// Ecommerce is the built-in e-commerce bot: it classifies each customer
// message, answers policy intents from the policies file, looks orders up
// once it has an order number and the email the order was placed with,
// and hands off by the policies' rules.
type Ecommerce struct {
	clf     *Classifier
	rules   HandoffRules
	answers *answers
	orders  Orders
	timeout time.Duration
}

// NewEcommerce returns the bot, or an error when the policies lack an
// answer or a template is wrong.
func NewEcommerce(cfg Config) (*Ecommerce, error) {
	if cfg.Classifier == nil || cfg.Policies == nil {
		return nil, errors.New("bot: the e-commerce bot needs a classifier and policies")
	}
	a, err := cfg.Policies.compile()
	if err != nil {
		return nil, err
	}
	b := &Ecommerce{clf: cfg.Classifier, rules: cfg.Policies.Handoff, answers: a, orders: cfg.Orders, timeout: cfg.LookupTimeout}
	if b.timeout <= 0 {
		b.timeout = 5 * time.Second
	}
	return b, nil
}

// topics are the quick replies offered with the greeting and when the
// bot did not understand.
var topics = []string{"Where is my order?", "Returns and refunds", "Shipping costs", "Talk to a person"}

// turn is one run of the dialog: its input, what it understood and the
// response it builds.
type turn struct {
	*Turn
	text  string
	class Result
	resp  *Response
}

// Turn implements Bot.
func (b *Ecommerce) Turn(ctx context.Context, t *Turn) (*Response, error) {
	if t == nil || t.Item == nil {
		return nil, errors.New("bot: a turn needs the customer's item")
	}
	tn := &turn{Turn: t, resp: &Response{State: t.State}}
	st := &tn.resp.State
	if st.Email == "" {
		st.Email = strings.ToLower(t.Customer.Email)
	}
	if t.Item.Type == helpline.ItemAttachment {
		if st.Awaiting == AwaitPhoto {
			return b.handoff(tn, ReasonDamagedItem)
		}
		return b.handoff(tn, ReasonAttachment)
	}
	tn.text = customerText(t.Item)
	tn.class = b.clf.Classify(tn.text)
	negative, profane := mood(tn.text)
	switch {
	case profane && b.rules.Profanity:
		return b.handoff(tn, ReasonProfanity)
	case negative && b.rules.NegativeSentiment:
		return b.handoff(tn, ReasonNegative)
	}
	if n := tn.class.Entities[EntityOrderNumber]; n != "" {
		st.OrderNumber = n
	}
	if e := tn.class.Entities[EntityEmail]; e != "" {
		st.Email = e
	}
	intent := tn.class.Intent
	// An answer to the bot's question continues the order dialog whatever
	// else the words look like ("it's 12345").
	answered := st.Awaiting == AwaitOrderNumber && tn.class.Entities[EntityOrderNumber] != "" ||
		st.Awaiting == AwaitEmail && tn.class.Entities[EntityEmail] != ""
	if answered || intent == Fallback && st.Intent == "order_status" && (st.OrderNumber != "" || st.Email != "") && len(tn.class.Entities) > 0 {
		intent = "order_status"
	}
	if intent == Fallback {
		st.LowConfidence++
		if b.rules.LowConfidenceTurns > 0 && st.LowConfidence >= b.rules.LowConfidenceTurns {
			return b.handoff(tn, ReasonLowConfidence)
		}
		b.say(tn, Fallback, nil)
		tn.resp.Replies[len(tn.resp.Replies)-1] = QuickReply(t.Contact, tn.resp.Replies[len(tn.resp.Replies)-1].Content, topics...)
		return tn.resp, nil
	}
	st.LowConfidence = 0
	st.Intent = intent
	if intent != "order_status" && st.Awaiting != AwaitPhoto {
		st.Awaiting = ""
	}
	switch intent {
	case "human_agent":
		if b.rules.OnRequest {
			return b.handoff(tn, ReasonRequested)
		}
		intent = Fallback
	case "order_status":
		return b.orderStatus(ctx, tn)
	case "return_refund":
		if a, err := strconv.ParseFloat(tn.class.Entities[EntityAmount], 64); err == nil && b.rules.RefundAbove > 0 && a > b.rules.RefundAbove {
			return b.handoff(tn, ReasonRefundLimit)
		}
		if b.rules.DamagedItem && mentions(tn.text, b.rules.DamagedWords) {
			if photoIn(t.Recent) {
				return b.handoff(tn, ReasonDamagedItem)
			}
			st.Awaiting = AwaitPhoto
			b.say(tn, "ask_photo", nil)
			return tn.resp, nil
		}
	case "greeting":
		b.say(tn, "greeting", nil)
		tn.resp.Replies[0] = QuickReply(t.Contact, tn.resp.Replies[0].Content, topics...)
		return tn.resp, nil
	case "goodbye":
		tn.resp.End = true
	}
	b.say(tn, intent, nil)
	return tn.resp, nil
}

// orderStatus asks for what the lookup still needs, then looks the order
// up: the endpoint is asked only with both the number and the email, and
// answers only when the email matches the order.
func (b *Ecommerce) orderStatus(ctx context.Context, tn *turn) (*Response, error) {
	st := &tn.resp.State
	order := &Order{Number: st.OrderNumber}
	switch {
	case st.OrderNumber == "":
		st.Awaiting = AwaitOrderNumber
		b.say(tn, "ask_order_number", nil)
		return tn.resp, nil
	case st.Email == "":
		st.Awaiting = AwaitEmail
		b.say(tn, "ask_email", order)
		return tn.resp, nil
	case b.orders == nil:
		return b.handoff(tn, ReasonOrdersDown)
	}
	st.Awaiting = ""
	lookup, cancel := context.WithTimeout(ctx, b.timeout)
	defer cancel()
	found, err := b.orders.FindOrder(lookup, st.OrderNumber, st.Email)
	switch {
	case errors.Is(err, ErrOrderNotFound):
		b.say(tn, "order_not_found", order)
		st.OrderNumber, st.Awaiting = "", AwaitOrderNumber
		return tn.resp, nil
	case err != nil:
		b.say(tn, "orders_unavailable", order)
		return b.handoff(tn, ReasonOrdersDown)
	}
	b.say(tn, "order_found", found)
	tn.resp.Attributes = map[string]string{"order_number": found.Number, "order_status": found.Status}
	return tn.resp, nil
}

// say appends the answer key as a text reply.
func (b *Ecommerce) say(tn *turn, key string, o *Order) {
	text, err := b.answers.render(key, o)
	if err != nil {
		// compile rendered every answer with a sample order, so only an
		// intent the policies do not answer (a replaced intents file)
		// gets here.
		text, _ = b.answers.render(Fallback, o)
	}
	tn.resp.Replies = append(tn.resp.Replies, Text(text))
}

// handoff ends the turn by handing the contact to the policies' queue,
// with the handoff answer, a summary for the agent and attributes that
// carry what the bot learnt.
func (b *Ecommerce) handoff(tn *turn, reason string) (*Response, error) {
	st := &tn.resp.State
	st.Awaiting, st.LowConfidence = "", 0
	if reason != ReasonOrdersDown || len(tn.resp.Replies) == 0 {
		b.say(tn, "handoff", nil)
	}
	attrs := map[string]string{"bot_handoff_reason": reason}
	if st.Intent != "" {
		attrs["bot_intent"] = st.Intent
	}
	if st.OrderNumber != "" {
		attrs["order_number"] = st.OrderNumber
	}
	if st.Email != "" {
		attrs["customer_email"] = st.Email
	}
	tn.resp.Attributes = attrs
	tn.resp.Handoff = &Handoff{Queue: b.rules.Queue, Reason: reason, Summary: summary(tn, reason)}
	return tn.resp, nil
}

// maxSummaryLines bounds the customer messages a summary quotes.
const maxSummaryLines = 5

// summary is the agent's first read: why the bot handed off, what it
// understood and knows, and the customer's last messages.
func summary(tn *turn, reason string) string {
	st := tn.resp.State
	var b strings.Builder
	fmt.Fprintf(&b, "Handed off by the bot: %s.", strings.ReplaceAll(reason, "_", " "))
	if st.Intent != "" {
		fmt.Fprintf(&b, " Topic: %s.", strings.ReplaceAll(st.Intent, "_", " "))
	}
	if st.OrderNumber != "" {
		fmt.Fprintf(&b, " Order: %s.", st.OrderNumber)
	}
	if st.Email != "" {
		fmt.Fprintf(&b, " Email: %s.", st.Email)
	}
	var said []string
	for _, it := range tn.Recent {
		if it.Role == helpline.RoleCustomer {
			if s := customerText(it); s != "" {
				said = append(said, s)
			}
		}
	}
	if tn.text != "" {
		said = append(said, tn.text)
	} else if tn.Item.Type == helpline.ItemAttachment {
		said = append(said, "(sent an attachment)")
	}
	if len(said) > maxSummaryLines {
		said = said[len(said)-maxSummaryLines:]
	}
	if len(said) > 0 {
		b.WriteString("\nThe customer wrote:")
		for _, s := range said {
			if len(s) > 200 {
				s = clean(s[:200]) + "…"
			}
			b.WriteString("\n> " + s)
		}
	}
	return b.String()
}

// mentions reports whether text has one of the words.
func mentions(text string, list []string) bool {
	for _, w := range words(text) {
		for _, l := range list {
			if w == strings.ToLower(l) {
				return true
			}
		}
	}
	return false
}

// photoIn reports whether the customer sent an attachment among items.
func photoIn(items []*helpline.Item) bool {
	for _, it := range items {
		if it.Type == helpline.ItemAttachment && it.Role == helpline.RoleCustomer {
			return true
		}
	}
	return false
}
