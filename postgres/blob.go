package postgres

import (
	"context"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgtype"

	"github.com/helplinehq/helpline"
)

// ChunkSize is the most bytes of an attachment one row of blob_chunks
// holds: Put and the readers Open returns hold one chunk in memory at a
// time, whatever the attachment's size.
const ChunkSize = 256 << 10

// Blobs is a helpline.BlobStore in the store's database: attachment bytes
// every node reads and writes, for nodes that share no file system. It
// shares the store's pool.
//
// A Put writes its chunks under a new blob id, each chunk in a
// transaction of its own (an upload as slow as its client holds no
// transaction open), then points the key at them and deletes the chunks
// it replaced, in one short transaction: readers see the old bytes or the
// new ones, never a part. A reader that outlives a replacement of its key
// fails rather than mixing the two. An upload is noted as under way until
// then; one a dead node left behind is swept by a later Put once
// AbandonAfter has passed since it started.
type Blobs struct {
	db  *DB
	now func() time.Time
}

var _ helpline.BlobStore = (*Blobs)(nil)

// AbandonAfter is how long after it started an upload that never
// finished counts as abandoned: far longer than the slowest upload a
// transport allows.
const AbandonAfter = 24 * time.Hour

// sweepBatch caps the abandoned uploads one Put sweeps.
const sweepBatch = 8

// Blobs returns the attachment store in db's database.
func (db *DB) Blobs() *Blobs { return &Blobs{db: db, now: time.Now} }

// BlobsWithClock is Blobs with now, rather than time.Now, as the clock
// that dates uploads and finds abandoned ones.
func (db *DB) BlobsWithClock(now func() time.Time) *Blobs { return &Blobs{db: db, now: now} }

// Put stores exactly size bytes from r under key, replacing any earlier
// blob, ChunkSize bytes at a time. More or fewer bytes than size is
// EINVALID, and so is a key CheckBlobKey refuses; either way the earlier
// blob stays and nothing of the new one is left behind. An error reading
// r, or ctx ending, is returned wrapped.
func (b *Blobs) Put(ctx context.Context, key string, size int64, r io.Reader) (err error) {
	if err := helpline.CheckBlobKey(key); err != nil {
		return err
	}
	if size < 0 {
		return helpline.Errorf(helpline.EINVALID, "The size must not be negative.")
	}
	b.sweep(ctx)
	blobID := helpline.NewID()
	if _, err := b.db.pool.Exec(ctx, `INSERT INTO blob_uploads (blob_id, started_at) VALUES ($1, $2)`, blobID, millis(b.now())); err != nil {
		return dbError("store blob "+key, err)
	}
	defer func() {
		if err != nil {
			b.drop(blobID)
		}
	}()
	if err := writeChunks(ctx, b.db.pool, blobID, key, size, r); err != nil {
		return err
	}
	return b.db.tx(ctx, func(tx pgx.Tx) error {
		var old string
		err := tx.QueryRow(ctx, `SELECT blob_id FROM blobs WHERE key = $1 FOR UPDATE`, key).Scan(&old)
		if err != nil && !errors.Is(err, pgx.ErrNoRows) {
			return dbError("store blob "+key, err)
		}
		if _, err := tx.Exec(ctx, `INSERT INTO blobs (key, blob_id, size) VALUES ($1, $2, $3)
			ON CONFLICT (key) DO UPDATE SET blob_id = excluded.blob_id, size = excluded.size`, key, blobID, size); err != nil {
			return dbError("store blob "+key, err)
		}
		if _, err := tx.Exec(ctx, `DELETE FROM blob_chunks WHERE blob_id = $1`, old); err != nil {
			return dbError("store blob "+key, err)
		}
		if _, err := tx.Exec(ctx, `DELETE FROM blob_uploads WHERE blob_id = $1`, blobID); err != nil {
			return dbError("store blob "+key, err)
		}
		return nil
	})
}

// writeChunks writes exactly size bytes from r as the chunks of blobID,
// ChunkSize bytes at a time, holding one chunk in memory. More or fewer
// bytes than size is EINVALID.
func writeChunks(ctx context.Context, q execer, blobID, key string, size int64, r io.Reader) error {
	buf := make([]byte, ChunkSize)
	src := io.LimitReader(ctxReader{ctx, r}, size+1)
	var n int64
	for chunk := 0; ; chunk++ {
		m, rerr := io.ReadFull(src, buf)
		if m > 0 {
			n += int64(m)
			if n > size {
				return helpline.Errorf(helpline.EINVALID, "The upload must be exactly %d bytes; it was longer.", size)
			}
			if _, err := q.Exec(ctx, `INSERT INTO blob_chunks (blob_id, n, data) VALUES ($1, $2, $3)`, blobID, chunk, buf[:m]); err != nil {
				return dbError("store blob "+key, err)
			}
		}
		if errors.Is(rerr, io.EOF) || errors.Is(rerr, io.ErrUnexpectedEOF) {
			break
		} else if rerr != nil {
			return fmt.Errorf("postgres: store blob %s: %w", key, rerr)
		}
	}
	if n != size {
		return helpline.Errorf(helpline.EINVALID, "The upload must be exactly %d bytes; it was %d bytes.", size, n)
	}
	return nil
}

