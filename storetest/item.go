package storetest

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/helplinehq/helpline"
)

func testAppendItem(t *testing.T, open func(t *testing.T) helpline.Store) {
	ctx := context.Background()
	t.Run("Sequence", func(t *testing.T) {
		s := open(t)
		nc := newContact("i1")
		mustCreateContact(t, s, nc)
		var items []*helpline.Item
		for i := range 3 {
			it := message(nc.Customer, fmt.Sprint("line ", i), "", at(time.Duration(i)*time.Second))
			id, when := it.ID, it.Time
			mustAppend(t, s, it)
			if it.Seq != int64(i+2) || it.ID != id || !it.Time.Equal(when) {
				t.Errorf("append %d: Seq %d ID %s Time %v; want Seq %d and ID, Time kept", i, it.Seq, it.ID, it.Time, i+2)
			}
			items = append(items, it)
		}
		if last := mustFindContact(t, s, nc.Contact.ID).LastSeq; last != 4 {
			t.Errorf("LastSeq %d, want 4", last)
		}
		sameItems(t, mustFindItems(t, s, nc.Contact.ID, helpline.ItemQuery{From: 2}), items)
	})
	t.Run("RoundTrip", func(t *testing.T) {
		s := open(t)
		nc := newContact("i1")
		mustCreateContact(t, s, nc)
		elsewhere := time.FixedZone("UTC+5:30", 5*3600+1800)
		cust := nc.Customer
		msg := message(cust, "héllo ✓ \"quoted\"\nnew line", "tok-1", at(time.Second).In(elsewhere))
		msg.ContentType = helpline.ContentMarkdown
		att := &helpline.Item{
			ID: helpline.NewID(), Type: helpline.ItemAttachment, ParticipantID: cust.ID, DisplayName: cust.DisplayName,
			Role: cust.Role, Time: at(2 * time.Second), ContactID: nc.Contact.ID,
			Attachments: []helpline.AttachmentRef{
				{ID: "a1", Name: "invoice.pdf", ContentType: "application/pdf", Status: helpline.AttachmentApproved},
				{ID: "a2", Name: "photo.jpg", ContentType: "image/jpeg", Status: helpline.AttachmentInProgress},
			},
		}
		meta := &helpline.Item{
			ID: helpline.NewID(), Type: helpline.ItemMetadata, ContentType: helpline.EventMessageMetadata,
			ParticipantID: cust.ID, Role: helpline.RoleSystem, Time: at(3 * time.Second), ContactID: nc.Contact.ID,
			Metadata: &helpline.MessageMetadata{MessageID: msg.ID, Receipts: []helpline.Receipt{
				{RecipientParticipantID: "p1", DeliveredAt: at(2500 * time.Millisecond)},
				{RecipientParticipantID: "p2", DeliveredAt: at(2600 * time.Millisecond), ReadAt: at(2700 * time.Millisecond).In(elsewhere)},
				{RecipientParticipantID: "p3"},
			}},
		}
		emptyMeta := &helpline.Item{
			ID: helpline.NewID(), Type: helpline.ItemMetadata, ContentType: helpline.EventMessageMetadata,
			ParticipantID: cust.ID, Role: helpline.RoleSystem, Time: at(4 * time.Second), ContactID: nc.Contact.ID,
			Metadata: &helpline.MessageMetadata{MessageID: msg.ID},
		}
		appended := []*helpline.Item{msg, att, meta, emptyMeta}
		for _, it := range appended {
			mustAppend(t, s, it)
		}
		got := mustFindItems(t, s, nc.Contact.ID, helpline.ItemQuery{From: 2})
		sameItems(t, got, appended)
		for _, it := range got {
			if it.Time.Location() != time.UTC {
				t.Errorf("item %d Time in %v, want UTC", it.Seq, it.Time.Location())
			}
		}
		for _, want := range appended {
			it, err := s.FindItemByID(ctx, nc.Contact.ID, want.ID)
			if err != nil {
				t.Fatalf("FindItemByID(%s): %v", want.ID, err)
			}
			sameItem(t, it, want)
		}
	})
	t.Run("Idempotent", func(t *testing.T) {
		s := open(t)
		nc := newContact("i1")
		mustCreateContact(t, s, nc)
		first := message(nc.Customer, "once", "tok", at(time.Second))
		mustAppend(t, s, first)

		retry := message(nc.Customer, "once, again", "tok", at(time.Minute))
		replayed, err := s.AppendItem(ctx, retry)
		if err != nil || !replayed {
			t.Fatalf("retry = %v, %v; want true, nil", replayed, err)
		}
		sameItem(t, retry, first)

		agent := newAgent(nc.Contact.ID, "")
		if _, err := s.CreateParticipant(ctx, agent, nil); err != nil {
			t.Fatal(err)
		}
		mustAppend(t, s, message(agent, "same token, other sender", "tok", at(time.Second)))
		other := newContact("i1")
		mustCreateContact(t, s, other)
		mustAppend(t, s, message(other.Customer, "same token, other contact", "tok", at(time.Second)))

		items := mustFindItems(t, s, nc.Contact.ID, helpline.ItemQuery{})
		if got := seqs(items); !slices.Equal(got, []int64{1, 2, 3}) {
			t.Errorf("items %v, want [1 2 3]: the retry must write nothing", got)
		}
	})
	t.Run("ConcurrentDuplicates", func(t *testing.T) {
		s := open(t)
		nc := newContact("i1")
		mustCreateContact(t, s, nc)
		const n = 20
		results := make([]*helpline.Item, n)
		replays := make([]bool, n)
		errs := make([]error, n)
		var wg sync.WaitGroup
		for i := range n {
			wg.Add(1)
			go func() {
				defer wg.Done()
				results[i] = message(nc.Customer, fmt.Sprint("attempt ", i), "dup", at(time.Second))
				replays[i], errs[i] = s.AppendItem(ctx, results[i])
			}()
		}
		wg.Wait()
		fresh := 0
		for i := range n {
			if errs[i] != nil {
				t.Fatalf("attempt %d: %v", i, errs[i])
			}
			if !replays[i] {
				fresh++
			}
			sameItem(t, results[i], results[0])
		}
		if fresh != 1 {
			t.Errorf("%d attempts stored a new item, want exactly 1", fresh)
		}
		if items := mustFindItems(t, s, nc.Contact.ID, helpline.ItemQuery{}); len(items) != 2 {
			t.Errorf("%d items stored, want 2", len(items))
		}
	})
	t.Run("Concurrent", func(t *testing.T) { testConcurrentAppends(t, open(t)) })
	t.Run("EndedContact", func(t *testing.T) {
		s := open(t)
		nc := newContact("i1")
		mustCreateContact(t, s, nc)
		sent := message(nc.Customer, "before the end", "tok", at(time.Second))
		mustAppend(t, s, sent)
		if _, err := s.EndContact(ctx, nc.Contact.ID, helpline.EndAPI, at(time.Minute), nil); err != nil {
			t.Fatal(err)
		}
		_, err := s.AppendItem(ctx, message(nc.Customer, "too late", "", at(2*time.Minute)))
		wantCode(t, "AppendItem on an ended contact", err, helpline.ECONFLICT)
		if last := mustFindContact(t, s, nc.Contact.ID).LastSeq; last != 2 {
			t.Errorf("LastSeq %d, want 2 (nothing written)", last)
		}

		retry := message(nc.Customer, "before the end", "tok", at(2*time.Minute))
		if replayed, err := s.AppendItem(ctx, retry); err != nil || !replayed {
			t.Fatalf("retry of an item stored before the end = %v, %v; want the stored item", replayed, err)
		}
		sameItem(t, retry, sent)
	})
	t.Run("LeftParticipant", func(t *testing.T) {
		s := open(t)
		nc := newContact("i1")
		mustCreateContact(t, s, nc)
		agent := newAgent(nc.Contact.ID, "")
		if _, err := s.CreateParticipant(ctx, agent, nil); err != nil {
			t.Fatal(err)
		}
		sent := message(agent, "before leaving", "tok", at(time.Second))
		mustAppend(t, s, sent)
		if _, err := s.LeaveParticipant(ctx, agent.ID, at(time.Minute), nil); err != nil {
			t.Fatal(err)
		}
		_, err := s.AppendItem(ctx, message(agent, "after leaving", "", at(2*time.Minute)))
		wantCode(t, "AppendItem from a participant who has left", err, helpline.EFORBIDDEN)
		if last := mustFindContact(t, s, nc.Contact.ID).LastSeq; last != 2 {
			t.Errorf("LastSeq %d, want 2 (nothing written)", last)
		}

		retry := message(agent, "before leaving", "tok", at(2*time.Minute))
		if replayed, err := s.AppendItem(ctx, retry); err != nil || !replayed {
			t.Fatalf("retry of an item stored before leaving = %v, %v; want the stored item", replayed, err)
		}
		sameItem(t, retry, sent)
		// The others, and the system, go on.
		mustAppend(t, s, message(nc.Customer, "still here", "", at(3*time.Minute)))
		system := &helpline.Participant{ID: helpline.SystemParticipantID(nc.Contact.ID), ContactID: nc.Contact.ID, Role: helpline.RoleSystem}
		mustAppend(t, s, message(system, "an agent will be with you shortly", "", at(3*time.Minute)))
	})
	t.Run("MissingContact", func(t *testing.T) {
		s := open(t)
		it := message(&helpline.Participant{ID: "p", ContactID: "missing"}, "hi", "", base)
		_, err := s.AppendItem(ctx, it)
		wantNotFound(t, "AppendItem", err, helpline.ResourceContact, "missing")
	})
	t.Run("FindItemByID", func(t *testing.T) {
		s := open(t)
		nc := newContact("i1")
		mustCreateContact(t, s, nc)
		other := newContact("i1")
		mustCreateContact(t, s, other)
		_, err := s.FindItemByID(ctx, nc.Contact.ID, "missing")
		wantNotFound(t, "FindItemByID", err, helpline.ResourceItem, "missing")
		foreign := other.Items[0].ID
		_, err = s.FindItemByID(ctx, nc.Contact.ID, foreign)
		wantNotFound(t, "FindItemByID(another contact's item)", err, helpline.ResourceItem, foreign)
	})
}

