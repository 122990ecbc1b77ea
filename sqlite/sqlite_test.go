package sqlite_test

import (
	"context"
	"os"
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

// The database, its WAL and its shared-memory file are the owner's only,
// in a directory anyone may read and over a file an older version left
// world-readable.
func TestDatabaseFilesOwnerOnly(t *testing.T) {
	for _, existing := range []bool{false, true} {
		dir := filepath.Join(t.TempDir(), "data")
		if err := os.Mkdir(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		os.Chmod(dir, 0o755) // whatever the umask
		path := filepath.Join(dir, "helpline.db")
		if existing {
			db := open(t, path)
			db.Close()
			for _, p := range []string{path, path + "-wal", path + "-shm"} {
				os.Chmod(p, 0o644)
			}
		}
		db := open(t, path)
		if err := db.SaveInstance(context.Background(), &helpline.Instance{ID: "i", Name: "i",
			AccessKeys: []helpline.AccessKey{{ID: "K", Secret: "s"}}}); err != nil {
			t.Fatal(err)
		}
		for _, p := range []string{path, path + "-wal", path + "-shm"} {
			fi, err := os.Stat(p)
			if err != nil {
				t.Fatal(err)
			}
			if fi.Mode().Perm() != 0o600 {
				t.Errorf("existing=%v: %s has mode %v, want 0600", existing, filepath.Base(p), fi.Mode().Perm())
			}
		}
	}
}
