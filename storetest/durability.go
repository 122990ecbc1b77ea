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

// RunDurability checks that everything a store acknowledged survives Close
// and a reopen, and that the reopened store carries on where it stopped
// (numbering, idempotency). open must open the store kept in dir, creating
// it if dir holds none; the suite closes each store it opens.
func RunDurability(t *testing.T, open func(t *testing.T, dir string) helpline.Store) {
	ctx := context.Background()
	dir := t.TempDir()
	s := open(t, dir)
	closed := false
	t.Cleanup(func() {
		if !closed {
			s.Close()
		}
	})

	in := &helpline.Instance{ID: "i1", Name: "Shop", Flows: []helpline.Flow{{ID: "f1", Name: "Default"}}}
	if err := s.SaveInstance(ctx, in); err != nil {
		t.Fatal(err)
	}
	secret, err := s.Secret(ctx, "tokens", func() ([]byte, error) { return []byte("s3cret"), nil })
	if err != nil {
		t.Fatal(err)
	}
	nc := newContact("i1")
	nc.Contact.ClientToken = "start-tok"
	mustCreateContact(t, s, nc)
	agent := newAgent(nc.Contact.ID, "agent-tok")
	if _, err := s.CreateParticipant(ctx, agent, nil); err != nil {
		t.Fatal(err)
	}
	if err := s.MarkParticipantConnected(ctx, agent.ID, at(time.Minute)); err != nil {
		t.Fatal(err)
	}
	agent.ConnectedAt = at(time.Minute)
	if first, err := s.RememberOnce(ctx, "hook", "sig", base, at(time.Hour)); err != nil || !first {
		t.Fatalf("RememberOnce = %v, %v; want true, nil", first, err)
	}
	a := newAttachment(nc.Customer, "att-tok")
	if _, err := s.CreateAttachment(ctx, a, 0); err != nil {
		t.Fatal(err)
	}
	done := attachmentItem(nc.Customer, a, "")
	if _, err := s.CompleteAttachment(ctx, a.ID, done, ""); err != nil {
		t.Fatal(err)
	}
	a.Status = helpline.AttachmentApproved

	// Many writers, then Close at once: every acknowledged append must be
	// there after the reopen.
	var (
		mu       sync.Mutex
		appended = map[int64]*helpline.Item{}
		wg       sync.WaitGroup
	)
	for i := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := range 25 {
				it := message(nc.Customer, fmt.Sprintf("%d/%d", i, j), fmt.Sprintf("m%d-%d", i, j), at(time.Duration(j)*time.Second))
				if _, err := s.AppendItem(ctx, it); err != nil {
					t.Errorf("AppendItem: %v", err)
					return
				}
				mu.Lock()
				appended[it.Seq] = it
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	ended := newContact("i1")
	mustCreateContact(t, s, ended)
	if _, err := s.EndContact(ctx, ended.Contact.ID, helpline.EndExpired, at(time.Hour), nil); err != nil {
		t.Fatal(err)
	}
	wantContact := mustFindContact(t, s, nc.Contact.ID)
	wantItems := mustFindItems(t, s, nc.Contact.ID, helpline.ItemQuery{})
	if err := s.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	closed = true

	s = open(t, dir)
	closed = false
	gotIn, err := s.FindInstanceByID(ctx, "i1")
	if err != nil || !reflect.DeepEqual(gotIn, in) {
		t.Errorf("instance after reopen = %+v, %v; want %+v", gotIn, err, in)
	}
	if got, err := s.Secret(ctx, "tokens", func() ([]byte, error) { return []byte("new"), nil }); err != nil || string(got) != string(secret) {
		t.Errorf("secret after reopen = %q, %v; want %q", got, err, secret)
	}
	if first, err := s.RememberOnce(ctx, "hook", "sig", at(time.Minute), at(time.Hour)); err != nil || first {
		t.Errorf("RememberOnce of a key remembered before the restart = %v, %v; want false, nil", first, err)
	}
	sameContact(t, mustFindContact(t, s, nc.Contact.ID), wantContact)
	if c := mustFindContact(t, s, ended.Contact.ID); !c.Ended() || c.EndReason != helpline.EndExpired {
		t.Errorf("ended contact after reopen: State %s EndReason %s", c.State, c.EndReason)
	}
	gotAgent, err := s.FindParticipantByID(ctx, agent.ID)
	if err != nil {
		t.Fatal(err)
	}
	sameParticipant(t, gotAgent, agent)
	gotA, err := s.FindAttachmentByID(ctx, a.ID)
	if err != nil {
		t.Fatal(err)
	}
	sameAttachment(t, gotA, a)

	items := mustFindItems(t, s, nc.Contact.ID, helpline.ItemQuery{})
	sameItems(t, items, wantItems)
	for seq, it := range appended {
		if seq > int64(len(items)) {
			t.Errorf("acknowledged item Seq %d is missing after reopen", seq)
			continue
		}
		sameItem(t, items[seq-1], it)
	}

	// The reopened store carries on: numbering continues and the
	// idempotency keys still hold.
	next := message(nc.Customer, "after restart", "", at(time.Hour))
	mustAppend(t, s, next)
	if next.Seq != wantContact.LastSeq+1 {
		t.Errorf("first append after reopen got Seq %d, want %d", next.Seq, wantContact.LastSeq+1)
	}
	retry := message(nc.Customer, "0/0", "m0-0", at(time.Hour))
	if replayed, err := s.AppendItem(ctx, retry); err != nil || !replayed {
		t.Errorf("retry of an item stored before the restart = %v, %v; want true, nil", replayed, err)
	}
	again := newContact("i1")
	again.Contact.ClientToken = "start-tok"
	if replayed, err := s.CreateContact(ctx, again); err != nil || !replayed || again.Contact.ID != nc.Contact.ID {
		t.Errorf("CreateContact retry after reopen = %v, %v, id %s; want the stored contact %s", replayed, err, again.Contact.ID, nc.Contact.ID)
	}
	if err := s.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	closed = true
}
