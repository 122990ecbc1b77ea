package sqlite

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/helplinehq/helpline"
)

const (
	mirrorPairColumns = `p.connector, p.contact_id, p.cursor, p.refs, p.state, p.attempts, p.next_attempt,
	p.last_error, p.lease_owner, p.lease_until, p.updated_at`
	// pairLastSeq is the newest Seq of a pair's contact.
	pairLastSeq      = `(SELECT coalesce(max(seq), 0) FROM items WHERE items.contact_id = p.contact_id)`
	selectMirrorPair = `SELECT ` + mirrorPairColumns + `, ` + pairLastSeq + ` FROM mirror_pairs p`

	// pairIsActive is a literal, not a parameter, so that SQLite uses the
	// partial index mirror_pairs_due.
	pairIsActive = `p.state = '` + helpline.MirrorActive + `'`
	pairIsBehind = pairLastSeq + ` > p.cursor`
	pairIsFree   = `(p.lease_owner = '' OR p.lease_until <= ?)`

	claimMirrorPairs = selectMirrorPair + ` WHERE p.connector = ? AND ` + pairIsActive + ` AND p.next_attempt <= ?
	AND ` + pairIsFree + ` AND ` + pairIsBehind + `
	ORDER BY p.next_attempt, p.contact_id LIMIT ?`
	// claimMirrorPair is claimMirrorPairs for one contact: a primary key
	// lookup rather than a scan of the connector's due pairs.
	claimMirrorPair = selectMirrorPair + ` WHERE p.connector = ? AND p.contact_id = ? AND ` + pairIsActive + `
	AND p.next_attempt <= ? AND ` + pairIsFree + ` AND ` + pairIsBehind + ` LIMIT ?`
	selectMirrorPairByRef = selectMirrorPair + `
	JOIN mirror_refs r ON r.connector = p.connector AND r.contact_id = p.contact_id
	JOIN contacts c ON c.id = p.contact_id
	WHERE r.connector = ? AND r.key = ? AND r.value = ?
	ORDER BY c.created_at DESC, c.id DESC LIMIT 1`

	insertMirrorPair = `INSERT INTO mirror_pairs (connector, contact_id, cursor, refs, state, attempts,
	next_attempt, last_error, lease_owner, lease_until, updated_at)
	VALUES (?, ?, 0, '{}', '` + helpline.MirrorActive + `', 0, ?, '', '', NULL, ?)
	ON CONFLICT (connector, contact_id) DO NOTHING`
)

// CreateMirrorPairs adds an active pair with cursor 0, due at now, for each
// connector not yet paired with the contact. It is idempotent. Errors:
// ENOTFOUND (Resource CONTACT).
func (db *DB) CreateMirrorPairs(ctx context.Context, contactID string, connectors []string, now time.Time) error {
	return db.write(ctx, func(tx *sql.Tx) error {
		var one int
		err := tx.QueryRow(`SELECT 1 FROM contacts WHERE id = ?`, contactID).Scan(&one)
		if errors.Is(err, sql.ErrNoRows) {
			return helpline.NotFound(helpline.ResourceContact, contactID)
		} else if err != nil {
			return dbError("read contact", err)
		}
		return insertMirrorPairs(tx, contactID, connectors, now)
	})
}

func insertMirrorPairs(tx *sql.Tx, contactID string, connectors []string, now time.Time) error {
	for _, name := range connectors {
		if name == "" {
			return helpline.Errorf(helpline.EINVALID, "A mirror pair needs a connector name.")
		}
		if _, err := tx.Exec(insertMirrorPair, name, contactID, millis(now), millis(now)); err != nil {
			return dbError("create mirror pair", err)
		}
	}
	return nil
}

