package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"time"

	"github.com/helplinehq/helpline"
)

const (
	attachmentColumns = `id, contact_id, participant_id, name, content_type, size, status, client_token,
	created_at, uploaded_at`
	selectAttachmentByToken = `SELECT ` + attachmentColumns + ` FROM attachments
	WHERE participant_id = ? AND client_token = ? AND client_token != ''`
)

// CreateAttachment stores a new attachment record of an existing contact.
// It is idempotent on (ParticipantID, ClientToken) and returns EQUOTA when
// the contact already has maxPerContact attachments; see helpline.Store.
func (db *DB) CreateAttachment(ctx context.Context, a *helpline.Attachment, maxPerContact int) (replayed bool, err error) {
	err = db.write(ctx, func(tx *sql.Tx) error {
		if stored, err := byClientToken(tx, scanAttachment, selectAttachmentByToken, a.ClientToken, a.ParticipantID); err != nil {
			return err
		} else if stored != nil {
			*a, replayed = *stored, true
			return nil
		}
		var n int
		if err := tx.QueryRow(`SELECT count(*) FROM contacts WHERE id = ?`, a.ContactID).Scan(&n); err != nil {
			return dbError("read contact", err)
		} else if n == 0 {
			return helpline.NotFound(helpline.ResourceContact, a.ContactID)
		}
		if maxPerContact > 0 {
			if err := tx.QueryRow(`SELECT count(*) FROM attachments WHERE contact_id = ?`, a.ContactID).Scan(&n); err != nil {
				return dbError("count attachments", err)
			} else if n >= maxPerContact {
				return helpline.Errorf(helpline.EQUOTA, "The contact already has %d attachments, its limit.", n)
			}
		}
		_, err := tx.Exec(`INSERT INTO attachments (`+attachmentColumns+`) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
			a.ID, a.ContactID, a.ParticipantID, a.Name, a.ContentType, a.Size, a.Status, a.ClientToken,
			millis(a.CreatedAt), nullMillis(a.UploadedAt))
		if err != nil {
			return dbError("create attachment", err)
		}
		return nil
	})
	return replayed, err
}

// FindAttachmentByID returns ENOTFOUND (Resource ATTACHMENT) if there is none.
func (db *DB) FindAttachmentByID(ctx context.Context, id string) (*helpline.Attachment, error) {
	return findAttachment(ctx, db.r, id)
}

func findAttachment(ctx context.Context, q querier, id string) (*helpline.Attachment, error) {
	a, err := scanAttachment(q.QueryRowContext(ctx, `SELECT `+attachmentColumns+` FROM attachments WHERE id = ?`, id))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, helpline.NotFound(helpline.ResourceAttachment, id)
	}
	return a, err
}

// MarkAttachmentUploaded records that the attachment's bytes are stored.
func (db *DB) MarkAttachmentUploaded(ctx context.Context, id string, at time.Time) error {
	return db.write(ctx, func(tx *sql.Tx) error {
		res, err := tx.Exec(`UPDATE attachments SET uploaded_at = ? WHERE id = ?`, millis(at), id)
		if err != nil {
			return dbError("mark attachment uploaded", err)
		}
		if n, err := res.RowsAffected(); err != nil {
			return dbError("mark attachment uploaded", err)
		} else if n == 0 {
			return helpline.NotFound(helpline.ResourceAttachment, id)
		}
		return nil
	})
}

// CompleteAttachment sets the attachment's status to APPROVED and appends
// it to the attachment's contact as the item it, in one transaction.
// it.ContactID is set to the attachment's contact; if it.Attachments is
// empty it is filled with the attachment, and the attachment's entry gets
// status APPROVED.
//
// It is idempotent twice over: on (ContactID, ParticipantID, ClientToken)
// as AppendItem is, and on the attachment itself: completing an attachment
// that is already complete fills *it with the item that completed it and
// returns replayed=true. It returns ECONFLICT if the contact has ended (or,
// for a non-empty owner, is owned by another) and EFORBIDDEN if the sender
// has left.
func (db *DB) CompleteAttachment(ctx context.Context, id string, it *helpline.Item, owner string) (replayed bool, err error) {
	var ownedBy *string
	if owner != "" {
		ownedBy = &owner
	}
	err = db.write(ctx, func(tx *sql.Tx) error {
		var itemSeq sql.NullInt64
		a, err := scanAttachment(withExtra{tx.QueryRow(`SELECT `+attachmentColumns+`, item_seq FROM attachments WHERE id = ?`, id), []any{&itemSeq}})
		if errors.Is(err, sql.ErrNoRows) {
			return helpline.NotFound(helpline.ResourceAttachment, id)
		} else if err != nil {
			return err
		}
		it.ContactID = a.ContactID
		var stored *helpline.Item
		if itemSeq.Valid {
			stored, err = scanItem(tx.QueryRow(`SELECT `+itemColumns+` FROM items WHERE contact_id = ? AND seq = ?`, a.ContactID, itemSeq.Int64))
		} else {
			stored, err = findItemByToken(tx, it)
		}
		if err != nil && !errors.Is(err, sql.ErrNoRows) {
			return err
		} else if stored != nil {
			*it, replayed = *stored, true
			return nil
		}

		st, err := db.appendable(tx, it, ownedBy)
		if err != nil {
			return err
		}
		if len(it.Attachments) == 0 {
			it.Attachments = []helpline.AttachmentRef{{ID: a.ID, Name: a.Name, ContentType: a.ContentType}}
		}
		for i := range it.Attachments {
			if it.Attachments[i].ID == a.ID {
				it.Attachments[i].Status = helpline.AttachmentApproved
			}
		}
		seq, err := appendItems(tx, a.ContactID, st.lastSeq, []*helpline.Item{it})
		if err != nil {
			return err
		}
		db.appends.appended(a.ContactID, st, seq)
		if _, err := tx.Exec(`UPDATE attachments SET status = ?, item_seq = ? WHERE id = ?`,
			helpline.AttachmentApproved, seq, id); err != nil {
			return dbError("complete attachment", err)
		}
		return nil
	})
	return replayed, err
}

func scanAttachment(s scanner) (*helpline.Attachment, error) {
	var (
		a        helpline.Attachment
		created  int64
		uploaded sql.NullInt64
	)
	err := s.Scan(&a.ID, &a.ContactID, &a.ParticipantID, &a.Name, &a.ContentType, &a.Size, &a.Status,
		&a.ClientToken, &created, &uploaded)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, err
	} else if err != nil {
		return nil, dbError("read attachment", err)
	}
	a.CreatedAt = fromMillis(created)
	a.UploadedAt = fromNullMillis(uploaded)
	return &a, nil
}