// execer is what the pool and a transaction offer to write.
type execer interface {
	Exec(context.Context, string, ...any) (pgconn.CommandTag, error)
}

// drop deletes the chunks of a failed Put and its note. It runs whatever
// became of the Put's context; what it cannot delete the sweep does.
func (b *Blobs) drop(blobID string) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := dropUpload(ctx, b.db.pool, blobID); err != nil {
		b.db.log.Error("postgres: dropping a failed upload", "blob", blobID, "err", err)
	}
}

// sweep drops a few uploads started more than AbandonAfter ago, which
// the nodes that began them never finished. It skips those another sweep
// holds; a failure is logged, and the next Put sweeps again.
func (b *Blobs) sweep(ctx context.Context) {
	err := b.db.tx(ctx, func(tx pgx.Tx) error {
		rows, err := tx.Query(ctx, `SELECT blob_id FROM blob_uploads WHERE started_at <= $1
			ORDER BY started_at LIMIT $2 FOR UPDATE SKIP LOCKED`, millis(b.now().Add(-AbandonAfter)), sweepBatch)
		if err != nil {
			return err
		}
		ids, err := pgx.CollectRows(rows, pgx.RowTo[string])
		if err != nil {
			return err
		}
		for _, id := range ids {
			if err := dropUpload(ctx, tx, id); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil && ctx.Err() == nil {
		b.db.log.Error("postgres: sweeping abandoned uploads", "err", err)
	}
}

// dropUpload deletes an unfinished upload's chunks and its note.
func dropUpload(ctx context.Context, q execer, blobID string) error {
	if _, err := q.Exec(ctx, `DELETE FROM blob_chunks WHERE blob_id = $1`, blobID); err != nil {
		return err
	}
	_, err := q.Exec(ctx, `DELETE FROM blob_uploads WHERE blob_id = $1`, blobID)
	return err
}

// Open returns the blob stored under key, read a chunk at a time while
// ctx lasts. A missing blob is ENOTFOUND (Resource ATTACHMENT) and an
// invalid key EINVALID.
func (b *Blobs) Open(ctx context.Context, key string) (io.ReadCloser, error) {
	if err := helpline.CheckBlobKey(key); err != nil {
		return nil, err
	}
	br := &blobReader{ctx: ctx, db: b.db, key: key}
	err := b.db.pool.QueryRow(ctx, `SELECT blob_id, size FROM blobs WHERE key = $1`, key).Scan(&br.blobID, &br.size)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, helpline.NotFound(helpline.ResourceAttachment, key)
	} else if err != nil {
		return nil, dbError("open blob "+key, err)
	}
	return br, nil
}

// blobReader reads a blob's chunks in order, one query each, so that it
// holds no connection between reads.
type blobReader struct {
	ctx    context.Context
	db     *DB
	key    string
	blobID string
	size   int64

	read   int64  // bytes returned so far
	next   int    // the next chunk to fetch
	buf    []byte // the current chunk; allocated once
	unread []byte // what of buf is not returned yet
}

func (br *blobReader) Read(p []byte) (int, error) {
	if len(br.unread) == 0 {
		if br.read >= br.size {
			return 0, io.EOF
		}
		if err := br.fetch(); err != nil {
			return 0, err
		}
	}
	n := copy(p, br.unread)
	br.unread = br.unread[n:]
	br.read += int64(n)
	return n, nil
}

// fetch reads the next chunk into buf.
func (br *blobReader) fetch() error {
	if br.buf == nil {
		br.buf = make([]byte, 0, ChunkSize)
	}
	rows, err := br.db.pool.Query(br.ctx, `SELECT data FROM blob_chunks WHERE blob_id = $1 AND n = $2`, br.blobID, br.next)
	if err != nil {
		return dbError("read blob "+br.key, err)
	}
	defer rows.Close()
	if !rows.Next() {
		if err := rows.Err(); err != nil {
			return dbError("read blob "+br.key, err)
		}
		return fmt.Errorf("postgres: blob %s was replaced or removed while being read", br.key)
	}
	// DriverBytes points into the connection's buffer: copied into ours
	// before the row is released, no new slice per chunk.
	var data pgtype.DriverBytes
	if err := rows.Scan(&data); err != nil {
		return dbError("read blob "+br.key, err)
	}
	br.buf = append(br.buf[:0], data...)
	br.unread = br.buf
	br.next++
	rows.Close()
	if err := rows.Err(); err != nil {
		return dbError("read blob "+br.key, err)
	}
	if len(br.buf) == 0 || br.read+int64(len(br.buf)) > br.size {
		return fmt.Errorf("postgres: blob %s has a chunk %d of %d bytes past its size %d", br.key, br.next-1, len(br.buf), br.size)
	}
	return nil
}

func (br *blobReader) Close() error { return nil }

// ctxReader stops reading once ctx is done.
type ctxReader struct {
	ctx context.Context
	r   io.Reader
}

func (cr ctxReader) Read(p []byte) (int, error) {
	if err := cr.ctx.Err(); err != nil {
		return 0, err
	}
	return cr.r.Read(p)
}
