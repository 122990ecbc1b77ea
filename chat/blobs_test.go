package chat_test

import (
	"testing"

	"github.com/helplinehq/helpline"
	"github.com/helplinehq/helpline/blobfs"
)

func newBlobs(t testing.TB) helpline.BlobStore {
	t.Helper()
	b, err := blobfs.New(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	return b
}
