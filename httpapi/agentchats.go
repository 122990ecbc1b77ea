package httpapi

import (
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/helplinehq/helpline"
)

// The agent API's chat endpoints (AgentConfig.Desk set):
//
//	GET  /api/agent/queues
//	GET  /api/agent/offers
//	POST /api/agent/offers/{id}/accept
//	POST /api/agent/offers/{id}/decline
//	GET  /api/agent/chats                      ?all=1 (supervisor)
//	GET  /api/agent/chats/{contactId}
//	GET  /api/agent/chats/{contactId}/transcript?after=&limit=
//	POST /api/agent/chats/{contactId}/messages {"content","content_type","client_token"}
//	POST /api/agent/chats/{contactId}/typing
//	POST /api/agent/chats/{contactId}/read     {"message_id"}
//	POST /api/agent/chats/{contactId}/attachments {"name","content_type","size","client_token"}
//	PUT  /api/agent/chats/{contactId}/attachments/{attachmentId}?token=   the file's bytes
//	POST /api/agent/chats/{contactId}/attachments/{attachmentId}/complete {"client_token"}
//	GET  /api/agent/chats/{contactId}/attachments/{attachmentId}   the file (agentdownload.go)
//	POST /api/agent/chats/{contactId}/transfer {"agent_id"|"queue_id"}
//	POST /api/agent/chats/{contactId}/handback
//	POST /api/agent/chats/{contactId}/close
//	POST /api/agent/chats/{contactId}/reassign {"agent_id"}         supervisor
//
// Who may: a logged-in agent acts on the chats it owns (Principal.MayAccess)
// and on its own offers; a supervisor or admin, session or token, on every
// chat of its instance; an agent-role token on none. What is written in a
// chat (messages, typing, receipts, attachments) is written by the owning
// agent's AGENT participant, so only that agent's session may; others may
// read, transfer, hand back, close and reassign. A chat of another instance is
// not_found; one of the instance the principal may not act on, forbidden.

// Transcript page sizes.
const (
	defaultTranscriptPage = 50
	maxTranscriptPage     = 100
)

// mountChats adds the chat endpoints to mux.
func (a *agentAPI) mountChats(mux *http.ServeMux) {
	for _, r := range []struct {
		pattern string
		fn      http.HandlerFunc
	}{
		{"GET /api/agent/queues", a.queues},
		{"GET /api/agent/offers", a.offers},
		{"POST /api/agent/offers/{id}/accept", a.acceptOffer},
		{"POST /api/agent/offers/{id}/decline", a.declineOffer},
		{"GET /api/agent/chats", a.chats},
		{"GET /api/agent/chats/{contactId}", a.chat},
		{"GET /api/agent/chats/{contactId}/transcript", a.transcript},
		{"POST /api/agent/chats/{contactId}/messages", a.sendMessage},
		{"POST /api/agent/chats/{contactId}/typing", a.typing},
		{"POST /api/agent/chats/{contactId}/read", a.read},
		{"POST /api/agent/chats/{contactId}/attachments", a.startAttachment},
		{"PUT /api/agent/chats/{contactId}/attachments/{attachmentId}", a.uploadAttachment},
		{"GET /api/agent/chats/{contactId}/attachments/{attachmentId}", a.downloadAttachment},
		{"POST /api/agent/chats/{contactId}/attachments/{attachmentId}/complete", a.completeAttachment},
		{"POST /api/agent/chats/{contactId}/transfer", a.transfer},
		{"POST /api/agent/chats/{contactId}/handback", a.handBack},
		{"POST /api/agent/chats/{contactId}/close", a.closeChat},
		{"POST /api/agent/chats/{contactId}/reassign", a.reassign},
	} {
		fn := r.fn
		mux.Handle(r.pattern, a.Authenticate(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if err := chatPrincipal(PrincipalFrom(r.Context())); err != nil {
				fail(a.log, w, r, err)
				return
			}
			fn(w, r)
		})))
	}
}

// chatPrincipal returns EFORBIDDEN for an agent-role token, which has no
// chats of its own and none of others.
func chatPrincipal(p *Principal) error {
	if p.AgentID == "" && !p.Has(helpline.AgentRoleSupervisor) {
		return helpline.Errorf(helpline.EFORBIDDEN, "An agent-role API token may not use the chat endpoints.")
	}
	return nil
}

