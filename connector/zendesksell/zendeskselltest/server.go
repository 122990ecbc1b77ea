// Package zendeskselltest is a fake of the Zendesk Sell Core API v2
// (https://api.getbase.com/v2): leads and notes, as the documented API
// behaves. It checks the Bearer token and the mandatory User-Agent, wraps
// responses in {data, meta} envelopes and lists in items[], answers
// validation failures with 422 errors[].error{code, field}, and throttles
// with 429 rate_limit_exceeded without any rate-limit or Retry-After
// header, as Sell does. Outages and slow responses can be switched on, and
// the fake records the leads and notes it holds so tests assert on them.
//
// A lead update is a plain overwrite of the fields sent, with no
// concurrency control, as in Sell: two clients that read a description and
// write it back at the same time lose one of the writes.
package zendeskselltest

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Lead is a lead as the fake holds it.
type Lead struct {
	ID               int64             `json:"id"`
	CreatorID        int64             `json:"creator_id"`
	OwnerID          int64             `json:"owner_id"`
	FirstName        string            `json:"first_name"`
	LastName         string            `json:"last_name"`
	OrganizationName string            `json:"organization_name"`
	Status           string            `json:"status"`
	Title            string            `json:"title"`
	Description      string            `json:"description"`
	Email            string            `json:"email"`
	Phone            string            `json:"phone"`
	Mobile           string            `json:"mobile"`
	Tags             []string          `json:"tags"`
	CustomFields     map[string]string `json:"custom_fields"`
	CreatedAt        time.Time         `json:"created_at"`
	UpdatedAt        time.Time         `json:"updated_at"`
}

// Note is a note as the fake holds it.
type Note struct {
	ID           int64     `json:"id"`
	CreatorID    int64     `json:"creator_id"`
	ResourceType string    `json:"resource_type"`
	ResourceID   int64     `json:"resource_id"`
	Content      string    `json:"content"`
	CreatedAt    time.Time `json:"created_at"`
	UpdatedAt    time.Time `json:"updated_at"`
}

// MaxDescription is the longest lead description the fake accepts. Sell
// documents no limit; this is the 64,000 characters its product limits
// give a paragraph custom field, assumed for the description too.
const MaxDescription = 64000

// userID is the id of the token's user: creator and owner of what it makes.
const userID = 1

// Server is a running fake. Its methods are safe for concurrent use.
type Server struct {
	*httptest.Server
	// Token is the access token requests must carry as "Bearer <Token>".
	Token string
	// Now is the fake's clock, for timestamps and the rate limit's
	// one-second windows; it defaults to time.Now.
	Now func() time.Time

	// mu guards everything below.
	mu        sync.Mutex
	leads     map[int64]*Lead
	notes     map[int64]*Note
	nextID    int64
	outage    int           // status every request gets; 0 for none
	delay     time.Duration // added before every response
	perSecond int           // requests allowed per one-second window; 0 for no limit
	window    int64         // the current window's Unix second
	inWindow  int
	requests  int
	throttled int
	requestID int64

	lostAnswers int // how many more writes take effect but answer lostStatus
	lostStatus  int
}

// NewServer starts a fake that accepts token.
func NewServer(token string) *Server {
	s := &Server{Token: token, Now: time.Now, leads: map[int64]*Lead{}, notes: map[int64]*Note{}}
	s.Server = httptest.NewServer(http.HandlerFunc(s.serve))
	return s
}

// SetOutage makes every request fail with status (503, 500, or any 4xx,
// with Sell's error envelope) until it is called with 0.
func (s *Server) SetOutage(status int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.outage = status
}

// LoseAnswers makes the next n writes (POST, PUT, DELETE) take effect
// and then answer status (503, 500, 504) instead of their result, as when
// Sell's gateway gives up on a request the backend went on to commit: the
// client cannot tell whether the write landed.
func (s *Server) LoseAnswers(status, n int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.lostStatus, s.lostAnswers = status, n
}

// SetDelay makes every response wait d first (slow responses, timeouts).
func (s *Server) SetDelay(d time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.delay = d
}

