package postgres_test

import (
	"context"
	"testing"

	"github.com/helplinehq/helpline"
	"github.com/helplinehq/helpline/postgres"
	"github.com/helplinehq/helpline/postgres/pgtest"
	"github.com/helplinehq/helpline/storetest"
)

// open opens a store on dsn, closed when t ends.
func open(t testing.TB, dsn string, opts ...postgres.Option) *postgres.DB {
	t.Helper()
	db, err := postgres.Open(context.Background(), dsn, opts...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

func TestStore(t *testing.T) {
	storetest.Run(t, func(t *testing.T) helpline.Store {
		return open(t, pgtest.Schema(t))
	})
}

// Durability on PostgreSQL: a store closed and opened again on the same
// schema finds what it stored. The suite's directory names nothing here;
// the schema is the test's.
func TestDurability(t *testing.T) {
	dsn := pgtest.Schema(t)
	storetest.RunDurability(t, func(t *testing.T, dir string) helpline.Store {
		db, err := postgres.Open(context.Background(), dsn)
		if err != nil {
			t.Fatal(err)
		}
		return db
	})
}
