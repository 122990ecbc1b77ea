package helpline

import (
	"context"
	"fmt"
	"time"
)

// Mirrorer is a connector that mirrors contacts' transcripts into its
// outside system (a helpdesk, a CRM, a webhook receiver); a connector that
// is not one only brings chats in (Stream Chat), and the engine opens no
// mirror pairs for it. The mirror dispatcher calls Mirror
// with one contact's items at a time, in Seq order, never two calls for
// the same contact at once, and records what was delivered; a connector
// holds no delivery state of its own beyond the references it returns.
type Mirrorer interface {
	Connector
	// Mirror delivers b.Items, which follow the pair's cursor, to the
	// outside system. It returns how many of them (a prefix) landed and
	// the pair's references afterwards (ticket id, lead id, ...), which
	// the dispatcher stores with the new cursor.
	//
	// Effects must happen once: after an uncertain outcome (a timeout, or
	// a crash between the call and the cursor commit) the same items come
	// again with Attempt > 0, and the connector checks what landed before
	// sending again, where the outside API allows it.
	//
	// A failure is a *MirrorError when the connector can classify it; any
	// other error counts as retryable. Delivered may be non-zero together
	// with an error: the landed prefix is kept.
	Mirror(ctx context.Context, b *MirrorBatch) (MirrorResult, error)
}

// MirrorBatch is what the dispatcher hands a connector.
type MirrorBatch struct {
	Contact *Contact
	// Participants are the contact's participants, for authors' names and
	// roles.
	Participants []*Participant
	// Items follow the pair's cursor, in ascending Seq; at most the
	// connector's batch size.
	Items []*Item
	// Refs are the references the connector returned last time; empty on
	// the first delivery of a contact. The connector must not modify it.
	Refs map[string]string
	// Attempt counts earlier failed tries of these items; 0 on the first.
	// It is at least 1 whenever an earlier try may have landed unrecorded
	// (it failed, or its holder died) and no delivery has settled that
	// since; a Wait settles nothing.
	Attempt int
}

// MirrorResult is the outcome of a Mirror call.
type MirrorResult struct {
	// Delivered is how many of the batch's items landed, from the first.
	Delivered int
	// Refs are the pair's references after the call; nil keeps the old ones.
	Refs map[string]string
	// Wait, when set, asks the dispatcher not to hand this contact to the
	// connector again before it has passed, even if items are waiting: it
	// paces per-object limits (Zendesk's updates per ticket) without
	// counting as a failure.
	Wait time.Duration
}

// MirrorError is a classified delivery failure.
type MirrorError struct {
	// Permanent failures (a 4xx other than 429, bad credentials) park the
	// pair until an operator resumes it; others are retried with backoff.
	Permanent bool
	// RetryAfter, when set, is the least time to wait before the next try
	// (Retry-After, rate-limit reset headers).
	RetryAfter time.Duration
	Err        error
}

func (e *MirrorError) Error() string {
	kind := "retryable"
	if e.Permanent {
		kind = "permanent"
	}
	return fmt.Sprintf("%s mirror failure: %v", kind, e.Err)
}

func (e *MirrorError) Unwrap() error { return e.Err }

// Mirror pair states.
const (
	MirrorActive = "active" // items are delivered as they come
	MirrorParked = "parked" // a permanent failure stopped delivery; see LastError
	MirrorDone   = "done"   // the contact ended and everything was delivered
)

