package sqlite

import (
	"context"
	"database/sql"
	"errors"

	"github.com/helplinehq/helpline"
)

// SaveBotState stores the bot runner's state of a contact, replacing the
// one before; an empty state forgets it. See helpline.Store.
func (db *DB) SaveBotState(ctx context.Context, contactID string, state []byte) error {
	return db.write(ctx, func(tx *sql.Tx) error {
		var one int
		err := tx.QueryRow(`SELECT 1 FROM contacts WHERE id = ?`, contactID).Scan(&one)
		if errors.Is(err, sql.ErrNoRows) {
			return helpline.NotFound(helpline.ResourceContact, contactID)
		} else if err != nil {
			return dbError("read contact", err)
		}
		if len(state) == 0 {
			_, err = tx.Exec(`DELETE FROM bot_states WHERE contact_id = ?`, contactID)
		} else {
			_, err = tx.Exec(`INSERT INTO bot_states (contact_id, state) VALUES (?, ?)
				ON CONFLICT (contact_id) DO UPDATE SET state = excluded.state`, contactID, state)
		}
		if err != nil {
			return dbError("save bot state", err)
		}
		return nil
	})
}

// FindBotState returns the contact's bot state, nil when there is none.
func (db *DB) FindBotState(ctx context.Context, contactID string) ([]byte, error) {
	var state []byte
	err := db.r.QueryRowContext(ctx, `SELECT state FROM bot_states WHERE contact_id = ?`, contactID).Scan(&state)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, nil
	} else if err != nil {
		return nil, dbError("read bot state", err)
	}
	return state, nil
}
