package storetest

import (
	"context"
	"fmt"
	"reflect"
	"testing"
	"time"

	"github.com/helplinehq/helpline"
)

// lease is how long the mirror rules' claims lease a pair.
const lease = time.Minute

// mirrored creates a contact paired with the connectors, and appends n
// messages after its participant-joined item.
func mirrored(t *testing.T, s helpline.Store, n int, connectors ...string) *helpline.NewContact {
	t.Helper()
	nc := newContact("i1")
	nc.Mirrors = connectors
	mustCreateContact(t, s, nc)
	for i := range n {
		mustAppend(t, s, message(nc.Customer, fmt.Sprint("line ", i), "", at(time.Duration(i)*time.Second)))
	}
	return nc
}

func mustClaim(t *testing.T, s helpline.Store, connector, contactID, owner string, now time.Time, limit int) []*helpline.MirrorPair {
	t.Helper()
	pairs, err := s.ClaimMirrorPairs(context.Background(), connector, contactID, owner, now, lease, limit)
	if err != nil {
		t.Fatalf("ClaimMirrorPairs(%s, %q, %s): %v", connector, contactID, owner, err)
	}
	return pairs
}

func mustFindPairs(t *testing.T, s helpline.Store, f helpline.MirrorPairFilter) []*helpline.MirrorPair {
	t.Helper()
	pairs, err := s.FindMirrorPairs(context.Background(), f)
	if err != nil {
		t.Fatalf("FindMirrorPairs(%+v): %v", f, err)
	}
	return pairs
}

// mustFindPair returns the connector's pair of contactID.
func mustFindPair(t *testing.T, s helpline.Store, connector, contactID string) *helpline.MirrorPair {
	t.Helper()
	pairs := mustFindPairs(t, s, helpline.MirrorPairFilter{Connector: connector, ContactID: contactID})
	if len(pairs) != 1 {
		t.Fatalf("%d pairs of %s/%s, want 1", len(pairs), connector, contactID)
	}
	return pairs[0]
}

func mustSavePair(t *testing.T, s helpline.Store, p *helpline.MirrorPair, owner string, now time.Time) {
	t.Helper()
	if err := s.SaveMirrorPair(context.Background(), p, owner, now); err != nil {
		t.Fatalf("SaveMirrorPair(%s/%s by %s): %v", p.Connector, p.ContactID, owner, err)
	}
}

// testCreateContactWithMirrors checks that CreateContact creates one pair
// for each of nc.Mirrors, at cursor 0 and due at once; a replayed
// CreateContact creates none.
func testCreateContactWithMirrors(t *testing.T, open func(t *testing.T) helpline.Store) {
	ctx := context.Background()
	s := open(t)
	nc := mirrored(t, s, 2, "hooks", "zendesk")
	pairs := mustFindPairs(t, s, helpline.MirrorPairFilter{ContactID: nc.Contact.ID})
	if len(pairs) != 2 {
		t.Fatalf("%d pairs, want 2", len(pairs))
	}
	for i, name := range []string{"hooks", "zendesk"} {
		p := pairs[i]
		want := helpline.MirrorPair{
			Connector: name, ContactID: nc.Contact.ID, Refs: map[string]string{}, State: helpline.MirrorActive,
			NextAttempt: base, LastSeq: 3, UpdatedAt: base,
		}
		if !reflect.DeepEqual(*p, want) {
			t.Errorf("pair %d\n got %+v\nwant %+v", i, *p, want)
		}
	}
	// A replayed CreateContact creates no pairs of its own.
	nc2 := newContact("i1")
	nc2.Contact.ClientToken = "start-1"
	nc2.Mirrors = []string{"hooks"}
	mustCreateContact(t, s, nc2)
	retry := newContact("i1")
	retry.Contact.ClientToken = "start-1"
	retry.Mirrors = []string{"zendesk"}
	if replayed, err := s.CreateContact(ctx, retry); err != nil || !replayed {
		t.Fatalf("retried CreateContact: replayed %v, %v", replayed, err)
	}
	if got := mustFindPairs(t, s, helpline.MirrorPairFilter{ContactID: nc2.Contact.ID}); len(got) != 1 || got[0].Connector != "hooks" {
		t.Errorf("pairs after a replay: %+v, want only hooks", got)
	}
	// Without Mirrors, no pairs.
	plain := mirrored(t, s, 0)
	if got := mustFindPairs(t, s, helpline.MirrorPairFilter{ContactID: plain.Contact.ID}); len(got) != 0 {
		t.Errorf("contact without mirrors has %d pairs", len(got))
	}
}

