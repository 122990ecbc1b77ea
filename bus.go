package helpline

import (
	"context"
	"strings"
)

// Subject says whom a bus event concerns, and so who receives it. It is
// "<class>.<id>": ContactSubject for a contact's events, AgentSubject for
// an agent's. A subscription names one subject or a class's wildcard
// (AllContacts, AllAgents). The form is that of a NATS subject, so a bus
// across nodes can use it as its subject as it is.
type Subject string

// Subject classes and their wildcards.
const (
	contactClass = "contact"
	agentClass   = "agent"

	// AllContacts subscribes to the events of every contact, of every
	// kind.
	AllContacts Subject = contactClass + ".*"
	// AllAgents subscribes to the events of every agent, of every kind.
	AllAgents Subject = agentClass + ".*"
)

// ContactSubject is the subject of contact id's events.
func ContactSubject(id string) Subject { return Subject(contactClass + "." + id) }

// AgentSubject is the subject of agent id's events: those addressed to the
// agent (offers) or about it (presence) rather than to one contact's
// participants.
func AgentSubject(id string) Subject { return Subject(agentClass + "." + id) }

// split returns s's class and id, and whether s has a known class and an
// id that is one NATS subject token (no '.', '*', '>' or white space) or
// the wildcard "*".
func (s Subject) split() (class, id string, ok bool) {
	class, id, ok = strings.Cut(string(s), ".")
	if !ok || (class != contactClass && class != agentClass) || id == "" {
		return "", "", false
	}
	if id != "*" && strings.ContainsAny(id, ".*> \t\r\n") {
		return "", "", false
	}
	return class, id, true
}

// Valid reports whether s names one contact or agent, or is a wildcard.
func (s Subject) Valid() bool { _, _, ok := s.split(); return ok }

// Wildcard returns the wildcard of s's class (AllContacts for a contact's
// subject), or "" if s is not valid.
func (s Subject) Wildcard() Subject {
	switch class, _, _ := s.split(); class {
	case contactClass:
		return AllContacts
	case agentClass:
		return AllAgents
	}
	return ""
}

// IsWildcard reports whether s is AllContacts or AllAgents.
func (s Subject) IsWildcard() bool { _, id, ok := s.split(); return ok && id == "*" }

// ContactID returns the contact id of a contact's subject, or "".
func (s Subject) ContactID() string {
	class, id, ok := s.split()
	if !ok || class != contactClass || id == "*" {
		return ""
	}
	return id
}

// EventKind says what an Event carries. Subscribers ignore the kinds they
// do not handle, so a kind can be added without touching them, and a node
// that does not know a kind a newer node publishes passes over it.
type EventKind string

// Event kinds, with their subjects and payloads.
const (
	// EventItem: a transcript item of a contact, stored (Seq > 0) or
	// ephemeral (typing, Seq 0). Subject: ContactSubject(Item.ContactID).
	// Payload: Item.
	EventItem EventKind = "item"
	// EventOwner: the contact's owner changed (a compare-and-swap in
	// the store, which also stored the transition item). Subject: the
	// contact's. Payload: Owner. It spares subscribers that follow only
	// ownership (routing, agent consoles) from reading transcript items.
	EventOwner EventKind = "owner.changed"
	// EventPresence: an agent's presence changed (set by the agent, or
	// derived from its connections). Subject: AgentSubject(agent id).
	// Payload: Presence (the stored one, after the change). Routing wakes
	// on it; consoles of supervisors show it.
	EventPresence EventKind = "presence.changed"
	// EventOffer: an offer to an agent was made or closed (accepted,
	// declined, expired, withdrawn). Subject: AgentSubject(Offer.AgentID).
	// Payload: Offer. The agent's console shows pending offers; the store
	// holds them, so a console that missed one rereads them.
	EventOffer EventKind = "offer"
	// EventGap: the bus itself tells a subscription that it may have
	// lost events it cannot count (a bus across nodes lost its
	// connection for a while), after counting the gap in Lost. Subject:
	// the subscription's own, a wildcard included. No payload; nobody
	// publishes it. A subscriber needs no code for it: it checks Lost
	// after every event, and this one makes sure there is an event to
	// check after.
	EventGap EventKind = "bus.gap"
	// EventSignedOut: an agent's sessions were ended (it was disabled,
	// or its password set): every node closes the sockets the agent
	// opened, whichever node served the change. Subject:
	// AgentSubject(agent id). Payload: SignedOut.
	EventSignedOut EventKind = "agent.signed_out"
)

// Event is what the bus carries: a kind, the subject it concerns, and the
// kind's payload in the field named for it (the others are nil).
//
// An Event is plain data that encoding/json round-trips, so a bus across
// nodes serialises it whole. Payloads are typed fields rather than encoded
// bytes: in one process, publisher and subscribers share them without
// encoding, and the compiler checks them; a new kind adds its field, which
// older nodes' decoders skip. Subscribers share the payloads and must not
// modify them.
type Event struct {
	Kind    EventKind
	Subject Subject
	// Item is EventItem's payload.
	Item *Item `json:",omitempty"`
	// Owner is EventOwner's payload.
	Owner *Ownership `json:",omitempty"`
	// Presence is EventPresence's payload.
	Presence *Presence `json:",omitempty"`
	// Offer is EventOffer's payload.
	Offer *Offer `json:",omitempty"`
	// SignedOut is EventSignedOut's payload.
	SignedOut *SignedOut `json:",omitempty"`
}

