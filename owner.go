package helpline

import (
	"encoding/json"
	"strings"
	"time"
)

// Owner kinds. An owner is written kind:id, such as "bot:default",
// "queue:billing" or "agent:ada"; the empty owner is nobody.
const (
	OwnerBot   = "bot"
	OwnerQueue = "queue"
	OwnerAgent = "agent"
)

// maxOwner bounds an owner's length, kind and colon included.
const maxOwner = 256

// CheckOwner returns EINVALID unless owner is empty or kind:id with a kind
// of OwnerBot, OwnerQueue or OwnerAgent and a non-empty id.
func CheckOwner(owner string) error {
	if owner == "" {
		return nil
	}
	kind, id, ok := strings.Cut(owner, ":")
	if !ok || id == "" || len(owner) > maxOwner ||
		kind != OwnerBot && kind != OwnerQueue && kind != OwnerAgent {
		return Errorf(EINVALID, "Owner %q is not bot:<id>, queue:<id> or agent:<id>.", owner)
	}
	return nil
}

// OwnerChange asks the store to move a contact from one owner to another
// (Store.ChangeOwner).
type OwnerChange struct {
	ContactID string
	// From and Version are the owner and version the caller last saw: the
	// change happens only if both still hold.
	From    string
	Version int64
	// To is the new owner; never empty (only the contact's end clears it).
	To string
	// Reason says why, such as "handoff" or "timeout"; Actor who decided,
	// such as "bot:default" or "agent:ada". Both are free text, recorded
	// in the transition item.
	Reason string
	Actor  string
	At     time.Time
}

// Check returns EINVALID unless ch is a change a store may apply: From
// and To are owners, To is set and differs from From.
func (ch *OwnerChange) Check() error {
	if err := CheckOwner(ch.From); err != nil {
		return err
	}
	if err := CheckOwner(ch.To); err != nil {
		return err
	}
	if ch.To == "" {
		return Errorf(EINVALID, "The new owner is required.")
	} else if ch.To == ch.From {
		return Errorf(EINVALID, "The contact is already owned by %s.", ch.To)
	}
	return nil
}

// OwnerTransition is the content of an owner.changed item, as JSON.
type OwnerTransition struct {
	From   string `json:"from"`
	To     string `json:"to"`
	Reason string `json:"reason"`
	Actor  string `json:"actor"`
}

// Item returns the EVENT item that records ch in the contact's
// transcript, a new id and a system author: its content is the
// OwnerTransition as JSON. A store appends it with the change.
func (ch *OwnerChange) Item() *Item {
	content, _ := json.Marshal(OwnerTransition{From: ch.From, To: ch.To, Reason: ch.Reason, Actor: ch.Actor})
	return &Item{
		ContactID: ch.ContactID, ID: NewID(), Type: ItemEvent, ContentType: EventOwnerChanged,
		Content:       string(content),
		ParticipantID: SystemParticipantID(ch.ContactID), DisplayName: SystemDisplayName, Role: RoleSystem,
		Time: ch.At,
	}
}
