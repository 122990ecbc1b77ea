// Package routing decides who answers which chat: which waiting contact is
// offered to which agent, when an offer times out or is withdrawn, when an
// absent agent's chats go back to their queue, and whether a transfer may
// go ahead. It is pure logic: every decision is a function of a
// helpline.RoutingSnapshot (queues, agents, presence, load) and the time,
// so that it is tested with a fake clock and any node may take it, the
// store being the one place the state lives.
//
// A caller (the routing loop in app, woken by bus events and a timer)
// reads a snapshot, calls Decide, and applies the Plan through the store:
// CloseOffer for Close, CreateOffer (and AcceptOffer when AutoAccept) for
// Offers, ChangeOwner for Requeue. The store re-checks each step in its
// transaction (owner versions, capacity), so two nodes applying plans from
// the same snapshot cannot assign a chat twice or overload an agent; the
// loser's step fails with ECONFLICT or EQUOTA and the next round decides
// again.
package routing

import (
	"cmp"
	"slices"
	"time"

	"github.com/helplinehq/helpline"
)

// DefaultGrace is how long an agent with no live connection keeps the
// status it set before routing counts it offline.
const DefaultGrace = 60 * time.Second

// Actor is the actor recorded in the owner changes routing decides.
const Actor = "routing"

// Owner change reasons that routing records.
const (
	ReasonReassign = "reassign" // an absent agent's chat returned to its queue
	ReasonTransfer = "transfer"
)

// Status returns the presence routing acts on at time now: the status
// the agent set, unless no live connection of the agent has been seen for
// longer than grace (or ever), which makes it offline. A grace of 0 is
// DefaultGrace.
func Status(p helpline.Presence, now time.Time, grace time.Duration) string {
	if grace == 0 {
		grace = DefaultGrace
	}
	if p.Status != helpline.PresenceOnline && p.Status != helpline.PresenceAway {
		return helpline.PresenceOffline
	}
	if p.SeenAt.IsZero() || now.Sub(p.SeenAt) > grace {
		return helpline.PresenceOffline
	}
	return p.Status
}

// unavailableSince returns when an agent that is not online at now
// stopped being online: the earlier of when it set a status other than
// online and when its connection's grace ran out.
func unavailableSince(p helpline.Presence, now time.Time, grace time.Duration) time.Time {
	since := now
	if p.Status != helpline.PresenceOnline && !p.StatusAt.IsZero() {
		since = p.StatusAt
	}
	if lost := p.SeenAt.Add(grace); !p.SeenAt.IsZero() && now.Sub(p.SeenAt) > grace && lost.Before(since) {
		since = lost
	}
	return since
}

// Plan is what Decide decided, to be applied in order: Close, Requeue,
// then Offers.
type Plan struct {
	// Close are pending offers to close: expired when their time ran out,
	// withdrawn when their agent is no longer online, enabled or serving
	// the queue. Their contacts keep their place in the queue: an offer
	// never changed the contact's owner.
	Close []Close
	// Requeue moves chats of agents absent for their queue's
	// reassign_after back to that queue.
	Requeue []*helpline.OwnerChange
	// Offers are the new offers, the oldest waiting contact first.
	Offers []NewOffer
}

// Close is a pending offer to close and the state to close it in.
type Close struct {
	Offer *helpline.Offer
	State string
}

// NewOffer is an offer to create (its ID left for the store to set), and
// whether to accept it for the agent at once (the queue's auto_accept).
type NewOffer struct {
	Offer      *helpline.Offer
	AutoAccept bool
}

// Decide returns what routing does at time now with the state in s. grace
// is how long an agent keeps its status without a live connection (0
// means DefaultGrace).
//
// Waiting contacts are offered in FIFO order of when they entered their
// queue, across queues, each to one eligible agent: enabled, online,
// serving the queue and under capacity (its chats plus pending offers).
// An agent who has not yet been offered the contact goes before one who
// let an offer of it pass (oldest pass first); then the queue's routing
// picks: longest idle (oldest last assignment) or round robin (oldest
// last offer); ties go to the smaller agent id. A contact whose queue has
// no eligible agent keeps waiting, as does a contact of an unknown queue.
func Decide(s *helpline.RoutingSnapshot, now time.Time, grace time.Duration) *Plan {
	if grace == 0 {
		grace = DefaultGrace
	}
	r := newRound(s, now, grace)
	plan := &Plan{}

	pending := map[string]bool{} // contacts with an offer still pending
	for _, o := range s.Offers {
		if o.State != helpline.OfferPending {
			r.passed(o.ContactID, o.AgentID, o.DecidedAt)
			continue
		}
		a := r.agents[o.AgentID]
		switch {
		case !now.Before(o.ExpiresAt):
			plan.Close = append(plan.Close, Close{o, helpline.OfferExpired})
			r.passed(o.ContactID, o.AgentID, o.ExpiresAt)
		case a == nil || a.status != helpline.PresenceOnline || !a.Agent.Serves(o.QueueID):
			plan.Close = append(plan.Close, Close{o, helpline.OfferWithdrawn})
			r.passed(o.ContactID, o.AgentID, now)
		default:
			pending[o.ContactID] = true
			a.load++
		}
	}

	for _, a := range r.order {
		if a.status == helpline.PresenceOnline {
			continue
		}
		since := unavailableSince(a.Presence, now, grace)
		for _, c := range a.Chats {
			q := r.queues[c.QueueID]
			if q == nil || q.ReassignAfter <= 0 || now.Sub(since) < q.ReassignAfter {
				continue
			}
			plan.Requeue = append(plan.Requeue, &helpline.OwnerChange{
				ContactID: c.ContactID, From: helpline.OwnerAgent + ":" + a.Agent.ID, Version: c.Version,
				To: helpline.OwnerQueue + ":" + q.ID, Reason: ReasonReassign, Actor: Actor, At: now,
			})
		}
	}

	for _, w := range s.Waiting {
		q := r.queues[w.QueueID]
		if q == nil || pending[w.ContactID] {
			continue
		}
		a := r.pick(q, w.ContactID)
		if a == nil {
			continue
		}
		a.load++
		a.offeredAt, a.assignedAt = now, now
		plan.Offers = append(plan.Offers, NewOffer{
			Offer: &helpline.Offer{
				InstanceID: q.InstanceID, ContactID: w.ContactID, QueueID: q.ID, AgentID: a.Agent.ID,
				ContactVersion: w.Version, State: helpline.OfferPending, CreatedAt: now, ExpiresAt: now.Add(q.AcceptWithin),
			},
			AutoAccept: q.AutoAccept,
		})
	}
	return plan
}

