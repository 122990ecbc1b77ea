package chat_test

import (
	"bytes"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/helplinehq/helpline"
	"github.com/helplinehq/helpline/chat"
)

func TestAttachmentRoundTrip(t *testing.T) {
	e := newEnv(t)
	_, customer := e.start(t, helpline.StartChatInput{})
	agent := e.addAgent(t, customer.Contact, helpline.RoleAgent)
	s := newSink(0)
	if _, err := e.svc.Watch(ctx, agent, customer.Contact.LastSeq+1, s); err != nil {
		t.Fatal(err)
	}
	body := []byte("%PDF-1.4 receipt")
	in := helpline.AttachmentUpload{Name: "Receipt.PDF", ContentType: "application/pdf", Size: int64(len(body)), ClientToken: "up-1"}
	a, upload, err := e.svc.StartAttachmentUpload(ctx, customer, in)
	if err != nil {
		t.Fatal(err)
	}
	if a.Status != helpline.AttachmentInProgress || a.ContactID != customer.Contact.ID || a.ParticipantID != customer.Participant.ID || upload == "" {
		t.Fatalf("attachment = %+v", a)
	}
	again, _, err := e.svc.StartAttachmentUpload(ctx, customer, in)
	if err != nil || again.ID != a.ID {
		t.Fatalf("replayed start = %+v, %v", again, err)
	}

	// Not uploaded yet: completing is a conflict.
	_, err = e.svc.CompleteAttachmentUpload(ctx, customer, a.ID, "done-1")
	wantCode(t, err, helpline.ECONFLICT)

	wantCode(t, e.svc.UploadAttachment(ctx, upload, "image/png", bytes.NewReader(body)), helpline.EINVALID)
	wantCode(t, e.svc.UploadAttachment(ctx, upload, "application/pdf", bytes.NewReader(body[1:])), helpline.EINVALID)
	wantCode(t, e.svc.UploadAttachment(ctx, "bad"+upload, "application/pdf", bytes.NewReader(body)), helpline.EFORBIDDEN)
	if err := e.svc.UploadAttachment(ctx, upload, "application/pdf; charset=binary", bytes.NewReader(body)); err != nil {
		t.Fatal(err)
	}

	// Only the uploader completes it.
	_, err = e.svc.CompleteAttachmentUpload(ctx, agent, a.ID, "done-1")
	wantCode(t, err, helpline.EINVALID)
	it, err := e.svc.CompleteAttachmentUpload(ctx, customer, a.ID, "done-1")
	if err != nil {
		t.Fatal(err)
	}
	if it.Type != helpline.ItemAttachment || it.Seq == 0 || it.ParticipantID != customer.Participant.ID || len(it.Attachments) != 1 ||
		it.Attachments[0] != (helpline.AttachmentRef{ID: a.ID, Name: "Receipt.PDF", ContentType: "application/pdf", Status: helpline.AttachmentApproved}) {
		t.Fatalf("attachment item = %+v", it)
	}
	if got := s.waitN(t, 1)[0]; got.ID != it.ID {
		t.Errorf("agent's sink got %+v", got)
	}
	replay, err := e.svc.CompleteAttachmentUpload(ctx, customer, a.ID, "done-1")
	if err != nil || replay.ID != it.ID || replay.Seq != it.Seq {
		t.Errorf("replayed completion = %+v, %v", replay, err)
	}
	_, err = e.svc.CompleteAttachmentUpload(ctx, customer, a.ID, "done-2")
	wantCode(t, err, helpline.ECONFLICT)
	wantCode(t, e.svc.UploadAttachment(ctx, upload, "application/pdf", bytes.NewReader(body)), helpline.ECONFLICT)
	if n := len(e.items(t, customer.Contact.ID)); n != 3 {
		t.Errorf("stored %d items, want 3", n)
	}

	got, download, err := e.svc.GetAttachment(ctx, agent, a.ID, 10*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	if got.Size != int64(len(body)) {
		t.Errorf("size = %d", got.Size)
	}
	_, r, err := e.svc.OpenAttachment(ctx, download)
	if err != nil {
		t.Fatal(err)
	}
	data, _ := io.ReadAll(r)
	r.Close()
	if !bytes.Equal(data, body) {
		t.Errorf("downloaded %q, want %q", data, body)
	}
	e.clock.Advance(10 * time.Second)
	_, _, err = e.svc.OpenAttachment(ctx, download)
	wantCode(t, err, helpline.EFORBIDDEN)
	_, _, err = e.svc.OpenAttachment(ctx, upload)
	wantCode(t, err, helpline.EFORBIDDEN)

	bot := e.addAgent(t, customer.Contact, helpline.RoleBot)
	_, _, err = e.svc.GetAttachment(ctx, bot, a.ID, 0)
	wantCode(t, err, helpline.EFORBIDDEN)
	for _, expiry := range []time.Duration{4 * time.Second, 301 * time.Second} {
		_, _, err = e.svc.GetAttachment(ctx, customer, a.ID, expiry)
		wantCode(t, err, helpline.EINVALID)
	}
	_, other := e.start(t, helpline.StartChatInput{})
	_, _, err = e.svc.GetAttachment(ctx, other, a.ID, 0)
	wantCode(t, err, helpline.ENOTFOUND)
}

func TestAttachmentValidation(t *testing.T) {
	e := newEnv(t, withLimits(chat.Limits{MaxAttachmentsPerContact: 2}))
	_, customer := e.start(t, helpline.StartChatInput{})
	ok := func(name, contentType string) helpline.AttachmentUpload {
		return helpline.AttachmentUpload{Name: name, ContentType: contentType, Size: 10, ClientToken: helpline.NewID()}
	}
	bad := []struct {
		name string
		in   helpline.AttachmentUpload
	}{
		{"unknown extension", ok("run.exe", "application/octet-stream")},
		{"no extension", ok("photo", "image/png")},
		{"mismatched type", ok("photo.png", "image/jpeg")},
		{"empty", helpline.AttachmentUpload{Name: "a.txt", ContentType: "text/plain", Size: 0, ClientToken: "x"}},
		{"too big", helpline.AttachmentUpload{Name: "a.mp4", ContentType: "video/mp4", Size: 20<<20 + 1, ClientToken: "x"}},
		{"no client token", helpline.AttachmentUpload{Name: "a.txt", ContentType: "text/plain", Size: 1}},
		{"long name", ok(strings.Repeat("n", 253)+".txt", "text/plain")},
		{"no content type", ok("a.txt", "")},
	}
	for _, tt := range bad {
		_, _, err := e.svc.StartAttachmentUpload(ctx, customer, tt.in)
		if helpline.ErrorCode(err) != helpline.EINVALID {
			t.Errorf("%s: error %v, want EINVALID", tt.name, err)
		}
	}
	for _, in := range []helpline.AttachmentUpload{
		ok("scan.JPG", "image/jpeg"),
		{Name: "clip.mov", ContentType: "video/quicktime", Size: 20 << 20, ClientToken: "big"},
	} {
		if _, _, err := e.svc.StartAttachmentUpload(ctx, customer, in); err != nil {
			t.Errorf("%s: %v", in.Name, err)
		}
	}
	_, _, err := e.svc.StartAttachmentUpload(ctx, customer, ok("third.txt", "text/plain"))
	wantCode(t, err, helpline.EQUOTA)
}

func TestUploadAfterEnd(t *testing.T) {
	e := newEnv(t)
	_, customer := e.start(t, helpline.StartChatInput{})
	_, upload, err := e.svc.StartAttachmentUpload(ctx, customer, helpline.AttachmentUpload{Name: "a.txt", ContentType: "text/plain", Size: 2, ClientToken: "u"})
	if err != nil {
		t.Fatal(err)
	}
	if err := e.svc.StopContact(ctx, e.inst.ID, customer.Contact.ID); err != nil {
		t.Fatal(err)
	}
	wantCode(t, e.svc.UploadAttachment(ctx, upload, "text/plain", strings.NewReader("hi")), helpline.EFORBIDDEN)
}
