package sqlite

import (
	"context"
	"database/sql/driver"
	"sync"
)

// The read pool's connections pass through a gate that the writer can
// close for the moment it restarts the write-ahead log (boundWAL). A
// restart has to wait until no reader uses the log; reads that never
// pause would keep it waiting for good, and the log would grow by every
// page written. The writer closes the gate, the reads in flight finish
// (they are short: every read of the store collects its rows and closes
// them before it returns), the restart runs at once, and the gate opens.
//
// A read holds the gate from its query until its rows are closed, or from
// the start of a read transaction until its end; queries inside a
// transaction do not take it again, so a read never waits on itself. No
// read may wait for a write while it holds the gate: the writer may be
// waiting for the gate.

// gatedConn is a read connection whose reads hold gate.
type gatedConn struct {
	conn driver.Conn
	gate *sync.RWMutex
	inTx bool // the connection is in a transaction, which holds the gate
}

// The interfaces database/sql uses, so that it never falls back to paths
// that would bypass the gate.
var (
	_ driver.QueryerContext     = (*gatedConn)(nil)
	_ driver.ConnPrepareContext = (*gatedConn)(nil)
	_ driver.ConnBeginTx        = (*gatedConn)(nil)
	_ driver.Pinger             = (*gatedConn)(nil)
)

func (c *gatedConn) Close() error { return c.conn.Close() }

func (c *gatedConn) Begin() (driver.Tx, error) {
	return c.BeginTx(context.Background(), driver.TxOptions{})
}

func (c *gatedConn) BeginTx(ctx context.Context, opts driver.TxOptions) (driver.Tx, error) {
	c.gate.RLock()
	tx, err := c.conn.(driver.ConnBeginTx).BeginTx(ctx, opts)
	if err != nil {
		c.gate.RUnlock()
		return nil, err
	}
	c.inTx = true
	return &gatedTx{tx: tx, c: c}, nil
}

func (c *gatedConn) Prepare(query string) (driver.Stmt, error) {
	return c.PrepareContext(context.Background(), query)
}

func (c *gatedConn) PrepareContext(ctx context.Context, query string) (driver.Stmt, error) {
	st, err := c.conn.(driver.ConnPrepareContext).PrepareContext(ctx, query)
	if err != nil {
		return nil, err
	}
	return &gatedStmt{Stmt: st, c: c}, nil
}

func (c *gatedConn) QueryContext(ctx context.Context, query string, args []driver.NamedValue) (driver.Rows, error) {
	return c.hold(func() (driver.Rows, error) {
		return c.conn.(driver.QueryerContext).QueryContext(ctx, query, args)
	})
}

func (c *gatedConn) Ping(ctx context.Context) error {
	if p, ok := c.conn.(driver.Pinger); ok {
		return p.Ping(ctx)
	}
	return nil
}

// hold runs query holding the gate until the rows it returns are closed;
// inside a transaction, which holds the gate already, it only runs query.
func (c *gatedConn) hold(query func() (driver.Rows, error)) (driver.Rows, error) {
	if c.inTx {
		return query()
	}
	c.gate.RLock()
	rows, err := query()
	if err != nil {
		c.gate.RUnlock()
		return nil, err
	}
	return &gatedRows{Rows: rows, release: c.gate.RUnlock}, nil
}

type gatedTx struct {
	tx   driver.Tx
	c    *gatedConn
	once sync.Once
}

func (t *gatedTx) Commit() error   { defer t.end(); return t.tx.Commit() }
func (t *gatedTx) Rollback() error { defer t.end(); return t.tx.Rollback() }

func (t *gatedTx) end() {
	t.once.Do(func() {
		t.c.inTx = false
		t.c.gate.RUnlock()
	})
}

type gatedStmt struct {
	driver.Stmt
	c *gatedConn
}

func (s *gatedStmt) Query(args []driver.Value) (driver.Rows, error) {
	return s.c.hold(func() (driver.Rows, error) {
		return s.Stmt.Query(args)
	})
}

func (s *gatedStmt) QueryContext(ctx context.Context, args []driver.NamedValue) (driver.Rows, error) {
	return s.c.hold(func() (driver.Rows, error) {
		return s.Stmt.(driver.StmtQueryContext).QueryContext(ctx, args)
	})
}

type gatedRows struct {
	driver.Rows
	release func()
	once    sync.Once
}

func (r *gatedRows) Close() error {
	err := r.Rows.Close()
	r.once.Do(r.release)
	return err
}
