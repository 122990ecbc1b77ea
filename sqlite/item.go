package sqlite

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/helplinehq/helpline"
	sqlitedriver "modernc.org/sqlite"
	sqlitelib "modernc.org/sqlite/lib"
)

const (
	itemColumns = `contact_id, seq, id, type, content_type, content, participant_id, display_name, role,
	time, attachments, metadata, client_token, origin`
	selectItemByToken = `SELECT ` + itemColumns + ` FROM items
	WHERE contact_id = ? AND participant_id = ? AND client_token = ? AND client_token != ''`
	selectContactStateLastSeq = `SELECT rowid, state, owner, (SELECT coalesce(max(seq), 0) FROM items WHERE contact_id = ?)
	FROM contacts WHERE id = ?`
	insertItem = `INSERT INTO items (` + itemColumns + `) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`
	// insertItemOnce stores nothing when the item's idempotency key is
	// taken: the literal WHERE names the partial index.
	insertItemOnce = insertItem + `
	ON CONFLICT (contact_id, participant_id, client_token) WHERE client_token != '' DO NOTHING`
)

// AppendItem stores it as the contact's next item, setting it.Seq. It is
// idempotent on (ContactID, ParticipantID, ClientToken) and returns
// ECONFLICT if the contact has ended and EFORBIDDEN if the sender has
// left; see helpline.Store.
func (db *DB) AppendItem(ctx context.Context, it *helpline.Item) (replayed bool, err error) {
	return db.appendItem(ctx, it, nil)
}

// AppendOwnedItem is AppendItem provided the contact's owner is owner,
// checked in the same transaction; see helpline.Store.
func (db *DB) AppendOwnedItem(ctx context.Context, it *helpline.Item, owner string) (replayed bool, err error) {
	return db.appendItem(ctx, it, &owner)
}

// appendItem is AppendItem, and AppendOwnedItem when owner is not nil.
//
// The writer remembers each contact it appends to (appendCache), so that
// an append to a known contact by a known sender is one INSERT: it does
// not read the contact, the sender or the last Seq, and it looks for an
// earlier item with the same ClientToken only when the INSERT finds one.
func (db *DB) appendItem(ctx context.Context, it *helpline.Item, owner *string) (replayed bool, err error) {
	err = db.write(ctx, func(tx *sql.Tx) error {
		s, err := db.appendable(tx, it, owner)
		if err != nil {
			// A retry returns the original item even after the contact
			// ended, changed owner or saw its sender leave.
			if stored, ferr := findItemByToken(tx, it); ferr != nil {
				return ferr
			} else if stored != nil {
				*it, replayed = *stored, true
				return nil
			}
			return err
		}
		inserted, err := insertOnce(tx, it, s.lastSeq+1)
		if isPrimaryKeyConflict(err) {
			// Every write that appends items forgets the contact, so this
			// is a defect; the database holds the truth: read it again.
			db.log.Error("sqlite: the remembered last Seq was stale", "contact_id", it.ContactID, "seq", s.lastSeq)
			db.appends.forget(it.ContactID)
			if s, err = db.appendable(tx, it, owner); err != nil {
				return err
			}
			inserted, err = insertOnce(tx, it, s.lastSeq+1)
		}
		if err != nil {
			return dbError("append item", err)
		} else if !inserted {
			stored, err := findItemByToken(tx, it)
			if err != nil {
				return err
			} else if stored == nil {
				return fmt.Errorf("sqlite: append item: the ClientToken's item is missing")
			}
			*it, replayed = *stored, true
			return nil
		}
		db.appends.appended(it.ContactID, s, it.Seq)
		return nil
	})
	return replayed, err
}

// insertOnce stores it as its contact's item number seq unless an item
// with its idempotency key exists, and reports whether it did. Its errors
// are the driver's.
func insertOnce(tx *sql.Tx, it *helpline.Item, seq int64) (inserted bool, err error) {
	attachments, metadata, err := encodeItemExtras(it)
	if err != nil {
		return false, err
	}
	res, err := tx.Exec(insertItemOnce, it.ContactID, seq, it.ID, it.Type, it.ContentType, it.Content, it.ParticipantID,
		it.DisplayName, it.Role, millis(it.Time), attachments, metadata, it.ClientToken, it.Origin)
	if err != nil {
		return false, err
	}
	if n, err := res.RowsAffected(); err != nil || n == 0 {
		return false, err
	}
	it.Seq = seq
	return true, nil
}

// isPrimaryKeyConflict reports whether err is the driver's report of a
// primary key already in use.
func isPrimaryKeyConflict(err error) bool {
	if err == nil {
		return false
	}
	var se *sqlitedriver.Error
	return errors.As(err, &se) && se.Code() == sqlitelib.SQLITE_CONSTRAINT_PRIMARYKEY
}

