package storetest

import (
	"context"
	"testing"
	"time"

	"github.com/helplinehq/helpline"
)

func testParticipant(t *testing.T, open func(t *testing.T) helpline.Store) {
	ctx := context.Background()
	t.Run("Create", func(t *testing.T) {
		s := open(t)
		nc := newContact("i1")
		mustCreateContact(t, s, nc)
		agent := newAgent(nc.Contact.ID, "")
		joined := event(agent, helpline.EventParticipantJoined, agent.CreatedAt)
		if replayed, err := s.CreateParticipant(ctx, agent, []*helpline.Item{joined}); err != nil || replayed {
			t.Fatalf("CreateParticipant = %v, %v; want false, nil", replayed, err)
		}
		bot := &helpline.Participant{ID: helpline.NewID(), ContactID: nc.Contact.ID, Role: helpline.RoleBot,
			DisplayName: "Bot", CreatedAt: at(2 * time.Minute)}
		if _, err := s.CreateParticipant(ctx, bot, nil); err != nil {
			t.Fatal(err)
		}

		got, err := s.FindParticipantByID(ctx, agent.ID)
		if err != nil {
			t.Fatal(err)
		}
		sameParticipant(t, got, agent)
		ps, err := s.FindParticipants(ctx, nc.Contact.ID)
		if err != nil {
			t.Fatal(err)
		}
		if len(ps) != 3 || ps[0].ID != nc.Customer.ID || ps[1].ID != agent.ID || ps[2].ID != bot.ID {
			t.Fatalf("FindParticipants = %v, want customer, agent, bot in join order", ps)
		}
		if joined.Seq != 2 || mustFindContact(t, s, nc.Contact.ID).LastSeq != 2 {
			t.Errorf("joined item Seq %d, want 2 and LastSeq 2", joined.Seq)
		}
		sameItems(t, mustFindItems(t, s, nc.Contact.ID, helpline.ItemQuery{From: 2}), []*helpline.Item{joined})
	})
	t.Run("Idempotent", func(t *testing.T) {
		s := open(t)
		nc := newContact("i1")
		mustCreateContact(t, s, nc)
		agent := newAgent(nc.Contact.ID, "tok")
		if _, err := s.CreateParticipant(ctx, agent, []*helpline.Item{event(agent, helpline.EventParticipantJoined, agent.CreatedAt)}); err != nil {
			t.Fatal(err)
		}
		retry := newAgent(nc.Contact.ID, "tok")
		retry.DisplayName = "Someone else"
		replayed, err := s.CreateParticipant(ctx, retry, []*helpline.Item{event(retry, helpline.EventParticipantJoined, agent.CreatedAt)})
		if err != nil || !replayed {
			t.Fatalf("retry = %v, %v; want true, nil", replayed, err)
		}
		sameParticipant(t, retry, agent)
		if ps, _ := s.FindParticipants(ctx, nc.Contact.ID); len(ps) != 2 {
			t.Errorf("after retry: %d participants, want 2", len(ps))
		}
		if last := mustFindContact(t, s, nc.Contact.ID).LastSeq; last != 2 {
			t.Errorf("after retry: LastSeq %d, want 2 (nothing written)", last)
		}

		other := newContact("i1")
		mustCreateContact(t, s, other)
		if replayed, err := s.CreateParticipant(ctx, newAgent(other.Contact.ID, "tok"), nil); err != nil || replayed {
			t.Errorf("same token on another contact = %v, %v; want a new participant", replayed, err)
		}
	})
	t.Run("EndedContact", func(t *testing.T) {
		s := open(t)
		nc := newContact("i1")
		mustCreateContact(t, s, nc)
		if _, err := s.EndContact(ctx, nc.Contact.ID, helpline.EndAPI, at(time.Minute), nil); err != nil {
			t.Fatal(err)
		}
		agent := newAgent(nc.Contact.ID, "")
		_, err := s.CreateParticipant(ctx, agent, []*helpline.Item{event(agent, helpline.EventParticipantJoined, at(2*time.Minute))})
		wantCode(t, "CreateParticipant on an ended contact", err, helpline.ECONFLICT)
		_, err = s.FindParticipantByID(ctx, agent.ID)
		wantNotFound(t, "FindParticipantByID(refused)", err, helpline.ResourceParticipant, agent.ID)
		if last := mustFindContact(t, s, nc.Contact.ID).LastSeq; last != 1 {
			t.Errorf("LastSeq %d, want 1 (nothing written)", last)
		}
	})
	t.Run("MissingContact", func(t *testing.T) {
		s := open(t)
		_, err := s.CreateParticipant(ctx, newAgent("missing", ""), nil)
		wantNotFound(t, "CreateParticipant", err, helpline.ResourceContact, "missing")
	})
	t.Run("NotFound", func(t *testing.T) {
		s := open(t)
		_, err := s.FindParticipantByID(ctx, "missing")
		wantNotFound(t, "FindParticipantByID", err, helpline.ResourceParticipant, "missing")
		err = s.MarkParticipantConnected(ctx, "missing", base)
		wantNotFound(t, "MarkParticipantConnected", err, helpline.ResourceParticipant, "missing")
		_, err = s.LeaveParticipant(ctx, "missing", base, nil)
		wantNotFound(t, "LeaveParticipant", err, helpline.ResourceParticipant, "missing")
	})
	t.Run("MarkConnected", func(t *testing.T) {
		s := open(t)
		nc := newContact("i1")
		mustCreateContact(t, s, nc)
		id := nc.Customer.ID
		for _, when := range []time.Time{at(time.Second), at(time.Minute)} {
			if err := s.MarkParticipantConnected(ctx, id, when); err != nil {
				t.Fatal(err)
			}
		}
		p, err := s.FindParticipantByID(ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		if !p.ConnectedAt.Equal(at(time.Second)) {
			t.Errorf("ConnectedAt %v, want the first time %v", p.ConnectedAt, at(time.Second))
		}
	})
	t.Run("LeaveOnce", func(t *testing.T) {
		s := open(t)
		nc := newContact("i1")
		mustCreateContact(t, s, nc)
		agent := newAgent(nc.Contact.ID, "")
		if _, err := s.CreateParticipant(ctx, agent, nil); err != nil {
			t.Fatal(err)
		}
		leftItem := event(agent, helpline.EventParticipantLeft, at(3*time.Minute))
		left, err := s.LeaveParticipant(ctx, agent.ID, at(3*time.Minute), []*helpline.Item{leftItem})
		if err != nil || !left {
			t.Fatalf("LeaveParticipant = %v, %v; want true, nil", left, err)
		}
		if leftItem.Seq != 2 {
			t.Errorf("left item Seq %d, want 2", leftItem.Seq)
		}
		again, err := s.LeaveParticipant(ctx, agent.ID, at(4*time.Minute),
			[]*helpline.Item{event(agent, helpline.EventParticipantLeft, at(4*time.Minute))})
		if err != nil || again {
			t.Fatalf("second LeaveParticipant = %v, %v; want false, nil", again, err)
		}
		p, err := s.FindParticipantByID(ctx, agent.ID)
		if err != nil {
			t.Fatal(err)
		}
		if !p.Left() || !p.LeftAt.Equal(at(3*time.Minute)) {
			t.Errorf("LeftAt %v, want %v", p.LeftAt, at(3*time.Minute))
		}
		if last := mustFindContact(t, s, nc.Contact.ID).LastSeq; last != 2 {
			t.Errorf("LastSeq %d, want 2 (the second leave writes nothing)", last)
		}
		if c := mustFindContact(t, s, nc.Contact.ID); c.Ended() {
			t.Error("an agent leaving ended the contact")
		}
	})
}
