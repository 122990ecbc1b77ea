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
	DefaultContactBuffer = 4096  // per subscription to one contact
	DefaultAllBuffer     = 65536 // per subscription to all contacts
)

// Option configures a Bus.
type Option func(*Bus)

// WithBuffers sets the buffer sizes of per-contact and all-contacts
// subscriptions. Values below 1 keep the defaults.
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
// reach every subscriber in publish order. Subscribers share the published
// *Item and must not modify it.
type Bus struct {
	contactBuffer, allBuffer int

	// mu guards the fields below. Publish holds it for reading while it
	// sends (without blocking); removing a subscription and closing its
	// channel take it for writing, so no send can hit a closed channel.
	mu        sync.RWMutex
	byContact map[string]map[*subscription]struct{}
	all       map[*subscription]struct{}
	closed    bool
}

var _ helpline.Bus = (*Bus)(nil)

// NewBus returns an open Bus.
func NewBus(opts ...Option) *Bus {
	b := &Bus{
		contactBuffer: DefaultContactBuffer,
		allBuffer:     DefaultAllBuffer,
		byContact:     make(map[string]map[*subscription]struct{}),
		all:           make(map[*subscription]struct{}),
	}
	for _, opt := range opts {
		opt(b)
	}
	return b
}

// Publish delivers ev to the current subscribers of ev.ContactID and of all
// contacts without waiting for them. It returns ECONFLICT once the bus is
// closed.
func (b *Bus) Publish(ctx context.Context, ev helpline.Event) error {
	b.mu.RLock()
	defer b.mu.RUnlock()
	if b.closed {
		return helpline.Errorf(helpline.ECONFLICT, "bus is closed")
	}
	for sub := range b.byContact[ev.ContactID] {
		sub.offer(ev)
	}
	for sub := range b.all {
		sub.offer(ev)
	}
	return nil
}

// Subscribe returns a subscription to contactID's events, or to every
// contact's when contactID is empty. The subscription lives until it or the
// bus is closed; ctx only bounds the call. It returns ECONFLICT once the bus
// is closed.
func (b *Bus) Subscribe(ctx context.Context, contactID string) (helpline.Subscription, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	size := b.contactBuffer
	if contactID == "" {
		size = b.allBuffer
	}
	sub := &subscription{bus: b, contactID: contactID, events: make(chan helpline.Event, size)}

	b.mu.Lock()
	defer b.mu.Unlock()
	if b.closed {
		return nil, helpline.Errorf(helpline.ECONFLICT, "bus is closed")
	}
	if contactID == "" {
		b.all[sub] = struct{}{}
	} else {
		subs := b.byContact[contactID]
		if subs == nil {
			subs = make(map[*subscription]struct{})
			b.byContact[contactID] = subs
		}
		subs[sub] = struct{}{}
	}
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
	for _, subs := range b.byContact {
		for sub := range subs {
			sub.closeLocked()
		}
	}
	for sub := range b.all {
		sub.closeLocked()
	}
	b.byContact = nil
	b.all = nil
	return nil
}

// remove detaches sub from the bus and closes its channel.
func (b *Bus) remove(sub *subscription) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if sub.closed {
		return
	}
	if sub.contactID == "" {
		delete(b.all, sub)
	} else if subs := b.byContact[sub.contactID]; subs != nil {
		delete(subs, sub)
		if len(subs) == 0 {
			delete(b.byContact, sub.contactID)
		}
	}
	sub.closeLocked()
}

type subscription struct {
	bus       *Bus
	contactID string
	events    chan helpline.Event
	lost      atomic.Uint64
	closed    bool // guarded by bus.mu
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
