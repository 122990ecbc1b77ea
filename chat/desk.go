package chat

import (
	"context"
	"encoding/json"
	"fmt"
	"sort"
	"strings"

	"github.com/helplinehq/helpline"
)

var _ helpline.AgentDesk = (*Service)(nil)

// QueueStats returns the instance's queues with their waiting contacts,
// read from one routing snapshot.
func (s *Service) QueueStats(ctx context.Context, instanceID string) ([]helpline.QueueStat, error) {
	snap, err := s.store.RoutingSnapshot(ctx, instanceID)
	if err != nil {
		return nil, err
	}
	out := make([]helpline.QueueStat, 0, len(snap.Queues))
	at := map[string]int{}
	for _, q := range snap.Queues {
		at[q.ID] = len(out)
		out = append(out, helpline.QueueStat{Queue: q})
	}
	// Waiting is oldest first, so a queue's first is its longest wait.
	for _, w := range snap.Waiting {
		i, ok := at[w.QueueID]
		if !ok {
			continue
		}
		if out[i].Waiting == 0 {
			out[i].OldestSince = w.Since
		}
		out[i].Waiting++
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Queue.ID < out[j].Queue.ID })
	return out, nil
}

// PendingOffers returns the agent's pending offers that have not expired.
func (s *Service) PendingOffers(ctx context.Context, instanceID, agentID string) ([]*helpline.Offer, error) {
	snap, err := s.store.AgentSnapshot(ctx, instanceID, agentID)
	if err != nil {
		return nil, err
	}
	now := s.now()
	var out []*helpline.Offer
	for _, o := range snap.Offers {
		if o.AgentID == agentID && o.State == helpline.OfferPending && now.Before(o.ExpiresAt) {
			out = append(out, o)
		}
	}
	return out, nil
}

// FindOfferByID returns an offer, or ENOTFOUND (Resource OFFER).
func (s *Service) FindOfferByID(ctx context.Context, id string) (*helpline.Offer, error) {
	return s.store.FindOfferByID(ctx, id)
}

// DeclineOffer closes a pending offer as declined and publishes its new
// state on the agent's subject, which wakes the routing loop to offer the
// contact to someone else.
func (s *Service) DeclineOffer(ctx context.Context, offerID string) error {
	if err := s.store.CloseOffer(ctx, offerID, helpline.OfferDeclined, s.now()); err != nil {
		return err
	}
	s.publishOffer(ctx, offerID)
	return nil
}

// AgentChats lists the agent's active contacts, or with agentID empty
// every contact of the instance that waits in a queue or is owned by an
// enabled agent (the routing snapshot's view). A contact that ended
// between the snapshot and its read is left out.
func (s *Service) AgentChats(ctx context.Context, instanceID, agentID string) ([]helpline.AgentChat, error) {
	snap, err := s.store.RoutingSnapshot(ctx, instanceID)
	if err != nil {
		return nil, err
	}
	var list []helpline.AgentChat
	for _, a := range snap.Agents {
		if agentID != "" && a.Agent.ID != agentID {
			continue
		}
		for _, as := range a.Chats {
			list = append(list, helpline.AgentChat{Contact: &helpline.Contact{ID: as.ContactID}, QueueID: as.QueueID, Since: as.Since})
		}
	}
	if agentID == "" {
		for _, w := range snap.Waiting {
			list = append(list, helpline.AgentChat{Contact: &helpline.Contact{ID: w.ContactID}, QueueID: w.QueueID, Since: w.Since})
		}
	}
	sort.SliceStable(list, func(i, j int) bool { return list[i].Since.Before(list[j].Since) })
	out := list[:0]
	for _, ch := range list {
		c, err := s.store.FindContactByID(ctx, ch.Contact.ID)
		if helpline.ErrorCode(err) == helpline.ENOTFOUND {
			continue
		} else if err != nil {
			return nil, err
		}
		if c.Ended() {
			continue
		}
		ch.Contact = c
		out = append(out, ch)
	}
	return out, nil
}

// Participants returns the contact's participants in the order they
// joined.
func (s *Service) Participants(ctx context.Context, contactID string) ([]*helpline.Participant, error) {
	return s.store.FindParticipants(ctx, contactID)
}

// AgentSession returns the session of the AGENT participant that seated
// agentID in the contact when it took it (reseat); if that participant is
// missing, as when seating failed at the owner change, it seats the agent
// now, once per owner version. The session speaks for agent:<agentID>
// (Session.Owner): a message sent once the contact has moved on is
// refused.
func (s *Service) AgentSession(ctx context.Context, instanceID, contactID, agentID string) (*helpline.Session, error) {
	c, err := s.FindContact(ctx, instanceID, contactID)
	if err != nil {
		return nil, err
	} else if c.Ended() {
		return nil, helpline.Errorf(helpline.ECONFLICT, "Contact %s has ended.", c.ID)
	} else if c.Owner != helpline.OwnerAgent+":"+agentID {
		return nil, helpline.Errorf(helpline.EFORBIDDEN, "Contact %s is not assigned to agent %s.", c.ID, agentID)
	}
	p, err := s.seated(ctx, c.ID, agentID)
	if err == nil && p == nil {
		if err = s.seat(ctx, c, agentID); err == nil {
			p, err = s.seated(ctx, c.ID, agentID)
		}
	}
	if err != nil {
		return nil, err
	} else if p == nil {
		return nil, helpline.Errorf(helpline.ECONFLICT, "Agent %s could not join contact %s.", agentID, c.ID)
	}
	inst, err := s.store.FindInstanceByID(ctx, c.InstanceID)
	if err != nil {
		return nil, err
	}
	return &helpline.Session{Participant: p, Contact: c, Instance: inst, Owner: c.Owner}, nil
}