// handle runs fn and writes its error, if any.
func (a *agentAPI) handle(w http.ResponseWriter, r *http.Request, fn func(p *Principal) error) {
	if err := fn(PrincipalFrom(r.Context())); err != nil {
		fail(a.log, w, r, err)
	}
}

type queueJSON struct {
	ID          string     `json:"id"`
	Name        string     `json:"name"`
	Routing     string     `json:"routing"`
	Waiting     int        `json:"waiting"`
	LongestWait float64    `json:"longest_wait_seconds"`
	OldestSince *time.Time `json:"oldest_since,omitempty"`
}

func (a *agentAPI) queues(w http.ResponseWriter, r *http.Request) {
	a.handle(w, r, func(p *Principal) error {
		stats, err := a.cfg.Desk.QueueStats(r.Context(), p.InstanceID)
		if err != nil {
			return err
		}
		now := a.now()
		out := make([]queueJSON, 0, len(stats))
		for _, s := range stats {
			q := queueJSON{ID: s.Queue.ID, Name: s.Queue.Name, Routing: s.Queue.Routing, Waiting: s.Waiting}
			if s.Waiting > 0 {
				since := s.OldestSince
				q.OldestSince = &since
				q.LongestWait = max(now.Sub(since), 0).Seconds()
			}
			out = append(out, q)
		}
		writeJSON(w, http.StatusOK, map[string]any{"queues": out})
		return nil
	})
}

type offerJSON struct {
	ID        string       `json:"id"`
	ContactID string       `json:"contact_id"`
	QueueID   string       `json:"queue_id"`
	State     string       `json:"state"`
	CreatedAt time.Time    `json:"created_at"`
	ExpiresAt time.Time    `json:"expires_at"`
	Preview   *previewJSON `json:"preview,omitempty"`
}

func offerOut(o *helpline.Offer, p *helpline.OfferPreview) offerJSON {
	return offerJSON{ID: o.ID, ContactID: o.ContactID, QueueID: o.QueueID, State: o.State, CreatedAt: o.CreatedAt,
		ExpiresAt: o.ExpiresAt, Preview: previewOut(p)}
}

// previewJSON is an offer's OfferPreview on the wire, in the agent API's
// offers and the agent WebSocket's offer frames.
type previewJSON struct {
	Reason       string            `json:"reason,omitempty"`
	Summary      string            `json:"summary,omitempty"`
	Intents      []string          `json:"intents,omitempty"`
	LastQuestion string            `json:"last_question,omitempty"`
	CustomerName string            `json:"customer_name,omitempty"`
	Identity     string            `json:"identity,omitempty"`
	Attributes   map[string]string `json:"attributes"`
}

func previewOut(p *helpline.OfferPreview) *previewJSON {
	if p == nil {
		return nil
	}
	return &previewJSON{Reason: p.Reason, Summary: p.Summary, Intents: p.Intents, LastQuestion: p.LastQuestion,
		CustomerName: p.CustomerName, Identity: p.Identity, Attributes: p.Attributes}
}

func (a *agentAPI) offers(w http.ResponseWriter, r *http.Request) {
	a.handle(w, r, func(p *Principal) error {
		id, err := offerAgent(p)
		if err != nil {
			return err
		}
		list, err := a.cfg.Desk.PendingOffers(r.Context(), p.InstanceID, id)
		if err != nil {
			return err
		}
		out := make([]offerJSON, 0, len(list))
		for _, o := range list {
			pv, err := a.cfg.Desk.OfferPreview(r.Context(), o.ContactID)
			if err != nil {
				return err
			}
			out = append(out, offerOut(o, pv))
		}
		writeJSON(w, http.StatusOK, map[string]any{"offers": out})
		return nil
	})
}

// offerAgent returns the principal's agent id, or EFORBIDDEN for a token:
// offers are made to agents.
func offerAgent(p *Principal) (string, error) {
	if p.AgentID == "" {
		return "", helpline.Errorf(helpline.EFORBIDDEN, "Offers are made to logged-in agents, not to API tokens.")
	}
	return p.AgentID, nil
}

