package zendesk

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strconv"
	"time"

	"github.com/helplinehq/helpline"
	"github.com/helplinehq/helpline/connector/internal/inbound"
)

// Webhook freshness: a signature timestamp further than this from now is
// refused, and an accepted signature is remembered twice as long (from
// its acceptance) to refuse replays, which covers every moment its
// timestamp is still fresh.
const webhookWindow = 5 * time.Minute

// replayScope is the scope of the connector's keys in the replay guard.
func replayScope(connector string) string { return "webhook:" + connector }

// WebhookPayload is the JSON body of the trigger webhook (README shows
// the trigger): the ticket's id, its external id, the id of the user
// whose update fired the trigger and the latest public comment. Only
// TicketID is used: the comments are read back through the API; the
// comment text makes two deliveries for one ticket within a second
// differ, so that the second is not refused as a replay.
type WebhookPayload struct {
	TicketID      string `json:"ticket_id"`
	ExternalID    string `json:"external_id"`
	CurrentUserID string `json:"current_user_id"`
	Comment       string `json:"comment"`
}

// ServeHTTP serves POST /webhook, the target of the Zendesk trigger that
// fires on public agent comments.
//
// The request must carry X-Zendesk-Webhook-Signature, base64 of
// HMAC-SHA256 with the signing secret over the
// X-Zendesk-Webhook-Signature-Timestamp value followed by the raw body.
// A missing or wrong signature is refused with 401, a timestamp more than
// five minutes off with 401, a signature seen before with 409 (the
// signatures accepted are kept in the store, so this holds across
// restarts and between nodes), a body
// that is not the documented payload with 400; none of them changes
// anything.
//
// A good request makes the connector read the ticket's latest comments
// and append each public comment by an agent that was not made through
// the API (Helpline's own comments are) to the ticket's contact as an
// AGENT message; appends are idempotent on the comment id, so a comment
// reaches the chat once however many webhooks name its ticket. A ticket
// that mirrors no contact is acknowledged and ignored.
func (c *Connector) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.URL.Path != "/webhook" {
		writeError(w, http.StatusNotFound, "no such endpoint; Zendesk webhooks go to /webhook")
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
	sig := r.Header.Get("X-Zendesk-Webhook-Signature")
	ts := r.Header.Get("X-Zendesk-Webhook-Signature-Timestamp")
	if sig == "" || ts == "" {
		writeError(w, http.StatusUnauthorized, "missing X-Zendesk-Webhook-Signature or X-Zendesk-Webhook-Signature-Timestamp")
		return
	}
	if !hmac.Equal([]byte(sig), []byte(sign(c.secret, ts, body))) {
		writeError(w, http.StatusUnauthorized, "bad webhook signature")
		return
	}
	// A timestamp that does not parse is refused as a stale one is.
	err = inbound.ErrStale
	if at, perr := time.Parse(time.RFC3339, ts); perr == nil {
		err = c.guard.Admit(r.Context(), sig, at)
	}
	switch {
	case errors.Is(err, inbound.ErrStale):
		writeError(w, http.StatusUnauthorized, "stale or malformed signature timestamp")
		return
	case errors.Is(err, inbound.ErrReplayed):
		writeError(w, http.StatusConflict, "this webhook delivery was already received")
		return
	case err != nil:
		c.log.Error("zendesk webhook: replay guard", "connector", c.name, "err", err)
		writeError(w, http.StatusInternalServerError, "internal error")
		return
	}
	var p WebhookPayload
	if err := json.Unmarshal(body, &p); err != nil || p.TicketID == "" {
		writeError(w, http.StatusBadRequest, "the body must be a JSON object with ticket_id")
		return
	}
	if _, err := strconv.ParseInt(p.TicketID, 10, 64); err != nil {
		writeError(w, http.StatusBadRequest, "ticket_id must be a Zendesk ticket id")
		return
	}
	pair, err := c.pairs.FindMirrorPairByRef(r.Context(), c.name, RefTicketID, p.TicketID)
	if helpline.ErrorCode(err) == helpline.ENOTFOUND {
		writeJSON(w, http.StatusOK, map[string]any{"status": "ignored", "reason": "the ticket mirrors no contact"})
		return
	} else if err != nil {
		c.log.Error("zendesk webhook: find mirror pair", "connector", c.name, "ticket", p.TicketID, "err", err)
		writeError(w, http.StatusInternalServerError, "internal error")
		return
	}
	n, err := c.appendReplies(r, pair.ContactID, p.TicketID)
	if err != nil {
		// Zendesk retries failed deliveries; let the next one try again.
		if ferr := c.guard.Release(r.Context(), sig); ferr != nil {
			c.log.Error("zendesk webhook: replay guard", "connector", c.name, "err", ferr)
		}
		c.log.Error("zendesk webhook: append replies", "connector", c.name, "ticket", p.TicketID, "err", err)
		writeError(w, http.StatusBadGateway, "could not read the ticket's comments from Zendesk")
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"status": "ok", "appended": n})
}

// appendReplies appends the ticket's latest public agent comments not
// made through the API to the contact, oldest first, and returns how many
// it handed the engine.
func (c *Connector) appendReplies(r *http.Request, contactID, ticketID string) (int, error) {
	var page commentPage
	if err := c.api.do(r.Context(), http.MethodGet, "/tickets/"+ticketID+"/comments?sort=-created_at&page%5Bsize%5D=100&include=users", nil, nil, &page); err != nil {
		return 0, err
	}
	type author struct{ name, role string }
	users := map[int64]author{}
	for _, u := range page.Users {
		users[u.ID] = author{u.Name, u.Role}
	}
	n := 0
	for i := len(page.Comments) - 1; i >= 0; i-- {
		cm := page.Comments[i]
		a, known := users[cm.AuthorID]
		if !cm.Public || cm.Via.Channel == "api" || !known || (a.role != "agent" && a.role != "admin") {
			continue
		}
		_, err := c.chat.PostExternalMessage(r.Context(), helpline.ExternalMessage{
			ContactID:   contactID,
			Origin:      c.name,
			Role:        helpline.RoleAgent,
			AuthorName:  a.name,
			ExternalID:  id(cm.ID),
			ContentType: helpline.ContentPlain,
			Content:     orDefault(cm.PlainBody, cm.Body),
		})
		switch helpline.ErrorCode(err) {
		case "":
			n++
		case helpline.ECONFLICT, helpline.EFORBIDDEN:
			// The chat ended: the reply stays in Zendesk only.
			return n, nil
		default:
			return n, err
		}
	}
	return n, nil
}

// sign is Zendesk's webhook signature.
func sign(secret, timestamp string, body []byte) string {
	m := hmac.New(sha256.New, []byte(secret))
	m.Write([]byte(timestamp))
	m.Write(body)
	return base64.StdEncoding.EncodeToString(m.Sum(nil))
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(v)
}

func writeError(w http.ResponseWriter, status int, msg string) {
	writeJSON(w, status, map[string]string{"error": msg})
}
