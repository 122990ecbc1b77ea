package postgres

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/helplinehq/helpline"
)

const (
	mirrorPairColumns = `p.connector, p.contact_id, p.cursor, p.refs, p.state, p.attempts, p.next_attempt,
	p.last_error, p.lease_owner, p.lease_until, p.updated_at`
	selectMirrorPair = `SELECT ` + mirrorPairColumns + `, c.last_seq FROM mirror_pairs p JOIN contacts c ON c.id = p.contact_id`

	pairIsActive = `p.state = '` + helpline.MirrorActive + `'`
	pairIsBehind = `c.last_seq > p.cursor`

	// claimMirrorPairs locks the pairs it claims with SKIP LOCKED, so that
	// a claim on another node passes over them rather than waiting, and
	// updates them in the same statement. A pair another claim updated
	// since this statement's snapshot is checked again as it now is
	// (PostgreSQL rechecks a locked row's WHERE terms), so no pair is
	// claimed twice. $1 connector, $2 contact ('' for any), $3 now,
	// $4 limit, $5 owner, $6 lease end.
	claimMirrorPairs = `WITH due AS (
		SELECT p.connector, p.contact_id, p.lease_owner AS held_by
		FROM mirror_pairs p JOIN contacts c ON c.id = p.contact_id
		WHERE p.connector = $1 AND ($2 = '' OR p.contact_id = $2) AND ` + pairIsActive + ` AND p.next_attempt <= $3
		AND (p.lease_owner = '' OR p.lease_until <= $3) AND ` + pairIsBehind + `
		ORDER BY p.next_attempt, p.contact_id LIMIT $4
		FOR UPDATE OF p SKIP LOCKED)
	UPDATE mirror_pairs p SET lease_owner = $5, lease_until = $6
	FROM due, contacts c
	WHERE p.connector = due.connector AND p.contact_id = due.contact_id AND c.id = p.contact_id
	RETURNING ` + mirrorPairColumns + `, c.last_seq, due.held_by`

	selectMirrorPairByRef = selectMirrorPair + `
	JOIN mirror_refs r ON r.connector = p.connector AND r.contact_id = p.contact_id
	WHERE r.connector = $1 AND r.key = $2 AND r.value = $3
	ORDER BY c.created_at DESC, c.id DESC LIMIT 1`

	insertMirrorPair = `INSERT INTO mirror_pairs (connector, contact_id, cursor, refs, state, attempts,
	next_attempt, last_error, lease_owner, lease_until, updated_at)
	VALUES ($1, $2, 0, '{}', '` + helpline.MirrorActive + `', 0, $3, '', '', NULL, $3)
	ON CONFLICT (connector, contact_id) DO NOTHING`
)

// CreateMirrorPairs adds an active pair with cursor 0, due at now, for each
// connector not yet paired with the contact. It is idempotent. Errors:
// ENOTFOUND (Resource CONTACT).
func (db *DB) CreateMirrorPairs(ctx context.Context, contactID string, connectors []string, now time.Time) error {
	return db.tx(ctx, func(tx pgx.Tx) error {
		var one int
		err := tx.QueryRow(ctx, `SELECT 1 FROM contacts WHERE id = $1`, contactID).Scan(&one)
		if errors.Is(err, pgx.ErrNoRows) {
			return helpline.NotFound(helpline.ResourceContact, contactID)
		} else if err != nil {
			return dbError("read contact", err)
		}
		return insertMirrorPairs(ctx, tx, contactID, connectors, now)
	})
}

func insertMirrorPairs(ctx context.Context, tx pgx.Tx, contactID string, connectors []string, now time.Time) error {
	for _, name := range connectors {
		if name == "" {
			return helpline.Errorf(helpline.EINVALID, "A mirror pair needs a connector name.")
		}
		if _, err := tx.Exec(ctx, insertMirrorPair, name, contactID, millis(now)); err != nil {
			return dbError("create mirror pair", err)
		}
	}
	return nil
}

