package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io/fs"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"

	"github.com/helplinehq/helpline"
)

func openTest(t *testing.T, path string) *DB {
	t.Helper()
	db, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

// TestBatchIsolation runs writes that fail after writing in the same batch
// as writes that succeed: only the failed ones must be rolled back, and
// each caller must get its own outcome.
func TestBatchIsolation(t *testing.T) {
	ctx := context.Background()
	db := openTest(t, filepath.Join(t.TempDir(), "h.db"))
	const n = 100
	errBoom := errors.New("boom")

	// The first write holds the writer until the others are queued, so
	// that they all land in one batch.
	started, release := make(chan struct{}), make(chan struct{})
	firstDone := make(chan error, 1)
	go func() {
		firstDone <- db.write(ctx, func(tx *sql.Tx) error {
			close(started)
			<-release
			_, err := tx.Exec(`INSERT INTO secrets (name, value) VALUES ('first', x'00')`)
			return err
		})
	}()
	<-started

	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[i] = db.write(ctx, func(tx *sql.Tx) error {
				if _, err := tx.Exec(`INSERT INTO secrets (name, value) VALUES (?, x'01')`, fmt.Sprint("k", i)); err != nil {
					return err
				}
				if i%2 == 1 {
					return fmt.Errorf("write %d: %w", i, errBoom)
				}
				return nil
			})
		}()
	}
	for len(db.queue) != n {
		runtime.Gosched()
	}
	close(release)
	wg.Wait()
	if err := <-firstDone; err != nil {
		t.Fatalf("first write: %v", err)
	}

	for i := range n {
		var count int
		if err := db.r.QueryRow(`SELECT count(*) FROM secrets WHERE name = ?`, fmt.Sprint("k", i)).Scan(&count); err != nil {
			t.Fatal(err)
		}
		if i%2 == 1 {
			if !errors.Is(errs[i], errBoom) || count != 0 {
				t.Errorf("failing write %d: error %v, %d rows; want its own error and no row", i, errs[i], count)
			}
		} else if errs[i] != nil || count != 1 {
			t.Errorf("write %d: error %v, %d rows; want success and its row", i, errs[i], count)
		}
	}
}

// TestCloseDrains closes the store while writes are in flight: every write
// that reported success must be there after a reopen, and writes after
// Close fail.
func TestCloseDrains(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "h.db")
	db := openTest(t, path)

	started, release := make(chan struct{}), make(chan struct{})
	go db.write(ctx, func(*sql.Tx) error { close(started); <-release; return nil })
	<-started

	const n = 400
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, errs[i] = db.Secret(ctx, fmt.Sprint("k", i), func() ([]byte, error) { return []byte{1}, nil })
		}()
	}
	for len(db.queue) < 100 {
		runtime.Gosched()
	}
	close(release)
	if err := db.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	wg.Wait()
	if _, err := db.Secret(ctx, "late", func() ([]byte, error) { return []byte{1}, nil }); helpline.ErrorCode(err) != helpline.EINTERNAL {
		t.Errorf("write after Close = %v, want an internal error", err)
	}

	db = openTest(t, path)
	stored := 0
	for i := range n {
		var count int
		if err := db.r.QueryRow(`SELECT count(*) FROM secrets WHERE name = ?`, fmt.Sprint("k", i)).Scan(&count); err != nil {
			t.Fatal(err)
		}
		if errs[i] == nil && count != 1 {
			t.Errorf("write %d succeeded but is missing after reopen", i)
		}
		stored += count
	}
	if stored == 0 {
		t.Error("no write made it before Close; the test proves nothing")
	}
}

// TestCanceledBeforeRun skips a write whose context ended while it was
// queued.
func TestCanceledBeforeRun(t *testing.T) {
	db := openTest(t, filepath.Join(t.TempDir(), "h.db"))
	started, release := make(chan struct{}), make(chan struct{})
	go db.write(context.Background(), func(*sql.Tx) error { close(started); <-release; return nil })
	<-started
	ctx, cancel := context.WithCancel(context.Background())
	ran := false
	done := make(chan error, 1)
	go func() { done <- db.write(ctx, func(*sql.Tx) error { ran = true; return nil }) }()
	for len(db.queue) != 1 {
		runtime.Gosched()
	}
	cancel()
	close(release)
	if err := <-done; !errors.Is(err, context.Canceled) || ran {
		t.Errorf("canceled write: error %v, ran %v; want context.Canceled without running", err, ran)
	}
}

