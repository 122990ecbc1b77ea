package chat

import (
	"context"
	"io"
	"time"

	"github.com/helplinehq/helpline"
)

// StartAttachmentUpload registers an upload by the session's participant
// and returns the record (IN_PROGRESS) with an upload token valid
// Limits.UploadURLTTL. The name's extension must be one Connect allows
// (.csv .doc .docx .heic .jfif .jpeg .jpg .mov .mp4 .pdf .png .ppt .pptx
// .rtf .txt .wav .xls .xlsx) and contentType a MIME type matching it; the
// size must be 1..Limits.MaxAttachmentSize bytes. Errors: EINVALID, EQUOTA
// when the contact has Limits.MaxAttachmentsPerContact attachments.
//
// It is idempotent on (participant, ClientToken): a retry returns the same
// attachment with a fresh upload token.
func (s *Service) StartAttachmentUpload(ctx context.Context, sess *helpline.Session, in helpline.AttachmentUpload) (*helpline.Attachment, string, error) {
	if err := checkLen("AttachmentName", in.Name, 1, maxAttachmentName); err != nil {
		return nil, "", err
	}
	if err := checkLen("ContentType", in.ContentType, 1, maxAttachmentType); err != nil {
		return nil, "", err
	}
	if err := checkLen("ClientToken", in.ClientToken, 1, maxClientToken); err != nil {
		return nil, "", err
	}
	if in.Size < 1 || in.Size > s.limits.MaxAttachmentSize {
		return nil, "", invalid("AttachmentSizeInBytes must be 1 to %d.", s.limits.MaxAttachmentSize)
	}
	if err := checkAttachmentType(in.Name, in.ContentType); err != nil {
		return nil, "", err
	}
	now := s.now()
	a := &helpline.Attachment{
		ID: helpline.NewID(), ContactID: sess.Contact.ID, ParticipantID: sess.Participant.ID,
		Name: in.Name, ContentType: in.ContentType, Size: in.Size, Status: helpline.AttachmentInProgress,
		ClientToken: in.ClientToken, CreatedAt: now,
	}
	if _, err := s.store.CreateAttachment(ctx, a, s.limits.MaxAttachmentsPerContact); err != nil {
		return nil, "", err
	}
	return a, s.tokens.Sign(helpline.UploadToken, a.ID, now.Add(s.limits.UploadURLTTL)), nil
}

// UploadAttachment stores the bytes of the upload its token names. The
// contentType must be the declared one (parameters aside) and the body
// exactly the declared size. Uploading again before completion replaces
// the file. Errors: EFORBIDDEN (bad or expired token, chat ended),
// EINVALID (type or size), ECONFLICT (already completed).
func (s *Service) UploadAttachment(ctx context.Context, uploadToken, contentType string, body io.Reader) error {
	id, _, err := s.tokens.Verify(helpline.UploadToken, uploadToken, s.now())
	if err != nil {
		return err
	}
	a, err := s.store.FindAttachmentByID(ctx, id)
	if err != nil {
		return err
	}
	c, err := s.store.FindContactByID(ctx, a.ContactID)
	if err != nil {
		return err
	}
	if c.Ended() {
		return forbidden()
	}
	if a.Status != helpline.AttachmentInProgress {
		return helpline.Errorf(helpline.ECONFLICT, "Attachment %s is already complete.", a.ID)
	}
	if mediaType(contentType) != mediaType(a.ContentType) {
		return invalid("Content-Type %q does not match the declared %q.", contentType, a.ContentType)
	}
	if err := s.blobs.Put(ctx, a.ID, a.Size, body); err != nil {
		return err
	}
	return s.store.MarkAttachmentUploaded(ctx, a.ID, s.now())
}

