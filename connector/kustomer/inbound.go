package kustomer

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/url"
	"sort"
	"time"

	"github.com/helplinehq/helpline"
	"github.com/helplinehq/helpline/connector/internal/inbound"
)

// webhookWindow is how far an event's createdAt may be from now. Kustomer
// retries a failed delivery for about an hour (the exact schedule is not
// documented), so the window covers that with room; an accepted event id
// is remembered twice as long to refuse replays.
const webhookWindow = 2 * time.Hour

// Event is the envelope of a Kustomer outbound webhook.
type Event struct {
	ID        string    `json:"id"`
	Name      string    `json:"name"`
	Data      resource  `json:"data"`
	CreatedAt time.Time `json:"createdAt"`
}

// messageIn is a message's attributes as Kustomer answers them.
type messageIn struct {
	App        string    `json:"app"`
	Direction  string    `json:"direction"`
	Preview    string    `json:"preview"`
	ExternalID string    `json:"externalId"`
	SentAt     time.Time `json:"sentAt"`
}

func messageAttrs(r resource) messageIn {
	var a messageIn
	unmarshal(r.Attributes, &a)
	return a
}

func unmarshal(raw json.RawMessage, v any) {
	if len(raw) > 0 {
		json.Unmarshal(raw, v)
	}
}

// ServeHTTP serves POST /webhook, the target of the Kustomer outbound
// webhook on kustomer.message.create and kustomer.conversation.update.
//
// The request must carry X-Kustomer-Webhook-Signature, the lowercase hex
// HMAC-SHA256 of the raw body keyed by the webhook's token. A missing or
// wrong signature is refused with 401, a body that is not an event
// (id, name, createdAt, data) with 400, an event created more than two
// hours from now with 401, an event id seen before with 409 (ids are
// kept in the store, so this holds across restarts and between nodes);
// none of them changes anything.
//
// For a kustomer.message.create of an outbound message by another app
// than Helpline's, the connector reads the conversation's messages and
// appends each outbound message of another app to the conversation's
// contact as an AGENT message, in sentAt order and once per message id,
// so replies delivered twice or out of order reach the chat once and in
// order. For a kustomer.conversation.update that sets the status done,
// with EndChatOnDone, it ends the chat. Other events, and conversations
// that mirror no contact, are acknowledged and ignored.
func (c *Connector) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.URL.Path != "/webhook" {
		writeError(w, http.StatusNotFound, "no such endpoint; Kustomer webhooks go to /webhook")
		return
	}
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", http.MethodPost)
		writeError(w, http.StatusMethodNotAllowed, "use POST")
		return
	}
	if c.secret == "" {
		writeError(w, http.StatusNotFound, "this connector has no webhook_secret_env configured")
		return
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, 1<<20))
	if err != nil {
		writeError(w, http.StatusRequestEntityTooLarge, "the body is larger than 1 MiB")
		return
	}
	sig, err := hex.DecodeString(r.Header.Get("X-Kustomer-Webhook-Signature"))
	if err != nil || len(sig) == 0 {
		writeError(w, http.StatusUnauthorized, "missing or malformed X-Kustomer-Webhook-Signature")
		return
	}
	if !hmac.Equal(sig, sign(c.secret, body)) {
		writeError(w, http.StatusUnauthorized, "bad webhook signature")
		return
	}
	var ev Event
	if err := json.Unmarshal(body, &ev); err != nil || ev.ID == "" || ev.Name == "" || ev.Data.ID == "" || ev.CreatedAt.IsZero() {
		writeError(w, http.StatusBadRequest, "the body must be a Kustomer event with id, name, createdAt and data")
		return
	}
	switch err := c.guard.Admit(r.Context(), ev.ID, ev.CreatedAt); {
	case errors.Is(err, inbound.ErrStale):
		writeError(w, http.StatusUnauthorized, "the event's createdAt is too far from now")
		return
	case errors.Is(err, inbound.ErrReplayed):
		writeError(w, http.StatusConflict, "this event was already received")
		return
	case err != nil:
		c.log.Error("kustomer webhook: replay guard", "connector", c.name, "err", err)
		writeError(w, http.StatusInternalServerError, "internal error")
		return
	}
	status, res, err := c.handle(r.Context(), ev)
	if err != nil {
		// Kustomer retries failed deliveries; let the next one try again.
		if ferr := c.guard.Release(r.Context(), ev.ID); ferr != nil {
			c.log.Error("kustomer webhook: replay guard", "connector", c.name, "err", ferr)
		}
		c.log.Error("kustomer webhook", "connector", c.name, "event", ev.Name, "err", err)
		writeError(w, status, "could not act on the event; Kustomer will retry it")
		return
	}
	writeJSON(w, http.StatusOK, res)
}