// SetRateLimit allows n requests per one-second window and answers the
// rest with 429; 0 lifts the limit. Sell documents 36,000 requests per
// hour per token, 10 per second.
func (s *Server) SetRateLimit(n int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.perSecond = n
}

// Requests returns how many requests reached the fake, and how many of
// them it throttled.
func (s *Server) Requests() (total, throttled int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.requests, s.throttled
}

// Leads returns copies of the leads held, by id.
func (s *Server) Leads() []Lead {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]Lead, 0, len(s.leads))
	for _, l := range s.leads {
		out = append(out, *l)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out
}

// Lead returns a copy of lead id, and whether it exists.
func (s *Server) Lead(id int64) (Lead, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	l, ok := s.leads[id]
	if !ok {
		return Lead{}, false
	}
	return *l, true
}

// AddLead stores a lead as if a salesperson had created it and returns
// its id.
func (s *Server) AddLead(l Lead) int64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.nextID++
	l.ID = s.nextID
	l.CreatorID, l.OwnerID = userID, userID
	l.CreatedAt, l.UpdatedAt = s.Now().UTC(), s.Now().UTC()
	s.leads[l.ID] = &l
	return l.ID
}

// Notes returns copies of the notes on lead id, oldest first.
func (s *Server) Notes(leadID int64) []Note {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.notesOf("lead", leadID)
}