// TestQueryPlans checks that the lookups made by writes use the index
// meant for them.
func TestQueryPlans(t *testing.T) {
	db := openTest(t, filepath.Join(t.TempDir(), "h.db"))
	for _, tc := range []struct{ name, query, index string }{
		{"selectContactByToken", selectContactByToken, "contacts_client_token"},
		{"countActiveContacts", countActiveContacts, "contacts_active"},
		{"selectContactsToExpire", selectContactsToExpire, "contacts_expiry"},
		{"selectParticipantByToken", selectParticipantByToken, "participants_client_token"},
		{"selectItemByToken", selectItemByToken, "items_client_token"},
		{"selectContactStateLastSeq", selectContactStateLastSeq, "PRIMARY KEY (contact_id=?)"},
		{"selectAttachmentByToken", selectAttachmentByToken, "attachments_client_token"},
		{"claimMirrorPairs", claimMirrorPairs, "mirror_pairs_due"},
		{"selectMirrorPairByRef", selectMirrorPairByRef, "SEARCH r USING PRIMARY KEY (connector=? AND key=? AND value=?)"},
	} {
		args := make([]any, strings.Count(tc.query, "?"))
		rows, err := db.r.Query(`EXPLAIN QUERY PLAN `+tc.query, args...)
		if err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		var plan []string
		for rows.Next() {
			var id, parent, unused int
			var detail string
			if err := rows.Scan(&id, &parent, &unused, &detail); err != nil {
				t.Fatal(err)
			}
			plan = append(plan, detail)
		}
		rows.Close()
		if joined := strings.Join(plan, "; "); strings.Contains(joined, "SCAN ") || !strings.Contains(joined, tc.index) {
			t.Errorf("%s: plan %q, want a search using %s", tc.name, joined, tc.index)
		}
	}
}

func TestSynchronous(t *testing.T) {
	dir := t.TempDir()
	for _, tc := range []struct {
		name string
		opts []Option
		want int // PRAGMA synchronous: 1 NORMAL, 2 FULL
	}{
		{"Default", nil, 1},
		{"Full", []Option{SynchronousFull()}, 2},
	} {
		db, err := Open(filepath.Join(dir, tc.name+".db"), tc.opts...)
		if err != nil {
			t.Fatal(err)
		}
		var got int
		if err := db.w.QueryRow(`PRAGMA synchronous`).Scan(&got); err != nil {
			t.Fatal(err)
		}
		if got != tc.want {
			t.Errorf("%s: synchronous = %d, want %d", tc.name, got, tc.want)
		}
		db.Close()
	}
}

func TestMigrationNames(t *testing.T) {
	names, err := fs.Glob(migrations, "migrations/*.sql")
	if err != nil || len(names) == 0 {
		t.Fatalf("no migrations: %v", err)
	}
	for i, name := range names {
		if got := migrationVersion(name); got != i+1 {
			t.Errorf("%s has version %d, want %d: migrations are numbered 0001, 0002, ... without gaps", name, got, i+1)
		}
	}
}

func TestNewerSchemaRefused(t *testing.T) {
	path := filepath.Join(t.TempDir(), "h.db")
	db, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := db.w.Exec(`INSERT INTO schema_version (version) VALUES (999)`); err != nil {
		t.Fatal(err)
	}
	db.Close()
	if db, err := Open(path); err == nil {
		db.Close()
		t.Fatal("Open of a database with a newer schema succeeded")
	}
}

// TestMigrateMirror opens a database written before mirroring existed: its
// items get an empty Origin and its contacts can be paired.
func TestMigrateMirror(t *testing.T) {
	path := filepath.Join(t.TempDir(), "h.db")
	old := sql.OpenDB(connector{dsn: dsn(path, "_pragma=journal_mode(wal)&_pragma=foreign_keys(on)")})
	if _, err := old.Exec(`CREATE TABLE schema_version (version INTEGER NOT NULL)`); err != nil {
		t.Fatal(err)
	}
	if err := applyMigration(old, "migrations/0001_init.sql", 1); err != nil {
		t.Fatal(err)
	}
	for _, q := range []string{
		`INSERT INTO contacts VALUES ('c1', 'i1', 'f1', 'c1', '', '', 'CONNECTED', '', '{}', '["text/plain"]', '', 1, NULL, NULL)`,
		`INSERT INTO items VALUES ('c1', 1, 'it1', 'MESSAGE', 'text/plain', 'hi', 'p1', 'Casey', 'CUSTOMER', 1, NULL, NULL, '')`,
	} {
		if _, err := old.Exec(q); err != nil {
			t.Fatal(err)
		}
	}
	old.Close()

	db := openTest(t, path)
	items, err := db.FindItems(context.Background(), "c1", helpline.ItemQuery{})
	if err != nil || len(items) != 1 || items[0].Origin != "" || items[0].Content != "hi" {
		t.Fatalf("items after migrating: %+v, %v", items, err)
	}
	if err := db.CreateMirrorPairs(context.Background(), "c1", []string{"hooks"}, fromMillis(1)); err != nil {
		t.Fatal(err)
	}
	pairs, err := db.FindMirrorPairs(context.Background(), helpline.MirrorPairFilter{Behind: true})
	if err != nil || len(pairs) != 1 || pairs[0].LastSeq != 1 {
		t.Fatalf("pairs after migrating: %+v, %v", pairs, err)
	}
}

