package chat

import (
	"context"
	"encoding/json"
	"strconv"
	"strings"
	"time"

	"github.com/helplinehq/helpline"
	"github.com/helplinehq/helpline/routing"
)

// AcceptOffer accepts a pending offer for its agent
// (helpline.RoutingStore.AcceptOffer: the contact moves from the queue to
// agent:<id> by compare-and-swap, with one owner.changed item), publishes
// the transition item and an EventOwner event as ChangeOwner does, seats
// the agent in the chat as an AGENT participant with its display name
// (the customer sees participant.joined), and publishes the offer's new
// state on the agent's subject (EventOffer). It returns the updated
// contact and the transition item.
//
// Errors: ENOTFOUND (Resource OFFER); ECONFLICT when the offer is no
// longer pending, has expired or its contact moved on (the offer's new
// state is published all the same); EQUOTA when the agent is at capacity.
func (s *Service) AcceptOffer(ctx context.Context, offerID string) (*helpline.Contact, *helpline.Item, error) {
	c, it, err := s.store.AcceptOffer(ctx, offerID, s.now())
	if err != nil {
		if helpline.ErrorCode(err) == helpline.ECONFLICT {
			s.publishOffer(ctx, offerID)
		}
		return nil, nil, err
	}
	s.announceOwner(ctx, c, it, "")
	s.publishOffer(ctx, offerID)
	return c, it, nil
}

// Transfer moves an active contact of the instance to target, a queue
// ("queue:<id>") or an agent ("agent:<id>"), as actor decided, after
// routing.PlanTransfer has checked it against the instance's routing
// state; the change goes through ChangeOwner, so the old agent leaves the
// chat and a new one joins it. A transfer into a queue where no agent is
// online is made all the same, and nobodyOnline says so.
//
// Errors: those of routing.PlanTransfer (EINVALID, ENOTFOUND, ECONFLICT
// for an agent not online, EQUOTA for an agent at capacity), ENOTFOUND
// (Resource CONTACT), and ECONFLICT when the contact ended or its owner
// changed meanwhile.
func (s *Service) Transfer(ctx context.Context, instanceID, contactID, target, actor string) (c *helpline.Contact, nobodyOnline bool, err error) {
	c, err = s.FindContact(ctx, instanceID, contactID)
	if err != nil {
		return nil, false, err
	}
	if c.Ended() {
		return nil, false, helpline.Errorf(helpline.ECONFLICT, "Contact %s has ended.", c.ID)
	}
	snap, err := s.store.RoutingSnapshot(ctx, instanceID)
	if err != nil {
		return nil, false, err
	}
	t, err := routing.PlanTransfer(snap, c, target, actor, s.now(), s.grace)
	if err != nil {
		return nil, false, err
	}
	c, _, err = s.ChangeOwner(ctx, *t.Change)
	if err != nil {
		return nil, false, err
	}
	return c, t.NobodyOnline, nil
}

// Notify appends a SYSTEM message with text to an active contact and
// publishes it. It is idempotent on (contactID, clientToken), so that
// nodes telling a customer the same thing (a queue position) tell it
// once. Errors: ECONFLICT when the contact has ended.
func (s *Service) Notify(ctx context.Context, contactID, text, clientToken string) (*helpline.Item, error) {
	it := systemMessage(contactID, text, s.now())
	it.ClientToken = clientToken
	replayed, err := s.store.AppendItem(ctx, it)
	if err != nil {
		return nil, err
	}
	if !replayed {
		s.publish(ctx, it)
	}
	return it, nil
}

// systemMessage returns a SYSTEM text message of the contact.
func systemMessage(contactID, text string, at time.Time) *helpline.Item {
	return &helpline.Item{
		ContactID: contactID, ID: helpline.NewID(), Type: helpline.ItemMessage,
		ContentType: helpline.ContentPlain, Content: text,
		ParticipantID: helpline.SystemParticipantID(contactID), DisplayName: SystemDisplayName, Role: helpline.RoleSystem,
		Time: at,
	}
}

// announceOwner follows a stored owner change from owner from: it
// publishes the transition item, reseats the agents (reseat), and only
// then publishes an EventOwner event, which names the owner before (from
// the item's content), so that whoever the event wakes — the bot runner
// given the contact, an agent's console, routing — finds the old agent
// gone and the new one seated.
func (s *Service) announceOwner(ctx context.Context, c *helpline.Contact, it *helpline.Item, from string) {
	s.publish(ctx, it)
	s.reseat(ctx, c, from)
	var tr helpline.OwnerTransition
	if err := json.Unmarshal([]byte(it.Content), &tr); err != nil {
		s.log.Error("chat: reading an owner change", "contact", c.ID, "err", err)
	}
	s.publishOwner(ctx, c, tr.From)
}

