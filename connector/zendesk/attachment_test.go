package zendesk_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/helplinehq/helpline"
	"github.com/helplinehq/helpline/connector/zendesk"
	"github.com/helplinehq/helpline/connector/zendesk/zendesktest"
)

// fileStore holds completed attachments for ConnectorNode.OpenAttachment.
type fileStore struct {
	atts  map[string]*helpline.Attachment
	data  map[string][]byte
	fault error // returned by open when set
}

func newFileStore() *fileStore {
	return &fileStore{atts: map[string]*helpline.Attachment{}, data: map[string][]byte{}}
}

// send appends an ATTACHMENT item by pid to l, its file stored under a
// fresh id unless data is nil (a file that is gone).
func (fs *fileStore) send(l *chatLog, pid, name, contentType string, data []byte) *helpline.Item {
	it := l.Add(pid, helpline.ItemAttachment, contentType, "")
	id := fmt.Sprintf("att-%d", it.Seq)
	it.Attachments = []helpline.AttachmentRef{{ID: id, Name: name, ContentType: contentType, Status: helpline.AttachmentApproved}}
	if data != nil {
		fs.atts[id] = &helpline.Attachment{ID: id, ContactID: l.Contact.ID, ParticipantID: pid, Name: name, ContentType: contentType,
			Size: int64(len(data)), Status: helpline.AttachmentApproved}
		fs.data[id] = data
	}
	return it
}

func (fs *fileStore) open(_ context.Context, id string) (*helpline.Attachment, io.ReadCloser, error) {
	if fs.fault != nil {
		return nil, nil, fs.fault
	}
	a := fs.atts[id]
	if a == nil {
		return nil, nil, helpline.NotFound(helpline.ResourceAttachment, id)
	}
	return a, io.NopCloser(bytes.NewReader(fs.data[id])), nil
}

// files lists a comment's attachments as name/type/size.
func files(c zendesktest.Comment) string {
	var out []string
	for _, a := range c.Attachments {
		out = append(out, fmt.Sprintf("%s %s %d", a.FileName, a.ContentType, a.Size))
	}
	return strings.Join(out, ", ")
}

func TestMirrorUploadsAttachments(t *testing.T) {
	fs := newFileStore()
	f := newFixture(t, zendesktest.Options{}, zendesk.Settings{}, helpline.ConnectorNode{OpenAttachment: fs.open})
	photo := append([]byte("\x89PNG\r\n\x1a\n"), bytes.Repeat([]byte{0, 1, 2, 0xff}, 300)...)
	menu := []byte("1. Track an order\n2. Returns\n")
	label := []byte("%PDF-1.4\n% shipping label\n")
	l := newChatLog("contact-a1")
	l.Say("p-cust", "Here is the damaged box")
	fs.send(l, "p-cust", "box.png", "image/png", photo)
	fs.send(l, "p-bot", "menu.txt", "text/plain", menu)
	fs.send(l, "p-agent", "label.pdf", "application/pdf", label)
	fs.send(l, "p-cust", "old.pdf", "application/pdf", nil)
	res := mirror(t, f.conn, l.Batch(0, nil, 0))
	if res.Delivered != 5 {
		t.Fatalf("Delivered = %d, want 5", res.Delivered)
	}

	tk := f.fake.Tickets()[0]
	want := []string{
		"public: Chat contact-a1 with Ada started at 2025-03-01 10:42:00 UTC.\n\n[10:42:07] Ada (customer): Here is the damaged box\n[10:42:14] Ada (customer) sent box.png\n[10:42:28] Grace (agent) sent label.pdf\n" +
			"[10:42:35] Ada (customer) sent old.pdf (old.pdf not attached: the file is no longer stored)\n\n(Helpline chat contact-a1, items 1-5)",
		"note: [10:42:21] Shopbot (bot) sent menu.txt\n\n(Helpline chat contact-a1, items 3-3)",
	}
	if got := commentBodies(tk); strings.Join(got, "\n|\n") != strings.Join(want, "\n|\n") {
		t.Fatalf("comments:\n%s\nwant:\n%s", strings.Join(got, "\n|\n"), strings.Join(want, "\n|\n"))
	}
	if got := files(tk.Comments[0]); got != "box.png image/png 1208, label.pdf application/pdf 26" {
		t.Errorf("public comment's files: %s", got)
	}
	if got := files(tk.Comments[1]); got != "menu.txt text/plain 29" {
		t.Errorf("note's files: %s", got)
	}
	if !bytes.Equal(tk.Comments[0].Attachments[0].Data, photo) || !bytes.Equal(tk.Comments[0].Attachments[1].Data, label) ||
		!bytes.Equal(tk.Comments[1].Attachments[0].Data, menu) {
		t.Error("the uploaded bytes differ from the chat's files")
	}
	for _, u := range f.fake.Uploads() {
		if u.CommentID == 0 {
			t.Errorf("upload %s was never attached", u.Token)
		}
	}
	assertGolden(t, "attachment_requests", f.rec.String())
}

func TestMirrorAttachmentOverUploadLimit(t *testing.T) {
	fs := newFileStore()
	f := newFixture(t, zendesktest.Options{}, zendesk.Settings{MaxUploadMB: 1}, helpline.ConnectorNode{OpenAttachment: fs.open})
	l := newChatLog("contact-a2")
	fs.send(l, "p-cust", "unboxing.mov", "video/quicktime", bytes.Repeat([]byte("v"), 3<<19))
	fs.send(l, "p-cust", "receipt.jpg", "image/jpeg", bytes.Repeat([]byte("j"), 1<<20))
	mirror(t, f.conn, l.Batch(0, nil, 0))

	c := f.fake.Tickets()[0].Comments[0]
	wantBody := "Chat contact-a2 with Ada started at 2025-03-01 10:42:00 UTC.\n\n[10:42:07] Ada (customer) sent unboxing.mov (unboxing.mov not attached: 1.5 MB is over the 1 MB upload limit)\n" +
		"[10:42:14] Ada (customer) sent receipt.jpg\n\n(Helpline chat contact-a2, items 1-2)"
	if c.Body != wantBody || files(c) != "receipt.jpg image/jpeg 1048576" {
		t.Errorf("comment %q with files %q; want %q with receipt.jpg only", c.Body, files(c), wantBody)
	}
	if n := f.fake.Stats().Uploads; n != 1 {
		t.Errorf("%d uploads, want 1: the large file is not sent", n)
	}
}

