// Package postgres implements helpline.Store on PostgreSQL, the store for
// several nodes sharing one database.
//
// Every method runs in its own short transaction at READ COMMITTED. What
// a single process would guard with a mutex is guarded by row locks, so
// that nodes sharing the database behave as one store:
//
//   - a contact's items are numbered by its row (contacts.last_seq, raised
//     in the appending transaction), so two nodes appending to one contact
//     never collide or leave a gap;
//   - owner changes are a compare-and-swap on the contact's row;
//   - a write that raises an agent's load locks the agent's row first;
//   - mirror pairs are claimed with FOR UPDATE SKIP LOCKED.
//
// Locks are taken in one order (offer lookups unlocked, then agent,
// contact, offers), and a transaction that still meets a deadlock or a
// serialization failure is retried.
//
// The schema lives in the database's search_path (set it in the DSN,
// search_path=name, to keep Helpline in a schema of its own) and is
// brought up to date by Open under an advisory lock, so several nodes may
// start at once.
package postgres

import (
	"context"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"path"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/helplinehq/helpline"
)

//go:embed migrations/*.sql
var migrations embed.FS

// DB is a helpline.Store on a PostgreSQL database.
type DB struct {
	pool *pgxpool.Pool
	log  *slog.Logger
}

var _ helpline.Store = (*DB)(nil)

// Option configures Open.
type Option func(*config)

type config struct {
	poolSize int32
	log      *slog.Logger
}

// PoolSize caps the connections the store holds open (default: the
// DSN's pool_max_conns, else DefaultPoolSize). Each node holds its own
// pool: keep the sum under the server's max_connections.
func PoolSize(n int) Option {
	return func(c *config) { c.poolSize = int32(n) }
}

// DefaultPoolSize is the pool's size when neither PoolSize nor the DSN's
// pool_max_conns sets it: 4 connections per CPU, from 16 to 24. A
// message's append is one short statement, but its commit waits for the
// server's disk, which flushes the commits waiting together at once: the
// more connections in flight, the more messages one flush carries. Three
// nodes at most at 24 hold 72 connections, under PostgreSQL's default
// max_connections of 100.
func DefaultPoolSize() int32 {
	return int32(min(24, max(16, 4*runtime.NumCPU())))
}

// WithLogger sets the logger for what no caller sees (a migration
// applied). The default is slog.Default().
func WithLogger(l *slog.Logger) Option {
	return func(c *config) { c.log = l }
}

// Open connects to the database dsn names (a postgres:// URL or a
// key=value string, as libpq takes) and brings its schema up to date.
// Close it when done.
func Open(ctx context.Context, dsn string, opts ...Option) (*DB, error) {
	cfg := config{log: slog.Default()}
	for _, o := range opts {
		o(&cfg)
	}
	pc, err := pgxpool.ParseConfig(dsn)
	if err != nil {
		return nil, fmt.Errorf("postgres: %w", err)
	}
	switch {
	case cfg.poolSize > 0:
		pc.MaxConns = cfg.poolSize
	case !strings.Contains(dsn, "pool_max_conns"):
		pc.MaxConns = DefaultPoolSize()
	}
	pool, err := pgxpool.NewWithConfig(ctx, pc)
	if err != nil {
		return nil, fmt.Errorf("postgres: %w", err)
	}
	db := &DB{pool: pool, log: cfg.log}
	if err := db.migrate(ctx); err != nil {
		pool.Close()
		return nil, fmt.Errorf("postgres: migrate: %w", err)
	}
	return db, nil
}

// Close closes the pool's connections, waiting for those in use to be
// released.
func (db *DB) Close() error {
	db.pool.Close()
	return nil
}

// migrationLock is the advisory lock key (with the schema's name) that
// serialises migrations of one schema by nodes starting at once.
const migrationLock = "helpline.migrate."

