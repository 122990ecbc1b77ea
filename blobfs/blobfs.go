// Package blobfs implements helpline.BlobStore on a directory: one file per
// key.
package blobfs

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/helplinehq/helpline"
)

// Store keeps files in one directory. Keys are file names made of ASCII
// letters, digits, '-' and '_' only, so no key can leave the directory or
// clash with the store's temporary files (which start with '.').
type Store struct {
	dir string
}

var _ helpline.BlobStore = (*Store)(nil)

// New returns a store on dir, creating dir if it does not exist.
func New(dir string) (*Store, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("blobfs: %w", err)
	}
	return &Store{dir: dir}, nil
}

// Put stores exactly size bytes from r under key, replacing any earlier
// file. The bytes go to a temporary file first, which is synced and renamed
// into place only once exactly size bytes have arrived: a reader or a
// crash never sees a partial file. More or fewer bytes than size is
// EINVALID, and an invalid key is EINVALID; either way nothing is left
// behind. An error reading r is returned wrapped.
func (s *Store) Put(ctx context.Context, key string, size int64, r io.Reader) (err error) {
	if err := helpline.CheckBlobKey(key); err != nil {
		return err
	}
	if size < 0 {
		return helpline.Errorf(helpline.EINVALID, "The size must not be negative.")
	}
	tmp, err := os.CreateTemp(s.dir, ".put-*")
	if err != nil {
		return fmt.Errorf("blobfs: %w", err)
	}
	defer func() {
		if err != nil {
			tmp.Close()
			os.Remove(tmp.Name())
		}
	}()
	n, err := io.Copy(tmp, io.LimitReader(ctxReader{ctx, r}, size+1))
	if err != nil {
		return fmt.Errorf("blobfs: store %s: %w", key, err)
	}
	if n != size {
		return helpline.Errorf(helpline.EINVALID, "The upload must be exactly %d bytes; it was %s.", size, describeSize(n, size))
	}
	if err := tmp.Sync(); err != nil {
		return fmt.Errorf("blobfs: store %s: %w", key, err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("blobfs: store %s: %w", key, err)
	}
	if err := os.Rename(tmp.Name(), filepath.Join(s.dir, key)); err != nil {
		return fmt.Errorf("blobfs: store %s: %w", key, err)
	}
	return nil
}

func describeSize(n, size int64) string {
	if n > size {
		return "longer"
	}
	return fmt.Sprintf("%d bytes", n)
}

// Open returns the file stored under key. A missing file is ENOTFOUND
// (Resource ATTACHMENT) and an invalid key EINVALID.
func (s *Store) Open(ctx context.Context, key string) (io.ReadCloser, error) {
	if err := helpline.CheckBlobKey(key); err != nil {
		return nil, err
	}
	f, err := os.Open(filepath.Join(s.dir, key))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, helpline.NotFound(helpline.ResourceAttachment, key)
	} else if err != nil {
		return nil, fmt.Errorf("blobfs: %w", err)
	}
	return f, nil
}

// ctxReader stops reading once ctx is done.
type ctxReader struct {
	ctx context.Context
	r   io.Reader
}

func (cr ctxReader) Read(p []byte) (int, error) {
	if err := cr.ctx.Err(); err != nil {
		return 0, err
	}
	return cr.r.Read(p)
}