// SignedOut is EventSignedOut's payload: the agent's instance (the
// subject names the agent, whose id is unique in its instance only).
type SignedOut struct {
	InstanceID string
}

// Ownership is EventOwner's payload.
type Ownership struct {
	// Owner is the contact's new owner: "bot:<id>", "queue:<id>" or
	// "agent:<id>".
	Owner string
	// Version is the contact's version after the change; it grows by one
	// with every change, so a subscriber can tell a stale event.
	Version int64
	// From is the owner before the change ("" for nobody): routing tells
	// by it whether an agent's load dropped.
	From string `json:",omitempty"`
}

// ValidGroup reports whether group can name a group of subscriptions
// (Bus.SubscribeGroup): 1 to 64 letters, digits, '-', '_' or '.', neither
// starting nor ending with '.'. A bus across nodes can then use it as it
// is (a NATS queue group).
func ValidGroup(group string) bool {
	if group == "" || len(group) > 64 || group[0] == '.' || group[len(group)-1] == '.' {
		return false
	}
	for _, r := range group {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '_' || r == '.') {
			return false
		}
	}
	return true
}

// AgentID returns the agent id of an agent's subject, or "".
func (s Subject) AgentID() string {
	class, id, ok := s.split()
	if !ok || class != agentClass || id == "*" {
		return ""
	}
	return id
}

// NewItemEvent returns the EventItem event that announces it.
func NewItemEvent(it *Item) Event {
	return Event{Kind: EventItem, Subject: ContactSubject(it.ContactID), Item: it}
}

// Validate returns EINVALID unless ev has a kind and a subject naming one
// contact or agent, and, for a kind this package defines, its payload on a
// subject of the right class (an item on its own contact's). Events of
// kinds it does not know pass. Publish calls it.
func (ev Event) Validate() error {
	if ev.Kind == "" {
		return Errorf(EINVALID, "bus event has no kind")
	}
	if !ev.Subject.Valid() || ev.Subject.IsWildcard() {
		return Errorf(EINVALID, "bus event subject %q is not one contact's or agent's", ev.Subject)
	}
	switch ev.Kind {
	case EventItem:
		if ev.Item == nil || ev.Subject.ContactID() != ev.Item.ContactID {
			return Errorf(EINVALID, "item event on %q needs an item of that contact", ev.Subject)
		}
	case EventOwner:
		if ev.Owner == nil || ev.Subject.ContactID() == "" {
			return Errorf(EINVALID, "owner change on %q needs a contact's subject and an owner", ev.Subject)
		}
	case EventPresence:
		if ev.Presence == nil || ev.Subject.AgentID() == "" {
			return Errorf(EINVALID, "presence change on %q needs an agent's subject and a presence", ev.Subject)
		}
	case EventOffer:
		if ev.Offer == nil || ev.Subject.AgentID() != ev.Offer.AgentID {
			return Errorf(EINVALID, "offer event on %q needs an offer to that agent", ev.Subject)
		}
	case EventSignedOut:
		if ev.SignedOut == nil || ev.SignedOut.InstanceID == "" || ev.Subject.AgentID() == "" {
			return Errorf(EINVALID, "sign-out on %q needs an agent's subject and its instance", ev.Subject)
		}
	}
	return nil
}

// Bus fans events out to subscribers on every node. It wakes and notifies;
// it is not the record. Delivery is at most once: a subscriber whose
// buffer is full loses events, of whatever kind, rather than slowing the
// publisher, and catches up from the Store (by Seq for items; by reading
// the contact for its owner). Events one publisher publishes on one subject
// reach each subscriber of that subject, or of its wildcard, in publish
// order, whatever their kinds.
//
// Work that one node must do, not each of them (claiming a mirror pair on
// an item's arrival), subscribes with SubscribeGroup: the group's
// subscriptions, on every node, share the subject's events between them.
//
// Every implementation passes the contract suite in package bustest.
type Bus interface {
	// Publish sends ev to every current subscriber of ev.Subject and of its
	// wildcard. It does not wait for subscribers. It returns EINVALID for an
	// event that fails Validate.
	Publish(ctx context.Context, ev Event) error
	// Subscribe returns a subscription to the events of one subject, or of
	// every subject of a class when subject is a wildcard (AllContacts,
	// AllAgents). It returns EINVALID for a subject that is not Valid.
	Subscribe(ctx context.Context, subject Subject) (Subscription, error)
	// SubscribeGroup is Subscribe for a subscription that shares
	// subject's events with the other subscriptions of the same subject
	// and group, on this node and every other: each event goes to one of
	// them, which the bus picks, as well as to every plain subscription
	// and to one subscription of each other group. The events one
	// subscription gets keep publish order; an event for a subscription
	// whose buffer is full is lost (counted in its Lost), not handed to
	// another. It returns EINVALID for a subject that is not Valid or a
	// group that is not a name (letters, digits, '-', '_' and '.').
	SubscribeGroup(ctx context.Context, subject Subject, group string) (Subscription, error)
	Close() error
}

// Subscription is a stream of bus events.
type Subscription interface {
	// Events is closed when the subscription is closed.
	Events() <-chan Event
	// Lost counts the events dropped so far because the subscriber's
	// buffer was full, of every kind, and the gaps in which the bus could
	// not count what it lost (each counts one, and is followed by an
	// EventGap); a subscriber that sees it grow resynchronises from the
	// Store. It grows before the next event is delivered, so a subscriber
	// that checks it after each event misses no loss.
	Lost() uint64
	// Close ends the subscription; it is safe to call more than once.
	Close()
}
