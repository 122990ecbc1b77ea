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

// Nodes starting at once on one empty PostgreSQL store, with agents and
// queues in their configuration, all start with one identity, and the
// agents are made once.
func TestNodesStartAtOnceOnPostgres(t *testing.T) {
	t.Setenv("ADA_PASSWORD", "ada's long passphrase")
	dsn := pgtest.Schema(t)
	const nodes = 4
	errs := make(chan error, nodes)
	ids := make(chan Identity, nodes)
	for range nodes {
		cfg := loadConfig(t, "store: "+dsn+"\nqueues:\n  - id: sales\nagents:\n  - id: ada\n    email: ada@example.com\n    queues: [sales]\n    password_env: ADA_PASSWORD\n")
		go func() {
			node, err := New(context.Background(), cfg, quiet())
			if err == nil {
				ids <- *node.Identity()
				err = node.Close()
			}
			errs <- err
		}()
	}
	for range nodes {
		if err := <-errs; err != nil {
			t.Errorf("a node starting with the others: %v", err)
		}
	}
	close(ids)
	first := <-ids
	for id := range ids {
		if id != first {
			t.Errorf("nodes started with identities %+v and %+v, want one", first, id)
		}
	}
	store, err := postgres.Open(context.Background(), dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	agents, err := store.FindAgents(context.Background(), first.InstanceID)
	if err != nil || len(agents) != 1 || agents[0].ID != "ada" || agents[0].PasswordHash == "" {
		t.Errorf("agents %+v, %v; want ada once, with her password", agents, err)
	}
}

// racingStore stands for another node that creates the agent between
// saveAgent's lookup and its create.
type racingStore struct {
	helpline.Store
	rival *helpline.Agent
}

func (r *racingStore) FindAgentByID(ctx context.Context, instanceID, id string) (*helpline.Agent, error) {
	if rival := r.rival; rival != nil {
		r.rival = nil
		if err := r.Store.CreateAgent(ctx, rival); err != nil {
			return nil, err
		}
		return nil, helpline.NotFound(helpline.ResourceAgent, id)
	}
	return r.Store.FindAgentByID(ctx, instanceID, id)
}

// A node whose create of a configured agent finds it made meanwhile by
// another node updates it to the configuration instead of failing, and
// keeps the other's password when the configuration sets none.
func TestSaveAgentRacedByAnotherNode(t *testing.T) {
	ctx := context.Background()
	cfg := loadConfig(t, "store: sqlite\n")
	store, err := OpenStore(cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	instance, err := DefaultInstanceID(ctx, store)
	if err != nil {
		t.Fatal(err)
	}
	rival := &helpline.Agent{InstanceID: instance, ID: "ada", Email: "ada@example.com", PasswordHash: "rival-hash", Capacity: 2, Enabled: true}
	mine := &helpline.Agent{InstanceID: instance, ID: "ada", Email: "ada@example.com", Capacity: 5, Enabled: true}
	if err := saveAgent(ctx, &racingStore{Store: store, rival: rival}, mine); err != nil {
		t.Fatalf("saveAgent raced by another node: %v", err)
	}
	got, err := store.FindAgentByID(ctx, instance, "ada")
	if err != nil || got.Capacity != 5 || got.PasswordHash != "rival-hash" {
		t.Errorf("agent %+v, %v; want the configuration's capacity 5 and the stored password", got, err)
	}
	// A create that conflicts for another reason (the email is another
	// agent's) still fails.
	bo := &helpline.Agent{InstanceID: instance, ID: "bo", Email: "ada@example.com", Capacity: 1, Enabled: true}
	if err := saveAgent(ctx, store, bo); helpline.ErrorCode(err) != helpline.ECONFLICT {
		t.Errorf("saveAgent of a taken email = %v, want ECONFLICT", err)
	}
}
