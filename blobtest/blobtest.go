// Package blobtest is the contract suite every helpline.BlobStore passes.
// A blob store's own tests call Run:
//
//	func TestContract(t *testing.T) {
//		blobtest.Run(t, func(t *testing.T) (helpline.BlobStore, func() int) {
//			dir := t.TempDir()
//			s, err := blobfs.New(dir)
//			...
//			return s, func() int { entries, _ := os.ReadDir(dir); return len(entries) }
//		})
//	}
//
// open returns a new, empty store and a count of the pieces it keeps (the
// files of a directory, the rows of a database, temporary ones included),
// so that the suite can check a failed Put leaves nothing behind.
package blobtest

import (
	"bytes"
	"context"
	"errors"
	"io"
	"strings"
	"testing"
	"testing/iotest"

	"github.com/helplinehq/helpline"
)

// Run runs the contract suite.
func Run(t *testing.T, open func(t *testing.T) (helpline.BlobStore, func() int)) {
	t.Run("PutOpen", func(t *testing.T) { testPutOpen(t, open) })
	t.Run("PutWrongSize", func(t *testing.T) { testPutWrongSize(t, open) })
	t.Run("PutReadFails", func(t *testing.T) { testPutReadFails(t, open) })
	t.Run("Keys", func(t *testing.T) { testKeys(t, open) })
	t.Run("OpenMissing", func(t *testing.T) { testOpenMissing(t, open) })
}

func read(t *testing.T, s helpline.BlobStore, key string) string {
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

// Put stores, replaces and keeps empty and large files, whatever the
// reader's read sizes.
func testPutOpen(t *testing.T, open func(t *testing.T) (helpline.BlobStore, func() int)) {
	ctx := context.Background()
	s, _ := open(t)
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
}

// More or fewer bytes than declared is EINVALID; the earlier file stays,
// a new key stays unknown, and nothing is left behind.
func testPutWrongSize(t *testing.T, open func(t *testing.T) (helpline.BlobStore, func() int)) {
	ctx := context.Background()
	s, pieces := open(t)
	if err := s.Put(ctx, "kept", 4, strings.NewReader("orig")); err != nil {
		t.Fatal(err)
	}
	before := pieces()
	long := strings.Repeat("x", 300_000)
	for _, tc := range []struct {
		name, key, body string
		size            int64
	}{
		{"Fewer", "new", "abc", 4},
		{"More", "new", "abcde", 4},
		{"FewerOverExisting", "kept", "ab", 4},
		{"MoreOverExisting", "kept", "abcdefgh", 4},
		{"MuchMore", "kept", long, 200_000},
		{"MuchFewer", "new", long, 700_000},
		{"Negative", "new", "", -1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := s.Put(ctx, tc.key, tc.size, strings.NewReader(tc.body))
			if code := helpline.ErrorCode(err); code != helpline.EINVALID {
				t.Fatalf("Put(%d bytes, size %d) = %v, want EINVALID", len(tc.body), tc.size, err)
			}
			if got := read(t, s, "kept"); got != "orig" {
				t.Errorf("earlier file now reads %q, want %q", got, "orig")
			}
			if _, err := s.Open(ctx, "new"); helpline.ErrorCode(err) != helpline.ENOTFOUND {
				t.Errorf("Open of a key whose only Put failed = %v, want ENOTFOUND", err)
			}
			if n := pieces(); n != before {
				t.Errorf("the store holds %d pieces after a failed Put, want the %d it held before", n, before)
			}
		})
	}
}

// A reader's error and a context's end come back wrapped; nothing is
// stored.
func testPutReadFails(t *testing.T, open func(t *testing.T) (helpline.BlobStore, func() int)) {
	ctx := context.Background()
	s, pieces := open(t)
	boom := errors.New("connection reset")
	r := io.MultiReader(strings.NewReader(strings.Repeat("a", 300_000)), iotest.ErrReader(boom))
	if err := s.Put(ctx, "k", 600_000, r); !errors.Is(err, boom) {
		t.Errorf("Put with a failing reader = %v, want %v", err, boom)
	}
	canceled, cancel := context.WithCancel(ctx)
	cancel()
	if err := s.Put(canceled, "k", 3, strings.NewReader("abc")); !errors.Is(err, context.Canceled) {
		t.Errorf("Put with a canceled context = %v, want %v", err, context.Canceled)
	}
	if _, err := s.Open(ctx, "k"); helpline.ErrorCode(err) != helpline.ENOTFOUND {
		t.Errorf("Open after failed puts = %v, want ENOTFOUND", err)
	}
	if n := pieces(); n != 0 {
		t.Errorf("the store holds %d pieces after failed puts, want none", n)
	}
}

// Keys are 1 to 200 ASCII letters, digits, '-' and '_'; others are
// EINVALID for Put and Open alike, and store nothing.
func testKeys(t *testing.T, open func(t *testing.T) (helpline.BlobStore, func() int)) {
	ctx := context.Background()
	s, pieces := open(t)
	for _, key := range []string{"", ".", "..", "../escape", "a/b", `a\b`, ".hidden", "a.b", "a b", "é", "%2e%2e", "a'b", strings.Repeat("k", 201)} {
		if err := s.Put(ctx, key, 1, strings.NewReader("x")); helpline.ErrorCode(err) != helpline.EINVALID {
			t.Errorf("Put(%q) = %v, want EINVALID", key, err)
		}
		if _, err := s.Open(ctx, key); helpline.ErrorCode(err) != helpline.EINVALID {
			t.Errorf("Open(%q) = %v, want EINVALID", key, err)
		}
	}
	if n := pieces(); n != 0 {
		t.Errorf("the store holds %d pieces, want none", n)
	}
	if err := s.Put(ctx, strings.Repeat("k", 200), 1, strings.NewReader("x")); err != nil {
		t.Errorf("Put with a 200-character key: %v", err)
	}
}

// Opening an unknown key is ENOTFOUND naming it.
func testOpenMissing(t *testing.T, open func(t *testing.T) (helpline.BlobStore, func() int)) {
	s, _ := open(t)
	_, err := s.Open(context.Background(), "nothing")
	var e *helpline.Error
	if !errors.As(err, &e) || e.Code != helpline.ENOTFOUND || e.ResourceID != "nothing" {
		t.Errorf("Open(missing) = %v, want ENOTFOUND naming the key", err)
	}
}