// myOffer returns the offer the path names if it was made to p's agent;
// anyone else's, or another instance's, is not_found.
func (a *agentAPI) myOffer(r *http.Request, p *Principal) (*helpline.Offer, error) {
	id, err := offerAgent(p)
	if err != nil {
		return nil, err
	}
	o, err := a.cfg.Desk.FindOfferByID(r.Context(), r.PathValue("id"))
	if err == nil && (o.InstanceID != p.InstanceID || o.AgentID != id) {
		err = helpline.NotFound(helpline.ResourceOffer, r.PathValue("id"))
	}
	return o, err
}

func (a *agentAPI) acceptOffer(w http.ResponseWriter, r *http.Request) {
	a.handle(w, r, func(p *Principal) error {
		o, err := a.myOffer(r, p)
		if err != nil {
			return err
		}
		c, _, err := a.cfg.Desk.AcceptOffer(r.Context(), o.ID)
		if err != nil {
			return err
		}
		writeJSON(w, http.StatusOK, chatSummary(helpline.AgentChat{Contact: c, QueueID: o.QueueID, Since: a.now()}))
		return nil
	})
}

func (a *agentAPI) declineOffer(w http.ResponseWriter, r *http.Request) {
	a.handle(w, r, func(p *Principal) error {
		o, err := a.myOffer(r, p)
		if err != nil {
			return err
		} else if err := a.cfg.Desk.DeclineOffer(r.Context(), o.ID); err != nil {
			return err
		}
		w.WriteHeader(http.StatusNoContent)
		return nil
	})
}

// chatJSON is a chat in a list.
type chatJSON struct {
	ContactID string    `json:"contact_id"`
	Owner     string    `json:"owner"`
	QueueID   string    `json:"queue_id,omitempty"`
	Since     time.Time `json:"since"`
	State     string    `json:"state"`
	CreatedAt time.Time `json:"created_at"`
	LastSeq   int64     `json:"last_seq"`
}

func chatSummary(ch helpline.AgentChat) chatJSON {
	c := ch.Contact
	return chatJSON{ContactID: c.ID, Owner: c.Owner, QueueID: ch.QueueID, Since: ch.Since, State: c.State, CreatedAt: c.CreatedAt, LastSeq: c.LastSeq}
}

func (a *agentAPI) chats(w http.ResponseWriter, r *http.Request) {
	a.handle(w, r, func(p *Principal) error {
		agentID := p.AgentID
		switch r.URL.Query().Get("all") {
		case "":
		case "1", "true":
			if !p.Has(helpline.AgentRoleSupervisor) {
				return helpline.Errorf(helpline.EFORBIDDEN, "Every chat of the instance is for supervisors and admins.")
			}
			agentID = ""
		default:
			return helpline.Errorf(helpline.EINVALID, "all must be 1 or true.")
		}
		// A token is no agent and has no chats of its own: it sees all.
		list, err := a.cfg.Desk.AgentChats(r.Context(), p.InstanceID, agentID)
		if err != nil {
			return err
		}
		out := make([]chatJSON, 0, len(list))
		for _, ch := range list {
			out = append(out, chatSummary(ch))
		}
		writeJSON(w, http.StatusOK, map[string]any{"chats": out})
		return nil
	})
}

// contact returns the contact the path names if p may act on it: another
// instance's is not_found, one p may not access forbidden.
func (a *agentAPI) contact(r *http.Request, p *Principal) (*helpline.Contact, error) {
	c, err := a.cfg.Desk.FindContact(r.Context(), p.InstanceID, r.PathValue("contactId"))
	if err != nil {
		return nil, err
	} else if !p.MayAccess(c) {
		return nil, helpline.Errorf(helpline.EFORBIDDEN, "Contact %s is not assigned to you.", c.ID)
	}
	return c, nil
}

type participantJSON struct {
	ID          string     `json:"id"`
	Role        string     `json:"role"`
	DisplayName string     `json:"display_name"`
	JoinedAt    time.Time  `json:"joined_at"`
	LeftAt      *time.Time `json:"left_at,omitempty"`
}

