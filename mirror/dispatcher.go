// Package mirror is the mirror dispatcher: it delivers every contact's
// transcript items to each configured connector, in order and once, from a
// durable per-(connector, contact) cursor kept in the store.
//
// A pair is delivered only by the worker holding its lease, so items of one
// contact reach a connector in Seq order and never two batches at once, on
// one node or several. Workers wake on bus events and, as a backstop for
// lost events and restarts, poll the store for pairs that are due and
// behind. Failures are retried with exponential backoff and full jitter,
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
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"sync"
	"sync/atomic"
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
	Connectors []helpline.Connector
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
}

// lane is one connector's queue of contacts to deliver.
type lane struct {
	conn  helpline.Connector
	batch int
	// wake carries contacts whose pair may be behind; claimed carries
	// pairs the poller already leased.
	wake    chan string
	claimed chan *helpline.MirrorPair
	// kick asks the poller to scan at once (wake overflowed, or a worker
	// became idle while the poller had none to hand pairs to).
	kick chan struct{}
	// idle counts the workers waiting for a contact; the poller claims
	// no more pairs than that, so that no lease runs down while its
	// pair waits for a worker. starved says it found none.
	idle    atomic.Int64
	starved atomic.Bool

	// mu guards state: a contact absent from it is idle, and its pair
	// not leased by this node.
	mu    sync.Mutex
	state map[string]*entry
}

// entry is what a lane knows of a contact.
type entry struct {
	st contactState
	// held is the pair whose lease this node kept through its last save
	// (KeepLease), while no worker delivers it; since is when it became
	// idle so, on the monotonic clock.
	held  *helpline.MirrorPair
	since time.Time
}

type contactState uint8

