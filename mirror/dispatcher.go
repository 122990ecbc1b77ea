// Package mirror is the mirror dispatcher: it delivers every contact's
// transcript items to each configured connector, in order and once, from a
// durable per-(connector, contact) cursor kept in the store.
//
// A pair is delivered only by the worker holding its lease, so items of one
// contact reach a connector in Seq order and never two batches at once, on
// one node or several. Workers wake on bus events and, as a backstop for
// lost events and restarts, poll the store for pairs that are due and
// behind. With several nodes, an item wakes the dispatcher of one node
// only (the bus group BusGroup), which claims the pair, and the node that
// already holds the contact's pair, which delivers it without a claim: N
// nodes do not each try to claim every item. Failures are retried with exponential backoff and full jitter,
// never sooner than the connector's Retry-After; permanent failures park
// the pair with the reason until an operator resumes it.
//
// A worker that delivered a pair cleanly keeps its lease through the save
// (MirrorPair.KeepLease) for as long as the contact stays busy, so that
// the next round on this node needs no claim; the lease is released once
// the contact has been idle for Config.Linger, and when Run returns. A
// node that dies holding such a lease may have been delivering, so that
// pair too comes back Reclaimed.
//
// A process killed between a delivery and the save of its outcome leaves
// the pair leased. The next claim of such a pair is Reclaimed and its
// items go to the connector as a retry (Attempt ≥ 1), so that the
// connector checks what already landed; a restarted node with the same
// Owner releases its old leases at once rather than waiting them out.
package mirror

import (
	"context"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/helplinehq/helpline"
)

// Defaults of Config's zero values.
const (
	DefaultLease        = 30 * time.Second
	DefaultWorkers      = 64
	DefaultPollInterval = time.Second
	DefaultBackoffBase  = time.Second
	DefaultBackoffMax   = 5 * time.Minute
	DefaultBatchSize    = 100
	DefaultLinger       = time.Second
)

// BusGroup is the bus group (helpline.Bus.SubscribeGroup) in which the
// dispatchers of every node share the wake-ups for new items.
const BusGroup = "mirror"

// Store is what the dispatcher reads and writes; helpline.Store satisfies it.
type Store interface {
	helpline.MirrorStore
	FindContactByID(ctx context.Context, id string) (*helpline.Contact, error)
	FindParticipants(ctx context.Context, contactID string) ([]*helpline.Participant, error)
	FindItems(ctx context.Context, contactID string, q helpline.ItemQuery) ([]*helpline.Item, error)
}

// Config configures a Dispatcher.
type Config struct {
	Store      Store
	Bus        helpline.Bus
	Connectors []helpline.Mirrorer
	// Owner names this node in leases. It must differ between nodes and
	// between processes running at once, and should stay the same across
	// restarts of one node (helpline serve keeps it in the data
	// directory): Run then releases the leases its killed predecessor
	// held, and their pairs are delivered at once instead of after the
	// leases run out. With a shared database each node still has its
	// own id. Empty means a random id, which releases nothing.
	Owner  string
	Logger *slog.Logger
	// Now defaults to helpline.Now.
	Now func() time.Time
	// Lease is how long a claimed pair stays with this node. A delivery
	// gets two thirds of it; a node that dies loses its pairs to others
	// when it runs out.
	Lease time.Duration
	// Workers is how many pairs of one connector are delivered at once.
	Workers int
	// PollInterval is how often the store is scanned for due pairs, the
	// backstop for lost bus events, retries coming due and restarts.
	PollInterval time.Duration
	// BackoffBase and BackoffMax bound the retry delay: attempt n waits a
	// random time in [0, min(BackoffMax, BackoffBase·2ⁿ⁻¹)).
	BackoffBase, BackoffMax time.Duration
	// Registerer receives the metrics; nil registers none.
	Registerer prometheus.Registerer
	// Jitter returns a number in [0, 1); it defaults to math/rand.
	Jitter func() float64
	// Linger is how long this node keeps the lease of a pair it delivered
	// cleanly once the contact has no more items, so that the contact's
	// next items go out without a claim. It is real time, whatever Now
	// says, at most a third of Lease; a negative Linger releases every
	// pair after each delivery. Meanwhile other nodes cannot deliver the
	// pair, and items whose wake-up was lost wait for the release.
	Linger time.Duration
}

// Dispatcher delivers mirror pairs. Run drives it.
type Dispatcher struct {
	store   Store
	bus     helpline.Bus
	owner   string
	log     *slog.Logger
	now     func() time.Time
	lease   time.Duration
	workers int
	poll    time.Duration
	base    time.Duration
	max     time.Duration
	jitter  func() float64
	linger  time.Duration
	metrics *metrics
	lanes   []*lane
	// flight is the context of outside calls in flight: it ends when
	// RunGraceful's grace does. RunGraceful sets it before starting the
	// workers.
	flight context.Context
}