// MirrorPair is the durable state of one (connector, contact) pair.
type MirrorPair struct {
	Connector string
	ContactID string
	// Cursor is the Seq of the last item delivered.
	Cursor int64
	// Refs are the connector's references (ticket id, ...).
	Refs  map[string]string
	State string
	// Attempts counts consecutive failed deliveries.
	Attempts int
	// NextAttempt is when the pair may be delivered again.
	NextAttempt time.Time
	// LastError is the reason of the last failure, kept while parked.
	LastError string
	// LeaseOwner holds the pair until LeaseUntil; empty when free.
	LeaseOwner string
	LeaseUntil time.Time
	// Reclaimed is set by ClaimMirrorPairs when the pair still carried a
	// lease that was never released by SaveMirrorPair: its previous holder
	// died (a crash, a kill) or overran its lease, possibly after the
	// connector delivered items it could not record. The items after the
	// cursor may have landed already, so the dispatcher hands them over
	// as a retry (Attempt ≥ 1) and the connector checks what landed. It
	// stays set on every claim until a holder saves the pair; other reads
	// leave it false.
	Reclaimed bool
	// KeepLease, when set on the pair handed to SaveMirrorPair, keeps the
	// lease with its owner until LeaseUntil instead of releasing it: the
	// holder recorded its outcome and goes on delivering the pair without
	// a new claim. It may deliver again without a write, so a claim after
	// such a lease runs out, or is released by ReleaseMirrorLeases, is
	// Reclaimed as after a claimed one. Reads leave it false.
	KeepLease bool
	// LastSeq is the contact's newest Seq when the pair was read.
	LastSeq   int64
	UpdatedAt time.Time
}

// MirrorStore keeps mirror pairs. Leases make one worker, on any node,
// deliver a pair at a time; every Store implements it and passes storetest.
type MirrorStore interface {
	// CreateMirrorPairs adds a pair with cursor 0 for each connector not
	// yet paired with the contact. It is idempotent.
	CreateMirrorPairs(ctx context.Context, contactID string, connectors []string, now time.Time) error
	// ClaimMirrorPairs leases to owner, until now+lease, up to limit pairs
	// of connector that are active, due (NextAttempt ≤ now), free (no
	// lease, or an expired one) and behind (the contact has items after
	// the cursor); with contactID set, only that contact's pair. Each
	// claimed pair is returned with LastSeq filled, and Reclaimed set when
	// its previous lease, expired or released by ReleaseMirrorLeases, was
	// never released by a save. On PostgreSQL this is a
	// SKIP LOCKED claim; two owners never hold one pair at once.
	ClaimMirrorPairs(ctx context.Context, connector, contactID, owner string, now time.Time, lease time.Duration, limit int) ([]*MirrorPair, error)
	// SaveMirrorPair stores p's Cursor, Refs, State, Attempts,
	// NextAttempt and LastError and releases the lease, provided owner
	// still holds it; otherwise it returns ECONFLICT and stores nothing.
	// With p.KeepLease set it keeps the lease instead, running until
	// p.LeaseUntil, which must be after now (else EINVALID); owner saves
	// the pair again, kept or released, without a new claim.
	SaveMirrorPair(ctx context.Context, p *MirrorPair, owner string, now time.Time) error
	// ReleaseMirrorLeases expires, at now, every lease owner holds that
	// runs past now, and returns how many. A node calls it when it starts,
	// with the owner id it kept across restarts, so that pairs its
	// previous process held (killed mid-delivery) are delivered at once
	// rather than after their leases run out. The pairs stay marked as
	// unreleased: their next claim is Reclaimed. Owner ids are per node
	// (two running processes never share one), so this never takes a pair
	// from a live holder.
	ReleaseMirrorLeases(ctx context.Context, owner string, now time.Time) (int, error)
	// ResumeMirrorPairs makes parked pairs active and due at now, with
	// their attempts reset; an empty connector or contactID matches all.
	// It returns how many it resumed.
	ResumeMirrorPairs(ctx context.Context, connector, contactID string, now time.Time) (int, error)
	// FindMirrorPairs returns the pairs f selects, with LastSeq filled,
	// ordered by connector and contact.
	FindMirrorPairs(ctx context.Context, f MirrorPairFilter) ([]*MirrorPair, error)
	// FindMirrorPairByRef returns the pair of connector whose Refs map key
	// to value (the ticket a webhook names), or ENOTFOUND.
	FindMirrorPairByRef(ctx context.Context, connector, key, value string) (*MirrorPair, error)
}

// MirrorPairFilter selects mirror pairs; empty fields match all.
type MirrorPairFilter struct {
	Connector string
	ContactID string
	State     string
	// Behind keeps only pairs whose contact has items after the cursor.
	Behind bool
	Limit  int
}
