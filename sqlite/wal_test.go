package sqlite

import (
	"context"
	"database/sql"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
)

// TestWALStaysUnderLimit writes far more than the WAL limit while readers
// query without pause, as a busy node's sockets and dispatcher do: the
// write-ahead log must never grow past the limit. Before the writer bounded
// it, the log was never restarted while any reader was active and grew by
// every page written.
func TestWALStaysUnderLimit(t *testing.T) {
	const limit = 1 << 20
	path := filepath.Join(t.TempDir(), "h.db")
	db, err := Open(path, WALLimit(limit))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	ctx := context.Background()

	stop := make(chan struct{})
	var reads atomic.Int64
	var wg sync.WaitGroup
	for range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				select {
				case <-stop:
					return
				default:
				}
				var n int
				if err := db.r.QueryRow(`SELECT count(*) FROM secrets`).Scan(&n); err != nil {
					t.Error(err)
					return
				}
				reads.Add(1)
			}
		}()
	}

	value := []byte(strings.Repeat("x", 2000))
	var maxWAL int64
	written := 0
	for i := range 400 {
		var writers sync.WaitGroup
		for j := range 16 {
			writers.Add(1)
			go func() {
				defer writers.Done()
				err := db.write(ctx, func(tx *sql.Tx) error {
					_, err := tx.Exec(`INSERT INTO secrets (name, value) VALUES (?, ?)`, fmt.Sprint(i, "-", j), value)
					return err
				})
				if err != nil {
					t.Error(err)
				}
			}()
		}
		writers.Wait()
		written += 16 * len(value)
		if fi, err := os.Stat(path + "-wal"); err == nil {
			maxWAL = max(maxWAL, fi.Size())
		}
	}
	close(stop)
	wg.Wait()
	if reads.Load() == 0 {
		t.Fatal("no read ran alongside the writes")
	}
	t.Logf("wrote %d KB in rows; largest WAL seen %d KB (limit %d KB); %d reads", written>>10, maxWAL>>10, limit>>10, reads.Load())
	if written < 8*limit {
		t.Fatalf("the test wrote only %d bytes; it must write well past the limit", written)
	}
	if maxWAL > limit {
		t.Fatalf("the WAL reached %d bytes, over its limit of %d", maxWAL, limit)
	}
}
