// Package sqlite implements helpline.Store on one SQLite database file, the
// embedded default store.
//
// The database runs in WAL mode with foreign keys on. Writes go through one
// goroutine that applies them in batches, one transaction per batch (group
// commit); reads use a separate pool of read-only connections and never
// wait for the writer.
//
// Durability: by default the database uses synchronous=NORMAL. A write whose
// call has returned survives a crash of the process; the last commits may
// be lost if the operating system crashes or the machine loses power, and
// the database stays consistent either way. SynchronousFull makes every
// commit survive power loss too, at the cost of an fsync per batch.
package sqlite

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/helplinehq/helpline"
	sqlitedriver "modernc.org/sqlite"
	sqlitelib "modernc.org/sqlite/lib"
)

//go:embed migrations/*.sql
var migrations embed.FS

// maxBatch caps the number of write operations committed in one
// transaction, so that a long queue still commits (and answers its
// callers) regularly.
const maxBatch = 256

// checkpointEvery is how many committed write operations make the
// checkpointer copy the write-ahead log back into the database file. Its
// cost (copying pages, fsync) stays off the writer's path.
const checkpointEvery = 4096

// DB is a helpline.Store on one SQLite database file.
//
// Every write operation runs on the writer goroutine in its own savepoint
// inside the current batch's transaction: an operation that fails is rolled
// back alone and the others in the batch still commit. A write method
// returns after its batch has committed; a read that starts afterwards sees
// the write.
type DB struct {
	w   *sql.DB // one connection, used by the writer goroutine only
	r   *sql.DB // read-only pool
	ckw *sql.DB // one connection, used by the checkpointer only
	log *slog.Logger

	// appends remembers what AppendItem needs of recently appended-to
	// contacts; the writer goroutine alone uses it.
	appends *appendCache

	// mu guards closed and sends on queue, so that Close never closes
	// queue under a sender.
	mu     sync.RWMutex
	closed bool
	queue  chan *writeOp
	done   chan struct{} // closed when the writer goroutine has exited

	// sinceCheckpoint counts operations committed since the checkpointer
	// was last woken; the writer goroutine alone uses it.
	sinceCheckpoint int
	checkpoint      chan struct{} // wakes the checkpointer; closed by Close
	checkpointDone  chan struct{} // closed when the checkpointer has exited

	// walPath is the write-ahead log's file; the writer keeps it under
	// walLimit bytes (boundWAL), looking at its size after a batch: after
	// each one once it has passed half the limit, else at most every
	// walStatEvery. walSize and walStatAt are the last look's.
	walPath   string
	walLimit  int64
	walSize   int64
	walStatAt time.Time
	// readGate holds new reads back while the log restarts (gate.go).
	readGate sync.RWMutex
	// passiveRuns counts the checkpointer's completed checkpoints and
	// leftBehind is how many frames the last one could not copy; the
	// writer waits for a run numbered askedRun (0: none asked) before it
	// restarts the log (restartCheap). The writer goroutine alone uses
	// askedRun.
	passiveRuns, leftBehind atomic.Int64
	// lastCopied is how many frames the last checkpoint copied: a short
	// one means little has been written since it started.
	lastCopied atomic.Int64
	askedRun   int64
	// checkpointing is held by whoever runs a checkpoint.
	checkpointing sync.Mutex
}

var _ helpline.Store = (*DB)(nil)

// Option configures Open.
type Option func(*config)

type config struct {
	synchronous string
	log         *slog.Logger
	walLimit    int64
}

// DefaultWALLimit is the size the write-ahead log is kept under unless
// WALLimit says otherwise.
const DefaultWALLimit = 64 << 20

// WALLimit keeps the write-ahead log file under bytes (at least 64 KiB):
// once it passes half of that, the writer copies the log into the database
// and starts it again from the beginning before the next batch, waiting for
// the reads in flight to finish (new ones wait meanwhile).
func WALLimit(bytes int64) Option {
	return func(c *config) { c.walLimit = max(bytes, 64<<10) }
}

