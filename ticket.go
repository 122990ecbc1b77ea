package helpline

import (
	"context"
	"time"
)

// TicketDesk is what bots and automations may do, over a helpdesk's own
// API, on the ticket linked to a contact. A connector whose helpdesk has
// tickets (Zendesk Support, Freshdesk, Kustomer) implements it. Every
// method returns ENOTFOUND when the contact has no ticket yet, EINVALID
// for an id or body the helpdesk refuses, ETHROTTLED when its rate limit
// was reached, EUNSUPPORTED when the helpdesk has no documented way to do
// the action (never a silent no-op), and EINTERNAL-coded errors for other
// helpdesk failures.
type TicketDesk interface {
	// Ticket returns the contact's ticket.
	Ticket(ctx context.Context, contactID string) (*Ticket, error)
	// LatestMessage returns the ticket's newest comment, public or not.
	LatestMessage(ctx context.Context, contactID string) (*TicketMessage, error)
	// Reply adds a public comment by the integration's user.
	Reply(ctx context.Context, contactID, body string) (*TicketMessage, error)
	// AddNote adds an internal note.
	AddNote(ctx context.Context, contactID, body string) (*TicketMessage, error)
	// Assign sets the ticket's assignee and/or group; empty leaves one as is.
	Assign(ctx context.Context, contactID string, a TicketAssignment) (*Ticket, error)
	// HandOff assigns the ticket and adds an internal note with the
	// context a bot gathered: in one update where the helpdesk allows it,
	// else the assignment first and then the note, so a retry after a
	// failure assigns again rather than noting twice.
	HandOff(ctx context.Context, contactID string, a TicketAssignment, context string) (*Ticket, error)
}

// Ticket is a helpdesk ticket as TicketDesk reports it.
type Ticket struct {
	ID         string
	URL        string
	Subject    string
	Status     string
	AssigneeID string
	GroupID    string
	Tags       []string
	UpdatedAt  time.Time
}

// TicketMessage is one comment or note of a ticket.
type TicketMessage struct {
	ID        string
	AuthorID  string
	Body      string
	Public    bool
	CreatedAt time.Time
}

// TicketAssignment names an agent and/or a group of the helpdesk.
type TicketAssignment struct {
	AssigneeID string
	GroupID    string
}
