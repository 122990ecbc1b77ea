package main

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"path/filepath"
	"strings"
	"testing"

	"github.com/helplinehq/helpline/postgres/pgtest"
)

// README's move to PostgreSQL, as written: a chat with a file on a
// SQLite node; the node stopped; helpline migrate; a node on PostgreSQL
// serves the customer, with her old token, the same transcript and file.
// A second migrate refuses.
func TestMigrateCommand(t *testing.T) {
	data := filepath.Join(t.TempDir(), "helpline-data")
	a := startServe(t, "--data", data, "--disable-rate-limits")
	_, token, ws := startCustomer(t, a)
	for _, line := range []string{"hello", "my order is late"} {
		if code := participantCall(t, a.url(), "/participant/message", token,
			map[string]string{"ContentType": "text/plain", "Content": line}, nil); code != 200 {
			t.Fatalf("SendMessage: %d", code)
		}
		awaitItem(t, ws, line, func(typ, _, content, _, _ string) bool { return typ == "MESSAGE" && content == line })
	}
	file := bytes.Repeat([]byte("0123456789abcdef"), 40_000) // 640 KB: three chunks
	sendFile(t, a, token, "photo.jpg", "image/jpeg", file)
	before := transcriptOf(t, a.url(), token)
	ws.Close()
	a.shutdown(t)

	store := pgtest.Schema(t)
	var out, errOut bytes.Buffer
	if err := run(context.Background(), []string{"migrate", "--from", "sqlite:" + data, "--to", store}, &out, &errOut); err != nil {
		t.Fatalf("helpline migrate: %v\n%s%s", err, out.String(), errOut.String())
	}
	if !strings.Contains(out.String(), "attachment bytes  640000  640000") || !strings.Contains(out.String(), "every count matches") {
		t.Errorf("helpline migrate printed:\n%s", out.String())
	}

	b := startServe(t, "--data", filepath.Join(t.TempDir(), "b"), "--store", store, "--disable-rate-limits")
	defer b.shutdown(t)
	if a.banner["Instance id"] != b.banner["Instance id"] || a.banner["Secret access key"] != b.banner["Secret access key"] {
		t.Errorf("the node on PostgreSQL has instance %q, the SQLite node had %q", b.banner["Instance id"], a.banner["Instance id"])
	}
	after := transcriptOf(t, b.url(), token)
	if strings.Join(after.lines, "\n") != strings.Join(before.lines, "\n") {
		t.Fatalf("transcript on PostgreSQL:\n%s\nwant:\n%s", strings.Join(after.lines, "\n"), strings.Join(before.lines, "\n"))
	}
	var link struct{ Url string }
	if code := participantCall(t, b.url(), "/participant/attachment", token,
		map[string]any{"AttachmentId": after.attachment}, &link); code != 200 {
		t.Fatalf("GetAttachment on PostgreSQL: %d", code)
	}
	res, err := http.Get(link.Url)
	if err != nil {
		t.Fatal(err)
	}
	got, _ := io.ReadAll(res.Body)
	res.Body.Close()
	if res.StatusCode != 200 || !bytes.Equal(got, file) {
		t.Errorf("download on PostgreSQL: %d, %d bytes; want the %d uploaded", res.StatusCode, len(got), len(file))
	}

	out.Reset()
	err = run(context.Background(), []string{"migrate", "--from", data, "--to", store}, &out, &errOut)
	if err == nil || !strings.Contains(err.Error(), "already holds instances or contacts") {
		t.Errorf("a second helpline migrate: %v, want the refusal", err)
	}
	if err := run(context.Background(), []string{"migrate", "--from", data}, &out, &errOut); err == nil || !strings.Contains(err.Error(), "--to is required") {
		t.Errorf("helpline migrate without --to: %v", err)
	}
}

// transcript is a chat's transcript as a participant reads it.
type transcript struct {
	lines      []string // id, type and content of each item
	attachment string   // the id of its one attachment
}

func transcriptOf(t *testing.T, base, token string) transcript {
	t.Helper()
	var page struct {
		Transcript []struct {
			Id, Type, ContentType, Content, AbsoluteTime string
			Attachments                                  []struct{ AttachmentId, AttachmentName string }
		}
	}
	if code := participantCall(t, base, "/participant/transcript", token,
		map[string]any{"MaxResults": 100, "ScanDirection": "FORWARD", "SortOrder": "ASCENDING"}, &page); code != 200 {
		t.Fatalf("GetTranscript at %s: %d", base, code)
	}
	var tr transcript
	for _, it := range page.Transcript {
		tr.lines = append(tr.lines, strings.Join([]string{it.Id, it.Type, it.ContentType, it.Content, it.AbsoluteTime}, " "))
		if len(it.Attachments) == 1 {
			tr.attachment = it.Attachments[0].AttachmentId
		}
	}
	if tr.attachment == "" {
		t.Fatalf("the transcript at %s has no attachment", base)
	}
	return tr
}
