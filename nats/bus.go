// Package natsbus is the helpline.Bus on NATS, for several Helpline nodes
// sharing one store: an event published on one node reaches the
// subscribers of every node.
//
// A helpline subject is a NATS subject as it is, under a prefix
// ("helpline" by default): contact c's events travel on
// "helpline.contact.c", and a subscription to AllContacts is one to
// "helpline.contact.*". Several Helpline clusters share one NATS server
// with a prefix each. A group subscription (SubscribeGroup) is a NATS
// queue subscription (queue "<group>:<subject>"), so the server hands each
// event to one member of the group among every node's. Events travel as JSON.
//
// The bus is core NATS, not JetStream: at most once, as the Bus contract
// says, the store being the record. A subscription loses events when its
// buffer is full (counted in Lost, as in package inmem), when NATS drops
// them for a slow consumer (counted likewise) and while the connection is
// down: the bus reconnects for as long as it is open and then counts one
// lost event in every subscription and hands each an EventGap, so that
// subscribers catch up from the store.
package natsbus

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/helplinehq/helpline"
)

// Defaults of Options' zero values.
const (
	DefaultPrefix = "helpline"
	// DefaultContactBuffer and DefaultAllBuffer are the buffer sizes, in
	// events, of a subscription to one subject and to a wildcard, as in
	// package inmem.
	DefaultContactBuffer = 4096
	DefaultAllBuffer     = 65536
	// DefaultReconnectBuffer is how many bytes of events published while
	// the connection is down are kept to be sent once it is back; Publish
	// fails beyond it.
	DefaultReconnectBuffer = 8 << 20
	// DefaultConnectTimeout bounds the first connection.
	DefaultConnectTimeout = 5 * time.Second
)

// Options configures a Bus. Only URL is required.
type Options struct {
	// URL is the NATS server, or a comma-separated list of a cluster's
	// servers: nats://host:4222, with user:password@ or a token when the
	// server requires one; tls:// for TLS.
	URL string
	// Prefix is put before every subject, with a '.': the clusters of
	// Helpline nodes sharing a NATS server need one each (default
	// "helpline"). It is one or more NATS tokens (ValidGroup's alphabet).
	Prefix string
	// Name names the connection in the server's monitoring (the node's id).
	Name string
	// Logger receives the connection's changes; nil is slog.Default().
	Logger *slog.Logger
	// ContactBuffer and AllBuffer are the buffer sizes of subscriptions to
	// one subject and to a wildcard; values below 1 keep the defaults.
	ContactBuffer, AllBuffer int
	// ReconnectBuffer bounds, in bytes, what is kept of events published
	// while the connection is down; 0 keeps the default.
	ReconnectBuffer int
	// ReconnectWait is the pause between two attempts to reconnect
	// (default 1s, with jitter); attempts never stop while the bus is open.
	ReconnectWait time.Duration
}

// Bus is a helpline.Bus on a NATS connection.
type Bus struct {
	nc     *nats.Conn
	prefix string // with its trailing '.'
	log    *slog.Logger

	contactBuffer, allBuffer int

	// mu guards subs and closed. Gaps and Close walk subs under it.
	mu     sync.Mutex
	subs   map[*subscription]struct{}
	closed bool
	// gaps counts the reconnections, for tests and health reports.
	gaps atomic.Uint64
}

var _ helpline.Bus = (*Bus)(nil)