// SynchronousFull makes every commit durable across power loss
// (synchronous=FULL) instead of across process crashes only.
func SynchronousFull() Option {
	return func(c *config) { c.synchronous = "FULL" }
}

// WithLogger sets the logger for failures no caller sees (a background
// checkpoint that fails). The default is slog.Default().
func WithLogger(l *slog.Logger) Option {
	return func(c *config) { c.log = l }
}

// Open opens the database file at path, creating it and its directory if
// they do not exist, and brings its schema up to date. path must name a
// file: the writer and the readers use separate connections, so an
// in-memory database does not work. Close it when done.
func Open(path string, opts ...Option) (*DB, error) {
	cfg := config{synchronous: "NORMAL", log: slog.Default(), walLimit: DefaultWALLimit}
	for _, o := range opts {
		o(&cfg)
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return nil, fmt.Errorf("sqlite: %w", err)
	}
	if err := ownerOnly(path); err != nil {
		return nil, fmt.Errorf("sqlite: %w", err)
	}
	// The writer leaves checkpoints to the checkpointer; a 64 MiB page
	// cache keeps the hot pages of many contacts' items in memory.
	appends := newAppendCache()
	w := sql.OpenDB(connector{
		dsn: dsn(path, "_txlock=immediate&_pragma=busy_timeout(5000)&_pragma=journal_mode(wal)&_pragma=synchronous("+cfg.synchronous+
			")&_pragma=foreign_keys(on)&_pragma=cache_size(-65536)"),
		setup: fmt.Sprintf("PRAGMA wal_autocheckpoint = 0; PRAGMA journal_size_limit = %d", cfg.walLimit/4),
		hook:  appends.hook,
		stmts: stmtCacheSize,
	})
	single(w)
	if err := migrate(w); err != nil {
		w.Close()
		return nil, fmt.Errorf("sqlite: migrate %s: %w", path, err)
	}
	db := &DB{
		w: w, log: cfg.log, appends: appends, walPath: path + "-wal", walLimit: cfg.walLimit,
		queue: make(chan *writeOp, maxBatch), done: make(chan struct{}),
		checkpoint: make(chan struct{}, 1), checkpointDone: make(chan struct{}),
	}
	r := sql.OpenDB(connector{dsn: dsn(path, "mode=ro&_txlock=deferred&_pragma=busy_timeout(5000)&_pragma=foreign_keys(on)"),
		gate: &db.readGate, stmts: stmtCacheSize})
	readers := max(4, runtime.NumCPU())
	r.SetMaxOpenConns(readers)
	r.SetMaxIdleConns(readers)
	r.SetConnMaxLifetime(0)
	ckw := sql.OpenDB(connector{dsn: dsn(path, "_pragma=busy_timeout(5000)&_pragma=synchronous("+cfg.synchronous+")")})
	single(ckw)
	for _, c := range []*sql.DB{r, ckw} {
		if err := c.Ping(); err != nil {
			r.Close()
			ckw.Close()
			w.Close()
			return nil, fmt.Errorf("sqlite: open %s: %w", path, err)
		}
	}

	db.r, db.ckw = r, ckw
	go db.writeLoop()
	go db.checkpointLoop()
	return db, nil
}

// ownerOnly makes the database file at path, and its WAL and shared-memory
// files where they exist, readable and writable by their owner only, creating
// an empty database file with that mode if there is none: the database holds
// the token-signing key and the instances' secrets. SQLite creates the WAL
// and shared-memory files with the database file's mode, so they follow.
func ownerOnly(path string) error {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return err
	}
	f.Close()
	for _, p := range []string{path, path + "-wal", path + "-shm"} {
		fi, err := os.Stat(p)
		if errors.Is(err, os.ErrNotExist) {
			continue
		} else if err != nil {
			return err
		}
		if fi.Mode().Perm()&0o077 != 0 {
			if err := os.Chmod(p, fi.Mode().Perm()&0o700); err != nil {
				return err
			}
		}
	}
	return nil
}

// single makes db keep exactly one connection for good.
func single(db *sql.DB) {
	db.SetMaxOpenConns(1)
	db.SetMaxIdleConns(1)
	db.SetConnMaxLifetime(0)
}

