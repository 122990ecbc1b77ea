package chat

import (
	"context"

	"github.com/helplinehq/helpline"
)

// ChangeOwner moves a contact to ch.To by compare-and-swap from ch.From
// at ch.Version, stamping ch.At now, and publishes the owner.changed item
// the store appends with the change (helpline.Store.ChangeOwner), so that
// watchers and the mirror dispatcher see it like any other item. It
// returns the updated contact and that item.
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
	s.publish(ctx, it)
	return c, it, nil
}
