// Package inmem is the in-process helpline.Bus: the default when Helpline
// runs as one node.
package inmem

import (
	"context"
	"sync"
	"sync/atomic"

	"github.com/helplinehq/helpline"
)

// Default buffer sizes, in events. A subscriber that falls this far behind
// loses events (counted by Lost) and must catch up from the Store.
const (
	DefaultContactBuffer = 4096  // per subscription to one subject (a contact, an agent)
	DefaultAllBuffer     = 65536 // per subscription to a wildcard (all contacts, all agents)
)

// Option configures a Bus.
type Option func(*Bus)

// WithBuffers sets the buffer sizes of subscriptions to one subject
// (perContact) and to a wildcard (all). Values below 1 keep the defaults.
func WithBuffers(perContact, all int) Option {
	return func(b *Bus) {
		if perContact > 0 {
			b.contactBuffer = perContact
		}
		if all > 0 {
			b.allBuffer = all
		}
	}
}

// Bus is an in-process helpline.Bus. Publish never blocks: each subscriber
// has a bounded buffer, and an event that does not fit is dropped for that
// subscriber only and counted in its Lost. Events published by one goroutine
// reach every subscriber in publish order. Events are passed as they are:
// subscribers share their payloads and must not modify them.
type Bus struct {
	contactBuffer, allBuffer int

	// mu guards the fields below. Publish holds it for reading while it
	// sends (without blocking); removing a subscription and closing its
	// channel take it for writing, so no send can hit a closed channel.
	mu sync.RWMutex
	// subs holds the subscriptions by the subject they name, wildcards
	// included.
	subs   map[helpline.Subject]map[*subscription]struct{}
	closed bool
}

var _ helpline.Bus = (*Bus)(nil)

// NewBus returns an open Bus.
func NewBus(opts ...Option) *Bus {
	b := &Bus{
		contactBuffer: DefaultContactBuffer,
		allBuffer:     DefaultAllBuffer,
		subs:          make(map[helpline.Subject]map[*subscription]struct{}),
	}
	for _, opt := range opts {
		opt(b)
	}
	return b
}

// Publish delivers ev to the current subscribers of ev.Subject and of its
// wildcard without waiting for them. It returns EINVALID for an event that
// fails Validate and ECONFLICT once the bus is closed.
func (b *Bus) Publish(ctx context.Context, ev helpline.Event) error {
	if err := ev.Validate(); err != nil {
		return err
	}
	b.mu.RLock()
	defer b.mu.RUnlock()
	if b.closed {
		return helpline.Errorf(helpline.ECONFLICT, "bus is closed")
	}
	for sub := range b.subs[ev.Subject] {
		sub.offer(ev)
	}
	for sub := range b.subs[ev.Subject.Wildcard()] {
		sub.offer(ev)
	}
	return nil
}

// Subscribe returns a subscription to subject's events, or to those of
// every subject of its class when subject is a wildcard. The subscription
// lives until it or the bus is closed; ctx only bounds the call. It returns
// EINVALID for a subject that is not valid and ECONFLICT once the bus is
// closed.
func (b *Bus) Subscribe(ctx context.Context, subject helpline.Subject) (helpline.Subscription, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if !subject.Valid() {
		return nil, helpline.Errorf(helpline.EINVALID, "bus subject %q is not valid", subject)
	}
	size := b.contactBuffer
	if subject.IsWildcard() {
		size = b.allBuffer
	}
	sub := &subscription{bus: b, subject: subject, events: make(chan helpline.Event, size)}

	b.mu.Lock()
	defer b.mu.Unlock()
	if b.closed {
		return nil, helpline.Errorf(helpline.ECONFLICT, "bus is closed")
	}
	subs := b.subs[subject]
	if subs == nil {
		subs = make(map[*subscription]struct{})
		b.subs[subject] = subs
	}
	subs[sub] = struct{}{}
	return sub, nil
}

// Close closes every subscription and refuses later Publish and Subscribe
// calls. It is safe to call more than once.
func (b *Bus) Close() error {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.closed {
		return nil
	}
	b.closed = true
	for _, subs := range b.subs {
		for sub := range subs {
			sub.closeLocked()
		}
	}
	b.subs = nil
	return nil
}

// remove detaches sub from the bus and closes its channel.
func (b *Bus) remove(sub *subscription) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if sub.closed {
		return
	}
	if subs := b.subs[sub.subject]; subs != nil {
		delete(subs, sub)
		if len(subs) == 0 {
			delete(b.subs, sub.subject)
		}
	}
	sub.closeLocked()
}

type subscription struct {
	bus     *Bus
	subject helpline.Subject
	events  chan helpline.Event
	lost    atomic.Uint64
	closed  bool // guarded by bus.mu
}

// offer sends ev without blocking; the caller holds bus.mu for reading.
func (s *subscription) offer(ev helpline.Event) {
	select {
	case s.events <- ev:
	default:
		s.lost.Add(1)
	}
}

// closeLocked closes the channel once; the caller holds bus.mu for writing.
func (s *subscription) closeLocked() {
	if !s.closed {
		s.closed = true
		close(s.events)
	}
}

func (s *subscription) Events() <-chan helpline.Event { return s.events }
func (s *subscription) Lost() uint64                  { return s.lost.Load() }
func (s *subscription) Close()                        { s.bus.remove(s) }