// connector opens SQLite connections to dsn (a URI filename whose
// _pragma parameters run on each new connection, and whose _txlock says
// how transactions begin) and runs hook and setup, if set, on each. With
// stmts, each connection keeps that many prepared statements
// (stmtcache.go); with a gate, the connections' reads pass through it
// (gate.go).
type connector struct {
	dsn   string
	setup string
	hook  func(sqlitedriver.HookRegisterer)
	stmts int
	gate  *sync.RWMutex
}

func (c connector) Connect(ctx context.Context) (driver.Conn, error) {
	conn, err := c.Driver().Open(c.dsn)
	if err != nil {
		return nil, err
	}
	if c.hook != nil {
		c.hook(conn.(sqlitedriver.HookRegisterer))
	}
	if c.setup != "" {
		if _, err := conn.(driver.ExecerContext).ExecContext(ctx, c.setup, nil); err != nil {
			conn.Close()
			return nil, err
		}
	}
	if c.stmts > 0 {
		conn = newCachingConn(conn, c.stmts)
	}
	if c.gate != nil {
		conn = &gatedConn{conn: conn, gate: c.gate}
	}
	return conn, nil
}

func (c connector) Driver() driver.Driver { return &sqlitedriver.Driver{} }

// checkpointLoop copies the write-ahead log into the database file each
// time the writer asks, until Close. A PASSIVE checkpoint never blocks the
// writer or the readers; what it cannot copy yet is copied next time.
func (db *DB) checkpointLoop() {
	defer close(db.checkpointDone)
	prevCopied := 0
	for range db.checkpoint {
		var busy, logFrames, copied int
		db.checkpointing.Lock()
		err := db.ckw.QueryRow(`PRAGMA wal_checkpoint(PASSIVE)`).Scan(&busy, &logFrames, &copied)
		db.checkpointing.Unlock()
		if err != nil {
			db.log.Error("sqlite: checkpoint failed", "err", err)
			continue
		}
		db.leftBehind.Store(int64(logFrames - copied))
		if copied < prevCopied {
			prevCopied = 0 // the log started again meanwhile
		}
		db.lastCopied.Store(int64(copied - prevCopied))
		prevCopied = copied
		db.passiveRuns.Add(1)
	}
}

// wakeCheckpointer asks the checkpointer for a passive checkpoint, unless
// one is pending already.
func (db *DB) wakeCheckpointer() {
	select {
	case db.checkpoint <- struct{}{}:
	default:
	}
}

// committed bounds the write-ahead log and wakes the checkpointer once
// every checkpointEvery committed operations.
func (db *DB) committed(n int) {
	db.boundWAL()
	db.sinceCheckpoint += n
	if db.sinceCheckpoint < checkpointEvery {
		return
	}
	db.sinceCheckpoint = 0
	db.wakeCheckpointer()
}

// boundWAL restarts the write-ahead log once it has passed half its limit,
// as soon as the passive checkpointer has copied nearly all of it (or at
// once past nine tenths of the limit).
// The passive checkpoints keep copying the log into the database, but the
// log only starts again from its beginning when no reader is using it, a
// moment that never comes while sockets and the dispatcher read without
// pause: it would grow by every page written. So the writer, between two
// batches, closes the read gate, waits for the reads in flight, and runs a
// RESTART checkpoint on its own connection: it copies what the passive
// checkpoints left and lets the next batch write the log from its
// beginning. That commit trims the file to a quarter of the limit
// (journal_size_limit), so the file grows past half the limit again only
// when that much of the log is in use. Writers wait
// for that copy, readers for that copy and the reads ahead of them.
func (db *DB) boundWAL() {
	now := time.Now()
	if db.walSize < db.walLimit/2 && now.Sub(db.walStatAt) < walStatEvery {
		return
	}
	db.walStatAt = now
	fi, err := os.Stat(db.walPath)
	if err != nil {
		db.walSize = 0
		return
	}
	if db.walSize = fi.Size(); db.walSize < db.walLimit/2 {
		return
	}
	if db.walSize < db.walLimit*9/10 && !db.restartCheap() {
		return
	}
	db.askedRun = 0
	start := time.Now()
	// One checkpoint at a time: a restart beside a passive checkpoint
	// would find the checkpoint lock taken and give up.
	db.checkpointing.Lock()
	defer db.checkpointing.Unlock()
	db.readGate.Lock()
	waited := time.Since(start)
	var busy, logFrames, copied int
	err = db.w.QueryRow(`PRAGMA wal_checkpoint(RESTART)`).Scan(&busy, &logFrames, &copied)
	db.readGate.Unlock()
	switch {
	case err != nil:
		db.log.Error("sqlite: restarting the write-ahead log failed", "err", err, "wal_bytes", fi.Size())
	case busy != 0:
		db.log.Warn("sqlite: the write-ahead log could not restart; trying again after the next batch",
			"wal_bytes", fi.Size(), "took", time.Since(start))
	default:
		db.log.Debug("sqlite: write-ahead log restarted", "wal_bytes", fi.Size(), "frames", logFrames,
			"copied", copied, "readers_waited", waited, "took", time.Since(start))
	}
}

