// Package httpapi is Helpline's own HTTP API for operators and automations:
// the mirror admin endpoints and ticket actions on the helpdesk ticket
// linked to a contact.
//
//	GET  /admin/mirror/pairs?connector=&contact=&state=&limit=
//	POST /admin/mirror/resume?connector=&contact=
//	GET  /api/contacts/{id}/ticket
//	GET  /api/contacts/{id}/ticket/latest-message
//	POST /api/contacts/{id}/ticket/reply    {"body"}
//	POST /api/contacts/{id}/ticket/note     {"body"}
//	POST /api/contacts/{id}/ticket/assign   {"assignee_id","group_id"}
//	POST /api/contacts/{id}/ticket/handoff  {"assignee_id","group_id","context"}
//
// Every request needs "Authorization: Bearer <API token>"; a missing or
// wrong token is 401. With no token configured the API is off and every
// endpoint answers 404, so an unconfigured server exposes nothing. The
// ticket endpoints also take agents' credentials when Config.Agents is
// set: an agent's session (with its CSRF token for a POST) or an API token
// of the agent API, for a contact of its instance it may act on — the
// agent it is assigned to, a supervisor or admin, a supervisor's or
// admin's token; others get 403, another instance's contact 404.
// Errors are JSON {"error":{"code","message"}} with the status of the
// code (see statusOf). Ticket endpoints take ?connector=name to pick the
// helpdesk when several connectors offer ticket actions.
//
// The agent API (agent.go, NewAgentAPI) shares the error model and serves
// /api/agent/ and /api/admin/ with its own credentials.
package httpapi

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/helplinehq/helpline"
)

// maxBody caps request bodies.
const maxBody = 64 << 10

// Config configures the API.
type Config struct {
	Mirrors helpline.MirrorStore
	// Desks are the connectors offering ticket actions, by name.
	Desks map[string]helpline.TicketDesk
	// Token is the API token; empty turns the API off (except the
	// ticket endpoints for agents' credentials, when Agents is set).
	Token string
	// Agents, when set, lets agents' credentials act on tickets.
	Agents *AgentAPI
	Logger *slog.Logger
	// Now defaults to helpline.Now.
	Now func() time.Time
}

type api struct {
	mirrors helpline.MirrorStore
	agents  *AgentAPI
	desks   map[string]helpline.TicketDesk
	log     *slog.Logger
	now     func() time.Time
}

// New returns the API's handler, to be mounted at / (it serves only the
// /admin/ and /api/ paths above).
func New(cfg Config) http.Handler {
	if cfg.Token == "" && cfg.Agents == nil {
		return http.NotFoundHandler()
	}
	a := &api{mirrors: cfg.Mirrors, desks: cfg.Desks, log: cfg.Logger, now: cfg.Now, agents: cfg.Agents}
	if a.log == nil {
		a.log = slog.Default()
	}
	if a.now == nil {
		a.now = helpline.Now
	}
	operator := http.NewServeMux()
	operator.HandleFunc("GET /admin/mirror/pairs", a.pairs)
	operator.HandleFunc("POST /admin/mirror/resume", a.resume)
	tickets := http.NewServeMux()
	for pattern, fn := range map[string]http.HandlerFunc{
		"GET /api/contacts/{id}/ticket":                a.ticket,
		"GET /api/contacts/{id}/ticket/latest-message": a.latestMessage,
		"POST /api/contacts/{id}/ticket/reply":         a.reply,
		"POST /api/contacts/{id}/ticket/note":          a.note,
		"POST /api/contacts/{id}/ticket/assign":        a.assign,
		"POST /api/contacts/{id}/ticket/handoff":       a.handoff,
	} {
		operator.Handle(pattern, fn)
		tickets.Handle(pattern, a.mayAct(fn))
	}
	var byToken http.Handler = http.NotFoundHandler()
	if cfg.Token != "" {
		byToken = RequireToken(cfg.Token, operator)
	}
	if cfg.Agents == nil {
		return byToken
	}
	byAgent := cfg.Agents.Authenticate(tickets)
	isOperator := bearsToken(cfg.Token)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !isOperator(r) && strings.HasPrefix(r.URL.Path, "/api/contacts/") {
			byAgent.ServeHTTP(w, r)
			return
		}
		byToken.ServeHTTP(w, r)
	})
}

