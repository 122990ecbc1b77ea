package mirror

import (
	"context"
	"sync"
	"sync/atomic"
	"time"

	"github.com/helplinehq/helpline"
)

// lane is one connector's queue of contacts to deliver.
type lane struct {
	conn  helpline.Mirrorer
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

// inHand reports whether this node has contact c in hand: queued,
// being delivered, or its pair's lease kept.
func (l *lane) inHand(c string) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.state[c] != nil
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
