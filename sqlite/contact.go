package sqlite

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/helplinehq/helpline"
)

// contactColumns are the stored columns of a contact; selectContact adds
// its LastSeq, which the items table holds.
const (
	contactColumns = `id, instance_id, flow_id, initial_contact_id, related_contact_id, customer_id,
	state, end_reason, attributes, supported_content_types, client_token,
	created_at, expires_at, ended_at, owner, version`
	selectContact = `SELECT ` + contactColumns + `,
	(SELECT coalesce(max(seq), 0) FROM items WHERE items.contact_id = contacts.id) FROM contacts`

	// isActive selects active contacts. It is a literal, not a parameter,
	// so that SQLite can use the partial indexes on active contacts.
	isActive = `state = '` + helpline.ContactActive + `'`

	selectContactByToken   = selectContact + ` WHERE instance_id = ? AND client_token = ? AND client_token != ''`
	countActiveContacts    = `SELECT count(*) FROM contacts WHERE instance_id = ? AND ` + isActive
	selectContactsToExpire = selectContact + ` WHERE ` + isActive + ` AND expires_at <= ?
	ORDER BY expires_at, created_at, id LIMIT ?`
)

// CreateContact stores a new contact, at Version 1, its customer, its
// opening items and a mirror pair for each of nc.Mirrors in one
// transaction, numbering the items from Seq 1. It is idempotent on
// (InstanceID, ClientToken) and returns EQUOTA when the instance has
// nc.MaxActive active contacts; see helpline.Store.
func (db *DB) CreateContact(ctx context.Context, nc *helpline.NewContact) (replayed bool, err error) {
	c := nc.Contact
	if err := helpline.CheckOwner(c.Owner); err != nil {
		return false, err
	}
	attrs, err := json.Marshal(nonNilMap(c.Attributes))
	if err != nil {
		return false, fmt.Errorf("sqlite: encode attributes: %w", err)
	}
	types, err := json.Marshal(nonNilSlice(c.SupportedContentTypes))
	if err != nil {
		return false, fmt.Errorf("sqlite: encode content types: %w", err)
	}
	err = db.write(ctx, func(tx *sql.Tx) error {
		if stored, err := byClientToken(tx, scanContact, selectContactByToken, c.ClientToken, c.InstanceID); err != nil {
			return err
		} else if stored != nil {
			return replayContact(tx, nc, stored, &replayed)
		}
		if nc.MaxActive > 0 {
			var active int
			if err := tx.QueryRow(countActiveContacts, c.InstanceID).Scan(&active); err != nil {
				return dbError("count active contacts", err)
			}
			if active >= nc.MaxActive {
				return helpline.Errorf(helpline.EQUOTA, "The instance already has %d active chats, its limit.", active)
			}
		}
		_, err := tx.Exec(`INSERT INTO contacts (`+contactColumns+`) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 1)`,
			c.ID, c.InstanceID, c.FlowID, c.InitialContactID, c.RelatedContactID, c.CustomerID,
			c.State, c.EndReason, attrs, types, c.ClientToken,
			millis(c.CreatedAt), nullMillis(c.ExpiresAt), nullMillis(c.EndedAt), c.Owner)
		if err != nil {
			return dbError("create contact", err)
		}
		c.Version = 1
		if p := nc.Customer; p != nil {
			p.ContactID = c.ID
			if err := insertParticipant(tx, p); err != nil {
				return err
			}
		}
		last, err := appendItems(tx, c.ID, 0, nc.Items)
		if err != nil {
			return err
		}
		c.LastSeq = last
		return insertMirrorPairs(tx, c.ID, nc.Mirrors, c.CreatedAt)
	})
	return replayed, err
}

