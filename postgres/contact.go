package postgres

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/helplinehq/helpline"
)

const (
	contactColumns = `id, instance_id, flow_id, initial_contact_id, related_contact_id, customer_id,
	state, end_reason, attributes, supported_content_types, client_token,
	created_at, expires_at, ended_at, owner, version, last_seq`
	selectContact = `SELECT ` + contactColumns + ` FROM contacts`

	isActive = `state = '` + helpline.ContactActive + `'`

	selectContactByToken   = selectContact + ` WHERE instance_id = $1 AND client_token = $2 AND client_token <> ''`
	selectContactsToExpire = selectContact + ` WHERE ` + isActive + ` AND expires_at <= $1
	ORDER BY expires_at, created_at, id LIMIT $2`
)

// CreateContact stores a new contact, at Version 1, its customer, its
// opening items and a mirror pair for each of nc.Mirrors in one
// transaction, numbering the items from Seq 1. It is idempotent on
// (InstanceID, ClientToken) by the unique index on them: of creates
// racing with one token, one inserts and the others find its contact.
// With nc.MaxActive set, creates of one instance take turns on an
// advisory lock, so that nodes creating at once never pass the quota.
func (db *DB) CreateContact(ctx context.Context, nc *helpline.NewContact) (replayed bool, err error) {
	c := nc.Contact
	if err := helpline.CheckOwner(c.Owner); err != nil {
		return false, err
	}
	attrs, err := json.Marshal(nonNilMap(c.Attributes))
	if err != nil {
		return false, fmt.Errorf("postgres: encode attributes: %w", err)
	}
	types, err := json.Marshal(nonNilSlice(c.SupportedContentTypes))
	if err != nil {
		return false, fmt.Errorf("postgres: encode content types: %w", err)
	}
	err = db.tx(ctx, func(tx pgx.Tx) error {
		replayed = false
		if stored, err := byClientToken(ctx, tx, scanContact, selectContactByToken, c.ClientToken, c.InstanceID); err != nil {
			return err
		} else if stored != nil {
			return replayContact(ctx, tx, nc, stored, &replayed)
		}
		if nc.MaxActive > 0 {
			if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock(hashtextextended($1, 0))`, "helpline.active."+c.InstanceID); err != nil {
				return dbError("lock instance", err)
			}
			var active int
			if err := tx.QueryRow(ctx, `SELECT count(*) FROM contacts WHERE instance_id = $1 AND `+isActive, c.InstanceID).Scan(&active); err != nil {
				return dbError("count active contacts", err)
			}
			if active >= nc.MaxActive {
				return helpline.Errorf(helpline.EQUOTA, "The instance already has %d active chats, its limit.", active)
			}
		}
		tag, err := tx.Exec(ctx, `INSERT INTO contacts (`+contactColumns+`)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, 1, 0)
			ON CONFLICT (instance_id, client_token) WHERE client_token <> '' DO NOTHING`,
			c.ID, c.InstanceID, c.FlowID, c.InitialContactID, c.RelatedContactID, c.CustomerID,
			c.State, c.EndReason, string(attrs), string(types), c.ClientToken,
			millis(c.CreatedAt), nullMillis(c.ExpiresAt), nullMillis(c.EndedAt), c.Owner)
		if err != nil {
			return dbError("create contact", err)
		}
		if tag.RowsAffected() == 0 {
			// A create with the same token committed since the lookup.
			stored, err := scanContact(tx.QueryRow(ctx, selectContactByToken, c.InstanceID, c.ClientToken))
			if err != nil {
				return dbError("read contact", err)
			}
			return replayContact(ctx, tx, nc, stored, &replayed)
		}
		c.Version = 1
		if p := nc.Customer; p != nil {
			p.ContactID = c.ID
			if err := insertParticipant(ctx, tx, p); err != nil {
				return err
			}
		}
		last, err := appendItems(ctx, tx, c.ID, nc.Items)
		if err != nil {
			return err
		}
		c.LastSeq = last
		return insertMirrorPairs(ctx, tx, c.ID, nc.Mirrors, c.CreatedAt)
	})
	return replayed, err
}

// replayContact fills nc with the stored contact and its customer for a
// retried CreateContact.
func replayContact(ctx context.Context, tx pgx.Tx, nc *helpline.NewContact, stored *helpline.Contact, replayed *bool) error {
	if nc.Customer != nil {
		p, err := scanParticipant(tx.QueryRow(ctx, `SELECT `+participantColumns+` FROM participants
			WHERE contact_id = $1 AND role = $2 ORDER BY n LIMIT 1`, stored.ID, helpline.RoleCustomer))
		if errors.Is(err, pgx.ErrNoRows) {
			return helpline.NotFound(helpline.ResourceParticipant, "customer of "+stored.ID)
		} else if err != nil {
			return err
		}
		*nc.Customer = *p
	}
	*nc.Contact = *stored
	nc.Items = nil
	*replayed = true
	return nil
}

// FindContactByID returns ENOTFOUND (Resource CONTACT) if there is none.
func (db *DB) FindContactByID(ctx context.Context, id string) (*helpline.Contact, error) {
	return findContact(ctx, db.pool, id, "")
}

// findContact reads a contact; lock, when set, is appended to the query
// (FOR UPDATE).
func findContact(ctx context.Context, q querier, id, lock string) (*helpline.Contact, error) {
	c, err := scanContact(q.QueryRow(ctx, selectContact+` WHERE id = $1 `+lock, id))
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, helpline.NotFound(helpline.ResourceContact, id)
	}
	return c, err
}

// lockContact reads a contact and locks its row until the transaction
// ends: the writes of a contact take turns on it.
func lockContact(ctx context.Context, tx pgx.Tx, id string) (*helpline.Contact, error) {
	return findContact(ctx, tx, id, "FOR UPDATE")
}

// lockActiveContact is lockContact for a write that needs the contact
// active: ECONFLICT if it has ended.
func lockActiveContact(ctx context.Context, tx pgx.Tx, id string) (*helpline.Contact, error) {
	c, err := lockContact(ctx, tx, id)
	if err == nil && c.Ended() {
		return nil, helpline.Errorf(helpline.ECONFLICT, "The contact has ended.")
	}
	return c, err
}

// UpdateContactAttributes merges attrs into the contact's attributes and
// returns the updated contact, active or ended.
func (db *DB) UpdateContactAttributes(ctx context.Context, id string, attrs map[string]string) (*helpline.Contact, error) {
	var c *helpline.Contact
	err := db.tx(ctx, func(tx pgx.Tx) error {
		var err error
		if c, err = lockContact(ctx, tx, id); err != nil {
			return err
		}
		for k, v := range attrs {
			c.Attributes[k] = v
		}
		return saveAttributes(ctx, tx, c)
	})
	if err != nil {
		return nil, err
	}
	return c, nil
}

func saveAttributes(ctx context.Context, tx pgx.Tx, c *helpline.Contact) error {
	data, err := json.Marshal(c.Attributes)
	if err != nil {
		return fmt.Errorf("postgres: encode attributes: %w", err)
	}
	if _, err := tx.Exec(ctx, `UPDATE contacts SET attributes = $1 WHERE id = $2`, string(data), c.ID); err != nil {
		return dbError("update attributes", err)
	}
	return nil
}

// UpdateCustomer renames the contact's customer, merges attrs and, when
// that changed anything on an active contact, appends it, in one
// transaction; see helpline.Store.
func (db *DB) UpdateCustomer(ctx context.Context, contactID, displayName string, attrs map[string]string, it *helpline.Item) (c *helpline.Contact, changed bool, err error) {
	err = db.tx(ctx, func(tx pgx.Tx) error {
		changed = false
		var err error
		if c, err = lockContact(ctx, tx, contactID); err != nil {
			return err
		}
		for k, v := range attrs {
			if old, ok := c.Attributes[k]; !ok || old != v {
				c.Attributes[k] = v
				changed = true
			}
		}
		if changed {
			if err := saveAttributes(ctx, tx, c); err != nil {
				return err
			}
		}
		if displayName != "" {
			tag, err := tx.Exec(ctx, `UPDATE participants SET display_name = $1 WHERE contact_id = $2 AND role = $3 AND display_name <> $1`,
				displayName, contactID, helpline.RoleCustomer)
			if err != nil {
				return dbError("update customer", err)
			}
			if tag.RowsAffected() > 0 {
				changed = true
			}
		}
		if !changed || c.Ended() || it == nil {
			return nil
		}
		c.LastSeq, err = appendItems(ctx, tx, c.ID, []*helpline.Item{it})
		return err
	})
	if err != nil {
		return nil, false, err
	}
	return c, changed, nil
}

// FindContactsToExpire returns up to limit active contacts whose ExpiresAt
// is at or before t, earliest ExpiresAt first. A limit of zero or less means
// no limit. Contacts without an ExpiresAt never expire.
func (db *DB) FindContactsToExpire(ctx context.Context, t time.Time, limit int) ([]*helpline.Contact, error) {
	return queryAll(ctx, db.pool, "find contacts to expire", scanContact, selectContactsToExpire, millis(t), limitOrAll(limit))
}

// FindBotContacts returns the active contacts a bot owns, oldest first.
func (db *DB) FindBotContacts(ctx context.Context) ([]*helpline.Contact, error) {
	return queryAll(ctx, db.pool, "find bot contacts", scanContact,
		selectContact+` WHERE `+isActive+` AND owner LIKE 'bot:%' ORDER BY created_at, id`)
}

// EndContact marks an active contact ended, clears its owner, marks its
// remaining participants left and appends items, in one transaction. It returns
// ended=false and writes nothing if the contact had already ended.
func (db *DB) EndContact(ctx context.Context, id, reason string, at time.Time, items []*helpline.Item) (ended bool, err error) {
	err = db.tx(ctx, func(tx pgx.Tx) error {
		ended = false
		c, err := lockContact(ctx, tx, id)
		if err != nil {
			return err
		} else if c.Ended() {
			return nil
		}
		if _, err := tx.Exec(ctx, `UPDATE contacts SET state = $1, end_reason = $2, ended_at = $3, owner = '', version = version + 1
			WHERE id = $4`, helpline.ContactEnded, reason, millis(at), id); err != nil {
			return dbError("end contact", err)
		}
		if _, err := tx.Exec(ctx, `UPDATE participants SET left_at = $1 WHERE contact_id = $2 AND left_at IS NULL`,
			millis(at), id); err != nil {
			return dbError("end contact", err)
		}
		if err := withdrawOffers(ctx, tx, id, at); err != nil {
			return err
		}
		if _, err := appendItems(ctx, tx, id, items); err != nil {
			return err
		}
		ended = true
		return nil
	})
	return ended, err
}

// withdrawOffers withdraws the contact's pending offers at time at.
func withdrawOffers(ctx context.Context, tx pgx.Tx, contactID string, at time.Time) error {
	if _, err := tx.Exec(ctx, `UPDATE offers SET state = $1, decided_at = $2 WHERE contact_id = $3 AND state = $4`,
		helpline.OfferWithdrawn, millis(at), contactID, helpline.OfferPending); err != nil {
		return dbError("withdraw offers", err)
	}
	return nil
}

// ChangeOwner moves an active contact from ch.From at ch.Version to ch.To
// and appends the transition item, in one transaction; see
// helpline.Store. The compare-and-swap is one UPDATE on the contact's
// row: of changes racing from one version, the first to lock the row
// wins and the others find the version moved on.
func (db *DB) ChangeOwner(ctx context.Context, ch *helpline.OwnerChange) (*helpline.Contact, *helpline.Item, error) {
	if err := ch.Check(); err != nil {
		return nil, nil, err
	}
	var (
		c  *helpline.Contact
		it *helpline.Item
	)
	err := db.tx(ctx, func(tx pgx.Tx) (err error) {
		c, it, err = changeOwner(ctx, tx, ch)
		return err
	})
	if err != nil {
		return nil, nil, err
	}
	return c, it, nil
}

// changeOwner applies a checked change in tx: the new owner's capacity
// when it is an agent with a row (its row locked first), the
// compare-and-swap, the withdrawal of the contact's pending offers and
// the transition item.
func changeOwner(ctx context.Context, tx pgx.Tx, ch *helpline.OwnerChange) (*helpline.Contact, *helpline.Item, error) {
	if kind, agentID, _ := strings.Cut(ch.To, ":"); kind == helpline.OwnerAgent {
		var instanceID string
		if err := tx.QueryRow(ctx, `SELECT instance_id FROM contacts WHERE id = $1`, ch.ContactID).Scan(&instanceID); errors.Is(err, pgx.ErrNoRows) {
			return nil, nil, helpline.NotFound(helpline.ResourceContact, ch.ContactID)
		} else if err != nil {
			return nil, nil, dbError("change owner", err)
		}
		if err := checkCapacity(ctx, tx, instanceID, agentID, ch.ContactID, ch.At, false); err != nil {
			return nil, nil, err
		}
	}
	tag, err := tx.Exec(ctx, `UPDATE contacts SET owner = $1, version = version + 1, owner_since = $2
		WHERE id = $3 AND owner = $4 AND version = $5 AND `+isActive, ch.To, millis(ch.At), ch.ContactID, ch.From, ch.Version)
	if err != nil {
		return nil, nil, dbError("change owner", err)
	}
	if tag.RowsAffected() == 0 {
		return nil, nil, ownerConflict(ctx, tx, ch)
	}
	if err := withdrawOffers(ctx, tx, ch.ContactID, ch.At); err != nil {
		return nil, nil, err
	}
	it := ch.Item()
	if _, err := appendItems(ctx, tx, ch.ContactID, []*helpline.Item{it}); err != nil {
		return nil, nil, err
	}
	c, err := findContact(ctx, tx, ch.ContactID, "")
	if err != nil {
		return nil, nil, err
	}
	return c, it, nil
}

// ownerConflict returns why ch changed no contact: ENOTFOUND, or ECONFLICT
// naming what no longer holds.
func ownerConflict(ctx context.Context, tx pgx.Tx, ch *helpline.OwnerChange) error {
	c, err := findContact(ctx, tx, ch.ContactID, "")
	switch {
	case err != nil:
		return err
	case c.Ended():
		return helpline.Errorf(helpline.ECONFLICT, "The contact has ended.")
	}
	return helpline.Errorf(helpline.ECONFLICT, "The contact's owner changed: it is %q at version %d, not %q at version %d.",
		c.Owner, c.Version, ch.From, ch.Version)
}

func scanContact(s scanner) (*helpline.Contact, error) {
	var (
		c              helpline.Contact
		attrs, types   []byte
		created        int64
		expires, ended *int64
	)
	err := s.Scan(&c.ID, &c.InstanceID, &c.FlowID, &c.InitialContactID, &c.RelatedContactID, &c.CustomerID,
		&c.State, &c.EndReason, &attrs, &types, &c.ClientToken,
		&created, &expires, &ended, &c.Owner, &c.Version, &c.LastSeq)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, err
	} else if err != nil {
		return nil, dbError("read contact", err)
	}
	if err := json.Unmarshal(attrs, &c.Attributes); err != nil {
		return nil, fmt.Errorf("postgres: decode attributes of contact %s: %w", c.ID, err)
	}
	if err := json.Unmarshal(types, &c.SupportedContentTypes); err != nil {
		return nil, fmt.Errorf("postgres: decode content types of contact %s: %w", c.ID, err)
	}
	c.Attributes = nonNilMap(c.Attributes)
	c.CreatedAt = fromMillis(created)
	c.ExpiresAt = fromNullMillis(expires)
	c.EndedAt = fromNullMillis(ended)
	return &c, nil
}

func nonNilMap(m map[string]string) map[string]string {
	if m == nil {
		return map[string]string{}
	}
	return m
}

func nonNilSlice(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}