// mayAct serves fn only when the agent's principal may act on the
// contact the path names (AgentAPI.contactFor).
func (a *api) mayAct(fn http.HandlerFunc) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if _, err := a.agents.contactFor(r.Context(), PrincipalFrom(r.Context()), r.PathValue("id")); err != nil {
			a.fail(w, r, err)
			return
		}
		fn(w, r)
	})
}

// bearsToken returns whether a request bears "Authorization: Bearer
// <token>", compared in constant time; an empty token is borne by none.
func bearsToken(token string) func(r *http.Request) bool {
	want := sha256.Sum256([]byte(token))
	return func(r *http.Request) bool {
		tok, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
		sum := sha256.Sum256([]byte(tok))
		return token != "" && ok && subtle.ConstantTimeCompare(sum[:], want[:]) == 1
	}
}

// RequireToken serves next only to requests bearing
// "Authorization: Bearer <token>", compared in constant time; the others
// get 401 unauthorized. It guards /admin, /api and, when configured,
// /metrics.
func RequireToken(token string, next http.Handler) http.Handler {
	bears := bearsToken(token)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !bears(r) {
			w.Header().Set("WWW-Authenticate", `Bearer realm="helpline"`)
			writeJSON(w, http.StatusUnauthorized, errorBody(codeUnauthorized, "A valid API token is required."))
			return
		}
		next.ServeHTTP(w, r)
	})
}

// statusOf is the one table from error codes to HTTP statuses, for the
// operator API and the agent API:
//
//	invalid       400  malformed JSON, a missing or bad field
//	unauthorized  401  no credentials, or bad, revoked or expired ones
//	forbidden     403  the credentials do not allow this (role, instance, CSRF)
//	not_found     404  no such resource or endpoint
//	conflict      409  the resource's state does not allow this
//	too_large     413  the request body exceeds 64 KiB
//	quota         429  a quota is used up
//	throttled     429  too many requests or failed logins; Retry-After says when to retry
//	internal      500  a fault of ours, logged; the message says nothing more
//	unavailable   503  the node is stopping (an agent socket); Retry-After says when to retry
func statusOf(code string) int {
	switch code {
	case helpline.EINVALID:
		return http.StatusBadRequest
	case codeUnauthorized:
		return http.StatusUnauthorized
	case codeTooLarge:
		return http.StatusRequestEntityTooLarge
	case helpline.ENOTFOUND:
		return http.StatusNotFound
	case helpline.EFORBIDDEN:
		return http.StatusForbidden
	case helpline.ECONFLICT:
		return http.StatusConflict
	case helpline.EQUOTA, helpline.ETHROTTLED:
		return http.StatusTooManyRequests
	case helpline.EUNSUPPORTED:
		return http.StatusNotImplemented
	case codeUnavailable:
		return http.StatusServiceUnavailable
	}
	return http.StatusInternalServerError
}

func (a *api) fail(w http.ResponseWriter, r *http.Request, err error) { fail(a.log, w, r, err) }

// fail writes err as the API's error answer, logging it if it is ours.
func fail(log *slog.Logger, w http.ResponseWriter, r *http.Request, err error) {
	code := helpline.ErrorCode(err)
	status := statusOf(code)
	if status == http.StatusInternalServerError {
		log.Error("api request failed", "method", r.Method, "path", r.URL.Path, "err", err)
	} else if status == http.StatusUnauthorized {
		w.Header().Set("WWW-Authenticate", `Bearer realm="helpline"`)
	}
	retryAfter(w, err)
	writeJSON(w, status, errorBody(code, helpline.ErrorMessage(err)))
}

func errorBody(code, msg string) any {
	return map[string]any{"error": map[string]string{"code": code, "message": msg}}
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(v)
}

// decode reads a JSON body into v, refusing unknown fields, trailing data
// and bodies over maxBody (too_large).
func decode(r *http.Request, v any) error {
	dec := json.NewDecoder(http.MaxBytesReader(nil, r.Body, maxBody))
	dec.DisallowUnknownFields()
	err := dec.Decode(v)
	if err == nil && dec.More() {
		err = errors.New("data after the JSON value")
	}
	var tooLarge *http.MaxBytesError
	if errors.As(err, &tooLarge) {
		return helpline.Errorf(codeTooLarge, "The request body exceeds %d KiB.", maxBody>>10)
	} else if err != nil {
		return helpline.Errorf(helpline.EINVALID, "The request body is not valid JSON for this endpoint: %v.", err)
	}
	return nil
}

