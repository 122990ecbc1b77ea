package helpline

import "time"

// Contact states.
const (
	ContactActive = "CONNECTED"
	ContactEnded  = "DISCONNECTED"
)

// Reasons a contact ended, as DescribeContact's DisconnectReason reports them.
const (
	EndCustomerDisconnect = "CUSTOMER_DISCONNECT"
	EndAPI                = "API"     // StopContact
	EndExpired            = "EXPIRED" // ChatDurationInMinutes ran out
	EndAgentDisconnect    = "AGENT_DISCONNECT"
	EndFlowDisconnect     = "CONTACT_FLOW_DISCONNECT" // the flow ended it (out of hours)
)

// Contact is one chat conversation.
type Contact struct {
	ID         string
	InstanceID string
	FlowID     string
	// InitialContactID is the first contact of the chain; it equals ID for
	// a contact that continues no other.
	InitialContactID string
	// RelatedContactID is the contact this one was started as related to,
	// if any.
	RelatedContactID string
	// CustomerID is the caller-supplied customer identifier, if any.
	CustomerID string
	State      string
	// EndReason is one of the End* values once State is ContactEnded.
	EndReason string
	// Owner is who handles the contact now: bot:<id>, queue:<id> or
	// agent:<id> (see CheckOwner). It is empty for nobody: a contact whose
	// creator named no owner and that no one has taken yet, and every
	// ended contact. Store.ChangeOwner alone changes it.
	Owner string
	// Version counts the contact's owner changes: 1 when created, one more
	// at each Store.ChangeOwner and at the end. A change names the version
	// it saw, so that of two racing changes one fails.
	Version int64
	// Attributes are the contact's user-defined attributes.
	Attributes map[string]string
	// SupportedContentTypes are the message content types participants may
	// send; always includes text/plain.
	SupportedContentTypes []string
	// ClientToken is the StartChatContact idempotency token; empty if none.
	ClientToken string
	CreatedAt   time.Time
	// ExpiresAt is when the chat ends by itself (ChatDurationInMinutes).
	ExpiresAt time.Time
	// EndedAt is zero while the contact is active.
	EndedAt time.Time
	// LastSeq is the Seq of the contact's newest stored item.
	LastSeq int64
}

// Ended reports whether the contact has ended.
func (c *Contact) Ended() bool { return c.State == ContactEnded }

// Supports reports whether participants may send messages of contentType.
func (c *Contact) Supports(contentType string) bool {
	for _, t := range c.SupportedContentTypes {
		if t == contentType {
			return true
		}
	}
	return false
}

// Participant roles, as Connect names them.
const (
	RoleCustomer   = "CUSTOMER"
	RoleAgent      = "AGENT"
	RoleBot        = "CUSTOM_BOT"
	RoleSystem     = "SYSTEM"
	RoleSupervisor = "SUPERVISOR"
)

// Participant is one party to a contact.
type Participant struct {
	ID          string
	ContactID   string
	Role        string
	DisplayName string
	// ClientToken is the idempotency token the participant was created
	// with; empty if none.
	ClientToken string
	CreatedAt   time.Time
	// ConnectedAt is when the participant first connected
	// (CreateParticipantConnection with ConnectParticipant, or a socket).
	ConnectedAt time.Time
	// LeftAt is zero while the participant is in the chat.
	LeftAt time.Time
}

// Left reports whether the participant has left the contact.
func (p *Participant) Left() bool { return !p.LeftAt.IsZero() }