// seated returns the agent's present AGENT participant in the contact, or
// nil.
func (s *Service) seated(ctx context.Context, contactID, agentID string) (*helpline.Participant, error) {
	ps, err := s.store.FindParticipants(ctx, contactID)
	if err != nil {
		return nil, err
	}
	for i := len(ps) - 1; i >= 0; i-- {
		p := ps[i]
		if p.Role == helpline.RoleAgent && !p.Left() && strings.HasPrefix(p.ClientToken, seatPrefix(agentID)) {
			return p, nil
		}
	}
	return nil, nil
}

// CloseContact ends a contact with reason AGENT_DISCONNECT. When the
// contact's flow has a CSAT question, the contact moves to
// helpline.OwnerCSAT instead (one owner change, reason csat, actor the
// flow; its agent leaves), and the bot runner asks the question and ends
// the contact after the answer or the wait. Closing a contact that is
// already being asked ends it now.
func (s *Service) CloseContact(ctx context.Context, instanceID, contactID string) error {
	for range 3 {
		c, err := s.FindContact(ctx, instanceID, contactID)
		if err != nil {
			return err
		}
		if c.Ended() || c.Owner == helpline.OwnerCSAT {
			return s.endContact(ctx, c, helpline.EndAgentDisconnect)
		}
		inst, err := s.store.FindInstanceByID(ctx, c.InstanceID)
		if err != nil {
			return err
		}
		flow := inst.FindFlow(c.FlowID)
		if flow == nil || flow.CSAT == nil {
			return s.endContact(ctx, c, helpline.EndAgentDisconnect)
		}
		_, _, err = s.ChangeOwner(ctx, helpline.OwnerChange{ContactID: c.ID, From: c.Owner, Version: c.Version,
			To: helpline.OwnerCSAT, Reason: helpline.ReasonCSAT, Actor: "flow:" + flow.ID})
		if helpline.ErrorCode(err) != helpline.ECONFLICT {
			return err
		}
		// The owner moved on (a transfer, the customer leaving) between
		// the read and the change: look again.
	}
	return helpline.Errorf(helpline.ECONFLICT, "Contact %s keeps changing owner; try again.", contactID)
}

// EndContact ends an active contact of the instance with reason (one of
// the helpline.End* values) now: every participant leaves and the
// customer sees chat.ended. Ending an ended contact is not an error.
// Errors: ENOTFOUND.
func (s *Service) EndContact(ctx context.Context, instanceID, contactID, reason string) error {
	c, err := s.FindContact(ctx, instanceID, contactID)
	if err != nil {
		return err
	}
	return s.endContact(ctx, c, reason)
}

// HandBack gives a contact an agent owns back to its flow's bot. The
// owner change and its transition item are one store write, so the bot's
// runner, woken by the change, already sees where the agent's part ends;
// the EventHandback item that follows is for the transcript's readers.
func (s *Service) HandBack(ctx context.Context, instanceID, contactID, actor string) (*helpline.Contact, error) {
	c, err := s.FindContact(ctx, instanceID, contactID)
	if err != nil {
		return nil, err
	} else if c.Ended() {
		return nil, helpline.Errorf(helpline.ECONFLICT, "Contact %s has ended.", c.ID)
	} else if !strings.HasPrefix(c.Owner, helpline.OwnerAgent+":") {
		return nil, helpline.Errorf(helpline.ECONFLICT, "Contact %s is not held by an agent.", c.ID)
	}
	inst, err := s.store.FindInstanceByID(ctx, c.InstanceID)
	if err != nil {
		return nil, err
	}
	flow := inst.FindFlow(c.FlowID)
	if flow == nil || flow.Bot == "" {
		return nil, helpline.Errorf(helpline.ECONFLICT, "The flow of contact %s has no bot to hand it back to.", c.ID)
	}
	from, to := c.Owner, helpline.OwnerBot+":"+flow.Bot
	c, _, err = s.ChangeOwner(ctx, helpline.OwnerChange{ContactID: c.ID, From: from, Version: c.Version,
		To: to, Reason: helpline.ReasonHandback, Actor: actor})
	if err != nil {
		return nil, err
	}
	content, _ := json.Marshal(helpline.HandbackContext{Bot: to, Agent: from, Actor: actor})
	it := &helpline.Item{ContactID: c.ID, ID: helpline.NewID(), Type: helpline.ItemEvent,
		ContentType: helpline.EventHandback, Content: string(content),
		ParticipantID: helpline.SystemParticipantID(c.ID), DisplayName: helpline.SystemDisplayName,
		Role: helpline.RoleSystem, Time: s.now(), ClientToken: fmt.Sprintf("handback:%d", c.Version)}
	replayed, err := s.store.AppendItem(ctx, it)
	if err != nil {
		s.log.Error("chat: recording the handback", "contact", c.ID, "err", err)
	} else if !replayed {
		s.publish(ctx, it)
	}
	return c, nil
}
