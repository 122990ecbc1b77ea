package helpline

import (
	"context"
	"time"
)

// AgentDesk is the engine as the agent API sees it: the queues, offers and
// chats of human agents, and what an agent does with them. The caller has
// authenticated the agent and checked that it may act on the contact; a
// contact of another instance is ENOTFOUND. An agent writes in a chat
// through the ParticipantService, as the AGENT participant that seated it
// when the chat was assigned (AgentSession).
type AgentDesk interface {
	// QueueStats returns the instance's queues, ordered by id, with how
	// many contacts wait in each and since when the longest has waited.
	QueueStats(ctx context.Context, instanceID string) ([]QueueStat, error)
	// PendingOffers returns the agent's pending offers not yet expired,
	// oldest first.
	PendingOffers(ctx context.Context, instanceID, agentID string) ([]*Offer, error)
	// FindOfferByID returns ENOTFOUND (Resource OFFER) if there is none.
	FindOfferByID(ctx context.Context, id string) (*Offer, error)
	// OfferPreview reads what the agent an offer is made to reads of its
	// chat before accepting it; the caller shows it to that agent only.
	// Errors: ENOTFOUND (Resource CONTACT).
	OfferPreview(ctx context.Context, contactID string) (*OfferPreview, error)
	// AcceptOffer accepts a pending offer for its agent, who joins the
	// chat. Errors: ENOTFOUND (Resource OFFER); ECONFLICT when the offer
	// is no longer pending, has expired or its contact moved on; EQUOTA
	// when the agent is at capacity.
	AcceptOffer(ctx context.Context, offerID string) (*Contact, *Item, error)
	// DeclineOffer declines a pending offer; routing offers the contact
	// to another agent. Errors: ENOTFOUND (Resource OFFER); ECONFLICT when
	// the offer is no longer pending.
	DeclineOffer(ctx context.Context, offerID string) error
	// AgentChats returns the active contacts agentID owns, oldest
	// assignment first; with agentID empty, every active contact of the
	// instance that routing holds: those waiting in a queue and those
	// owned by an enabled agent.
	AgentChats(ctx context.Context, instanceID, agentID string) ([]AgentChat, error)
	// FindContact returns a contact of the instance, or ENOTFOUND.
	FindContact(ctx context.Context, instanceID, contactID string) (*Contact, error)
	// Participants returns the contact's participants in the order they
	// joined.
	Participants(ctx context.Context, contactID string) ([]*Participant, error)
	// ItemsAfter returns up to limit stored items of the contact with a
	// Seq above after, in Seq order.
	ItemsAfter(ctx context.Context, contactID string, after int64, limit int) ([]*Item, error)
	// AgentSession returns the session of agentID's AGENT participant in
	// an active contact the agent owns, seating the agent first if its
	// participant is missing. Errors: ENOTFOUND (Resource CONTACT);
	// ECONFLICT when the contact has ended; EFORBIDDEN when the agent
	// does not own the contact. The session speaks for agent:<agentID>
	// (Session.Owner): a message sent with it after the contact moved on
	// is ECONFLICT, stored nowhere.
	AgentSession(ctx context.Context, instanceID, contactID, agentID string) (*Session, error)
	// Transfer moves an active contact to target ("queue:<id>" or
	// "agent:<id>") as actor decided; the old agent leaves the chat and a
	// new one joins. A transfer into a queue with nobody online is made
	// all the same, and nobodyOnline says so. Errors: EINVALID;
	// ENOTFOUND (CONTACT, QUEUE, AGENT); ECONFLICT (contact ended, owner
	// moved on, target agent not online); EQUOTA (agent at capacity).
	Transfer(ctx context.Context, instanceID, contactID, target, actor string) (c *Contact, nobodyOnline bool, err error)
	// HandBack hands an active contact an agent owns back to its flow's
	// bot as actor decided: the owner changes from agent:<id> to
	// bot:<the flow's bot> (reason ReasonHandback), the agent leaves the
	// chat, and an EventHandback item follows; the bot answers the
	// customer's items from then on. Errors: ENOTFOUND (CONTACT);
	// ECONFLICT when the contact has ended, no agent owns it, its owner
	// moved on, or its flow has no bot.
	HandBack(ctx context.Context, instanceID, contactID, actor string) (*Contact, error)
	// CloseContact ends an active contact with reason AGENT_DISCONNECT:
	// every participant leaves and the customer sees chat.ended. When the
	// contact's flow has a CSAT question (Flow.CSAT) the end waits for
	// it: the contact moves to OwnerCSAT, its agent leaves, and the bot
	// runner asks the question and ends the contact (same reason) after
	// the answer or the wait. Closing an ended contact is not an error;
	// closing one that is being asked ends it now. Errors: ENOTFOUND.
	CloseContact(ctx context.Context, instanceID, contactID string) error
}

// QueueStat is a queue with the contacts waiting in it.
type QueueStat struct {
	Queue   *Queue
	Waiting int
	// OldestSince is when the contact waiting longest entered the queue;
	// zero when none waits.
	OldestSince time.Time
}

// AgentChat is an active contact as an agent's list shows it: owned by an
// agent since Since (QueueID the queue it was accepted from, if any), or
// waiting in queue QueueID since Since.
type AgentChat struct {
	Contact *Contact
	QueueID string
	Since   time.Time
}