func (s *Server) notesOf(resourceType string, id int64) []Note {
	var out []Note
	for _, n := range s.notes {
		if n.ResourceType == resourceType && n.ResourceID == id {
			out = append(out, *n)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out
}

// apiError is one entry of Sell's errors[] list.
type apiError struct {
	status  int
	code    string
	message string
	field   string
}

var statusCodes = map[int]string{
	http.StatusBadRequest:          "invalid_param",
	http.StatusUnauthorized:        "unauthorized",
	http.StatusForbidden:           "insufficient_scope",
	http.StatusNotFound:            "not_found",
	http.StatusUnprocessableEntity: "incorrect_payload",
	http.StatusTooManyRequests:     "rate_limit_exceeded",
}

func (s *Server) serve(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	s.requests++
	s.requestID++
	reqID := fmt.Sprintf("req-%d", s.requestID)
	delay, outage := s.delay, s.outage
	limited := false
	if s.perSecond > 0 {
		sec := s.Now().Unix()
		if sec != s.window {
			s.window, s.inWindow = sec, 0
		}
		s.inWindow++
		if s.inWindow > s.perSecond {
			limited = true
			s.throttled++
		}
	}
	s.mu.Unlock()
	w.Header().Set("X-Request-Id", reqID)
	if delay > 0 {
		select {
		case <-time.After(delay):
		case <-r.Context().Done():
			return
		}
	}
	switch {
	case outage != 0:
		code := statusCodes[outage]
		if code == "" {
			code = "server_error"
		}
		s.fail(w, reqID, apiError{status: outage, code: code, message: "Switched outage."})
	case r.Header.Get("User-Agent") == "":
		s.fail(w, reqID, apiError{status: 400, code: "invalid_user_agent", message: "User-Agent header is required."})
	case r.Header.Get("Authorization") != "Bearer "+s.Token:
		s.fail(w, reqID, apiError{status: 401, code: "unauthorized", message: "Invalid or missing access token."})
	case limited:
		// Sell sends no rate-limit headers and no Retry-After.
		s.fail(w, reqID, apiError{status: 429, code: "rate_limit_exceeded", message: "Rate limit exceeded."})
	default:
		if status := s.loseAnswer(r); status != 0 {
			s.route(httptest.NewRecorder(), r, reqID)
			s.fail(w, reqID, apiError{status: status, code: "server_error", message: "The answer was lost."})
			return
		}
		s.route(w, r, reqID)
	}
}

// loseAnswer returns the status to answer r with when it is a write whose
// answer LoseAnswers asked to lose, counting it, and 0 otherwise.
func (s *Server) loseAnswer(r *http.Request) int {
	if r.Method == http.MethodGet {
		return 0
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.lostAnswers == 0 {
		return 0
	}
	s.lostAnswers--
	return s.lostStatus
}

func (s *Server) route(w http.ResponseWriter, r *http.Request, reqID string) {
	parts := strings.Split(strings.TrimSuffix(strings.TrimPrefix(r.URL.Path, "/v2/"), "/"), "/")
	var id int64
	if len(parts) == 2 {
		var err error
		if id, err = strconv.ParseInt(parts[1], 10, 64); err != nil {
			s.fail(w, reqID, apiError{status: 404, code: "not_found", message: "Not found."})
			return
		}
	}
	var status int
	var body any
	var e *apiError
	s.mu.Lock()
	switch {
	case len(parts) == 1 && parts[0] == "leads" && r.Method == http.MethodGet:
		status, body, e = s.listLeads(r)
	case len(parts) == 1 && parts[0] == "leads" && r.Method == http.MethodPost:
		status, body, e = s.saveLead(r, nil)
	case len(parts) == 2 && parts[0] == "leads":
		l := s.leads[id]
		switch {
		case l == nil:
			e = &apiError{status: 404, code: "not_found", message: "Lead not found.", field: "/id"}
		case r.Method == http.MethodGet:
			status, body = 200, envelope(l, "lead")
		case r.Method == http.MethodPut:
			status, body, e = s.saveLead(r, l)
		case r.Method == http.MethodDelete:
			delete(s.leads, id)
			status = http.StatusNoContent
		default:
			e = &apiError{status: 405, code: "method_not_allowed", message: "Method not allowed."}
		}
	case len(parts) == 1 && parts[0] == "notes" && r.Method == http.MethodGet:
		status, body, e = s.listNotes(r)
	case len(parts) == 1 && parts[0] == "notes" && r.Method == http.MethodPost:
		status, body, e = s.saveNote(r, nil)
	case len(parts) == 2 && parts[0] == "notes":
		n := s.notes[id]
		switch {
		case n == nil:
			e = &apiError{status: 404, code: "not_found", message: "Note not found.", field: "/id"}
		case r.Method == http.MethodGet:
			status, body = 200, envelope(n, "note")
		case r.Method == http.MethodPut:
			status, body, e = s.saveNote(r, n)
		case r.Method == http.MethodDelete:
			delete(s.notes, id)
			status = http.StatusNoContent
		default:
			e = &apiError{status: 405, code: "method_not_allowed", message: "Method not allowed."}
		}
	default:
		e = &apiError{status: 404, code: "not_found", message: "Not found."}
	}
	if e == nil && body != nil {
		// Encode under the lock: the envelope points at held records.
		b, _ := json.Marshal(body)
		s.mu.Unlock()
		w.Header().Set("Content-Type", "application/json; charset=utf-8")
		w.WriteHeader(status)
		w.Write(b)
		return
	}
	s.mu.Unlock()
	if e != nil {
		s.fail(w, reqID, *e)
		return
	}
	w.WriteHeader(status)
}

func envelope(v any, typ string) map[string]any {
	return map[string]any{"data": v, "meta": map[string]any{"type": typ}}
}

// page reads page and per_page (default 25, at most 100).
func page(r *http.Request) (pageNo, perPage int, e *apiError) {
	pageNo, perPage = 1, 25
	q := r.URL.Query()
	if v := q.Get("page"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 {
			return 0, 0, &apiError{status: 400, code: "invalid_param", message: "page must be a positive integer.", field: "page"}
		}
		pageNo = n
	}
	if v := q.Get("per_page"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > 100 {
			return 0, 0, &apiError{status: 400, code: "invalid_param", message: "per_page must be 1 to 100.", field: "per_page"}
		}
		perPage = n
	}
	return pageNo, perPage, nil
}

// collection renders one page of records in Sell's items[] shape.
func collection[T any](r *http.Request, all []T, typ string) (int, any, *apiError) {
	pageNo, perPage, e := page(r)
	if e != nil {
		return 0, nil, e
	}
	items := []any{}
	start := (pageNo - 1) * perPage
	for i := start; i < len(all) && i < start+perPage; i++ {
		items = append(items, envelope(all[i], typ))
	}
	links := map[string]any{}
	if start+perPage < len(all) {
		q := r.URL.Query()
		q.Set("page", strconv.Itoa(pageNo+1))
		links["next_page"] = r.URL.Path + "?" + q.Encode()
	}
	return 200, map[string]any{"items": items, "meta": map[string]any{"type": "collection", "count": len(items), "links": links}}, nil
}

// leadFilters are the query parameters of GET /v2/leads the fake
// implements; Sell documents more (status, owner_id, address[city],
// custom_fields[…], …), and the fake refuses those with 400 rather than
// ignore them and answer a list they would have narrowed.
var leadFilters = map[string]bool{"page": true, "per_page": true, "sort_by": true, "ids": true, "email": true, "first_name": true, "last_name": true}

func (s *Server) listLeads(r *http.Request) (int, any, *apiError) {
	q := r.URL.Query()
	for k := range q {
		if !leadFilters[k] {
			return 0, nil, &apiError{status: 400, code: "invalid_param", message: "The fake does not implement this filter.", field: k}
		}
	}
	// The fake holds leads in creation order, so it can sort only that way.
	if v := q.Get("sort_by"); v != "" && v != "created_at:asc" && v != "created_at" && v != "id:asc" && v != "id" {
		return 0, nil, &apiError{status: 400, code: "invalid_param", message: "The fake sorts only by creation, ascending.", field: "sort_by"}
	}
	var ids map[int64]bool
	if v := q.Get("ids"); v != "" {
		ids = map[int64]bool{}
		for _, f := range strings.Split(v, ",") {
			n, err := strconv.ParseInt(f, 10, 64)
			if err != nil {
				return 0, nil, &apiError{status: 400, code: "invalid_param", message: "ids must be integers.", field: "ids"}
			}
			ids[n] = true
		}
	}
	var all []*Lead
	for _, l := range s.leads {
		if (ids == nil || ids[l.ID]) && matches(l.Email, q.Get("email")) &&
			matches(l.FirstName, q.Get("first_name")) && matches(l.LastName, q.Get("last_name")) {
			all = append(all, l)
		}
	}
	sort.Slice(all, func(i, j int) bool { return all[i].ID < all[j].ID })
	return collection(r, all, "lead")
}

// matches applies an equality filter: an absent one matches everything.
// Sell's filters compare without regard to case, as the fake assumes.
func matches(field, filter string) bool { return filter == "" || strings.EqualFold(field, filter) }

func (s *Server) listNotes(r *http.Request) (int, any, *apiError) {
	q := r.URL.Query()
	var all []*Note
	for _, n := range s.notes {
		if (q.Get("resource_type") == "" || n.ResourceType == q.Get("resource_type")) &&
			(q.Get("resource_id") == "" || strconv.FormatInt(n.ResourceID, 10) == q.Get("resource_id")) {
			all = append(all, n)
		}
	}
	sort.Slice(all, func(i, j int) bool { return all[i].ID < all[j].ID })
	return collection(r, all, "note")
}

// decodeData reads a {"data": {...}} request body into its fields.
func decodeData(r *http.Request) (map[string]json.RawMessage, *apiError) {
	var in struct {
		Data map[string]json.RawMessage `json:"data"`
	}
	if err := json.NewDecoder(r.Body).Decode(&in); err != nil || in.Data == nil {
		return nil, &apiError{status: 400, code: "invalid_payload", message: "Body must be a JSON object with a data member."}
	}
	return in.Data, nil
}

// saveLead creates a lead (l nil) or overwrites the fields sent on l.
func (s *Server) saveLead(r *http.Request, l *Lead) (int, any, *apiError) {
	data, e := decodeData(r)
	if e != nil {
		return 0, nil, e
	}
	next := Lead{}
	if l != nil {
		next = *l
	}
	strs := map[string]*string{
		"first_name": &next.FirstName, "last_name": &next.LastName, "organization_name": &next.OrganizationName,
		"status": &next.Status, "title": &next.Title, "description": &next.Description, "email": &next.Email,
		"phone": &next.Phone, "mobile": &next.Mobile,
	}
	for k, raw := range data {
		var err error
		switch {
		case strs[k] != nil:
			err = json.Unmarshal(raw, strs[k])
		case k == "tags": // replaced wholesale, as Sell does
			err = json.Unmarshal(raw, &next.Tags)
		case k == "custom_fields":
			err = json.Unmarshal(raw, &next.CustomFields)
		case k == "owner_id":
			err = json.Unmarshal(raw, &next.OwnerID)
		default:
			return 0, nil, &apiError{status: 422, code: "unknown", message: "Unknown attribute.", field: "/" + k}
		}
		if err != nil {
			return 0, nil, &apiError{status: 422, code: "invalid_type", message: "Wrong type.", field: "/" + k}
		}
	}
	if next.LastName == "" && next.OrganizationName == "" {
		return 0, nil, &apiError{status: 422, code: "blank", message: "A lead needs a last name or an organization name.", field: "/last_name"}
	}
	if len([]rune(next.Description)) > MaxDescription {
		return 0, nil, &apiError{status: 422, code: "incorrect_value", message: "Description is too long.", field: "/description"}
	}
	if next.Email != "" && !strings.Contains(next.Email, "@") {
		return 0, nil, &apiError{status: 422, code: "incorrect_value", message: "Email is invalid.", field: "/email"}
	}
	now := s.Now().UTC()
	next.UpdatedAt = now
	if l == nil {
		s.nextID++
		next.ID, next.CreatorID, next.CreatedAt = s.nextID, userID, now
		if next.OwnerID == 0 {
			next.OwnerID = userID
		}
	}
	s.leads[next.ID] = &next
	return 200, envelope(&next, "lead"), nil
}

// saveNote creates a note (n nil) or updates n's content.
func (s *Server) saveNote(r *http.Request, n *Note) (int, any, *apiError) {
	data, e := decodeData(r)
	if e != nil {
		return 0, nil, e
	}
	next := Note{}
	if n != nil {
		next = *n
	}
	for k, raw := range data {
		var err error
		switch k {
		case "content":
			err = json.Unmarshal(raw, &next.Content)
		case "resource_type":
			err = json.Unmarshal(raw, &next.ResourceType)
		case "resource_id":
			err = json.Unmarshal(raw, &next.ResourceID)
		default:
			return 0, nil, &apiError{status: 422, code: "unknown", message: "Unknown attribute.", field: "/" + k}
		}
		if err != nil {
			return 0, nil, &apiError{status: 422, code: "invalid_type", message: "Wrong type.", field: "/" + k}
		}
	}
	switch {
	case next.Content == "":
		return 0, nil, &apiError{status: 422, code: "blank", message: "Content can't be blank.", field: "/content"}
	case next.ResourceType != "lead" && next.ResourceType != "contact" && next.ResourceType != "deal":
		return 0, nil, &apiError{status: 422, code: "incorrect_value", message: "resource_type must be lead, contact or deal.", field: "/resource_type"}
	case next.ResourceType == "lead" && s.leads[next.ResourceID] == nil:
		return 0, nil, &apiError{status: 422, code: "incorrect_value", message: "The resource does not exist.", field: "/resource_id"}
	}
	now := s.Now().UTC()
	next.UpdatedAt = now
	if n == nil {
		s.nextID++
		next.ID, next.CreatorID, next.CreatedAt = s.nextID, userID, now
	}
	s.notes[next.ID] = &next
	return 200, envelope(&next, "note"), nil
}

// fail writes Sell's error envelope.
func (s *Server) fail(w http.ResponseWriter, reqID string, e apiError) {
	entry := map[string]any{"code": e.code, "message": e.message}
	if e.field != "" {
		entry["field"] = e.field
		entry["resource"] = "lead"
	}
	body := map[string]any{
		"errors": []any{map[string]any{"error": entry, "meta": map[string]any{"type": "error", "links": map[string]any{}}}},
		"meta": map[string]any{
			"type":        "errors",
			"http_status": fmt.Sprintf("%d %s", e.status, http.StatusText(e.status)),
			"logref":      reqID,
			"links":       map[string]any{},
		},
	}
	b, _ := json.Marshal(body)
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(e.status)
	w.Write(b)
}