const (
	queued  contactState = iota + 1 // in wake, no worker on it yet
	busy                            // a worker delivers it
	dirty                           // busy, and new items came meanwhile
	holding                         // idle, its lease kept in held
)

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
		if b, ok := c.(interface{ BatchSize() int }); ok && b.BatchSize() > 0 {
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

// Run delivers until ctx is done, then waits for deliveries in flight and
// returns ctx's error.
//
// It starts by releasing the leases a previous process with the same
// Owner held (ReleaseMirrorLeases): that process died, possibly between
// a connector's delivery and the save of its outcome, so those pairs come
// back Reclaimed and their items are handed over as a retry (Attempt ≥ 1)
// for the connector to check what landed. A failure to release is logged;
// the leases then run out on their own.
func (d *Dispatcher) Run(ctx context.Context) error {
	if len(d.lanes) == 0 {
		<-ctx.Done()
		return ctx.Err()
	}
	if n, err := d.store.ReleaseMirrorLeases(ctx, d.owner, d.now()); err != nil {
		d.log.Error("mirror: releasing the leases of a previous run", "owner", d.owner, "err", err)
	} else if n > 0 {
		d.log.Info("mirror: released the leases of a previous run", "owner", d.owner, "pairs", n)
	}
	sub, err := d.bus.Subscribe(ctx, helpline.AllContacts)
	if err != nil {
		return fmt.Errorf("mirror: subscribing to the bus: %w", err)
	}
	defer sub.Close()
	var wg sync.WaitGroup
	for _, l := range d.lanes {
		wg.Add(1 + d.workers)
		go func() { defer wg.Done(); d.pollLoop(ctx, l) }()
		for range d.workers {
			go func() { defer wg.Done(); d.work(ctx, l) }()
		}
	}
	d.listen(ctx, sub)
	wg.Wait()
	for _, l := range d.lanes {
		d.releaseIdle(ctx, l, -1)
	}
	return ctx.Err()
}

// listen turns stored items on the bus into wake-ups, and lost events (of
// any kind) into an immediate scan; it passes over events of other kinds.
func (d *Dispatcher) listen(ctx context.Context, sub helpline.Subscription) {
	var lost uint64
	for {
		select {
		case <-ctx.Done():
			return
		case ev, ok := <-sub.Events():
			if !ok {
				<-ctx.Done()
				return
			}
			if ev.Kind == helpline.EventItem && ev.Item != nil && ev.Item.Stored() {
				for _, l := range d.lanes {
					l.notify(ev.Item.ContactID)
				}
			}
			if n := sub.Lost(); n != lost {
				lost = n
				for _, l := range d.lanes {
					l.scanNow()
				}
			}
		}
	}
}

// notify queues contact c unless it is already queued; a contact being
// delivered is marked dirty so that its worker looks again.
func (l *lane) notify(c string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	e := l.state[c]
	if e != nil {
		switch e.st {
		case queued, dirty:
			return
		case busy:
			e.st = dirty
			return
		}
	}
	select {
	case l.wake <- c:
		if e == nil {
			e = &entry{}
			l.state[c] = e
		}
		e.st = queued
	default:
		// A held pair is released after Linger and then found by a scan.
		l.scanNow()
	}
}

func (l *lane) scanNow() {
	select {
	case l.kick <- struct{}{}:
	default:
	}
}

// begin marks c busy and hands over the pair this node holds for it, if
// any; it returns false if another worker has it (which then looks again).
func (l *lane) begin(c string, force bool) (held *helpline.MirrorPair, ok bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	e := l.state[c]
	if e == nil {
		e = &entry{}
		l.state[c] = e
	}
	if (e.st == busy || e.st == dirty) && !force {
		e.st = dirty
		return nil, false
	}
	held, e.held, e.st = e.held, nil, busy
	return held, true
}

// finish marks c idle, keeping held (when not nil) as the pair whose lease
// this node holds, or reports that new items may have come while it was
// busy.
//
// Two workers may have had c at once: one woken for c that found nothing
// to claim while the poller's claim of c went to the other. The entry the
// holder finds may then be gone or queued anew, and wake-ups may have
// been dropped meanwhile: the holder looks again, or leaves the pair to
// the worker the wake-up queued.
func (l *lane) finish(c string, held *helpline.MirrorPair) (again bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	e := l.state[c]
	if e == nil {
		if held == nil {
			return false
		}
		l.state[c] = &entry{st: busy}
		return true
	}
	switch e.st {
	case dirty:
		e.st = busy
		return true
	case queued, holding:
		if held != nil {
			e.held, e.since = held, time.Now()
		}
		return false
	}
	if held == nil {
		delete(l.state, c)
		return false
	}
	e.st, e.held, e.since = holding, held, time.Now()
	return false
}

// idleHeld takes the held pairs idle for at least linger (all of them when
// linger is negative), marking their contacts busy.
func (l *lane) idleHeld(linger time.Duration) []*helpline.MirrorPair {
	l.mu.Lock()
	defer l.mu.Unlock()
	var out []*helpline.MirrorPair
	for _, e := range l.state {
		if e.st == holding && (linger < 0 || time.Since(e.since) >= linger) {
			out = append(out, e.held)
			e.st, e.held = busy, nil
		}
	}
	return out
}

// released ends a release of c's held pair: c is idle, or queued again if
// items came meanwhile.
func (l *lane) released(c string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	e := l.state[c]
	if e == nil || e.st != dirty {
		delete(l.state, c)
		return
	}
	select {
	case l.wake <- c:
		e.st = queued
	default:
		delete(l.state, c)
		l.scanNow()
	}
}

// pollLoop leases due pairs every PollInterval (or at once when kicked)
// and hands them to the workers; a full claim is followed by another.
func (d *Dispatcher) pollLoop(ctx context.Context, l *lane) {
	t := time.NewTicker(d.poll)
	defer t.Stop()
	for {
		d.releaseIdle(ctx, l, d.linger)
		for {
			free := int(min(l.idle.Load(), int64(d.workers)))
			if free == 0 {
				l.starved.Store(true)
				break
			}
			pairs, err := d.store.ClaimMirrorPairs(ctx, l.conn.Name(), "", d.owner, d.now(), d.lease, free)
			if err != nil {
				if ctx.Err() == nil {
					d.log.Error("mirror: claiming pairs", "connector", l.conn.Name(), "err", err)
				}
				break
			}
			for _, p := range pairs {
				select {
				case l.claimed <- p:
				case <-ctx.Done():
					return
				}
			}
			if len(pairs) < free {
				break
			}
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		case <-l.kick:
		}
	}
}

// releaseIdle releases the leases of held pairs idle for linger (all with
// a negative linger), in parallel so that the store can commit the saves
// together.
func (d *Dispatcher) releaseIdle(ctx context.Context, l *lane, linger time.Duration) {
	pairs := l.idleHeld(linger)
	var wg sync.WaitGroup
	for _, p := range pairs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			d.release(ctx, p)
			l.released(p.ContactID)
		}()
	}
	wg.Wait()
}

