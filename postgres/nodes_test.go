package postgres_test

import (
	"context"
	"fmt"
	"io/fs"
	"os"
	"regexp"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/helplinehq/helpline"
	"github.com/helplinehq/helpline/postgres"
	"github.com/helplinehq/helpline/postgres/pgtest"
)

// Tests of what only a store shared by several nodes shows: two DB values
// on one schema stand for two nodes, each with its own pool.

var base = time.Date(2024, 5, 1, 12, 0, 0, 0, time.UTC)

// newContact returns an active contact of i1 with its customer and one
// opening item, mirrored by connectors.
func newContact(connectors ...string) *helpline.NewContact {
	id := helpline.NewID()
	customer := &helpline.Participant{ID: helpline.NewID(), ContactID: id, Role: helpline.RoleCustomer, DisplayName: "Customer", CreatedAt: base}
	return &helpline.NewContact{
		Contact: &helpline.Contact{
			ID: id, InstanceID: "i1", FlowID: "f1", InitialContactID: id, State: helpline.ContactActive,
			SupportedContentTypes: []string{helpline.ContentPlain}, CreatedAt: base, ExpiresAt: base.Add(time.Hour),
		},
		Customer: customer,
		Items: []*helpline.Item{{
			ContactID: id, ID: helpline.NewID(), Type: helpline.ItemEvent, ContentType: helpline.EventParticipantJoined,
			ParticipantID: customer.ID, DisplayName: customer.DisplayName, Role: customer.Role, Time: base,
		}},
		Mirrors: connectors,
	}
}

func message(p *helpline.Participant, content, token string) *helpline.Item {
	return &helpline.Item{
		ContactID: p.ContactID, ID: helpline.NewID(), Type: helpline.ItemMessage, ContentType: helpline.ContentPlain,
		Content: content, ParticipantID: p.ID, DisplayName: p.DisplayName, Role: p.Role, Time: base, ClientToken: token,
	}
}

func mustCreate(t *testing.T, s helpline.Store, nc *helpline.NewContact) {
	t.Helper()
	if _, err := s.CreateContact(context.Background(), nc); err != nil {
		t.Fatal(err)
	}
}

// Nodes starting at once on an empty schema all open it, and the
// migrations are applied once.
func TestConcurrentOpen(t *testing.T) {
	dsn := pgtest.Schema(t)
	const nodes = 6
	var wg sync.WaitGroup
	errs := make([]error, nodes)
	for i := range nodes {
		wg.Go(func() {
			db, err := postgres.Open(context.Background(), dsn, postgres.PoolSize(2))
			if err == nil {
				db.Close()
			}
			errs[i] = err
		})
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Errorf("node %d: Open: %v", i, err)
		}
	}
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	rows, err := conn.Query(ctx, `SELECT version FROM schema_version ORDER BY version`)
	if err != nil {
		t.Fatal(err)
	}
	versions, err := pgx.CollectRows(rows, pgx.RowTo[int])
	if err != nil {
		t.Fatal(err)
	}
	names, _ := fs.Glob(os.DirFS("migrations"), "*.sql")
	want := make([]int, len(names))
	for i := range want {
		want[i] = i + 1
	}
	if !slices.Equal(versions, want) {
		t.Errorf("schema_version holds %v, want each migration once: %v", versions, want)
	}
	// A node opening the migrated schema again changes nothing.
	open(t, dsn)
}

// Migration files are numbered from 0001 on, one number each, with a
// name: Open applies them in that order.
func TestMigrationNames(t *testing.T) {
	names, err := fs.Glob(os.DirFS("migrations"), "*")
	if err != nil || len(names) == 0 {
		t.Fatalf("no migrations: %v", err)
	}
	form := regexp.MustCompile(`^(\d{4})_[a-z0-9_]+\.sql$`)
	for i, name := range names {
		m := form.FindStringSubmatch(name)
		if m == nil {
			t.Errorf("migration %s is not named NNNN_name.sql", name)
		} else if want := fmt.Sprintf("%04d", i+1); m[1] != want {
			t.Errorf("migration %s has number %s, want %s", name, m[1], want)
		}
	}
}

