package app

import (
	"context"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/helplinehq/helpline"
	"github.com/helplinehq/helpline/blobfs"
	"github.com/helplinehq/helpline/postgres"
	"github.com/helplinehq/helpline/postgres/pgtest"
	"github.com/helplinehq/helpline/sqlite"
)

// The store and blobs settings take only the forms documented.
func TestLoadRejectsBadStorage(t *testing.T) {
	for _, body := range []string{
		"store: mysql://db/helpline\n",
		"store: helpline.db\n",
		"blobs: s3://bucket\n",
		"blobs: \"dir:\"\n",
		"blobs: /srv/attachments\n",
	} {
		path := filepath.Join(t.TempDir(), "helpline.yaml")
		if err := os.WriteFile(path, []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
		if _, err := Load(path); err == nil || !strings.Contains(err.Error(), strings.SplitN(body, ":", 2)[0]) {
			t.Errorf("%q: err = %v, want an error naming the setting", body, err)
		}
	}
	t.Setenv(StoreEnv, "mongodb://db")
	if _, err := Load(""); err == nil || !strings.Contains(err.Error(), "store") {
		t.Errorf("%s=mongodb://db: Load = %v, want a store error", StoreEnv, err)
	}
}

// HELPLINE_STORE replaces the file's store; without either the store is
// SQLite in the data directory, its attachments in a directory there.
func TestStoreFromEnvironment(t *testing.T) {
	cfg := loadConfig(t, "store: sqlite\n")
	store, err := OpenStore(cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	if _, ok := store.(*sqlite.DB); !ok {
		t.Fatalf("store: sqlite opened a %T", store)
	}
	if _, err := os.Stat(filepath.Join(cfg.Data, "helpline.db")); err != nil {
		t.Errorf("no helpline.db in the data directory: %v", err)
	}
	blobs, err := OpenBlobs(cfg, store)
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := blobs.(*blobfs.Store); !ok {
		t.Errorf("SQLite's attachments opened a %T, want a directory", blobs)
	}

	dsn := pgtest.Schema(t)
	t.Setenv(StoreEnv, dsn)
	cfg = loadConfig(t, "store: sqlite\n")
	if cfg.Store != dsn {
		t.Fatalf("with %s set the store is %q, want %q", StoreEnv, cfg.Store, dsn)
	}
	pg, err := OpenStore(cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer pg.Close()
	if _, ok := pg.(*postgres.DB); !ok {
		t.Fatalf("a postgres:// store opened a %T", pg)
	}
	if blobs, err := OpenBlobs(cfg, pg); err != nil {
		t.Fatal(err)
	} else if _, ok := blobs.(*postgres.Blobs); !ok {
		t.Errorf("PostgreSQL's attachments opened a %T, want the database's by default", blobs)
	}
	cfg.Blobs = "dir:" + filepath.Join(t.TempDir(), "shared")
	if blobs, err := OpenBlobs(cfg, pg); err != nil {
		t.Fatal(err)
	} else if _, ok := blobs.(*blobfs.Store); !ok {
		t.Errorf("blobs: dir:... opened a %T, want a directory", blobs)
	}
	if _, err := os.Stat(strings.TrimPrefix(cfg.Blobs, "dir:")); err != nil {
		t.Errorf("the shared directory was not created: %v", err)
	}
}

// blobs: postgres with the SQLite store stops the node from starting,
// naming the mistake, and closes the store it opened.
func TestBlobsPostgresNeedsPostgresStore(t *testing.T) {
	cfg := loadConfig(t, "blobs: postgres\nconnectors:\n  - name: probe-blobs\n    kind: probe\n")
	_, err := New(context.Background(), cfg, quiet())
	if err == nil || !strings.Contains(err.Error(), "blobs: postgres needs a PostgreSQL store") {
		t.Fatalf("New = %v, want the blobs error", err)
	}
	if got := probeNamed(t, "probe-blobs").lifecycle(); strings.Join(got, ",") != "new,close" {
		t.Errorf("connector lifecycle %q, want new, close", got)
	}
}

// A node on PostgreSQL starts, takes a chat through its intake, stores
// it in the database and mirrors it; a second node on the same database
// finds the chat and the default instance the first created.
func TestNodeOnPostgres(t *testing.T) {
	ctx := context.Background()
	dsn := pgtest.Schema(t)
	cfg := loadConfig(t, "store: "+dsn+"\nconnectors:\n  - name: probe-pg\n    kind: probe\n")
	node, err := New(ctx, cfg, quiet())
	if err != nil {
		t.Fatal(err)
	}
	defer node.Close()
	if _, ok := node.store.(*postgres.DB); !ok {
		t.Fatalf("the node's store is a %T", node.store)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	runCtx, stop := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- node.Run(runCtx, ln, nil) }()

	p := probeNamed(t, "probe-pg")
	p.mu.Lock()
	intake := p.node.Intake
	p.mu.Unlock()
	id := node.Identity()
	started, err := intake.StartChat(ctx, helpline.StartChatInput{InstanceID: id.InstanceID, ContactFlowID: id.FlowID, DisplayName: "Ada", ClientToken: "pg"})
	if err != nil {
		t.Fatal(err)
	}
	for deadline := time.Now().Add(10 * time.Second); !p.mirrored(started.Contact.ID); {
		if time.Now().After(deadline) {
			t.Fatal("the chat was never mirrored")
		}
		time.Sleep(10 * time.Millisecond)
	}
	stop()
	if err := <-done; err != nil {
		t.Fatalf("Run: %v", err)
	}

	other := loadConfig(t, "store: "+dsn+"\n")
	second, err := New(ctx, other, quiet())
	if err != nil {
		t.Fatal(err)
	}
	defer second.Close()
	if *second.Identity() != *id {
		t.Errorf("the second node's identity %+v, want the first's %+v", second.Identity(), id)
	}
	c, err := second.store.FindContactByID(ctx, started.Contact.ID)
	if err != nil || c.InstanceID != id.InstanceID {
		t.Errorf("the second node finds the chat as %+v, %v", c, err)
	}
}
