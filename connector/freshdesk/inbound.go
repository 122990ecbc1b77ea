package freshdesk

import (
	"bytes"
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/json"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/helplinehq/helpline"
)

// SecretHeader is the custom header the automation rule's webhook sends
// the connector's secret in: Freshdesk signs nothing it sends.
const SecretHeader = "X-Helpline-Secret"

// handledFor is how long the connector remembers a conversation or a
// resolution it acted on, to tell a delivery that brings something new
// from a replay: longer than any chat and any webhook retry.
const handledFor = 30 * 24 * time.Hour

// WebhookPayload is the JSON body of the automation rule's webhook
// (README shows the rule): the ticket's id, as the placeholder
// {{ticket.id}} renders it (a string; a number is taken too). The
// replies and the status are read back through the API, so a body
// cannot make up either.
type WebhookPayload struct {
	TicketID json.RawMessage `json:"ticket_id"`
}

// ServeHTTP serves POST /webhook, the target of the Freshdesk automation
// rule that fires when an agent replies to or resolves a ticket.
//
// The request must carry the connector's secret in X-Helpline-Secret,
// compared in constant time; a missing or wrong one is refused with 401,
// a body that is not the documented payload with 400, and neither changes
// anything.
//
// A good request makes the connector read the ticket's conversations and
// append each public one by an agent (not incoming, not private) that
// Helpline did not write (its own end with a valid marker) to the
// ticket's contact as an AGENT message under the agent's name; appends
// are idempotent on the conversation id. With end_chat_on_resolve set, a
// ticket that is resolved or closed ends its chat. A delivery that
// brings nothing new — a replay, or the rule firing on Helpline's own
// replies — is answered 200 with "appended": 0 and changes nothing:
// Freshdesk counts other answers as failed webhooks, and there is nothing
// a retry could fix. A ticket that mirrors no contact is acknowledged
// and ignored.
func (c *Connector) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.URL.Path != "/webhook" {
		writeError(w, http.StatusNotFound, "no such endpoint; Freshdesk webhooks go to /webhook")
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
	got := r.Header.Get(SecretHeader)
	if got == "" {
		writeError(w, http.StatusUnauthorized, "missing "+SecretHeader)
		return
	}
	// Digests of equal length, so the comparison's time says nothing of
	// the secret's length either.
	gd, wd := sha256.Sum256([]byte(got)), sha256.Sum256([]byte(c.secret))
	if subtle.ConstantTimeCompare(gd[:], wd[:]) != 1 {
		writeError(w, http.StatusUnauthorized, "wrong "+SecretHeader)
		return
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, 64<<10))
	if err != nil {
		writeError(w, http.StatusRequestEntityTooLarge, "the body is larger than 64 KiB")
		return
	}
	ticketID, ok := parsePayload(body)
	if !ok {
		writeError(w, http.StatusBadRequest, `the body must be a JSON object with "ticket_id", a Freshdesk ticket id`)
		return
	}
	pair, err := c.pairs.FindMirrorPairByRef(r.Context(), c.name, RefTicketID, ticketID)
	if helpline.ErrorCode(err) == helpline.ENOTFOUND {
		writeJSON(w, http.StatusOK, map[string]any{"status": "ignored", "reason": "the ticket mirrors no contact"})
		return
	} else if err != nil {
		c.log.Error("freshdesk webhook: find mirror pair", "connector", c.name, "ticket", ticketID, "err", err)
		writeError(w, http.StatusInternalServerError, "internal error")
		return
	}
	n, err := c.appendReplies(r.Context(), pair.ContactID, ticketID)
	if err != nil {
		c.log.Error("freshdesk webhook: append replies", "connector", c.name, "ticket", ticketID, "err", err)
		writeError(w, http.StatusBadGateway, "could not read the ticket's conversations from Freshdesk")
		return
	}
	ended := false
	if c.set.EndChatOnResolve {
		if ended, err = c.endIfResolved(r.Context(), pair, ticketID); err != nil {
			c.log.Error("freshdesk webhook: end chat", "connector", c.name, "ticket", ticketID, "err", err)
			writeError(w, http.StatusBadGateway, "could not read the ticket's status from Freshdesk")
			return
		}
	}
	writeJSON(w, http.StatusOK, map[string]any{"status": "ok", "appended": n, "ended": ended})
}

