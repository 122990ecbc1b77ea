package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"sort"
	"strings"
)

// Export reads a SQLite store's tables row by row, as they are on disk,
// for moving an install to another store. It opens the database
// read-only and reads one snapshot: every table and count it returns is
// of the same moment. It never writes, so the node must be stopped for
// the snapshot to be the install's last state.
type Export struct {
	db *sql.DB
	tx *sql.Tx // the read transaction every read runs in
}

// OpenExport opens the database file at path read-only. A path with no
// file, a file that is not a Helpline database, or a database of another
// schema version than this program's is an error; run this program's
// node on the database once to bring an older one up to date. So is a
// database whose write-ahead log holds pages: a store open on it (a
// running node) or one that did not close cleanly keeps them there, and
// a store closing removes the log or leaves it empty. Close it when done.
func OpenExport(ctx context.Context, path string) (*Export, error) {
	if _, err := os.Stat(path); errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("sqlite: no database at %s", path)
	} else if err != nil {
		return nil, fmt.Errorf("sqlite: %w", err)
	}
	if fi, err := os.Stat(path + "-wal"); err == nil && fi.Size() > 0 {
		return nil, fmt.Errorf("sqlite: %s is in use, or its node did not stop cleanly (its write-ahead log holds %d bytes): stop the node, or start and stop it once, first", path, fi.Size())
	}
	db := sql.OpenDB(connector{dsn: dsn(path, "mode=ro&_txlock=deferred&_pragma=busy_timeout(5000)")})
	single(db)
	tx, err := db.BeginTx(ctx, &sql.TxOptions{ReadOnly: true})
	if err != nil {
		db.Close()
		return nil, fmt.Errorf("sqlite: %s is not a readable Helpline database: %w", path, err)
	}
	e := &Export{db: db, tx: tx}
	if err := e.checkVersion(ctx, path); err != nil {
		e.Close()
		return nil, err
	}
	return e, nil
}

// checkVersion refuses a database whose schema is not this program's
// latest.
func (e *Export) checkVersion(ctx context.Context, path string) error {
	var current int
	if err := e.tx.QueryRowContext(ctx, `SELECT coalesce(max(version), 0) FROM schema_version`).Scan(&current); err != nil {
		return fmt.Errorf("sqlite: %s is not a readable Helpline database: %w", path, err)
	}
	names, err := fs.Glob(migrations, "migrations/*.sql")
	if err != nil {
		return err
	}
	sort.Strings(names)
	if latest := migrationVersion(names[len(names)-1]); current != latest {
		return fmt.Errorf("sqlite: %s has schema version %d, this program's is %d; start this version's node on it once first", path, current, latest)
	}
	return nil
}

// Tables returns the names of the store's tables, in name order.
func (e *Export) Tables(ctx context.Context) ([]string, error) {
	return queryAll(ctx, e.tx, "list tables", scanString, `SELECT name FROM sqlite_schema
		WHERE type = 'table' AND name NOT LIKE 'sqlite_%' AND name != 'schema_version' ORDER BY name`)
}

// Columns returns the names of table's columns, in their order.
func (e *Export) Columns(ctx context.Context, table string) ([]string, error) {
	return queryAll(ctx, e.tx, "list the columns of "+table, scanString, `SELECT name FROM pragma_table_info(?) ORDER BY cid`, table)
}

// scanString reads a row of one text column.
func scanString(s scanner) (string, error) {
	var v string
	return v, s.Scan(&v)
}

// Count returns how many rows table holds.
func (e *Export) Count(ctx context.Context, table string) (int64, error) {
	var n int64
	if err := e.tx.QueryRowContext(ctx, `SELECT count(*) FROM `+quote(table)).Scan(&n); err != nil {
		return 0, fmt.Errorf("sqlite: count %s: %w", table, err)
	}
	return n, nil
}

// Rows returns table's rows, with the columns Columns names, in the order
// they were inserted where the table keeps one (a rowid table; the join
// order of participants) and in key order otherwise. Each value is an
// int64, a float64, a string, a []byte or nil, as SQLite holds it.
func (e *Export) Rows(ctx context.Context, table string) (*Rows, error) {
	var withoutRowID bool
	if err := e.tx.QueryRowContext(ctx, `SELECT wr FROM pragma_table_list WHERE schema = 'main' AND name = ?`, table).Scan(&withoutRowID); err != nil {
		return nil, fmt.Errorf("sqlite: table %s: %w", table, err)
	}
	cols, err := e.Columns(ctx, table)
	if err != nil {
		return nil, err
	}
	q := `SELECT * FROM ` + quote(table)
	if !withoutRowID {
		q += ` ORDER BY rowid`
	}
	rows, err := e.tx.QueryContext(ctx, q)
	if err != nil {
		return nil, fmt.Errorf("sqlite: read %s: %w", table, err)
	}
	return &Rows{rows: rows, table: table, values: make([]any, len(cols)), cols: cols}, nil
}

// Close ends the read and closes the database.
func (e *Export) Close() error {
	e.tx.Rollback()
	return e.db.Close()
}

// Rows iterates over one table's rows: Next, then Values, until Next
// returns false; then Err. Close it when done.
type Rows struct {
	rows   *sql.Rows
	table  string
	cols   []string
	values []any
	err    error
}

// Columns returns the names of the values' columns.
func (r *Rows) Columns() []string { return r.cols }

// Next reads the next row, reporting whether there was one.
func (r *Rows) Next() bool {
	if r.err != nil || !r.rows.Next() {
		return false
	}
	ptrs := make([]any, len(r.values))
	for i := range r.values {
		ptrs[i] = &r.values[i]
	}
	if err := r.rows.Scan(ptrs...); err != nil {
		r.err = fmt.Errorf("sqlite: read %s: %w", r.table, err)
		return false
	}
	return true
}

// Values returns the current row's values; the slice is reused by Next.
func (r *Rows) Values() ([]any, error) { return r.values, nil }

// Err returns the error that ended the rows early, if any.
func (r *Rows) Err() error {
	if r.err != nil {
		return r.err
	}
	if err := r.rows.Err(); err != nil {
		return fmt.Errorf("sqlite: read %s: %w", r.table, err)
	}
	return nil
}

// Close releases the rows.
func (r *Rows) Close() error { return r.rows.Close() }

// quote returns name as an SQL identifier.
func quote(name string) string {
	return `"` + strings.ReplaceAll(name, `"`, `""`) + `"`
}