// Open connects to the NATS server at opts.URL and returns the bus. It
// fails if the server cannot be reached within DefaultConnectTimeout;
// once connected, the bus reconnects for as long as it is open.
func Open(opts Options) (*Bus, error) {
	if opts.URL == "" {
		return nil, helpline.Errorf(helpline.EINVALID, "the NATS bus needs a server URL")
	}
	if opts.Prefix == "" {
		opts.Prefix = DefaultPrefix
	}
	if !helpline.ValidGroup(opts.Prefix) {
		return nil, helpline.Errorf(helpline.EINVALID, "NATS subject prefix %q must be letters, digits, '-', '_' and inner '.'", opts.Prefix)
	}
	b := &Bus{
		prefix:        opts.Prefix + ".",
		log:           opts.Logger,
		contactBuffer: DefaultContactBuffer,
		allBuffer:     DefaultAllBuffer,
		subs:          make(map[*subscription]struct{}),
	}
	if b.log == nil {
		b.log = slog.Default()
	}
	if opts.ContactBuffer > 0 {
		b.contactBuffer = opts.ContactBuffer
	}
	if opts.AllBuffer > 0 {
		b.allBuffer = opts.AllBuffer
	}
	if opts.ReconnectBuffer <= 0 {
		opts.ReconnectBuffer = DefaultReconnectBuffer
	}
	if opts.ReconnectWait <= 0 {
		opts.ReconnectWait = time.Second
	}
	nc, err := nats.Connect(opts.URL,
		nats.Name(opts.Name),
		nats.Timeout(DefaultConnectTimeout),
		nats.MaxReconnects(-1),
		nats.ReconnectWait(opts.ReconnectWait),
		nats.ReconnectBufSize(opts.ReconnectBuffer),
		// A dead server that keeps the TCP connection open is noticed
		// within about 15 s.
		nats.PingInterval(5*time.Second),
		nats.MaxPingsOutstanding(3),
		nats.DisconnectErrHandler(func(_ *nats.Conn, err error) {
			if err != nil {
				b.log.Warn("bus: lost the NATS connection; reconnecting", "err", err)
			}
		}),
		nats.ReconnectHandler(func(nc *nats.Conn) {
			b.log.Info("bus: reconnected to NATS; subscribers catch up from the store", "server", nc.ConnectedUrlRedacted())
			b.gap()
		}),
		nats.ErrorHandler(func(_ *nats.Conn, ns *nats.Subscription, err error) {
			if ns != nil && errors.Is(err, nats.ErrSlowConsumer) {
				b.log.Warn("bus: NATS dropped events for a slow subscriber", "subject", ns.Subject)
				return
			}
			b.log.Warn("bus: NATS error", "err", err)
		}),
	)
	if err != nil {
		return nil, fmt.Errorf("bus: connecting to NATS at %s: %w", redact(opts.URL), err)
	}
	b.nc = nc
	return b, nil
}

// redact hides the password or token of a NATS URL list in messages.
func redact(urls string) string {
	parts := strings.Split(urls, ",")
	for i, u := range parts {
		if at := strings.LastIndexByte(u, '@'); at >= 0 {
			scheme, _, found := strings.Cut(u[:at], "://")
			if found {
				parts[i] = scheme + "://***" + u[at:]
			} else {
				parts[i] = "***" + u[at:]
			}
		}
	}
	return strings.Join(parts, ",")
}

// Publish sends ev to the subscribers of ev.Subject and of its wildcard on
// every node; it returns once the event is in the connection's buffer.
// Events one Bus publishes keep their order. It returns EINVALID for an
// event that fails Validate, ECONFLICT once the bus is closed, and an
// error when the connection is down and its reconnect buffer full.
func (b *Bus) Publish(ctx context.Context, ev helpline.Event) error {
	if err := ev.Validate(); err != nil {
		return err
	}
	data, err := json.Marshal(ev)
	if err != nil {
		return fmt.Errorf("bus: encoding a %s event: %w", ev.Kind, err)
	}
	if b.isClosed() {
		return helpline.Errorf(helpline.ECONFLICT, "bus is closed")
	}
	if err := b.nc.Publish(b.prefix+string(ev.Subject), data); err != nil {
		if errors.Is(err, nats.ErrConnectionClosed) {
			return helpline.Errorf(helpline.ECONFLICT, "bus is closed")
		}
		return fmt.Errorf("bus: publishing on NATS: %w", err)
	}
	return nil
}

// Subscribe returns a subscription to subject's events, or to those of
// every subject of its class when subject is a wildcard, from every node.
// It returns EINVALID for a subject that is not valid and ECONFLICT once
// the bus is closed.
func (b *Bus) Subscribe(ctx context.Context, subject helpline.Subject) (helpline.Subscription, error) {
	return b.subscribe(ctx, subject, "")
}

// SubscribeGroup returns a subscription to subject's events that shares
// them with the subscriptions of the same subject and group on every node
// of the bus (a NATS queue group): the server hands each event to one of
// them. It also returns EINVALID for a group that is not ValidGroup.
func (b *Bus) SubscribeGroup(ctx context.Context, subject helpline.Subject, group string) (helpline.Subscription, error) {
	if !helpline.ValidGroup(group) {
		return nil, helpline.Errorf(helpline.EINVALID, "bus group %q is not valid", group)
	}
	return b.subscribe(ctx, subject, group)
}

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
	s := &subscription{bus: b, subject: subject, events: make(chan helpline.Event, size)}

	b.mu.Lock()
	if b.closed {
		b.mu.Unlock()
		return nil, helpline.Errorf(helpline.ECONFLICT, "bus is closed")
	}
	var err error
	if group == "" {
		s.ns, err = b.nc.Subscribe(b.prefix+string(subject), s.receive)
	} else {
		// NATS forms a queue group of every subscription with the queue's
		// name whose subject matches a message, whatever subject they
		// name; a helpline group is one subject's. Neither groups nor
		// subjects hold ':'.
		s.ns, err = b.nc.QueueSubscribe(b.prefix+string(subject), group+":"+string(subject), s.receive)
	}
	if err != nil {
		b.mu.Unlock()
		if errors.Is(err, nats.ErrConnectionClosed) {
			return nil, helpline.Errorf(helpline.ECONFLICT, "bus is closed")
		}
		return nil, fmt.Errorf("bus: subscribing to %s on NATS: %w", subject, err)
	}
	b.subs[s] = struct{}{}
	b.mu.Unlock()
	// Once the server has the subscription, events any node publishes
	// reach it. When the connection is down the subscription is made on
	// reconnecting, and the gap reported: no need to wait for that.
	if b.nc.IsConnected() {
		b.flush(ctx)
	}
	return s, nil
}