// handle acts on an admitted event. On failure it returns the status to
// answer with.
func (c *Connector) handle(ctx context.Context, ev Event) (int, map[string]any, error) {
	ignored := func(reason string) (int, map[string]any, error) {
		return http.StatusOK, map[string]any{"status": "ignored", "reason": reason}, nil
	}
	var convID string
	switch ev.Name {
	case "kustomer.message.create":
		if ev.Data.Type != "message" {
			return ignored("not a message")
		}
		if a := messageAttrs(ev.Data); a.Direction != "out" || a.App == c.set.App {
			return ignored("not an agent's reply")
		}
		convID = ev.Data.related("conversation")
	case "kustomer.conversation.update":
		var a struct {
			Status string `json:"status"`
		}
		unmarshal(ev.Data.Attributes, &a)
		if ev.Data.Type != "conversation" || a.Status != "done" || !c.set.EndChatOnDone {
			return ignored("not a conversation set done, or end_chat_on_done is off")
		}
		convID = ev.Data.ID
	default:
		return ignored("event not used")
	}
	if convID == "" {
		return ignored("the event names no conversation")
	}
	pair, err := c.pairs.FindMirrorPairByRef(ctx, c.name, RefConversationID, convID)
	if helpline.ErrorCode(err) == helpline.ENOTFOUND {
		return ignored("the conversation mirrors no contact")
	} else if err != nil {
		return http.StatusInternalServerError, nil, err
	}
	if ev.Name == "kustomer.conversation.update" {
		if err := c.chat.StopContact(ctx, pair.Refs[RefInstanceID], pair.ContactID); err != nil && helpline.ErrorCode(err) != helpline.ENOTFOUND {
			return http.StatusInternalServerError, nil, err
		}
		return http.StatusOK, map[string]any{"status": "ok", "ended": pair.ContactID}, nil
	}
	n, err := c.appendReplies(ctx, pair.ContactID, convID)
	if err != nil {
		return http.StatusBadGateway, nil, err
	}
	return http.StatusOK, map[string]any{"status": "ok", "appended": n}, nil
}

// appendReplies appends the conversation's outbound messages of other
// apps than Helpline's to the contact, in sentAt order, and returns how
// many it handed the engine.
func (c *Connector) appendReplies(ctx context.Context, contactID, convID string) (int, error) {
	msgs, err := c.api.all(ctx, "/conversations/"+convID+"/messages")
	if err != nil {
		return 0, err
	}
	sort.SliceStable(msgs, func(i, j int) bool { return messageAttrs(msgs[i]).SentAt.Before(messageAttrs(msgs[j]).SentAt) })
	n := 0
	for _, m := range msgs {
		a := messageAttrs(m)
		if a.Direction != "out" || a.App == c.set.App || a.Preview == "" {
			continue
		}
		_, err := c.chat.PostExternalMessage(ctx, helpline.ExternalMessage{
			ContactID:   contactID,
			Origin:      c.name,
			Role:        helpline.RoleAgent,
			AuthorName:  c.userName(ctx, m.related("createdBy")),
			ExternalID:  m.ID,
			ContentType: helpline.ContentPlain,
			Content:     a.Preview,
		})
		switch helpline.ErrorCode(err) {
		case "":
			n++
		case helpline.ECONFLICT, helpline.EFORBIDDEN:
			// The chat ended: the reply stays in Kustomer only.
			return n, nil
		default:
			return n, err
		}
	}
	return n, nil
}

// userName is a Kustomer user's display name, remembered once read; an
// unknown or unreadable user is "Agent".
func (c *Connector) userName(ctx context.Context, id string) string {
	if id == "" {
		return "Agent"
	}
	c.mu.Lock()
	name, ok := c.users[id]
	c.mu.Unlock()
	if ok {
		return name
	}
	var u one
	if err := c.api.do(ctx, http.MethodGet, "/users/"+url.PathEscape(id), nil, &u); err != nil {
		c.log.Warn("kustomer: reading a reply's author", "connector", c.name, "user", id, "err", err)
		return "Agent"
	}
	var a struct {
		Name        string `json:"name"`
		DisplayName string `json:"displayName"`
	}
	unmarshal(u.Data.Attributes, &a)
	name = orDefault(a.DisplayName, orDefault(a.Name, "Agent"))
	c.mu.Lock()
	c.users[id] = name
	c.mu.Unlock()
	return name
}

// sign is Kustomer's webhook signature, raw.
func sign(secret string, body []byte) []byte {
	m := hmac.New(sha256.New, []byte(secret))
	m.Write(body)
	return m.Sum(nil)
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(v)
}

func writeError(w http.ResponseWriter, status int, msg string) {
	writeJSON(w, status, map[string]string{"error": msg})
}
