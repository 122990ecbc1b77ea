package httpapi

import (
	"io"
	"mime"
	"net/http"
	"time"
)

// GET /api/agent/chats/{contactId}/attachments/{attachmentId}: the bytes
// of a completed attachment of the chat, for the agent the chat is
// assigned to (the participant the engine authorises downloads for). The
// file is always a download (Content-Disposition: attachment), never
// rendered as a page of this origin.

// downloadExpiry is how long the engine's download token lives; it is
// used at once.
const downloadExpiry = 30 * time.Second

func (a *agentAPI) downloadAttachment(w http.ResponseWriter, r *http.Request) {
	a.handle(w, r, func(p *Principal) error {
		s, err := a.agentSession(r, p)
		if err != nil {
			return err
		}
		_, token, err := a.cfg.Participants.GetAttachment(r.Context(), s, r.PathValue("attachmentId"), downloadExpiry)
		if err != nil {
			return err
		}
		at, body, err := a.cfg.Participants.OpenAttachment(r.Context(), token)
		if err != nil {
			return err
		}
		defer body.Close()
		h := w.Header()
		h.Set("Content-Type", at.ContentType)
		h.Set("Content-Disposition", mime.FormatMediaType("attachment", map[string]string{"filename": at.Name}))
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("Content-Security-Policy", "sandbox; default-src 'none'")
		h.Set("Cache-Control", "private, no-store")
		if _, err := io.Copy(w, body); err != nil {
			a.log.Debug("sending an attachment", "err", err)
		}
		return nil
	})
}