// flush waits for the server to have everything sent so far, for at most
// DefaultConnectTimeout or until ctx is done.
func (b *Bus) flush(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, DefaultConnectTimeout)
	defer cancel()
	return b.nc.FlushWithContext(ctx)
}

// Ping makes a round trip to the NATS server: nil if the connection is up
// and the server answers before ctx is done.
func (b *Bus) Ping(ctx context.Context) error {
	if b.isClosed() {
		return helpline.Errorf(helpline.ECONFLICT, "bus is closed")
	}
	if !b.nc.IsConnected() {
		return fmt.Errorf("not connected to NATS (%s)", strings.ToLower(b.nc.Status().String()))
	}
	if err := b.flush(ctx); err != nil {
		return fmt.Errorf("NATS did not answer: %w", err)
	}
	return nil
}

// Close closes every subscription, sends what was published before it,
// waiting at most a few seconds, and closes the connection. It is safe to
// call more than once.
func (b *Bus) Close() error {
	b.mu.Lock()
	if b.closed {
		b.mu.Unlock()
		return nil
	}
	b.closed = true
	subs := b.subs
	b.subs = nil
	b.mu.Unlock()
	for s := range subs {
		s.close()
	}
	if b.nc.IsConnected() {
		b.nc.FlushTimeout(2 * time.Second)
	}
	b.nc.Close()
	return nil
}

func (b *Bus) isClosed() bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.closed
}

// gap tells every subscription that events may have been lost while the
// connection was down.
func (b *Bus) gap() {
	b.gaps.Add(1)
	b.mu.Lock()
	defer b.mu.Unlock()
	for s := range b.subs {
		s.gap()
	}
}

// subscription is one NATS subscription feeding a bounded channel.
type subscription struct {
	bus     *Bus
	subject helpline.Subject
	ns      *nats.Subscription
	lost    atomic.Uint64
	dropped atomic.Uint64 // NATS's count, as last read

	// mu guards events' closing: receive sends under it (never
	// blocking), close closes under it.
	mu     sync.Mutex
	events chan helpline.Event
	closed bool
}

// receive decodes a NATS message into an event and offers it; it runs on
// the subscription's own goroutine, in the server's order.
func (s *subscription) receive(m *nats.Msg) {
	var ev helpline.Event
	if err := json.Unmarshal(m.Data, &ev); err != nil {
		s.bus.log.Warn("bus: an undecodable message on a Helpline subject; passed over", "subject", m.Subject, "err", err)
		return
	}
	// The subject a publisher wrote into the event is the one it
	// published on; the NATS subject says the same, and is the one the
	// server matched.
	ev.Subject = helpline.Subject(strings.TrimPrefix(m.Subject, s.bus.prefix))
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return
	}
	select {
	case s.events <- ev:
	default:
		s.lost.Add(1)
	}
}

// gap counts a loss of unknown size and hands the subscriber an EventGap,
// if its buffer has room (when it has none, the events in it lead the
// subscriber to check Lost).
func (s *subscription) gap() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return
	}
	s.lost.Add(1)
	select {
	case s.events <- helpline.Event{Kind: helpline.EventGap, Subject: s.subject}:
	default:
	}
}

// close unsubscribes and closes the channel once.
func (s *subscription) close() {
	s.ns.Unsubscribe()
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.closed {
		s.closed = true
		close(s.events)
	}
}

func (s *subscription) Events() <-chan helpline.Event { return s.events }

// Lost counts the events this subscription's buffer had no room for,
// those NATS dropped before they reached it, and the connection's gaps.
func (s *subscription) Lost() uint64 {
	if dropped, err := s.ns.Dropped(); err == nil && dropped > 0 {
		// Kept, for Dropped fails once the subscription is closed.
		s.dropped.Store(uint64(dropped))
	}
	return s.lost.Load() + s.dropped.Load()
}

// Close ends the subscription; it is safe to call more than once, also
// after the bus is closed.
func (s *subscription) Close() {
	s.bus.mu.Lock()
	delete(s.bus.subs, s)
	s.bus.mu.Unlock()
	s.close()
}