type ticketRefJSON struct {
	Connector string            `json:"connector"`
	State     string            `json:"state"`
	Refs      map[string]string `json:"refs"`
	// URL is the ticket's page in its system, when its connector says
	// (an http or https URL only).
	URL string `json:"url,omitempty"`
}

// chatDetailJSON is a chat and its context.
type chatDetailJSON struct {
	ContactID    string            `json:"contact_id"`
	Owner        string            `json:"owner"`
	State        string            `json:"state"`
	EndReason    string            `json:"end_reason,omitempty"`
	CreatedAt    time.Time         `json:"created_at"`
	ExpiresAt    time.Time         `json:"expires_at"`
	EndedAt      *time.Time        `json:"ended_at,omitempty"`
	LastSeq      int64             `json:"last_seq"`
	Customer     customerJSON      `json:"customer"`
	Attributes   map[string]string `json:"attributes"`
	BotSummary   string            `json:"bot_summary,omitempty"`
	Participants []participantJSON `json:"participants"`
	Tickets      []ticketRefJSON   `json:"tickets"`
}

type customerJSON struct {
	ParticipantID string `json:"participant_id,omitempty"`
	DisplayName   string `json:"display_name,omitempty"`
	CustomerID    string `json:"customer_id,omitempty"`
}

func (a *agentAPI) chat(w http.ResponseWriter, r *http.Request) {
	a.handle(w, r, func(p *Principal) error {
		c, err := a.contact(r, p)
		if err != nil {
			return err
		}
		ps, err := a.cfg.Desk.Participants(r.Context(), c.ID)
		if err != nil {
			return err
		}
		out := chatDetailJSON{ContactID: c.ID, Owner: c.Owner, State: c.State, EndReason: c.EndReason,
			CreatedAt: c.CreatedAt, ExpiresAt: c.ExpiresAt, LastSeq: c.LastSeq,
			Customer: customerJSON{CustomerID: c.CustomerID}, Attributes: c.Attributes,
			BotSummary: c.Attributes[helpline.BotSummaryAttribute], Participants: []participantJSON{}, Tickets: []ticketRefJSON{}}
		if out.Attributes == nil {
			out.Attributes = map[string]string{}
		}
		if !c.EndedAt.IsZero() {
			out.EndedAt = &c.EndedAt
		}
		for _, pt := range ps {
			pj := participantJSON{ID: pt.ID, Role: pt.Role, DisplayName: pt.DisplayName, JoinedAt: pt.CreatedAt}
			if pt.Left() {
				pj.LeftAt = &pt.LeftAt
			}
			if pt.Role == helpline.RoleCustomer && out.Customer.ParticipantID == "" {
				out.Customer.ParticipantID, out.Customer.DisplayName = pt.ID, pt.DisplayName
			}
			out.Participants = append(out.Participants, pj)
		}
		if a.cfg.Mirrors != nil {
			pairs, err := a.cfg.Mirrors.FindMirrorPairs(r.Context(), helpline.MirrorPairFilter{ContactID: c.ID, Limit: 100})
			if err != nil {
				return err
			}
			for _, mp := range pairs {
				if len(mp.Refs) > 0 {
					t := ticketRefJSON{Connector: mp.Connector, State: mp.State, Refs: mp.Refs}
					if l := a.cfg.TicketLinks[mp.Connector]; l != nil {
						t.URL = webURL(l.TicketURL(mp.Refs))
					}
					out.Tickets = append(out.Tickets, t)
				}
			}
		}
		writeJSON(w, http.StatusOK, out)
		return nil
	})
}

// webURL returns u if it is an absolute http or https URL, else "": a
// link the console opens is never javascript: or data:.
func webURL(u string) string {
	p, err := url.Parse(u)
	if err != nil || (p.Scheme != "http" && p.Scheme != "https") || p.Host == "" {
		return ""
	}
	return u
}