// publishOwner publishes the EventOwner event of c's stored owner, which
// was from before.
func (s *Service) publishOwner(ctx context.Context, c *helpline.Contact, from string) {
	ev := helpline.Event{Kind: helpline.EventOwner, Subject: helpline.ContactSubject(c.ID),
		Owner: &helpline.Ownership{Owner: c.Owner, Version: c.Version, From: from}}
	if err := s.bus.Publish(context.WithoutCancel(ctx), ev); err != nil {
		s.log.Error("chat: publish", "contact", c.ID, "owner", c.Owner, "err", err)
	}
}

// publishOffer publishes an offer's stored state on its agent's subject.
func (s *Service) publishOffer(ctx context.Context, offerID string) {
	o, err := s.store.FindOfferByID(ctx, offerID)
	if err == nil {
		err = s.bus.Publish(context.WithoutCancel(ctx), helpline.Event{Kind: helpline.EventOffer, Subject: helpline.AgentSubject(o.AgentID), Offer: o})
	}
	if err != nil {
		s.log.Error("chat: publish offer", "offer", offerID, "err", err)
	}
}

// seatToken is the ClientToken of the AGENT participant that seats agent
// id in a contact it took at version: a retry seats it once, and a later
// return of the contact to the same agent seats it anew.
func seatToken(agentID string, version int64) string {
	return seatPrefix(agentID) + strconv.FormatInt(version, 10)
}

func seatPrefix(agentID string) string { return "seat/" + helpline.OwnerAgent + ":" + agentID + "/" }

// reseat makes the chat's participants follow an owner change from owner
// from to c.Owner: the old agent's participant leaves (participant.left)
// and the new agent joins as an AGENT participant under its display name
// (participant.joined), so that Connect clients see agents come and go
// as Amazon Connect shows them. The owner change is the record; a failure
// here is logged, not returned.
func (s *Service) reseat(ctx context.Context, c *helpline.Contact, from string) {
	if id, ok := strings.CutPrefix(from, helpline.OwnerAgent+":"); ok {
		if err := s.unseat(ctx, c.ID, id); err != nil {
			s.log.Error("chat: agent leaving", "contact", c.ID, "agent", id, "err", err)
		}
	}
	if id, ok := strings.CutPrefix(c.Owner, helpline.OwnerAgent+":"); ok {
		if err := s.seat(ctx, c, id); err != nil && helpline.ErrorCode(err) != helpline.ECONFLICT {
			s.log.Error("chat: agent joining", "contact", c.ID, "agent", id, "err", err)
		}
	}
}

func (s *Service) seat(ctx context.Context, c *helpline.Contact, agentID string) error {
	name := agentID
	if a, err := s.store.FindAgentByID(ctx, c.InstanceID, agentID); err == nil && a.DisplayName != "" {
		name = a.DisplayName
	} else if err != nil && helpline.ErrorCode(err) != helpline.ENOTFOUND {
		return err
	}
	now := s.now()
	p := &helpline.Participant{
		ID: helpline.NewID(), ContactID: c.ID, Role: helpline.RoleAgent, DisplayName: name,
		ClientToken: seatToken(agentID, c.Version), CreatedAt: now,
	}
	joined := participantEvent(p, helpline.EventParticipantJoined, now)
	replayed, err := s.store.CreateParticipant(ctx, p, []*helpline.Item{joined})
	if err == nil && !replayed {
		s.publish(ctx, joined)
	}
	return err
}

func (s *Service) unseat(ctx context.Context, contactID, agentID string) error {
	ps, err := s.store.FindParticipants(ctx, contactID)
	if err != nil {
		return err
	}
	for _, p := range ps {
		if p.Role != helpline.RoleAgent || p.Left() || !strings.HasPrefix(p.ClientToken, seatPrefix(agentID)) {
			continue
		}
		left := participantEvent(p, helpline.EventParticipantLeft, s.now())
		ok, err := s.store.LeaveParticipant(ctx, p.ID, left.Time, []*helpline.Item{left})
		if err != nil {
			return err
		}
		s.sessions.forgetParticipant(p.ID)
		if ok {
			s.publish(ctx, left)
		}
	}
	return nil
}
