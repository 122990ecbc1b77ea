package freshdesk

import (
	"context"
	"errors"
	"fmt"
	"html"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/helplinehq/helpline"
)

var _ helpline.TicketDesk = (*Connector)(nil)

// ticketOf returns the id of the contact's ticket, from its mirror pair.
func (c *Connector) ticketOf(ctx context.Context, contactID string) (string, error) {
	if c.pairs == nil {
		return "", fmt.Errorf("freshdesk connector %q: not provisioned with mirror pairs", c.name)
	}
	pairs, err := c.pairs.FindMirrorPairs(ctx, helpline.MirrorPairFilter{Connector: c.name, ContactID: contactID})
	if err != nil {
		return "", err
	}
	for _, p := range pairs {
		if t := p.Refs[RefTicketID]; t != "" {
			return t, nil
		}
	}
	return "", helpline.Errorf(helpline.ENOTFOUND, "Contact %s has no Freshdesk ticket yet.", contactID)
}

// Ticket returns the contact's ticket.
func (c *Connector) Ticket(ctx context.Context, contactID string) (*helpline.Ticket, error) {
	ticketID, err := c.ticketOf(ctx, contactID)
	if err != nil {
		return nil, err
	}
	var t deskTicketIn
	if _, err := c.api.do(ctx, http.MethodGet, "/tickets/"+ticketID, nil, &t); err != nil {
		return nil, deskError(err)
	}
	return c.ticketFrom(t), nil
}

// LatestMessage returns the ticket's newest conversation, reply or note,
// reading every page of them (Freshdesk lists them oldest first). The
// description is not a conversation: a ticket without any is ENOTFOUND.
func (c *Connector) LatestMessage(ctx context.Context, contactID string) (*helpline.TicketMessage, error) {
	ticketID, err := c.ticketOf(ctx, contactID)
	if err != nil {
		return nil, err
	}
	var last *conversationIn
	err = c.eachConversation(ctx, ticketID, func(cv conversationIn) { last = &cv })
	if err != nil {
		return nil, deskError(err)
	}
	if last == nil {
		return nil, helpline.Errorf(helpline.ENOTFOUND, "Freshdesk ticket %s has no replies or notes.", ticketID)
	}
	return messageFrom(*last), nil
}

// Reply adds a public reply by the API key's agent, which Freshdesk
// emails to the requester.
func (c *Connector) Reply(ctx context.Context, contactID, body string) (*helpline.TicketMessage, error) {
	return c.conversation(ctx, contactID, "/reply", body, func(html string) any { return replyOut{Body: html} })
}

// AddNote adds a private note by the API key's agent.
func (c *Connector) AddNote(ctx context.Context, contactID, body string) (*helpline.TicketMessage, error) {
	return c.conversation(ctx, contactID, "/notes", body, func(html string) any { return noteOut{Body: html, Private: true} })
}

// conversation posts body, as HTML, to the ticket's reply or notes
// endpoint.
func (c *Connector) conversation(ctx context.Context, contactID, endpoint, body string, in func(html string) any) (*helpline.TicketMessage, error) {
	if strings.TrimSpace(body) == "" {
		return nil, helpline.Errorf(helpline.EINVALID, "The body is empty.")
	}
	ticketID, err := c.ticketOf(ctx, contactID)
	if err != nil {
		return nil, err
	}
	var out conversationIn
	if _, err := c.api.do(ctx, http.MethodPost, "/tickets/"+ticketID+endpoint, in(htmlOf(body)), &out); err != nil {
		return nil, deskError(err)
	}
	if endpoint == "/reply" {
		// A reply's answer has no private field: a reply is public.
		out.Private = false
	}
	return messageFrom(out), nil
}

// htmlOf renders plain text as Freshdesk's HTML body.
func htmlOf(text string) string {
	return "<div>" + strings.ReplaceAll(html.EscapeString(text), "\n", "<br>") + "</div>"
}

// Assign sets the ticket's agent (responder_id) and/or group (group_id).
func (c *Connector) Assign(ctx context.Context, contactID string, a helpline.TicketAssignment) (*helpline.Ticket, error) {
	var upd assignOut
	var err error
	if upd.ResponderID, err = optionalID("assignee_id", a.AssigneeID); err != nil {
		return nil, err
	}
	if upd.GroupID, err = optionalID("group_id", a.GroupID); err != nil {
		return nil, err
	}
	if upd.ResponderID == 0 && upd.GroupID == 0 {
		return nil, helpline.Errorf(helpline.EINVALID, "Name an assignee or a group.")
	}
	ticketID, err := c.ticketOf(ctx, contactID)
	if err != nil {
		return nil, err
	}
	var t deskTicketIn
	if _, err := c.api.do(ctx, http.MethodPut, "/tickets/"+ticketID, upd, &t); err != nil {
		return nil, deskError(err)
	}
	return c.ticketFrom(t), nil
}

