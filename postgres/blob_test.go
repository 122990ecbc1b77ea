package postgres_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"io"
	"runtime"
	"runtime/debug"
	"strings"
	"testing"
	"testing/iotest"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/helplinehq/helpline"
	"github.com/helplinehq/helpline/blobtest"
	"github.com/helplinehq/helpline/postgres"
	"github.com/helplinehq/helpline/postgres/pgtest"
)

// newBlobs returns the attachment store of a fresh schema, and the DSN.
func newBlobs(t *testing.T) (*postgres.Blobs, string) {
	t.Helper()
	dsn := pgtest.Schema(t)
	return open(t, dsn).Blobs(), dsn
}

func readBlob(t *testing.T, b helpline.BlobStore, key string) string {
	t.Helper()
	f, err := b.Open(context.Background(), key)
	if err != nil {
		t.Fatalf("Open(%s): %v", key, err)
	}
	defer f.Close()
	data, err := io.ReadAll(f)
	if err != nil {
		t.Fatal(err)
	}
	return string(data)
}

// chunkRows counts the chunk rows in the schema, orphans included.
func chunkRows(t *testing.T, dsn string) int { return countRows(t, dsn, "blob_chunks") }

func countRows(t *testing.T, dsn, table string) int {
	t.Helper()
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	var n int
	if err := conn.QueryRow(ctx, `SELECT count(*) FROM `+table).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

// The attachment store passes the contract suite; its pieces are its
// chunk rows and its notes of uploads under way.
func TestBlobsContract(t *testing.T) {
	blobtest.Run(t, func(t *testing.T) (helpline.BlobStore, func() int) {
		b, dsn := newBlobs(t)
		return b, func() int { return chunkRows(t, dsn) + countRows(t, dsn, "blob_uploads") }
	})
}

// A blob is as many chunks as ChunkSize makes of it, the last one short;
// replacing it deletes the old chunks; another node reads it.
func TestBlobsChunks(t *testing.T) {
	ctx := context.Background()
	b, dsn := newBlobs(t)
	if err := b.Put(ctx, "small", 5, strings.NewReader("hello")); err != nil {
		t.Fatal(err)
	}
	big := bytes.Repeat([]byte("0123456789"), 2*postgres.ChunkSize/10+777)
	for range 2 {
		if err := b.Put(ctx, "big", int64(len(big)), iotest.HalfReader(bytes.NewReader(big))); err != nil {
			t.Fatal(err)
		}
	}
	// One chunk for "small", three for "big"; the replaced ones are gone.
	if n := chunkRows(t, dsn); n != 4 {
		t.Errorf("%d chunk rows, want 4", n)
	}
	if got := readBlob(t, open(t, dsn).Blobs(), "big"); got != string(big) {
		t.Errorf("another node read back %d bytes, want %d", len(got), len(big))
	}
}

// A reader whose blob is replaced under it fails rather than mixing the
// old bytes and the new.
func TestBlobsReplacedWhileRead(t *testing.T) {
	ctx := context.Background()
	b, _ := newBlobs(t)
	old := strings.Repeat("o", 2*postgres.ChunkSize)
	if err := b.Put(ctx, "k", int64(len(old)), strings.NewReader(old)); err != nil {
		t.Fatal(err)
	}
	f, err := b.Open(ctx, "k")
	if err != nil {
		t.Fatal(err)
	}
	first := make([]byte, postgres.ChunkSize)
	if _, err := io.ReadFull(f, first); err != nil {
		t.Fatal(err)
	}
	if err := b.Put(ctx, "k", int64(len(old)), strings.NewReader(strings.Repeat("n", len(old)))); err != nil {
		t.Fatal(err)
	}
	rest, err := io.ReadAll(f)
	if err == nil {
		t.Fatalf("read on after the blob was replaced: %d more bytes, no error", len(rest))
	}
	if bytes.ContainsRune(rest, 'n') {
		t.Error("a reader of the old blob returned bytes of the new one")
	}
}

// pattern is an endless reader of bytes that depend on their offset, so
// that a misplaced chunk shows in the hash.
type pattern struct{ off int64 }

func (p *pattern) Read(b []byte) (int, error) {
	for i := range b {
		b[i] = byte(p.off*7 + p.off>>9)
		p.off++
	}
	return len(b), nil
}

// allocated returns the bytes allocated on the heap while fn ran.
func allocated(fn func()) uint64 {
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	fn()
	runtime.ReadMemStats(&after)
	return after.TotalAlloc - before.TotalAlloc
}

// heapWatch is a reader that notes the most heap in use, above what was
// in use when it started, each time it is read from.
type heapWatch struct {
	r          io.Reader
	start, max uint64
}

func watchHeap(r io.Reader) *heapWatch {
	var m runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&m)
	return &heapWatch{r: r, start: m.HeapAlloc}
}