// TestMigrateOwner opens a database written before contacts had owners:
// its contacts have no owner at version 1, and the active one can be
// taken from there.
func TestMigrateOwner(t *testing.T) {
	path := filepath.Join(t.TempDir(), "h.db")
	old := sql.OpenDB(connector{dsn: dsn(path, "_pragma=journal_mode(wal)&_pragma=foreign_keys(on)")})
	if _, err := old.Exec(`CREATE TABLE schema_version (version INTEGER NOT NULL)`); err != nil {
		t.Fatal(err)
	}
	for i, name := range []string{"0001_init.sql", "0002_mirror.sql", "0003_remembered.sql"} {
		if err := applyMigration(old, "migrations/"+name, i+1); err != nil {
			t.Fatal(err)
		}
	}
	for _, q := range []string{
		`INSERT INTO contacts VALUES ('c1', 'i1', 'f1', 'c1', '', '', 'CONNECTED', '', '{}', '["text/plain"]', '', 1, NULL, NULL)`,
		`INSERT INTO contacts VALUES ('c2', 'i1', 'f1', 'c2', '', '', 'DISCONNECTED', 'API', '{}', '["text/plain"]', '', 1, NULL, 2)`,
	} {
		if _, err := old.Exec(q); err != nil {
			t.Fatal(err)
		}
	}
	old.Close()

	db := openTest(t, path)
	for _, id := range []string{"c1", "c2"} {
		c, err := db.FindContactByID(context.Background(), id)
		if err != nil || c.Owner != "" || c.Version != 1 {
			t.Fatalf("contact %s after migrating: %+v, %v; want no owner at version 1", id, c, err)
		}
	}
	c, _, err := db.ChangeOwner(context.Background(), &helpline.OwnerChange{ContactID: "c1", Version: 1, To: "queue:sales", At: fromMillis(3)})
	if err != nil || c.Owner != "queue:sales" || c.Version != 2 {
		t.Fatalf("ChangeOwner after migrating: %+v, %v", c, err)
	}
}

// TestMigrateBotState opens a database whose bot states are contact
// attributes (helpline_bot): they move to the runner's own table and the
// attribute goes, the contact's other attributes staying.
func TestMigrateBotState(t *testing.T) {
	path := filepath.Join(t.TempDir(), "h.db")
	old := sql.OpenDB(connector{dsn: dsn(path, "_pragma=journal_mode(wal)&_pragma=foreign_keys(on)")})
	if _, err := old.Exec(`CREATE TABLE schema_version (version INTEGER NOT NULL)`); err != nil {
		t.Fatal(err)
	}
	names, err := fs.Glob(migrations, "migrations/*.sql")
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range names {
		if v := migrationVersion(name); v < 7 {
			if err := applyMigration(old, name, v); err != nil {
				t.Fatal(err)
			}
		}
	}
	state := `{"bot":"shop","first_seq":3,"last_seq":5,"state":{"intent":"greeting"}}`
	for _, q := range []string{
		`INSERT INTO contacts (id, instance_id, flow_id, initial_contact_id, related_contact_id, customer_id, state, end_reason, attributes, supported_content_types, client_token, created_at, expires_at, ended_at)
			VALUES ('c1', 'i1', 'f1', 'c1', '', '', 'CONNECTED', '', json_object('orderId', 'A-1', 'helpline_bot', '` + state + `'), '["text/plain"]', '', 1, NULL, NULL)`,
		`INSERT INTO contacts (id, instance_id, flow_id, initial_contact_id, related_contact_id, customer_id, state, end_reason, attributes, supported_content_types, client_token, created_at, expires_at, ended_at)
			VALUES ('c2', 'i1', 'f1', 'c2', '', '', 'CONNECTED', '', '{"orderId":"B-2"}', '["text/plain"]', '', 1, NULL, NULL)`,
	} {
		if _, err := old.Exec(q); err != nil {
			t.Fatal(err)
		}
	}
	old.Close()

	db := openTest(t, path)
	ctx := context.Background()
	if got, err := db.FindBotState(ctx, "c1"); err != nil || string(got) != state {
		t.Errorf("c1's bot state after migrating: %q, %v; want %s", got, err, state)
	}
	if got, err := db.FindBotState(ctx, "c2"); err != nil || got != nil {
		t.Errorf("c2's bot state after migrating: %q, %v; want none", got, err)
	}
	for id, want := range map[string]string{"c1": "A-1", "c2": "B-2"} {
		c, err := db.FindContactByID(ctx, id)
		if err != nil || len(c.Attributes) != 1 || c.Attributes["orderId"] != want {
			t.Errorf("contact %s's attributes after migrating: %v, %v; want only orderId %s", id, c.Attributes, err, want)
		}
	}
}
