package postgres

import (
	"context"

	"github.com/jackc/pgx/v5"

	"github.com/helplinehq/helpline"
)

// Canned responses (helpline.CannedStore).

const cannedColumns = `instance_id, id, shortcut, text, created_at, updated_at`

// CreateCannedResponse stores a new canned response; see
// helpline.CannedStore. The instance's row is locked while the quota is
// counted, so that nodes creating at once cannot pass it together.
func (db *DB) CreateCannedResponse(ctx context.Context, c *helpline.CannedResponse, max int) error {
	if c.ID == "" || c.InstanceID == "" {
		return helpline.Errorf(helpline.EINVALID, "A canned response needs an id and an instance.")
	} else if err := c.Check(); err != nil {
		return err
	}
	return db.tx(ctx, func(tx pgx.Tx) error {
		var one int
		err := tx.QueryRow(ctx, `SELECT 1 FROM instances WHERE id = $1 FOR UPDATE`, c.InstanceID).Scan(&one)
		if err == pgx.ErrNoRows {
			return helpline.NotFound(helpline.ResourceInstance, c.InstanceID)
		} else if err != nil {
			return dbError("find instance", err)
		}
		if max > 0 {
			var n int
			if err := tx.QueryRow(ctx, `SELECT count(*) FROM canned_responses WHERE instance_id = $1`, c.InstanceID).Scan(&n); err != nil {
				return dbError("count canned responses", err)
			} else if n >= max {
				return helpline.Errorf(helpline.EQUOTA, "The instance already has %d canned responses, the most it may.", n)
			}
		}
		if _, err := tx.Exec(ctx, `INSERT INTO canned_responses (`+cannedColumns+`) VALUES ($1, $2, $3, $4, $5, $6)`,
			c.InstanceID, c.ID, c.Shortcut, c.Text, millis(c.CreatedAt), millis(c.UpdatedAt)); err != nil {
			return cannedError("create canned response", err)
		}
		return nil
	})
}

// UpdateCannedResponse replaces a canned response's shortcut and text;
// see helpline.CannedStore.
func (db *DB) UpdateCannedResponse(ctx context.Context, c *helpline.CannedResponse) error {
	if err := c.Check(); err != nil {
		return err
	}
	tag, err := db.pool.Exec(ctx, `UPDATE canned_responses SET shortcut = $1, text = $2, updated_at = $3 WHERE instance_id = $4 AND id = $5`,
		c.Shortcut, c.Text, millis(c.UpdatedAt), c.InstanceID, c.ID)
	if err != nil {
		return cannedError("update canned response", err)
	}
	if tag.RowsAffected() == 0 {
		return helpline.NotFound(helpline.ResourceCannedResponse, c.ID)
	}
	return nil
}

// DeleteCannedResponse deletes a canned response; see helpline.CannedStore.
func (db *DB) DeleteCannedResponse(ctx context.Context, instanceID, id string) error {
	tag, err := db.pool.Exec(ctx, `DELETE FROM canned_responses WHERE instance_id = $1 AND id = $2`, instanceID, id)
	if err != nil {
		return dbError("delete canned response", err)
	}
	if tag.RowsAffected() == 0 {
		return helpline.NotFound(helpline.ResourceCannedResponse, id)
	}
	return nil
}

// FindCannedResponses returns the instance's canned responses by shortcut.
func (db *DB) FindCannedResponses(ctx context.Context, instanceID string) ([]*helpline.CannedResponse, error) {
	return queryAll(ctx, db.pool, "find canned responses", scanCanned,
		`SELECT `+cannedColumns+` FROM canned_responses WHERE instance_id = $1 ORDER BY shortcut`, instanceID)
}

func scanCanned(s scanner) (*helpline.CannedResponse, error) {
	var (
		c                helpline.CannedResponse
		created, updated int64
	)
	if err := s.Scan(&c.InstanceID, &c.ID, &c.Shortcut, &c.Text, &created, &updated); err != nil {
		return nil, err
	}
	c.CreatedAt, c.UpdatedAt = fromMillis(created), fromMillis(updated)
	return &c, nil
}

// cannedError says which rule a broken uniqueness broke: an id or a
// shortcut in use are both ECONFLICT.
func cannedError(what string, err error) error {
	if isUnique(err) {
		return helpline.Errorf(helpline.ECONFLICT, "%s: the id or shortcut is already in use.", what)
	}
	return dbError(what, err)
}
