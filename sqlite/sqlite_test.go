package sqlite_test

import (
	"path/filepath"
	"testing"

	"github.com/helplinehq/helpline"
	"github.com/helplinehq/helpline/sqlite"
	"github.com/helplinehq/helpline/storetest"
)

func open(t testing.TB, path string, opts ...sqlite.Option) *sqlite.DB {
	t.Helper()
	db, err := sqlite.Open(path, opts...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

func TestStore(t *testing.T) {
	storetest.Run(t, func(t *testing.T) helpline.Store {
		return open(t, filepath.Join(t.TempDir(), "helpline.db"))
	})
}

func TestDurability(t *testing.T) {
	storetest.RunDurability(t, func(t *testing.T, dir string) helpline.Store {
		db, err := sqlite.Open(filepath.Join(dir, "helpline.db"))
		if err != nil {
			t.Fatal(err)
		}
		return db
	})
}
