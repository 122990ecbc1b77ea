package postgres

import (
	"context"
	"errors"

	"github.com/jackc/pgx/v5"

	"github.com/helplinehq/helpline"
)

// SaveBotState stores the contact's bot state, or forgets it when state
// is empty; see helpline.Store.
func (db *DB) SaveBotState(ctx context.Context, contactID string, state []byte) error {
	return db.tx(ctx, func(tx pgx.Tx) error {
		var one int
		err := tx.QueryRow(ctx, `SELECT 1 FROM contacts WHERE id = $1`, contactID).Scan(&one)
		if errors.Is(err, pgx.ErrNoRows) {
			return helpline.NotFound(helpline.ResourceContact, contactID)
		} else if err != nil {
			return dbError("read contact", err)
		}
		if len(state) == 0 {
			_, err = tx.Exec(ctx, `DELETE FROM bot_states WHERE contact_id = $1`, contactID)
		} else {
			_, err = tx.Exec(ctx, `INSERT INTO bot_states (contact_id, state) VALUES ($1, $2)
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
	err := db.pool.QueryRow(ctx, `SELECT state FROM bot_states WHERE contact_id = $1`, contactID).Scan(&state)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, nil
	} else if err != nil {
		return nil, dbError("read bot state", err)
	}
	return state, nil
}