// replayContact fills nc with the stored contact and its customer for a
// retried CreateContact.
func replayContact(tx *sql.Tx, nc *helpline.NewContact, stored *helpline.Contact, replayed *bool) error {
	if nc.Customer != nil {
		p, err := scanParticipant(tx.QueryRow(`SELECT `+participantColumns+` FROM participants
			WHERE contact_id = ? AND role = ? ORDER BY rowid LIMIT 1`, stored.ID, helpline.RoleCustomer))
		if errors.Is(err, sql.ErrNoRows) {
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
	return findContact(ctx, db.r, id)
}

func findContact(ctx context.Context, q querier, id string) (*helpline.Contact, error) {
	c, err := scanContact(q.QueryRowContext(ctx, selectContact+` WHERE id = ?`, id))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, helpline.NotFound(helpline.ResourceContact, id)
	}
	return c, err
}

// UpdateContactAttributes merges attrs into the contact's attributes and
// returns the updated contact, active or ended.
func (db *DB) UpdateContactAttributes(ctx context.Context, id string, attrs map[string]string) (*helpline.Contact, error) {
	var c *helpline.Contact
	err := db.write(ctx, func(tx *sql.Tx) error {
		var err error
		if c, err = findContact(context.Background(), tx, id); err != nil {
			return err
		}
		for k, v := range attrs {
			c.Attributes[k] = v
		}
		data, err := json.Marshal(c.Attributes)
		if err != nil {
			return fmt.Errorf("sqlite: encode attributes: %w", err)
		}
		if _, err := tx.Exec(`UPDATE contacts SET attributes = ? WHERE id = ?`, data, id); err != nil {
			return dbError("update attributes", err)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return c, nil
}

// UpdateCustomer renames the contact's customer, merges attrs and, when
// that changed anything on an active contact, appends it, in one
// transaction; see helpline.Store.
func (db *DB) UpdateCustomer(ctx context.Context, contactID, displayName string, attrs map[string]string, it *helpline.Item) (c *helpline.Contact, changed bool, err error) {
	err = db.write(ctx, func(tx *sql.Tx) error {
		changed = false
		var err error
		if c, err = findContact(context.Background(), tx, contactID); err != nil {
			return err
		}
		for k, v := range attrs {
			if old, ok := c.Attributes[k]; !ok || old != v {
				c.Attributes[k] = v
				changed = true
			}
		}
		if changed {
			data, err := json.Marshal(c.Attributes)
			if err != nil {
				return fmt.Errorf("sqlite: encode attributes: %w", err)
			}
			if _, err := tx.Exec(`UPDATE contacts SET attributes = ? WHERE id = ?`, data, contactID); err != nil {
				return dbError("update customer", err)
			}
		}
		if displayName != "" {
			res, err := tx.Exec(`UPDATE participants SET display_name = ? WHERE contact_id = ? AND role = ? AND display_name != ?`,
				displayName, contactID, helpline.RoleCustomer, displayName)
			if err != nil {
				return dbError("update customer", err)
			}
			if n, err := res.RowsAffected(); err != nil {
				return dbError("update customer", err)
			} else if n > 0 {
				changed = true
			}
		}
		if !changed || c.Ended() || it == nil {
			return nil
		}
		db.appends.forget(c.ID)
		c.LastSeq, err = appendItems(tx, c.ID, c.LastSeq, []*helpline.Item{it})
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
	if limit <= 0 {
		limit = -1
	}
	return queryAll(ctx, db.r, "find contacts to expire", scanContact, selectContactsToExpire, millis(t), limit)
}

// EndContact marks an active contact ended, clears its owner, marks its
// remaining participants left and appends items, in one transaction. It returns
// ended=false and writes nothing if the contact had already ended.
func (db *DB) EndContact(ctx context.Context, id, reason string, at time.Time, items []*helpline.Item) (ended bool, err error) {
	err = db.write(ctx, func(tx *sql.Tx) error {
		c, err := findContact(context.Background(), tx, id)
		if err != nil {
			return err
		} else if c.Ended() {
			return nil
		}
		if _, err := tx.Exec(`UPDATE contacts SET state = ?, end_reason = ?, ended_at = ?, owner = '', version = version + 1
			WHERE id = ?`, helpline.ContactEnded, reason, millis(at), id); err != nil {
			return dbError("end contact", err)
		}
		if _, err := tx.Exec(`UPDATE participants SET left_at = ? WHERE contact_id = ? AND left_at IS NULL`,
			millis(at), id); err != nil {
			return dbError("end contact", err)
		}
		if _, err := tx.Exec(`UPDATE offers SET state = ?, decided_at = ? WHERE contact_id = ? AND state = ?`,
			helpline.OfferWithdrawn, millis(at), id, helpline.OfferPending); err != nil {
			return dbError("end contact", err)
		}
		db.appends.forget(id)
		if _, err := appendItems(tx, id, c.LastSeq, items); err != nil {
			return err
		}
		ended = true
		return nil
	})
	return ended, err
}

// ChangeOwner moves an active contact from ch.From at ch.Version to ch.To
// and appends the transition item, in one transaction; see
// helpline.Store.
func (db *DB) ChangeOwner(ctx context.Context, ch *helpline.OwnerChange) (*helpline.Contact, *helpline.Item, error) {
	if err := ch.Check(); err != nil {
		return nil, nil, err
	}
	var (
		c  *helpline.Contact
		it *helpline.Item
	)
	err := db.write(ctx, func(tx *sql.Tx) (err error) {
		db.appends.forget(ch.ContactID)
		c, it, err = changeOwner(tx, ch)
		return err
	})
	if err != nil {
		return nil, nil, err
	}
	return c, it, nil
}

// changeOwner applies a checked change in tx: the compare-and-swap, the
// new owner's capacity when it is an agent with a row, the withdrawal of
// the contact's pending offers and the transition item.
func changeOwner(tx *sql.Tx, ch *helpline.OwnerChange) (*helpline.Contact, *helpline.Item, error) {
	if kind, agentID, _ := strings.Cut(ch.To, ":"); kind == helpline.OwnerAgent {
		var instanceID string
		if err := tx.QueryRow(`SELECT instance_id FROM contacts WHERE id = ?`, ch.ContactID).Scan(&instanceID); errors.Is(err, sql.ErrNoRows) {
			return nil, nil, helpline.NotFound(helpline.ResourceContact, ch.ContactID)
		} else if err != nil {
			return nil, nil, dbError("change owner", err)
		}
		if err := checkCapacity(tx, instanceID, agentID, ch.ContactID, ch.At, false); err != nil {
			return nil, nil, err
		}
	}
	res, err := tx.Exec(`UPDATE contacts SET owner = ?, version = version + 1, owner_since = ?
		WHERE id = ? AND owner = ? AND version = ? AND `+isActive, ch.To, millis(ch.At), ch.ContactID, ch.From, ch.Version)
	if err != nil {
		return nil, nil, dbError("change owner", err)
	}
	if n, err := res.RowsAffected(); err != nil {
		return nil, nil, dbError("change owner", err)
	} else if n == 0 {
		return nil, nil, ownerConflict(tx, ch)
	}
	if _, err := tx.Exec(`UPDATE offers SET state = ?, decided_at = ? WHERE contact_id = ? AND state = ?`,
		helpline.OfferWithdrawn, millis(ch.At), ch.ContactID, helpline.OfferPending); err != nil {
		return nil, nil, dbError("withdraw offers", err)
	}
	c, err := findContact(context.Background(), tx, ch.ContactID)
	if err != nil {
		return nil, nil, err
	}
	it := ch.Item()
	if c.LastSeq, err = appendItems(tx, c.ID, c.LastSeq, []*helpline.Item{it}); err != nil {
		return nil, nil, err
	}
	return c, it, nil
}

// findActiveContact returns the contact that a write needs active:
// ENOTFOUND if there is none, ECONFLICT if it has ended.
func findActiveContact(tx *sql.Tx, id string) (*helpline.Contact, error) {
	c, err := findContact(context.Background(), tx, id)
	if err == nil && c.Ended() {
		return nil, helpline.Errorf(helpline.ECONFLICT, "The contact has ended.")
	}
	return c, err
}

// ownerConflict returns why ch changed no contact: ENOTFOUND, or ECONFLICT
// naming what no longer holds.
func ownerConflict(tx *sql.Tx, ch *helpline.OwnerChange) error {
	c, err := findContact(context.Background(), tx, ch.ContactID)
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
		expires, ended sql.NullInt64
	)
	err := s.Scan(&c.ID, &c.InstanceID, &c.FlowID, &c.InitialContactID, &c.RelatedContactID, &c.CustomerID,
		&c.State, &c.EndReason, &attrs, &types, &c.ClientToken,
		&created, &expires, &ended, &c.Owner, &c.Version, &c.LastSeq)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, err
	} else if err != nil {
		return nil, dbError("read contact", err)
	}
	if err := json.Unmarshal(attrs, &c.Attributes); err != nil {
		return nil, fmt.Errorf("sqlite: decode attributes of contact %s: %w", c.ID, err)
	}
	if err := json.Unmarshal(types, &c.SupportedContentTypes); err != nil {
		return nil, fmt.Errorf("sqlite: decode content types of contact %s: %w", c.ID, err)
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