// A schema newer than the program is refused rather than used.
func TestNewerSchemaRefused(t *testing.T) {
	dsn := pgtest.Schema(t)
	db := open(t, dsn)
	db.Close()
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	if _, err := conn.Exec(ctx, `INSERT INTO schema_version (version) VALUES (9999)`); err != nil {
		t.Fatal(err)
	}
	if db, err := postgres.Open(ctx, dsn); err == nil {
		db.Close()
		t.Fatal("Open of a schema at version 9999 succeeded")
	}
}

// Two nodes appending to the same contacts at once number each contact's
// items 1, 2, 3, ... with no gap and no number twice, and a retried
// append, on either node, stores nothing.
func TestNodesAppendToOneContact(t *testing.T) {
	ctx := context.Background()
	dsn := pgtest.Schema(t)
	nodes := []*postgres.DB{open(t, dsn, postgres.PoolSize(4)), open(t, dsn, postgres.PoolSize(4))}
	contacts := []*helpline.NewContact{newContact(), newContact()}
	for _, nc := range contacts {
		mustCreate(t, nodes[0], nc)
	}
	const (
		writersPerNode = 6
		perWriter      = 16
	)
	var wg sync.WaitGroup
	for n, node := range nodes {
		for w := range writersPerNode {
			wg.Go(func() {
				for j := range perWriter {
					nc := contacts[j%len(contacts)]
					// Both nodes send every token once: of each pair, one
					// stores and the other replays.
					token := fmt.Sprintf("w%d-%d", w, j)
					if _, err := node.AppendItem(ctx, message(nc.Customer, fmt.Sprintf("node %d %s", n, token), token)); err != nil {
						t.Errorf("node %d: AppendItem: %v", n, err)
						return
					}
				}
			})
		}
	}
	wg.Wait()
	for _, nc := range contacts {
		for n, node := range nodes {
			items, err := node.FindItems(ctx, nc.Contact.ID, helpline.ItemQuery{})
			if err != nil {
				t.Fatal(err)
			}
			want := 1 + writersPerNode*perWriter/len(contacts)
			tokens := map[string]bool{}
			for i, it := range items {
				if it.Seq != int64(i+1) {
					t.Fatalf("node %d: contact %s item %d has Seq %d: numbering has a gap or a repeat", n, nc.Contact.ID, i, it.Seq)
				}
				if tokens[it.ClientToken] {
					t.Errorf("token %s stored twice", it.ClientToken)
				}
				tokens[it.ClientToken] = it.ClientToken != ""
			}
			if len(items) != want {
				t.Errorf("node %d: contact has %d items, want %d (the opening one and each token once)", n, len(items), want)
			}
			c, err := node.FindContactByID(ctx, nc.Contact.ID)
			if err != nil {
				t.Fatal(err)
			}
			if c.LastSeq != int64(len(items)) {
				t.Errorf("node %d: LastSeq %d, want %d", n, c.LastSeq, len(items))
			}
		}
	}
}

// Two nodes claiming one connector's pairs at once never hold one pair
// both; between them they claim every pair.
func TestNodesClaimMirrorPairs(t *testing.T) {
	ctx := context.Background()
	dsn := pgtest.Schema(t)
	nodes := []*postgres.DB{open(t, dsn), open(t, dsn)}
	const pairs = 30
	for range pairs {
		mustCreate(t, nodes[0], newContact("hooks"))
	}
	var (
		mu     sync.Mutex
		holder = map[string]string{}
		wg     sync.WaitGroup
	)
	for n, node := range nodes {
		for w := range 3 {
			owner := fmt.Sprintf("node%d-w%d", n, w)
			wg.Go(func() {
				for {
					claimed, err := node.ClaimMirrorPairs(ctx, "hooks", "", owner, base, time.Minute, 4)
					if err != nil {
						t.Errorf("%s: %v", owner, err)
						return
					}
					if len(claimed) == 0 {
						return
					}
					mu.Lock()
					for _, p := range claimed {
						if other, ok := holder[p.ContactID]; ok {
							t.Errorf("pair %s claimed by %s and %s", p.ContactID, other, owner)
						}
						holder[p.ContactID] = owner
					}
					mu.Unlock()
				}
			})
		}
	}
	wg.Wait()
	if len(holder) != pairs {
		t.Errorf("%d pairs claimed, want %d", len(holder), pairs)
	}
	stored, err := nodes[1].FindMirrorPairs(ctx, helpline.MirrorPairFilter{Connector: "hooks"})
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range stored {
		if p.LeaseOwner != holder[p.ContactID] {
			t.Errorf("pair %s is leased to %q, but %q claimed it", p.ContactID, p.LeaseOwner, holder[p.ContactID])
		}
	}
}

