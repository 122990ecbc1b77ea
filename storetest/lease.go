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
