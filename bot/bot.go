// Package bot is the first responder of a chat: the Bot interface a
// runner drives one customer item at a time while a bot owns the contact,
// and the built-in e-commerce bot (an intent classifier trained at start,
// entity extraction, policy answers, order lookups and handoff rules).
package bot

import (
	"context"
	"encoding/json"
	"slices"

	"github.com/helplinehq/helpline"
)

// Bot answers a customer. Turn is called once per new customer item,
// in Seq order, while the bot owns the contact; it must not keep
// per-contact memory of its own: all it needs to carry from one turn to
// the next goes into Response.State, which the runner stores and hands
// back with the next Turn. A Bot is safe for concurrent use on different
// contacts. An error means the turn could not be run at all (the runner
// hands the contact off); outside systems that fail are the bot's to
// handle with an apology and a Handoff.
type Bot interface {
	Turn(ctx context.Context, t *Turn) (*Response, error)
}

// Turn is what a bot is given for one customer item.
type Turn struct {
	// Contact is the contact as stored: its attributes, customer id and
	// the content types its participants may receive.
	Contact *helpline.Contact
	// Customer is who the customer is, as far as Helpline knows.
	Customer Customer
	// State is the bot's state for this contact, as its last Response
	// left it; the zero State on the first turn.
	State State
	// Recent are the contact's latest stored items before Item, oldest
	// first (the runner sends at most a few dozen).
	Recent []*helpline.Item
	// Item is the new customer item: a MESSAGE (text/plain,
	// text/markdown or an interactive response) or an ATTACHMENT.
	Item *helpline.Item
}

// Customer is the customer's identity: the contact's CustomerID, the
// display name and, when known (a signed widget identity, an attribute),
// the email address.
type Customer struct {
	ID, Name, Email string
}

// State is a bot's memory of one contact between turns, small and
// serialisable as JSON (the runner stores it with the contact).
type State struct {
	// Awaiting is what the bot asked for and waits on: AwaitOrderNumber,
	// AwaitEmail, AwaitPhoto, or "".
	Awaiting string `json:"awaiting,omitempty"`
	// Intent is the last intent the bot understood.
	Intent      string `json:"intent,omitempty"`
	OrderNumber string `json:"order_number,omitempty"`
	Email       string `json:"email,omitempty"`
	// LowConfidence counts the turns in a row the bot did not understand.
	LowConfidence int `json:"low_confidence,omitempty"`
	// Session is an outside bot's session with the contact (Watson
	// Assistant's session_id); "" until the bot has one.
	Session string `json:"session,omitempty"`
	// Choices are the quick replies an outside bot offered last, by the
	// title the customer sees, with the value the bot expects back (a
	// Rasa button's payload, a Watson option's input text).
	Choices map[string]string `json:"choices,omitempty"`
}

// What a State may be awaiting.
const (
	AwaitOrderNumber = "order_number"
	AwaitEmail       = "email"
	AwaitPhoto       = "photo"
)

// Response is what a bot does with a turn. The runner applies it in this
// order, and stops at the first step that fails because the bot no
// longer owns the contact: set Attributes, send Replies, then either
// hand off (Handoff) or end the chat (End), and store State.
type Response struct {
	Replies []Reply
	// Attributes are set on the contact (merged into its attributes).
	Attributes map[string]string
	// Handoff, when set, moves the contact to a queue.
	Handoff *Handoff
	// End ends the chat after the replies.
	End   bool
	State State
}

// Reply is one message the bot sends: text/plain, or an Amazon Connect
// interactive message (helpline.ContentInteractive).
type Reply struct {
	ContentType string
	Content     string
}

// Handoff hands the contact to a person: the runner changes its owner
// from the bot to queue:<Queue> (Store.ChangeOwner, reason "handoff").
type Handoff struct {
	Queue string
	// Reason is one of the Reason* values, or an outside bot's own word.
	Reason string
	// Summary is what the agent reads first: why, what the customer
	// asked, what the bot found.
	Summary string
}

// Handoff reasons.
const (
	ReasonRequested     = "customer_request"
	ReasonLowConfidence = "low_confidence"
	ReasonRefundLimit   = "refund_above_limit"
	ReasonDamagedItem   = "damaged_item"
	ReasonNegative      = "negative_sentiment"
	ReasonProfanity     = "profanity"
	ReasonOrdersDown    = "orders_unavailable"
	ReasonAttachment    = "attachment"
)

// Text returns a text/plain reply.
func Text(s string) Reply { return Reply{ContentType: helpline.ContentPlain, Content: s} }

// QuickReply returns an Amazon Connect interactive QuickReply message:
// a title and buttons the customer taps to send their title back. A
// contact whose content types do not include interactive messages gets
// the title as text/plain instead.
func QuickReply(c *helpline.Contact, title string, options ...string) Reply {
	if c == nil || !slices.Contains(c.SupportedContentTypes, helpline.ContentInteractive) {
		return Text(title)
	}
	type element struct {
		Title string `json:"title"`
	}
	var msg struct {
		TemplateType string `json:"templateType"`
		Version      string `json:"version"`
		Data         struct {
			Content struct {
				Title    string    `json:"title"`
				Elements []element `json:"elements"`
			} `json:"content"`
		} `json:"data"`
	}
	msg.TemplateType, msg.Version = "QuickReply", "1.0"
	msg.Data.Content.Title = title
	for _, o := range options {
		msg.Data.Content.Elements = append(msg.Data.Content.Elements, element{o})
	}
	b, _ := json.Marshal(msg)
	return Reply{ContentType: helpline.ContentInteractive, Content: string(b)}
}

// customerText returns what the customer said in it: a message's text,
// or the title of the option an interactive response picked. Other items
// say nothing.
func customerText(it *helpline.Item) string {
	if it == nil || it.Type != helpline.ItemMessage {
		return ""
	}
	switch it.ContentType {
	case helpline.ContentPlain, helpline.ContentMarkdown:
		return it.Content
	case helpline.ContentInteractiveResponse:
		var r struct {
			Data struct {
				Content struct {
					Title string `json:"title"`
				} `json:"content"`
			} `json:"data"`
		}
		if json.Unmarshal([]byte(it.Content), &r) == nil {
			return r.Data.Content.Title
		}
	}
	return ""
}