// pairJSON is a mirror pair on the wire.
type pairJSON struct {
	Connector   string            `json:"connector"`
	ContactID   string            `json:"contact_id"`
	State       string            `json:"state"`
	Cursor      int64             `json:"cursor"`
	LastSeq     int64             `json:"last_seq"`
	Attempts    int               `json:"attempts"`
	NextAttempt time.Time         `json:"next_attempt"`
	LastError   string            `json:"last_error,omitempty"`
	Refs        map[string]string `json:"refs,omitempty"`
	LeaseOwner  string            `json:"lease_owner,omitempty"`
	LeaseUntil  *time.Time        `json:"lease_until,omitempty"`
	UpdatedAt   time.Time         `json:"updated_at"`
}

func (a *api) pairs(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	f := helpline.MirrorPairFilter{Connector: q.Get("connector"), ContactID: q.Get("contact"), State: q.Get("state"), Limit: 1000}
	switch f.State {
	case "", helpline.MirrorActive, helpline.MirrorParked, helpline.MirrorDone:
	default:
		a.fail(w, r, helpline.Errorf(helpline.EINVALID, "state must be active, parked or done."))
		return
	}
	if s := q.Get("limit"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 || n > 10000 {
			a.fail(w, r, helpline.Errorf(helpline.EINVALID, "limit must be a number from 1 to 10000."))
			return
		}
		f.Limit = n
	}
	pairs, err := a.mirrors.FindMirrorPairs(r.Context(), f)
	if err != nil {
		a.fail(w, r, err)
		return
	}
	out := make([]pairJSON, 0, len(pairs))
	for _, p := range pairs {
		pj := pairJSON{
			Connector: p.Connector, ContactID: p.ContactID, State: p.State, Cursor: p.Cursor, LastSeq: p.LastSeq,
			Attempts: p.Attempts, NextAttempt: p.NextAttempt, LastError: p.LastError, Refs: p.Refs,
			LeaseOwner: p.LeaseOwner, UpdatedAt: p.UpdatedAt,
		}
		if !p.LeaseUntil.IsZero() {
			pj.LeaseUntil = &p.LeaseUntil
		}
		out = append(out, pj)
	}
	writeJSON(w, http.StatusOK, map[string]any{"pairs": out})
}

func (a *api) resume(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	n, err := a.mirrors.ResumeMirrorPairs(r.Context(), q.Get("connector"), q.Get("contact"), a.now())
	if err != nil {
		a.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]int{"resumed": n})
}

// desk picks the TicketDesk the request names with ?connector=, or the only
// one there is.
func (a *api) desk(r *http.Request) (helpline.TicketDesk, error) {
	if name := r.URL.Query().Get("connector"); name != "" {
		if d := a.desks[name]; d != nil {
			return d, nil
		}
		return nil, helpline.Errorf(helpline.ENOTFOUND, "No connector named %q offers ticket actions.", name)
	}
	switch len(a.desks) {
	case 0:
		return nil, helpline.Errorf(helpline.ENOTFOUND, "No configured connector offers ticket actions.")
	case 1:
		for _, d := range a.desks {
			return d, nil
		}
	}
	var names []string
	for n := range a.desks {
		names = append(names, n)
	}
	sort.Strings(names)
	return nil, helpline.Errorf(helpline.EINVALID, "Several connectors offer ticket actions; name one with ?connector= (%s).", strings.Join(names, ", "))
}

// ticketJSON is a ticket on the wire.
type ticketJSON struct {
	ID         string    `json:"id"`
	URL        string    `json:"url,omitempty"`
	Subject    string    `json:"subject,omitempty"`
	Status     string    `json:"status,omitempty"`
	AssigneeID string    `json:"assignee_id,omitempty"`
	GroupID    string    `json:"group_id,omitempty"`
	Tags       []string  `json:"tags"`
	UpdatedAt  time.Time `json:"updated_at"`
}

func ticketOut(t *helpline.Ticket) ticketJSON {
	tags := t.Tags
	if tags == nil {
		tags = []string{}
	}
	return ticketJSON{ID: t.ID, URL: t.URL, Subject: t.Subject, Status: t.Status, AssigneeID: t.AssigneeID, GroupID: t.GroupID, Tags: tags, UpdatedAt: t.UpdatedAt}
}

