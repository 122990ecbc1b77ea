package helpline

import (
	"context"
	"io"
	"time"
)

// The engine (package chat) is seen through one interface per kind of
// caller, so that each depends only on what it may do: ContactService for
// callers signed by an instance's keys, ParticipantService for callers
// holding a participant's tokens, Feed for realtime delivery, and Intake for
// connectors bringing messages in from outside systems.

// ContactService is the contact operations: what a caller signed by an
// instance's keys (Connect's StartChatContact, CreateParticipant,
// StopContact, DescribeContact, the contact attributes) may do. The caller
// has checked the signature; a contact of another instance is ENOTFOUND.
type ContactService interface {
	// StartChat creates a contact with its customer participant and returns
	// the participant token. It is idempotent on (InstanceID, ClientToken).
	// Errors: EINVALID, ENOTFOUND (instance or flow), EQUOTA (active chats).
	StartChat(ctx context.Context, in StartChatInput) (*ChatStarted, error)
	// AddParticipant adds an agent or bot to an active contact. It is
	// idempotent on (ContactID, ClientToken). Errors: EINVALID, ENOTFOUND,
	// ECONFLICT (contact ended).
	AddParticipant(ctx context.Context, in AddParticipantInput) (*ParticipantAdded, error)
	// FindInstance returns an instance, or ENOTFOUND (Resource INSTANCE).
	FindInstance(ctx context.Context, id string) (*Instance, error)
	// StopContact ends a contact (reason API). Stopping an ended contact is
	// not an error.
	StopContact(ctx context.Context, instanceID, contactID string) error
	// FindContact returns a contact of the instance, or ENOTFOUND.
	FindContact(ctx context.Context, instanceID, contactID string) (*Contact, error)
	// UpdateContactAttributes merges attrs into the contact's attributes.
	UpdateContactAttributes(ctx context.Context, instanceID, contactID string, attrs map[string]string) (*Contact, error)
}

// ParticipantService is the participant operations, authorised by
// participant and connection tokens: a caller first resolves its token with
// Authenticate and then acts within the returned Session, which reaches
// only its own contact. The attachment upload and download tokens that it
// hands out authorise UploadAttachment and OpenAttachment by themselves.
type ParticipantService interface {
	// Authenticate resolves a participant or connection token to its
	// session. Unknown, tampered, expired and ended tokens are EFORBIDDEN.
	// A connection token's session may report an older Contact.LastSeq
	// than the contact's.
	Authenticate(ctx context.Context, kind TokenKind, token string) (*Session, error)
	// CreateConnection issues a connection token and a WebSocket token for
	// a participant session (authenticated by its participant token). With
	// connect set it marks the participant connected. It may be called any
	// number of times during the participant's lifetime.
	CreateConnection(ctx context.Context, s *Session, connect bool) (*Connection, error)
	// SendMessage appends a message; idempotent on the session's
	// participant and clientToken.
	SendMessage(ctx context.Context, s *Session, contentType, content, clientToken string) (*Item, error)
	// SendEvent fans a typing event out without storing it, or stores a
	// read or delivered receipt as a MESSAGEMETADATA item.
	SendEvent(ctx context.Context, s *Session, contentType, content, clientToken string) (*Item, error)
	// Disconnect makes the participant leave; when the customer leaves the
	// contact ends. Disconnecting twice is not an error.
	Disconnect(ctx context.Context, s *Session) error
	// Transcript returns one page of the contact's transcript.
	Transcript(ctx context.Context, s *Session, q TranscriptQuery) (*TranscriptPage, error)
	// StartAttachmentUpload registers an upload and returns its record and
	// the token of its upload URL. Idempotent on (participant, clientToken).
	StartAttachmentUpload(ctx context.Context, s *Session, in AttachmentUpload) (*Attachment, string, error)
	// UploadAttachment stores the bytes of an upload named by its upload
	// token. The body must be exactly the declared size.
	UploadAttachment(ctx context.Context, uploadToken, contentType string, body io.Reader) error
	// CompleteAttachmentUpload appends the uploaded attachment to the
	// transcript as an ATTACHMENT item.
	CompleteAttachmentUpload(ctx context.Context, s *Session, attachmentID, clientToken string) (*Item, error)
	// GetAttachment returns a completed attachment of the session's contact
	// and a download token valid for expiry.
	GetAttachment(ctx context.Context, s *Session, attachmentID string, expiry time.Duration) (*Attachment, string, error)
	// OpenAttachment opens the file a download token names.
	OpenAttachment(ctx context.Context, downloadToken string) (*Attachment, io.ReadCloser, error)
}

