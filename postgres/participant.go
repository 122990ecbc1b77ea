package postgres

import (
	"context"
	"errors"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/helplinehq/helpline"
)

const (
	participantColumns       = `id, contact_id, role, display_name, client_token, created_at, connected_at, left_at`
	selectParticipantByToken = `SELECT ` + participantColumns + ` FROM participants
	WHERE contact_id = $1 AND client_token = $2 AND client_token <> ''`
)

// CreateParticipant adds p to an active contact and appends items in the
// same transaction. It is idempotent on (ContactID, ClientToken) and
// returns ECONFLICT if the contact has ended; see helpline.Store. The
// contact's row is locked first, so creates racing with one token take
// turns and the later ones find the first.
func (db *DB) CreateParticipant(ctx context.Context, p *helpline.Participant, items []*helpline.Item) (replayed bool, err error) {
	err = db.tx(ctx, func(tx pgx.Tx) error {
		replayed = false
		c, err := lockContact(ctx, tx, p.ContactID)
		if err != nil {
			return err
		}
		if stored, err := byClientToken(ctx, tx, scanParticipant, selectParticipantByToken, p.ClientToken, p.ContactID); err != nil {
			return err
		} else if stored != nil {
			*p, replayed = *stored, true
			return nil
		}
		if c.Ended() {
			return helpline.Errorf(helpline.ECONFLICT, "The contact has ended.")
		}
		if err := insertParticipant(ctx, tx, p); err != nil {
			return err
		}
		_, err = appendItems(ctx, tx, c.ID, items)
		return err
	})
	return replayed, err
}

func insertParticipant(ctx context.Context, tx pgx.Tx, p *helpline.Participant) error {
	_, err := tx.Exec(ctx, `INSERT INTO participants (`+participantColumns+`) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)`,
		p.ID, p.ContactID, p.Role, p.DisplayName, p.ClientToken,
		millis(p.CreatedAt), nullMillis(p.ConnectedAt), nullMillis(p.LeftAt))
	if err != nil {
		return dbError("create participant", err)
	}
	return nil
}

// FindParticipantByID returns ENOTFOUND (Resource PARTICIPANT) if there is none.
func (db *DB) FindParticipantByID(ctx context.Context, id string) (*helpline.Participant, error) {
	return findParticipant(ctx, db.pool, id)
}

func findParticipant(ctx context.Context, q querier, id string) (*helpline.Participant, error) {
	p, err := scanParticipant(q.QueryRow(ctx, `SELECT `+participantColumns+` FROM participants WHERE id = $1`, id))
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, helpline.NotFound(helpline.ResourceParticipant, id)
	}
	return p, err
}

// FindParticipants returns the participants of a contact in the order they
// joined; none (and no error) for an unknown contact.
func (db *DB) FindParticipants(ctx context.Context, contactID string) ([]*helpline.Participant, error) {
	return queryAll(ctx, db.pool, "find participants", scanParticipant, `SELECT `+participantColumns+` FROM participants
		WHERE contact_id = $1 ORDER BY n`, contactID)
}

// MarkParticipantConnected sets ConnectedAt if it is not set yet.
func (db *DB) MarkParticipantConnected(ctx context.Context, id string, at time.Time) error {
	return db.tx(ctx, func(tx pgx.Tx) error {
		tag, err := tx.Exec(ctx, `UPDATE participants SET connected_at = $1 WHERE id = $2 AND connected_at IS NULL`, millis(at), id)
		if err != nil {
			return dbError("mark participant connected", err)
		} else if tag.RowsAffected() == 0 {
			_, err := findParticipant(ctx, tx, id)
			return err
		}
		return nil
	})
}

// LeaveParticipant marks a participant of an active contact left and
// appends items, in one transaction. It returns left=false and writes
// nothing if the participant had already left, and ECONFLICT if the contact
// has ended.
func (db *DB) LeaveParticipant(ctx context.Context, id string, at time.Time, items []*helpline.Item) (left bool, err error) {
	err = db.tx(ctx, func(tx pgx.Tx) error {
		left = false
		p, err := findParticipant(ctx, tx, id)
		if err != nil {
			return err
		}
		// The contact's row first, as every write of the contact; then
		// the participant as it is under that lock.
		c, err := lockContact(ctx, tx, p.ContactID)
		if err != nil {
			return err
		}
		if p, err = findParticipant(ctx, tx, id); err != nil {
			return err
		} else if p.Left() {
			return nil
		} else if c.Ended() {
			return helpline.Errorf(helpline.ECONFLICT, "The contact has ended.")
		}
		// The contact's count of leaves rises with it: an append that
		// waited for this transaction reads the participant afresh
		// (appendItemSQL).
		if _, err := tx.Exec(ctx, `WITH leave AS (UPDATE participants SET left_at = $1 WHERE id = $2)
			UPDATE contacts SET leaves = leaves + 1 WHERE id = $3`, millis(at), id, c.ID); err != nil {
			return dbError("leave participant", err)
		}
		if _, err := appendItems(ctx, tx, c.ID, items); err != nil {
			return err
		}
		left = true
		return nil
	})
	return left, err
}

func scanParticipant(s scanner) (*helpline.Participant, error) {
	var (
		p               helpline.Participant
		created         int64
		connected, left *int64
	)
	err := s.Scan(&p.ID, &p.ContactID, &p.Role, &p.DisplayName, &p.ClientToken, &created, &connected, &left)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, err
	} else if err != nil {
		return nil, dbError("read participant", err)
	}
	p.CreatedAt = fromMillis(created)
	p.ConnectedAt = fromNullMillis(connected)
	p.LeftAt = fromNullMillis(left)
	return &p, nil
}
