package sqlite

import (
	"context"

	"github.com/helplinehq/helpline"
)

// FindBotContacts returns the active contacts a bot owns, oldest first.
func (db *DB) FindBotContacts(ctx context.Context) ([]*helpline.Contact, error) {
	return queryAll(ctx, db.r, "find bot contacts", scanContact,
		selectContact+` WHERE `+isActive+` AND owner LIKE 'bot:%' ORDER BY created_at, id`)
}
