package postgres

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"

	"github.com/helplinehq/helpline"
)

const (
	itemColumns = `contact_id, seq, id, type, content_type, content, participant_id, display_name, role,
	time, attachments, metadata, client_token, origin`
	selectItemByToken = `SELECT ` + itemColumns + ` FROM items
	WHERE contact_id = $1 AND participant_id = $2 AND client_token = $3 AND client_token <> ''`
)

// AppendItem stores it as the contact's next item, setting it.Seq. It is
// idempotent on (ContactID, ParticipantID, ClientToken) and returns
// ECONFLICT if the contact has ended and EFORBIDDEN if the sender has
// left; see helpline.Store. It is one statement, appendItemSQL, which
// locks the contact's row first, so appends to one contact, from any
// node, take turns: the checks and the numbering see the appends before.
func (db *DB) AppendItem(ctx context.Context, it *helpline.Item) (replayed bool, err error) {
	return db.appendItem(ctx, it, nil)
}

// AppendOwnedItem is AppendItem provided the contact's owner is owner,
// checked under the contact's row lock; see helpline.Store.
func (db *DB) AppendOwnedItem(ctx context.Context, it *helpline.Item, owner string) (replayed bool, err error) {
	return db.appendItem(ctx, it, &owner)
}

// appendItemSQL appends an item in one statement, its own transaction,
// so that a message costs one round trip to the server. Its parameters
// are the contact's id ($1), the sender's participant id ($2), the
// item's other columns in itemColumns order ($3-$13, client_token $12),
// and the owner the contact must have ($14, NULL for any).
//
// target locks the contact's row, as every write of the contact does,
// and reads the contact's state and owner and whether the sender has
// left; stored is the Seq of an item already stored under the
// idempotency key; inserted stores the item as the next one only if
// there is none and the checks pass; numbered raises last_seq to the
// inserted item's Seq, so the number moves only with an item.
//
// All of it reads the snapshot the statement began with, but a statement
// that waits for the row lock reads, at READ COMMITTED, the row as the
// holder left it, while the rest of the statement still reads the
// snapshot. What the holder wrote elsewhere is missed:
//
//   - an item stored under the same key: inserted then conflicts on the
//     key and does nothing, and appendItem answers that item;
//   - a participant who left: so the statement stores nothing unless the
//     contact's count of leaves, which LeaveParticipant raises, is the
//     one its snapshot holds (fresh), and appendItem runs it again after
//     locking the row itself when it is not.
//
// The state and owner are the row's own, read as the holder left them.
// The statement returns one row if the contact exists.
const appendItemSQL = `WITH target AS (
	SELECT c.leaves, c.last_seq, c.state, c.owner, p.left_at IS NOT NULL AS has_left
	FROM contacts c LEFT JOIN participants p ON p.id = $2 AND p.contact_id = c.id
	WHERE c.id = $1 FOR UPDATE OF c
), fresh AS (
	SELECT EXISTS (SELECT FROM target JOIN contacts c ON c.id = $1 AND c.leaves = target.leaves) AS fresh
), stored AS (
	SELECT seq FROM items WHERE contact_id = $1 AND participant_id = $2 AND client_token = $12 AND client_token <> ''
), inserted AS (
	INSERT INTO items (` + itemColumns + `)
	SELECT $1, last_seq + 1, $3, $4, $5, $6, $2, $7, $8, $9, $10, $11, $12, $13 FROM target, fresh
	WHERE fresh AND NOT EXISTS (SELECT FROM stored) AND state <> '` + helpline.ContactEnded + `'
		AND ($14::text IS NULL OR owner = $14) AND NOT has_left
	ON CONFLICT (contact_id, participant_id, client_token) WHERE client_token <> '' DO NOTHING
	RETURNING seq
), numbered AS (
	UPDATE contacts SET last_seq = inserted.seq FROM inserted WHERE contacts.id = $1
)
SELECT (SELECT fresh FROM fresh), t.state, t.owner, t.has_left, (SELECT seq FROM stored), (SELECT seq FROM inserted)
FROM target t`

