package kustomer

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/helplinehq/helpline"
)

var _ helpline.TicketDesk = (*Connector)(nil)

// maxNoteBody is the longest note body Kustomer takes, in characters.
const maxNoteBody = 10240

// conversationOf returns the contact's conversation and customer, from
// its mirror pair.
func (c *Connector) conversationOf(ctx context.Context, contactID string) (convID, customerID string, err error) {
	if c.pairs == nil {
		return "", "", fmt.Errorf("kustomer connector %q: not provisioned with mirror pairs", c.name)
	}
	pairs, err := c.pairs.FindMirrorPairs(ctx, helpline.MirrorPairFilter{Connector: c.name, ContactID: contactID})
	if err != nil {
		return "", "", err
	}
	for _, p := range pairs {
		if id := p.Refs[RefConversationID]; id != "" {
			return id, p.Refs[RefCustomerID], nil
		}
	}
	return "", "", helpline.Errorf(helpline.ENOTFOUND, "Contact %s has no Kustomer conversation yet.", contactID)
}

// Ticket returns the contact's conversation as a ticket: its name as the
// subject, its first assigned user and team as assignee and group.
func (c *Connector) Ticket(ctx context.Context, contactID string) (*helpline.Ticket, error) {
	convID, _, err := c.conversationOf(ctx, contactID)
	if err != nil {
		return nil, err
	}
	var got one
	if err := c.api.do(ctx, http.MethodGet, "/conversations/"+convID, nil, &got); err != nil {
		return nil, deskError(err)
	}
	return ticketFrom(got.Data), nil
}

// LatestMessage returns the conversation's newest message or note,
// reading every page of both.
func (c *Connector) LatestMessage(ctx context.Context, contactID string) (*helpline.TicketMessage, error) {
	convID, _, err := c.conversationOf(ctx, contactID)
	if err != nil {
		return nil, err
	}
	var latest *helpline.TicketMessage
	keep := func(m *helpline.TicketMessage) {
		if latest == nil || !m.CreatedAt.Before(latest.CreatedAt) {
			latest = m
		}
	}
	msgs, err := c.api.all(ctx, "/conversations/"+convID+"/messages")
	if err != nil {
		return nil, deskError(err)
	}
	for _, r := range msgs {
		var a struct {
			Preview   string         `json:"preview"`
			Meta      map[string]any `json:"meta"`
			CreatedAt time.Time      `json:"createdAt"`
		}
		unmarshal(r.Attributes, &a)
		body := a.Preview
		if b, ok := a.Meta["body"].(string); ok && b != "" {
			body = b
		}
		keep(&helpline.TicketMessage{ID: r.ID, AuthorID: r.related("createdBy"), Body: body, Public: true, CreatedAt: a.CreatedAt})
	}
	notes, err := c.api.all(ctx, "/conversations/"+convID+"/notes")
	if err != nil {
		return nil, deskError(err)
	}
	for _, r := range notes {
		keep(noteFrom(r))
	}
	if latest == nil {
		return nil, helpline.Errorf(helpline.ENOTFOUND, "Kustomer conversation %s has no messages or notes.", convID)
	}
	return latest, nil
}

// Reply is unsupported: a message created through Kustomer's API is
// only recorded on the conversation's timeline and reaches nobody, and
// sending one out through the conversation's channel is done by
// Kustomer's messaging (draft) APIs, which the connector does not use.
func (c *Connector) Reply(ctx context.Context, contactID, body string) (*helpline.TicketMessage, error) {
	return nil, helpline.Errorf(helpline.EUNSUPPORTED,
		"Kustomer cannot send a public reply through its API: a message created there is only recorded on the conversation's timeline. Add a note, or reply from Kustomer.")
}

// AddNote adds an internal note, within the customer's note budget that
// the mirror shares (120 a minute): when it is spent the answer is
// ETHROTTLED.
func (c *Connector) AddNote(ctx context.Context, contactID, body string) (*helpline.TicketMessage, error) {
	if n := len([]rune(body)); strings.TrimSpace(body) == "" || n > maxNoteBody {
		return nil, helpline.Errorf(helpline.EINVALID, "A Kustomer note has 1 to %d characters.", maxNoteBody)
	}
	convID, customerID, err := c.conversationOf(ctx, contactID)
	if err != nil {
		return nil, err
	}
	if wait := c.pace.Take(customerID, 1, c.now()); wait > 0 {
		return nil, helpline.Errorf(helpline.ETHROTTLED, "The customer's Kustomer note budget is spent; retry after %s.", wait.Round(time.Millisecond))
	}
	var created one
	if err := c.api.do(ctx, http.MethodPost, "/conversations/"+convID+"/notes", map[string]string{"body": body}, &created); err != nil {
		return nil, deskError(err)
	}
	return noteFrom(created.Data), nil
}