// Owner changes racing from one version on two nodes: exactly one wins,
// and the contact holds one transition item.
func TestNodesChangeOwner(t *testing.T) {
	ctx := context.Background()
	dsn := pgtest.Schema(t)
	nodes := []*postgres.DB{open(t, dsn), open(t, dsn)}
	nc := newContact()
	nc.Contact.Owner = "bot:shop"
	mustCreate(t, nodes[0], nc)
	const racers = 8
	var wg sync.WaitGroup
	wins := make([]bool, racers)
	for i := range racers {
		wg.Go(func() {
			ch := &helpline.OwnerChange{ContactID: nc.Contact.ID, From: "bot:shop", Version: 1,
				To: fmt.Sprintf("queue:q%d", i), Reason: "handoff", Actor: "bot:shop", At: base}
			_, _, err := nodes[i%2].ChangeOwner(ctx, ch)
			switch helpline.ErrorCode(err) {
			case "":
				wins[i] = true
			case helpline.ECONFLICT:
			default:
				t.Errorf("racer %d: %v", i, err)
			}
		})
	}
	wg.Wait()
	won := 0
	for _, w := range wins {
		if w {
			won++
		}
	}
	if won != 1 {
		t.Errorf("%d changes won, want 1", won)
	}
	c, err := nodes[1].FindContactByID(ctx, nc.Contact.ID)
	if err != nil {
		t.Fatal(err)
	}
	if c.Version != 2 || c.LastSeq != 2 {
		t.Errorf("after the race: Version %d LastSeq %d, want 2 and 2 (one change, one item)", c.Version, c.LastSeq)
	}
}