// testConcurrentAppends appends from many goroutines to one busy contact
// and to several quiet ones, and checks that every contact's items are
// numbered 1, 2, 3, ... without gaps or duplicates, and that each sender's
// items are numbered in the order it sent them.
func testConcurrentAppends(t *testing.T, s helpline.Store) {
	ctx := context.Background()
	const (
		busySenders  = 50
		quietSenders = 10
		perSender    = 40
	)
	busy := newContact("i1")
	mustCreateContact(t, s, busy)
	quiet := make([]*helpline.NewContact, quietSenders)
	for i := range quiet {
		quiet[i] = newContact("i1")
		mustCreateContact(t, s, quiet[i])
	}

	type sent struct {
		contactID string
		seqs      []int64
	}
	senders := make([]sent, busySenders+quietSenders)
	errs := make(chan error, len(senders))
	var wg sync.WaitGroup
	for i := range senders {
		customer := busy.Customer
		if i >= busySenders {
			customer = quiet[i-busySenders].Customer
		}
		senders[i].contactID = customer.ContactID
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := range perSender {
				it := message(customer, fmt.Sprintf("sender %d line %d", i, j), fmt.Sprintf("s%d-%d", i, j), at(time.Duration(j)*time.Millisecond))
				if _, err := s.AppendItem(ctx, it); err != nil {
					errs <- err
					return
				}
				senders[i].seqs = append(senders[i].seqs, it.Seq)
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatalf("AppendItem: %v", err)
	}

	for i, snd := range senders {
		if !slices.IsSorted(snd.seqs) || len(slices.Compact(slices.Clone(snd.seqs))) != perSender {
			t.Errorf("sender %d got Seqs %v, want %d strictly increasing", i, snd.seqs, perSender)
		}
	}
	check := func(contactID string, want int) {
		items := mustFindItems(t, s, contactID, helpline.ItemQuery{})
		if len(items) != want {
			t.Errorf("contact %s has %d items, want %d", contactID, len(items), want)
		}
		for i, it := range items {
			if it.Seq != int64(i+1) {
				t.Fatalf("contact %s: item %d has Seq %d, want %d (no gaps, no duplicates)", contactID, i, it.Seq, i+1)
			}
		}
		if last := mustFindContact(t, s, contactID).LastSeq; last != int64(want) {
			t.Errorf("contact %s LastSeq %d, want %d", contactID, last, want)
		}
	}
	check(busy.Contact.ID, 1+busySenders*perSender)
	for _, nc := range quiet {
		check(nc.Contact.ID, 1+perSender)
	}
}

func testFindItems(t *testing.T, open func(t *testing.T) helpline.Store) {
	s := open(t)
	nc := newContact("i1")
	mustCreateContact(t, s, nc) // Seq 1 at t0
	// Seq 2 and 3 share t1; nothing at t2; Seq 4 at t3, Seq 5 at t4.
	sec := func(n int) time.Time { return at(time.Duration(n) * time.Second) }
	for _, when := range []time.Time{sec(1), sec(1), sec(3), sec(4)} {
		mustAppend(t, s, message(nc.Customer, "line", "", when))
	}
	other := newContact("i1")
	mustCreateContact(t, s, other)
	mustAppend(t, s, message(other.Customer, "elsewhere", "", sec(2)))

	for _, tc := range []struct {
		name string
		q    helpline.ItemQuery
		want []int64
	}{
		{"Forward", helpline.ItemQuery{}, []int64{1, 2, 3, 4, 5}},
		{"Backward", helpline.ItemQuery{Backward: true}, []int64{5, 4, 3, 2, 1}},
		{"ForwardFrom", helpline.ItemQuery{From: 3}, []int64{3, 4, 5}},
		{"BackwardFrom", helpline.ItemQuery{From: 3, Backward: true}, []int64{3, 2, 1}},
		{"ForwardLimit", helpline.ItemQuery{Limit: 2}, []int64{1, 2}},
		{"BackwardLimit", helpline.ItemQuery{Limit: 2, Backward: true}, []int64{5, 4}},
		{"ForwardFromLimit", helpline.ItemQuery{From: 2, Limit: 2}, []int64{2, 3}},
		{"BackwardFromLimit", helpline.ItemQuery{From: 4, Limit: 2, Backward: true}, []int64{4, 3}},
		{"ForwardFromPastEnd", helpline.ItemQuery{From: 6}, nil},
		{"BackwardFromPastEnd", helpline.ItemQuery{From: 9, Backward: true}, []int64{5, 4, 3, 2, 1}},
		{"ForwardFromTimeExact", helpline.ItemQuery{FromTime: sec(1)}, []int64{2, 3, 4, 5}},
		{"ForwardFromTimeBetween", helpline.ItemQuery{FromTime: sec(2)}, []int64{4, 5}},
		{"ForwardFromTimeAfterAll", helpline.ItemQuery{FromTime: sec(5)}, nil},
		{"ForwardFromTimeBeforeAll", helpline.ItemQuery{FromTime: sec(-1)}, []int64{1, 2, 3, 4, 5}},
		{"BackwardFromTimeExact", helpline.ItemQuery{FromTime: sec(1), Backward: true}, []int64{3, 2, 1}},
		{"BackwardFromTimeBetween", helpline.ItemQuery{FromTime: sec(2), Backward: true}, []int64{3, 2, 1}},
		{"BackwardFromTimeBeforeAll", helpline.ItemQuery{FromTime: sec(-1), Backward: true}, nil},
		{"BackwardFromTimeLimit", helpline.ItemQuery{FromTime: sec(3), Backward: true, Limit: 2}, []int64{4, 3}},
		{"FromWinsOverFromTime", helpline.ItemQuery{From: 2, FromTime: sec(4)}, []int64{2, 3, 4, 5}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := seqs(mustFindItems(t, s, nc.Contact.ID, tc.q)); !slices.Equal(got, tc.want) {
				t.Errorf("FindItems(%+v) = %v, want %v", tc.q, got, tc.want)
			}
		})
	}
}
