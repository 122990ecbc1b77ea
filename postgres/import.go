package postgres

import (
	"context"
	"encoding/json"
	"fmt"
	"io"

	"github.com/jackc/pgx/v5"

	"github.com/helplinehq/helpline"
)

// Import fills an empty store with another store's rows and attachment
// bytes, for moving an install here: fn copies them through the
// Importer, all in one transaction. It refuses with ECONFLICT, writing
// nothing, when db already holds an instance or a contact; when fn or
// the commit fails nothing is written either.
//
// After fn, Import derives what only this store keeps (each contact's
// last_seq, from its items) and clears every mirror lease: the nodes
// that held them are gone, and the pairs are due at once on the first
// node to start.
func (db *DB) Import(ctx context.Context, fn func(*Importer) error) error {
	return pgx.BeginTxFunc(ctx, db.pool, pgx.TxOptions{}, func(tx pgx.Tx) error {
		// Nodes starting on the database meanwhile would save their
		// instances: they wait for the import instead.
		if _, err := tx.Exec(ctx, `LOCK TABLE instances, contacts IN EXCLUSIVE MODE`); err != nil {
			return dbError("import", err)
		}
		var used bool
		if err := tx.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM instances) OR EXISTS (SELECT 1 FROM contacts)`).Scan(&used); err != nil {
			return dbError("import", err)
		}
		if used {
			return helpline.Errorf(helpline.ECONFLICT, "The PostgreSQL database already holds instances or contacts; an install moves only into an empty one.")
		}
		im := &Importer{ctx: ctx, tx: tx}
		if err := im.loadTypes(); err != nil {
			return err
		}
		if err := fn(im); err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, `UPDATE contacts SET last_seq = coalesce((SELECT max(seq) FROM items WHERE contact_id = contacts.id), 0)`); err != nil {
			return dbError("import: number the contacts' items", err)
		}
		if _, err := tx.Exec(ctx, `UPDATE mirror_pairs SET lease_owner = '', lease_until = NULL`); err != nil {
			return dbError("import: clear the mirror leases", err)
		}
		return nil
	})
}

// Importer copies rows and blobs into the transaction of an Import.
type Importer struct {
	ctx   context.Context
	tx    pgx.Tx
	types map[string]map[string]string // table → column → data type
}

// loadTypes reads the data type of every column of the schema's tables.
func (im *Importer) loadTypes() error {
	rows, err := im.tx.Query(im.ctx, `SELECT table_name, column_name, data_type FROM information_schema.columns
		WHERE table_schema = current_schema()`)
	if err != nil {
		return dbError("import: read the schema", err)
	}
	defer rows.Close()
	im.types = map[string]map[string]string{}
	for rows.Next() {
		var table, column, typ string
		if err := rows.Scan(&table, &column, &typ); err != nil {
			return dbError("import: read the schema", err)
		}
		if im.types[table] == nil {
			im.types[table] = map[string]string{}
		}
		im.types[table][column] = typ
	}
	return rows.Err()
}

// Rows is a table's rows as another store holds them: Next, then Values,
// until Next returns false; then Err. Values are int64, float64, string,
// []byte or nil.
type Rows interface {
	Columns() []string
	pgx.CopyFromSource
}

// CopyTable copies rows into the table of the same name with COPY,
// column by name, converting each value to its column's type: an integer
// to a boolean, text to jsonb (empty text to NULL), text to bytea.
// Columns this store has and rows lack take their defaults; a column rows
// has and this store lacks is an error.
func (im *Importer) CopyTable(table string, rows Rows) (int64, error) {
	types, ok := im.types[table]
	if !ok {
		return 0, fmt.Errorf("postgres: import: the schema has no table %s", table)
	}
	cols := rows.Columns()
	conv := make([]string, len(cols))
	for i, c := range cols {
		if conv[i], ok = types[c]; !ok {
			return 0, fmt.Errorf("postgres: import: table %s has no column %s", table, c)
		}
	}
	n, err := im.tx.CopyFrom(im.ctx, pgx.Identifier{table}, cols, &converted{Rows: rows, cols: cols, types: conv, out: make([]any, len(cols))})
	if err != nil {
		return n, dbError("import "+table, err)
	}
	return n, nil
}

// converted hands rows' values to COPY in the types of their columns.
type converted struct {
	Rows
	cols  []string
	types []string
	out   []any
}

func (c *converted) Values() ([]any, error) {
	in, err := c.Rows.Values()
	if err != nil {
		return nil, err
	}
	for i, v := range in {
		out, err := convert(v, c.types[i])
		if err != nil {
			return nil, fmt.Errorf("column %s: %w", c.cols[i], err)
		}
		c.out[i] = out
	}
	return c.out, nil
}

// convert returns v, as another store held it, as a value of a column of
// data type typ.
func convert(v any, typ string) (any, error) {
	switch typ {
	case "boolean":
		if n, ok := v.(int64); ok {
			return n != 0, nil
		}
	case "jsonb":
		var raw []byte
		switch s := v.(type) {
		case string:
			raw = []byte(s)
		case []byte:
			raw = s
		}
		if v != nil && len(raw) == 0 {
			return nil, nil // no value, as a queue with no business hours
		}
		if raw != nil {
			if !json.Valid(raw) {
				return nil, fmt.Errorf("not JSON: %.40q", raw)
			}
			return json.RawMessage(raw), nil
		}
	case "bytea":
		if s, ok := v.(string); ok {
			return []byte(s), nil
		}
	case "text":
		if b, ok := v.([]byte); ok {
			return string(b), nil
		}
	}
	return v, nil
}

// PutBlob stores exactly size bytes from r under key, a chunk at a time
// (never the whole blob in memory), as Blobs.Put would.
func (im *Importer) PutBlob(key string, size int64, r io.Reader) error {
	if err := helpline.CheckBlobKey(key); err != nil {
		return err
	}
	blobID := helpline.NewID()
	if err := writeChunks(im.ctx, im.tx, blobID, key, size, r); err != nil {
		return err
	}
	if _, err := im.tx.Exec(im.ctx, `INSERT INTO blobs (key, blob_id, size) VALUES ($1, $2, $3)`, key, blobID, size); err != nil {
		return dbError("import blob "+key, err)
	}
	return nil
}

// Count returns how many rows table holds.
func (db *DB) Count(ctx context.Context, table string) (int64, error) {
	var n int64
	if err := db.pool.QueryRow(ctx, `SELECT count(*) FROM `+pgx.Identifier{table}.Sanitize()).Scan(&n); err != nil {
		return 0, dbError("count "+table, err)
	}
	return n, nil
}

// BlobTotals returns how many blobs the store holds and the bytes of
// their chunks.
func (db *DB) BlobTotals(ctx context.Context) (blobs, bytes int64, err error) {
	err = db.pool.QueryRow(ctx, `SELECT (SELECT count(*) FROM blobs),
		(SELECT coalesce(sum(length(c.data)), 0) FROM blobs b JOIN blob_chunks c ON c.blob_id = b.blob_id)`).Scan(&blobs, &bytes)
	if err != nil {
		return 0, 0, dbError("count blobs", err)
	}
	return blobs, bytes, nil
}