// CompleteAttachmentUpload appends an uploaded attachment of the session's
// participant to the transcript as an ATTACHMENT item (Status APPROVED,
// item Id = attachment id) and publishes it. It is idempotent on
// (participant, clientToken). Errors: EINVALID (unknown attachment, one of
// another participant, missing clientToken), ECONFLICT (the bytes are not
// uploaded yet, or the attachment was completed with another clientToken).
func (s *Service) CompleteAttachmentUpload(ctx context.Context, sess *helpline.Session, attachmentID, clientToken string) (*helpline.Item, error) {
	if err := checkLen("ClientToken", clientToken, 1, maxClientToken); err != nil {
		return nil, err
	}
	a, err := s.store.FindAttachmentByID(ctx, attachmentID)
	if helpline.ErrorCode(err) == helpline.ENOTFOUND || err == nil && a.ParticipantID != sess.Participant.ID {
		return nil, invalid("Attachment %s is not an upload of this participant.", attachmentID)
	} else if err != nil {
		return nil, err
	}
	if a.Status == helpline.AttachmentApproved {
		it, err := s.store.FindItemByID(ctx, a.ContactID, a.ID)
		if err != nil {
			return nil, err
		}
		if it.ClientToken != clientToken {
			return nil, helpline.Errorf(helpline.ECONFLICT, "Attachment %s is already complete.", a.ID)
		}
		return it, nil
	}
	if a.UploadedAt.IsZero() {
		return nil, helpline.Errorf(helpline.ECONFLICT, "Attachment %s has not been uploaded yet.", a.ID)
	}
	it := s.newItem(sess, helpline.ItemAttachment, a.ContentType, clientToken)
	it.ID = a.ID
	it.Attachments = []helpline.AttachmentRef{{ID: a.ID, Name: a.Name, ContentType: a.ContentType, Status: helpline.AttachmentApproved}}
	replayed, err := s.store.CompleteAttachment(ctx, a.ID, it, sess.Owner)
	if cerr := s.ownerConflict(ctx, sess, it, err); cerr != nil {
		return nil, cerr
	}
	return s.stored(ctx, it, replayed, err)
}

// GetAttachment returns a completed attachment of the session's contact and
// a download token valid for expiry (5s..300s; 0 means 300s). Errors:
// EFORBIDDEN for CUSTOM_BOT participants, EINVALID (expiry, not complete),
// ENOTFOUND (Resource ATTACHMENT, also for another contact's attachment).
func (s *Service) GetAttachment(ctx context.Context, sess *helpline.Session, attachmentID string, expiry time.Duration) (*helpline.Attachment, string, error) {
	if sess.Participant.Role == helpline.RoleBot {
		return nil, "", &helpline.Error{Code: helpline.EFORBIDDEN, Message: "Bots may not download attachments."}
	}
	if expiry == 0 {
		expiry = maxURLExpirySeconds * time.Second
	} else if expiry < minURLExpirySeconds*time.Second || expiry > maxURLExpirySeconds*time.Second {
		return nil, "", invalid("UrlExpiryInSeconds must be %d to %d.", minURLExpirySeconds, maxURLExpirySeconds)
	}
	a, err := s.store.FindAttachmentByID(ctx, attachmentID)
	if err != nil {
		return nil, "", err
	}
	if a.ContactID != sess.Contact.ID && a.ContactID != sess.Contact.InitialContactID {
		return nil, "", helpline.NotFound(helpline.ResourceAttachment, attachmentID)
	}
	if a.Status != helpline.AttachmentApproved {
		return nil, "", invalid("Attachment %s is not complete.", attachmentID)
	}
	return a, s.tokens.Sign(helpline.DownloadToken, a.ID, s.now().Add(expiry)), nil
}

// OpenAttachment opens the file a download token names. Errors: EFORBIDDEN
// (bad or expired token), ENOTFOUND.
func (s *Service) OpenAttachment(ctx context.Context, downloadToken string) (*helpline.Attachment, io.ReadCloser, error) {
	id, _, err := s.tokens.Verify(helpline.DownloadToken, downloadToken, s.now())
	if err != nil {
		return nil, nil, err
	}
	a, err := s.store.FindAttachmentByID(ctx, id)
	if err != nil {
		return nil, nil, err
	}
	r, err := s.blobs.Open(ctx, a.ID)
	if err != nil {
		return nil, nil, err
	}
	return a, r, nil
}

// AttachmentOpener returns a function that opens a completed attachment's
// file by id from store and blobs, where the engine keeps it, in the form
// helpline.ConnectorNode.OpenAttachment takes. Errors: ENOTFOUND
// (Resource ATTACHMENT) for an unknown attachment or a missing file,
// ECONFLICT for one not completed yet.
func AttachmentOpener(store helpline.Store, blobs helpline.BlobStore) func(ctx context.Context, id string) (*helpline.Attachment, io.ReadCloser, error) {
	return func(ctx context.Context, id string) (*helpline.Attachment, io.ReadCloser, error) {
		a, err := store.FindAttachmentByID(ctx, id)
		if err != nil {
			return nil, nil, err
		}
		if a.Status != helpline.AttachmentApproved {
			return nil, nil, helpline.Errorf(helpline.ECONFLICT, "Attachment %s is not complete.", id)
		}
		r, err := blobs.Open(ctx, a.ID) // files are kept under the attachment id
		if err != nil {
			return nil, nil, err
		}
		return a, r, nil
	}
}