// walStatEvery is how often the writer looks at the log's size while it
// is under half its limit: the log grows by at most a few hundred KB in
// that time.
const walStatEvery = 2 * time.Millisecond

// restartCopyMax is how many frames a restart may still have to copy for
// the writer to run it before the log nears its limit: the copy and its
// fsyncs stall reads and writes, so the passive checkpointer does the bulk
// of it first, beside them.
const restartCopyMax = 256

// restartCheap reports whether the writer may restart the log now at
// little cost: the last passive checkpoint, asked for after the log passed
// half its limit, left at most restartCopyMax frames uncopied and copied
// at most that many itself (so it was short, and little has been written
// since it started). Otherwise it asks for another and reports false:
// under steady writes each pass copies what was written during the one
// before, so the passes shorten until one is short enough.
func (db *DB) restartCheap() bool {
	if db.askedRun != 0 && db.passiveRuns.Load() >= db.askedRun {
		if db.leftBehind.Load() <= restartCopyMax && db.lastCopied.Load() <= restartCopyMax {
			return true
		}
		db.askedRun = 0
	}
	if db.askedRun == 0 {
		db.askedRun = db.passiveRuns.Load() + 1
		db.wakeCheckpointer()
	}
	return false
}

// dsn returns a SQLite URI filename for path with the given query.
func dsn(path, query string) string {
	esc := strings.NewReplacer("%", "%25", "?", "%3f", "#", "%23")
	return "file:" + esc.Replace(path) + "?" + query
}

// migrate applies, in name order, each embedded migration newer than the
// database's schema version, each in its own transaction.
func migrate(db *sql.DB) error {
	if _, err := db.Exec(`CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL)`); err != nil {
		return err
	}
	var current int
	if err := db.QueryRow(`SELECT coalesce(max(version), 0) FROM schema_version`).Scan(&current); err != nil {
		return err
	}
	names, err := fs.Glob(migrations, "migrations/*.sql")
	if err != nil {
		return err
	}
	sort.Strings(names)
	if latest := migrationVersion(names[len(names)-1]); current > latest {
		return fmt.Errorf("the database has schema version %d; this program knows versions up to %d", current, latest)
	}
	for _, name := range names {
		version := migrationVersion(name)
		if version <= current {
			continue
		}
		if err := applyMigration(db, name, version); err != nil {
			return fmt.Errorf("migration %s: %w", filepath.Base(name), err)
		}
	}
	return nil
}

// migrationVersion returns the number a migration's file name starts
// with. The files are embedded, so a malformed name cannot reach a
// release: TestMigrationNames checks them.
func migrationVersion(name string) int {
	num, _, _ := strings.Cut(filepath.Base(name), "_")
	v, _ := strconv.Atoi(num)
	return v
}

func applyMigration(db *sql.DB, name string, version int) error {
	body, err := migrations.ReadFile(name)
	if err != nil {
		return err
	}
	tx, err := db.Begin()
	if err != nil {
		return err
	}
	defer tx.Rollback()
	if _, err := tx.Exec(string(body)); err != nil {
		return err
	}
	if _, err := tx.Exec(`INSERT INTO schema_version (version) VALUES (?)`, version); err != nil {
		return err
	}
	return tx.Commit()
}