// Feed is the realtime side of the engine: it delivers a contact's items
// to an authenticated participant's sockets as they happen.
type Feed interface {
	// Watch delivers to sink every item of the session's contact with a
	// Seq above from, in Seq order, then every later item (ephemeral ones
	// such as typing included) as it happens, until the session ends or
	// stop is called. See Sink for the rules. Of the session it reads the
	// contact's and the participant's IDs only.
	Watch(ctx context.Context, s *Session, from int64, sink Sink) (stop func(), err error)
}

// Sink receives a watched contact's items. Deliver is called from the
// engine's fan-out and must not block: it returns false when the sink
// cannot keep up, and the engine then drops it (calls End). End is called
// once, after the last delivery: when the chat ends or the participant
// leaves (after delivering chat.ended), or when the sink is dropped.
type Sink interface {
	Deliver(it *Item) bool
	End()
}

// Intake is what a connector may do to the chat: start a chat for a
// conversation that began in its outside system, post the messages that
// come in from there, and end the chat when that conversation ends.
type Intake interface {
	// StartChat is ContactService.StartChat. A connector derives
	// ClientToken from the outside conversation's id, so that every event
	// of that conversation finds the chat its first event started.
	StartChat(ctx context.Context, in StartChatInput) (*ChatStarted, error)
	// PostExternalMessage appends a message that came in through a
	// connector (an agent reply typed in a helpdesk, a message of a chat
	// mirrored from elsewhere) and publishes it like any other. It is
	// idempotent on (ContactID, Origin, ExternalID): a retry returns the
	// stored item and publishes nothing. Errors: EINVALID, ENOTFOUND
	// (Resource CONTACT), EFORBIDDEN if the contact has ended.
	PostExternalMessage(ctx context.Context, in ExternalMessage) (*Item, error)
	// StopContact is ContactService.StopContact: stopping an ended
	// contact is not an error.
	StopContact(ctx context.Context, instanceID, contactID string) error
	// UpdateCustomer records what the outside system learned about the
	// contact's customer after the contact started: it renames the
	// customer participant (when DisplayName is set) and merges Attributes
	// into the contact's, and when that changed anything it appends and
	// publishes a customer.updated EVENT (EventCustomerUpdated), so that
	// connectors see the change in order with the lines around it. Lines
	// sent afterwards carry the new name. Repeating an update changes
	// nothing and appends nothing. Errors: EINVALID (a name or attributes
	// StartChat would refuse), ENOTFOUND (Resource CONTACT); on an ended
	// contact the attributes are merged and no item is appended.
	UpdateCustomer(ctx context.Context, u CustomerUpdate) (*Contact, error)
	// FindInstance is ContactService.FindInstance, for a connector to
	// check at start that the instance it feeds exists.
	FindInstance(ctx context.Context, id string) (*Instance, error)
}

// CustomerUpdate is an UpdateCustomer request, and the content of the
// customer.updated EVENT it appends (DisplayName and the attributes that
// changed).
type CustomerUpdate struct {
	ContactID   string            `json:"-"`
	DisplayName string            `json:"display_name,omitempty"`
	Attributes  map[string]string `json:"attributes,omitempty"`
}

// Session is an authenticated participant of a contact.
type Session struct {
	Participant *Participant
	Contact     *Contact
	// Instance is the contact's instance.
	Instance *Instance
	// Owner, when set, is the owner the participant speaks for (a bot's
	// bot:<id>, an agent's agent:<id>): its messages are stored only
	// while the contact's owner is Owner (Store.AppendOwnedItem), and are
	// refused with ECONFLICT once the contact has moved on. Sessions of
	// participant tokens have none.
	Owner string
}

// StartChatInput is a StartChatContact request.
type StartChatInput struct {
	InstanceID    string
	ContactFlowID string
	DisplayName   string
	Attributes    map[string]string
	// InitialMessage, when ContentType is set, is sent by the customer
	// right after joining.
	InitialMessage struct{ ContentType, Content string }
	ClientToken    string
	// ChatDuration is how long the chat may last; zero means the default.
	ChatDuration time.Duration
	// SupportedContentTypes must include text/plain when set; empty means
	// text/plain only.
	SupportedContentTypes []string
	CustomerID            string
	RelatedContactID      string
}

// ExternalMessage is a message that came in through connector Origin.
type ExternalMessage struct {
	ContactID string
	// Origin is the connector's name; the item's Origin is set to it.
	Origin string
	// Role is RoleAgent, for a participant of that role named AuthorName
	// (joined on first use, the same one afterwards), or RoleCustomer, for
	// the contact's customer.
	Role       string
	AuthorName string
	// ExternalID identifies the message in the outside system.
	ExternalID  string
	ContentType string
	Content     string
}

// ChatStarted is StartChat's result.
type ChatStarted struct {
	Contact          *Contact
	Participant      *Participant
	ParticipantToken string
}

