package connectapi

import (
	"io"
	"mime"
	"net/http"
	"net/url"
	"strconv"
	"time"

	"github.com/helplinehq/helpline"
)

type startAttachmentUploadRequest struct {
	ContentType           string
	AttachmentSizeInBytes *int64
	AttachmentName        string
	ClientToken           string
}

func decodeStartAttachmentUpload(body []byte) (*startAttachmentUploadRequest, error) {
	var req startAttachmentUploadRequest
	if err := decodeJSON(body, &req); err != nil {
		return nil, err
	}
	var c check
	c.required("ContentType", req.ContentType, 1, 255)
	if req.AttachmentSizeInBytes == nil {
		c.fail("AttachmentSizeInBytes is required.")
	} else if n := *req.AttachmentSizeInBytes; n < 1 || n > helpline.MaxAttachmentSize {
		c.fail("AttachmentSizeInBytes must be between 1 and %d (20 MB).", helpline.MaxAttachmentSize)
	}
	c.required("AttachmentName", req.AttachmentName, 1, 256)
	c.required("ClientToken", req.ClientToken, 1, 500)
	return &req, c.err
}

// startAttachmentUpload registers an upload and hands out its URL: the
// client PUTs the file there with the headers in HeadersToInclude.
func (s *server) startAttachmentUpload(r *http.Request, sess *helpline.Session, body []byte) (any, error) {
	req, err := decodeStartAttachmentUpload(body)
	if err != nil {
		return nil, err
	}
	a, token, err := s.svc.StartAttachmentUpload(r.Context(), sess, helpline.AttachmentUpload{
		Name: req.AttachmentName, ContentType: req.ContentType, Size: *req.AttachmentSizeInBytes, ClientToken: req.ClientToken,
	})
	if err != nil {
		return nil, err
	}
	expiry, ok := helpline.TokenExpiry(token)
	if !ok {
		return nil, helpline.Errorf(helpline.EINTERNAL, "upload token without expiry")
	}
	type uploadMetadata struct {
		Url, UrlExpiry   string
		HeadersToInclude map[string]string
	}
	return struct {
		AttachmentId   string
		UploadMetadata uploadMetadata
	}{a.ID, uploadMetadata{
		Url:              s.baseURL(r) + "/attachments/upload/" + url.PathEscape(token),
		UrlExpiry:        helpline.FormatTime(expiry),
		HeadersToInclude: map[string]string{"Content-Type": a.ContentType},
	}}, nil
}

type completeAttachmentUploadRequest struct {
	AttachmentIds []string
	ClientToken   string
}

func decodeCompleteAttachmentUpload(body []byte) (*completeAttachmentUploadRequest, error) {
	var req completeAttachmentUploadRequest
	if err := decodeJSON(body, &req); err != nil {
		return nil, err
	}
	var c check
	if len(req.AttachmentIds) != 1 {
		c.fail("AttachmentIds must have exactly 1 member.")
	}
	for _, id := range req.AttachmentIds {
		c.required("AttachmentIds member", id, 1, 256)
	}
	c.required("ClientToken", req.ClientToken, 1, 500)
	return &req, c.err
}

func (s *server) completeAttachmentUpload(r *http.Request, sess *helpline.Session, body []byte) (any, error) {
	req, err := decodeCompleteAttachmentUpload(body)
	if err != nil {
		return nil, err
	}
	if _, err := s.svc.CompleteAttachmentUpload(r.Context(), sess, req.AttachmentIds[0], req.ClientToken); err != nil {
		return nil, err
	}
	return struct{}{}, nil
}

type getAttachmentRequest struct {
	AttachmentId string
	// UrlExpiryInSeconds is 5..300; absent means 300.
	UrlExpiryInSeconds *int64
}