// New returns a dispatcher; Run starts it.
func New(cfg Config) *Dispatcher {
	d := &Dispatcher{
		store:   cfg.Store,
		bus:     cfg.Bus,
		owner:   cfg.Owner,
		log:     cfg.Logger,
		now:     cfg.Now,
		lease:   cfg.Lease,
		workers: cfg.Workers,
		poll:    cfg.PollInterval,
		base:    cfg.BackoffBase,
		max:     cfg.BackoffMax,
		jitter:  cfg.Jitter,
		linger:  cfg.Linger,
	}
	if d.owner == "" {
		d.owner = "node-" + helpline.NewID()
	}
	if d.log == nil {
		d.log = slog.Default()
	}
	if d.now == nil {
		d.now = helpline.Now
	}
	if d.lease <= 0 {
		d.lease = DefaultLease
	}
	if d.workers <= 0 {
		d.workers = DefaultWorkers
	}
	if d.poll <= 0 {
		d.poll = DefaultPollInterval
	}
	if d.base <= 0 {
		d.base = DefaultBackoffBase
	}
	if d.max <= 0 {
		d.max = DefaultBackoffMax
	}
	if d.jitter == nil {
		d.jitter = rand.Float64
	}
	if d.linger == 0 {
		d.linger = DefaultLinger
	}
	d.linger = min(d.linger, d.lease/3)
	var names []string
	for _, c := range cfg.Connectors {
		batch := DefaultBatchSize
		if b, ok := c.(helpline.Batcher); ok && b.BatchSize() > 0 {
			batch = b.BatchSize()
		}
		d.lanes = append(d.lanes, &lane{
			conn:    c,
			batch:   batch,
			wake:    make(chan string, 4096),
			claimed: make(chan *helpline.MirrorPair),
			kick:    make(chan struct{}, 1),
			state:   make(map[string]*entry),
		})
		names = append(names, c.Name())
	}
	d.metrics = newMetrics(cfg.Registerer, cfg.Store, names)
	return d
}

// Run delivers until ctx is done, then cancels the deliveries in flight,
// waits for them, releases its leases and returns ctx's error. It is
// RunGraceful(ctx, ctx).
func (d *Dispatcher) Run(ctx context.Context) error { return d.RunGraceful(ctx, ctx) }

// RunGraceful delivers until ctx is done, then lets the deliveries in
// flight finish, unless grace is done first (which cancels them), saves
// their outcomes, releases its leases and returns ctx's error. It starts
// no delivery once ctx is done. A node that stops this way leaves its
// pairs to the other nodes at once, with nothing uncertain about them.
//
// It starts by releasing the leases a previous process with the same
// Owner held (ReleaseMirrorLeases): that process died, possibly between
// a connector's delivery and the save of its outcome, so those pairs come
// back Reclaimed and their items are handed over as a retry (Attempt ≥ 1)
// for the connector to check what landed. A failure to release is logged;
// the leases then run out on their own.
func (d *Dispatcher) RunGraceful(ctx, grace context.Context) error {
	if len(d.lanes) == 0 {
		<-ctx.Done()
		return ctx.Err()
	}
	if n, err := d.store.ReleaseMirrorLeases(ctx, d.owner, d.now()); err != nil {
		d.log.Error("mirror: releasing the leases of a previous run", "owner", d.owner, "err", err)
	} else if n > 0 {
		d.log.Info("mirror: released the leases of a previous run", "owner", d.owner, "pairs", n)
	}
	shared, err := d.bus.SubscribeGroup(ctx, helpline.AllContacts, BusGroup)
	if err != nil {
		return fmt.Errorf("mirror: subscribing to the bus: %w", err)
	}
	defer shared.Close()
	all, err := d.bus.Subscribe(ctx, helpline.AllContacts)
	if err != nil {
		return fmt.Errorf("mirror: subscribing to the bus: %w", err)
	}
	defer all.Close()
	flight, cancel := context.WithCancel(context.WithoutCancel(ctx))
	defer cancel()
	defer context.AfterFunc(grace, cancel)()
	d.flight = flight
	var wg sync.WaitGroup
	for _, l := range d.lanes {
		wg.Add(1 + d.workers)
		go func() { defer wg.Done(); d.pollLoop(ctx, l) }()
		for range d.workers {
			go func() { defer wg.Done(); d.work(ctx, l) }()
		}
	}
	d.listen(ctx, shared, all)
	wg.Wait()
	for _, l := range d.lanes {
		d.releaseIdle(ctx, l, -1)
	}
	return ctx.Err()
}

// listen turns stored items on the bus into wake-ups, and lost events (of
// any kind) into an immediate scan; it passes over events of other kinds.
// shared carries the items this node is to claim pairs for, its share of
// BusGroup's; all carries every item, of which it takes those of contacts
// it already has in hand (holding the pair's lease, or delivering it),
// whose items the node that receives the shared wake-up cannot claim.
func (d *Dispatcher) listen(ctx context.Context, shared, all helpline.Subscription) {
	var lost uint64
	for {
		var ev helpline.Event
		var ok, mine bool
		select {
		case <-ctx.Done():
			return
		case ev, ok = <-shared.Events():
			mine = true
		case ev, ok = <-all.Events():
		}
		if !ok {
			<-ctx.Done()
			return
		}
		if ev.Kind == helpline.EventItem && ev.Item != nil && ev.Item.Stored() {
			for _, l := range d.lanes {
				if mine || l.inHand(ev.Item.ContactID) {
					l.notify(ev.Item.ContactID)
				}
			}
		}
		if n := shared.Lost() + all.Lost(); n != lost {
			lost = n
			for _, l := range d.lanes {
				l.scanNow()
			}
		}
	}
}
