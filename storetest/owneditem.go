package storetest

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/helplinehq/helpline"
)

func testAppendOwnedItem(t *testing.T, open func(t *testing.T) helpline.Store) {
	ctx := context.Background()
	// setup creates a contact owned by bot:greeter, with its bot
	// participant.
	setup := func(t *testing.T) (helpline.Store, *helpline.NewContact, *helpline.Participant) {
		s := open(t)
		nc := newContact("i1")
		nc.Contact.Owner = "bot:greeter"
		mustCreateContact(t, s, nc)
		b := &helpline.Participant{ID: helpline.NewID(), ContactID: nc.Contact.ID, Role: helpline.RoleBot,
			DisplayName: "Bot", CreatedAt: at(time.Second)}
		if _, err := s.CreateParticipant(ctx, b, nil); err != nil {
			t.Fatal(err)
		}
		return s, nc, b
	}
	handoff := func(t *testing.T, s helpline.Store, c *helpline.Contact) *helpline.Item {
		t.Helper()
		_, it, err := s.ChangeOwner(ctx, &helpline.OwnerChange{ContactID: c.ID, From: "bot:greeter", Version: 1,
			To: "queue:support", Reason: "handoff", Actor: "bot:greeter", At: at(time.Minute)})
		if err != nil {
			t.Fatal(err)
		}
		return it
	}

	t.Run("Owner", func(t *testing.T) {
		s, nc, b := setup(t)
		it := message(b, "hello", "tok", at(2*time.Second))
		if replayed, err := s.AppendOwnedItem(ctx, it, "bot:greeter"); err != nil || replayed {
			t.Fatalf("AppendOwnedItem by the owner = %v, %v; want stored", replayed, err)
		}
		if it.Seq != 2 || mustFindContact(t, s, nc.Contact.ID).LastSeq != 2 {
			t.Errorf("Seq %d, want 2 and the contact's LastSeq with it", it.Seq)
		}
	})
	t.Run("Attachment", func(t *testing.T) {
		s, nc, b := setup(t)
		early, late := newAttachment(b, ""), newAttachment(b, "")
		for _, a := range []*helpline.Attachment{early, late} {
			if _, err := s.CreateAttachment(ctx, a, 0); err != nil {
				t.Fatal(err)
			}
		}
		if _, err := s.CompleteAttachment(ctx, early.ID, attachmentItem(b, early, ""), "bot:greeter"); err != nil {
			t.Fatalf("CompleteAttachment by the owner: %v", err)
		}
		handoff(t, s, nc.Contact)
		last := mustFindContact(t, s, nc.Contact.ID).LastSeq
		_, err := s.CompleteAttachment(ctx, late.ID, attachmentItem(b, late, ""), "bot:greeter")
		wantCode(t, "CompleteAttachment after the owner changed", err, helpline.ECONFLICT)
		if got, err := s.FindAttachmentByID(ctx, late.ID); err != nil || got.Status != helpline.AttachmentInProgress {
			t.Errorf("refused attachment: %+v, %v; want still in progress", got, err)
		}
		if got := mustFindContact(t, s, nc.Contact.ID).LastSeq; got != last {
			t.Errorf("LastSeq %d, want %d (nothing written)", got, last)
		}
	})
	t.Run("OtherOwner", func(t *testing.T) {
		s, nc, b := setup(t)
		sent := message(b, "before the handoff", "tok", at(2*time.Second))
		if _, err := s.AppendOwnedItem(ctx, sent, "bot:greeter"); err != nil {
			t.Fatal(err)
		}
		handoff(t, s, nc.Contact)
		last := mustFindContact(t, s, nc.Contact.ID).LastSeq
		_, err := s.AppendOwnedItem(ctx, message(b, "after the handoff", "late", at(2*time.Minute)), "bot:greeter")
		wantCode(t, "AppendOwnedItem after the owner changed", err, helpline.ECONFLICT)
		if got := mustFindContact(t, s, nc.Contact.ID).LastSeq; got != last {
			t.Errorf("LastSeq %d, want %d (nothing written)", got, last)
		}
		for _, it := range mustFindItems(t, s, nc.Contact.ID, helpline.ItemQuery{}) {
			if it.Content == "after the handoff" {
				t.Error("the refused item was stored")
			}
		}
		// A retry of what was stored before the change is the stored item.
		retry := message(b, "before the handoff", "tok", at(3*time.Minute))
		if replayed, err := s.AppendOwnedItem(ctx, retry, "bot:greeter"); err != nil || !replayed {
			t.Fatalf("retry of an item stored before the change = %v, %v; want the stored item", replayed, err)
		}
		sameItem(t, retry, sent)
		// The new owner's words, and plain appends, go on.
		if _, err := s.AppendOwnedItem(ctx, message(nc.Customer, "hi queue", "", at(4*time.Minute)), "queue:support"); err != nil {
			t.Errorf("AppendOwnedItem for the new owner: %v", err)
		}
		mustAppend(t, s, message(nc.Customer, "plain", "", at(5*time.Minute)))
	})
	t.Run("Ended", func(t *testing.T) {
		s, nc, b := setup(t)
		if _, err := s.EndContact(ctx, nc.Contact.ID, helpline.EndAPI, at(time.Minute), nil); err != nil {
			t.Fatal(err)
		}
		_, err := s.AppendOwnedItem(ctx, message(b, "too late", "", at(2*time.Minute)), "bot:greeter")
		wantCode(t, "AppendOwnedItem to an ended contact", err, helpline.ECONFLICT)
	})
	t.Run("LeftParticipant", func(t *testing.T) {
		s, _, b := setup(t)
		if _, err := s.LeaveParticipant(ctx, b.ID, at(time.Minute), nil); err != nil {
			t.Fatal(err)
		}
		_, err := s.AppendOwnedItem(ctx, message(b, "gone", "", at(2*time.Minute)), "bot:greeter")
		wantCode(t, "AppendOwnedItem from a participant who has left", err, helpline.EFORBIDDEN)
	})
	t.Run("NotFound", func(t *testing.T) {
		s := open(t)
		it := &helpline.Item{ContactID: "missing", ID: helpline.NewID(), Type: helpline.ItemMessage,
			ContentType: helpline.ContentPlain, Content: "x", ParticipantID: "p", Role: helpline.RoleBot, Time: base}
		_, err := s.AppendOwnedItem(ctx, it, "bot:greeter")
		wantNotFound(t, "AppendOwnedItem to a missing contact", err, helpline.ResourceContact, "missing")
	})
	// A handoff racing the bot's replies: every reply is stored before the
	// owner change or refused, never after it.
	t.Run("RaceWithChangeOwner", func(t *testing.T) {
		for round := range 20 {
			s, nc, b := setup(t)
			const replies = 4
			errs := make([]error, replies)
			sent := make([]*helpline.Item, replies)
			var wg sync.WaitGroup
			var change *helpline.Item
			wg.Go(func() { change = handoff(t, s, nc.Contact) })
			for i := range replies {
				sent[i] = message(b, fmt.Sprintf("reply %d", i), "", at(2*time.Second))
				wg.Go(func() { _, errs[i] = s.AppendOwnedItem(ctx, sent[i], "bot:greeter") })
			}
			wg.Wait()
			for i, err := range errs {
				switch helpline.ErrorCode(err) {
				case "":
					if sent[i].Seq > change.Seq {
						t.Errorf("round %d: reply %d stored at Seq %d, after the owner change at %d", round, i, sent[i].Seq, change.Seq)
					}
				case helpline.ECONFLICT:
				default:
					t.Errorf("round %d: reply %d: %v, want stored or ECONFLICT", round, i, err)
				}
			}
			for _, it := range mustFindItems(t, s, nc.Contact.ID, helpline.ItemQuery{}) {
				if it.Role == helpline.RoleBot && it.Seq > change.Seq {
					t.Errorf("round %d: a bot item at Seq %d after the owner change at %d", round, it.Seq, change.Seq)
				}
			}
		}
	})
}
