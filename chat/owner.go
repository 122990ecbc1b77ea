package chat

import (
	"context"

	"github.com/helplinehq/helpline"
)

// ChangeOwner moves a contact to ch.To by compare-and-swap from ch.From
// at ch.Version, stamping ch.At now, and publishes the owner.changed item
// the store appends with the change (helpline.Store.ChangeOwner), so that
// watchers and the mirror dispatcher see it like any other item. When the
// change takes a contact from an agent, that agent's AGENT participant
// leaves the chat; when it gives it to an agent, the agent joins it under
// its display name. Then it publishes an EventOwner event for subscribers
// that follow ownership only, which thus find the participants as the
// change left them. It returns the updated contact and the transition
// item.
//
// Errors: EINVALID, ENOTFOUND (Resource CONTACT), ECONFLICT when the owner
// or version moved on or the contact ended; a caller rereads the contact
// and decides again. Sessions keep the contact as it was when they were
// loaded: decide on ownership from the store, not from a session.
func (s *Service) ChangeOwner(ctx context.Context, ch helpline.OwnerChange) (*helpline.Contact, *helpline.Item, error) {
	ch.At = s.now()
	c, it, err := s.store.ChangeOwner(ctx, &ch)
	if err != nil {
		return nil, nil, err
	}
	s.announceOwner(ctx, c, it, ch.From)
	return c, it, nil
}
