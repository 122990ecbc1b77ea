package postgres

import (
	"context"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/helplinehq/helpline"
)

var _ helpline.KeyLocker = (*DB)(nil)

// Waits between attempts of LockKey: it starts at lockPollMin and doubles
// up to lockPollMax.
const (
	lockPollMin = 2 * time.Millisecond
	lockPollMax = 50 * time.Millisecond
)

// LockKey holds a session-level advisory lock on key, scoped by the
// schema, on a connection of the pool kept until unlock. A waiter holds
// no connection: it tries the lock (pg_try_advisory_lock) and, when
// another session has it, returns the connection and tries again a
// little later, so that waiters never take the pool from the rest of the
// node. The lock goes with its session: a node that dies, or whose
// connection breaks, releases it.
func (db *DB) LockKey(ctx context.Context, key string) (func(), error) {
	wait := lockPollMin
	for {
		conn, err := db.pool.Acquire(ctx)
		if err != nil {
			return nil, dbError("lock key", err)
		}
		var held bool
		if err := conn.QueryRow(ctx, `SELECT pg_try_advisory_lock(hashtextextended(current_schema() || '.' || $1, 0))`, key).Scan(&held); err != nil {
			// The session's state is unknown: it may hold the lock.
			conn.Hijack().Close(context.Background())
			return nil, dbError("lock key", err)
		}
		if held {
			return func() { db.unlockKey(conn, key) }, nil
		}
		conn.Release()
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(wait):
		}
		wait = min(2*wait, lockPollMax)
	}
}

// unlockKey releases key's lock and returns conn to the pool, or closes
// conn, and with it the lock, when the unlock fails.
func (db *DB) unlockKey(conn *pgxpool.Conn, key string) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	var released bool
	err := conn.QueryRow(ctx, `SELECT pg_advisory_unlock(hashtextextended(current_schema() || '.' || $1, 0))`, key).Scan(&released)
	if err != nil || !released {
		db.log.Warn("postgres: releasing a key lock failed; closing its connection", "key", key, "err", err)
		conn.Hijack().Close(ctx)
		return
	}
	conn.Release()
}
