package mirror

import (
	"context"
	"errors"
	"time"

	"github.com/helplinehq/helpline"
)

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
		// A delivery under way when Run is told to stop goes on for as
		// long as its grace allows.
		mctx, cancel := context.WithTimeout(d.flight, min(d.lease*2/3, p.LeaseUntil.Sub(d.now())-d.lease/3))
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