func (w *heapWatch) Read(p []byte) (int, error) {
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	if m.HeapAlloc > w.start {
		w.max = max(w.max, m.HeapAlloc-w.start)
	}
	return w.r.Read(p)
}

// A 20 MB attachment, the largest Amazon Connect takes, goes in and
// comes out whole, and neither direction holds it in memory. A read
// allocates a chunk's worth however large the blob; a Put allocates
// short-lived copies of each chunk as the driver sends it, and the heap
// it holds at any time stays a few chunks, far below the blob's size.
func TestBlobsLargeStreams(t *testing.T) {
	defer debug.SetGCPercent(debug.SetGCPercent(100))
	ctx := context.Background()
	b, _ := newBlobs(t)
	const size = helpline.MaxAttachmentSize
	want := sha256.New()
	io.CopyN(want, &pattern{}, size)

	src := watchHeap(io.LimitReader(&pattern{}, size))
	if err := b.Put(ctx, "large", size, src); err != nil {
		t.Fatal(err)
	}
	got := sha256.New()
	var n int64
	var readErr error
	hashBuf := make([]byte, 32<<10)
	readAlloc := allocated(func() {
		f, err := b.Open(ctx, "large")
		if err != nil {
			readErr = err
			return
		}
		defer f.Close()
		n, readErr = io.CopyBuffer(got, f, hashBuf)
	})
	if readErr != nil {
		t.Fatal(readErr)
	}
	if n != size || !bytes.Equal(got.Sum(nil), want.Sum(nil)) {
		t.Fatalf("read back %d bytes with another hash, want the %d bytes stored", n, size)
	}
	t.Logf("20 MB: Put's heap peaked %d KiB above its start; reading allocated %d KiB", src.max>>10, readAlloc>>10)
	if bound := uint64(size / 4); src.max > bound {
		t.Errorf("during a Put of 20 MB the heap grew by %d bytes, want at most %d: it must stream", src.max, bound)
	}
	if bound := uint64(8 * postgres.ChunkSize); readAlloc > bound {
		t.Errorf("reading 20 MB allocated %d bytes, want at most %d: it must stream", readAlloc, bound)
	}
}

// An upload a dead node left unfinished is swept, chunks and all, by a
// Put a day after it started; one younger than that is left alone, and
// so are finished blobs.
func TestBlobsSweepAbandonedUploads(t *testing.T) {
	ctx := context.Background()
	dsn := pgtest.Schema(t)
	now := time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)
	b := open(t, dsn).BlobsWithClock(func() time.Time { return now })
	if err := b.Put(ctx, "kept", 4, strings.NewReader("orig")); err != nil {
		t.Fatal(err)
	}
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	for _, u := range []struct {
		id     string
		age    time.Duration
		chunks int
	}{{"abandoned", postgres.AbandonAfter + time.Minute, 2}, {"slow", postgres.AbandonAfter - time.Minute, 1}} {
		if _, err := conn.Exec(ctx, `INSERT INTO blob_uploads (blob_id, started_at) VALUES ($1, $2)`, u.id, now.Add(-u.age).UnixMilli()); err != nil {
			t.Fatal(err)
		}
		for n := range u.chunks {
			if _, err := conn.Exec(ctx, `INSERT INTO blob_chunks (blob_id, n, data) VALUES ($1, $2, 'x')`, u.id, n); err != nil {
				t.Fatal(err)
			}
		}
	}
	if n := chunkRows(t, dsn); n != 4 {
		t.Fatalf("%d chunk rows before the sweep, want 4", n)
	}
	if err := b.Put(ctx, "next", 3, strings.NewReader("new")); err != nil {
		t.Fatal(err)
	}
	// kept, next, and the slow upload's chunk.
	if n := chunkRows(t, dsn); n != 3 {
		t.Errorf("%d chunk rows after the sweep, want 3: the abandoned upload's gone, the rest kept", n)
	}
	var uploads []string
	rows, err := conn.Query(ctx, `SELECT blob_id FROM blob_uploads ORDER BY blob_id`)
	if err != nil {
		t.Fatal(err)
	}
	if uploads, err = pgx.CollectRows(rows, pgx.RowTo[string]); err != nil {
		t.Fatal(err)
	}
	if len(uploads) != 1 || uploads[0] != "slow" {
		t.Errorf("uploads under way %v, want only the slow one (finished Puts leave none)", uploads)
	}
	if got := readBlob(t, b, "kept"); got != "orig" {
		t.Errorf("kept reads %q after the sweep", got)
	}
}