// testCreateMirrorPairsIdempotent checks that CreateMirrorPairs adds the
// missing pairs and leaves the existing ones as they are; ENOTFOUND for an
// unknown contact.
func testCreateMirrorPairsIdempotent(t *testing.T, open func(t *testing.T) helpline.Store) {
	ctx := context.Background()
	s := open(t)
	nc := mirrored(t, s, 1, "hooks")
	p := mustClaim(t, s, "hooks", "", "w1", at(time.Second), 10)[0]
	p.Cursor, p.Refs = 2, map[string]string{"id": "7"}
	mustSavePair(t, s, p, "w1", at(2*time.Second))
	for range 2 {
		if err := s.CreateMirrorPairs(ctx, nc.Contact.ID, []string{"hooks", "zendesk"}, at(time.Hour)); err != nil {
			t.Fatalf("CreateMirrorPairs: %v", err)
		}
	}
	pairs := mustFindPairs(t, s, helpline.MirrorPairFilter{ContactID: nc.Contact.ID})
	if len(pairs) != 2 {
		t.Fatalf("%d pairs, want 2", len(pairs))
	}
	if h := pairs[0]; h.Cursor != 2 || h.Refs["id"] != "7" {
		t.Errorf("existing pair changed: %+v", h)
	}
	if z := pairs[1]; z.Cursor != 0 || z.State != helpline.MirrorActive || !z.NextAttempt.Equal(at(time.Hour)) {
		t.Errorf("new pair %+v, want cursor 0, active, due at the given time", z)
	}
	err := s.CreateMirrorPairs(ctx, "no-such-contact", []string{"hooks"}, base)
	wantCode(t, "CreateMirrorPairs of an unknown contact", err, helpline.ENOTFOUND)
}

// testResumeMirrorPairs checks that ResumeMirrorPairs makes parked pairs
// active and due again, by connector and contact or all of them.
func testResumeMirrorPairs(t *testing.T, open func(t *testing.T) helpline.Store) {
	ctx := context.Background()
	s := open(t)
	a := mirrored(t, s, 1, "hooks", "zendesk")
	b := mirrored(t, s, 1, "hooks")
	for _, name := range []string{"hooks", "zendesk"} {
		for _, p := range mustClaim(t, s, name, "", "w1", base, 10) {
			p.State, p.Attempts, p.LastError = helpline.MirrorParked, 4, "HTTP 422: invalid requester"
			mustSavePair(t, s, p, "w1", base)
		}
	}
	if got := mustFindPairs(t, s, helpline.MirrorPairFilter{State: helpline.MirrorParked}); len(got) != 3 {
		t.Fatalf("%d parked pairs, want 3", len(got))
	}
	if got := mustClaim(t, s, "hooks", "", "w1", at(time.Hour), 10); len(got) != 0 {
		t.Fatal("a parked pair was claimed")
	}
	n, err := s.ResumeMirrorPairs(ctx, "hooks", a.Contact.ID, at(time.Minute))
	if err != nil || n != 1 {
		t.Fatalf("resume one pair: %d, %v", n, err)
	}
	p := mustFindPair(t, s, "hooks", a.Contact.ID)
	if p.State != helpline.MirrorActive || p.Attempts != 0 || p.LastError != "" || !p.NextAttempt.Equal(at(time.Minute)) {
		t.Errorf("resumed pair %+v, want active, attempts 0, no error, due at the resume time", p)
	}
	if z := mustFindPair(t, s, "zendesk", a.Contact.ID); z.State != helpline.MirrorParked || z.LastError == "" {
		t.Errorf("the other connector's pair was resumed too: %+v", z)
	}
	if got := mustClaim(t, s, "hooks", "", "w1", at(time.Minute), 10); len(got) != 1 || got[0].ContactID != a.Contact.ID {
		t.Errorf("after resume claimed %+v, want the resumed pair", got)
	}
	n, err = s.ResumeMirrorPairs(ctx, "", "", at(time.Minute))
	if err != nil || n != 2 {
		t.Fatalf("resume all: %d, %v; want 2", n, err)
	}
	if got := mustFindPair(t, s, "hooks", b.Contact.ID); got.State != helpline.MirrorActive {
		t.Errorf("pair of b after resume all: %+v", got)
	}
	// Resuming touches no active or done pair.
	if n, err := s.ResumeMirrorPairs(ctx, "", "", at(time.Hour)); err != nil || n != 0 {
		t.Errorf("resume with nothing parked: %d, %v", n, err)
	}
}