// appendable returns what the writer knows of it's contact if it may be
// appended: ENOTFOUND for a missing contact, ECONFLICT for an ended one
// or, when owner is not nil, one owned by someone else than *owner, and
// EFORBIDDEN when it.ParticipantID names a participant of the contact
// who has left. Other senders (the system) have no participant record.
// It reads the database for a contact or a sender it does not remember.
func (db *DB) appendable(tx *sql.Tx, it *helpline.Item, owner *string) (*appendState, error) {
	s := db.appends.get(it.ContactID)
	if s == nil {
		s = &appendState{}
		err := tx.QueryRow(selectContactStateLastSeq, it.ContactID, it.ContactID).Scan(&s.rowid, &s.state, &s.owner, &s.lastSeq)
		if errors.Is(err, sql.ErrNoRows) {
			return nil, helpline.NotFound(helpline.ResourceContact, it.ContactID)
		} else if err != nil {
			return nil, dbError("read contact", err)
		}
		db.appends.put(it.ContactID, s)
	}
	if s.state == helpline.ContactEnded {
		return nil, helpline.Errorf(helpline.ECONFLICT, "The contact has ended.")
	} else if owner != nil && s.owner != *owner {
		return nil, helpline.Errorf(helpline.ECONFLICT, "The contact is no longer owned by %s.", *owner)
	}
	if _, ok := s.present[it.ParticipantID]; ok {
		return s, nil
	}
	var rowid int64
	var left sql.NullInt64
	err := tx.QueryRow(`SELECT rowid, left_at FROM participants WHERE id = ? AND contact_id = ?`, it.ParticipantID, it.ContactID).Scan(&rowid, &left)
	switch {
	case errors.Is(err, sql.ErrNoRows):
		// Not a participant: nothing to remember, as one may be added.
	case err != nil:
		return nil, dbError("read participant", err)
	case left.Valid:
		return nil, helpline.Errorf(helpline.EFORBIDDEN, "The participant has left the chat.")
	default:
		db.appends.addPresent(it.ContactID, s, it.ParticipantID, rowid)
	}
	return s, nil
}

// findItemByToken returns the stored item with it's idempotency key
// (ContactID, ParticipantID, ClientToken), or nil if there is none.
func findItemByToken(tx *sql.Tx, it *helpline.Item) (*helpline.Item, error) {
	return byClientToken(tx, scanItem, selectItemByToken, it.ClientToken, it.ContactID, it.ParticipantID)
}

// appendItems stores items as the contact's next items, numbering them
// from lastSeq+1, and sets their ContactID and Seq. It returns the new last
// Seq. Its callers forget the contact in db.appends (appendItem excepted),
// as they change its last Seq.
func appendItems(tx *sql.Tx, contactID string, lastSeq int64, items []*helpline.Item) (int64, error) {
	for _, it := range items {
		attachments, metadata, err := encodeItemExtras(it)
		if err != nil {
			return 0, err
		}
		lastSeq++
		_, err = tx.Exec(insertItem,
			contactID, lastSeq, it.ID, it.Type, it.ContentType, it.Content, it.ParticipantID, it.DisplayName, it.Role,
			millis(it.Time), attachments, metadata, it.ClientToken, it.Origin)
		if err != nil {
			return 0, dbError("append item", err)
		}
		it.ContactID = contactID
		it.Seq = lastSeq
	}
	return lastSeq, nil
}

// FindItemByID returns the contact's item with the given id, or ENOTFOUND
// (Resource ITEM). No index has item ids: the contact's items are read
// newest first, as receipts and transcript positions name recent items.
func (db *DB) FindItemByID(ctx context.Context, contactID, id string) (*helpline.Item, error) {
	it, err := scanItem(db.r.QueryRowContext(ctx, `SELECT `+itemColumns+` FROM items WHERE contact_id = ? AND id = ?
		ORDER BY seq DESC LIMIT 1`, contactID, id))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, helpline.NotFound(helpline.ResourceItem, id)
	}
	return it, err
}