// ClaimMirrorPairs leases to owner, until now+lease, up to limit pairs of
// connector that are active, due, free and behind, those due longest
// first; with contactID set, only that contact's pair. A pair whose
// expired lease still names an owner (SaveMirrorPair clears it) comes back
// Reclaimed, also when that owner kept the lease through a save (it may
// have delivered since without a write). The claim runs on the single writer, so two owners never hold
// one pair at once. A limit of zero or less claims nothing; an empty owner
// or a lease that is not positive is EINVALID.
func (db *DB) ClaimMirrorPairs(ctx context.Context, connector, contactID, owner string, now time.Time, lease time.Duration, limit int) ([]*helpline.MirrorPair, error) {
	if owner == "" || lease <= 0 {
		return nil, helpline.Errorf(helpline.EINVALID, "A claim needs an owner and a positive lease.")
	}
	if limit <= 0 {
		return nil, nil
	}
	until := now.Add(lease)
	var pairs []*helpline.MirrorPair
	err := db.write(ctx, func(tx *sql.Tx) error {
		var err error
		if contactID == "" {
			pairs, err = queryAll(context.Background(), tx, "claim mirror pairs", scanMirrorPair, claimMirrorPairs,
				connector, millis(now), millis(now), limit)
		} else {
			pairs, err = queryAll(context.Background(), tx, "claim mirror pairs", scanMirrorPair, claimMirrorPair,
				connector, contactID, millis(now), millis(now), limit)
		}
		if err != nil {
			return err
		}
		for _, p := range pairs {
			if _, err := tx.Exec(`UPDATE mirror_pairs SET lease_owner = ?, lease_until = ? WHERE connector = ? AND contact_id = ?`,
				owner, millis(until), p.Connector, p.ContactID); err != nil {
				return dbError("claim mirror pair", err)
			}
			p.Reclaimed = p.LeaseOwner != ""
			p.LeaseOwner, p.LeaseUntil = owner, fromMillis(millis(until))
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return pairs, nil
}

// SaveMirrorPair stores p's Cursor, Refs, State, Attempts, NextAttempt and
// LastError and releases the lease, provided owner holds it: the pair's
// lease is owner's, even if it has expired, as long as no one else has
// claimed the pair since. Otherwise it returns ECONFLICT and stores
// nothing. With p.KeepLease the lease stays owner's until p.LeaseUntil;
// a claim after it runs out is Reclaimed, as after any lease never
// released. A missing pair
// is ENOTFOUND, a State other than active, parked or done EINVALID, and
// so is a kept lease not running past now.
func (db *DB) SaveMirrorPair(ctx context.Context, p *helpline.MirrorPair, owner string, now time.Time) error {
	switch p.State {
	case helpline.MirrorActive, helpline.MirrorParked, helpline.MirrorDone:
	default:
		return helpline.Errorf(helpline.EINVALID, "Mirror pair state %q is not one of active, parked, done.", p.State)
	}
	if p.KeepLease && !p.LeaseUntil.After(now) {
		return helpline.Errorf(helpline.EINVALID, "A kept lease must run past now.")
	}
	leaseOwner, leaseUntil := "", sql.NullInt64{}
	if p.KeepLease {
		leaseOwner, leaseUntil = owner, sql.NullInt64{Int64: millis(p.LeaseUntil), Valid: true}
	}
	refs := nonNilMap(p.Refs)
	refsJSON, err := json.Marshal(refs)
	if err != nil {
		return fmt.Errorf("sqlite: encode mirror refs: %w", err)
	}
	return db.write(ctx, func(tx *sql.Tx) error {
		var holder, oldRefs string
		err := tx.QueryRow(`SELECT lease_owner, refs FROM mirror_pairs WHERE connector = ? AND contact_id = ?`,
			p.Connector, p.ContactID).Scan(&holder, &oldRefs)
		if errors.Is(err, sql.ErrNoRows) {
			return helpline.Errorf(helpline.ENOTFOUND, "Mirror pair %s/%s not found.", p.Connector, p.ContactID)
		} else if err != nil {
			return dbError("read mirror pair", err)
		}
		if owner == "" || holder != owner {
			return helpline.Errorf(helpline.ECONFLICT, "Mirror pair %s/%s is not leased to %s.", p.Connector, p.ContactID, owner)
		}
		if _, err := tx.Exec(`UPDATE mirror_pairs SET cursor = ?, refs = ?, state = ?, attempts = ?, next_attempt = ?,
			last_error = ?, lease_owner = ?, lease_until = ?, updated_at = ? WHERE connector = ? AND contact_id = ?`,
			p.Cursor, refsJSON, p.State, p.Attempts, millis(p.NextAttempt), p.LastError, leaseOwner, leaseUntil,
			millis(now), p.Connector, p.ContactID); err != nil {
			return dbError("save mirror pair", err)
		}
		if oldRefs != string(refsJSON) {
			return saveMirrorRefs(tx, p.Connector, p.ContactID, refs)
		}
		return nil
	})
}

// saveMirrorRefs replaces the lookup rows of a pair's refs.
func saveMirrorRefs(tx *sql.Tx, connector, contactID string, refs map[string]string) error {
	if _, err := tx.Exec(`DELETE FROM mirror_refs WHERE connector = ? AND contact_id = ?`, connector, contactID); err != nil {
		return dbError("save mirror refs", err)
	}
	for k, v := range refs {
		if _, err := tx.Exec(`INSERT INTO mirror_refs (connector, key, value, contact_id) VALUES (?, ?, ?, ?)`,
			connector, k, v, contactID); err != nil {
			return dbError("save mirror refs", err)
		}
	}
	return nil
}

// ReleaseMirrorLeases sets the end of every lease owner holds that runs
// past now to now, keeping the owner's name on the pair so that its next
// claim is Reclaimed, and returns how many it cut short. It scans every
// pair, which is fine for a call made once at start. An empty owner is
// EINVALID.
func (db *DB) ReleaseMirrorLeases(ctx context.Context, owner string, now time.Time) (int, error) {
	if owner == "" {
		return 0, helpline.Errorf(helpline.EINVALID, "Releasing leases needs an owner.")
	}
	var n int64
	err := db.write(ctx, func(tx *sql.Tx) error {
		res, err := tx.Exec(`UPDATE mirror_pairs SET lease_until = ? WHERE lease_owner = ? AND lease_until > ?`,
			millis(now), owner, millis(now))
		if err != nil {
			return dbError("release mirror leases", err)
		}
		n, err = res.RowsAffected()
		return err
	})
	return int(n), err
}

// ResumeMirrorPairs makes parked pairs active and due at now, with their
// attempts and last error cleared; an empty connector or contactID matches
// all. It returns how many it resumed.
func (db *DB) ResumeMirrorPairs(ctx context.Context, connector, contactID string, now time.Time) (int, error) {
	var n int64
	err := db.write(ctx, func(tx *sql.Tx) error {
		res, err := tx.Exec(`UPDATE mirror_pairs SET state = ?, attempts = 0, next_attempt = ?, last_error = '', updated_at = ?
			WHERE state = ? AND (? = '' OR connector = ?) AND (? = '' OR contact_id = ?)`,
			helpline.MirrorActive, millis(now), millis(now), helpline.MirrorParked,
			connector, connector, contactID, contactID)
		if err != nil {
			return dbError("resume mirror pairs", err)
		}
		n, err = res.RowsAffected()
		return err
	})
	return int(n), err
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
			where = append(where, c.column+" = ?")
			args = append(args, c.value)
		}
	}
	if f.Behind {
		where = append(where, pairIsBehind)
	}
	query := selectMirrorPair
	if len(where) > 0 {
		query += ` WHERE ` + strings.Join(where, " AND ")
	}
	limit := f.Limit
	if limit <= 0 {
		limit = -1
	}
	query += ` ORDER BY p.connector, p.contact_id LIMIT ?`
	args = append(args, limit)
	return queryAll(ctx, db.r, "find mirror pairs", scanMirrorPair, query, args...)
}

// FindMirrorPairByRef returns the pair of connector whose Refs map key to
// value, or ENOTFOUND. When several contacts share the reference it returns
// the pair of the newest contact.
func (db *DB) FindMirrorPairByRef(ctx context.Context, connector, key, value string) (*helpline.MirrorPair, error) {
	p, err := scanMirrorPair(db.r.QueryRowContext(ctx, selectMirrorPairByRef, connector, key, value))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, helpline.Errorf(helpline.ENOTFOUND, "No %s mirror pair has %s %s.", connector, key, value)
	}
	return p, err
}

func scanMirrorPair(s scanner) (*helpline.MirrorPair, error) {
	var (
		p             helpline.MirrorPair
		refs          []byte
		next, updated int64
		leaseUntil    sql.NullInt64
	)
	err := s.Scan(&p.Connector, &p.ContactID, &p.Cursor, &refs, &p.State, &p.Attempts, &next,
		&p.LastError, &p.LeaseOwner, &leaseUntil, &updated, &p.LastSeq)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, err
	} else if err != nil {
		return nil, dbError("read mirror pair", err)
	}
	if err := json.Unmarshal(refs, &p.Refs); err != nil {
		return nil, fmt.Errorf("sqlite: decode refs of mirror pair %s/%s: %w", p.Connector, p.ContactID, err)
	}
	p.Refs = nonNilMap(p.Refs)
	p.NextAttempt = fromMillis(next)
	p.LeaseUntil = fromNullMillis(leaseUntil)
	p.UpdatedAt = fromMillis(updated)
	return &p, nil
}