// Close waits for the queued writes to commit, stops the writer and closes
// the database. Later calls return nil; store methods called after Close
// fail.
func (db *DB) Close() error {
	db.mu.Lock()
	if db.closed {
		db.mu.Unlock()
		return nil
	}
	db.closed = true
	close(db.queue)
	db.mu.Unlock()
	<-db.done
	close(db.checkpoint)
	<-db.checkpointDone
	// The writer's connection closes last: closing the last connection
	// checkpoints the whole log and removes it.
	return errors.Join(db.r.Close(), db.ckw.Close(), db.w.Close())
}

// writeOp is one write operation waiting for the writer goroutine.
type writeOp struct {
	ctx context.Context
	fn  func(tx *sql.Tx) error
	err chan error // receives the outcome once the batch has committed
}

var errClosed = helpline.Errorf(helpline.EINTERNAL, "The store is closed.")

// write runs fn on the writer goroutine inside a savepoint of the current
// batch and returns fn's error once the batch has committed, or the error
// that stopped the batch from committing. fn must not keep tx. fn may fill
// the caller's values as it goes: after an error they may be partly filled.
// A write whose ctx ends while it waits in the queue is skipped and returns
// ctx's error; once fn has run, write waits for the outcome.
func (db *DB) write(ctx context.Context, fn func(tx *sql.Tx) error) error {
	op := writeOps.Get().(*writeOp)
	op.ctx, op.fn = ctx, fn
	defer func() {
		op.ctx, op.fn = nil, nil
		writeOps.Put(op)
	}()
	db.mu.RLock()
	if db.closed {
		db.mu.RUnlock()
		return errClosed
	}
	select {
	case db.queue <- op:
	case <-ctx.Done():
		db.mu.RUnlock()
		return ctx.Err()
	}
	db.mu.RUnlock()
	// The writer sends exactly one outcome and then no longer uses op, so
	// op (and its channel) may serve another write once it is received.
	return <-op.err
}

// writeOps recycles write operations and their outcome channels.
var writeOps = sync.Pool{New: func() any { return &writeOp{err: make(chan error, 1)} }}

// writeLoop applies queued operations in batches until the queue is closed
// and drained. A batch is whatever is queued when the writer comes round,
// up to maxBatch operations, committed in one transaction.
func (db *DB) writeLoop() {
	defer close(db.done)
	batch := make([]*writeOp, 0, maxBatch)
	errs := make([]error, maxBatch)
	for first := range db.queue {
		batch = db.gather(append(batch[:0], first))
		if len(batch) > 1 && len(batch) < maxBatch {
			// Writes are arriving concurrently: give the others a moment
			// to join. A commit's cost grows much slower than its size, so
			// under load this buys throughput for a millisecond of latency;
			// a lone write is committed at once.
			time.Sleep(gatherWindow)
			batch = db.gather(batch)
		}
		// Operations rarely fail, so a batch first runs without a savepoint
		// per operation; if one fails, the batch is rolled back and run
		// again with savepoints, so that the failure is undone alone.
		if db.runBatch(batch, errs, false) == errOpFailed {
			db.runBatch(batch, errs, true)
		}
		clear(batch) // drop references to finished operations
	}
}

// gatherWindow is how long the writer waits for more writes to join a
// batch once it sees several arriving together.
const gatherWindow = time.Millisecond

// gather appends to batch the operations already queued, up to maxBatch.
func (db *DB) gather(batch []*writeOp) []*writeOp {
	for len(batch) < maxBatch {
		select {
		case op, ok := <-db.queue:
			if !ok {
				return batch
			}
			batch = append(batch, op)
		default:
			return batch
		}
	}
	return batch
}

// errOpFailed stops a batch run without savepoints when an operation fails.
var errOpFailed = errors.New("sqlite: an operation failed")

