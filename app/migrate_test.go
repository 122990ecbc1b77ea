package app

import (
	"bytes"
	"context"
	"database/sql"
	"io"
	"net"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/helplinehq/helpline"
	"github.com/helplinehq/helpline/postgres"
	"github.com/helplinehq/helpline/postgres/pgtest"
	"github.com/helplinehq/helpline/sqlite"
)

// migrateSettings configure the nodes on both sides of a migration: an
// agent in a queue, and a connector that mirrors every chat.
const migrateSettings = "queues:\n  - id: sales\nagents:\n  - id: ada\n    email: ada@example.com\n    queues: [sales]\n    password_env: ADA_PASSWORD\n" +
	"connectors:\n  - name: probe-migrate\n    kind: probe\n"

// sqliteInstall is what a SQLite install held when its node stopped.
type sqliteInstall struct {
	cfg        *Config
	identity   Identity
	active     *helpline.ChatStarted // connected, with messages and an attachment
	ended      *helpline.ChatStarted
	transcript []*helpline.Item // the active chat's
	endedItems []*helpline.Item
	attachment string
	body       []byte
}

// newSQLiteInstall runs a SQLite node's engine through two chats, one
// ended, with an attachment of several PostgreSQL chunks, then, with the
// node stopped, leaves the active chat's mirror pair behind its last
// item with refs and a lease held, and parks the ended chat's pair.
func newSQLiteInstall(t *testing.T) *sqliteInstall {
	t.Helper()
	ctx := context.Background()
	cfg := loadConfig(t, migrateSettings)
	node, err := New(ctx, cfg, quiet())
	if err != nil {
		t.Fatal(err)
	}
	defer node.Close()
	in := &sqliteInstall{cfg: cfg, identity: *node.Identity()}
	e := node.engine
	start := func(token string) (*helpline.ChatStarted, *helpline.Session) {
		started, err := e.StartChat(ctx, helpline.StartChatInput{InstanceID: in.identity.InstanceID, ContactFlowID: in.identity.FlowID, DisplayName: "Casey", ClientToken: token})
		if err != nil {
			t.Fatal(err)
		}
		sess, err := e.Authenticate(ctx, helpline.ParticipantToken, started.ParticipantToken)
		if err != nil {
			t.Fatal(err)
		}
		return started, sess
	}
	var sess *helpline.Session
	in.active, sess = start("active")
	for _, m := range []string{"hello", "my order is late", "it is #1234"} {
		if _, err := e.SendMessage(ctx, sess, "text/plain", m, "msg-"+m); err != nil {
			t.Fatal(err)
		}
	}
	in.body = bytes.Repeat([]byte("%PDF receipt line "), 40000) // 720 KB: three chunks
	a, upload, err := e.StartAttachmentUpload(ctx, sess, helpline.AttachmentUpload{Name: "receipt.pdf", ContentType: "application/pdf", Size: int64(len(in.body)), ClientToken: "up"})
	if err != nil {
		t.Fatal(err)
	}
	if err := e.UploadAttachment(ctx, upload, "application/pdf", bytes.NewReader(in.body)); err != nil {
		t.Fatal(err)
	}
	if _, err := e.CompleteAttachmentUpload(ctx, sess, a.ID, "done"); err != nil {
		t.Fatal(err)
	}
	in.attachment = a.ID
	in.transcript = transcript(t, e.Transcript, sess)

	var endedSess *helpline.Session
	in.ended, endedSess = start("ended")
	if _, err := e.SendMessage(ctx, endedSess, "text/plain", "never mind", "bye"); err != nil {
		t.Fatal(err)
	}
	if err := e.StopContact(ctx, in.identity.InstanceID, in.ended.Contact.ID); err != nil {
		t.Fatal(err)
	}
	if in.endedItems, err = node.store.FindItems(ctx, in.ended.Contact.ID, helpline.ItemQuery{}); err != nil {
		t.Fatal(err)
	}
	if err := node.store.SetPresence(ctx, in.identity.InstanceID, "ada", helpline.PresenceOnline, time.Now()); err != nil {
		t.Fatal(err)
	}
	if err := node.Close(); err != nil {
		t.Fatal(err)
	}

	s, err := sqlite.Open(filepath.Join(cfg.Data, "helpline.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	now := time.Now()
	claim := func(contactID string) *helpline.MirrorPair {
		pairs, err := s.ClaimMirrorPairs(ctx, "probe-migrate", contactID, "old-node", now, time.Minute, 1)
		if err != nil || len(pairs) != 1 {
			t.Fatalf("claim the pair of %s: %v, %v", contactID, pairs, err)
		}
		return pairs[0]
	}
	p := claim(in.active.Contact.ID)
	p.Cursor, p.Refs = 2, map[string]string{"ticket": "T-1"}
	p.KeepLease, p.LeaseUntil = true, now.Add(time.Hour)
	if err := s.SaveMirrorPair(ctx, p, "old-node", now); err != nil {
		t.Fatal(err)
	}
	p = claim(in.ended.Contact.ID)
	p.Cursor, p.Refs = 1, map[string]string{"ticket": "T-2"}
	p.State, p.LastError = helpline.MirrorParked, "HTTP 422: the ticket is closed"
	if err := s.SaveMirrorPair(ctx, p, "old-node", now); err != nil {
		t.Fatal(err)
	}
	if _, err := s.RememberOnce(ctx, "probe-migrate", "signature-1", now, now.Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	token, _, err := helpline.NewAPIToken(in.identity.InstanceID, helpline.AgentRoleAdmin, "ci", "cli", now)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.CreateAPIToken(ctx, token); err != nil {
		t.Fatal(err)
	}
	if err := s.CreateSession(ctx, &helpline.AgentSession{ID: helpline.SecretHash("cookie"), InstanceID: in.identity.InstanceID, AgentID: "ada",
		CreatedAt: now, SeenAt: now, ExpiresAt: now.Add(time.Hour)}); err != nil {
		t.Fatal(err)
	}
	if err := s.CreateCannedResponse(ctx, &helpline.CannedResponse{InstanceID: in.identity.InstanceID, ID: "cr1", Shortcut: "hello",
		Text: "Hello! How can I help?", CreatedAt: now, UpdatedAt: now}, 0); err != nil {
		t.Fatal(err)
	}
	if err := s.SaveWidgetSettings(ctx, &helpline.WidgetSettings{InstanceID: in.identity.InstanceID, Title: "Chat with us"}); err != nil {
		t.Fatal(err)
	}
	if err := s.SaveBotState(ctx, in.ended.Contact.ID, []byte(`{"turns":2}`)); err != nil {
		t.Fatal(err)
	}
	return in
}

// transcript returns every item of the session's contact, oldest first.
func transcript(t *testing.T, get func(context.Context, *helpline.Session, helpline.TranscriptQuery) (*helpline.TranscriptPage, error), sess *helpline.Session) []*helpline.Item {
	t.Helper()
	var items []*helpline.Item
	q := helpline.TranscriptQuery{MaxResults: 100, ScanDirection: "FORWARD", SortOrder: "ASCENDING"}
	for {
		page, err := get(context.Background(), sess, q)
		if err != nil {
			t.Fatal(err)
		}
		items = append(items, page.Items...)
		if page.NextToken == "" {
			return items
		}
		q.NextToken = page.NextToken
	}
}

// A SQLite install moves to PostgreSQL whole: a node on PostgreSQL
// takes the old participant tokens (the signing key moved), serves the
// same transcripts and attachment bytes, keeps the parked pair parked
// and resumes the active one from its cursor. Migrating again refuses.
func TestMigrateMovesAnInstall(t *testing.T) {
	t.Setenv("ADA_PASSWORD", "ada's long passphrase")
	ctx := context.Background()
	in := newSQLiteInstall(t)
	for _, table := range migratedTables {
		if table == "offers" {
			continue // no chat was offered to an agent
		}
		if n := countSQLite(t, in.cfg.Data, table); n == 0 {
			t.Errorf("the install has no rows in %s: the test would not show they move", table)
		}
	}

	// A failure in mid-copy writes nothing: this database already
	// remembers a key the install remembers, so the copy fails at the
	// remembered table, after instances, contacts and items.
	taken := pgtest.Schema(t)
	pg, err := postgres.Open(ctx, taken)
	if err != nil {
		t.Fatal(err)
	}
	defer pg.Close()
	if _, err := pg.RememberOnce(ctx, "probe-migrate", "signature-1", time.Now(), time.Now().Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	var out strings.Builder
	err = Migrate(ctx, MigrateOptions{From: in.cfg.Data, To: taken}, &out)
	if err == nil || !strings.Contains(err.Error(), "nothing was written") || !strings.Contains(err.Error(), "import remembered") {
		t.Errorf("Migrate into a database remembering the same key = %v, want a failure", err)
	}
	for _, table := range []string{"instances", "contacts", "items"} {
		if n := countPostgres(t, taken, table); n != 0 {
			t.Errorf("the failed Migrate left %d rows in %s", n, table)
		}
	}
	if blobs, _, err := pg.BlobTotals(ctx); err != nil || blobs != 0 {
		t.Errorf("the failed Migrate left %d blobs, %v", blobs, err)
	}
	// Verification compares: against that database every count differs.
	src, err := sqlite.OpenExport(ctx, filepath.Join(in.cfg.Data, "helpline.db"))
	if err != nil {
		t.Fatal(err)
	}
	files, err := attachmentFiles(filepath.Join(in.cfg.Data, "attachments"))
	if err != nil {
		t.Fatal(err)
	}
	err = verify(ctx, src, pg, files, &out)
	src.Close()
	if err == nil || !strings.Contains(err.Error(), "verification failed: instances") || !strings.Contains(err.Error(), "attachment bytes") {
		t.Errorf("verify against a database without the install = %v, want a failure naming what differs", err)
	}

	dsn := pgtest.Schema(t)
	out.Reset()
	if err := Migrate(ctx, MigrateOptions{From: "sqlite:" + in.cfg.Data, To: dsn}, &out); err != nil {
		t.Fatalf("Migrate: %v\n%s", err, out.String())
	}
	for _, want := range []string{"items", "mirror_pairs", "attachment files", "every count matches"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("the verification does not show %q:\n%s", want, out.String())
		}
	}
	if want := "attachment bytes  " + strconv.Itoa(len(in.body)) + "  " + strconv.Itoa(len(in.body)); !strings.Contains(out.String(), want) {
		t.Errorf("the verification does not show %q:\n%s", want, out.String())
	}

	cfg := loadConfig(t, "store: "+dsn+"\n"+migrateSettings)
	node, err := New(ctx, cfg, quiet())
	if err != nil {
		t.Fatal(err)
	}
	defer node.Close()
	if *node.Identity() != in.identity {
		t.Errorf("the node on PostgreSQL has identity %+v, want the install's %+v", *node.Identity(), in.identity)
	}
	sess, err := node.engine.Authenticate(ctx, helpline.ParticipantToken, in.active.ParticipantToken)
	if err != nil {
		t.Fatalf("the install's participant token on PostgreSQL: %v", err)
	}
	if got := transcript(t, node.engine.Transcript, sess); !reflect.DeepEqual(got, in.transcript) {
		t.Errorf("transcript on PostgreSQL:\n%s\nwant:\n%s", describe(got), describe(in.transcript))
	}
	if got, err := node.store.FindItems(ctx, in.ended.Contact.ID, helpline.ItemQuery{}); err != nil || !reflect.DeepEqual(got, in.endedItems) {
		t.Errorf("the ended chat on PostgreSQL: %s, %v; want %s", describe(got), err, describe(in.endedItems))
	}
	if c, err := node.store.FindContactByID(ctx, in.ended.Contact.ID); err != nil || !c.Ended() {
		t.Errorf("the ended chat on PostgreSQL is %+v, %v", c, err)
	}
	_, download, err := node.engine.GetAttachment(ctx, sess, in.attachment, time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	_, r, err := node.engine.OpenAttachment(ctx, download)
	if err != nil {
		t.Fatal(err)
	}
	got, err := io.ReadAll(r)
	r.Close()
	if err != nil || !bytes.Equal(got, in.body) {
		t.Errorf("the attachment on PostgreSQL: %d bytes, %v; want the install's %d", len(got), err, len(in.body))
	}
	if a, err := node.store.FindPresence(ctx, in.identity.InstanceID, "ada"); err != nil || a.Status != helpline.PresenceOnline {
		t.Errorf("agent ada's presence on PostgreSQL: %+v, %v", a, err)
	}
	if p, err := node.store.FindMirrorPairByRef(ctx, "probe-migrate", "ticket", "T-1"); err != nil || p.ContactID != in.active.Contact.ID || p.Cursor != 2 {
		t.Errorf("the pair of ticket T-1 on PostgreSQL: %+v, %v", p, err)
	}

	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	runCtx, stop := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- node.Run(runCtx, ln, nil) }()
	probe := probeNamed(t, "probe-migrate")
	last := in.transcript[len(in.transcript)-1].Seq
	for deadline := time.Now().Add(20 * time.Second); !slices.Contains(probe.delivered(in.active.Contact.ID), last); {
		if time.Now().After(deadline) {
			t.Fatalf("the active pair was not resumed: delivered %v", probe.delivered(in.active.Contact.ID))
		}
		time.Sleep(20 * time.Millisecond)
	}
	stop()
	if err := <-done; err != nil {
		t.Fatalf("Run: %v", err)
	}
	if got := probe.delivered(in.active.Contact.ID); got[0] != 3 {
		t.Errorf("the resumed pair delivered Seqs %v, want from 3, after its cursor 2", got)
	}
	if got := probe.delivered(in.ended.Contact.ID); len(got) != 0 {
		t.Errorf("the parked pair delivered %v", got)
	}
	parked, err := node.store.FindMirrorPairs(ctx, helpline.MirrorPairFilter{State: helpline.MirrorParked})
	if err != nil || len(parked) != 1 || parked[0].ContactID != in.ended.Contact.ID || parked[0].LastError != "HTTP 422: the ticket is closed" || parked[0].Refs["ticket"] != "T-2" {
		t.Errorf("parked pairs on PostgreSQL: %+v, %v", parked, err)
	}

	items := countPostgres(t, dsn, "items")
	out.Reset()
	err = Migrate(ctx, MigrateOptions{From: in.cfg.Data, To: dsn}, &out)
	if err == nil || !strings.Contains(err.Error(), "already holds instances or contacts") {
		t.Errorf("a second Migrate = %v, want the refusal", err)
	}
	if n := countPostgres(t, dsn, "items"); n != items {
		t.Errorf("the refused Migrate left %d items, want %d", n, items)
	}
}

// Bad inputs fail before anything is written, naming the mistake.
func TestMigrateRefusesBadInput(t *testing.T) {
	ctx := context.Background()
	dsn := pgtest.Schema(t)
	data := t.TempDir()
	notHelpline := t.TempDir()
	if err := os.WriteFile(filepath.Join(notHelpline, "helpline.db"), []byte("a text file"), 0o600); err != nil {
		t.Fatal(err)
	}
	s, err := sqlite.Open(filepath.Join(data, "helpline.db"))
	if err != nil {
		t.Fatal(err)
	}
	s.Close()
	// A table added to the SQLite schema and not to migratedTables.
	newer := t.TempDir()
	if s, err = sqlite.Open(filepath.Join(newer, "helpline.db")); err != nil {
		t.Fatal(err)
	}
	s.Close()
	raw, err := sql.Open("sqlite", filepath.Join(newer, "helpline.db"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := raw.Exec(`CREATE TABLE surveys (id TEXT PRIMARY KEY)`); err != nil {
		t.Fatal(err)
	}
	raw.Close()

	// A store open on the directory, as a running node holds it.
	running := t.TempDir()
	open, err := sqlite.Open(filepath.Join(running, "helpline.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer open.Close()

	for _, c := range []struct {
		opts MigrateOptions
		want string
	}{
		{MigrateOptions{To: dsn}, "--from is required"},
		{MigrateOptions{From: t.TempDir(), To: dsn}, "is not a Helpline data directory"},
		{MigrateOptions{From: "sqlite:" + filepath.Join(data, "nowhere"), To: dsn}, "is not a Helpline data directory"},
		{MigrateOptions{From: notHelpline, To: dsn}, "is not a readable Helpline database"},
		{MigrateOptions{From: running, To: dsn}, "is in use, or its node did not stop cleanly"},
		{MigrateOptions{From: newer, To: dsn}, "tables this version does not migrate: surveys"},
		{MigrateOptions{From: data, To: "mysql://db/helpline"}, "--to must be a postgres:// URL"},
		{MigrateOptions{From: data, To: filepath.Join(data, "helpline.db")}, "--to must be a postgres:// URL"},
		{MigrateOptions{From: data, To: "postgres://postgres@127.0.0.1:1/test?sslmode=disable&connect_timeout=5"}, "--to: postgres"},
	} {
		var out strings.Builder
		err := Migrate(ctx, c.opts, &out)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("Migrate(%+v) = %v, want an error with %q", c.opts, err, c.want)
		}
	}
	if n := countPostgres(t, dsn, "instances"); n != 0 {
		t.Errorf("refused migrations wrote %d instances", n)
	}
}

// countSQLite returns the rows of table in the data directory's store.
func countSQLite(t *testing.T, data, table string) int64 {
	t.Helper()
	e, err := sqlite.OpenExport(context.Background(), filepath.Join(data, "helpline.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close()
	n, err := e.Count(context.Background(), table)
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// countPostgres returns the rows of table in the database dsn names.
func countPostgres(t *testing.T, dsn, table string) int64 {
	t.Helper()
	db, err := postgres.Open(context.Background(), dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	n, err := db.Count(context.Background(), table)
	if err != nil {
		t.Fatal(err)
	}
	return n
}
