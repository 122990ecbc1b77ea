package main

import (
	"bytes"
	"fmt"
	"io"
	"net/http"
	"path/filepath"
	"strings"
	"testing"

	"github.com/helplinehq/helpline/postgres/pgtest"
)

// Two nodes serve on one PostgreSQL store, each with its own data
// directory, as README's "Several nodes" shows: they share the default
// instance and its key; a customer chats on the first, her socket echoing
// her lines; the second serves her transcript and, from the store's
// database, the file she uploaded to the first.
func TestServeTwoNodesOnPostgres(t *testing.T) {
	store := pgtest.Schema(t)
	dir := t.TempDir()
	a := startServe(t, "--data", filepath.Join(dir, "a"), "--store", store, "--disable-rate-limits")
	t.Setenv("HELPLINE_STORE", store) // the environment serves as well as the flag
	b := startServe(t, "--data", filepath.Join(dir, "b"), "--disable-rate-limits")
	for _, k := range []string{"Instance id", "Contact flow id", "Access key id", "Secret access key"} {
		if a.banner[k] == "" || a.banner[k] != b.banner[k] {
			t.Fatalf("%s: node a says %q, node b %q; want the one the store holds", k, a.banner[k], b.banner[k])
		}
	}

	_, token, ws := startCustomer(t, a)
	var ids []string
	for i := range 5 {
		line := fmt.Sprintf("line %d", i)
		var sent struct{ Id string }
		if code := participantCall(t, a.url(), "/participant/message", token,
			map[string]string{"ContentType": "text/plain", "Content": line}, &sent); code != 200 {
			t.Fatalf("SendMessage %d: %d", i, code)
		}
		awaitItem(t, ws, line, func(typ, _, content, _, _ string) bool { return typ == "MESSAGE" && content == line })
		ids = append(ids, sent.Id)
	}
	file := bytes.Repeat([]byte("0123456789abcdef"), 40_000) // 640 KB: three chunks
	sendFile(t, a, token, "photo.jpg", "image/jpeg", file)

	var page struct {
		Transcript []struct {
			Id, Type, Content string
			Attachments       []struct{ AttachmentId, AttachmentName string }
		}
	}
	if code := participantCall(t, b.url(), "/participant/transcript", token,
		map[string]any{"MaxResults": 100, "ScanDirection": "FORWARD", "SortOrder": "ASCENDING"}, &page); code != 200 {
		t.Fatalf("GetTranscript on node b: %d", code)
	}
	var got []string
	attachmentID := ""
	for _, it := range page.Transcript {
		switch it.Type {
		case "MESSAGE":
			got = append(got, it.Id)
		case "ATTACHMENT":
			if len(it.Attachments) == 1 && it.Attachments[0].AttachmentName == "photo.jpg" {
				attachmentID = it.Attachments[0].AttachmentId
			}
		}
	}
	if strings.Join(got, ",") != strings.Join(ids, ",") || attachmentID == "" {
		t.Fatalf("node b's transcript holds messages %v and attachment %q; want %v and photo.jpg", got, attachmentID, ids)
	}
	var link struct{ Url string }
	if code := participantCall(t, b.url(), "/participant/attachment", token,
		map[string]any{"AttachmentId": attachmentID}, &link); code != 200 {
		t.Fatalf("GetAttachment on node b: %d", code)
	}
	if !strings.HasPrefix(link.Url, b.url()) {
		t.Fatalf("node b's download link %q is not node b's", link.Url)
	}
	res, err := http.Get(link.Url)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	data, _ := io.ReadAll(res.Body)
	if res.StatusCode != 200 || !bytes.Equal(data, file) {
		t.Fatalf("download from node b: %d, %d bytes; want 200 and the %d bytes uploaded to node a", res.StatusCode, len(data), len(file))
	}
}

// The commands that manage the store reach the PostgreSQL one with
// -store, from any data directory: an agent added on one machine is
// listed on another, and a duplicate email is refused there too.
func TestAgentsCommandsOnPostgres(t *testing.T) {
	store := pgtest.Schema(t)
	t.Setenv("HELPLINE_AGENT_PASSWORD", "correct horse")
	if out, err := helplineCmd(t, t.TempDir(), "agents", "add", "-store", store, "-email", "ada@example.com", "-role", "admin"); err != nil {
		t.Fatalf("agents add: %v\n%s", err, out)
	}
	out, err := helplineCmd(t, t.TempDir(), "agents", "list", "-store", store)
	if err != nil || !strings.Contains(out, "ada@example.com") || !strings.Contains(out, "admin") {
		t.Fatalf("agents list from another data directory: %v\n%s", err, out)
	}
	if out, err := helplineCmd(t, t.TempDir(), "agents", "add", "-store", store, "-email", "ADA@example.com", "-id", "other"); err == nil ||
		!strings.Contains(err.Error(), "already has the email") {
		t.Errorf("agents add of a taken email: %v\n%s", err, out)
	}
	if out, err := helplineCmd(t, t.TempDir(), "replay", "-store", store); err != nil || !strings.Contains(out, "0 parked pair(s) resumed") {
		t.Errorf("replay: %v\n%s", err, out)
	}
	if out, err := helplineCmd(t, t.TempDir(), "agents", "list", "-store", "mysql://db"); err == nil || !strings.Contains(err.Error(), "store") {
		t.Errorf("agents list -store mysql://db: %v\n%s, want a store error", err, out)
	}
}

// On a PostgreSQL store without agents the banner's command names the
// store, so that, run as printed, it creates the admin where the nodes
// look for it; a password in the store's URL is not printed.
func TestServeFirstAgentBannerOnPostgres(t *testing.T) {
	store := pgtest.Schema(t)
	t.Setenv("HELPLINE_AGENT_PASSWORD", "")
	data := filepath.Join(t.TempDir(), "data")
	s := startServe(t, "--data", data, "--store", store)
	var command string
	for i, l := range s.lines {
		if strings.HasPrefix(strings.TrimSpace(l), "Agents:") && i+1 < len(s.lines) {
			command = strings.TrimSpace(s.lines[i+1])
		}
	}
	s.shutdown(t)
	words := shellWords(t, command)
	if !strings.Contains(command, "-store") || len(words) < 3 {
		t.Fatalf("banner command %q does not name the store", command)
	}
	env, value, _ := strings.Cut(words[0], "=")
	t.Setenv(env, value)
	var out, errOut bytes.Buffer
	if err := run(t.Context(), words[2:], &out, &errOut); err != nil {
		t.Fatalf("%s: %v\n%s%s", command, err, out.String(), errOut.String())
	}
	// Another node, with a data directory of its own, finds the admin.
	again := startServe(t, "--data", filepath.Join(t.TempDir(), "other"), "--store", store)
	if _, ok := again.banner["Agents"]; ok {
		t.Errorf("banner once an admin exists in the store still has %q", again.banner["Agents"])
	}

	withPassword := firstAgentCommand("data", "postgres://helpline:s3cret@db.internal:5432/helpline?sslmode=require")
	if strings.Contains(withPassword, "s3cret") || !strings.Contains(withPassword, "-store 'postgres://helpline@db.internal:5432/helpline?sslmode=require'") {
		t.Errorf("command %q: want the store's URL without its password", withPassword)
	}
}