func decodeGetAttachment(body []byte) (*getAttachmentRequest, error) {
	var req getAttachmentRequest
	if err := decodeJSON(body, &req); err != nil {
		return nil, err
	}
	var c check
	c.required("AttachmentId", req.AttachmentId, 1, 256)
	c.between("UrlExpiryInSeconds", req.UrlExpiryInSeconds, 5, 300)
	return &req, c.err
}

func (s *server) getAttachment(r *http.Request, sess *helpline.Session, body []byte) (any, error) {
	req, err := decodeGetAttachment(body)
	if err != nil {
		return nil, err
	}
	expiry := 300 * time.Second
	if req.UrlExpiryInSeconds != nil {
		expiry = time.Duration(*req.UrlExpiryInSeconds) * time.Second
	}
	a, token, err := s.svc.GetAttachment(r.Context(), sess, req.AttachmentId, expiry)
	if err != nil {
		return nil, err
	}
	return struct {
		Url, UrlExpiry        string
		AttachmentSizeInBytes int64
	}{
		s.baseURL(r) + "/attachments/download/" + url.PathEscape(token),
		helpline.FormatTime(s.now().Add(expiry)),
		a.Size,
	}, nil
}

// uploadAttachment is the upload URL: PUT with the file as the body and
// the declared Content-Type. The body is cut off one byte past 20 MB so
// that an oversize upload fails the engine's exact-size check without
// being read to its end; a declared Content-Length above the cap is
// refused at once. The body has UploadGrace plus its size at
// MinUploadRate to arrive; one that fails to arrive is refused with 400.
// Success is an empty 200, as from S3.
func (s *server) uploadAttachment(w http.ResponseWriter, r *http.Request) {
	if r.ContentLength > helpline.MaxAttachmentSize {
		s.writeError(w, r, participantErrors, helpline.Errorf(helpline.EINVALID, "Attachments are limited to 20 MB."))
		return
	}
	if r.Body != http.NoBody && s.minUploadRate > 0 {
		size := r.ContentLength
		if size < 0 {
			size = helpline.MaxAttachmentSize
		}
		// Network deadlines are wall-clock time. A writer that cannot set
		// one (a test recorder) leaves the upload unbounded.
		http.NewResponseController(w).SetReadDeadline(time.Now().Add(s.uploadGrace + time.Duration(size)*time.Second/time.Duration(s.minUploadRate)))
	}
	body := &bodyReader{r: io.LimitReader(r.Body, helpline.MaxAttachmentSize+1)}
	if err := s.svc.UploadAttachment(r.Context(), r.PathValue("token"), r.Header.Get("Content-Type"), body); err != nil {
		if body.err != nil {
			err = helpline.Errorf(helpline.EINVALID, "Could not read the request body.")
		}
		s.writeError(w, r, participantErrors, err)
		return
	}
	w.WriteHeader(http.StatusOK)
}

// bodyReader remembers the first error reading a request body other than
// its end, so that a client that sent too slowly or went away is told so
// rather than answered (and logged) as an internal error.
type bodyReader struct {
	r   io.Reader
	err error
}

func (b *bodyReader) Read(p []byte) (int, error) {
	n, err := b.r.Read(p)
	if err != nil && err != io.EOF && b.err == nil {
		b.err = err
	}
	return n, err
}

// downloadAttachment is the download URL: the file with its content type,
// as an attachment under its original name.
func (s *server) downloadAttachment(w http.ResponseWriter, r *http.Request) {
	a, f, err := s.svc.OpenAttachment(r.Context(), r.PathValue("token"))
	if err != nil {
		s.writeError(w, r, participantErrors, err)
		return
	}
	defer f.Close()
	h := w.Header()
	h.Set("Content-Type", a.ContentType)
	h.Set("Content-Length", strconv.FormatInt(a.Size, 10))
	h.Set("Content-Disposition", mime.FormatMediaType("attachment", map[string]string{"filename": a.Name}))
	h.Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(http.StatusOK)
	if _, err := io.Copy(w, f); err != nil {
		s.log.Warn("attachment download cut short", "attachment_id", a.ID, "err", err)
	}
}