// messageJSON is a ticket comment on the wire.
type messageJSON struct {
	ID        string    `json:"id"`
	AuthorID  string    `json:"author_id,omitempty"`
	Body      string    `json:"body"`
	Public    bool      `json:"public"`
	CreatedAt time.Time `json:"created_at"`
}

func messageOut(m *helpline.TicketMessage) messageJSON {
	return messageJSON{ID: m.ID, AuthorID: m.AuthorID, Body: m.Body, Public: m.Public, CreatedAt: m.CreatedAt}
}

// onDesk runs fn on the request's desk and writes its result.
func (a *api) onDesk(w http.ResponseWriter, r *http.Request, status int, fn func(d helpline.TicketDesk, contactID string) (any, error)) {
	d, err := a.desk(r)
	if err == nil {
		var v any
		if v, err = fn(d, r.PathValue("id")); err == nil {
			writeJSON(w, status, v)
			return
		}
	}
	a.fail(w, r, err)
}

func (a *api) ticket(w http.ResponseWriter, r *http.Request) {
	a.onDesk(w, r, http.StatusOK, func(d helpline.TicketDesk, id string) (any, error) {
		t, err := d.Ticket(r.Context(), id)
		if err != nil {
			return nil, err
		}
		return ticketOut(t), nil
	})
}

func (a *api) latestMessage(w http.ResponseWriter, r *http.Request) {
	a.onDesk(w, r, http.StatusOK, func(d helpline.TicketDesk, id string) (any, error) {
		m, err := d.LatestMessage(r.Context(), id)
		if err != nil {
			return nil, err
		}
		return messageOut(m), nil
	})
}

type bodyInput struct {
	Body string `json:"body"`
}

func (a *api) reply(w http.ResponseWriter, r *http.Request) {
	a.comment(w, r, helpline.TicketDesk.Reply)
}

func (a *api) note(w http.ResponseWriter, r *http.Request) {
	a.comment(w, r, helpline.TicketDesk.AddNote)
}

func (a *api) comment(w http.ResponseWriter, r *http.Request, add func(helpline.TicketDesk, context.Context, string, string) (*helpline.TicketMessage, error)) {
	a.onDesk(w, r, http.StatusCreated, func(d helpline.TicketDesk, id string) (any, error) {
		var in bodyInput
		if err := decode(r, &in); err != nil {
			return nil, err
		} else if strings.TrimSpace(in.Body) == "" {
			return nil, helpline.Errorf(helpline.EINVALID, "body is required.")
		}
		m, err := add(d, r.Context(), id, in.Body)
		if err != nil {
			return nil, err
		}
		return messageOut(m), nil
	})
}

type assignInput struct {
	AssigneeID string `json:"assignee_id"`
	GroupID    string `json:"group_id"`
	Context    string `json:"context"`
}

func (in *assignInput) check(handoff bool) error {
	if in.AssigneeID == "" && in.GroupID == "" {
		return helpline.Errorf(helpline.EINVALID, "assignee_id or group_id is required.")
	} else if handoff && strings.TrimSpace(in.Context) == "" {
		return helpline.Errorf(helpline.EINVALID, "context is required.")
	} else if !handoff && in.Context != "" {
		return helpline.Errorf(helpline.EINVALID, "context belongs to handoff, not assign.")
	}
	return nil
}

func (a *api) assign(w http.ResponseWriter, r *http.Request) { a.reassign(w, r, false) }

func (a *api) handoff(w http.ResponseWriter, r *http.Request) { a.reassign(w, r, true) }

func (a *api) reassign(w http.ResponseWriter, r *http.Request, handoff bool) {
	a.onDesk(w, r, http.StatusOK, func(d helpline.TicketDesk, id string) (any, error) {
		var in assignInput
		if err := decode(r, &in); err != nil {
			return nil, err
		} else if err := in.check(handoff); err != nil {
			return nil, err
		}
		as := helpline.TicketAssignment{AssigneeID: in.AssigneeID, GroupID: in.GroupID}
		var t *helpline.Ticket
		var err error
		if handoff {
			t, err = d.HandOff(r.Context(), id, as, in.Context)
		} else {
			t, err = d.Assign(r.Context(), id, as)
		}
		if err != nil {
			return nil, err
		}
		return ticketOut(t), nil
	})
}
