package sqlite

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/helplinehq/helpline"
)

// SaveInstance creates or replaces the instance with in.ID.
func (db *DB) SaveInstance(ctx context.Context, in *helpline.Instance) error {
	data, err := json.Marshal(in)
	if err != nil {
		return fmt.Errorf("sqlite: encode instance: %w", err)
	}
	return db.write(ctx, func(tx *sql.Tx) error {
		_, err := tx.Exec(`INSERT INTO instances (id, data) VALUES (?, ?)
			ON CONFLICT (id) DO UPDATE SET data = excluded.data`, in.ID, data)
		if err != nil {
			return dbError("save instance", err)
		}
		return nil
	})
}

// FindInstanceByID returns ENOTFOUND (Resource INSTANCE) if there is none.
func (db *DB) FindInstanceByID(ctx context.Context, id string) (*helpline.Instance, error) {
	in, err := scanInstance(db.r.QueryRowContext(ctx, `SELECT data FROM instances WHERE id = ?`, id))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, helpline.NotFound(helpline.ResourceInstance, id)
	}
	return in, err
}

// FindInstances returns every instance, ordered by id.
func (db *DB) FindInstances(ctx context.Context) ([]*helpline.Instance, error) {
	return queryAll(ctx, db.r, "find instances", scanInstance, `SELECT data FROM instances ORDER BY id`)
}

func scanInstance(s scanner) (*helpline.Instance, error) {
	var data []byte
	if err := s.Scan(&data); err != nil {
		if errors.Is(err, sql.ErrNoRows) {
			return nil, err
		}
		return nil, dbError("read instance", err)
	}
	var in helpline.Instance
	if err := json.Unmarshal(data, &in); err != nil {
		return nil, fmt.Errorf("sqlite: decode instance: %w", err)
	}
	return &in, nil
}

// Secret returns the secret stored under name. On first use it stores the
// value gen returns; callers racing on first use all get the one value that
// was stored, and gen may have been called by several of them.
func (db *DB) Secret(ctx context.Context, name string, gen func() ([]byte, error)) ([]byte, error) {
	var value []byte
	err := db.r.QueryRowContext(ctx, `SELECT value FROM secrets WHERE name = ?`, name).Scan(&value)
	if err == nil {
		return value, nil
	} else if !errors.Is(err, sql.ErrNoRows) {
		return nil, dbError("read secret", err)
	}
	fresh, err := gen()
	if err != nil {
		return nil, err
	}
	err = db.write(ctx, func(tx *sql.Tx) error {
		if _, err := tx.Exec(`INSERT INTO secrets (name, value) VALUES (?, ?) ON CONFLICT (name) DO NOTHING`, name, fresh); err != nil {
			return dbError("store secret", err)
		}
		if err := tx.QueryRow(`SELECT value FROM secrets WHERE name = ?`, name).Scan(&value); err != nil {
			return dbError("read secret", err)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return value, nil
}
