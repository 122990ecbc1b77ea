// Package freshdesktest is a fake Freshdesk API v2 for tests: an
// httptest server that behaves as the documented API does for what
// Helpline uses — basic auth with the API key and "X", integer enums,
// the {description, errors[{field, message, code}]} error envelope,
// contacts listed by email and created once per email, tickets (assigned
// to an agent or a group with an update), notes, replies, conversations paged with a Link header, agents, the account's
// per-minute limits with X-RateLimit-* headers and 429 with Retry-After
// — plus switchable outages, slow answers and lost answers (a write that
// lands but answers 503), and an automation-rule webhook sender that
// plays an agent replying to or resolving a ticket. Where Freshdesk's
// behaviour is not documented the fake is strict: unknown fields and
// query parameters are refused, a note must say whether it is private,
// and only an incoming note may be posted in a contact's name. Tests
// assert on what it holds.
package freshdesktest

import (
	"bytes"
	"encoding/json"
	"fmt"
	"html"
	"io"
	"net/http"
	"net/http/httptest"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Freshdesk's documented per-minute limits, account-wide, per plan:
// all requests, and Ticket Create and Ticket Update each.
const (
	GrowthRequestsPerMinute         = 200
	GrowthTicketWritesPerMinute     = 80
	ProRequestsPerMinute            = 400
	ProTicketWritesPerMinute        = 160
	EnterpriseRequestsPerMinute     = 700
	EnterpriseTicketWritesPerMinute = 280
)

// Options configure a Server. Zero values take the defaults noted.
type Options struct {
	// APIKey is accepted as the basic-auth user with password "X";
	// default "fd-key".
	APIKey string
	// RequestsPerMinute is the account limit (default 700, Enterprise).
	RequestsPerMinute int
	// TicketWritesPerMinute limits ticket creates and, since Freshdesk
	// does not say whether notes and replies count as ticket updates, the
	// fake counts them with updates (default 280, Enterprise).
	TicketWritesPerMinute int
	// Now is the clock for limits and timestamps.
	Now func() time.Time
	// WebhookURL and WebhookSecret configure the automation rule's
	// webhook, which sends the secret in X-Helpline-Secret.
	WebhookURL, WebhookSecret string
}

// Contact is a Freshdesk contact (a customer).
type Contact struct {
	ID    int64  `json:"id"`
	Name  string `json:"name"`
	Email string `json:"email"`
	Phone string `json:"phone,omitempty"`
}

// Agent is a Freshdesk agent.
type Agent struct {
	ID      int64 `json:"id"`
	Contact struct {
		Name  string `json:"name"`
		Email string `json:"email"`
	} `json:"contact"`
}

// Conversation is a reply or a note on a ticket.
type Conversation struct {
	ID       int64  `json:"id"`
	Body     string `json:"body"`
	BodyText string `json:"body_text"`
	Incoming bool   `json:"incoming"`
	Private  bool   `json:"private"`
	// Source is 0 for a reply, 2 for a note.
	Source    int       `json:"source"`
	UserID    int64     `json:"user_id"`
	TicketID  int64     `json:"ticket_id"`
	CreatedAt time.Time `json:"created_at"`
	UpdatedAt time.Time `json:"updated_at"`
}

// Conversation sources.
const (
	SourceReply = 0
	SourceNote  = 2
)

// Ticket is a ticket the fake holds, with its conversations.
type Ticket struct {
	ID              int64          `json:"id"`
	Subject         string         `json:"subject"`
	Description     string         `json:"description"`
	DescriptionText string         `json:"description_text"`
	Status          int            `json:"status"`
	Priority        int            `json:"priority"`
	Source          int            `json:"source"`
	RequesterID     int64          `json:"requester_id"`
	ResponderID     *int64         `json:"responder_id"`
	GroupID         *int64         `json:"group_id"`
	Tags            []string       `json:"tags"`
	CreatedAt       time.Time      `json:"created_at"`
	UpdatedAt       time.Time      `json:"updated_at"`
	Conversations   []Conversation `json:"-"`
}

// Stats count what the fake answered.
type Stats struct {
	Requests      int // every request, refused ones included
	TooMany       int // 429 answers
	TicketCreates int // tickets created
	Conversations int // notes and replies added through the API
	Unavailable   int // 503 answers during an outage
	Lost          int // writes that landed but answered 503
}

// Server is the fake. Its methods are safe for concurrent use.
type Server struct {
	URL string
	// AgentID is the agent whose API key Helpline uses.
	AgentID int64

	srv  *httptest.Server
	opts Options

	mu       sync.Mutex // guards everything below
	nextID   int64
	contacts map[int64]*Contact
	agents   map[int64]*Agent
	groups   map[int64]string
	tickets  map[int64]*Ticket
	window   time.Time // start of the current limit minute
	used     int       // requests in window
	written  int       // ticket writes in window
	stats    Stats
	outage   bool
	delay    time.Duration
	lose     int // writes left to land and answer 503
}

// NewServer starts a fake; the caller closes it.
func NewServer(opts Options) *Server {
	if opts.APIKey == "" {
		opts.APIKey = "fd-key"
	}
	if opts.RequestsPerMinute == 0 {
		opts.RequestsPerMinute = EnterpriseRequestsPerMinute
	}
	if opts.TicketWritesPerMinute == 0 {
		opts.TicketWritesPerMinute = EnterpriseTicketWritesPerMinute
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	s := &Server{opts: opts, nextID: 5000, contacts: map[int64]*Contact{}, agents: map[int64]*Agent{}, groups: map[int64]string{}, tickets: map[int64]*Ticket{}}
	s.AgentID = s.addAgent("Helpline Integration", "bot@example.com").ID
	mux := http.NewServeMux()
	mux.HandleFunc("GET /api/v2/contacts", s.listContacts)
	mux.HandleFunc("POST /api/v2/contacts", s.createContact)
	mux.HandleFunc("GET /api/v2/agents/{id}", s.showAgent)
	mux.HandleFunc("POST /api/v2/tickets", s.createTicket)
	mux.HandleFunc("GET /api/v2/tickets", s.listTickets)
	mux.HandleFunc("GET /api/v2/tickets/{id}", s.showTicket)
	mux.HandleFunc("PUT /api/v2/tickets/{id}", s.updateTicket)
	mux.HandleFunc("POST /api/v2/tickets/{id}/notes", s.addNote)
	mux.HandleFunc("POST /api/v2/tickets/{id}/reply", s.addReply)
	mux.HandleFunc("GET /api/v2/tickets/{id}/conversations", s.listConversations)
	s.srv = httptest.NewServer(s.gate(mux))
	s.URL = s.srv.URL
	return s
}

// Close shuts the server down.
func (s *Server) Close() { s.srv.Close() }

// SetOutage makes every request fail with 503 while on.
func (s *Server) SetOutage(on bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.outage = on
}

// SetDelay holds every answer for d (real time), to provoke client
// timeouts; the request is handled before the wait.
func (s *Server) SetDelay(d time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.delay = d
}

// LoseAnswers makes the next n successful writes (POST, PUT) land and
// answer 503 instead of their answer, as a gateway that timed out
// after the write would.
func (s *Server) LoseAnswers(n int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.lose = n
}

// SetWebhookURL changes where the automation rule's webhook goes; empty
// turns it off.
func (s *Server) SetWebhookURL(u string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.opts.WebhookURL = u
}

// AddAgent adds an agent and returns it.
func (s *Server) AddAgent(name, email string) Agent {
	s.mu.Lock()
	defer s.mu.Unlock()
	return *s.addAgent(name, email)
}

func (s *Server) addAgent(name, email string) *Agent {
	s.nextID++
	a := &Agent{ID: s.nextID}
	a.Contact.Name, a.Contact.Email = name, email
	s.agents[a.ID] = a
	return a
}

// AddGroup adds an agent group and returns its id.
func (s *Server) AddGroup(name string) int64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.nextID++
	s.groups[s.nextID] = name
	return s.nextID
}

// Stats returns the counters.
func (s *Server) Stats() Stats {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.stats
}

// Tickets returns copies of every ticket, by id, conversations included.
func (s *Server) Tickets() []Ticket {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []Ticket
	for _, t := range s.tickets {
		c := *t
		c.Conversations = slices.Clone(t.Conversations)
		c.Tags = slices.Clone(t.Tags)
		out = append(out, c)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out
}

// TicketsOf returns the tickets whose description names the chat
// (Helpline's marker carries the contact id).
func (s *Server) TicketsOf(contactID string) []Ticket {
	var out []Ticket
	for _, t := range s.Tickets() {
		if strings.Contains(t.DescriptionText, "helpline "+contactID+" seq ") {
			out = append(out, t)
		}
	}
	return out
}

// Contacts returns copies of every contact, by id.
func (s *Server) Contacts() []Contact {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []Contact
	for _, c := range s.contacts {
		out = append(out, *c)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out
}

// Transcript is the plain text of a ticket's description and
// conversations, in order, each introduced by its kind: "description",
// "incoming note", "private note", "public note" or "reply".
func (t Ticket) Transcript() string {
	var b strings.Builder
	b.WriteString("description:\n" + t.DescriptionText)
	for _, c := range t.Conversations {
		kind := "reply"
		switch {
		case c.Source == SourceNote && c.Incoming:
			kind = "incoming note"
		case c.Source == SourceNote && c.Private:
			kind = "private note"
		case c.Source == SourceNote:
			kind = "public note"
		}
		b.WriteString(kind + ":\n" + c.BodyText)
	}
	return b.String()
}

// AgentReply plays an agent replying in Freshdesk's agent interface: it
// adds the public reply and, as the automation rule would, posts the
// webhook. It returns the reply and the webhook's status (0 when no URL
// is configured).
func (s *Server) AgentReply(ticketID, agentID int64, text string) (Conversation, int, error) {
	s.mu.Lock()
	t := s.tickets[ticketID]
	if t == nil {
		s.mu.Unlock()
		return Conversation{}, 0, fmt.Errorf("freshdesktest: no ticket %d", ticketID)
	}
	c := s.addConversation(t, "<div>"+html.EscapeString(text)+"</div>", SourceReply, false, false, agentID)
	s.mu.Unlock()
	status, err := s.fire(ticketID)
	return c, status, err
}

// Resolve plays an agent resolving the ticket, and the automation rule
// posting the webhook; it returns the webhook's status.
func (s *Server) Resolve(ticketID int64) (int, error) {
	s.mu.Lock()
	t := s.tickets[ticketID]
	if t == nil {
		s.mu.Unlock()
		return 0, fmt.Errorf("freshdesktest: no ticket %d", ticketID)
	}
	t.Status, t.UpdatedAt = 4, s.opts.Now()
	s.mu.Unlock()
	return s.fire(ticketID)
}

// WebhookBody is the body the fake's rule sends, as README's rule
// renders {"ticket_id": "{{ticket.id}}"}.
func WebhookBody(ticketID int64) []byte {
	return []byte(`{"ticket_id": "` + strconv.FormatInt(ticketID, 10) + `"}`)
}

func (s *Server) fire(ticketID int64) (int, error) {
	s.mu.Lock()
	hook, secret := s.opts.WebhookURL, s.opts.WebhookSecret
	s.mu.Unlock()
	if hook == "" {
		return 0, nil
	}
	return PostWebhook(hook, secret, WebhookBody(ticketID))
}

// PostWebhook posts body to url as the automation rule does, with
// secret (when not empty) in X-Helpline-Secret. Tests use it to replay
// and to forge.
func PostWebhook(url, secret string, body []byte) (int, error) {
	req, err := http.NewRequest(http.MethodPost, url, bytes.NewReader(body))
	if err != nil {
		return 0, err
	}
	req.Header.Set("Content-Type", "application/json")
	if secret != "" {
		req.Header.Set("X-Helpline-Secret", secret)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, err
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp.StatusCode, nil
}

// gate applies authentication, outages, delays, lost answers and the
// account limits before a request reaches its handler, and stamps the
// rate-limit headers every Freshdesk answer carries.
func (s *Server) gate(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.mu.Lock()
		s.stats.Requests++
		now := s.opts.Now()
		if now.Sub(s.window) >= time.Minute || now.Before(s.window) {
			s.window, s.used, s.written = now.Truncate(time.Minute), 0, 0
		}
		outage, delay := s.outage, s.delay
		if outage {
			s.stats.Unavailable++
			s.mu.Unlock()
			writeError(w, http.StatusServiceUnavailable, "Service Unavailable", nil)
			return
		}
		// Invalid requests count too.
		s.used++
		write := r.Method == http.MethodPost && (r.URL.Path == "/api/v2/tickets" || strings.HasSuffix(r.URL.Path, "/notes") || strings.HasSuffix(r.URL.Path, "/reply")) ||
			r.Method == http.MethodPut && strings.HasPrefix(r.URL.Path, "/api/v2/tickets/")
		if write {
			s.written++
		}
		h := w.Header()
		h.Set("X-RateLimit-Total", strconv.Itoa(s.opts.RequestsPerMinute))
		h.Set("X-RateLimit-Remaining", strconv.Itoa(max(0, s.opts.RequestsPerMinute-s.used)))
		h.Set("X-RateLimit-Used-CurrentRequest", "1")
		if s.used > s.opts.RequestsPerMinute || write && s.written > s.opts.TicketWritesPerMinute {
			s.stats.TooMany++
			retry := int(s.window.Add(time.Minute).Sub(now).Seconds() + 0.999)
			s.mu.Unlock()
			h.Set("Retry-After", strconv.Itoa(max(1, retry)))
			writeError(w, http.StatusTooManyRequests, "You have exceeded the limit of requests per minute", nil)
			return
		}
		s.mu.Unlock()
		user, pass, ok := r.BasicAuth()
		if !ok || user != s.opts.APIKey || pass != "X" {
			writeJSON(w, http.StatusUnauthorized, map[string]string{"code": "invalid_credentials", "message": "You have to be logged in to perform this action."})
			return
		}
		if delay > 0 {
			defer time.Sleep(delay)
		}
		if r.Method == http.MethodGet {
			next.ServeHTTP(w, r)
			return
		}
		rec := httptest.NewRecorder()
		next.ServeHTTP(rec, r)
		s.mu.Lock()
		lost := s.lose > 0 && rec.Code < 300
		if lost {
			s.lose--
			s.stats.Lost++
		}
		s.mu.Unlock()
		if lost {
			writeError(w, http.StatusServiceUnavailable, "Service Unavailable", nil)
			return
		}
		for k, v := range rec.Header() {
			w.Header()[k] = v
		}
		w.WriteHeader(rec.Code)
		w.Write(rec.Body.Bytes())
	})
}

// fieldError is one entry of Freshdesk's errors[].
type fieldError struct {
	Field   string `json:"field"`
	Message string `json:"message"`
	Code    string `json:"code"`
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(v)
}

func writeError(w http.ResponseWriter, status int, desc string, errs []fieldError) {
	body := map[string]any{"description": desc}
	if errs != nil {
		body["errors"] = errs
	}
	writeJSON(w, status, body)
}

func invalid(w http.ResponseWriter, field, code, msg string) {
	writeError(w, http.StatusBadRequest, "Validation failed", []fieldError{{field, msg, code}})
}

func notFound(w http.ResponseWriter) { w.WriteHeader(http.StatusNotFound) }

// decode reads a JSON body strictly: an unknown field is Freshdesk's
// invalid_field, a body that is no JSON object invalid_json.
func decode(w http.ResponseWriter, r *http.Request, v any) bool {
	dec := json.NewDecoder(r.Body)
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		if f, ok := strings.CutPrefix(err.Error(), "json: unknown field "); ok {
			invalid(w, strings.Trim(f, `"`), "invalid_field", "Unexpected/invalid field in request")
		} else {
			writeError(w, http.StatusBadRequest, "Validation failed", []fieldError{{"", "Request body has invalid json format", "invalid_json"}})
		}
		return false
	}
	return true
}

// onlyParams refuses query parameters other than allowed, as Freshdesk
// refuses unknown filters.
func onlyParams(w http.ResponseWriter, r *http.Request, allowed ...string) bool {
	for k := range r.URL.Query() {
		if !slices.Contains(allowed, k) {
			invalid(w, k, "invalid_field", "Unexpected/invalid field in request")
			return false
		}
	}
	return true
}

// bodyText renders HTML as Freshdesk's plain text: a line per block.
func bodyText(body string) string {
	t := strings.NewReplacer("<br>", "\n", "<br/>", "\n", "</div>", "\n", "</p>", "\n").Replace(body)
	t = tagRE.ReplaceAllString(t, "")
	return html.UnescapeString(t)
}

var tagRE = regexp.MustCompile(`<[^>]*>`)

func (s *Server) listContacts(w http.ResponseWriter, r *http.Request) {
	if !onlyParams(w, r, "email", "page", "per_page") {
		return
	}
	email := r.URL.Query().Get("email")
	s.mu.Lock()
	defer s.mu.Unlock()
	out := []*Contact{}
	for _, c := range s.contacts {
		if email == "" || strings.EqualFold(c.Email, email) {
			out = append(out, c)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	writeJSON(w, http.StatusOK, out)
}

func (s *Server) createContact(w http.ResponseWriter, r *http.Request) {
	var in struct {
		Name  string `json:"name"`
		Email string `json:"email"`
		Phone string `json:"phone"`
	}
	if !decode(w, r, &in) {
		return
	}
	if in.Name == "" {
		invalid(w, "name", "missing_field", "It should be a/an String")
		return
	}
	if in.Email == "" && in.Phone == "" {
		invalid(w, "requester_id", "missing_field", "Please fill at least 1 of email, mobile, phone, twitter_id, unique_external_id fields")
		return
	}
	if in.Email != "" && !strings.Contains(in.Email, "@") {
		invalid(w, "email", "invalid_value", "It should be in the 'valid email address' format")
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, c := range s.contacts {
		if in.Email != "" && strings.EqualFold(c.Email, in.Email) {
			writeError(w, http.StatusConflict, "Validation failed", []fieldError{{"email", "It should be a unique value", "duplicate_value"}})
			return
		}
	}
	s.nextID++
	c := &Contact{ID: s.nextID, Name: in.Name, Email: in.Email, Phone: in.Phone}
	s.contacts[c.ID] = c
	writeJSON(w, http.StatusCreated, c)
}

func (s *Server) showAgent(w http.ResponseWriter, r *http.Request) {
	id, _ := strconv.ParseInt(r.PathValue("id"), 10, 64)
	s.mu.Lock()
	defer s.mu.Unlock()
	a := s.agents[id]
	if a == nil {
		notFound(w)
		return
	}
	writeJSON(w, http.StatusOK, a)
}

func (s *Server) createTicket(w http.ResponseWriter, r *http.Request) {
	var in struct {
		RequesterID int64    `json:"requester_id"`
		Subject     string   `json:"subject"`
		Description string   `json:"description"`
		Status      int      `json:"status"`
		Priority    int      `json:"priority"`
		Source      int      `json:"source"`
		Tags        []string `json:"tags"`
		GroupID     *int64   `json:"group_id"`
	}
	if !decode(w, r, &in) {
		return
	}
	switch {
	case in.Subject == "":
		invalid(w, "subject", "missing_field", "It should be a/an String")
	case in.Description == "":
		invalid(w, "description", "missing_field", "It should be a/an String")
	case in.Status < 2 || in.Status > 5:
		invalid(w, "status", "invalid_value", "It should be one of these values: '2,3,4,5'")
	case in.Priority < 1 || in.Priority > 4:
		invalid(w, "priority", "invalid_value", "It should be one of these values: '1,2,3,4'")
	case !slices.Contains([]int{1, 2, 3, 7, 9, 10}, in.Source):
		invalid(w, "source", "invalid_value", "It should be one of these values: '1,2,3,7,9,10'")
	default:
		s.mu.Lock()
		defer s.mu.Unlock()
		if s.contacts[in.RequesterID] == nil {
			invalid(w, "requester_id", "invalid_value", "There is no contact matching the given requester_id")
			return
		}
		now := s.opts.Now()
		s.nextID++
		t := &Ticket{ID: s.nextID, Subject: in.Subject, Description: in.Description, DescriptionText: bodyText(in.Description),
			Status: in.Status, Priority: in.Priority, Source: in.Source, RequesterID: in.RequesterID, GroupID: in.GroupID,
			Tags: append([]string{}, in.Tags...), CreatedAt: now, UpdatedAt: now}
		s.tickets[t.ID] = t
		s.stats.TicketCreates++
		writeJSON(w, http.StatusCreated, t)
	}
}

// listTickets serves GET /api/v2/tickets with the requester_id filter
// and ordering Helpline uses; like Freshdesk's list it leaves the
// description out.
func (s *Server) listTickets(w http.ResponseWriter, r *http.Request) {
	if !onlyParams(w, r, "requester_id", "order_by", "order_type", "page", "per_page") {
		return
	}
	q := r.URL.Query()
	rid, _ := strconv.ParseInt(q.Get("requester_id"), 10, 64)
	s.mu.Lock()
	defer s.mu.Unlock()
	var list []*Ticket
	for _, t := range s.tickets {
		if q.Get("requester_id") == "" || t.RequesterID == rid {
			list = append(list, t)
		}
	}
	desc := q.Get("order_type") != "asc"
	sort.Slice(list, func(i, j int) bool {
		if desc {
			return list[i].ID > list[j].ID
		}
		return list[i].ID < list[j].ID
	})
	s.page(w, r, len(list), func(i int) any {
		m := map[string]any{}
		b, _ := json.Marshal(list[i])
		json.Unmarshal(b, &m)
		delete(m, "description")
		delete(m, "description_text")
		return m
	})
}

// page writes items [from, to) of n for the request's page and per_page
// (default 30, at most 100), announcing the next page in a Link header.
func (s *Server) page(w http.ResponseWriter, r *http.Request, n int, item func(int) any) {
	q := r.URL.Query()
	page, per := 1, 30
	if v := q.Get("page"); v != "" {
		if p, err := strconv.Atoi(v); err == nil && p > 0 {
			page = p
		} else {
			invalid(w, "page", "datatype_mismatch", "It should be a/an Positive Integer")
			return
		}
	}
	if v := q.Get("per_page"); v != "" {
		if p, err := strconv.Atoi(v); err == nil && p > 0 && p <= 100 {
			per = p
		} else {
			invalid(w, "per_page", "invalid_value", "It should be a/an Positive Integer less than or equal to 100")
			return
		}
	}
	from, to := min((page-1)*per, n), min(page*per, n)
	out := []any{}
	for i := from; i < to; i++ {
		out = append(out, item(i))
	}
	if to < n {
		next := *r.URL
		nq := next.Query()
		nq.Set("page", strconv.Itoa(page+1))
		next.RawQuery = nq.Encode()
		w.Header().Set("Link", fmt.Sprintf(`<%s%s>; rel="next"`, s.URL, next.RequestURI()))
	}
	writeJSON(w, http.StatusOK, out)
}

func (s *Server) ticketOf(w http.ResponseWriter, r *http.Request) *Ticket {
	id, _ := strconv.ParseInt(r.PathValue("id"), 10, 64)
	t := s.tickets[id]
	if t == nil {
		notFound(w)
	}
	return t
}

func (s *Server) showTicket(w http.ResponseWriter, r *http.Request) {
	if !onlyParams(w, r) {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if t := s.ticketOf(w, r); t != nil {
		writeJSON(w, http.StatusOK, t)
	}
}

// updateTicket takes the status and the assignment: responder_id must be
// an agent and group_id a group the fake holds.
func (s *Server) updateTicket(w http.ResponseWriter, r *http.Request) {
	var in struct {
		Status      *int   `json:"status"`
		ResponderID *int64 `json:"responder_id"`
		GroupID     *int64 `json:"group_id"`
	}
	if !decode(w, r, &in) {
		return
	}
	if in.Status != nil && (*in.Status < 2 || *in.Status > 5) {
		invalid(w, "status", "invalid_value", "It should be one of these values: '2,3,4,5'")
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	t := s.ticketOf(w, r)
	if t == nil {
		return
	}
	if in.ResponderID != nil && s.agents[*in.ResponderID] == nil {
		invalid(w, "responder_id", "invalid_value", "There is no agent matching the given responder_id")
		return
	}
	if in.GroupID != nil && s.groups[*in.GroupID] == "" {
		invalid(w, "group_id", "invalid_value", "There is no group matching the given group_id")
		return
	}
	if in.Status != nil {
		t.Status = *in.Status
	}
	if in.ResponderID != nil {
		t.ResponderID = in.ResponderID
	}
	if in.GroupID != nil {
		t.GroupID = in.GroupID
	}
	t.UpdatedAt = s.opts.Now()
	writeJSON(w, http.StatusOK, t)
}

func (s *Server) addConversation(t *Ticket, body string, source int, incoming, private bool, userID int64) Conversation {
	now := s.opts.Now()
	s.nextID++
	c := Conversation{ID: s.nextID, Body: body, BodyText: bodyText(body), Incoming: incoming, Private: private,
		Source: source, UserID: userID, TicketID: t.ID, CreatedAt: now, UpdatedAt: now}
	t.Conversations = append(t.Conversations, c)
	t.UpdatedAt = now
	return c
}

// addNote requires private to be given (whether it defaults to true is
// not documented) and takes a contact's user_id only on an incoming note.
func (s *Server) addNote(w http.ResponseWriter, r *http.Request) {
	var in struct {
		Body     string `json:"body"`
		Private  *bool  `json:"private"`
		Incoming bool   `json:"incoming"`
		UserID   int64  `json:"user_id"`
	}
	if !decode(w, r, &in) {
		return
	}
	switch {
	case in.Body == "":
		invalid(w, "body", "missing_field", "It should be a/an String")
		return
	case in.Private == nil:
		invalid(w, "private", "missing_field", "The fake needs private: whether notes default to private is not documented")
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	t := s.ticketOf(w, r)
	if t == nil {
		return
	}
	user := s.AgentID
	if in.UserID != 0 {
		_, agent := s.agents[in.UserID]
		_, contact := s.contacts[in.UserID]
		if !agent && !(contact && in.Incoming) {
			invalid(w, "user_id", "invalid_value", "There is no agent matching the given user_id")
			return
		}
		user = in.UserID
	}
	s.stats.Conversations++
	writeJSON(w, http.StatusCreated, s.addConversation(t, in.Body, SourceNote, in.Incoming, *in.Private, user))
}

func (s *Server) addReply(w http.ResponseWriter, r *http.Request) {
	var in struct {
		Body   string `json:"body"`
		UserID int64  `json:"user_id"`
	}
	if !decode(w, r, &in) {
		return
	}
	if in.Body == "" {
		invalid(w, "body", "missing_field", "It should be a/an String")
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	t := s.ticketOf(w, r)
	if t == nil {
		return
	}
	user := s.AgentID
	if in.UserID != 0 {
		if s.agents[in.UserID] == nil {
			invalid(w, "user_id", "invalid_value", "There is no agent matching the given user_id")
			return
		}
		user = in.UserID
	}
	s.stats.Conversations++
	writeJSON(w, http.StatusCreated, s.addConversation(t, in.Body, SourceReply, false, false, user))
}

func (s *Server) listConversations(w http.ResponseWriter, r *http.Request) {
	if !onlyParams(w, r, "page", "per_page") {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	t := s.ticketOf(w, r)
	if t == nil {
		return
	}
	s.page(w, r, len(t.Conversations), func(i int) any { return t.Conversations[i] })
}