// testFindMirrorPairs checks that FindMirrorPairs filters by connector,
// contact, state and Behind, in (connector, contact) order, up to Limit.
func testFindMirrorPairs(t *testing.T, open func(t *testing.T) helpline.Store) {
	s := open(t)
	a := mirrored(t, s, 2, "zendesk", "hooks")
	b := mirrored(t, s, 0, "hooks")
	p := mustClaim(t, s, "zendesk", a.Contact.ID, "w1", base, 1)[0]
	p.State, p.Cursor = helpline.MirrorParked, 1
	mustSavePair(t, s, p, "w1", base)
	p = mustClaim(t, s, "hooks", b.Contact.ID, "w1", base, 1)[0]
	p.Cursor = p.LastSeq
	mustSavePair(t, s, p, "w1", base)

	key := func(pairs []*helpline.MirrorPair) []string {
		var out []string
		for _, p := range pairs {
			who := "a"
			if p.ContactID == b.Contact.ID {
				who = "b"
			}
			out = append(out, p.Connector+"/"+who)
		}
		return out
	}
	ordered := []string{"hooks/a", "hooks/b", "zendesk/a"}
	if a.Contact.ID > b.Contact.ID {
		ordered = []string{"hooks/b", "hooks/a", "zendesk/a"}
	}
	for _, c := range []struct {
		f    helpline.MirrorPairFilter
		want []string
	}{
		{helpline.MirrorPairFilter{}, ordered},
		{helpline.MirrorPairFilter{Limit: 1}, ordered[:1]},
		{helpline.MirrorPairFilter{Connector: "zendesk"}, []string{"zendesk/a"}},
		{helpline.MirrorPairFilter{ContactID: b.Contact.ID}, []string{"hooks/b"}},
		{helpline.MirrorPairFilter{State: helpline.MirrorParked}, []string{"zendesk/a"}},
		{helpline.MirrorPairFilter{Connector: "hooks", State: helpline.MirrorActive, Behind: true}, []string{"hooks/a"}},
		{helpline.MirrorPairFilter{Connector: "nobody"}, nil},
	} {
		if got := key(mustFindPairs(t, s, c.f)); !reflect.DeepEqual(got, c.want) {
			t.Errorf("FindMirrorPairs(%+v) = %v, want %v", c.f, got, c.want)
		}
	}
	if got := mustFindPair(t, s, "zendesk", a.Contact.ID); got.LastSeq != 3 {
		t.Errorf("LastSeq %d, want 3", got.LastSeq)
	}
}

