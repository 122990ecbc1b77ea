package postgres

import (
	"context"
	"errors"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/helplinehq/helpline"
)

const (
	attachmentColumns = `id, contact_id, participant_id, name, content_type, size, status, client_token,
	created_at, uploaded_at`
	selectAttachmentByToken = `SELECT ` + attachmentColumns + ` FROM attachments
	WHERE participant_id = $1 AND client_token = $2 AND client_token <> ''`
)

// CreateAttachment stores a new attachment record of an existing contact.
// It is idempotent on (ParticipantID, ClientToken) and returns EQUOTA when
// the contact already has maxPerContact attachments; see helpline.Store.
// The contact's row is locked first, so that creates racing on one
// contact count each other.
func (db *DB) CreateAttachment(ctx context.Context, a *helpline.Attachment, maxPerContact int) (replayed bool, err error) {
	err = db.tx(ctx, func(tx pgx.Tx) error {
		replayed = false
		if _, err := lockContact(ctx, tx, a.ContactID); err != nil {
			return err
		}
		if stored, err := byClientToken(ctx, tx, scanAttachment, selectAttachmentByToken, a.ClientToken, a.ParticipantID); err != nil {
			return err
		} else if stored != nil {
			*a, replayed = *stored, true
			return nil
		}
		if maxPerContact > 0 {
			var n int
			if err := tx.QueryRow(ctx, `SELECT count(*) FROM attachments WHERE contact_id = $1`, a.ContactID).Scan(&n); err != nil {
				return dbError("count attachments", err)
			} else if n >= maxPerContact {
				return helpline.Errorf(helpline.EQUOTA, "The contact already has %d attachments, its limit.", n)
			}
		}
		_, err := tx.Exec(ctx, `INSERT INTO attachments (`+attachmentColumns+`) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)`,
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
	a, err := scanAttachment(db.pool.QueryRow(ctx, `SELECT `+attachmentColumns+` FROM attachments WHERE id = $1`, id))
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, helpline.NotFound(helpline.ResourceAttachment, id)
	}
	return a, err
}

// MarkAttachmentUploaded records that the attachment's bytes are stored.
func (db *DB) MarkAttachmentUploaded(ctx context.Context, id string, at time.Time) error {
	tag, err := db.pool.Exec(ctx, `UPDATE attachments SET uploaded_at = $1 WHERE id = $2`, millis(at), id)
	if err != nil {
		return dbError("mark attachment uploaded", err)
	} else if tag.RowsAffected() == 0 {
		return helpline.NotFound(helpline.ResourceAttachment, id)
	}
	return nil
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
	err = db.tx(ctx, func(tx pgx.Tx) error {
		replayed = false
		var contactID string
		if err := tx.QueryRow(ctx, `SELECT contact_id FROM attachments WHERE id = $1`, id).Scan(&contactID); errors.Is(err, pgx.ErrNoRows) {
			return helpline.NotFound(helpline.ResourceAttachment, id)
		} else if err != nil {
			return dbError("read attachment", err)
		}
		// The contact's row first, as every append; then the attachment
		// as it is under that lock.
		it.ContactID = contactID
		appendable, err := lockForAppend(ctx, tx, it, ownedBy)
		if err != nil {
			return err
		}
		var itemSeq *int64
		a, err := scanAttachment(withExtra{tx.QueryRow(ctx, `SELECT `+attachmentColumns+`, item_seq FROM attachments WHERE id = $1`, id), []any{&itemSeq}})
		if err != nil {
			return err
		}
		it.ContactID = a.ContactID
		var stored *helpline.Item
		if itemSeq != nil {
			stored, err = scanItem(tx.QueryRow(ctx, `SELECT `+itemColumns+` FROM items WHERE contact_id = $1 AND seq = $2`, a.ContactID, *itemSeq))
		} else {
			stored, err = findItemByToken(ctx, tx, it)
		}
		if err != nil && !errors.Is(err, pgx.ErrNoRows) {
			return err
		} else if stored != nil {
			*it, replayed = *stored, true
			return nil
		}
		if appendable != nil {
			return appendable
		}
		if len(it.Attachments) == 0 {
			it.Attachments = []helpline.AttachmentRef{{ID: a.ID, Name: a.Name, ContentType: a.ContentType}}
		}
		for i := range it.Attachments {
			if it.Attachments[i].ID == a.ID {
				it.Attachments[i].Status = helpline.AttachmentApproved
			}
		}
		seq, err := appendItems(ctx, tx, a.ContactID, []*helpline.Item{it})
		if err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, `UPDATE attachments SET status = $1, item_seq = $2 WHERE id = $3`,
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
		uploaded *int64
	)
	err := s.Scan(&a.ID, &a.ContactID, &a.ParticipantID, &a.Name, &a.ContentType, &a.Size, &a.Status,
		&a.ClientToken, &created, &uploaded)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, err
	} else if err != nil {
		return nil, dbError("read attachment", err)
	}
	a.CreatedAt = fromMillis(created)
	a.UploadedAt = fromNullMillis(uploaded)
	return &a, nil
}