// An append reads the contact as the append it waited for left it. Each
// case holds the contact's row lock in a transaction of its own, starts
// appends on two nodes, which wait for it, writes what the case changes
// and commits; the appends then see the change.
func TestNodesAppendWaitingForTheContact(t *testing.T) {
	ctx := context.Background()
	dsn := pgtest.Schema(t)
	nodes := []*postgres.DB{open(t, dsn, postgres.PoolSize(2)), open(t, dsn, postgres.PoolSize(2))}
	type result struct {
		it       *helpline.Item
		replayed bool
		err      error
	}
	// waitingAppends locks nc's contact, runs append on each node,
	// waits until both wait for the lock, runs change in the locking
	// transaction, commits and returns the appends' results.
	waitingAppends := func(t *testing.T, nc *helpline.NewContact, change string, append func(node *postgres.DB) result) []result {
		t.Helper()
		conn, err := pgx.Connect(ctx, dsn)
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close(ctx)
		tx, err := conn.Begin(ctx)
		if err != nil {
			t.Fatal(err)
		}
		defer tx.Rollback(ctx)
		var holder uint32
		if err := tx.QueryRow(ctx, `SELECT pg_backend_pid() FROM contacts WHERE id = $1 FOR UPDATE`, nc.Contact.ID).Scan(&holder); err != nil {
			t.Fatal(err)
		}
		results := make([]result, len(nodes))
		var wg sync.WaitGroup
		for i, node := range nodes {
			wg.Go(func() { results[i] = append(node) })
		}
		// Both appends wait: on the holder, or on the other append
		// queued before on the same row.
		for deadline := time.Now().Add(10 * time.Second); ; {
			rows, err := conn.Query(ctx, `SELECT pid, pg_blocking_pids(pid) FROM pg_stat_activity WHERE cardinality(pg_blocking_pids(pid)) > 0`)
			if err != nil {
				t.Fatal(err)
			}
			blocked := map[uint32][]uint32{}
			var (
				pid uint32
				by  []uint32
			)
			if _, err := pgx.ForEachRow(rows, []any{&pid, &by}, func() error { blocked[pid] = slices.Clone(by); return nil }); err != nil {
				t.Fatal(err)
			}
			waiting := map[uint32]bool{holder: true}
			for range 2 {
				for pid, by := range blocked {
					if slices.ContainsFunc(by, func(b uint32) bool { return waiting[b] }) {
						waiting[pid] = true
					}
				}
			}
			if len(waiting) == 1+len(nodes) {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("the appends do not wait for the contact's lock: %v", blocked)
			}
			time.Sleep(10 * time.Millisecond)
		}
		if change != "" {
			if _, err := tx.Exec(ctx, change, nc.Contact.ID); err != nil {
				t.Fatal(err)
			}
		}
		if err := tx.Commit(ctx); err != nil {
			t.Fatal(err)
		}
		wg.Wait()
		return results
	}

	t.Run("same token", func(t *testing.T) {
		// Neither append's statement saw the other's item when it began:
		// one stores it, the other answers it as a replay.
		nc := newContact()
		mustCreate(t, nodes[0], nc)
		results := waitingAppends(t, nc, "", func(node *postgres.DB) result {
			it := message(nc.Customer, "hello", "tok")
			replayed, err := node.AppendItem(ctx, it)
			return result{it, replayed, err}
		})
		for i, r := range results {
			if r.err != nil {
				t.Fatalf("node %d: %v", i, r.err)
			}
		}
		if results[0].replayed == results[1].replayed {
			t.Errorf("replayed %v and %v, want one of each", results[0].replayed, results[1].replayed)
		}
		if results[0].it.Seq != 2 || results[1].it.Seq != 2 || results[0].it.ID != results[1].it.ID {
			t.Errorf("items %s/%d and %s/%d, want one item, Seq 2", results[0].it.ID, results[0].it.Seq, results[1].it.ID, results[1].it.Seq)
		}
		c, err := nodes[1].FindContactByID(ctx, nc.Contact.ID)
		if err != nil {
			t.Fatal(err)
		}
		items, err := nodes[1].FindItems(ctx, nc.Contact.ID, helpline.ItemQuery{})
		if err != nil {
			t.Fatal(err)
		}
		if c.LastSeq != 2 || len(items) != 2 {
			t.Errorf("LastSeq %d and %d items, want 2 and 2", c.LastSeq, len(items))
		}
		// The numbering goes on without a gap.
		it := message(nc.Customer, "again", "tok2")
		if _, err := nodes[0].AppendItem(ctx, it); err != nil || it.Seq != 3 {
			t.Errorf("next append: Seq %d, %v; want 3", it.Seq, err)
		}
	})

	for _, tc := range []struct {
		name, change string
		owned        bool
		code         string
	}{
		{"ended", `UPDATE contacts SET state = '` + helpline.ContactEnded + `' WHERE id = $1`, false, helpline.ECONFLICT},
		{"owner changed", `UPDATE contacts SET owner = 'agent:b' WHERE id = $1`, true, helpline.ECONFLICT},
		// As LeaveParticipant writes it: the participant, and the
		// contact's count of leaves.
		{"sender left", `WITH leave AS (UPDATE participants SET left_at = 1 WHERE contact_id = $1)
			UPDATE contacts SET leaves = leaves + 1 WHERE id = $1`, false, helpline.EFORBIDDEN},
	} {
		t.Run(tc.name, func(t *testing.T) {
			nc := newContact()
			nc.Contact.Owner = "agent:a"
			mustCreate(t, nodes[0], nc)
			n := 0
			var mu sync.Mutex
			results := waitingAppends(t, nc, tc.change, func(node *postgres.DB) result {
				mu.Lock()
				n++
				it := message(nc.Customer, "hello", fmt.Sprintf("tok%d", n))
				mu.Unlock()
				var (
					replayed bool
					err      error
				)
				if tc.owned {
					replayed, err = node.AppendOwnedItem(ctx, it, "agent:a")
				} else {
					replayed, err = node.AppendItem(ctx, it)
				}
				return result{it, replayed, err}
			})
			for i, r := range results {
				if helpline.ErrorCode(r.err) != tc.code {
					t.Errorf("node %d: %v, want %s", i, r.err, tc.code)
				}
			}
			c, err := nodes[1].FindContactByID(ctx, nc.Contact.ID)
			if err != nil {
				t.Fatal(err)
			}
			if items, err := nodes[1].FindItems(ctx, nc.Contact.ID, helpline.ItemQuery{}); err != nil {
				t.Fatal(err)
			} else if len(items) != 1 || c.LastSeq != items[0].Seq {
				t.Errorf("LastSeq %d and %d items, want the opening item only", c.LastSeq, len(items))
			}
		})
	}
}