// runBatch applies batch in one transaction and hands each operation its
// outcome once committed. Without savepoints it returns errOpFailed, having
// rolled back and told no one, as soon as an operation fails.
func (db *DB) runBatch(batch []*writeOp, errs []error, savepoints bool) error {
	fail := func(err error) error {
		for _, op := range batch {
			op.err <- err
		}
		return err
	}
	tx, err := db.w.Begin()
	if err != nil {
		return fail(fmt.Errorf("sqlite: begin: %w", err))
	}
	for i, op := range batch {
		if errs[i] = op.ctx.Err(); errs[i] != nil {
			continue // the caller gave up waiting: skip it
		}
		opErr, fatal := db.apply(tx, op, savepoints)
		if fatal != nil {
			tx.Rollback()
			return fail(fmt.Errorf("sqlite: batch aborted: %w", fatal))
		} else if opErr != nil && !savepoints {
			tx.Rollback()
			return errOpFailed
		}
		errs[i] = opErr
	}
	if err := tx.Commit(); err != nil {
		db.appends.rolledBack() // the batch may not have been stored
		return fail(fmt.Errorf("sqlite: commit: %w", err))
	}
	db.appends.committed()
	db.committed(len(batch))
	for i, op := range batch {
		op.err <- errs[i]
	}
	return nil
}

// apply runs op in tx, in a savepoint when asked. opErr is op's own
// failure, after which its changes are rolled back if it had a savepoint;
// fatal means tx itself is unusable.
func (db *DB) apply(tx *sql.Tx, op *writeOp, savepoint bool) (opErr, fatal error) {
	if !savepoint {
		return op.fn(tx), nil
	}
	if _, err := tx.Exec(`SAVEPOINT op`); err != nil {
		return nil, err
	}
	if err := op.fn(tx); err != nil {
		// Rolling back to a savepoint runs no rollback hook: what op
		// remembered may be undone.
		db.appends.rolledBack()
		if _, rerr := tx.Exec(`ROLLBACK TO op`); rerr != nil {
			return nil, rerr
		}
		if _, rerr := tx.Exec(`RELEASE op`); rerr != nil {
			return nil, rerr
		}
		return err, nil
	}
	if _, err := tx.Exec(`RELEASE op`); err != nil {
		return nil, err
	}
	return nil, nil
}

// querier is what both the read pool and a write transaction offer.
type querier interface {
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}

// scanner is a *sql.Row or *sql.Rows.
type scanner interface {
	Scan(dest ...any) error
}

// queryAll runs query on q and scans every row with scan; what names the
// lookup in errors.
func queryAll[T any](ctx context.Context, q querier, what string, scan func(scanner) (T, error), query string, args ...any) ([]T, error) {
	rows, err := q.QueryContext(ctx, query, args...)
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
func byClientToken[T any](tx *sql.Tx, scan func(scanner) (*T, error), query, token string, key ...any) (*T, error) {
	if token == "" {
		return nil, nil
	}
	v, err := scan(tx.QueryRow(query, append(key, token)...))
	if errors.Is(err, sql.ErrNoRows) {
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
func nullMillis(t time.Time) any {
	if t.IsZero() {
		return nil
	}
	return t.UnixMilli()
}

// fromMillis returns unix milliseconds as a UTC time.
func fromMillis(ms int64) time.Time { return time.UnixMilli(ms).UTC() }

// fromNullMillis returns unix milliseconds as a UTC time, and NULL as the
// zero time.
func fromNullMillis(ms sql.NullInt64) time.Time {
	if !ms.Valid {
		return time.Time{}
	}
	return fromMillis(ms.Int64)
}

// dbError maps a driver error to a helpline error where it has a meaning
// for the caller (a broken uniqueness rule), and wraps it otherwise.
func dbError(what string, err error) error {
	var se *sqlitedriver.Error
	if errors.As(err, &se) && (se.Code() == sqlitelib.SQLITE_CONSTRAINT_UNIQUE || se.Code() == sqlitelib.SQLITE_CONSTRAINT_PRIMARYKEY) {
		return &helpline.Error{Code: helpline.ECONFLICT, Message: what + ": the id is already in use."}
	}
	return fmt.Errorf("sqlite: %s: %w", what, err)
}