// ClaimMirrorPairs leases to owner, until now+lease, up to limit pairs of
// connector that are active, due, free and behind, those due longest
// first; with contactID set, only that contact's pair. A pair whose
// expired lease still names an owner (SaveMirrorPair clears it) comes back
// Reclaimed. It is one statement that locks the pairs it takes with FOR
// UPDATE SKIP LOCKED: owners claiming at once, on any node, take
// different pairs. A limit of zero or less claims nothing; an empty owner
// or a lease that is not positive is EINVALID.
func (db *DB) ClaimMirrorPairs(ctx context.Context, connector, contactID, owner string, now time.Time, lease time.Duration, limit int) ([]*helpline.MirrorPair, error) {
	if owner == "" || lease <= 0 {
		return nil, helpline.Errorf(helpline.EINVALID, "A claim needs an owner and a positive lease.")
	}
	if limit <= 0 {
		return nil, nil
	}
	until := fromMillis(millis(now.Add(lease)))
	pairs, err := queryAll(ctx, db.pool, "claim mirror pairs", func(s scanner) (*helpline.MirrorPair, error) {
		var heldBy string
		p, err := scanMirrorPair(withExtra{s, []any{&heldBy}})
		if err != nil {
			return nil, err
		}
		p.Reclaimed = heldBy != ""
		return p, nil
	}, claimMirrorPairs, connector, contactID, millis(now), limit, owner, millis(until))
	if err != nil {
		return nil, err
	}
	slices.SortFunc(pairs, func(a, b *helpline.MirrorPair) int {
		if c := a.NextAttempt.Compare(b.NextAttempt); c != 0 {
			return c
		}
		return strings.Compare(a.ContactID, b.ContactID)
	})
	return pairs, nil
}

// SaveMirrorPair stores p's Cursor, Refs, State, Attempts, NextAttempt and
// LastError and releases the lease, provided owner holds it: the pair's
// lease is owner's, even if it has expired, as long as no one else has
// claimed the pair since. Otherwise it returns ECONFLICT and stores
// nothing. With p.KeepLease the lease stays owner's until p.LeaseUntil;
// a claim after it runs out is Reclaimed, as after any lease never
// released. A missing pair is ENOTFOUND, a State other than active,
// parked or done EINVALID, and so is a kept lease not running past now.
func (db *DB) SaveMirrorPair(ctx context.Context, p *helpline.MirrorPair, owner string, now time.Time) error {
	switch p.State {
	case helpline.MirrorActive, helpline.MirrorParked, helpline.MirrorDone:
	default:
		return helpline.Errorf(helpline.EINVALID, "Mirror pair state %q is not one of active, parked, done.", p.State)
	}
	if p.KeepLease && !p.LeaseUntil.After(now) {
		return helpline.Errorf(helpline.EINVALID, "A kept lease must run past now.")
	}
	leaseOwner, leaseUntil := "", (*int64)(nil)
	if p.KeepLease {
		leaseOwner, leaseUntil = owner, nullMillis(p.LeaseUntil)
	}
	refs := nonNilMap(p.Refs)
	refsJSON, err := json.Marshal(refs)
	if err != nil {
		return fmt.Errorf("postgres: encode mirror refs: %w", err)
	}
	return db.tx(ctx, func(tx pgx.Tx) error {
		var holder string
		var oldRefs map[string]string
		err := tx.QueryRow(ctx, `SELECT lease_owner, refs FROM mirror_pairs WHERE connector = $1 AND contact_id = $2 FOR UPDATE`,
			p.Connector, p.ContactID).Scan(&holder, &oldRefs)
		if errors.Is(err, pgx.ErrNoRows) {
			return helpline.Errorf(helpline.ENOTFOUND, "Mirror pair %s/%s not found.", p.Connector, p.ContactID)
		} else if err != nil {
			return dbError("read mirror pair", err)
		}
		if owner == "" || holder != owner {
			return helpline.Errorf(helpline.ECONFLICT, "Mirror pair %s/%s is not leased to %s.", p.Connector, p.ContactID, owner)
		}
		if _, err := tx.Exec(ctx, `UPDATE mirror_pairs SET cursor = $1, refs = $2, state = $3, attempts = $4, next_attempt = $5,
			last_error = $6, lease_owner = $7, lease_until = $8, updated_at = $9 WHERE connector = $10 AND contact_id = $11`,
			p.Cursor, string(refsJSON), p.State, p.Attempts, millis(p.NextAttempt), p.LastError, leaseOwner, leaseUntil,
			millis(now), p.Connector, p.ContactID); err != nil {
			return dbError("save mirror pair", err)
		}
		if !maps.Equal(oldRefs, refs) {
			return saveMirrorRefs(ctx, tx, p.Connector, p.ContactID, refs)
		}
		return nil
	})
}

// saveMirrorRefs replaces the lookup rows of a pair's refs.
func saveMirrorRefs(ctx context.Context, tx pgx.Tx, connector, contactID string, refs map[string]string) error {
	if _, err := tx.Exec(ctx, `DELETE FROM mirror_refs WHERE connector = $1 AND contact_id = $2`, connector, contactID); err != nil {
		return dbError("save mirror refs", err)
	}
	for k, v := range refs {
		if _, err := tx.Exec(ctx, `INSERT INTO mirror_refs (connector, key, value, contact_id) VALUES ($1, $2, $3, $4)`,
			connector, k, v, contactID); err != nil {
			return dbError("save mirror refs", err)
		}
	}
	return nil
}