// round is the working state of one Decide.
type round struct {
	queues map[string]*helpline.Queue
	agents map[string]*agent
	order  []*agent // by id
	// passes[contact][agent] is when the agent last let an offer of the
	// contact pass (declined, expired, withdrawn).
	passes map[string]map[string]time.Time
}

// agent is an agent as one round sees it.
type agent struct {
	*helpline.AgentState
	status                string
	load                  int
	offeredAt, assignedAt time.Time
}

func newRound(s *helpline.RoutingSnapshot, now time.Time, grace time.Duration) *round {
	r := &round{queues: map[string]*helpline.Queue{}, agents: map[string]*agent{}, passes: map[string]map[string]time.Time{}}
	for _, q := range s.Queues {
		r.queues[q.ID] = q
	}
	for _, as := range s.Agents {
		if !as.Agent.Enabled {
			continue
		}
		a := &agent{AgentState: as, status: Status(as.Presence, now, grace), load: len(as.Chats),
			offeredAt: as.Presence.OfferedAt, assignedAt: as.Presence.AssignedAt}
		r.agents[as.Agent.ID] = a
		r.order = append(r.order, a)
	}
	slices.SortFunc(r.order, func(a, b *agent) int { return cmp.Compare(a.Agent.ID, b.Agent.ID) })
	return r
}

func (r *round) passed(contactID, agentID string, at time.Time) {
	m := r.passes[contactID]
	if m == nil {
		m = map[string]time.Time{}
		r.passes[contactID] = m
	}
	if at.After(m[agentID]) || m[agentID].IsZero() {
		m[agentID] = at
	}
}

// pick returns the agent to offer the contact of q to, or nil if no agent
// is eligible.
func (r *round) pick(q *helpline.Queue, contactID string) *agent {
	var best *agent
	for _, a := range r.order {
		if a.status != helpline.PresenceOnline || !a.Agent.Serves(q.ID) || a.load >= a.Agent.Capacity {
			continue
		}
		if best == nil || r.before(q, contactID, a, best) {
			best = a
		}
	}
	return best
}

// before reports whether a goes before b for the contact of q.
func (r *round) before(q *helpline.Queue, contactID string, a, b *agent) bool {
	pa, aPassed := r.passes[contactID][a.Agent.ID]
	pb, bPassed := r.passes[contactID][b.Agent.ID]
	if aPassed != bPassed {
		return !aPassed
	} else if aPassed && !pa.Equal(pb) {
		return pa.Before(pb)
	}
	ta, tb := a.assignedAt, b.assignedAt
	if q.Routing == helpline.RoutingRoundRobin {
		ta, tb = a.offeredAt, b.offeredAt
	}
	if !ta.Equal(tb) {
		return ta.Before(tb)
	}
	return a.Agent.ID < b.Agent.ID
}

// Next returns the earliest time after now at which Decide, given the
// same snapshot, could decide otherwise: a pending offer's expiry, the end
// of an agent's grace without a live connection, an absent agent's chats
// falling due for their queue's reassign_after. It returns the zero time
// when nothing is due; the store changing (a contact queued, a presence
// set) is news the bus brings instead.
func Next(s *helpline.RoutingSnapshot, now time.Time, grace time.Duration) time.Time {
	if grace == 0 {
		grace = DefaultGrace
	}
	var next time.Time
	at := func(t time.Time) {
		if t.After(now) && (next.IsZero() || t.Before(next)) {
			next = t
		}
	}
	for _, o := range s.Offers {
		if o.State == helpline.OfferPending {
			at(o.ExpiresAt)
		}
	}
	queues := map[string]*helpline.Queue{}
	for _, q := range s.Queues {
		queues[q.ID] = q
	}
	for _, a := range s.Agents {
		p := a.Presence
		if Status(p, now, grace) != helpline.PresenceOffline {
			// Status counts the agent offline once more than grace has
			// passed: a millisecond after SeenAt+grace.
			at(p.SeenAt.Add(grace + time.Millisecond))
		}
		if Status(p, now, grace) == helpline.PresenceOnline {
			continue
		}
		since := unavailableSince(p, now, grace)
		for _, c := range a.Chats {
			if q := queues[c.QueueID]; q != nil && q.ReassignAfter > 0 {
				at(since.Add(q.ReassignAfter))
			}
		}
	}
	return next
}
