package postgres

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/helplinehq/helpline"
)

// SaveInstance creates or replaces the instance with in.ID.
func (db *DB) SaveInstance(ctx context.Context, in *helpline.Instance) error {
	data, err := json.Marshal(in)
	if err != nil {
		return fmt.Errorf("postgres: encode instance: %w", err)
	}
	_, err = db.pool.Exec(ctx, `INSERT INTO instances (id, data) VALUES ($1, $2)
		ON CONFLICT (id) DO UPDATE SET data = excluded.data`, in.ID, string(data))
	if err != nil {
		return dbError("save instance", err)
	}
	return nil
}

// FindInstanceByID returns ENOTFOUND (Resource INSTANCE) if there is none.
func (db *DB) FindInstanceByID(ctx context.Context, id string) (*helpline.Instance, error) {
	in, err := scanInstance(db.pool.QueryRow(ctx, `SELECT data FROM instances WHERE id = $1`, id))
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, helpline.NotFound(helpline.ResourceInstance, id)
	}
	return in, err
}

// FindInstances returns every instance, ordered by id.
func (db *DB) FindInstances(ctx context.Context) ([]*helpline.Instance, error) {
	return queryAll(ctx, db.pool, "find instances", scanInstance, `SELECT data FROM instances ORDER BY id`)
}

func scanInstance(s scanner) (*helpline.Instance, error) {
	var data []byte
	if err := s.Scan(&data); err != nil {
		if errors.Is(err, pgx.ErrNoRows) {
			return nil, err
		}
		return nil, dbError("read instance", err)
	}
	var in helpline.Instance
	if err := json.Unmarshal(data, &in); err != nil {
		return nil, fmt.Errorf("postgres: decode instance: %w", err)
	}
	return &in, nil
}

// instanceExists returns ENOTFOUND (Resource INSTANCE) unless the
// instance exists.
func instanceExists(ctx context.Context, tx pgx.Tx, id string) error {
	var one int
	err := tx.QueryRow(ctx, `SELECT 1 FROM instances WHERE id = $1`, id).Scan(&one)
	if errors.Is(err, pgx.ErrNoRows) {
		return helpline.NotFound(helpline.ResourceInstance, id)
	} else if err != nil {
		return dbError("find instance", err)
	}
	return nil
}

// Secret returns the secret stored under name. On first use it stores the
// value gen returns; callers racing on first use, on any node, all get
// the one value that was stored, and gen may have been called by several
// of them.
func (db *DB) Secret(ctx context.Context, name string, gen func() ([]byte, error)) ([]byte, error) {
	var value []byte
	err := db.pool.QueryRow(ctx, `SELECT value FROM secrets WHERE name = $1`, name).Scan(&value)
	if err == nil {
		return value, nil
	} else if !errors.Is(err, pgx.ErrNoRows) {
		return nil, dbError("read secret", err)
	}
	fresh, err := gen()
	if err != nil {
		return nil, err
	}
	// The insert waits for a racing one to commit; the select that
	// follows, a statement of its own, then sees whichever was stored.
	if _, err := db.pool.Exec(ctx, `INSERT INTO secrets (name, value) VALUES ($1, $2) ON CONFLICT (name) DO NOTHING`, name, fresh); err != nil {
		return nil, dbError("store secret", err)
	}
	if err := db.pool.QueryRow(ctx, `SELECT value FROM secrets WHERE name = $1`, name).Scan(&value); err != nil {
		return nil, dbError("read secret", err)
	}
	return value, nil
}

// RememberOnce records key in scope until the time until and reports
// whether this is its first live sighting; see helpline.ReplayGuard. The
// upsert stores the key when it is unknown or its entry has expired and
// returns a row only then; of callers racing on one key, the others wait
// on the first one's row and then find it live.
func (db *DB) RememberOnce(ctx context.Context, scope, key string, now, until time.Time) (first bool, err error) {
	err = db.tx(ctx, func(tx pgx.Tx) error {
		// Pruning skips the rows other callers hold, so that callers
		// pruning at once never wait on each other.
		if _, err := tx.Exec(ctx, `DELETE FROM remembered WHERE ctid IN
			(SELECT ctid FROM remembered WHERE until <= $1 FOR UPDATE SKIP LOCKED)`, millis(now)); err != nil {
			return dbError("prune remembered keys", err)
		}
		tag, err := tx.Exec(ctx, `INSERT INTO remembered (scope, key, until) VALUES ($1, $2, $3)
			ON CONFLICT (scope, key) DO UPDATE SET until = excluded.until WHERE remembered.until <= $4`,
			scope, key, millis(until), millis(now))
		if err != nil {
			return dbError("remember key", err)
		}
		first = tag.RowsAffected() == 1
		return nil
	})
	return first, err
}

// Forget drops key from scope; see helpline.ReplayGuard.
func (db *DB) Forget(ctx context.Context, scope, key string) error {
	if _, err := db.pool.Exec(ctx, `DELETE FROM remembered WHERE scope = $1 AND key = $2`, scope, key); err != nil {
		return dbError("forget key", err)
	}
	return nil
}
