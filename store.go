package helpline

import (
	"context"
	"time"
)

// Store is the durable source of truth: instances, contacts, participants,
// transcript items and attachments. Every method is safe for concurrent
// use. Unless a method says otherwise, a missing row is ENOTFOUND.
//
// Every implementation passes the contract suite in package storetest.
type Store interface {
	MirrorStore
	ReplayGuard
	RoutingStore
	AuthStore
	WidgetStore
	CannedStore

	// SaveInstance creates or replaces the instance with in.ID.
	SaveInstance(ctx context.Context, in *Instance) error
	// FindInstanceByID returns ENOTFOUND (Resource INSTANCE) if there is none.
	FindInstanceByID(ctx context.Context, id string) (*Instance, error)
	// FindInstances returns every instance, ordered by id.
	FindInstances(ctx context.Context) ([]*Instance, error)

	// Secret returns the secret stored under name. On first use it stores
	// the value gen returns; callers racing on first use all get the one
	// value that was stored.
	Secret(ctx context.Context, name string, gen func() ([]byte, error)) ([]byte, error)

	// CreateContact stores a new contact, its customer and its opening
	// items (participant joined, initial message, ...) in one transaction,
	// numbering the items from Seq 1 and setting Contact.LastSeq.
	//
	// It is idempotent on (InstanceID, ClientToken) when ClientToken is not
	// empty: a retry writes nothing, fills nc.Contact and nc.Customer with
	// the stored ones, sets nc.Items to nil and returns replayed=true.
	//
	// It returns EQUOTA if the instance already has nc.MaxActive or more
	// active contacts (0 means no limit), and EINVALID if Contact.Owner is
	// not an owner (CheckOwner). It sets Contact.Version to 1; the owner
	// is the caller's to choose, empty for nobody. A contact created with
	// an owner (the flow's queue or bot) carries among its items the
	// owner.changed item that records it (OwnerChange.Item from nobody),
	// so that it is owned from the transaction that creates it; in a
	// queue it waits from CreatedAt.
	CreateContact(ctx context.Context, nc *NewContact) (replayed bool, err error)
	// FindContactByID returns ENOTFOUND (Resource CONTACT) if there is none.
	FindContactByID(ctx context.Context, id string) (*Contact, error)
	// UpdateContactAttributes merges attrs into the contact's attributes and
	// returns the updated contact. It works on ended contacts too.
	UpdateContactAttributes(ctx context.Context, id string, attrs map[string]string) (*Contact, error)
	// UpdateCustomer sets the display name of the contact's customer
	// participant to displayName (unless it is empty) and merges attrs into
	// the contact's attributes; when that changed anything and the contact
	// is active it appends it (numbering it as AppendItem does), all in one
	// transaction. It returns the contact afterwards and whether anything
	// changed: an update that changes nothing writes nothing, so of
	// callers racing with the same update one appends it. On an ended
	// contact it merges the attributes and renames, and appends nothing.
	UpdateCustomer(ctx context.Context, contactID, displayName string, attrs map[string]string, it *Item) (c *Contact, changed bool, err error)
	// SaveBotState stores the bot runner's state of a contact — bytes the
	// store keeps as given (JSON in practice) — replacing the one before,
	// in one write; an empty state forgets it. It works on ended contacts
	// too. ENOTFOUND (Resource CONTACT) for an unknown contact.
	SaveBotState(ctx context.Context, contactID string, state []byte) error
	// FindBotState returns the state SaveBotState stored last for the
	// contact, nil when there is none (an unknown contact has none).
	FindBotState(ctx context.Context, contactID string) ([]byte, error)
	// FindBotContacts returns every active contact owned by a bot (Owner
	// bot:<id>), oldest first: what the bot runner catches up on after a
	// start or lost bus events.
	FindBotContacts(ctx context.Context) ([]*Contact, error)
	// FindContactsToExpire returns up to limit active contacts whose
	// ExpiresAt is at or before t, oldest first.
	FindContactsToExpire(ctx context.Context, t time.Time, limit int) ([]*Contact, error)
	// EndContact marks an active contact ended with reason at time at,
	// clears its owner (bumping Version), marks its remaining participants
	// left, and appends items, all in one transaction. It returns
	// ended=false and writes nothing if the contact had already ended.
	EndContact(ctx context.Context, id, reason string, at time.Time, items []*Item) (ended bool, err error)

	// CreateParticipant adds p to an active contact and appends items
	// (participant joined) in the same transaction. It is idempotent on
	// (ContactID, ClientToken) when ClientToken is not empty: a retry fills
	// *p with the stored participant, writes nothing and returns
	// replayed=true. It returns ECONFLICT if the contact has ended.
	CreateParticipant(ctx context.Context, p *Participant, items []*Item) (replayed bool, err error)
	// FindParticipantByID returns ENOTFOUND (Resource PARTICIPANT) if there is none.
	FindParticipantByID(ctx context.Context, id string) (*Participant, error)
	// FindParticipants returns the participants of a contact in the order
	// they joined.
	FindParticipants(ctx context.Context, contactID string) ([]*Participant, error)
	// MarkParticipantConnected sets ConnectedAt if it is not set yet.
	MarkParticipantConnected(ctx context.Context, id string, at time.Time) error
	// LeaveParticipant marks a participant of an active contact left at
	// time at and appends items (participant left), in one transaction. It
	// returns left=false and writes nothing if the participant had already
	// left.
	LeaveParticipant(ctx context.Context, id string, at time.Time, items []*Item) (left bool, err error)

	// AppendItem stores it as the contact's next item: it sets it.Seq and
	// advances Contact.LastSeq in one transaction. It keeps it.ID and
	// it.Time as given.
	//
	// It is idempotent on (ContactID, ParticipantID, ClientToken) when
	// ClientToken is not empty: a retry fills *it with the stored item and
	// returns replayed=true. It returns ECONFLICT if the contact has ended
	// and EFORBIDDEN if it.ParticipantID names a participant of the
	// contact who has left, checked in the same transaction, so that a
	// sender's stale view of its session cannot add to the transcript.
	AppendItem(ctx context.Context, it *Item) (replayed bool, err error)
	// AppendOwnedItem is AppendItem for a participant speaking for owner
	// (a bot as bot:<id>, an agent as agent:<id>): it stores it only
	// while the contact's owner is owner, checked in the same transaction
	// as the append, so that no message of an owner slips in after the
	// change that took the contact from it. A mismatch is ECONFLICT, with
	// nothing stored; an ended contact, whose owner is nobody, is ECONFLICT
	// as for AppendItem. Idempotency comes first: a retry of an item
	// stored before the owner changed returns it, replayed=true.
	AppendOwnedItem(ctx context.Context, it *Item, owner string) (replayed bool, err error)
	// ChangeOwner moves an active contact from owner ch.From to ch.To
	// provided its owner is still ch.From and its Version still
	// ch.Version: it sets the owner, adds one to Version and appends
	// ch.Item() (an owner.changed EVENT recording from, to, reason and
	// actor) in one transaction, and returns the updated contact and the
	// stored item. Of changes racing from one (owner, version) exactly one
	// succeeds. The contact's pending offers are withdrawn in the same
	// transaction, and its old owner's load drops with the change: a
	// transfer releases the old assignee at once.
	//
	// It returns ECONFLICT, writing nothing, if the owner or version no
	// longer match or the contact has ended; ENOTFOUND (Resource CONTACT)
	// for an unknown contact; EINVALID if ch fails ch.Check. When ch.To is
	// an agent of the contact's instance (RoutingStore), it also returns
	// EQUOTA if the agent is at capacity and ECONFLICT if it is disabled;
	// an agent owner with no agent row is not checked.
	ChangeOwner(ctx context.Context, ch *OwnerChange) (*Contact, *Item, error)
	// FindItemByID returns the contact's item with the given id, or
	// ENOTFOUND (Resource ITEM).
	FindItemByID(ctx context.Context, contactID, id string) (*Item, error)
	// FindItems returns the contact's stored items that q selects, in scan
	// order (ascending Seq forward, descending backward).
	FindItems(ctx context.Context, contactID string, q ItemQuery) ([]*Item, error)

	// CreateAttachment stores a new attachment record. It is idempotent on
	// (ParticipantID, ClientToken): a retry fills *a with the stored record
	// and returns replayed=true. It returns EQUOTA if the contact already
	// has maxPerContact attachments (0 means no limit).
	CreateAttachment(ctx context.Context, a *Attachment, maxPerContact int) (replayed bool, err error)
	// FindAttachmentByID returns ENOTFOUND (Resource ATTACHMENT) if there is none.
	FindAttachmentByID(ctx context.Context, id string) (*Attachment, error)
	// MarkAttachmentUploaded records that the attachment's bytes are stored.
	MarkAttachmentUploaded(ctx context.Context, id string, at time.Time) error
	// CompleteAttachment sets the attachment's status to APPROVED and
	// appends it (an ATTACHMENT item) in one transaction, with AppendItem's
	// idempotency and errors. A non-empty owner makes it conditional as
	// AppendOwnedItem is: ECONFLICT, and nothing changed, unless the
	// contact's owner is owner.
	CompleteAttachment(ctx context.Context, id string, it *Item, owner string) (replayed bool, err error)

	Close() error
}