// itemJSON is a transcript item on the wire.
type itemJSON struct {
	Seq           int64                     `json:"seq"`
	ID            string                    `json:"id"`
	Type          string                    `json:"type"`
	ContentType   string                    `json:"content_type"`
	Content       string                    `json:"content,omitempty"`
	ParticipantID string                    `json:"participant_id"`
	DisplayName   string                    `json:"display_name,omitempty"`
	Role          string                    `json:"role"`
	Time          time.Time                 `json:"time"`
	Attachments   []helpline.AttachmentRef  `json:"attachments,omitempty"`
	Metadata      *helpline.MessageMetadata `json:"metadata,omitempty"`
	ClientToken   string                    `json:"client_token,omitempty"`
}

func itemOut(it *helpline.Item) itemJSON {
	return itemJSON{Seq: it.Seq, ID: it.ID, Type: it.Type, ContentType: it.ContentType, Content: it.Content,
		ParticipantID: it.ParticipantID, DisplayName: it.DisplayName, Role: it.Role, Time: it.Time,
		Attachments: it.Attachments, Metadata: it.Metadata, ClientToken: it.ClientToken}
}

func (a *agentAPI) transcript(w http.ResponseWriter, r *http.Request) {
	a.handle(w, r, func(p *Principal) error {
		q := r.URL.Query()
		after, limit := int64(0), defaultTranscriptPage
		if s := q.Get("after"); s != "" {
			n, err := strconv.ParseInt(s, 10, 64)
			if err != nil || n < 0 {
				return helpline.Errorf(helpline.EINVALID, "after must be a sequence number, 0 or more.")
			}
			after = n
		}
		if s := q.Get("limit"); s != "" {
			n, err := strconv.Atoi(s)
			if err != nil || n < 1 || n > maxTranscriptPage {
				return helpline.Errorf(helpline.EINVALID, "limit must be a number from 1 to %d.", maxTranscriptPage)
			}
			limit = n
		}
		c, err := a.contact(r, p)
		if err != nil {
			return err
		}
		// One more than asked says whether there are more.
		items, err := a.cfg.Desk.ItemsAfter(r.Context(), c.ID, after, limit+1)
		if err != nil {
			return err
		}
		more := len(items) > limit
		if more {
			items = items[:limit]
		}
		out := make([]itemJSON, 0, len(items))
		next := after
		for _, it := range items {
			out = append(out, itemOut(it))
			next = it.Seq
		}
		writeJSON(w, http.StatusOK, map[string]any{"items": out, "next_after": next, "more": more})
		return nil
	})
}

// agentSession returns the session of p's agent in the chat the path
// names: only the agent that owns a chat writes in it.
func (a *agentAPI) agentSession(r *http.Request, p *Principal) (*helpline.Session, error) {
	c, err := a.contact(r, p)
	if err != nil {
		return nil, err
	} else if c.Ended() {
		return nil, helpline.Errorf(helpline.ECONFLICT, "Contact %s has ended.", c.ID)
	} else if p.AgentID == "" || c.Owner != helpline.OwnerAgent+":"+p.AgentID {
		return nil, helpline.Errorf(helpline.EFORBIDDEN, "Only the agent the chat is assigned to writes in it.")
	}
	return a.cfg.Desk.AgentSession(r.Context(), p.InstanceID, c.ID, p.AgentID)
}

func (a *agentAPI) sendMessage(w http.ResponseWriter, r *http.Request) {
	a.handle(w, r, func(p *Principal) error {
		var in struct {
			Content     string `json:"content"`
			ContentType string `json:"content_type"`
			ClientToken string `json:"client_token"`
		}
		if err := decode(r, &in); err != nil {
			return err
		} else if in.ClientToken == "" {
			return helpline.Errorf(helpline.EINVALID, "client_token is required: a retry with the same one sends the message once.")
		} else if in.Content == "" {
			return helpline.Errorf(helpline.EINVALID, "content is required.")
		}
		if in.ContentType == "" {
			in.ContentType = helpline.ContentPlain
		}
		s, err := a.agentSession(r, p)
		if err != nil {
			return err
		}
		it, err := a.cfg.Participants.SendMessage(r.Context(), s, in.ContentType, in.Content, in.ClientToken)
		if err != nil {
			return err
		}
		writeJSON(w, http.StatusOK, itemOut(it))
		return nil
	})
}

