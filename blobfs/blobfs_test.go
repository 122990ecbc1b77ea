package blobfs_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"testing/iotest"

	"github.com/helplinehq/helpline"
	"github.com/helplinehq/helpline/blobfs"
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

func read(t *testing.T, s *blobfs.Store, key string) string {
	t.Helper()
	f, err := s.Open(context.Background(), key)
	if err != nil {
		t.Fatalf("Open(%s): %v", key, err)
	}
	defer f.Close()
	b, err := io.ReadAll(f)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
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

func TestPutOpen(t *testing.T) {
	ctx := context.Background()
	s, dir := newStore(t)
	if err := s.Put(ctx, "a1-B_2", 5, strings.NewReader("hello")); err != nil {
		t.Fatal(err)
	}
	if got := read(t, s, "a1-B_2"); got != "hello" {
		t.Errorf("read %q, want %q", got, "hello")
	}
	if err := s.Put(ctx, "a1-B_2", 3, strings.NewReader("bye")); err != nil {
		t.Fatal(err)
	}
	if got := read(t, s, "a1-B_2"); got != "bye" {
		t.Errorf("after replace read %q, want %q", got, "bye")
	}
	if err := s.Put(ctx, "empty", 0, strings.NewReader("")); err != nil {
		t.Fatal(err)
	}
	if got := read(t, s, "empty"); got != "" {
		t.Errorf("empty file read %q", got)
	}
	big := bytes.Repeat([]byte("0123456789"), 100_000)
	if err := s.Put(ctx, "big", int64(len(big)), iotest.HalfReader(bytes.NewReader(big))); err != nil {
		t.Fatal(err)
	}
	if got := read(t, s, "big"); got != string(big) {
		t.Errorf("big file read back %d bytes, want %d", len(got), len(big))
	}
	if got, want := files(t, dir), []string{"a1-B_2", "big", "empty"}; !slices.Equal(got, want) {
		t.Errorf("directory holds %v, want %v", got, want)
	}
}

func TestPutWrongSize(t *testing.T) {
	ctx := context.Background()
	s, dir := newStore(t)
	if err := s.Put(ctx, "kept", 4, strings.NewReader("orig")); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name, key, body string
		size            int64
	}{
		{"Fewer", "new", "abc", 4},
		{"More", "new", "abcde", 4},
		{"FewerOverExisting", "kept", "ab", 4},
		{"MoreOverExisting", "kept", "abcdefgh", 4},
		{"Negative", "new", "", -1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := s.Put(ctx, tc.key, tc.size, strings.NewReader(tc.body))
			if code := helpline.ErrorCode(err); code != helpline.EINVALID {
				t.Fatalf("Put(%d bytes, size %d) = %v, want EINVALID", len(tc.body), tc.size, err)
			}
			if got := files(t, dir); !slices.Equal(got, []string{"kept"}) {
				t.Errorf("directory holds %v, want only the earlier file", got)
			}
			if got := read(t, s, "kept"); got != "orig" {
				t.Errorf("earlier file now reads %q, want %q", got, "orig")
			}
		})
	}
}

func TestPutReadFails(t *testing.T) {
	ctx := context.Background()
	s, dir := newStore(t)
	boom := errors.New("connection reset")
	r := io.MultiReader(strings.NewReader("abc"), iotest.ErrReader(boom))
	if err := s.Put(ctx, "k", 10, r); !errors.Is(err, boom) {
		t.Errorf("Put with a failing reader = %v, want %v", err, boom)
	}
	canceled, cancel := context.WithCancel(ctx)
	cancel()
	if err := s.Put(canceled, "k", 3, strings.NewReader("abc")); !errors.Is(err, context.Canceled) {
		t.Errorf("Put with a canceled context = %v, want %v", err, context.Canceled)
	}
	if got := files(t, dir); len(got) != 0 {
		t.Errorf("directory holds %v after failed puts, want nothing", got)
	}
}

func TestKeys(t *testing.T) {
	ctx := context.Background()
	s, dir := newStore(t)
	parent := filepath.Dir(dir)
	for _, key := range []string{"", ".", "..", "../escape", "a/b", `a\b`, ".hidden", "a.b", "a b", "é", "%2e%2e", strings.Repeat("k", 201)} {
		if err := s.Put(ctx, key, 1, strings.NewReader("x")); helpline.ErrorCode(err) != helpline.EINVALID {
			t.Errorf("Put(%q) = %v, want EINVALID", key, err)
		}
		if _, err := s.Open(ctx, key); helpline.ErrorCode(err) != helpline.EINVALID {
			t.Errorf("Open(%q) = %v, want EINVALID", key, err)
		}
	}
	if got := files(t, dir); len(got) != 0 {
		t.Errorf("directory holds %v, want nothing", got)
	}
	if got := files(t, parent); !slices.Equal(got, []string{"attachments"}) {
		t.Errorf("parent directory holds %v, want only the store's directory", got)
	}
	if err := s.Put(ctx, strings.Repeat("k", 200), 1, strings.NewReader("x")); err != nil {
		t.Errorf("Put with a 200-character key: %v", err)
	}
}

func TestOpenMissing(t *testing.T) {
	s, _ := newStore(t)
	_, err := s.Open(context.Background(), "nothing")
	var e *helpline.Error
	if !errors.As(err, &e) || e.Code != helpline.ENOTFOUND || e.ResourceID != "nothing" {
		t.Errorf("Open(missing) = %v, want ENOTFOUND naming the key", err)
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
