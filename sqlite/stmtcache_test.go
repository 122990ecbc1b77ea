package sqlite

import (
	"context"
	"database/sql"
	"fmt"
	"path/filepath"
	"testing"
)

// TestStmtCache runs a query inside the rows of the same query, and more
// distinct queries than the cache holds, on one connection: each gets its
// own rows, the cache stays within its size, and the connection closes
// without error.
func TestStmtCache(t *testing.T) {
	const size = 2
	db := sql.OpenDB(connector{dsn: dsn(filepath.Join(t.TempDir(), "h.db"), "_pragma=journal_mode(wal)"), stmts: size})
	single(db)
	defer db.Close()
	ctx := context.Background()
	conn, err := db.Conn(ctx) // the queries below share its statements
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if _, err := conn.ExecContext(ctx, `CREATE TABLE t (x INTEGER NOT NULL)`); err != nil {
		t.Fatal(err)
	}
	for x := 1; x <= 3; x++ {
		if _, err := conn.ExecContext(ctx, `INSERT INTO t (x) VALUES (?)`, x); err != nil {
			t.Fatal(err)
		}
	}

	const above = `SELECT x FROM t WHERE x > ? ORDER BY x`
	rows, err := conn.QueryContext(ctx, above, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close() // before conn's, which waits for it
	var got []string
	for rows.Next() {
		var x int
		if err := rows.Scan(&x); err != nil {
			t.Fatal(err)
		}
		var next sql.NullInt64
		if err := conn.QueryRowContext(ctx, above, x).Scan(&next); err != nil && err != sql.ErrNoRows {
			t.Fatal(err)
		}
		got = append(got, fmt.Sprintf("%d→%v", x, next.Int64))
		if len(got) > 3 {
			t.Fatalf("the outer rows start again: %v", got)
		}
	}
	if err := rows.Close(); err != nil {
		t.Fatal(err)
	}
	if want := "[1→2 2→3 3→0]"; fmt.Sprint(got) != want {
		t.Errorf("nested queries gave %v, want %s", got, want)
	}

	for i := range 5 {
		var n int
		if err := conn.QueryRowContext(ctx, fmt.Sprintf(`SELECT count(*) + %d FROM t WHERE x >= ?`, i), 2).Scan(&n); err != nil || n != 2+i {
			t.Fatalf("query %d: %d, %v; want %d", i, n, err, 2+i)
		}
	}
	var cached int
	if err := conn.Raw(func(dc any) error { cached = len(dc.(*cachingConn).stmts); return nil }); err != nil {
		t.Fatal(err)
	}
	conn.Close()
	if cached != size {
		t.Errorf("%d statements cached, want %d", cached, size)
	}
	if err := db.Close(); err != nil {
		t.Errorf("Close: %v", err)
	}
}