func (a *agentAPI) typing(w http.ResponseWriter, r *http.Request) {
	a.handle(w, r, func(p *Principal) error {
		if err := emptyBody(r); err != nil {
			return err
		}
		s, err := a.agentSession(r, p)
		if err != nil {
			return err
		} else if _, err := a.cfg.Participants.SendEvent(r.Context(), s, helpline.EventTyping, "", ""); err != nil {
			return err
		}
		w.WriteHeader(http.StatusNoContent)
		return nil
	})
}

// emptyBody returns EINVALID unless the request's body is empty or {}.
func emptyBody(r *http.Request) error {
	b, err := io.ReadAll(http.MaxBytesReader(nil, r.Body, maxBody))
	if t := strings.TrimSpace(string(b)); err != nil || t != "" && t != "{}" {
		return helpline.Errorf(helpline.EINVALID, "This endpoint takes no body (or {}).")
	}
	return nil
}

func (a *agentAPI) read(w http.ResponseWriter, r *http.Request) {
	a.handle(w, r, func(p *Principal) error {
		var in struct {
			MessageID string `json:"message_id"`
		}
		if err := decode(r, &in); err != nil {
			return err
		} else if in.MessageID == "" {
			return helpline.Errorf(helpline.EINVALID, "message_id is required.")
		}
		s, err := a.agentSession(r, p)
		if err != nil {
			return err
		}
		content, _ := json.Marshal(map[string]string{"messageId": in.MessageID})
		it, err := a.cfg.Participants.SendEvent(r.Context(), s, helpline.EventMessageRead, string(content), "")
		if err != nil {
			return err
		}
		writeJSON(w, http.StatusOK, itemOut(it))
		return nil
	})
}

type attachmentJSON struct {
	ID          string `json:"attachment_id"`
	Name        string `json:"name"`
	ContentType string `json:"content_type"`
	Size        int64  `json:"size"`
	Status      string `json:"status"`
	UploadURL   string `json:"upload_url"`
}

func (a *agentAPI) startAttachment(w http.ResponseWriter, r *http.Request) {
	a.handle(w, r, func(p *Principal) error {
		var in struct {
			Name        string `json:"name"`
			ContentType string `json:"content_type"`
			Size        int64  `json:"size"`
			ClientToken string `json:"client_token"`
		}
		if err := decode(r, &in); err != nil {
			return err
		} else if in.ClientToken == "" {
			return helpline.Errorf(helpline.EINVALID, "client_token is required.")
		}
		s, err := a.agentSession(r, p)
		if err != nil {
			return err
		}
		at, token, err := a.cfg.Participants.StartAttachmentUpload(r.Context(), s,
			helpline.AttachmentUpload{Name: in.Name, ContentType: in.ContentType, Size: in.Size, ClientToken: in.ClientToken})
		if err != nil {
			return err
		}
		writeJSON(w, http.StatusCreated, attachmentJSON{ID: at.ID, Name: at.Name, ContentType: at.ContentType, Size: at.Size,
			Status: at.Status, UploadURL: "/api/agent/chats/" + s.Contact.ID + "/attachments/" + at.ID + "?token=" + url.QueryEscape(token)})
		return nil
	})
}

func (a *agentAPI) uploadAttachment(w http.ResponseWriter, r *http.Request) {
	a.handle(w, r, func(p *Principal) error {
		token := r.URL.Query().Get("token")
		if token == "" {
			return helpline.Errorf(helpline.EINVALID, "token is required: use the upload_url the upload's start returned.")
		}
		if _, err := a.agentSession(r, p); err != nil {
			return err
		}
		// The engine checks the token names this upload, the type, and
		// that the body holds exactly the declared size.
		body := http.MaxBytesReader(w, r.Body, helpline.MaxAttachmentSize+1)
		err := a.cfg.Participants.UploadAttachment(r.Context(), token, r.Header.Get("Content-Type"), body)
		var tooLarge *http.MaxBytesError
		if errors.As(err, &tooLarge) {
			return helpline.Errorf(codeTooLarge, "An attachment is at most %d bytes.", helpline.MaxAttachmentSize)
		} else if helpline.ErrorCode(err) == helpline.EFORBIDDEN {
			return helpline.Errorf(helpline.EINVALID, "The upload token is invalid or expired; start the upload again.")
		} else if err != nil {
			return err
		}
		w.WriteHeader(http.StatusNoContent)
		return nil
	})
}