// Assign sets the conversation's assigned user and/or team, each
// replacing the list Kustomer holds.
func (c *Connector) Assign(ctx context.Context, contactID string, a helpline.TicketAssignment) (*helpline.Ticket, error) {
	upd := map[string][]string{}
	for field, id := range map[string]string{"assignedUsers": a.AssigneeID, "assignedTeams": a.GroupID} {
		if id == "" {
			continue
		}
		if strings.ContainsAny(id, "/?#% ") {
			return nil, helpline.Errorf(helpline.EINVALID, "%q is not a Kustomer id.", id)
		}
		upd[field] = []string{id}
	}
	if len(upd) == 0 {
		return nil, helpline.Errorf(helpline.EINVALID, "Name an assignee (a Kustomer user) or a group (a Kustomer team).")
	}
	convID, _, err := c.conversationOf(ctx, contactID)
	if err != nil {
		return nil, err
	}
	var got one
	if err := c.api.do(ctx, http.MethodPatch, "/conversations/"+convID, upd, &got); err != nil {
		return nil, deskError(err)
	}
	return ticketFrom(got.Data), nil
}

// HandOff assigns the conversation and then, with context set, adds it
// as a note: two requests, the assignment first, so that a retry after a
// failure assigns again rather than noting twice.
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

// deskError turns a failed request into the ticket actions' error codes:
// 404 ENOTFOUND, 400 and 422 EINVALID with Kustomer's message, 429
// ETHROTTLED, anything else EINTERNAL.
func deskError(err error) error {
	var e *apiError
	if !errors.As(err, &e) {
		return err
	}
	switch e.Status {
	case http.StatusNotFound:
		return helpline.Errorf(helpline.ENOTFOUND, "The Kustomer conversation was not found.")
	case http.StatusBadRequest, http.StatusUnprocessableEntity:
		return helpline.Errorf(helpline.EINVALID, "Kustomer refused the change: %s", e.Body)
	case http.StatusTooManyRequests:
		return helpline.Errorf(helpline.ETHROTTLED, "Kustomer's rate limit was reached; retry later.")
	}
	return fmt.Errorf("%w: %v", helpline.Errorf(helpline.EINTERNAL, "Kustomer request failed."), err)
}

func ticketFrom(r resource) *helpline.Ticket {
	var a struct {
		Name          string    `json:"name"`
		Status        string    `json:"status"`
		AssignedUsers []string  `json:"assignedUsers"`
		AssignedTeams []string  `json:"assignedTeams"`
		Tags          []string  `json:"tags"`
		UpdatedAt     time.Time `json:"updatedAt"`
	}
	unmarshal(r.Attributes, &a)
	t := &helpline.Ticket{ID: r.ID, Subject: a.Name, Status: a.Status, Tags: a.Tags, UpdatedAt: a.UpdatedAt}
	if len(a.AssignedUsers) > 0 {
		t.AssigneeID = a.AssignedUsers[0]
	}
	if len(a.AssignedTeams) > 0 {
		t.GroupID = a.AssignedTeams[0]
	}
	return t
}

func noteFrom(r resource) *helpline.TicketMessage {
	var a struct {
		Body      string    `json:"body"`
		CreatedAt time.Time `json:"createdAt"`
	}
	unmarshal(r.Attributes, &a)
	return &helpline.TicketMessage{ID: r.ID, AuthorID: r.related("createdBy"), Body: a.Body, CreatedAt: a.CreatedAt}
}

var _ helpline.TicketLinker = (*Connector)(nil)

// TicketURL returns the conversation's page in Kustomer's agent app,
// {app}/app/customers/{customer id}/event/{conversation id}, where the
// app is the API's address without its "api." (https://acme.kustomerapp.com
// for https://acme.api.kustomerapp.com); another base_url (a proxy, a
// stand-in) is taken as the app's address too.
func (c *Connector) TicketURL(refs map[string]string) string {
	cust, conv := refs[RefCustomerID], refs[RefConversationID]
	if cust == "" || conv == "" {
		return ""
	}
	app, err := url.Parse(strings.TrimRight(c.set.BaseURL, "/"))
	if err != nil {
		return ""
	}
	if org, ok := strings.CutSuffix(app.Host, ".api.kustomerapp.com"); ok {
		app.Host, app.Path = org+".kustomerapp.com", ""
	}
	return app.String() + "/app/customers/" + url.PathEscape(cust) + "/event/" + url.PathEscape(conv)
}
