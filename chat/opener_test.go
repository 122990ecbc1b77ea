package chat_test

import (
	"bytes"
	"io"
	"testing"

	"github.com/helplinehq/helpline"
	"github.com/helplinehq/helpline/chat"
	"github.com/helplinehq/helpline/inmem"
)

func TestAttachmentOpener(t *testing.T) {
	var blobs helpline.BlobStore
	e := newEnv(t, func(c *chat.Config, _ *[]inmem.Option) { blobs = c.Blobs })
	open := chat.AttachmentOpener(e.store, blobs)
	_, customer := e.start(t, helpline.StartChatInput{})
	body := []byte("\x89PNG photo bytes")
	a, upload, err := e.svc.StartAttachmentUpload(ctx, customer, helpline.AttachmentUpload{Name: "photo.png", ContentType: "image/png", Size: int64(len(body)), ClientToken: "up-1"})
	if err != nil {
		t.Fatal(err)
	}
	if err := e.svc.UploadAttachment(ctx, upload, "image/png", bytes.NewReader(body)); err != nil {
		t.Fatal(err)
	}
	_, _, err = open(ctx, a.ID)
	wantCode(t, err, helpline.ECONFLICT) // uploaded but not completed

	if _, err := e.svc.CompleteAttachmentUpload(ctx, customer, a.ID, "done-1"); err != nil {
		t.Fatal(err)
	}
	got, r, err := open(ctx, a.ID)
	if err != nil {
		t.Fatal(err)
	}
	data, _ := io.ReadAll(r)
	r.Close()
	if got.ID != a.ID || got.Name != "photo.png" || got.Size != int64(len(body)) || !bytes.Equal(data, body) {
		t.Errorf("opened %+v with %q, want %s with %q", got, data, a.ID, body)
	}
	_, _, err = open(ctx, helpline.NewID())
	wantCode(t, err, helpline.ENOTFOUND)
}
