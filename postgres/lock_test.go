package postgres_test

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/helplinehq/helpline/postgres"
	"github.com/helplinehq/helpline/postgres/pgtest"
)

// Two nodes on one schema, each with a pool of two connections: of
// twenty holders of one key at a time exactly one holds it, though the
// waiters outnumber the pools (a waiter holds no connection); a waiter
// whose context ends gives up; another key, or the same key in another
// schema, does not wait.
func TestLockKeyAcrossNodes(t *testing.T) {
	dsn := pgtest.Schema(t)
	nodes := []*postgres.DB{open(t, dsn, postgres.PoolSize(2)), open(t, dsn, postgres.PoolSize(2))}
	ctx := context.Background()

	var mu sync.Mutex
	holders, most, total := 0, 0, 0
	var wg sync.WaitGroup
	for i := range 20 {
		wg.Go(func() {
			unlock, err := nodes[i%2].LockKey(ctx, "lead:1")
			if err != nil {
				t.Error(err)
				return
			}
			mu.Lock()
			holders++
			most, total = max(most, holders), total+1
			mu.Unlock()
			time.Sleep(5 * time.Millisecond)
			mu.Lock()
			holders--
			mu.Unlock()
			unlock()
		})
	}
	wg.Wait()
	if most != 1 || total != 20 {
		t.Fatalf("%d holders at most, %d in all; want 1 at a time, 20 in all", most, total)
	}

	unlock, err := nodes[0].LockKey(ctx, "lead:1")
	if err != nil {
		t.Fatal(err)
	}
	short, cancel := context.WithTimeout(ctx, 100*time.Millisecond)
	defer cancel()
	if _, err := nodes[1].LockKey(short, "lead:1"); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("a waiter whose context ended: %v, want the deadline", err)
	}
	other, err := nodes[1].LockKey(ctx, "lead:2")
	if err != nil {
		t.Fatalf("another key: %v", err)
	}
	other()
	elsewhere := open(t, pgtest.Schema(t))
	soon, cancel2 := context.WithTimeout(ctx, 5*time.Second)
	defer cancel2()
	if u, err := elsewhere.LockKey(soon, "lead:1"); err != nil {
		t.Errorf("the same key in another schema: %v", err)
	} else {
		u()
	}
	unlock()
}