// HandOff assigns the ticket and then, with context set, adds it as a
// private note: Freshdesk's ticket update takes no note, so these are
// two requests, the assignment first, so that a retry after a failure
// assigns again rather than noting twice.
func (c *Connector) HandOff(ctx context.Context, contactID string, a helpline.TicketAssignment, context string) (*helpline.Ticket, error) {
	t, err := c.Assign(ctx, contactID, a)
	if err != nil || context == "" {
		return t, err
	}
	if _, err := c.AddNote(ctx, contactID, context); err != nil {
		return nil, err
	}
	return t, nil
}

func optionalID(field, s string) (int64, error) {
	if s == "" {
		return 0, nil
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil || n <= 0 {
		return 0, helpline.Errorf(helpline.EINVALID, "%s must be a Freshdesk id (a positive number).", field)
	}
	return n, nil
}

// deskError turns a failed request into the ticket actions' error codes:
// 404 ENOTFOUND, 400 EINVALID with Freshdesk's description, 429
// ETHROTTLED, anything else EINTERNAL.
func deskError(err error) error {
	switch status(err) {
	case http.StatusNotFound:
		return helpline.Errorf(helpline.ENOTFOUND, "The Freshdesk ticket was not found.")
	case http.StatusBadRequest:
		var me *helpline.MirrorError
		msg := err.Error()
		if errors.As(err, &me) {
			msg = me.Err.Error()
		}
		// The text after the status is Freshdesk's own description.
		if _, after, ok := strings.Cut(msg, "HTTP 400 Bad Request: "); ok {
			msg = after
		}
		return helpline.Errorf(helpline.EINVALID, "Freshdesk refused the change: %s", msg)
	case http.StatusTooManyRequests:
		return helpline.Errorf(helpline.ETHROTTLED, "Freshdesk's rate limit was reached; retry later.")
	}
	return fmt.Errorf("%w: %v", helpline.Errorf(helpline.EINTERNAL, "Freshdesk request failed."), err)
}

var statusNames = map[int]string{statusOpen: "open", statusPending: "pending", statusResolved: "resolved", statusClosed: "closed"}

// ticketFrom renders a ticket, its URL the agent interface's.
func (c *Connector) ticketFrom(t deskTicketIn) *helpline.Ticket {
	out := &helpline.Ticket{ID: id(t.ID), Subject: t.Subject, Status: orDefault(statusNames[t.Status], strconv.Itoa(t.Status)),
		Tags: t.Tags, UpdatedAt: t.UpdatedAt,
		URL: strings.TrimSuffix(c.api.base, "/api/v2") + "/a/tickets/" + id(t.ID)}
	if t.ResponderID != nil {
		out.AssigneeID = id(*t.ResponderID)
	}
	if t.GroupID != nil {
		out.GroupID = id(*t.GroupID)
	}
	return out
}

func messageFrom(cv conversationIn) *helpline.TicketMessage {
	return &helpline.TicketMessage{ID: id(cv.ID), AuthorID: id(cv.UserID), Body: strings.TrimSpace(orDefault(cv.BodyText, cv.Body)),
		Public: !cv.Private, CreatedAt: cv.CreatedAt}
}

// deskTicketIn is a ticket as the ticket actions read it.
type deskTicketIn struct {
	ID          int64     `json:"id"`
	Subject     string    `json:"subject"`
	Status      int       `json:"status"`
	ResponderID *int64    `json:"responder_id"`
	GroupID     *int64    `json:"group_id"`
	Tags        []string  `json:"tags"`
	UpdatedAt   time.Time `json:"updated_at"`
}

type assignOut struct {
	ResponderID int64 `json:"responder_id,omitempty"`
	GroupID     int64 `json:"group_id,omitempty"`
}

var _ helpline.TicketLinker = (*Connector)(nil)

// TicketURL returns the ticket's page in Freshdesk's agent portal,
// {base_url}/a/tickets/{id}.
func (c *Connector) TicketURL(refs map[string]string) string {
	if refs[RefTicketID] == "" {
		return ""
	}
	return strings.TrimRight(c.set.BaseURL, "/") + "/a/tickets/" + url.PathEscape(refs[RefTicketID])
}
