package storetest

import (
	"context"
	"fmt"
	"reflect"
	"sync"
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

// testClaimOnlyDueActiveBehindFree checks that ClaimMirrorPairs leases only
// pairs of the connector that are due, active, behind and not leased to
// another owner.
func testClaimOnlyDueActiveBehindFree(t *testing.T, open func(t *testing.T) helpline.Store) {
	s := open(t)
	now := at(time.Hour)
	behind := mirrored(t, s, 2, "hooks")
	caughtUp := mirrored(t, s, 0, "hooks")
	notDue := mirrored(t, s, 1, "hooks")
	parked := mirrored(t, s, 1, "hooks")
	done := mirrored(t, s, 1, "hooks")
	leased := mirrored(t, s, 1, "hooks")
	other := mirrored(t, s, 1, "zendesk")

	// Move the pairs into their states through the store's own API.
	all := mustClaim(t, s, "hooks", "", "setup", base, 100)
	if len(all) != 6 {
		t.Fatalf("setup claimed %d pairs, want 6", len(all))
	}
	for _, p := range all {
		switch p.ContactID {
		case caughtUp.Contact.ID:
			p.Cursor = p.LastSeq
		case notDue.Contact.ID:
			p.NextAttempt = now.Add(time.Second)
		case parked.Contact.ID:
			p.State, p.LastError = helpline.MirrorParked, "HTTP 403"
		case done.Contact.ID:
			p.State = helpline.MirrorDone
		}
		mustSavePair(t, s, p, "setup", base)
	}
	// leased is held by another owner whose lease runs past now.
	if got := mustClaim(t, s, "hooks", leased.Contact.ID, "holder", now.Add(-time.Second), 1); len(got) != 1 {
		t.Fatalf("claiming the leased pair: %d pairs", len(got))
	}

	got := mustClaim(t, s, "hooks", "", "w1", now, 100)
	if len(got) != 1 || got[0].ContactID != behind.Contact.ID {
		t.Fatalf("claimed %+v, want only the pair that is due, active, free and behind", got)
	}
	p := got[0]
	if p.LastSeq != 3 || p.Cursor != 0 || p.LeaseOwner != "w1" || !p.LeaseUntil.Equal(now.Add(lease)) {
		t.Errorf("claimed pair %+v, want LastSeq 3, cursor 0, leased to w1 until now+lease", *p)
	}
	if got := mustClaim(t, s, "zendesk", "", "w1", now, 100); len(got) != 1 || got[0].ContactID != other.Contact.ID {
		t.Errorf("zendesk claim got %+v, want the zendesk pair only", got)
	}
	// Once due, the not-due pair is claimable.
	if got := mustClaim(t, s, "hooks", "", "w2", now.Add(time.Second), 100); len(got) != 1 || got[0].ContactID != notDue.Contact.ID {
		t.Errorf("claim once due got %+v, want the formerly not-due pair", got)
	}
}

// testClaimLimitAndContact checks that ClaimMirrorPairs leases at most limit
// pairs, only the named contact's when one is named.
func testClaimLimitAndContact(t *testing.T, open func(t *testing.T) helpline.Store) {
	s := open(t)
	var ids []string
	for range 5 {
		ids = append(ids, mirrored(t, s, 1, "hooks").Contact.ID)
	}
	if got := mustClaim(t, s, "hooks", ids[3], "w1", base, 10); len(got) != 1 || got[0].ContactID != ids[3] {
		t.Fatalf("claim of one contact got %+v", got)
	}
	if got := mustClaim(t, s, "hooks", "", "w1", base, 2); len(got) != 2 {
		t.Fatalf("claim with limit 2 got %d pairs", len(got))
	}
	if got := mustClaim(t, s, "hooks", "", "w1", base, 0); len(got) != 0 {
		t.Fatalf("claim with limit 0 got %d pairs", len(got))
	}
	if got := mustClaim(t, s, "hooks", "", "w2", base, 10); len(got) != 2 {
		t.Fatalf("claim of the rest got %d pairs, want 2", len(got))
	}
}

// testClaimBehindAfterCursor checks that a caught-up pair is not claimed
// until the contact has a new item.
func testClaimBehindAfterCursor(t *testing.T, open func(t *testing.T) helpline.Store) {
	s := open(t)
	nc := mirrored(t, s, 2, "hooks")
	p := mustClaim(t, s, "hooks", "", "w1", base, 10)[0]
	p.Cursor = p.LastSeq
	mustSavePair(t, s, p, "w1", base)
	if got := mustClaim(t, s, "hooks", "", "w1", base, 10); len(got) != 0 {
		t.Fatalf("a caught-up pair was claimed: %+v", got[0])
	}
	mustAppend(t, s, message(nc.Customer, "one more", "", at(time.Minute)))
	got := mustClaim(t, s, "hooks", "", "w1", base, 10)
	if len(got) != 1 || got[0].Cursor != 3 || got[0].LastSeq != 4 {
		t.Fatalf("after a new item claimed %+v, want the pair with cursor 3, LastSeq 4", got)
	}
}

// testClaimRace checks that concurrent claims never lease one pair to two
// owners.
func testClaimRace(t *testing.T, open func(t *testing.T) helpline.Store) {
	ctx := context.Background()
	s := open(t)
	for range 20 {
		mirrored(t, s, 1, "hooks")
	}
	const owners = 8
	var wg sync.WaitGroup
	claimed := make([][]*helpline.MirrorPair, owners)
	for i := range owners {
		wg.Go(func() {
			pairs, err := s.ClaimMirrorPairs(ctx, "hooks", "", fmt.Sprint("w", i), base, lease, 5)
			if err != nil {
				t.Errorf("owner %d: %v", i, err)
			}
			claimed[i] = pairs
		})
	}
	wg.Wait()
	holder := map[string]int{}
	for i, pairs := range claimed {
		for _, p := range pairs {
			if j, ok := holder[p.ContactID]; ok {
				t.Errorf("pair %s claimed by owners %d and %d", p.ContactID, j, i)
			}
			holder[p.ContactID] = i
		}
	}
	if len(holder) != 20 {
		t.Errorf("%d pairs claimed in all, want 20", len(holder))
	}
}

// testExpiredLease checks that a pair whose lease ran out goes to the next
// claimer, and the former owner's save is refused with ECONFLICT.
func testExpiredLease(t *testing.T, open func(t *testing.T) helpline.Store) {
	ctx := context.Background()
	s := open(t)
	mirrored(t, s, 1, "hooks")
	first := mustClaim(t, s, "hooks", "", "w1", base, 10)
	if len(first) != 1 {
		t.Fatalf("first claim: %d pairs", len(first))
	}
	if got := mustClaim(t, s, "hooks", "", "w2", base.Add(lease-time.Millisecond), 10); len(got) != 0 {
		t.Fatal("a pair was claimed while its lease runs")
	}
	again := mustClaim(t, s, "hooks", "", "w2", base.Add(lease), 10)
	if len(again) != 1 || again[0].LeaseOwner != "w2" {
		t.Fatalf("claim after the lease expired: %+v", again)
	}
	// w1 lost the pair: its save is refused and stores nothing.
	p := *first[0]
	p.Cursor = 2
	err := s.SaveMirrorPair(ctx, &p, "w1", base.Add(lease))
	wantCode(t, "SaveMirrorPair by the former owner", err, helpline.ECONFLICT)
	if got := mustFindPair(t, s, "hooks", p.ContactID); got.Cursor != 0 || got.LeaseOwner != "w2" {
		t.Errorf("after a refused save: %+v", got)
	}
}

// testReclaimed checks that a claim after a lease ran out without a save is
// Reclaimed, until a save settles it.
func testReclaimed(t *testing.T, open func(t *testing.T) helpline.Store) {
	s := open(t)
	nc := mirrored(t, s, 2, "hooks")
	first := mustClaim(t, s, "hooks", "", "w1", base, 10)
	if len(first) != 1 || first[0].Reclaimed {
		t.Fatalf("first claim %+v, want one pair, not reclaimed", first)
	}
	// w1 saves: its lease is released and the next claim is a plain one.
	mustSavePair(t, s, first[0], "w1", base)
	p := mustClaim(t, s, "hooks", "", "w2", base, 10)
	if len(p) != 1 || p[0].Reclaimed {
		t.Fatalf("claim after a save %+v, want not reclaimed", p)
	}
	// w2 dies holding it: the claim after its lease ran out says so,
	// and so does the one after w3 dies too.
	p = mustClaim(t, s, "hooks", "", "w3", base.Add(lease), 10)
	if len(p) != 1 || !p[0].Reclaimed || p[0].LeaseOwner != "w3" {
		t.Fatalf("claim after an expired lease %+v, want reclaimed by w3", p)
	}
	p = mustClaim(t, s, "hooks", "", "w4", base.Add(2*lease), 10)
	if len(p) != 1 || !p[0].Reclaimed {
		t.Fatalf("claim after a second expired lease %+v, want reclaimed", p)
	}
	if got := mustFindPair(t, s, "hooks", nc.Contact.ID); got.Reclaimed {
		t.Errorf("FindMirrorPairs reports Reclaimed: %+v", got)
	}
	// w4 saves a failure: the next claim is not reclaimed.
	p[0].Attempts, p[0].LastError = 1, "HTTP 503"
	mustSavePair(t, s, p[0], "w4", base.Add(2*lease))
	p = mustClaim(t, s, "hooks", "", "w5", base.Add(3*lease), 10)
	if len(p) != 1 || p[0].Reclaimed || p[0].Attempts != 1 {
		t.Fatalf("claim after a saved failure %+v, want attempts 1, not reclaimed", p)
	}
}

// testReleaseMirrorLeases checks that ReleaseMirrorLeases ends the owner's
// running leases at once, so that their pairs are claimable, and Reclaimed
// unless saved.
func testReleaseMirrorLeases(t *testing.T, open func(t *testing.T) helpline.Store) {
	ctx := context.Background()
	s := open(t)
	a := mirrored(t, s, 1, "hooks", "zendesk")
	b := mirrored(t, s, 1, "hooks")
	c := mirrored(t, s, 1, "hooks")
	d := mirrored(t, s, 1, "hooks")
	now := at(time.Minute)
	// w1 holds a's two pairs, and b's with a lease that runs out at
	// now; it saved d's; w2 holds c's.
	mustClaim(t, s, "hooks", b.Contact.ID, "w1", now.Add(-lease), 1)
	mustClaim(t, s, "hooks", a.Contact.ID, "w1", now, 1)
	mustClaim(t, s, "zendesk", a.Contact.ID, "w1", now, 1)
	mustSavePair(t, s, mustClaim(t, s, "hooks", d.Contact.ID, "w1", now, 1)[0], "w1", now)
	mustClaim(t, s, "hooks", c.Contact.ID, "w2", now, 1)
	mustAppend(t, s, message(d.Customer, "after the save", "", now))
	// w1 restarts a second later.
	restart := now.Add(time.Second)
	n, err := s.ReleaseMirrorLeases(ctx, "w1", restart)
	if err != nil || n != 2 {
		t.Fatalf("ReleaseMirrorLeases(w1) = %d, %v; want the 2 leases running past now", n, err)
	}
	if p := mustFindPair(t, s, "zendesk", a.Contact.ID); p.LeaseOwner != "w1" || !p.LeaseUntil.Equal(restart) {
		t.Errorf("released pair %+v, want w1's name kept and the lease ending at the release", p)
	}
	if n, err := s.ReleaseMirrorLeases(ctx, "w1", restart); err != nil || n != 0 {
		t.Errorf("second ReleaseMirrorLeases(w1) = %d, %v; want 0", n, err)
	}
	if n, err := s.ReleaseMirrorLeases(ctx, "nobody", restart); err != nil || n != 0 {
		t.Errorf("ReleaseMirrorLeases(nobody) = %d, %v; want 0", n, err)
	}
	_, err = s.ReleaseMirrorLeases(ctx, "", restart)
	wantCode(t, "ReleaseMirrorLeases without an owner", err, helpline.EINVALID)

	// At once, a's and b's pairs are claimable and reclaimed; d's was
	// saved, so it is a plain claim; c's stays with w2.
	got := map[string]bool{}
	for _, p := range mustClaim(t, s, "hooks", "", "w1", restart, 10) {
		got[p.ContactID] = p.Reclaimed
	}
	want := map[string]bool{a.Contact.ID: true, b.Contact.ID: true, d.Contact.ID: false}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("hooks claim after the release: reclaimed by contact %v, want %v", got, want)
	}
	if p := mustClaim(t, s, "zendesk", "", "w1", restart, 10); len(p) != 1 || !p[0].Reclaimed {
		t.Errorf("zendesk claim after the release: %+v, want a's pair, reclaimed", p)
	}
	if p := mustFindPair(t, s, "hooks", c.Contact.ID); p.LeaseOwner != "w2" || !p.LeaseUntil.Equal(now.Add(lease)) {
		t.Errorf("another owner's lease changed: %+v", p)
	}
}

