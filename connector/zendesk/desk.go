package zendesk

import (
	"context"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/helplinehq/helpline"
)

// ticketOf returns the id of the contact's ticket, from its mirror pair.
func (c *Connector) ticketOf(ctx context.Context, contactID string) (string, error) {
	pairs, err := c.pairs.FindMirrorPairs(ctx, helpline.MirrorPairFilter{Connector: c.name, ContactID: contactID})
	if err != nil {
		return "", err
	}
	for _, p := range pairs {
		if t := p.Refs[RefTicketID]; t != "" {
			return t, nil
		}
	}
	return "", helpline.Errorf(helpline.ENOTFOUND, "Contact %s has no Zendesk ticket yet.", contactID)
}

// Ticket returns the contact's ticket.
func (c *Connector) Ticket(ctx context.Context, contactID string) (*helpline.Ticket, error) {
	ticketID, err := c.ticketOf(ctx, contactID)
	if err != nil {
		return nil, err
	}
	var out struct {
		Ticket ticketIn `json:"ticket"`
	}
	if err := c.api.do(ctx, http.MethodGet, "/tickets/"+ticketID, nil, nil, &out); err != nil {
		return nil, deskError(err)
	}
	return ticketFrom(out.Ticket), nil
}

// LatestMessage returns the ticket's newest comment, public or not.
func (c *Connector) LatestMessage(ctx context.Context, contactID string) (*helpline.TicketMessage, error) {
	ticketID, err := c.ticketOf(ctx, contactID)
	if err != nil {
		return nil, err
	}
	var page commentPage
	if err := c.api.do(ctx, http.MethodGet, "/tickets/"+ticketID+"/comments?sort=-created_at&page%5Bsize%5D=1", nil, nil, &page); err != nil {
		return nil, deskError(err)
	}
	if len(page.Comments) == 0 {
		return nil, helpline.Errorf(helpline.ENOTFOUND, "Ticket %s has no comments.", ticketID)
	}
	return messageFrom(page.Comments[0]), nil
}

// Reply adds a public comment by the integration user.
func (c *Connector) Reply(ctx context.Context, contactID, body string) (*helpline.TicketMessage, error) {
	return c.comment(ctx, contactID, body, true)
}

// AddNote adds an internal note by the integration user.
func (c *Connector) AddNote(ctx context.Context, contactID, body string) (*helpline.TicketMessage, error) {
	return c.comment(ctx, contactID, body, false)
}

func (c *Connector) comment(ctx context.Context, contactID, body string, public bool) (*helpline.TicketMessage, error) {
	if body == "" {
		return nil, helpline.Errorf(helpline.EINVALID, "The comment body is empty.")
	}
	var out updateAnswer
	if err := c.update(ctx, contactID, ticketUpdate{Comment: &commentOut{Body: body, Public: public}}, &out); err != nil {
		return nil, err
	}
	for _, ev := range out.Audit.Events {
		if ev.Type == "Comment" {
			return &helpline.TicketMessage{ID: id(ev.ID), AuthorID: id(ev.AuthorID), Body: ev.Body, Public: ev.Public, CreatedAt: out.Audit.CreatedAt}, nil
		}
	}
	return &helpline.TicketMessage{Body: body, Public: public, CreatedAt: out.Ticket.UpdatedAt}, nil
}

// Assign sets the ticket's assignee and/or group.
func (c *Connector) Assign(ctx context.Context, contactID string, a helpline.TicketAssignment) (*helpline.Ticket, error) {
	return c.HandOff(ctx, contactID, a, "")
}

// HandOff assigns the ticket and, with context set, adds it as an internal
// note in the same update.
func (c *Connector) HandOff(ctx context.Context, contactID string, a helpline.TicketAssignment, context string) (*helpline.Ticket, error) {
	var upd ticketUpdate
	var err error
	if upd.AssigneeID, err = optionalID("assignee_id", a.AssigneeID); err != nil {
		return nil, err
	}
	if upd.GroupID, err = optionalID("group_id", a.GroupID); err != nil {
		return nil, err
	}
	if upd.AssigneeID == 0 && upd.GroupID == 0 {
		return nil, helpline.Errorf(helpline.EINVALID, "Name an assignee or a group.")
	}
	if context != "" {
		upd.Comment = &commentOut{Body: context, Public: false}
	}
	var out updateAnswer
	if err := c.update(ctx, contactID, upd, &out); err != nil {
		return nil, err
	}
	return ticketFrom(out.Ticket), nil
}

func (c *Connector) update(ctx context.Context, contactID string, upd ticketUpdate, out *updateAnswer) error {
	ticketID, err := c.ticketOf(ctx, contactID)
	if err != nil {
		return err
	}
	if err := c.api.do(ctx, http.MethodPut, "/tickets/"+ticketID, nil, ticketEnvelope{upd}, out); err != nil {
		return deskError(err)
	}
	return nil
}

func optionalID(field, s string) (int64, error) {
	if s == "" {
		return 0, nil
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil || n <= 0 {
		return 0, helpline.Errorf(helpline.EINVALID, "%s must be a Zendesk id (a positive number).", field)
	}
	return n, nil
}

// updateAnswer is Zendesk's answer to a ticket update.
type updateAnswer struct {
	Ticket ticketIn `json:"ticket"`
	Audit  struct {
		CreatedAt time.Time `json:"created_at"`
		Events    []struct {
			ID       int64  `json:"id"`
			Type     string `json:"type"`
			Body     string `json:"body"`
			Public   bool   `json:"public"`
			AuthorID int64  `json:"author_id"`
		} `json:"events"`
	} `json:"audit"`
}

func ticketFrom(t ticketIn) *helpline.Ticket {
	out := &helpline.Ticket{ID: id(t.ID), URL: t.URL, Subject: t.Subject, Status: t.Status, Tags: t.Tags, UpdatedAt: t.UpdatedAt}
	if t.AssigneeID != nil {
		out.AssigneeID = id(*t.AssigneeID)
	}
	if t.GroupID != nil {
		out.GroupID = id(*t.GroupID)
	}
	return out
}

func messageFrom(cm commentIn) *helpline.TicketMessage {
	return &helpline.TicketMessage{ID: id(cm.ID), AuthorID: id(cm.AuthorID), Body: orDefault(cm.PlainBody, cm.Body), Public: cm.Public, CreatedAt: cm.CreatedAt}
}

var _ helpline.TicketLinker = (*Connector)(nil)

// TicketURL returns the ticket's page in Zendesk's agent interface,
// {base_url}/agent/tickets/{id}.
func (c *Connector) TicketURL(refs map[string]string) string {
	if refs[RefTicketID] == "" {
		return ""
	}
	return strings.TrimRight(c.set.BaseURL, "/") + "/agent/tickets/" + url.PathEscape(refs[RefTicketID])
}