// ReplayGuard remembers keys for a while, so that something received
// twice is acted on once: an inbound webhook delivery replayed after a
// restart, or to another node sharing the store, is still recognised.
// Its memory is the store's, shared by every node and kept across
// restarts. Methods are safe for concurrent use.
type ReplayGuard interface {
	// RememberOnce records key in scope until the time until and reports
	// whether this is its first sighting: true when the key is unknown in
	// scope or its entry has expired (its until is at or before now),
	// false when a live entry holds it. Of callers racing on one key
	// exactly one gets true. Scopes are independent: the same key in two
	// scopes is two keys. Entries expired at now are pruned.
	//
	// now is the caller's clock, so that the store needs none of its own
	// and fake clocks work.
	RememberOnce(ctx context.Context, scope, key string, now, until time.Time) (first bool, err error)
	// Forget drops key from scope, so that its next sighting is a first
	// one again: for a caller that could not act on what it remembered and
	// wants a retry to be accepted. Forgetting an unknown key is not an
	// error.
	Forget(ctx context.Context, scope, key string) error
}

// KeyLocker serialises, across every node sharing a store, the holders of
// one key: for a read-modify-write of a record outside Helpline that the
// outside system offers no compare-and-swap for (a Sell lead's
// description). A store that several nodes share implements it; one that
// a single process owns need not, its users then locking within the
// process. Methods are safe for concurrent use.
type KeyLocker interface {
	// LockKey returns once the caller holds key, or with ctx's error when
	// ctx is done first. unlock releases it; it must be called once. A
	// holder's node that dies releases its keys with it.
	LockKey(ctx context.Context, key string) (unlock func(), err error)
}

// NewContact is what CreateContact stores.
type NewContact struct {
	Contact  *Contact
	Customer *Participant
	Items    []*Item
	// MaxActive is the instance's active-contact quota; 0 means no limit.
	MaxActive int
	// Mirrors are the connectors that mirror this contact: a pair with
	// cursor 0 is created for each in the same transaction. A replayed
	// CreateContact creates none.
	Mirrors []string
}

// ItemQuery selects a run of a contact's items.
type ItemQuery struct {
	// From is the first Seq to consider, inclusive. Zero means the end
	// where the scan starts: the oldest item forward, the newest backward.
	From int64
	// FromTime, when From is zero and FromTime is set, starts a forward
	// scan at the first item at or after it and a backward scan at the
	// last item at or before it.
	FromTime time.Time
	// Backward scans from newer to older items.
	Backward bool
	// Limit caps the number of items; zero means no cap.
	Limit int
}
