package chat

import (
	"context"
	"time"

	"github.com/helplinehq/helpline"
	"github.com/helplinehq/helpline/routing"
)

var _ helpline.AgentFeed = (*Service)(nil)

// AgentView reads the agent's desk from its part of the routing state
// (RoutingStore.AgentSnapshot, which costs what the agent's share does,
// not the instance's), then the newest Seq of each of its chats.
func (s *Service) AgentView(ctx context.Context, instanceID, agentID string) (*helpline.AgentView, error) {
	snap, err := s.store.AgentSnapshot(ctx, instanceID, agentID)
	if err != nil {
		return nil, err
	}
	st, err := agentIn(snap, instanceID, agentID)
	if err != nil {
		return nil, err
	}
	now := s.now()
	v := &helpline.AgentView{Agent: st.Agent, Presence: st.Presence,
		Status: routing.Status(st.Presence, now, s.grace), Waiting: waitingFor(snap, st)}
	for _, o := range snap.Offers {
		if o.AgentID == agentID && o.State == helpline.OfferPending && now.Before(o.ExpiresAt) {
			v.Offers = append(v.Offers, o)
		}
	}
	for _, a := range st.Chats {
		c, err := s.store.FindContactByID(ctx, a.ContactID)
		if err != nil {
			return nil, err
		}
		v.Chats = append(v.Chats, helpline.OwnedChat{Assignment: a, LastSeq: c.LastSeq})
	}
	return v, nil
}

// waitingReadsEvery is the least time between the starts of two reads of
// an instance's snapshot for QueueWaiting: every console of a queue asks
// on each change in it, and they share one read a period.
const waitingReadsEvery = 200 * time.Millisecond

// QueueWaiting reads the contacts waiting in the agent's queues from the
// instance's routing snapshot: a read that began after the call, shared
// with every console that asked within waitingReadsEvery.
func (s *Service) QueueWaiting(ctx context.Context, instanceID, agentID string) (map[string][]string, error) {
	snap, err := s.waitSnaps.get(ctx, instanceID)
	if err != nil {
		return nil, err
	}
	st, err := agentIn(snap, instanceID, agentID)
	if err != nil {
		return nil, err
	}
	return waitingFor(snap, st), nil
}

// agentIn returns the agent's state in snap, or ENOTFOUND (Resource
// AGENT) when snap has no such enabled agent.
func agentIn(snap *helpline.RoutingSnapshot, instanceID, agentID string) (*helpline.AgentState, error) {
	for _, a := range snap.Agents {
		if a.Agent.ID == agentID {
			return a, nil
		}
	}
	return nil, &helpline.Error{Code: helpline.ENOTFOUND, Resource: helpline.ResourceAgent,
		ResourceID: agentID, Message: "No enabled agent " + agentID + " in instance " + instanceID + "."}
}

// waitingFor lists the contacts waiting in each of the agent's queues, in
// the snapshot's FIFO order (an empty list for an empty queue).
func waitingFor(snap *helpline.RoutingSnapshot, st *helpline.AgentState) map[string][]string {
	w := map[string][]string{}
	for _, q := range st.Agent.Queues {
		w[q] = []string{}
	}
	for _, c := range snap.Waiting {
		if list, ok := w[c.QueueID]; ok {
			w[c.QueueID] = append(list, c.ContactID)
		}
	}
	return w
}

// ItemsAfter reads the contact's stored items after Seq after.
func (s *Service) ItemsAfter(ctx context.Context, contactID string, after int64, limit int) ([]*helpline.Item, error) {
	return s.store.FindItems(ctx, contactID, helpline.ItemQuery{From: max(after, 0) + 1, Limit: limit})
}

// TouchAgent records the agent's live connection at the engine's now and
// publishes its presence when the status routing acts on changed (an
// agent that was offline for want of a connection comes back).
func (s *Service) TouchAgent(ctx context.Context, instanceID, agentID string) error {
	before, err := s.store.FindPresence(ctx, instanceID, agentID)
	if err != nil {
		return err
	}
	now := s.now()
	if err := s.store.TouchAgent(ctx, instanceID, agentID, now); err != nil {
		return err
	}
	after := *before
	if now.After(after.SeenAt) {
		after.SeenAt = now
	}
	if routing.Status(*before, now, s.grace) == routing.Status(after, now, s.grace) {
		return nil
	}
	ev := helpline.Event{Kind: helpline.EventPresence, Subject: helpline.AgentSubject(agentID), Presence: &after}
	return s.bus.Publish(context.WithoutCancel(ctx), ev)
}

// PresenceStatus is routing.Status at the engine's now and grace.
func (s *Service) PresenceStatus(p helpline.Presence) string {
	return routing.Status(p, s.now(), s.grace)
}