// AddParticipantInput is a CreateParticipant request.
type AddParticipantInput struct {
	InstanceID  string
	ContactID   string
	Role        string // RoleBot or RoleAgent
	DisplayName string
	ClientToken string
}

// ParticipantAdded is AddParticipant's result.
type ParticipantAdded struct {
	Participant      *Participant
	ParticipantToken string
	// Expiry is when the participant token stops working.
	Expiry time.Time
}

// Connection is CreateConnection's result.
type Connection struct {
	ConnectionToken  string
	ConnectionExpiry time.Time
	// WebSocketToken authorises one socket of the participant; it must be
	// used before WebSocketExpiry.
	WebSocketToken  string
	WebSocketExpiry time.Time
}

// TranscriptQuery is a GetTranscript request.
type TranscriptQuery struct {
	// ContactID, when set, must be the session's contact or its initial
	// contact.
	ContactID  string
	MaxResults int    // 0 means 10; at most 100
	NextToken  string // from an earlier page with the same parameters
	// ScanDirection is FORWARD or BACKWARD; empty means BACKWARD without a
	// start position and FORWARD with one.
	ScanDirection string
	SortOrder     string // ASCENDING or DESCENDING (default)
	StartID       string
	StartTime     time.Time
	MostRecent    int // 0 means unset
}

// TranscriptPage is GetTranscript's result.
type TranscriptPage struct {
	InitialContactID string
	Items            []*Item
	// NextToken is empty on the last page.
	NextToken string
}

// AttachmentUpload is a StartAttachmentUpload request.
type AttachmentUpload struct {
	Name        string
	ContentType string
	Size        int64
	ClientToken string
}

// BlobStore keeps attachment files. Every implementation passes the
// contract suite in package blobtest.
type BlobStore interface {
	// Put stores exactly size bytes from r under key, replacing any
	// earlier file; it fails with EINVALID if r holds more or fewer bytes
	// or key fails CheckBlobKey.
	Put(ctx context.Context, key string, size int64, r io.Reader) error
	// Open returns the file stored under key, or ENOTFOUND; EINVALID if
	// key fails CheckBlobKey.
	Open(ctx context.Context, key string) (io.ReadCloser, error)
}

// MaxBlobKeyLen caps a BlobStore key's length, well below any file
// system's name limit.
const MaxBlobKeyLen = 200

// CheckBlobKey returns EINVALID unless key is 1 to MaxBlobKeyLen ASCII
// letters, digits, '-' and '_': a key names a file in a directory store,
// so it must not be able to leave the directory or clash with the
// store's own files.
func CheckBlobKey(key string) error {
	if key == "" || len(key) > MaxBlobKeyLen {
		return Errorf(EINVALID, "The file key must be 1 to %d characters long.", MaxBlobKeyLen)
	}
	for _, c := range []byte(key) {
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '-' || c == '_') {
			return Errorf(EINVALID, "The file key may hold only letters, digits, '-' and '_'.")
		}
	}
	return nil
}

// BotEngine is what the bot runner may do to a contact a bot owns: join
// it as its CUSTOM_BOT participant and speak as that participant, merge
// attributes, hand it over by owner change and end it. chat.Service
// implements it.
type BotEngine interface {
	// AddParticipant is ContactService.AddParticipant: idempotent on
	// (ContactID, ClientToken), so the bot joins once.
	AddParticipant(ctx context.Context, in AddParticipantInput) (*ParticipantAdded, error)
	// SendMessage is ParticipantService.SendMessage, for the bot's
	// session: idempotent on (participant, clientToken). With the
	// session's Owner set, a message of a contact that changed owner is
	// ECONFLICT and stored nowhere.
	SendMessage(ctx context.Context, s *Session, contentType, content, clientToken string) (*Item, error)
	// UpdateContactAttributes is ContactService.UpdateContactAttributes.
	UpdateContactAttributes(ctx context.Context, instanceID, contactID string, attrs map[string]string) (*Contact, error)
	// ChangeOwner moves the contact by compare-and-swap, appends and
	// publishes the owner.changed item; ECONFLICT when the owner or
	// version moved on.
	ChangeOwner(ctx context.Context, ch OwnerChange) (*Contact, *Item, error)
	// StopContact is ContactService.StopContact.
	StopContact(ctx context.Context, instanceID, contactID string) error
	// Disconnect is ParticipantService.Disconnect, for the bot's session:
	// the bot leaves the chat (participant.left) when it hands off.
	Disconnect(ctx context.Context, s *Session) error
	// EndContact ends the contact now with reason (an End* value), as
	// StopContact does with EndAPI: the CSAT question's end is the
	// agent's close (EndAgentDisconnect). Ending an ended contact is not
	// an error.
	EndContact(ctx context.Context, instanceID, contactID, reason string) error
}