// ReleaseMirrorLeases sets the end of every lease owner holds that runs
// past now to now, keeping the owner's name on the pair so that its next
// claim is Reclaimed, and returns how many it cut short. An empty owner
// is EINVALID.
func (db *DB) ReleaseMirrorLeases(ctx context.Context, owner string, now time.Time) (int, error) {
	if owner == "" {
		return 0, helpline.Errorf(helpline.EINVALID, "Releasing leases needs an owner.")
	}
	tag, err := db.pool.Exec(ctx, `UPDATE mirror_pairs SET lease_until = $1 WHERE lease_owner = $2 AND lease_until > $1`,
		millis(now), owner)
	if err != nil {
		return 0, dbError("release mirror leases", err)
	}
	return int(tag.RowsAffected()), nil
}

// ResumeMirrorPairs makes parked pairs active and due at now, with their
// attempts and last error cleared; an empty connector or contactID matches
// all. It returns how many it resumed.
func (db *DB) ResumeMirrorPairs(ctx context.Context, connector, contactID string, now time.Time) (int, error) {
	tag, err := db.pool.Exec(ctx, `UPDATE mirror_pairs SET state = $1, attempts = 0, next_attempt = $2, last_error = '', updated_at = $2
		WHERE state = $3 AND ($4 = '' OR connector = $4) AND ($5 = '' OR contact_id = $5)`,
		helpline.MirrorActive, millis(now), helpline.MirrorParked, connector, contactID)
	if err != nil {
		return 0, dbError("resume mirror pairs", err)
	}
	return int(tag.RowsAffected()), nil
}

// FindMirrorPairs returns the pairs f selects, with LastSeq filled, ordered
// by connector and contact. A Limit of zero or less means no limit.
func (db *DB) FindMirrorPairs(ctx context.Context, f helpline.MirrorPairFilter) ([]*helpline.MirrorPair, error) {
	var where []string
	var args []any
	for _, c := range []struct{ column, value string }{
		{"p.connector", f.Connector}, {"p.contact_id", f.ContactID}, {"p.state", f.State},
	} {
		if c.value != "" {
			args = append(args, c.value)
			where = append(where, fmt.Sprintf("%s = $%d", c.column, len(args)))
		}
	}
	if f.Behind {
		where = append(where, pairIsBehind)
	}
	query := selectMirrorPair
	if len(where) > 0 {
		query += ` WHERE ` + strings.Join(where, " AND ")
	}
	args = append(args, limitOrAll(f.Limit))
	query += fmt.Sprintf(` ORDER BY p.connector, p.contact_id LIMIT $%d`, len(args))
	return queryAll(ctx, db.pool, "find mirror pairs", scanMirrorPair, query, args...)
}

// FindMirrorPairByRef returns the pair of connector whose Refs map key to
// value, or ENOTFOUND. When several contacts share the reference it returns
// the pair of the newest contact.
func (db *DB) FindMirrorPairByRef(ctx context.Context, connector, key, value string) (*helpline.MirrorPair, error) {
	p, err := scanMirrorPair(db.pool.QueryRow(ctx, selectMirrorPairByRef, connector, key, value))
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, helpline.Errorf(helpline.ENOTFOUND, "No %s mirror pair has %s %s.", connector, key, value)
	}
	return p, err
}

func scanMirrorPair(s scanner) (*helpline.MirrorPair, error) {
	var (
		p             helpline.MirrorPair
		refs          []byte
		next, updated int64
		leaseUntil    *int64
	)
	err := s.Scan(&p.Connector, &p.ContactID, &p.Cursor, &refs, &p.State, &p.Attempts, &next,
		&p.LastError, &p.LeaseOwner, &leaseUntil, &updated, &p.LastSeq)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, err
	} else if err != nil {
		return nil, dbError("read mirror pair", err)
	}
	if err := json.Unmarshal(refs, &p.Refs); err != nil {
		return nil, fmt.Errorf("postgres: decode refs of mirror pair %s/%s: %w", p.Connector, p.ContactID, err)
	}
	p.Refs = nonNilMap(p.Refs)
	p.NextAttempt = fromMillis(next)
	p.LeaseUntil = fromNullMillis(leaseUntil)
	p.UpdatedAt = fromMillis(updated)
	return &p, nil
}