// migrate applies, in name order, each embedded migration newer than the
// schema's version, all in one transaction that holds an advisory lock on
// the schema: of nodes starting at once, one applies them and the others,
// waiting on the lock, find them applied.
func (db *DB) migrate(ctx context.Context) error {
	names, err := fs.Glob(migrations, "migrations/*.sql")
	if err != nil {
		return err
	}
	sort.Strings(names)
	return db.tx(ctx, func(tx pgx.Tx) error {
		var schema *string
		if err := tx.QueryRow(ctx, `SELECT current_schema()`).Scan(&schema); err != nil {
			return err
		} else if schema == nil {
			return errors.New("no schema of the search_path exists; create it first")
		}
		if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock(hashtextextended($1, 0))`, migrationLock+*schema); err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, `CREATE TABLE IF NOT EXISTS schema_version (version integer NOT NULL)`); err != nil {
			return err
		}
		var current int
		if err := tx.QueryRow(ctx, `SELECT coalesce(max(version), 0) FROM schema_version`).Scan(&current); err != nil {
			return err
		}
		if latest := migrationVersion(names[len(names)-1]); current > latest {
			return fmt.Errorf("the database has schema version %d; this program knows versions up to %d", current, latest)
		}
		for _, name := range names {
			version := migrationVersion(name)
			if version <= current {
				continue
			}
			body, err := migrations.ReadFile(name)
			if err != nil {
				return err
			}
			if _, err := tx.Exec(ctx, string(body)); err != nil {
				return fmt.Errorf("migration %s: %w", path.Base(name), err)
			}
			if _, err := tx.Exec(ctx, `INSERT INTO schema_version (version) VALUES ($1)`, version); err != nil {
				return err
			}
			db.log.Info("postgres: migration applied", "schema", *schema, "migration", path.Base(name))
		}
		return nil
	})
}

// migrationVersion returns the number a migration's file name starts
// with; TestMigrationNames checks every name has one.
func migrationVersion(name string) int {
	num, _, _ := strings.Cut(path.Base(name), "_")
	v, _ := strconv.Atoi(num)
	return v
}

// maxAttempts bounds the runs of a transaction that meets deadlocks or
// serialization failures.
const maxAttempts = 5

// tx runs fn in a transaction and commits it, running it again when the
// server aborted it for a deadlock or a serialization failure: fn must
// set its outputs afresh on each run. An error of fn rolls back.
func (db *DB) tx(ctx context.Context, fn func(tx pgx.Tx) error) error {
	return db.txOptions(ctx, pgx.TxOptions{}, fn)
}

func (db *DB) txOptions(ctx context.Context, opts pgx.TxOptions, fn func(tx pgx.Tx) error) error {
	for attempt := 1; ; attempt++ {
		err := pgx.BeginTxFunc(ctx, db.pool, opts, fn)
		if err == nil || attempt == maxAttempts || !retryable(err) {
			return err
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(time.Duration(attempt) * 5 * time.Millisecond):
		}
	}
}

// retryable reports whether err is a deadlock or a serialization failure,
// after which the same transaction may succeed.
func retryable(err error) bool {
	var pe *pgconn.PgError
	return errors.As(err, &pe) && (pe.Code == "40P01" || pe.Code == "40001")
}

// querier is what both the pool and a transaction offer.
type querier interface {
	Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
}

// scanner is a pgx.Row or pgx.Rows.
type scanner interface {
	Scan(dest ...any) error
}

// queryAll runs query on q and scans every row with scan; what names the
// lookup in errors.
func queryAll[T any](ctx context.Context, q querier, what string, scan func(scanner) (T, error), query string, args ...any) ([]T, error) {
	rows, err := q.Query(ctx, query, args...)
	if err != nil {
		return nil, dbError(what, err)
	}
	defer rows.Close()
	var out []T
	for rows.Next() {
		v, err := scan(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, v)
	}
	if err := rows.Err(); err != nil {
		return nil, dbError(what, err)
	}
	return out, nil
}

// byClientToken returns the row that an earlier write with the same
// ClientToken stored, which a retried create returns instead of writing
// again. query selects the row by key followed by token, and scan reads it.
// It returns nil and no error when token is empty or no row has it.
func byClientToken[T any](ctx context.Context, tx pgx.Tx, scan func(scanner) (*T, error), query, token string, key ...any) (*T, error) {
	if token == "" {
		return nil, nil
	}
	v, err := scan(tx.QueryRow(ctx, query, append(key, token)...))
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, nil
	}
	return v, err
}

// withExtra scans a row that has extra columns after those its reader
// scans, into extra.
type withExtra struct {
	scanner
	extra []any
}

func (w withExtra) Scan(dest ...any) error { return w.scanner.Scan(append(dest, w.extra...)...) }

// millis returns t as unix milliseconds.
func millis(t time.Time) int64 { return t.UnixMilli() }

// nullMillis returns t as unix milliseconds, or NULL if t is zero.
func nullMillis(t time.Time) *int64 {
	if t.IsZero() {
		return nil
	}
	ms := t.UnixMilli()
	return &ms
}

// fromMillis returns unix milliseconds as a UTC time.
func fromMillis(ms int64) time.Time { return time.UnixMilli(ms).UTC() }

// fromNullMillis returns unix milliseconds as a UTC time, and NULL as the
// zero time.
func fromNullMillis(ms *int64) time.Time {
	if ms == nil {
		return time.Time{}
	}
	return fromMillis(*ms)
}

// limitOrAll returns limit as a LIMIT argument: NULL, no limit, when it
// is zero or less.
func limitOrAll(limit int) *int {
	if limit <= 0 {
		return nil
	}
	return &limit
}

// isUnique reports whether err broke a uniqueness rule.
func isUnique(err error) bool {
	var pe *pgconn.PgError
	return errors.As(err, &pe) && pe.Code == "23505"
}

// dbError maps a driver error to a helpline error where it has a meaning
// for the caller (a broken uniqueness rule), and wraps it otherwise. A
// deadlock or serialization failure stays wrapped, so that tx retries it.
func dbError(what string, err error) error {
	if isUnique(err) {
		return &helpline.Error{Code: helpline.ECONFLICT, Message: what + ": the id is already in use."}
	}
	return fmt.Errorf("postgres: %s: %w", what, err)
}