// An upload whose comment is refused is sent again with the retry; the
// comment, and so the file, lands once. A retry after a comment landed
// uploads nothing.
func TestMirrorAttachmentRetry(t *testing.T) {
	fs := newFileStore()
	f := newFixture(t, zendesktest.Options{TicketUpdatesPer10Min: 1}, zendesk.Settings{}, helpline.ConnectorNode{OpenAttachment: fs.open})
	l := newChatLog("contact-a3")
	l.Say("p-cust", "Hello")
	l.Say("p-bot", "Hi, how can I help?")
	// The ticket is created with the public comment; the bot's note is
	// its one update.
	res := mirror(t, f.conn, l.Batch(0, nil, 0))
	photo := []byte("\x89PNG\r\n\x1a\nscratch")
	fs.send(l, "p-cust", "scratch.png", "image/png", photo)
	f.clock.Advance(res.Wait)

	_, err := f.conn.Mirror(ctx, l.Batch(2, res.Refs, 0))
	assertMirrorError(t, err, false, 10*time.Minute-res.Wait) // the fake's per-ticket limit, after the upload
	f.clock.Advance(10 * time.Minute)
	if res2 := mirror(t, f.conn, l.Batch(2, res.Refs, 1)); res2.Delivered != 1 {
		t.Fatalf("retry delivered %d, want 1", res2.Delivered)
	}
	// The cursor commit was lost: the same item comes again.
	if res3 := mirror(t, f.conn, l.Batch(2, res.Refs, 2)); res3.Delivered != 1 {
		t.Fatalf("second retry delivered %d, want 1", res3.Delivered)
	}

	var withFile []zendesktest.Comment
	for _, c := range f.fake.Tickets()[0].Comments {
		if strings.Contains(c.Body, "sent scratch.png") {
			withFile = append(withFile, c)
		}
	}
	if len(withFile) != 1 || files(withFile[0]) != "scratch.png image/png 15" || !bytes.Equal(withFile[0].Attachments[0].Data, photo) {
		t.Fatalf("comments with the file: %+v; want one holding it", withFile)
	}
	uploads := f.fake.Uploads()
	var attached int
	for _, u := range uploads {
		if u.CommentID != 0 {
			attached++
		}
	}
	if len(uploads) != 2 || attached != 1 {
		t.Errorf("%d uploads, %d attached; want 2 (one per try that reached the PUT) and 1", len(uploads), attached)
	}
}

func TestMirrorAttachmentStoreFailureRetries(t *testing.T) {
	fs := newFileStore()
	f := newFixture(t, zendesktest.Options{}, zendesk.Settings{}, helpline.ConnectorNode{OpenAttachment: fs.open})
	l := newChatLog("contact-a4")
	fs.send(l, "p-cust", "box.png", "image/png", []byte("\x89PNG"))
	fs.fault = errors.New("disk unavailable")
	_, err := f.conn.Mirror(ctx, l.Batch(0, nil, 0))
	var me *helpline.MirrorError
	if err == nil || errors.As(err, &me) && me.Permanent {
		t.Fatalf("err = %v, want a retryable failure", err)
	}
	if n := len(f.fake.Tickets()); n != 0 {
		t.Errorf("%d tickets, want none: the ticket is created with the file's comment", n)
	}
}

// A file Zendesk refuses (the account's allowed file types) is mirrored
// by name with the reason; the rest of the comment lands.
func TestMirrorAttachmentRefusedByZendesk(t *testing.T) {
	fs := newFileStore()
	var fake http.Handler
	front := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.HasPrefix(r.URL.Path, "/api/v2/uploads") && strings.HasSuffix(r.URL.Query().Get("filename"), ".exe") {
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusUnprocessableEntity)
			io.WriteString(w, `{"error":"RecordInvalid","description":"Record validation errors"}`)
			return
		}
		fake.ServeHTTP(w, r)
	}))
	defer front.Close()
	f := newFixture(t, zendesktest.Options{}, zendesk.Settings{BaseURL: front.URL}, helpline.ConnectorNode{OpenAttachment: fs.open})
	u, _ := url.Parse(f.fake.URL)
	fake = httputil.NewSingleHostReverseProxy(u)
	l := newChatLog("contact-a5")
	fs.send(l, "p-cust", "setup.exe", "application/octet-stream", []byte("MZ"))
	fs.send(l, "p-cust", "box.png", "image/png", []byte("\x89PNG"))
	mirror(t, f.conn, l.Batch(0, nil, 0))

	c := f.fake.Tickets()[0].Comments[0]
	want := "Chat contact-a5 with Ada started at 2025-03-01 10:42:00 UTC.\n\n[10:42:07] Ada (customer) sent setup.exe (setup.exe not attached: Zendesk refused the file (HTTP 422))\n" +
		"[10:42:14] Ada (customer) sent box.png\n\n(Helpline chat contact-a5, items 1-2)"
	if c.Body != want || files(c) != "box.png image/png 4" {
		t.Errorf("comment %q with files %q; want %q with box.png", c.Body, files(c), want)
	}
}