// testSaveMirrorPair checks that SaveMirrorPair stores the pair and releases
// its lease; only the lease owner may save (ECONFLICT), and an unknown pair
// is ENOTFOUND.
func testSaveMirrorPair(t *testing.T, open func(t *testing.T) helpline.Store) {
	ctx := context.Background()
	s := open(t)
	nc := mirrored(t, s, 3, "hooks")
	p := mustClaim(t, s, "hooks", "", "w1", base, 10)[0]

	err := s.SaveMirrorPair(ctx, p, "w2", base)
	wantCode(t, "SaveMirrorPair by a non-owner", err, helpline.ECONFLICT)
	err = s.SaveMirrorPair(ctx, p, "", base)
	wantCode(t, "SaveMirrorPair without an owner", err, helpline.ECONFLICT)

	saved := *p
	saved.Cursor = 2
	saved.Refs = map[string]string{"ticket_id": "42", "requester_id": "9"}
	saved.Attempts = 3
	saved.NextAttempt = at(time.Minute)
	saved.LastError = "HTTP 503"
	mustSavePair(t, s, &saved, "w1", at(time.Second))
	got := mustFindPair(t, s, "hooks", nc.Contact.ID)
	want := helpline.MirrorPair{
		Connector: "hooks", ContactID: nc.Contact.ID, Cursor: 2, Refs: saved.Refs, State: helpline.MirrorActive,
		Attempts: 3, NextAttempt: at(time.Minute), LastError: "HTTP 503", LastSeq: 4, UpdatedAt: at(time.Second),
	}
	if !reflect.DeepEqual(*got, want) {
		t.Errorf("saved pair\n got %+v\nwant %+v", *got, want)
	}
	// The lease is released: saving again needs a new claim.
	err = s.SaveMirrorPair(ctx, &saved, "w1", at(time.Second))
	wantCode(t, "SaveMirrorPair after the lease was released", err, helpline.ECONFLICT)

	err = s.SaveMirrorPair(ctx, &helpline.MirrorPair{Connector: "hooks", ContactID: "nope", State: helpline.MirrorActive}, "w1", base)
	wantCode(t, "SaveMirrorPair of an unknown pair", err, helpline.ENOTFOUND)
}

