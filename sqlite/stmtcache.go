package sqlite

import (
	"context"
	"database/sql/driver"
	"errors"
	"sync"
)

// stmtCacheSize is how many prepared statements each of the writer's and
// the readers' connections keeps.
const stmtCacheSize = 64

// cachingConn keeps a connection's prepared statements by their SQL, so
// that a statement the store runs again is not compiled again: the driver
// prepares a query with arguments anew each time it runs, which costs an
// append more than its INSERT. A statement in use (its rows still open when
// the same SQL runs inside them) is not shared: the second use prepares a
// statement of its own and closes it after. Past size statements, an
// arbitrary one not in use is closed for each new one.
//
// database/sql uses a connection from one goroutine at a time, so the
// cache needs no lock.
type cachingConn struct {
	conn  driver.Conn // the driver's: it offers ConnBeginTx, ConnPrepareContext and ExecerContext
	size  int
	stmts map[string]*cachedStmt
}

type cachedStmt struct {
	driver.Stmt
	inUse bool
}

// The interfaces database/sql uses, so that queries with arguments reach
// the cache.
var (
	_ driver.ExecerContext      = (*cachingConn)(nil)
	_ driver.QueryerContext     = (*cachingConn)(nil)
	_ driver.ConnPrepareContext = (*cachingConn)(nil)
	_ driver.ConnBeginTx        = (*cachingConn)(nil)
)

func newCachingConn(conn driver.Conn, size int) *cachingConn {
	return &cachingConn{conn: conn, size: size, stmts: make(map[string]*cachedStmt, size)}
}

// Close closes the cached statements, then the connection (which SQLite
// refuses to close while it has statements).
func (c *cachingConn) Close() error {
	var errs []error
	for query, s := range c.stmts {
		errs = append(errs, s.Close())
		delete(c.stmts, query)
	}
	return errors.Join(append(errs, c.conn.Close())...)
}

func (c *cachingConn) Begin() (driver.Tx, error) {
	return c.BeginTx(context.Background(), driver.TxOptions{})
}

func (c *cachingConn) BeginTx(ctx context.Context, opts driver.TxOptions) (driver.Tx, error) {
	return c.conn.(driver.ConnBeginTx).BeginTx(ctx, opts)
}

// Prepare and PrepareContext return a statement of the caller's own, which
// database/sql closes; they do not use the cache.
func (c *cachingConn) Prepare(query string) (driver.Stmt, error) {
	return c.PrepareContext(context.Background(), query)
}

func (c *cachingConn) PrepareContext(ctx context.Context, query string) (driver.Stmt, error) {
	return c.conn.(driver.ConnPrepareContext).PrepareContext(ctx, query)
}

// ExecContext runs query with a cached statement. Without arguments the
// driver runs query itself, as it may hold several statements (a
// migration).
func (c *cachingConn) ExecContext(ctx context.Context, query string, args []driver.NamedValue) (driver.Result, error) {
	if len(args) == 0 {
		return c.conn.(driver.ExecerContext).ExecContext(ctx, query, nil)
	}
	st, release, err := c.stmt(ctx, query)
	if err != nil {
		return nil, err
	}
	defer release()
	return st.(driver.StmtExecContext).ExecContext(ctx, args)
}

// QueryContext runs query with a cached statement, which is in use until
// the rows close.
func (c *cachingConn) QueryContext(ctx context.Context, query string, args []driver.NamedValue) (driver.Rows, error) {
	st, release, err := c.stmt(ctx, query)
	if err != nil {
		return nil, err
	}
	rows, err := st.(driver.StmtQueryContext).QueryContext(ctx, args)
	if err != nil {
		release()
		return nil, err
	}
	return &releasingRows{Rows: rows, release: release}, nil
}

// stmt returns a prepared statement for query and the function that ends
// its use.
func (c *cachingConn) stmt(ctx context.Context, query string) (driver.Stmt, func(), error) {
	if s := c.stmts[query]; s != nil && !s.inUse {
		s.inUse = true
		return s.Stmt, func() { s.inUse = false }, nil
	}
	st, err := c.PrepareContext(ctx, query)
	if err != nil {
		return nil, nil, err
	}
	if c.stmts[query] != nil || !c.makeRoom() {
		return st, func() { st.Close() }, nil
	}
	s := &cachedStmt{Stmt: st, inUse: true}
	c.stmts[query] = s
	return st, func() { s.inUse = false }, nil
}

// makeRoom closes a statement not in use if the cache is full, and reports
// whether there is room for one more.
func (c *cachingConn) makeRoom() bool {
	if len(c.stmts) < c.size {
		return true
	}
	for query, s := range c.stmts {
		if !s.inUse {
			s.Close()
			delete(c.stmts, query)
			return true
		}
	}
	return false
}

// releasingRows ends its statement's use when closed.
type releasingRows struct {
	driver.Rows
	release func()
	once    sync.Once
}

func (r *releasingRows) Close() error {
	err := r.Rows.Close()
	r.once.Do(r.release)
	return err
}