// parsePayload returns the payload's ticket id, a positive integer given
// as a JSON string or number.
func parsePayload(body []byte) (string, bool) {
	var p WebhookPayload
	dec := json.NewDecoder(bytes.NewReader(body))
	if err := dec.Decode(&p); err != nil || len(p.TicketID) == 0 {
		return "", false
	}
	raw := strings.Trim(string(p.TicketID), `"`)
	n, err := strconv.ParseInt(raw, 10, 64)
	if err != nil || n <= 0 {
		return "", false
	}
	return id(n), true
}

// appendReplies appends the ticket's public agent conversations that
// Helpline did not write to the contact, oldest first, and returns how
// many of them it had not handled before.
func (c *Connector) appendReplies(ctx context.Context, contactID, ticketID string) (int, error) {
	var replies []conversationIn
	err := c.eachConversation(ctx, ticketID, func(cv conversationIn) {
		if _, ours := c.readMarker(cv.BodyText, ""); cv.Incoming || cv.Private || ours {
			return
		}
		replies = append(replies, cv)
	})
	if err != nil {
		return 0, err
	}
	n := 0
	for _, cv := range replies {
		name, isAgent, err := c.agentName(ctx, cv.UserID)
		if err != nil {
			return n, err
		}
		if !isAgent {
			continue
		}
		_, err = c.chat.PostExternalMessage(ctx, helpline.ExternalMessage{
			ContactID:   contactID,
			Origin:      c.name,
			Role:        helpline.RoleAgent,
			AuthorName:  name,
			ExternalID:  id(cv.ID),
			ContentType: helpline.ContentPlain,
			Content:     strings.TrimSpace(orDefault(cv.BodyText, cv.Body)),
		})
		switch helpline.ErrorCode(err) {
		case "":
		case helpline.ECONFLICT, helpline.EFORBIDDEN:
			// The chat ended: the reply stays in Freshdesk only.
			return n, nil
		default:
			return n, err
		}
		// Appends are idempotent, so remembering after the append counts
		// a conversation as new once, even across a crash in between.
		now := c.now()
		first, err := c.replay.RememberOnce(ctx, c.replayScope(), "conversation:"+id(cv.ID), now, now.Add(handledFor))
		if err != nil {
			return n, err
		}
		if first {
			n++
		}
	}
	return n, nil
}

// endIfResolved ends the contact's chat when its ticket is resolved or
// closed and reports whether that is news.
func (c *Connector) endIfResolved(ctx context.Context, pair *helpline.MirrorPair, ticketID string) (bool, error) {
	var t ticketIn
	if _, err := c.api.do(ctx, http.MethodGet, "/tickets/"+ticketID, nil, &t); err != nil {
		return false, err
	}
	if t.Status != statusResolved && t.Status != statusClosed {
		return false, nil
	}
	if err := c.chat.StopContact(ctx, pair.Refs[RefInstanceID], pair.ContactID); err != nil && helpline.ErrorCode(err) != helpline.ENOTFOUND {
		return false, err
	}
	now := c.now()
	return c.replay.RememberOnce(ctx, c.replayScope(), "resolved:"+ticketID, now, now.Add(handledFor))
}

// agentName returns the name of the Freshdesk agent with the user id;
// isAgent is false when the user is no agent. Names are read once.
func (c *Connector) agentName(ctx context.Context, userID int64) (name string, isAgent bool, err error) {
	c.agentsMu.Lock()
	name, ok := c.agents[userID]
	c.agentsMu.Unlock()
	if ok {
		return name, name != "", nil
	}
	var a struct {
		Contact struct {
			Name string `json:"name"`
		} `json:"contact"`
	}
	_, err = c.api.do(ctx, http.MethodGet, "/agents/"+id(userID), nil, &a)
	if status(err) == http.StatusNotFound {
		a.Contact.Name, err = "", nil
	} else if err != nil {
		return "", false, err
	} else if a.Contact.Name == "" {
		a.Contact.Name = "Agent"
	}
	c.agentsMu.Lock()
	c.agents[userID] = a.Contact.Name
	c.agentsMu.Unlock()
	return a.Contact.Name, a.Contact.Name != "", nil
}

// replayScope is the scope of the connector's keys in the replay guard.
func (c *Connector) replayScope() string { return "webhook:" + c.name }

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(v)
}

func writeError(w http.ResponseWriter, status int, msg string) {
	writeJSON(w, status, map[string]string{"error": msg})
}
