package routing

import (
	"strings"
	"time"

	"github.com/helplinehq/helpline"
)

// Transfer is a transfer Decide-style logic allowed: the owner change to
// apply (Store.ChangeOwner, which also releases the old assignee and
// withdraws pending offers in its transaction), and whether the target
// queue has nobody online, which the transferring agent is told.
type Transfer struct {
	Change       *helpline.OwnerChange
	NobodyOnline bool
}

// PlanTransfer checks a transfer of contact c, owned by c.Owner at
// c.Version, to target ("queue:<id>" or "agent:<id>") asked by actor at
// time now, against the state in s.
//
// A transfer into a queue is allowed whoever is online there: the chat
// waits its turn, and NobodyOnline is set when no enabled agent serving
// the queue is online. A transfer to an agent needs the agent enabled,
// online and under capacity (the store checks capacity again when it
// applies the change).
//
// Errors: EINVALID for a target that is neither a queue nor an agent, or
// the current owner; ENOTFOUND (Resource QUEUE or AGENT) for an unknown
// or disabled target; ECONFLICT for an agent not online; EQUOTA for an
// agent at capacity.
func PlanTransfer(s *helpline.RoutingSnapshot, c *helpline.Contact, target, actor string, now time.Time, grace time.Duration) (*Transfer, error) {
	if grace == 0 {
		grace = DefaultGrace
	}
	ch := &helpline.OwnerChange{ContactID: c.ID, From: c.Owner, Version: c.Version, To: target,
		Reason: ReasonTransfer, Actor: actor, At: now}
	if err := ch.Check(); err != nil {
		return nil, err
	}
	r := newRound(s, now, grace)
	kind, id, _ := strings.Cut(target, ":")
	switch kind {
	case helpline.OwnerQueue:
		if r.queues[id] == nil {
			return nil, helpline.NotFound(helpline.ResourceQueue, id)
		}
		t := &Transfer{Change: ch, NobodyOnline: true}
		for _, a := range r.order {
			if a.status == helpline.PresenceOnline && a.Agent.Serves(id) {
				t.NobodyOnline = false
			}
		}
		return t, nil
	case helpline.OwnerAgent:
		a := r.agents[id]
		if a == nil {
			return nil, helpline.NotFound(helpline.ResourceAgent, id)
		}
		for _, o := range s.Offers {
			if o.State == helpline.OfferPending && o.AgentID == id && now.Before(o.ExpiresAt) && o.ContactID != c.ID {
				a.load++
			}
		}
		if a.status != helpline.PresenceOnline {
			return nil, helpline.Errorf(helpline.ECONFLICT, "Agent %s is %s.", id, a.status)
		} else if a.load >= a.Agent.Capacity {
			return nil, helpline.Errorf(helpline.EQUOTA, "Agent %s is at capacity (%d chats).", id, a.Agent.Capacity)
		}
		return &Transfer{Change: ch}, nil
	}
	return nil, helpline.Errorf(helpline.EINVALID, "A contact is transferred to a queue or an agent, not %q.", target)
}