// appendItem is AppendItem, and AppendOwnedItem when owner is not nil.
func (db *DB) appendItem(ctx context.Context, it *helpline.Item, owner *string) (replayed bool, err error) {
	attachments, metadata, err := encodeItemExtras(it)
	if err != nil {
		return false, err
	}
	args := []any{it.ContactID, it.ParticipantID, it.ID, it.Type, it.ContentType, it.Content, it.DisplayName, it.Role,
		millis(it.Time), attachments, metadata, it.ClientToken, it.Origin, owner}
	var (
		fresh, left       bool
		state, stored     string
		storedSeq, newSeq *int64
	)
	scan := func(row pgx.Row) error {
		return row.Scan(&fresh, &state, &stored, &left, &storedSeq, &newSeq)
	}
	err = scan(db.pool.QueryRow(ctx, appendItemSQL, args...))
	if err == nil && !fresh {
		// The statement waited for a leave: run it again holding the
		// row lock from before its snapshot.
		err = db.tx(ctx, func(tx pgx.Tx) error {
			if _, err := tx.Exec(ctx, `SELECT FROM contacts WHERE id = $1 FOR UPDATE`, it.ContactID); err != nil {
				return err
			}
			if err := scan(tx.QueryRow(ctx, appendItemSQL, args...)); err != nil {
				return err
			} else if !fresh {
				return fmt.Errorf("contact %s changed under its row lock", it.ContactID)
			}
			return nil
		})
	}
	switch {
	case errors.Is(err, pgx.ErrNoRows):
		return false, helpline.NotFound(helpline.ResourceContact, it.ContactID)
	case err != nil:
		return false, dbError("append item", err)
	case newSeq != nil:
		it.Seq = *newSeq
		return false, nil
	case storedSeq != nil:
		if replayed, err := db.replayItem(ctx, it, `SELECT `+itemColumns+` FROM items WHERE contact_id = $1 AND seq = $2`, it.ContactID, *storedSeq); replayed || err != nil {
			return replayed, err
		}
		return false, fmt.Errorf("postgres: append item: item %s/%d is gone", it.ContactID, *storedSeq)
	}
	if err := appendable(state, stored, left, owner); err != nil {
		return false, err
	}
	// The checks passed and the key was free in the statement's
	// snapshot, yet nothing was inserted: an append it waited for took
	// the key. Answer the item stored under it.
	if replayed, err := db.replayItem(ctx, it, selectItemByToken, it.ContactID, it.ParticipantID, it.ClientToken); replayed || err != nil {
		return replayed, err
	}
	return false, fmt.Errorf("postgres: append item: nothing stored for contact %s", it.ContactID)
}

// replayItem fills *it with the stored item that query selects and
// returns replayed=true, or false if there is none.
func (db *DB) replayItem(ctx context.Context, it *helpline.Item, query string, args ...any) (bool, error) {
	stored, err := scanItem(db.pool.QueryRow(ctx, query, args...))
	if errors.Is(err, pgx.ErrNoRows) {
		return false, nil
	} else if err != nil {
		return false, err
	}
	*it = *stored
	return true, nil
}

// appendable returns nil if an item may be appended to a contact in
// state, owned by stored, from a sender who has left or not: ECONFLICT
// if the contact has ended or, when owner is not nil, is owned by someone
// else than *owner, or EFORBIDDEN when the sender is a participant of
// the contact who has left.
func appendable(state, stored string, left bool, owner *string) error {
	switch {
	case state == helpline.ContactEnded:
		return helpline.Errorf(helpline.ECONFLICT, "The contact has ended.")
	case owner != nil && stored != *owner:
		return helpline.Errorf(helpline.ECONFLICT, "The contact is no longer owned by %s.", *owner)
	case left:
		return helpline.Errorf(helpline.EFORBIDDEN, "The participant has left the chat.")
	}
	return nil
}

// lockForAppend locks the row of it's contact, as every write of the
// contact does, and then says whether it may be appended: it returns
// ENOTFOUND for a missing contact, and as notAppendable ECONFLICT if the
// contact has ended or, when owner is not nil, is owned by someone else
// than *owner, or EFORBIDDEN when it.ParticipantID names a participant of
// the contact who has left (a retry of an item stored before is still
// answered). Other senders (the system) have no participant record. The
// participant is read in a statement of its own, after the lock: the
// locking statement, had it waited for a leave, would read the
// participant as its snapshot had it, before the leave.
func lockForAppend(ctx context.Context, tx pgx.Tx, it *helpline.Item, owner *string) (notAppendable error, err error) {
	var state, stored string
	err = tx.QueryRow(ctx, `SELECT state, owner FROM contacts WHERE id = $1 FOR UPDATE`, it.ContactID).Scan(&state, &stored)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, helpline.NotFound(helpline.ResourceContact, it.ContactID)
	} else if err != nil {
		return nil, dbError("read contact", err)
	}
	var left bool
	err = tx.QueryRow(ctx, `SELECT EXISTS (SELECT FROM participants WHERE id = $1 AND contact_id = $2 AND left_at IS NOT NULL)`,
		it.ParticipantID, it.ContactID).Scan(&left)
	if err != nil {
		return nil, dbError("read participant", err)
	}
	return appendable(state, stored, left, owner), nil
}

// findItemByToken returns the stored item with it's idempotency key
// (ContactID, ParticipantID, ClientToken), or nil if there is none.
func findItemByToken(ctx context.Context, tx pgx.Tx, it *helpline.Item) (*helpline.Item, error) {
	return byClientToken(ctx, tx, scanItem, selectItemByToken, it.ClientToken, it.ContactID, it.ParticipantID)
}