func (a *agentAPI) completeAttachment(w http.ResponseWriter, r *http.Request) {
	a.handle(w, r, func(p *Principal) error {
		var in struct {
			ClientToken string `json:"client_token"`
		}
		if err := decode(r, &in); err != nil {
			return err
		} else if in.ClientToken == "" {
			return helpline.Errorf(helpline.EINVALID, "client_token is required.")
		}
		s, err := a.agentSession(r, p)
		if err != nil {
			return err
		}
		it, err := a.cfg.Participants.CompleteAttachmentUpload(r.Context(), s, r.PathValue("attachmentId"), in.ClientToken)
		if err != nil {
			return err
		}
		writeJSON(w, http.StatusOK, itemOut(it))
		return nil
	})
}

type transferJSON struct {
	ContactID    string `json:"contact_id"`
	Owner        string `json:"owner"`
	NobodyOnline bool   `json:"nobody_online"`
}

func (a *agentAPI) transfer(w http.ResponseWriter, r *http.Request) {
	a.handle(w, r, func(p *Principal) error {
		var in struct {
			AgentID string `json:"agent_id"`
			QueueID string `json:"queue_id"`
		}
		if err := decode(r, &in); err != nil {
			return err
		}
		var target string
		switch {
		case in.AgentID != "" && in.QueueID == "":
			target = helpline.OwnerAgent + ":" + in.AgentID
		case in.QueueID != "" && in.AgentID == "":
			target = helpline.OwnerQueue + ":" + in.QueueID
		default:
			return helpline.Errorf(helpline.EINVALID, "Name one of agent_id and queue_id.")
		}
		return a.moveTo(w, r, p, target)
	})
}

func (a *agentAPI) reassign(w http.ResponseWriter, r *http.Request) {
	a.handle(w, r, func(p *Principal) error {
		if !p.Has(helpline.AgentRoleSupervisor) {
			return helpline.Errorf(helpline.EFORBIDDEN, "Reassigning a chat needs the supervisor role.")
		}
		var in struct {
			AgentID string `json:"agent_id"`
		}
		if err := decode(r, &in); err != nil {
			return err
		} else if in.AgentID == "" {
			return helpline.Errorf(helpline.EINVALID, "agent_id is required.")
		}
		return a.moveTo(w, r, p, helpline.OwnerAgent+":"+in.AgentID)
	})
}

// moveTo transfers the chat the path names to target.
func (a *agentAPI) moveTo(w http.ResponseWriter, r *http.Request, p *Principal, target string) error {
	c, err := a.contact(r, p)
	if err != nil {
		return err
	}
	c, nobody, err := a.cfg.Desk.Transfer(r.Context(), p.InstanceID, c.ID, target, p.subject())
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, transferJSON{ContactID: c.ID, Owner: c.Owner, NobodyOnline: nobody})
	return nil
}

// handBack gives the chat back to its flow's bot; it is authorised as a
// transfer is.
func (a *agentAPI) handBack(w http.ResponseWriter, r *http.Request) {
	a.handle(w, r, func(p *Principal) error {
		if err := emptyBody(r); err != nil {
			return err
		}
		c, err := a.contact(r, p)
		if err != nil {
			return err
		}
		if c, err = a.cfg.Desk.HandBack(r.Context(), p.InstanceID, c.ID, p.subject()); err != nil {
			return err
		}
		writeJSON(w, http.StatusOK, struct {
			ContactID string `json:"contact_id"`
			Owner     string `json:"owner"`
		}{c.ID, c.Owner})
		return nil
	})
}

func (a *agentAPI) closeChat(w http.ResponseWriter, r *http.Request) {
	a.handle(w, r, func(p *Principal) error {
		if err := emptyBody(r); err != nil {
			return err
		}
		c, err := a.contact(r, p)
		if err != nil {
			return err
		} else if err := a.cfg.Desk.CloseContact(r.Context(), p.InstanceID, c.ID); err != nil {
			return err
		}
		w.WriteHeader(http.StatusNoContent)
		return nil
	})
}
