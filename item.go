package helpline

import (
	"strings"
	"time"
)

// Item types.
const (
	ItemMessage    = "MESSAGE"
	ItemEvent      = "EVENT"
	ItemAttachment = "ATTACHMENT"
	ItemMetadata   = "MESSAGEMETADATA"
)

// Message content types.
const (
	ContentPlain               = "text/plain"
	ContentMarkdown            = "text/markdown"
	ContentJSON                = "application/json"
	ContentInteractive         = "application/vnd.amazonaws.connect.message.interactive"
	ContentInteractiveResponse = "application/vnd.amazonaws.connect.message.interactive.response"
)

// Event content types.
const (
	EventPrefix            = "application/vnd.amazonaws.connect.event."
	EventTyping            = EventPrefix + "typing"
	EventMessageRead       = EventPrefix + "message.read"
	EventMessageDelivered  = EventPrefix + "message.delivered"
	EventMessageMetadata   = EventPrefix + "message.metadata"
	EventParticipantJoined = EventPrefix + "participant.joined"
	EventParticipantLeft   = EventPrefix + "participant.left"
	EventChatEnded         = EventPrefix + "chat.ended"

	// HelplineEventPrefix starts the content types of Helpline's own
	// events: they record what happened to the contact for its agents,
	// the store and the connectors, and are not shown to participants on
	// the Amazon Connect API (see IsHelplineEvent).
	HelplineEventPrefix = "application/vnd.helpline.event."

	// EventOwnerChanged, a Helpline event, records a change of the
	// contact's owner; its content is an OwnerTransition as JSON.
	EventOwnerChanged = HelplineEventPrefix + "owner.changed"
	// EventCustomerUpdated, a Helpline event, records that the customer's
	// identity changed after the contact started (a name or an email
	// learned later); its content is a CustomerUpdate as JSON, and the
	// item's DisplayName is the customer's new name.
	EventCustomerUpdated = HelplineEventPrefix + "customer.updated"
)

// IsHelplineEvent reports whether it is one of Helpline's own events
// (owner changes, handoffs, identity updates): internal records that
// customers and Connect clients do not see.
func IsHelplineEvent(it *Item) bool {
	return it.Type == ItemEvent && strings.HasPrefix(it.ContentType, HelplineEventPrefix)
}

// SystemDisplayName is the DisplayName of items the system sends: a flow's
// greeting, chat.ended, owner.changed.
const SystemDisplayName = "SYSTEM_MESSAGE"

// SystemParticipantID is the ParticipantID of a contact's SYSTEM items (the
// greeting, chat.ended, owner.changed). There is no system participant
// record; the id is the contact's own, so it is stable and unique per
// contact.
func SystemParticipantID(contactID string) string { return contactID }

// Attachment statuses.
const (
	AttachmentApproved   = "APPROVED"
	AttachmentRejected   = "REJECTED"
	AttachmentInProgress = "IN_PROGRESS"
)

// Item is one transcript entry: a message, a persisted event, an attachment
// or a receipt. Items of a contact are numbered by Seq, 1, 2, 3, ... in the
// order they were stored; Seq 0 marks an ephemeral item (typing) that is
// fanned out but never stored.
type Item struct {
	ContactID     string
	Seq           int64
	ID            string
	Type          string
	ContentType   string
	Content       string
	ParticipantID string
	DisplayName   string
	Role          string
	Time          time.Time
	// Attachments is set on ATTACHMENT items.
	Attachments []AttachmentRef
	// Metadata is set on MESSAGEMETADATA items.
	Metadata *MessageMetadata
	// ClientToken is the sender's idempotency token; empty if none.
	ClientToken string
	// Origin names the connector an item came in through (an agent reply
	// typed in a helpdesk); empty for items sent to Helpline directly.
	// A connector does not mirror items of its own origin back.
	Origin string
}

// Stored reports whether the item is part of the transcript.
func (it *Item) Stored() bool { return it.Seq > 0 }

// AttachmentRef is an attachment as an ATTACHMENT item carries it.
type AttachmentRef struct {
	ID          string
	Name        string
	ContentType string
	Status      string
}

// MessageMetadata is a receipt on an earlier message.
type MessageMetadata struct {
	MessageID string
	Receipts  []Receipt
}

// Receipt says one participant received or read a message.
type Receipt struct {
	RecipientParticipantID string
	DeliveredAt            time.Time // zero if not reported
	ReadAt                 time.Time // zero if not read
}

// MaxAttachmentSize is Amazon Connect's hard limit for a chat attachment,
// in bytes (20 MB): the engine's default limit, and the most a transport
// reads of an upload.
const MaxAttachmentSize = 20 << 20

// Attachment is a file a participant uploads into a contact.
type Attachment struct {
	ID            string
	ContactID     string
	ParticipantID string
	Name          string
	ContentType   string
	// Size is the declared size in bytes; the upload must match it.
	Size        int64
	Status      string // AttachmentInProgress until uploaded and completed
	ClientToken string
	CreatedAt   time.Time
	// UploadedAt is set when the file's bytes are stored.
	UploadedAt time.Time
}