// appendItems stores items as the contact's next items and sets their
// ContactID and Seq, each in one statement that raises the contact's
// last_seq and inserts the item under the number it returns. The raise
// locks the contact's row until the transaction ends: concurrent appends,
// on any node, wait and number after them. It returns the contact's last
// Seq afterwards.
func appendItems(ctx context.Context, tx pgx.Tx, contactID string, items []*helpline.Item) (int64, error) {
	if len(items) == 0 {
		var last int64
		err := tx.QueryRow(ctx, `SELECT last_seq FROM contacts WHERE id = $1`, contactID).Scan(&last)
		if errors.Is(err, pgx.ErrNoRows) {
			return 0, helpline.NotFound(helpline.ResourceContact, contactID)
		} else if err != nil {
			return 0, dbError("read contact", err)
		}
		return last, nil
	}
	var seq int64
	for _, it := range items {
		attachments, metadata, err := encodeItemExtras(it)
		if err != nil {
			return 0, err
		}
		err = tx.QueryRow(ctx, `WITH numbered AS (UPDATE contacts SET last_seq = last_seq + 1 WHERE id = $1 RETURNING last_seq)
			INSERT INTO items (`+itemColumns+`)
			SELECT $1, last_seq, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13 FROM numbered
			RETURNING seq`,
			contactID, it.ID, it.Type, it.ContentType, it.Content, it.ParticipantID, it.DisplayName, it.Role,
			millis(it.Time), attachments, metadata, it.ClientToken, it.Origin).Scan(&seq)
		if errors.Is(err, pgx.ErrNoRows) {
			return 0, helpline.NotFound(helpline.ResourceContact, contactID)
		} else if err != nil {
			return 0, dbError("append item", err)
		}
		it.ContactID = contactID
		it.Seq = seq
	}
	return seq, nil
}

// FindItemByID returns the contact's item with the given id, or ENOTFOUND
// (Resource ITEM).
func (db *DB) FindItemByID(ctx context.Context, contactID, id string) (*helpline.Item, error) {
	it, err := scanItem(db.pool.QueryRow(ctx, `SELECT `+itemColumns+` FROM items WHERE contact_id = $1 AND id = $2`, contactID, id))
	if errors.Is(err, pgx.ErrNoRows) {
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
	query := `SELECT ` + itemColumns + ` FROM items WHERE contact_id = $1`
	args := []any{contactID}
	switch {
	case q.From > 0 && !q.Backward:
		query += ` AND seq >= $2`
		args = append(args, q.From)
	case q.From > 0:
		query += ` AND seq <= $2`
		args = append(args, q.From)
	case !q.FromTime.IsZero() && !q.Backward:
		query += ` AND seq >= (SELECT seq FROM items WHERE contact_id = $1 AND time >= $2 ORDER BY seq LIMIT 1)`
		args = append(args, millis(q.FromTime))
	case !q.FromTime.IsZero():
		query += ` AND seq <= (SELECT seq FROM items WHERE contact_id = $1 AND time <= $2 ORDER BY seq DESC LIMIT 1)`
		args = append(args, millis(q.FromTime))
	}
	if q.Backward {
		query += ` ORDER BY seq DESC`
	} else {
		query += ` ORDER BY seq`
	}
	query += fmt.Sprintf(` LIMIT $%d`, len(args)+1)
	args = append(args, limitOrAll(q.Limit))
	return queryAll(ctx, db.pool, "find items", scanItem, query, args...)
}

func scanItem(s scanner) (*helpline.Item, error) {
	var (
		it                    helpline.Item
		ms                    int64
		attachments, metadata []byte
	)
	err := s.Scan(&it.ContactID, &it.Seq, &it.ID, &it.Type, &it.ContentType, &it.Content, &it.ParticipantID,
		&it.DisplayName, &it.Role, &ms, &attachments, &metadata, &it.ClientToken, &it.Origin)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, err
	} else if err != nil {
		return nil, dbError("read item", err)
	}
	it.Time = fromMillis(ms)
	if err := decodeItemExtras(&it, attachments, metadata); err != nil {
		return nil, fmt.Errorf("postgres: decode item %s/%d: %w", it.ContactID, it.Seq, err)
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
func encodeItemExtras(it *helpline.Item) (attachments, metadata *string, err error) {
	if len(it.Attachments) > 0 {
		refs := make([]attachmentJSON, len(it.Attachments))
		for i, a := range it.Attachments {
			refs[i] = attachmentJSON(a)
		}
		b, err := json.Marshal(refs)
		if err != nil {
			return nil, nil, fmt.Errorf("postgres: encode attachments: %w", err)
		}
		s := string(b)
		attachments = &s
	}
	if m := it.Metadata; m != nil {
		mj := metadataJSON{MessageID: m.MessageID}
		for _, r := range m.Receipts {
			mj.Receipts = append(mj.Receipts, receiptJSON{
				RecipientParticipantID: r.RecipientParticipantID,
				DeliveredAt:            nullMillis(r.DeliveredAt),
				ReadAt:                 nullMillis(r.ReadAt),
			})
		}
		b, err := json.Marshal(mj)
		if err != nil {
			return nil, nil, fmt.Errorf("postgres: encode metadata: %w", err)
		}
		s := string(b)
		metadata = &s
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
