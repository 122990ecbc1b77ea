// Package inmem is the in-process helpline.Bus: the default when Helpline
// runs as one node.
package inmem

import (
	"context"
	"slices"
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
// subscribers share their payloads and must not modify them. A group's
// subscriptions take its events in turn. Being in one process, it never
// has a gap to report.
type Bus struct {
	contactBuffer, allBuffer int

	// mu guards the fields below. Publish holds it for reading while it
	// sends (without blocking); removing a subscription and closing its
	// channel take it for writing, so no send can hit a closed channel.
	mu sync.RWMutex
	// subs holds the subscriptions by the subject they name, wildcards
	// included; groups holds the group subscriptions likewise, then by
	// group.
	subs   map[helpline.Subject]map[*subscription]struct{}
	groups map[helpline.Subject]map[string]*subGroup
	closed bool
}

var _ helpline.Bus = (*Bus)(nil)

// NewBus returns an open Bus.
func NewBus(opts ...Option) *Bus {
	b := &Bus{
		contactBuffer: DefaultContactBuffer,
		allBuffer:     DefaultAllBuffer,
		subs:          make(map[helpline.Subject]map[*subscription]struct{}),
		groups:        make(map[helpline.Subject]map[string]*subGroup),
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
	for _, g := range b.groups[ev.Subject] {
		g.offer(ev)
	}
	for _, g := range b.groups[ev.Subject.Wildcard()] {
		g.offer(ev)
	}
	return nil
}

// Subscribe returns a subscription to subject's events, or to those of
// every subject of its class when subject is a wildcard. The subscription
// lives until it or the bus is closed; ctx only bounds the call. It returns
// EINVALID for a subject that is not valid and ECONFLICT once the bus is
// closed.
func (b *Bus) Subscribe(ctx context.Context, subject helpline.Subject) (helpline.Subscription, error) {
	return b.subscribe(ctx, subject, "")
}

// SubscribeGroup returns a subscription that takes subject's events in
// turn with the other subscriptions of group; one whose buffer is full
// when its turn comes loses that event. Otherwise it is as Subscribe; it
// also returns EINVALID for a group that is not ValidGroup.
func (b *Bus) SubscribeGroup(ctx context.Context, subject helpline.Subject, group string) (helpline.Subscription, error) {
	if !helpline.ValidGroup(group) {
		return nil, helpline.Errorf(helpline.EINVALID, "bus group %q is not valid", group)
	}
	return b.subscribe(ctx, subject, group)
}

// subscribe subscribes to subject, in group unless it is "".
func (b *Bus) subscribe(ctx context.Context, subject helpline.Subject, group string) (helpline.Subscription, error) {
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
	sub := &subscription{bus: b, subject: subject, group: group, events: make(chan helpline.Event, size)}

	b.mu.Lock()
	defer b.mu.Unlock()
	if b.closed {
		return nil, helpline.Errorf(helpline.ECONFLICT, "bus is closed")
	}
	if group != "" {
		groups := b.groups[subject]
		if groups == nil {
			groups = make(map[string]*subGroup)
			b.groups[subject] = groups
		}
		g := groups[group]
		if g == nil {
			g = &subGroup{}
			groups[group] = g
		}
		g.members = append(g.members, sub)
		return sub, nil
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
	for _, groups := range b.groups {
		for _, g := range groups {
			for _, sub := range g.members {
				sub.closeLocked()
			}
		}
	}
	b.subs, b.groups = nil, nil
	return nil
}

// remove detaches sub from the bus and closes its channel.
func (b *Bus) remove(sub *subscription) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if sub.closed {
		return
	}
	if sub.group != "" {
		b.removeMember(sub)
	} else if subs := b.subs[sub.subject]; subs != nil {
		delete(subs, sub)
		if len(subs) == 0 {
			delete(b.subs, sub.subject)
		}
	}
	sub.closeLocked()
}

// removeMember detaches sub from its group; the caller holds b.mu for
// writing.
func (b *Bus) removeMember(sub *subscription) {
	groups := b.groups[sub.subject]
	g := groups[sub.group]
	if g == nil {
		return
	}
	g.members = slices.DeleteFunc(g.members, func(m *subscription) bool { return m == sub })
	if len(g.members) > 0 {
		return
	}
	delete(groups, sub.group)
	if len(groups) == 0 {
		delete(b.groups, sub.subject)
	}
}

// subGroup is the subscriptions of one group to one subject. Its members
// change under bus.mu held for writing; offer runs under it held for
// reading.
type subGroup struct {
	members []*subscription
	turn    atomic.Uint64
}

// offer gives ev to the member whose turn it is.
func (g *subGroup) offer(ev helpline.Event) {
	g.members[(g.turn.Add(1)-1)%uint64(len(g.members))].offer(ev)
}

type subscription struct {
	bus     *Bus
	subject helpline.Subject
	group   string // "" when the subscription is in no group
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
