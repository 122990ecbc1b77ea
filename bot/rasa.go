package bot

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"

	"github.com/helplinehq/helpline"
)

// RasaConfig builds a Rasa bot.
type RasaConfig struct {
	// URL is the REST channel's webhook, such as
	// http://rasa:5005/webhooks/rest/webhook.
	URL string
	Remote
}

// Rasa is a bot run by a Rasa server, over its REST channel:
//
//	POST {URL}  {"sender": contact id, "message": text, "metadata": {...}}
//
// answering 200 with an array of messages {recipient_id, text, image,
// buttons[{title, payload}], custom}. Texts become text/plain replies,
// buttons quick replies (the payload is sent back when the customer
// picks one), images links; a message whose custom holds a "handoff"
// object ({queue, reason, summary}, each optional) hands the contact off.
// A Rasa that cannot be reached, fails or answers anything else gets the
// fallback message and a handoff with reason bot_unavailable. Rasa keeps
// the conversation itself, by sender.
type Rasa struct {
	url string
	r   *remote
}

// rasaTries is how many times a message is sent to Rasa at most.
const rasaTries = 2

// NewRasa returns the bot, or an error when the settings are wrong.
func NewRasa(cfg RasaConfig) (*Rasa, error) {
	u, err := checkURL("url", cfg.URL)
	if err != nil {
		return nil, fmt.Errorf("bot: rasa: %w", err)
	}
	r, err := newRemote("Rasa", cfg.Remote)
	if err != nil {
		return nil, err
	}
	return &Rasa{url: u, r: r}, nil
}

type rasaRequest struct {
	Sender   string       `json:"sender"`
	Message  string       `json:"message"`
	Metadata rasaMetadata `json:"metadata"`
}

// rasaMetadata is what Rasa's custom actions can read of the contact
// (tracker.latest_message["metadata"]).
type rasaMetadata struct {
	ContactID  string            `json:"contact_id"`
	Customer   rasaCustomer      `json:"customer"`
	Attributes map[string]string `json:"attributes,omitempty"`
}

type rasaCustomer struct {
	ID    string `json:"id,omitempty"`
	Name  string `json:"name,omitempty"`
	Email string `json:"email,omitempty"`
}

type rasaMessage struct {
	RecipientID string `json:"recipient_id"`
	Text        string `json:"text"`
	Image       string `json:"image"`
	Buttons     []struct {
		Title   string `json:"title"`
		Payload string `json:"payload"`
	} `json:"buttons"`
	Custom json.RawMessage `json:"custom"`
}

// Turn implements Bot.
func (b *Rasa) Turn(ctx context.Context, t *Turn) (*Response, error) {
	if t == nil || t.Item == nil || t.Contact == nil {
		return nil, errors.New("bot: rasa: a turn needs the contact and the customer's item")
	}
	if t.Item.Type == helpline.ItemAttachment {
		return b.r.attachment(t.State), nil
	}
	text := customerInput(t)
	if strings.TrimSpace(text) == "" {
		return &Response{State: t.State}, nil
	}
	body, err := json.Marshal(rasaRequest{Sender: t.Contact.ID, Message: text, Metadata: rasaMetadata{
		ContactID:  t.Contact.ID,
		Customer:   rasaCustomer{ID: t.Customer.ID, Name: t.Customer.Name, Email: t.Customer.Email},
		Attributes: t.Contact.Attributes,
	}})
	if err != nil {
		return nil, err
	}
	a, err := b.r.send(ctx, rasaTries, request{method: http.MethodPost, url: b.url, body: body,
		header: http.Header{"Content-Type": {"application/json"}, "Accept": {"application/json"}}})
	if ctx.Err() != nil {
		return nil, ctx.Err()
	}
	if err == nil && a.status != http.StatusOK {
		err = fmt.Errorf("HTTP %d", a.status)
	}
	var msgs []rasaMessage
	if err == nil {
		if jerr := json.Unmarshal(a.body, &msgs); jerr != nil || msgs == nil {
			err = fmt.Errorf("an answer that is not an array of messages")
		}
	}
	if err != nil {
		return b.r.unavailable(t.State, text, err), nil
	}
	return b.response(t, msgs), nil
}

// response turns Rasa's messages into the turn's response.
func (b *Rasa) response(t *Turn, msgs []rasaMessage) *Response {
	resp := &Response{State: t.State}
	resp.State.Choices = nil
	for _, m := range msgs {
		switch {
		case len(m.Buttons) > 0:
			var opts [][2]string
			for _, btn := range m.Buttons {
				if btn.Title == "" {
					continue
				}
				v := btn.Payload
				if v == "" {
					v = btn.Title
				}
				opts = append(opts, [2]string{btn.Title, v})
			}
			if len(opts) > 0 {
				resp.Replies = append(resp.Replies, choices(t.Contact, &resp.State, m.Text, opts))
			} else if m.Text != "" {
				resp.Replies = append(resp.Replies, Text(m.Text))
			}
		case m.Text != "":
			resp.Replies = append(resp.Replies, Text(m.Text))
		}
		if m.Image != "" {
			if r, ok := imageReply(t.Contact, "", m.Image); ok {
				resp.Replies = append(resp.Replies, r)
			}
		}
		if h := rasaHandoff(m.Custom); h != nil && resp.Handoff == nil {
			resp.Handoff = &Handoff{Queue: b.r.handoffQueue(h.Queue), Reason: h.Reason, Summary: h.Summary}
			if resp.Handoff.Reason == "" {
				resp.Handoff.Reason = ReasonBotHandoff
			}
		}
	}
	return resp
}

// rasaHandoff returns the handoff a message's custom payload asks for,
// or nil. A "handoff" that is not an object still hands off, with the
// defaults.
func rasaHandoff(custom json.RawMessage) *Handoff {
	var c map[string]json.RawMessage
	if len(custom) == 0 || json.Unmarshal(custom, &c) != nil {
		return nil
	}
	raw, ok := c["handoff"]
	if !ok || string(raw) == "null" {
		return nil
	}
	var h struct {
		Queue   string `json:"queue"`
		Reason  string `json:"reason"`
		Summary string `json:"summary"`
	}
	if json.Unmarshal(raw, &h) != nil {
		return &Handoff{}
	}
	return &Handoff{Queue: h.Queue, Reason: h.Reason, Summary: h.Summary}
}