// release saves pair p as it is, releasing its lease; a Reclaimed pair
// keeps at least one attempt, so that its next delivery still checks what
// landed. It runs even when ctx is done: Run releases the held pairs as it
// returns.
func (d *Dispatcher) release(ctx context.Context, p *helpline.MirrorPair) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	p.KeepLease = false
	if p.Reclaimed {
		p.Attempts = max(p.Attempts, 1)
	}
	if err := d.store.SaveMirrorPair(ctx, p, d.owner, d.now()); err != nil {
		d.log.Warn("mirror: releasing a pair", "connector", p.Connector, "contact", p.ContactID, "err", err)
	}
}

func (d *Dispatcher) work(ctx context.Context, l *lane) {
	for {
		l.idle.Add(1)
		if l.starved.CompareAndSwap(true, false) {
			l.scanNow()
		}
		select {
		case <-ctx.Done():
			return
		case c := <-l.wake:
			l.idle.Add(-1)
			if held, ok := l.begin(c, false); ok {
				d.drain(ctx, l, c, held)
			}
		case p := <-l.claimed:
			l.idle.Add(-1)
			l.begin(p.ContactID, true)
			d.drain(ctx, l, p.ContactID, p)
		}
	}
}

// drain delivers contact c's pair until it is caught up, waiting, or
// another node holds it. p is the pair when this node already leased it:
// claimed by the poller, or held since its last delivery.
func (d *Dispatcher) drain(ctx context.Context, l *lane, c string, p *helpline.MirrorPair) {
	for ctx.Err() == nil {
		if p != nil && p.LeaseUntil.Sub(d.now()) < d.lease*2/3 {
			// Too little of the lease is left for a delivery (the pair
			// waited for a worker, or Now jumped): a delivery must end
			// before the lease does, or the pair could be claimed and
			// delivered again meanwhile. Release it and claim again.
			if d.now().Before(p.LeaseUntil) {
				d.release(ctx, p)
			}
			p = nil
		}
		if p == nil {
			pairs, err := d.store.ClaimMirrorPairs(ctx, l.conn.Name(), c, d.owner, d.now(), d.lease, 1)
			if err != nil {
				if ctx.Err() == nil {
					d.log.Error("mirror: claiming a pair", "connector", l.conn.Name(), "contact", c, "err", err)
				}
				break
			}
			if len(pairs) == 0 {
				if l.finish(c, nil) {
					continue
				}
				return
			}
			p = pairs[0]
		}
		more, kept := d.deliver(ctx, l, p)
		if !kept {
			p = nil
		}
		if !more && !l.finish(c, p) {
			return
		}
	}
	if p != nil {
		d.release(ctx, p)
	}
	l.finish(c, nil)
}