// testFindMirrorPairByRef checks that FindMirrorPairByRef finds the pair
// whose current refs hold the key and value, the newest contact's when
// several do.
func testFindMirrorPairByRef(t *testing.T, open func(t *testing.T) helpline.Store) {
	ctx := context.Background()
	s := open(t)
	older := mirrored(t, s, 1, "zendesk", "sell")
	newer := newContact("i1")
	newer.Contact.CreatedAt = at(time.Hour)
	newer.Mirrors = []string{"sell"}
	mustCreateContact(t, s, newer)
	mustAppend(t, s, message(newer.Customer, "hi", "", at(time.Hour)))

	setRefs := func(connector, contactID string, refs map[string]string) {
		t.Helper()
		p := mustClaim(t, s, connector, contactID, "w1", at(2*time.Hour), 1)[0]
		p.Refs = refs
		mustSavePair(t, s, p, "w1", at(2*time.Hour))
	}
	setRefs("zendesk", older.Contact.ID, map[string]string{"ticket_id": "42"})
	setRefs("sell", older.Contact.ID, map[string]string{"lead_id": "7"})
	setRefs("sell", newer.Contact.ID, map[string]string{"lead_id": "7"})

	p, err := s.FindMirrorPairByRef(ctx, "zendesk", "ticket_id", "42")
	if err != nil || p.ContactID != older.Contact.ID || p.Connector != "zendesk" || p.Refs["ticket_id"] != "42" {
		t.Fatalf("FindMirrorPairByRef(ticket 42) = %+v, %v", p, err)
	}
	if p, err := s.FindMirrorPairByRef(ctx, "sell", "lead_id", "7"); err != nil || p.ContactID != newer.Contact.ID {
		t.Errorf("a shared reference: %+v, %v; want the newest contact's pair", p, err)
	}
	for _, q := range [][3]string{{"zendesk", "ticket_id", "43"}, {"sell", "ticket_id", "42"}, {"zendesk", "lead_id", "42"}} {
		_, err := s.FindMirrorPairByRef(ctx, q[0], q[1], q[2])
		wantCode(t, fmt.Sprint("FindMirrorPairByRef", q), err, helpline.ENOTFOUND)
	}
	// New refs replace the old ones for lookups.
	mustAppend(t, s, message(older.Customer, "again", "", at(3*time.Hour)))
	setRefs("zendesk", older.Contact.ID, map[string]string{"ticket_id": "44"})
	_, err = s.FindMirrorPairByRef(ctx, "zendesk", "ticket_id", "42")
	wantCode(t, "FindMirrorPairByRef of a replaced ref", err, helpline.ENOTFOUND)
	if p, err := s.FindMirrorPairByRef(ctx, "zendesk", "ticket_id", "44"); err != nil || p.ContactID != older.Contact.ID {
		t.Errorf("FindMirrorPairByRef(ticket 44) = %+v, %v", p, err)
	}
}

// testItemOrigin checks that AppendItem stores an item's Origin, and a
// replay returns it.
func testItemOrigin(t *testing.T, open func(t *testing.T) helpline.Store) {
	ctx := context.Background()
	s := open(t)
	nc := mirrored(t, s, 0, "zendesk")
	it := message(nc.Customer, "from the helpdesk", "zendesk:c-1", at(time.Second))
	it.Origin = "zendesk"
	mustAppend(t, s, it)
	got, err := s.FindItemByID(ctx, nc.Contact.ID, it.ID)
	if err != nil {
		t.Fatal(err)
	}
	sameItem(t, got, it)
	retry := message(nc.Customer, "from the helpdesk", "zendesk:c-1", at(time.Minute))
	if replayed, err := s.AppendItem(ctx, retry); err != nil || !replayed || retry.Origin != "zendesk" {
		t.Errorf("replayed append: replayed %v, Origin %q, %v", replayed, retry.Origin, err)
	}
	plain := mustFindItems(t, s, nc.Contact.ID, helpline.ItemQuery{})[0]
	if plain.Origin != "" {
		t.Errorf("an item sent directly has Origin %q", plain.Origin)
	}
}
