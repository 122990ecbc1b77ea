package sqlite

import (
	"context"
	"database/sql"
	"time"
)

// RememberOnce records key in scope until the time until and reports
// whether this is its first live sighting; see helpline.ReplayGuard. It is
// one write on the writer goroutine, so racing callers are serialised and
// exactly one of them finds the key unknown.
func (db *DB) RememberOnce(ctx context.Context, scope, key string, now, until time.Time) (first bool, err error) {
	err = db.write(ctx, func(tx *sql.Tx) error {
		if _, err := tx.Exec(`DELETE FROM remembered WHERE until <= ?`, millis(now)); err != nil {
			return dbError("prune remembered keys", err)
		}
		res, err := tx.Exec(`INSERT INTO remembered (scope, key, until) VALUES (?, ?, ?) ON CONFLICT (scope, key) DO NOTHING`,
			scope, key, millis(until))
		if err != nil {
			return dbError("remember key", err)
		}
		n, err := res.RowsAffected()
		if err != nil {
			return dbError("remember key", err)
		}
		first = n == 1
		return nil
	})
	return first, err
}

// Forget drops key from scope; see helpline.ReplayGuard.
func (db *DB) Forget(ctx context.Context, scope, key string) error {
	return db.write(ctx, func(tx *sql.Tx) error {
		if _, err := tx.Exec(`DELETE FROM remembered WHERE scope = ? AND key = ?`, scope, key); err != nil {
			return dbError("forget key", err)
		}
		return nil
	})
}
