package sqlite

import (
	"context"
	"database/sql"

	"github.com/helplinehq/helpline"
)

// Canned responses (helpline.CannedStore).

const cannedColumns = `instance_id, id, shortcut, text, created_at, updated_at`

// CreateCannedResponse stores a new canned response; see
// helpline.CannedStore.
func (db *DB) CreateCannedResponse(ctx context.Context, c *helpline.CannedResponse, max int) error {
	if c.ID == "" || c.InstanceID == "" {
		return helpline.Errorf(helpline.EINVALID, "A canned response needs an id and an instance.")
	} else if err := c.Check(); err != nil {
		return err
	}
	return db.write(ctx, func(tx *sql.Tx) error {
		if err := instanceExists(tx, c.InstanceID); err != nil {
			return err
		}
		if max > 0 {
			var n int
			if err := tx.QueryRow(`SELECT count(*) FROM canned_responses WHERE instance_id = ?`, c.InstanceID).Scan(&n); err != nil {
				return dbError("count canned responses", err)
			} else if n >= max {
				return helpline.Errorf(helpline.EQUOTA, "The instance already has %d canned responses, the most it may.", n)
			}
		}
		if _, err := tx.Exec(`INSERT INTO canned_responses (`+cannedColumns+`) VALUES (?, ?, ?, ?, ?, ?)`,
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
	return db.write(ctx, func(tx *sql.Tx) error {
		res, err := tx.Exec(`UPDATE canned_responses SET shortcut = ?, text = ?, updated_at = ? WHERE instance_id = ? AND id = ?`,
			c.Shortcut, c.Text, millis(c.UpdatedAt), c.InstanceID, c.ID)
		if err != nil {
			return cannedError("update canned response", err)
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return helpline.NotFound(helpline.ResourceCannedResponse, c.ID)
		}
		return nil
	})
}

// DeleteCannedResponse deletes a canned response; see helpline.CannedStore.
func (db *DB) DeleteCannedResponse(ctx context.Context, instanceID, id string) error {
	return db.write(ctx, func(tx *sql.Tx) error {
		res, err := tx.Exec(`DELETE FROM canned_responses WHERE instance_id = ? AND id = ?`, instanceID, id)
		if err != nil {
			return dbError("delete canned response", err)
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return helpline.NotFound(helpline.ResourceCannedResponse, id)
		}
		return nil
	})
}

// FindCannedResponses returns the instance's canned responses by shortcut.
func (db *DB) FindCannedResponses(ctx context.Context, instanceID string) ([]*helpline.CannedResponse, error) {
	return queryAll(ctx, db.r, "find canned responses", scanCanned,
		`SELECT `+cannedColumns+` FROM canned_responses WHERE instance_id = ? ORDER BY shortcut`, instanceID)
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
	e := dbError(what, err)
	if helpline.ErrorCode(e) == helpline.ECONFLICT {
		return helpline.Errorf(helpline.ECONFLICT, "%s: the id or shortcut is already in use.", what)
	}
	return e
}
