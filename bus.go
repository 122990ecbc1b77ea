package helpline

import "context"

// Event is what the bus carries: an item of a contact, stored (Seq > 0) or
// ephemeral (typing, Seq 0).
type Event struct {
	ContactID string
	Item      *Item
}

// Bus fans contact events out to subscribers on every node. It wakes and
// notifies; it is not the record. Delivery is at most once: a subscriber
// whose buffer is full loses events rather than slowing the publisher, and
// catches up from the Store by Seq. Events one publisher publishes for one
// contact reach each subscriber in publish order.
//
// Every implementation passes the contract suite in package bustest.
type Bus interface {
	// Publish sends ev to every current subscriber of ev.ContactID and to
	// every subscriber of all contacts. It does not wait for subscribers.
	Publish(ctx context.Context, ev Event) error
	// Subscribe returns a subscription to one contact's events, or to every
	// contact's when contactID is empty.
	Subscribe(ctx context.Context, contactID string) (Subscription, error)
	Close() error
}

// Subscription is a stream of bus events.
type Subscription interface {
	// Events is closed when the subscription is closed.
	Events() <-chan Event
	// Lost counts the events dropped so far because the subscriber's
	// buffer was full; a subscriber that sees it grow resynchronises from
	// the Store.
	Lost() uint64
	// Close ends the subscription; it is safe to call more than once.
	Close()
}
