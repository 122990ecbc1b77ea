package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"time"

	"github.com/helplinehq/helpline"
)

const (
	participantColumns       = `id, contact_id, role, display_name, client_token, created_at, connected_at, left_at`
	selectParticipantByToken = `SELECT ` + participantColumns + ` FROM participants
	WHERE contact_id = ? AND client_token = ? AND client_token != ''`
)

// CreateParticipant adds p to an active contact and appends items in the
// same transaction. It is idempotent on (ContactID, ClientToken) and
// returns ECONFLICT if the contact has ended; see helpline.Store.
func (db *DB) CreateParticipant(ctx context.Context, p *helpline.Participant, items []*helpline.Item) (replayed bool, err error) {
	err = db.write(ctx, func(tx *sql.Tx) error {
		if stored, err := byClientToken(tx, scanParticipant, selectParticipantByToken, p.ClientToken, p.ContactID); err != nil {
			return err
		} else if stored != nil {
			*p, replayed = *stored, true
			return nil
		}
		c, err := findActiveContact(tx, p.ContactID)
		if err != nil {
			return err
		}
		if err := insertParticipant(tx, p); err != nil {
			return err
		}
		db.appends.forget(c.ID)
		_, err = appendItems(tx, c.ID, c.LastSeq, items)
		return err
	})
	return replayed, err
}

func insertParticipant(tx *sql.Tx, p *helpline.Participant) error {
	_, err := tx.Exec(`INSERT INTO participants (`+participantColumns+`) VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
		p.ID, p.ContactID, p.Role, p.DisplayName, p.ClientToken,
		millis(p.CreatedAt), nullMillis(p.ConnectedAt), nullMillis(p.LeftAt))
	if err != nil {
		return dbError("create participant", err)
	}
	return nil
}

// FindParticipantByID returns ENOTFOUND (Resource PARTICIPANT) if there is none.
func (db *DB) FindParticipantByID(ctx context.Context, id string) (*helpline.Participant, error) {
	return findParticipant(ctx, db.r, id)
}

func findParticipant(ctx context.Context, q querier, id string) (*helpline.Participant, error) {
	p, err := scanParticipant(q.QueryRowContext(ctx, `SELECT `+participantColumns+` FROM participants WHERE id = ?`, id))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, helpline.NotFound(helpline.ResourceParticipant, id)
	}
	return p, err
}

// FindParticipants returns the participants of a contact in the order they
// joined; none (and no error) for an unknown contact.
func (db *DB) FindParticipants(ctx context.Context, contactID string) ([]*helpline.Participant, error) {
	return queryAll(ctx, db.r, "find participants", scanParticipant, `SELECT `+participantColumns+` FROM participants
		WHERE contact_id = ? ORDER BY rowid`, contactID)
}

// MarkParticipantConnected sets ConnectedAt if it is not set yet.
func (db *DB) MarkParticipantConnected(ctx context.Context, id string, at time.Time) error {
	return db.write(ctx, func(tx *sql.Tx) error {
		res, err := tx.Exec(`UPDATE participants SET connected_at = ? WHERE id = ? AND connected_at IS NULL`, millis(at), id)
		if err != nil {
			return dbError("mark participant connected", err)
		}
		if n, err := res.RowsAffected(); err != nil {
			return dbError("mark participant connected", err)
		} else if n == 0 {
			_, err := findParticipant(context.Background(), tx, id)
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
	err = db.write(ctx, func(tx *sql.Tx) error {
		p, err := findParticipant(context.Background(), tx, id)
		if err != nil {
			return err
		} else if p.Left() {
			return nil
		}
		c, err := findActiveContact(tx, p.ContactID)
		if err != nil {
			return err
		}
		if _, err := tx.Exec(`UPDATE participants SET left_at = ? WHERE id = ?`, millis(at), id); err != nil {
			return dbError("leave participant", err)
		}
		db.appends.forget(c.ID)
		if _, err := appendItems(tx, c.ID, c.LastSeq, items); err != nil {
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
		connected, left sql.NullInt64
	)
	err := s.Scan(&p.ID, &p.ContactID, &p.Role, &p.DisplayName, &p.ClientToken, &created, &connected, &left)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, err
	} else if err != nil {
		return nil, dbError("read participant", err)
	}
	p.CreatedAt = fromMillis(created)
	p.ConnectedAt = fromNullMillis(connected)
	p.LeftAt = fromNullMillis(left)
	return &p, nil
}