// FindItems returns the contact's items that q selects, in scan order.
// With From set the scan starts at that Seq; otherwise, with FromTime set,
// at the first item (lowest Seq) whose Time is at or after it going
// forward, or at the last item (highest Seq) whose Time is at or before it
// going backward. No item qualifying as the start means no items.
func (db *DB) FindItems(ctx context.Context, contactID string, q helpline.ItemQuery) ([]*helpline.Item, error) {
	query := `SELECT ` + itemColumns + ` FROM items WHERE contact_id = ?`
	args := []any{contactID}
	switch {
	case q.From > 0 && !q.Backward:
		query += ` AND seq >= ?`
		args = append(args, q.From)
	case q.From > 0:
		query += ` AND seq <= ?`
		args = append(args, q.From)
	case !q.FromTime.IsZero() && !q.Backward:
		query += ` AND seq >= (SELECT seq FROM items WHERE contact_id = ? AND time >= ? ORDER BY seq LIMIT 1)`
		args = append(args, contactID, millis(q.FromTime))
	case !q.FromTime.IsZero():
		query += ` AND seq <= (SELECT seq FROM items WHERE contact_id = ? AND time <= ? ORDER BY seq DESC LIMIT 1)`
		args = append(args, contactID, millis(q.FromTime))
	}
	if q.Backward {
		query += ` ORDER BY seq DESC`
	} else {
		query += ` ORDER BY seq`
	}
	limit := q.Limit
	if limit <= 0 {
		limit = -1
	}
	query += ` LIMIT ?`
	args = append(args, limit)

	return queryAll(ctx, db.r, "find items", scanItem, query, args...)
}

func scanItem(s scanner) (*helpline.Item, error) {
	var (
		it                    helpline.Item
		ms                    int64
		attachments, metadata []byte
	)
	err := s.Scan(&it.ContactID, &it.Seq, &it.ID, &it.Type, &it.ContentType, &it.Content, &it.ParticipantID,
		&it.DisplayName, &it.Role, &ms, &attachments, &metadata, &it.ClientToken, &it.Origin)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, err
	} else if err != nil {
		return nil, dbError("read item", err)
	}
	it.Time = fromMillis(ms)
	if err := decodeItemExtras(&it, attachments, metadata); err != nil {
		return nil, fmt.Errorf("sqlite: decode item %s/%d: %w", it.ContactID, it.Seq, err)
	}
	return &it, nil
}

// The JSON forms of an item's attachments and metadata. They are the
// storage format: renaming a Go field must not change them.
type (
	attachmentJSON struct {
		ID          string `json:"id"`
		Name        string `json:"name"`
		ContentType string `json:"content_type"`
		Status      string `json:"status"`
	}
	metadataJSON struct {
		MessageID string        `json:"message_id"`
		Receipts  []receiptJSON `json:"receipts,omitempty"`
	}
	// receiptJSON holds times as unix milliseconds; absent means not
	// reported.
	receiptJSON struct {
		RecipientParticipantID string `json:"recipient_participant_id"`
		DeliveredAt            *int64 `json:"delivered_at,omitempty"`
		ReadAt                 *int64 `json:"read_at,omitempty"`
	}
)

// encodeItemExtras returns the attachments and metadata columns of it,
// each NULL when the item has none.
func encodeItemExtras(it *helpline.Item) (attachments, metadata any, err error) {
	if len(it.Attachments) > 0 {
		refs := make([]attachmentJSON, len(it.Attachments))
		for i, a := range it.Attachments {
			refs[i] = attachmentJSON(a)
		}
		b, err := json.Marshal(refs)
		if err != nil {
			return nil, nil, fmt.Errorf("sqlite: encode attachments: %w", err)
		}
		attachments = b
	}
	if m := it.Metadata; m != nil {
		mj := metadataJSON{MessageID: m.MessageID}
		for _, r := range m.Receipts {
			mj.Receipts = append(mj.Receipts, receiptJSON{
				RecipientParticipantID: r.RecipientParticipantID,
				DeliveredAt:            optionalMillis(r.DeliveredAt),
				ReadAt:                 optionalMillis(r.ReadAt),
			})
		}
		b, err := json.Marshal(mj)
		if err != nil {
			return nil, nil, fmt.Errorf("sqlite: encode metadata: %w", err)
		}
		metadata = b
	}
	return attachments, metadata, nil
}

func decodeItemExtras(it *helpline.Item, attachments, metadata []byte) error {
	if attachments != nil {
		var refs []attachmentJSON
		if err := json.Unmarshal(attachments, &refs); err != nil {
			return err
		}
		it.Attachments = make([]helpline.AttachmentRef, len(refs))
		for i, r := range refs {
			it.Attachments[i] = helpline.AttachmentRef(r)
		}
	}
	if metadata != nil {
		var mj metadataJSON
		if err := json.Unmarshal(metadata, &mj); err != nil {
			return err
		}
		m := &helpline.MessageMetadata{MessageID: mj.MessageID}
		for _, r := range mj.Receipts {
			rc := helpline.Receipt{RecipientParticipantID: r.RecipientParticipantID}
			if r.DeliveredAt != nil {
				rc.DeliveredAt = fromMillis(*r.DeliveredAt)
			}
			if r.ReadAt != nil {
				rc.ReadAt = fromMillis(*r.ReadAt)
			}
			m.Receipts = append(m.Receipts, rc)
		}
		it.Metadata = m
	}
	return nil
}

func optionalMillis(t time.Time) *int64 {
	if t.IsZero() {
		return nil
	}
	ms := t.UnixMilli()
	return &ms
}