// deliver hands the items after p's cursor to the connector and saves the
// outcome. It reports whether the pair has more items due now, and
// whether this node kept its lease (p.KeepLease, p.LeaseUntil): a clean
// delivery keeps it, unless Linger is negative or Run is stopping. A
// kept pair with no items after its cursor is left as it is.
func (d *Dispatcher) deliver(ctx context.Context, l *lane, p *helpline.MirrorPair) (more, kept bool) {
	name := l.conn.Name()
	log := d.log.With("connector", name, "contact", p.ContactID)
	// Items first: the contact and participants read after them know
	// every item's author, and an ended contact's LastSeq is final.
	items, err := d.store.FindItems(ctx, p.ContactID, helpline.ItemQuery{From: p.Cursor + 1, Limit: l.batch})
	var contact *helpline.Contact
	var parts []*helpline.Participant
	if err == nil {
		contact, err = d.store.FindContactByID(ctx, p.ContactID)
	}
	if err == nil {
		parts, err = d.store.FindParticipants(ctx, p.ContactID)
	}
	if err != nil {
		// The pair's lease runs out and it is tried again.
		if ctx.Err() == nil {
			log.Error("mirror: reading the contact", "err", err)
		}
		return false, p.KeepLease
	}
	if len(items) == 0 && p.KeepLease {
		return false, true
	}

	// Items that came from this connector's system are not sent back; the
	// cursor moves past them.
	batch := make([]*helpline.Item, 0, len(items))
	for _, it := range items {
		if it.Origin != name {
			batch = append(batch, it)
		}
	}
	var res helpline.MirrorResult
	attempt := p.Attempts
	if p.Reclaimed {
		// The previous holder may have delivered these items without
		// recording it: the connector must check before sending.
		attempt = max(attempt, 1)
	}
	if len(batch) > 0 {
		// The delivery ends a third of the lease before the lease does,
		// which leaves time to save its outcome.
		mctx, cancel := context.WithTimeout(ctx, min(d.lease*2/3, p.LeaseUntil.Sub(d.now())-d.lease/3))
		started := time.Now()
		res, err = l.conn.Mirror(mctx, &helpline.MirrorBatch{
			Contact:      contact,
			Participants: parts,
			Items:        batch,
			Refs:         p.Refs,
			Attempt:      attempt,
		})
		cancel()
		d.metrics.duration.WithLabelValues(name).Observe(time.Since(started).Seconds())
		res.Delivered = min(max(res.Delivered, 0), len(batch))
	}
	saveCtx := ctx
	if ctx.Err() != nil {
		// Shutting down mid-delivery: record the outcome anyway, so that
		// an uncertain one comes back with Attempt > 0.
		var cancel context.CancelFunc
		saveCtx, cancel = context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
		defer cancel()
	}

	now := d.now()
	switch {
	case len(items) == 0:
	case len(batch) == 0 || res.Delivered == len(batch):
		p.Cursor = items[len(items)-1].Seq
	case res.Delivered > 0:
		p.Cursor = batch[res.Delivered].Seq - 1
	default:
		p.Cursor = batch[0].Seq - 1
	}
	if res.Refs != nil {
		p.Refs = res.Refs
	}
	for _, it := range batch[:res.Delivered] {
		d.metrics.lag.WithLabelValues(name).Observe(now.Sub(it.Time).Seconds())
	}
	d.metrics.items.WithLabelValues(name).Add(float64(res.Delivered))

	var merr *helpline.MirrorError
	switch {
	case err == nil && res.Delivered < len(batch):
		// The connector asked to wait before sending the rest. Whatever
		// an earlier try left uncertain is still so: the next try must
		// check again.
		p.Attempts = attempt
		p.NextAttempt = now.Add(res.Wait)
		d.metrics.deliveries.WithLabelValues(name, "ok").Inc()
	case err == nil:
		p.Attempts, p.LastError = 0, ""
		p.NextAttempt = now.Add(res.Wait)
		if contact.Ended() && p.Cursor >= contact.LastSeq {
			p.State = helpline.MirrorDone
		}
		d.metrics.deliveries.WithLabelValues(name, "ok").Inc()
	case errors.As(err, &merr) && merr.Permanent:
		p.State, p.LastError = helpline.MirrorParked, err.Error()
		d.metrics.deliveries.WithLabelValues(name, "parked").Inc()
		log.Warn("mirror: pair parked", "cursor", p.Cursor, "err", err)
	default:
		if res.Delivered > 0 {
			p.Attempts = 0
		}
		p.Attempts++
		p.LastError = err.Error()
		wait := d.backoff(p.Attempts)
		if merr != nil && merr.RetryAfter > wait {
			wait = merr.RetryAfter
		}
		p.NextAttempt = now.Add(wait)
		d.metrics.deliveries.WithLabelValues(name, "retry").Inc()
		d.metrics.retries.WithLabelValues(name).Inc()
		log.Info("mirror: delivery failed; retrying", "attempt", p.Attempts, "in", wait, "err", err)
	}
	clean := err == nil && res.Wait <= 0 && p.State == helpline.MirrorActive
	p.KeepLease = clean && d.linger >= 0 && ctx.Err() == nil
	if p.KeepLease {
		p.LeaseUntil = now.Add(d.lease)
	}
	if serr := d.store.SaveMirrorPair(saveCtx, p, d.owner, now); serr != nil {
		log.Warn("mirror: saving the pair", "err", serr)
		return false, false
	}
	// Saved: whatever a previous holder left uncertain is settled.
	p.Reclaimed = false
	if len(items) > 0 {
		p.LastSeq = max(p.LastSeq, items[len(items)-1].Seq)
	}
	return clean && (p.Cursor < p.LastSeq || len(items) == l.batch), p.KeepLease
}

// backoff is the full-jitter delay before attempt n (n ≥ 1).
func (d *Dispatcher) backoff(n int) time.Duration {
	ceil := d.base
	for i := 1; i < n && ceil < d.max; i++ {
		ceil *= 2
	}
	ceil = min(ceil, d.max)
	return time.Duration(d.jitter() * float64(ceil))
}
