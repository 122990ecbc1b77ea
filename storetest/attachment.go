package storetest

import (
	"context"
	"testing"
	"time"

	"github.com/helplinehq/helpline"
)

// newAttachment returns an in-progress attachment sent by p.
func newAttachment(p *helpline.Participant, clientToken string) *helpline.Attachment {
	return &helpline.Attachment{
		ID: helpline.NewID(), ContactID: p.ContactID, ParticipantID: p.ID, Name: "invoice.pdf",
		ContentType: "application/pdf", Size: 12345, Status: helpline.AttachmentInProgress,
		ClientToken: clientToken, CreatedAt: at(time.Minute),
	}
}

// attachmentItem returns the ATTACHMENT item that completes a.
func attachmentItem(p *helpline.Participant, a *helpline.Attachment, clientToken string) *helpline.Item {
	return &helpline.Item{
		ContactID: p.ContactID, ID: helpline.NewID(), Type: helpline.ItemAttachment, ParticipantID: p.ID,
		DisplayName: p.DisplayName, Role: p.Role, Time: at(2 * time.Minute), ClientToken: clientToken,
		Attachments: []helpline.AttachmentRef{{ID: a.ID, Name: a.Name, ContentType: a.ContentType, Status: a.Status}},
	}
}

func testAttachment(t *testing.T, open func(t *testing.T) helpline.Store) {
	ctx := context.Background()
	setup := func(t *testing.T) (helpline.Store, *helpline.NewContact) {
		s := open(t)
		nc := newContact("i1")
		mustCreateContact(t, s, nc)
		return s, nc
	}
	mustCreate := func(t *testing.T, s helpline.Store, a *helpline.Attachment) {
		t.Helper()
		if replayed, err := s.CreateAttachment(ctx, a, 0); err != nil || replayed {
			t.Fatalf("CreateAttachment = %v, %v; want false, nil", replayed, err)
		}
	}
	mustFind := func(t *testing.T, s helpline.Store, id string) *helpline.Attachment {
		t.Helper()
		a, err := s.FindAttachmentByID(ctx, id)
		if err != nil {
			t.Fatalf("FindAttachmentByID: %v", err)
		}
		return a
	}

	t.Run("RoundTrip", func(t *testing.T) {
		s, nc := setup(t)
		a := newAttachment(nc.Customer, "tok")
		mustCreate(t, s, a)
		sameAttachment(t, mustFind(t, s, a.ID), a)
	})
	t.Run("Idempotent", func(t *testing.T) {
		s, nc := setup(t)
		a := newAttachment(nc.Customer, "tok")
		mustCreate(t, s, a)
		retry := newAttachment(nc.Customer, "tok")
		retry.Name = "other.pdf"
		retryID := retry.ID
		replayed, err := s.CreateAttachment(ctx, retry, 1)
		if err != nil || !replayed {
			t.Fatalf("retry = %v, %v; want true, nil (even at the quota)", replayed, err)
		}
		sameAttachment(t, retry, a)
		_, err = s.FindAttachmentByID(ctx, retryID)
		wantNotFound(t, "FindAttachmentByID(retry's own id)", err, helpline.ResourceAttachment, retryID)
	})
	t.Run("Quota", func(t *testing.T) {
		s, nc := setup(t)
		for range 2 {
			if _, err := s.CreateAttachment(ctx, newAttachment(nc.Customer, ""), 2); err != nil {
				t.Fatal(err)
			}
		}
		over := newAttachment(nc.Customer, "")
		_, err := s.CreateAttachment(ctx, over, 2)
		wantCode(t, "CreateAttachment over quota", err, helpline.EQUOTA)
		_, err = s.FindAttachmentByID(ctx, over.ID)
		wantNotFound(t, "FindAttachmentByID(refused)", err, helpline.ResourceAttachment, over.ID)
		mustCreate(t, s, newAttachment(nc.Customer, "")) // 0 means no limit

		other := newContact("i1")
		mustCreateContact(t, s, other)
		if _, err := s.CreateAttachment(ctx, newAttachment(other.Customer, ""), 2); err != nil {
			t.Errorf("CreateAttachment on another contact: %v (the quota is per contact)", err)
		}
	})
	t.Run("MissingContact", func(t *testing.T) {
		s := open(t)
		_, err := s.CreateAttachment(ctx, newAttachment(&helpline.Participant{ID: "p", ContactID: "missing"}, ""), 0)
		wantNotFound(t, "CreateAttachment", err, helpline.ResourceContact, "missing")
	})
	t.Run("NotFound", func(t *testing.T) {
		s := open(t)
		_, err := s.FindAttachmentByID(ctx, "missing")
		wantNotFound(t, "FindAttachmentByID", err, helpline.ResourceAttachment, "missing")
		err = s.MarkAttachmentUploaded(ctx, "missing", base)
		wantNotFound(t, "MarkAttachmentUploaded", err, helpline.ResourceAttachment, "missing")
		_, err = s.CompleteAttachment(ctx, "missing", &helpline.Item{ID: helpline.NewID(), Type: helpline.ItemAttachment}, "")
		wantNotFound(t, "CompleteAttachment", err, helpline.ResourceAttachment, "missing")
	})
	t.Run("MarkUploaded", func(t *testing.T) {
		s, nc := setup(t)
		a := newAttachment(nc.Customer, "")
		mustCreate(t, s, a)
		if err := s.MarkAttachmentUploaded(ctx, a.ID, at(90*time.Second)); err != nil {
			t.Fatal(err)
		}
		a.UploadedAt = at(90 * time.Second)
		sameAttachment(t, mustFind(t, s, a.ID), a)
	})
	t.Run("Complete", func(t *testing.T) {
		s, nc := setup(t)
		a := newAttachment(nc.Customer, "")
		mustCreate(t, s, a)
		if err := s.MarkAttachmentUploaded(ctx, a.ID, at(90*time.Second)); err != nil {
			t.Fatal(err)
		}
		it := attachmentItem(nc.Customer, a, "done-tok")
		if replayed, err := s.CompleteAttachment(ctx, a.ID, it, ""); err != nil || replayed {
			t.Fatalf("CompleteAttachment = %v, %v; want false, nil", replayed, err)
		}
		if it.Seq != 2 || len(it.Attachments) != 1 || it.Attachments[0].Status != helpline.AttachmentApproved {
			t.Errorf("completed item Seq %d Attachments %+v; want Seq 2 with the attachment APPROVED", it.Seq, it.Attachments)
		}
		if got := mustFind(t, s, a.ID).Status; got != helpline.AttachmentApproved {
			t.Errorf("attachment status %s, want %s", got, helpline.AttachmentApproved)
		}
		stored, err := s.FindItemByID(ctx, nc.Contact.ID, it.ID)
		if err != nil {
			t.Fatal(err)
		}
		sameItem(t, stored, it)

		retry := attachmentItem(nc.Customer, a, "done-tok")
		if replayed, err := s.CompleteAttachment(ctx, a.ID, retry, ""); err != nil || !replayed {
			t.Fatalf("retry with the same token = %v, %v; want true, nil", replayed, err)
		}
		sameItem(t, retry, it)
		again := attachmentItem(nc.Customer, a, "")
		if replayed, err := s.CompleteAttachment(ctx, a.ID, again, ""); err != nil || !replayed {
			t.Fatalf("completing a completed attachment = %v, %v; want true, nil", replayed, err)
		}
		sameItem(t, again, it)
		if last := mustFindContact(t, s, nc.Contact.ID).LastSeq; last != 2 {
			t.Errorf("LastSeq %d, want 2: an attachment is appended once", last)
		}
	})
	t.Run("CompleteAfterLeaving", func(t *testing.T) {
		s, nc := setup(t)
		agent := newAgent(nc.Contact.ID, "")
		if _, err := s.CreateParticipant(ctx, agent, nil); err != nil {
			t.Fatal(err)
		}
		a := newAttachment(agent, "")
		mustCreate(t, s, a)
		if _, err := s.LeaveParticipant(ctx, agent.ID, at(time.Minute), nil); err != nil {
			t.Fatal(err)
		}
		_, err := s.CompleteAttachment(ctx, a.ID, attachmentItem(agent, a, ""), "")
		wantCode(t, "CompleteAttachment from a participant who has left", err, helpline.EFORBIDDEN)
		if got := mustFind(t, s, a.ID).Status; got != helpline.AttachmentInProgress {
			t.Errorf("attachment status %s after a refused completion, want %s", got, helpline.AttachmentInProgress)
		}
		if last := mustFindContact(t, s, nc.Contact.ID).LastSeq; last != 1 {
			t.Errorf("LastSeq %d, want 1 (nothing written)", last)
		}
	})
	t.Run("CompleteEndedContact", func(t *testing.T) {
		s, nc := setup(t)
		a := newAttachment(nc.Customer, "")
		mustCreate(t, s, a)
		if _, err := s.EndContact(ctx, nc.Contact.ID, helpline.EndAPI, at(time.Minute), nil); err != nil {
			t.Fatal(err)
		}
		_, err := s.CompleteAttachment(ctx, a.ID, attachmentItem(nc.Customer, a, ""), "")
		wantCode(t, "CompleteAttachment on an ended contact", err, helpline.ECONFLICT)
		if got := mustFind(t, s, a.ID).Status; got != helpline.AttachmentInProgress {
			t.Errorf("attachment status %s after a refused completion, want %s", got, helpline.AttachmentInProgress)
		}
	})
}
