package helpline

import "context"

// AgentFeed is what an agent's realtime connection (the agent WebSocket)
// reads of the engine: the agent's desk as it stands, the items of its
// chats after a Seq, and the presence its live connection keeps up. The
// engine (package chat) implements it; the bus carries the changes
// (EventOffer and EventPresence on the agent's subject, EventOwner and
// EventItem on its contacts'), and the connection rereads the view when
// one concerns it or when it lost events.
type AgentFeed interface {
	// AgentView reads the agent's desk in one consistent read. Errors:
	// ENOTFOUND (Resource AGENT) for an unknown or disabled agent.
	AgentView(ctx context.Context, instanceID, agentID string) (*AgentView, error)
	// QueueWaiting reads AgentView's Waiting alone: for each queue the
	// agent serves, the contacts waiting in it in FIFO order. It reads
	// nothing of the agent's chats. Errors as AgentView's.
	QueueWaiting(ctx context.Context, instanceID, agentID string) (map[string][]string, error)
	// ItemsAfter returns up to limit stored items of the contact with a
	// Seq above after, in Seq order (limit 0: all of them).
	ItemsAfter(ctx context.Context, contactID string, after int64, limit int) ([]*Item, error)
	// TouchAgent records that a live connection of the agent is seen now
	// (RoutingStore.TouchAgent) and, when that changed the status routing
	// acts on (PresenceStatus), publishes EventPresence on the agent's
	// subject. Errors: ENOTFOUND (Resource AGENT).
	TouchAgent(ctx context.Context, instanceID, agentID string) error
	// PresenceStatus returns the status routing acts on now: p.Status,
	// unless no live connection has been seen within the presence grace,
	// which makes it offline.
	PresenceStatus(p Presence) string
	// OfferPreview reads what the agent an offer is made to reads of its
	// chat (OfferPreview). Errors: ENOTFOUND (Resource CONTACT).
	OfferPreview(ctx context.Context, contactID string) (*OfferPreview, error)
}

// AgentView is an agent's desk at one moment.
type AgentView struct {
	Agent    *Agent
	Presence Presence
	// Status is the presence routing acts on (AgentFeed.PresenceStatus).
	Status string
	// Chats are the active contacts the agent owns, with the Seq of each
	// one's newest item.
	Chats []OwnedChat
	// Offers are the agent's pending offers that have not expired.
	Offers []*Offer
	// Waiting lists, for each queue the agent serves, the contacts waiting
	// in it in FIFO order (an empty list for an empty queue).
	Waiting map[string][]string
}

// OwnedChat is a contact an agent owns, with the Seq of its newest item.
type OwnedChat struct {
	Assignment
	LastSeq int64
}
