package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"path/filepath"
	"testing"
	"time"

	"github.com/helplinehq/helpline"
)

// TestAppendCacheFollowsWrites appends to a contact the writer remembers
// after each kind of write that changes what an append must check — by
// the store's methods and by plain SQL, as any write on the writer's
// connection may — and after a write that appended and was rolled back:
// each append must see the database as it is.
func TestAppendCacheFollowsWrites(t *testing.T) {
	ctx := context.Background()
	db := openTest(t, filepath.Join(t.TempDir(), "h.db"))
	now := time.Date(2024, 5, 1, 12, 0, 0, 0, time.UTC)
	cid := helpline.NewID()
	customer := &helpline.Participant{ID: helpline.NewID(), ContactID: cid, Role: helpline.RoleCustomer, DisplayName: "C", CreatedAt: now}
	nc := &helpline.NewContact{
		Contact:  &helpline.Contact{ID: cid, InstanceID: "i1", FlowID: "f", InitialContactID: cid, State: helpline.ContactActive, CreatedAt: now},
		Customer: customer,
	}
	if _, err := db.CreateContact(ctx, nc); err != nil {
		t.Fatal(err)
	}
	msg := func(p *helpline.Participant, token string) *helpline.Item {
		return &helpline.Item{ContactID: cid, ID: helpline.NewID(), Type: helpline.ItemMessage, ContentType: helpline.ContentPlain,
			Content: "hi", ParticipantID: p.ID, DisplayName: p.DisplayName, Role: p.Role, Time: now, ClientToken: token}
	}
	wantSeq := int64(0)
	appendOK := func(p *helpline.Participant, token string) *helpline.Item {
		t.Helper()
		it := msg(p, token)
		if replayed, err := db.AppendItem(ctx, it); err != nil || replayed {
			t.Fatalf("AppendItem: replayed %v, %v", replayed, err)
		}
		wantSeq++
		if it.Seq != wantSeq {
			t.Fatalf("Seq %d, want %d", it.Seq, wantSeq)
		}
		return it
	}
	appendFails := func(p *helpline.Participant, code string) {
		t.Helper()
		_, err := db.AppendItem(ctx, msg(p, ""))
		if helpline.ErrorCode(err) != code {
			t.Fatalf("AppendItem: %v, want %s", err, code)
		}
	}
	sqlWrite := func(query string, args ...any) {
		t.Helper()
		if err := db.write(ctx, func(tx *sql.Tx) error { _, err := tx.Exec(query, args...); return err }); err != nil {
			t.Fatal(err)
		}
	}

	first := appendOK(customer, "tok-1")
	appendOK(customer, "")

	// A retry is answered with the original, through the INSERT's conflict.
	retry := msg(customer, "tok-1")
	if replayed, err := db.AppendItem(ctx, retry); err != nil || !replayed || retry.Seq != first.Seq || retry.ID != first.ID {
		t.Fatalf("retry: replayed %v Seq %d ID %s, %v; want the original (Seq %d)", replayed, retry.Seq, retry.ID, err, first.Seq)
	}

	// Another write appends (a participant joins): the next Seq follows it.
	agent := &helpline.Participant{ID: helpline.NewID(), ContactID: cid, Role: helpline.RoleAgent, DisplayName: "A", CreatedAt: now}
	join := &helpline.Item{ContactID: cid, ID: helpline.NewID(), Type: helpline.ItemEvent, ContentType: helpline.EventParticipantJoined,
		ParticipantID: agent.ID, Role: helpline.RoleAgent, Time: now}
	if _, err := db.CreateParticipant(ctx, agent, []*helpline.Item{join}); err != nil {
		t.Fatal(err)
	}
	wantSeq++
	appendOK(agent, "")
	appendOK(customer, "")

	// A write that appended and then failed leaves no trace.
	errBoom := errors.New("boom")
	err := db.write(ctx, func(tx *sql.Tx) error {
		s, err := db.appendable(tx, msg(customer, ""), nil)
		if err != nil {
			return err
		}
		it := msg(customer, "")
		if _, err := insertOnce(tx, it, s.lastSeq+1); err != nil {
			return err
		}
		db.appends.appended(cid, s, it.Seq)
		return errBoom
	})
	if !errors.Is(err, errBoom) {
		t.Fatalf("failing write: %v", err)
	}
	appendOK(customer, "")

	// The owner changes by plain SQL, as routing does: an owned append
	// for the old owner is refused.
	sqlWrite(`UPDATE contacts SET owner = 'agent:x', version = version + 1 WHERE id = ?`, cid)
	if _, err := db.AppendOwnedItem(ctx, msg(customer, ""), ""); helpline.ErrorCode(err) != helpline.ECONFLICT {
		t.Fatalf("AppendOwnedItem for the old owner: %v, want ECONFLICT", err)
	}
	if _, err := db.AppendOwnedItem(ctx, msg(customer, ""), "agent:x"); err != nil {
		t.Fatalf("AppendOwnedItem for the new owner: %v", err)
	}
	wantSeq++

	// The agent leaves by plain SQL: its appends are refused, the
	// customer's still taken.
	sqlWrite(`UPDATE participants SET left_at = ? WHERE id = ?`, now.UnixMilli(), agent.ID)
	appendFails(agent, helpline.EFORBIDDEN)
	appendOK(customer, "")

	// The contact ends: appends are refused, a retry still answered.
	if _, err := db.EndContact(ctx, cid, "done", now, nil); err != nil {
		t.Fatal(err)
	}
	appendFails(customer, helpline.ECONFLICT)
	retry = msg(customer, "tok-1")
	if replayed, err := db.AppendItem(ctx, retry); err != nil || !replayed || retry.ID != first.ID {
		t.Fatalf("retry after the end: replayed %v ID %s, %v; want the original", replayed, retry.ID, err)
	}

	last, err := db.FindContactByID(ctx, cid)
	if err != nil || last.LastSeq != wantSeq {
		t.Fatalf("LastSeq %v, %v; want %d", last, err, wantSeq)
	}
}