// testKeepLease checks that a save with KeepLease keeps the lease until
// LeaseUntil, which must run past now; a node that dies holding it leaves
// the pair Reclaimed.
func testKeepLease(t *testing.T, open func(t *testing.T) helpline.Store) {
	ctx := context.Background()
	s := open(t)
	nc := mirrored(t, s, 3, "hooks")
	p := mustClaim(t, s, "hooks", "", "w1", base, 10)[0]

	// w1 delivers one item and keeps the pair.
	kept := *p
	kept.Cursor, kept.KeepLease, kept.LeaseUntil = 1, true, at(2*lease)
	mustSavePair(t, s, &kept, "w1", at(time.Second))
	got := mustFindPair(t, s, "hooks", nc.Contact.ID)
	if got.Cursor != 1 || got.LeaseOwner != "w1" || !got.LeaseUntil.Equal(at(2*lease)) || got.KeepLease {
		t.Fatalf("pair after a kept save %+v, want cursor 1, w1's lease until %s, KeepLease false", got, at(2*lease))
	}
	if p := mustClaim(t, s, "hooks", "", "w2", at(lease), 10); len(p) != 0 {
		t.Fatalf("claim of a kept lease %+v, want none", p)
	}
	// w1 saves again without a claim, keeping it, then dies: w1 may
	// have delivered more since, so the claim after the lease ran out
	// is reclaimed.
	kept.Cursor, kept.LeaseUntil = 2, at(3*lease)
	mustSavePair(t, s, &kept, "w1", at(lease))
	if p := mustClaim(t, s, "hooks", "", "w2", at(3*lease), 10); len(p) != 1 || !p[0].Reclaimed || p[0].Cursor != 2 {
		t.Fatalf("claim after a kept lease ran out %+v, want one pair at cursor 2, reclaimed", p)
	}
	kept.KeepLease = false
	err := s.SaveMirrorPair(ctx, &kept, "w1", at(3*lease))
	wantCode(t, "SaveMirrorPair by the former holder", err, helpline.ECONFLICT)

	// A kept lease must run past now.
	p = mustClaim(t, s, "hooks", "", "w3", at(5*lease), 10)[0]
	p.KeepLease, p.LeaseUntil = true, at(5*lease)
	err = s.SaveMirrorPair(ctx, p, "w3", at(5*lease))
	wantCode(t, "SaveMirrorPair keeping a lease that ends now", err, helpline.EINVALID)
	// Releasing a kept lease with a plain save makes the next claim a
	// plain one.
	p.LeaseUntil = at(6 * lease)
	mustSavePair(t, s, p, "w3", at(5*lease))
	p.KeepLease = false
	mustSavePair(t, s, p, "w3", at(5*lease))
	mustAppend(t, s, message(nc.Customer, "more", "", at(5*lease)))
	if p := mustClaim(t, s, "hooks", "", "w4", at(5*lease), 10); len(p) != 1 || p[0].Reclaimed {
		t.Fatalf("claim after a kept lease was released by a save %+v, want not reclaimed", p)
	}

	// A restarted node's kept leases come back at once, reclaimed.
	nc2 := mirrored(t, s, 2, "hooks")
	p = mustClaim(t, s, "hooks", nc2.Contact.ID, "w5", at(7*lease), 1)[0]
	p.Cursor, p.KeepLease, p.LeaseUntil = 1, true, at(8*lease)
	mustSavePair(t, s, p, "w5", at(7*lease))
	if n, err := s.ReleaseMirrorLeases(ctx, "w5", at(7*lease)); err != nil || n != 1 {
		t.Fatalf("ReleaseMirrorLeases(w5) = %d, %v; want 1", n, err)
	}
	if p := mustClaim(t, s, "hooks", nc2.Contact.ID, "w5", at(7*lease), 1); len(p) != 1 || !p[0].Reclaimed {
		t.Fatalf("claim after releasing a kept lease %+v, want reclaimed", p)
	}
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
