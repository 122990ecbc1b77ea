package blobfs_test

import (
	"context"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/helplinehq/helpline"
	"github.com/helplinehq/helpline/blobfs"
	"github.com/helplinehq/helpline/blobtest"
)

func newStore(t *testing.T) (*blobfs.Store, string) {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "attachments")
	s, err := blobfs.New(dir)
	if err != nil {
		t.Fatal(err)
	}
	return s, dir
}

// files returns the names in dir, temporary files included.
func files(t *testing.T, dir string) []string {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	return names
}

// The store passes the contract suite; its pieces are the directory's
// files, temporary ones included.
func TestContract(t *testing.T) {
	blobtest.Run(t, func(t *testing.T) (helpline.BlobStore, func() int) {
		s, dir := newStore(t)
		return s, func() int { return len(files(t, dir)) }
	})
}

// One file per key, named by it, and no key reaches outside the
// directory.
func TestFilesNamedByKey(t *testing.T) {
	ctx := context.Background()
	s, dir := newStore(t)
	for _, key := range []string{"a1-B_2", "empty", "big"} {
		if err := s.Put(ctx, key, 1, strings.NewReader("x")); err != nil {
			t.Fatal(err)
		}
	}
	if got, want := files(t, dir), []string{"a1-B_2", "big", "empty"}; !slices.Equal(got, want) {
		t.Errorf("directory holds %v, want %v", got, want)
	}
	for _, key := range []string{"../escape", "..", "a/b"} {
		s.Put(ctx, key, 1, strings.NewReader("x"))
	}
	if got := files(t, filepath.Dir(dir)); !slices.Equal(got, []string{"attachments"}) {
		t.Errorf("parent directory holds %v, want only the store's directory", got)
	}
}

// Attachment files are the owner's only, in a directory anyone may read.
func TestFilesOwnerOnly(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "attachments")
	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	os.Chmod(dir, 0o755)
	s, err := blobfs.New(dir)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Put(context.Background(), "a1", 5, strings.NewReader("hello")); err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(filepath.Join(dir, "a1"))
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o600 {
		t.Errorf("attachment file mode %v, want 0600", fi.Mode().Perm())
	}
}
