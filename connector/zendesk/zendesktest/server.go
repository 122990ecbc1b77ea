// Package zendesktest is a fake Zendesk Support API for tests: an httptest
// server that behaves as the documented API does for what Helpline uses —
// authentication, JSON envelopes, ticket create with Idempotency-Key,
// ticket updates with comments, comment listing with cursor pagination,
// ticket search by external_id, users' create_or_update, file uploads
// taken into comments by their tokens, the account and per-ticket rate
// limits, the 5,000-comment cap — plus
// switchable outages and slow responses, and a trigger webhook emitter
// that plays an agent replying in Zendesk. Tests assert on what it holds.
package zendesktest

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Zendesk's documented rate limits on the Enterprise plan: the Server's
// defaults, and what tests and the load command scale from.
const (
	EnterpriseRequestsPerMinute = 700 // per account
	EnterpriseUpdatesPerMinute  = 100 // Update Ticket, per account
	TicketUpdatesPer10Min       = 30  // per user and ticket, any plan
)

// Options configure a Server. Zero values take the defaults noted.
type Options struct {
	// Email and Token are the API credentials accepted as basic auth
	// "email/token:token"; defaults bot@example.com and "zd-token".
	Email, Token string
	// BearerToken, when set, is also accepted as an OAuth bearer token.
	BearerToken string
	// RequestsPerMinute is the account limit (default 700, Enterprise).
	RequestsPerMinute int
	// UpdatesPerMinute is the Update Ticket endpoint's account limit
	// (default 100).
	UpdatesPerMinute int
	// TicketUpdatesPer10Min is the per-user, per-ticket update limit
	// (default 30).
	TicketUpdatesPer10Min int
	// MaxComments is the per-ticket comment cap (default 5,000).
	MaxComments int
	// Now is the clock for limits, timestamps and webhook signatures.
	Now func() time.Time
	// WebhookURL and WebhookSecret configure the trigger webhook fired by
	// AgentReply: a public comment not made through the API.
	WebhookURL, WebhookSecret string
}

// User is a Zendesk user the fake holds.
type User struct {
	ID         int64  `json:"id"`
	Name       string `json:"name"`
	Email      string `json:"email,omitempty"`
	Phone      string `json:"phone,omitempty"`
	ExternalID string `json:"external_id,omitempty"`
	Role       string `json:"role"`
}

// Comment is a ticket comment the fake holds.
type Comment struct {
	ID        int64  `json:"id"`
	Type      string `json:"type"`
	Body      string `json:"body"`
	HTMLBody  string `json:"html_body"`
	PlainBody string `json:"plain_body"`
	Public    bool   `json:"public"`
	AuthorID  int64  `json:"author_id"`
	Via       Via    `json:"via"`
	// Attachments are the files of the uploads the comment referenced.
	Attachments []Attachment `json:"attachments"`
	CreatedAt   time.Time    `json:"created_at"`
}

// Via says through which channel a change was made ("api" for the API,
// "web" for the agent interface).
type Via struct {
	Channel string `json:"channel"`
}

// Ticket is a ticket the fake holds, with its comments.
type Ticket struct {
	ID          int64     `json:"id"`
	URL         string    `json:"url"`
	ExternalID  string    `json:"external_id,omitempty"`
	Subject     string    `json:"subject"`
	Description string    `json:"description"`
	Status      string    `json:"status"`
	RequesterID int64     `json:"requester_id"`
	SubmitterID int64     `json:"submitter_id"`
	AssigneeID  *int64    `json:"assignee_id"`
	GroupID     *int64    `json:"group_id"`
	Tags        []string  `json:"tags"`
	Via         Via       `json:"via"`
	CreatedAt   time.Time `json:"created_at"`
	UpdatedAt   time.Time `json:"updated_at"`
	Comments    []Comment `json:"-"`
}

// Attachment is a file uploaded through POST /api/v2/uploads.
type Attachment struct {
	ID          int64  `json:"id"`
	FileName    string `json:"file_name"`
	ContentURL  string `json:"content_url"`
	ContentType string `json:"content_type"`
	Size        int    `json:"size"`
	Data        []byte `json:"-"`
}

// Upload is an upload token and the files uploaded under it. A comment
// that references the token takes the files; until then the token
// expires uploadTTL after it was issued.
type Upload struct {
	Token     string
	Files     []Attachment
	ExpiresAt time.Time
	// CommentID is the comment that took the files; 0 while unattached.
	CommentID int64
}

// uploadTTL is how long an unattached upload token lives, as Zendesk
// documents ("the attachment's token expires after 60 minutes").
const uploadTTL = 60 * time.Minute

// MaxUploadSize is Zendesk's documented limit for one attachment.
const MaxUploadSize = 50 << 20

// Stats count what the fake answered.
type Stats struct {
	Requests      int // every request, refused ones included
	TooMany       int // 429 answers (account and per-ticket limits)
	TicketCreates int // tickets actually created (idempotent replays excluded)
	TicketUpdates int // successful PUT /tickets/{id}
	Unavailable   int // 503 answers during an outage
	Uploads       int // files accepted by POST /api/v2/uploads
}

// Server is the fake. Its methods are safe for concurrent use.
type Server struct {
	URL string
	// AgentID is the id of the integration user (the API credentials).
	AgentID int64

	srv  *httptest.Server
	opts Options

	mu       sync.Mutex // guards everything below
	nextID   int64
	users    map[int64]*User
	tickets  map[int64]*Ticket
	uploads  map[string]*Upload
	idem     map[string]idemEntry
	window   time.Time // start of the current account-limit minute
	used     int       // requests in window
	updUsed  int       // ticket updates in window
	perTkt   map[int64][]time.Time
	stats    Stats
	outage   bool
	delay    time.Duration
	webhooks []WebhookDelivery
}

type idemEntry struct {
	bodyHash [32]byte
	status   int
	body     []byte
	at       time.Time
}

// WebhookDelivery is one trigger webhook the fake posted.
type WebhookDelivery struct {
	Body   []byte
	Status int
	Err    error
}

// NewServer starts a fake; the caller closes it.
func NewServer(opts Options) *Server {
	if opts.Email == "" {
		opts.Email = "bot@example.com"
	}
	if opts.Token == "" {
		opts.Token = "zd-token"
	}
	if opts.RequestsPerMinute == 0 {
		opts.RequestsPerMinute = EnterpriseRequestsPerMinute
	}
	if opts.UpdatesPerMinute == 0 {
		opts.UpdatesPerMinute = EnterpriseUpdatesPerMinute
	}
	if opts.TicketUpdatesPer10Min == 0 {
		opts.TicketUpdatesPer10Min = TicketUpdatesPer10Min
	}
	if opts.MaxComments == 0 {
		opts.MaxComments = 5000
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	s := &Server{
		opts:    opts,
		nextID:  1000,
		users:   map[int64]*User{},
		tickets: map[int64]*Ticket{},
		uploads: map[string]*Upload{},
		idem:    map[string]idemEntry{},
		perTkt:  map[int64][]time.Time{},
	}
	s.AgentID = s.addUser(User{Name: "Helpline Integration", Email: opts.Email, Role: "admin"}).ID
	mux := http.NewServeMux()
	mux.HandleFunc("POST /api/v2/tickets", s.createTicket)
	mux.HandleFunc("POST /api/v2/tickets.json", s.createTicket)
	mux.HandleFunc("GET /api/v2/tickets/{id}", s.showTicket)
	mux.HandleFunc("PUT /api/v2/tickets/{id}", s.updateTicket)
	mux.HandleFunc("GET /api/v2/tickets/{id}/comments", s.listComments)
	mux.HandleFunc("GET /api/v2/search", s.search)
	mux.HandleFunc("GET /api/v2/search.json", s.search)
	mux.HandleFunc("POST /api/v2/users/create_or_update", s.createOrUpdateUser)
	mux.HandleFunc("POST /api/v2/users/create_or_update.json", s.createOrUpdateUser)
	mux.HandleFunc("POST /api/v2/uploads", s.upload)
	mux.HandleFunc("POST /api/v2/uploads.json", s.upload)
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

// SetDelay holds every response for d (real time) before answering, to
// provoke client timeouts.
func (s *Server) SetDelay(d time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.delay = d
}

// SetWebhookURL changes where the trigger webhook goes; empty turns it
// off.
func (s *Server) SetWebhookURL(u string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.opts.WebhookURL = u
}

// AddAgent adds an agent user and returns it.
func (s *Server) AddAgent(name, email string) User {
	s.mu.Lock()
	defer s.mu.Unlock()
	return *s.addUser(User{Name: name, Email: email, Role: "agent"})
}

func (s *Server) addUser(u User) *User {
	s.nextID++
	u.ID = s.nextID
	s.users[u.ID] = &u
	return &u
}

// Stats returns the counters.
func (s *Server) Stats() Stats {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.stats
}

// chatLine matches a customer's or agent's line of a Helpline transcript
// ("[10:42:07] Ada (customer): Where is my order?") and captures its words.
var chatLine = regexp.MustCompile(`^\[\d\d:\d\d:\d\d\] .+ \((?:customer|agent)\): (.*)$`)

// PublicChatLines returns the words of the customer's and agents' chat
// lines in the ticket's public comments, in order, repeats included: what
// tests compare with what was said in the chat.
func (t Ticket) PublicChatLines() []string {
	var out []string
	for _, c := range t.Comments {
		if !c.Public {
			continue
		}
		for _, l := range strings.Split(c.Body, "\n") {
			if m := chatLine.FindStringSubmatch(l); m != nil {
				out = append(out, m[1])
			}
		}
	}
	return out
}

// Tickets returns copies of every ticket, by id, comments included.
func (s *Server) Tickets() []Ticket {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []Ticket
	for _, t := range s.tickets {
		c := *t
		c.Comments = append([]Comment(nil), t.Comments...)
		c.Tags = append([]string(nil), t.Tags...)
		out = append(out, c)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out
}

// TicketByExternalID returns the ticket with the external id, if any.
func (s *Server) TicketByExternalID(ext string) (Ticket, bool) {
	for _, t := range s.Tickets() {
		if t.ExternalID == ext {
			return t, true
		}
	}
	return Ticket{}, false
}

// Users returns copies of every user, by id.
func (s *Server) Users() []User {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []User
	for _, u := range s.users {
		out = append(out, *u)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out
}

// Uploads returns the uploaded files.
func (s *Server) Uploads() []Upload {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []Upload
	for _, u := range s.uploads {
		c := *u
		c.Files = append([]Attachment(nil), u.Files...)
		out = append(out, c)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Token < out[j].Token })
	return out
}

// Webhooks returns the trigger webhooks posted so far.
func (s *Server) Webhooks() []WebhookDelivery {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]WebhookDelivery(nil), s.webhooks...)
}

// WebhookPayload is the JSON body the fake's trigger sends; README shows
// the trigger that produces it in a real account.
type WebhookPayload struct {
	TicketID      string `json:"ticket_id"`
	ExternalID    string `json:"external_id"`
	CurrentUserID string `json:"current_user_id"`
	// Comment is the latest public comment: it makes two deliveries for
	// one ticket within a second differ, so that neither looks a replay.
	Comment string `json:"comment"`
}

// AgentReply plays an agent typing a public reply in Zendesk's agent
// interface: it adds the comment (via "web") and, as a trigger with
// "comment is public" and "update via is not web service" would, posts
// the signed webhook to Options.WebhookURL. It returns the comment and
// the webhook's HTTP status (0 when no URL is configured).
func (s *Server) AgentReply(ticketID, agentID int64, body string) (Comment, int, error) {
	s.mu.Lock()
	t := s.tickets[ticketID]
	if t == nil {
		s.mu.Unlock()
		return Comment{}, 0, fmt.Errorf("zendesktest: no ticket %d", ticketID)
	}
	c := *s.addComment(t, body, "", true, agentID, "web", nil)
	payload, _ := json.Marshal(WebhookPayload{
		TicketID:      strconv.FormatInt(t.ID, 10),
		ExternalID:    t.ExternalID,
		CurrentUserID: strconv.FormatInt(agentID, 10),
		Comment:       body,
	})
	now, hook := s.opts.Now(), s.opts.WebhookURL
	s.mu.Unlock()
	if hook == "" {
		return c, 0, nil
	}
	status, err := s.PostWebhook(payload, now)
	return c, status, err
}

// PostWebhook posts body to Options.WebhookURL signed for timestamp at,
// as Zendesk signs webhooks: X-Zendesk-Webhook-Signature =
// base64(HMAC-SHA256(secret, timestamp + body)). Tests use it to replay.
func (s *Server) PostWebhook(body []byte, at time.Time) (int, error) {
	ts := at.UTC().Format(time.RFC3339)
	s.mu.Lock()
	hook := s.opts.WebhookURL
	s.mu.Unlock()
	req, err := http.NewRequest(http.MethodPost, hook, bytes.NewReader(body))
	if err != nil {
		return 0, err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("X-Zendesk-Webhook-Signature", Sign(s.opts.WebhookSecret, ts, body))
	req.Header.Set("X-Zendesk-Webhook-Signature-Timestamp", ts)
	resp, err := http.DefaultClient.Do(req)
	d := WebhookDelivery{Body: body, Err: err}
	if err == nil {
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		d.Status = resp.StatusCode
	}
	s.mu.Lock()
	s.webhooks = append(s.webhooks, d)
	s.mu.Unlock()
	return d.Status, err
}

// Sign computes Zendesk's webhook signature.
func Sign(secret, timestamp string, body []byte) string {
	m := hmac.New(sha256.New, []byte(secret))
	m.Write([]byte(timestamp))
	m.Write(body)
	return base64.StdEncoding.EncodeToString(m.Sum(nil))
}

// gate applies authentication, outages, delays and the account rate
// limit before a request reaches its handler, and stamps the rate-limit
// headers every Zendesk response carries.
func (s *Server) gate(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.mu.Lock()
		s.stats.Requests++
		delay, outage := s.delay, s.outage
		s.mu.Unlock()
		if delay > 0 {
			select {
			case <-time.After(delay):
			case <-r.Context().Done():
				return
			}
		}
		if outage {
			s.mu.Lock()
			s.stats.Unavailable++
			s.mu.Unlock()
			http.Error(w, "Service Unavailable", http.StatusServiceUnavailable)
			return
		}
		if !s.authorized(r) {
			writeJSON(w, http.StatusUnauthorized, map[string]string{"error": "Couldn't authenticate you"})
			return
		}
		s.mu.Lock()
		now := s.opts.Now()
		if now.Sub(s.window) >= time.Minute {
			s.window = now.Truncate(time.Minute)
			s.used, s.updUsed = 0, 0
		}
		limit := s.opts.RequestsPerMinute
		over := s.used >= limit
		isUpdate := r.Method == http.MethodPut && strings.HasPrefix(r.URL.Path, "/api/v2/tickets/")
		if !over && isUpdate && s.updUsed >= s.opts.UpdatesPerMinute {
			over = true
		}
		if !over {
			s.used++
			if isUpdate {
				s.updUsed++
			}
		}
		remaining := max(limit-s.used, 0)
		retry := s.window.Add(time.Minute).Sub(now)
		if over {
			s.stats.TooMany++
		}
		s.mu.Unlock()
		w.Header().Set("X-Rate-Limit", strconv.Itoa(limit))
		w.Header().Set("X-Rate-Limit-Remaining", strconv.Itoa(remaining))
		if over {
			tooMany(w, retry, "Number of allowed API requests per minute exceeded")
			return
		}
		next.ServeHTTP(w, r)
	})
}

func (s *Server) authorized(r *http.Request) bool {
	if user, pass, ok := r.BasicAuth(); ok {
		return user == s.opts.Email+"/token" && pass == s.opts.Token
	}
	if s.opts.BearerToken != "" {
		return r.Header.Get("Authorization") == "Bearer "+s.opts.BearerToken
	}
	return false
}

func tooMany(w http.ResponseWriter, retry time.Duration, msg string) {
	w.Header().Set("Retry-After", strconv.Itoa(int(math.Ceil(retry.Seconds()))))
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.WriteHeader(http.StatusTooManyRequests)
	io.WriteString(w, msg)
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(v)
}

func apiError(w http.ResponseWriter, status int, code, desc string, details map[string]any) {
	body := map[string]any{"error": code, "description": desc}
	if details != nil {
		body["details"] = details
	}
	writeJSON(w, status, body)
}

func invalid(w http.ResponseWriter, field, desc string) {
	apiError(w, http.StatusUnprocessableEntity, "RecordInvalid", "Record validation errors",
		map[string]any{field: []map[string]string{{"error": "InvalidValue", "description": desc}}})
}

// ticketIn is the writable part of a ticket in create and update bodies.
type ticketIn struct {
	Subject        *string         `json:"subject"`
	Comment        *commentIn      `json:"comment"`
	RequesterID    *int64          `json:"requester_id"`
	Requester      *User           `json:"requester"`
	AssigneeID     json.RawMessage `json:"assignee_id"`
	GroupID        json.RawMessage `json:"group_id"`
	Status         *string         `json:"status"`
	Tags           []string        `json:"tags"`
	AdditionalTags []string        `json:"additional_tags"`
	RemoveTags     []string        `json:"remove_tags"`
	ExternalID     *string         `json:"external_id"`
	SafeUpdate     bool            `json:"safe_update"`
	UpdatedStamp   *time.Time      `json:"updated_stamp"`
}

type commentIn struct {
	Body     string   `json:"body"`
	HTMLBody string   `json:"html_body"`
	Public   *bool    `json:"public"`
	AuthorID *int64   `json:"author_id"`
	Uploads  []string `json:"uploads"`
}

func decodeTicket(w http.ResponseWriter, r *http.Request) (*ticketIn, []byte, bool) {
	raw, err := io.ReadAll(r.Body)
	if err != nil {
		return nil, nil, false
	}
	var env struct {
		Ticket *ticketIn `json:"ticket"`
	}
	if err := json.Unmarshal(raw, &env); err != nil || env.Ticket == nil {
		apiError(w, http.StatusBadRequest, "InvalidJSON", "The request body is not a JSON object with a ticket", nil)
		return nil, nil, false
	}
	return env.Ticket, raw, true
}

var validStatus = map[string]bool{"new": true, "open": true, "pending": true, "hold": true, "solved": true, "closed": true}

// optionalID reads a number, a numeric string or null.
func optionalID(raw json.RawMessage) (id *int64, set bool, ok bool) {
	if len(raw) == 0 {
		return nil, false, true
	}
	if string(raw) == "null" {
		return nil, true, true
	}
	s := strings.Trim(string(raw), `"`)
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil {
		return nil, true, false
	}
	return &n, true, true
}

func (s *Server) createTicket(w http.ResponseWriter, r *http.Request) {
	in, raw, ok := decodeTicket(w, r)
	if !ok {
		return
	}
	key := r.Header.Get("Idempotency-Key")
	hash := sha256.Sum256(raw)
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.opts.Now()
	if key != "" {
		if e, ok := s.idem[key]; ok && now.Sub(e.at) < 2*time.Hour {
			if e.bodyHash != hash {
				apiError(w, http.StatusBadRequest, "IdempotentRequestError", "Request parameters don't match the given idempotency key", nil)
				return
			}
			w.Header().Set("x-idempotency-lookup", "hit")
			w.Header().Set("Content-Type", "application/json; charset=utf-8")
			w.WriteHeader(e.status)
			w.Write(e.body)
			return
		}
	}
	if in.Comment == nil || (in.Comment.Body == "" && in.Comment.HTMLBody == "") {
		invalid(w, "description", "Description: cannot be blank")
		return
	}
	if !s.checkUploads(w, in.Comment.Uploads, now) {
		return
	}
	t := &Ticket{Status: "new", SubmitterID: s.AgentID, Via: Via{Channel: "api"}, CreatedAt: now, UpdatedAt: now, Tags: []string{}}
	switch {
	case in.RequesterID != nil:
		if s.users[*in.RequesterID] == nil {
			invalid(w, "requester", "Requester: is invalid")
			return
		}
		t.RequesterID = *in.RequesterID
	case in.Requester != nil:
		t.RequesterID = s.upsertUser(*in.Requester).ID
	default:
		t.RequesterID = s.AgentID
	}
	if !s.applyFields(w, t, in) {
		return
	}
	if t.Subject == "" {
		t.Subject = firstLine(in.Comment.Body + in.Comment.HTMLBody)
	}
	s.nextID++
	t.ID = s.nextID
	t.URL = fmt.Sprintf("%s/api/v2/tickets/%d.json", s.URL, t.ID)
	c := s.addComment(t, in.Comment.Body, in.Comment.HTMLBody, in.Comment.Public == nil || *in.Comment.Public, s.authorOf(in.Comment), "api", in.Comment.Uploads)
	t.Description = c.PlainBody
	s.tickets[t.ID] = t
	s.stats.TicketCreates++
	body, _ := json.Marshal(map[string]any{"ticket": t, "audit": audit(t, c)})
	if key != "" {
		s.idem[key] = idemEntry{bodyHash: hash, status: http.StatusCreated, body: body, at: now}
		w.Header().Set("x-idempotency-lookup", "miss")
	}
	w.Header().Set("Location", t.URL)
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(http.StatusCreated)
	w.Write(body)
}

func firstLine(s string) string {
	s, _, _ = strings.Cut(s, "\n")
	if len(s) > 80 {
		s = s[:80]
	}
	return s
}

func (s *Server) authorOf(c *commentIn) int64 {
	if c.AuthorID != nil && s.users[*c.AuthorID] != nil {
		return *c.AuthorID
	}
	return s.AgentID
}

func audit(t *Ticket, c *Comment) map[string]any {
	ev := map[string]any{"type": "Comment", "id": c.ID, "body": c.Body, "html_body": c.HTMLBody,
		"plain_body": c.PlainBody, "public": c.Public, "author_id": c.AuthorID}
	return map[string]any{"ticket_id": t.ID, "created_at": c.CreatedAt, "author_id": c.AuthorID, "events": []any{ev}}
}

// applyFields sets the non-comment fields of in on t; it writes a 422 and
// returns false if one is invalid.
func (s *Server) applyFields(w http.ResponseWriter, t *Ticket, in *ticketIn) bool {
	if in.Subject != nil {
		t.Subject = *in.Subject
	}
	if in.Status != nil {
		if !validStatus[*in.Status] {
			invalid(w, "status", "Status: is invalid")
			return false
		}
		t.Status = *in.Status
	}
	if id, set, ok := optionalID(in.AssigneeID); !ok {
		invalid(w, "assignee_id", "Assignee: is invalid")
		return false
	} else if set {
		if id != nil {
			if u := s.users[*id]; u == nil || u.Role == "end-user" {
				invalid(w, "assignee_id", "Assignee: is invalid")
				return false
			}
		}
		t.AssigneeID = id
	}
	if id, set, ok := optionalID(in.GroupID); !ok {
		invalid(w, "group_id", "Group: is invalid")
		return false
	} else if set {
		t.GroupID = id
	}
	if in.ExternalID != nil {
		t.ExternalID = *in.ExternalID
	}
	if in.Tags != nil {
		t.Tags = dedupe(in.Tags)
	}
	t.Tags = dedupe(append(t.Tags, in.AdditionalTags...))
	if len(in.RemoveTags) > 0 {
		var kept []string
		for _, tag := range t.Tags {
			if !contains(in.RemoveTags, tag) {
				kept = append(kept, tag)
			}
		}
		t.Tags = append([]string{}, kept...)
	}
	return true
}

func dedupe(tags []string) []string {
	out := []string{}
	for _, t := range tags {
		if !contains(out, t) {
			out = append(out, t)
		}
	}
	return out
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

func (s *Server) addComment(t *Ticket, body, html string, public bool, author int64, channel string, uploads []string) *Comment {
	s.nextID++
	plain := body
	if plain == "" {
		plain = html
	}
	if html == "" {
		html = `<div class="zd-comment" dir="auto"><p dir="auto">` + body + `</p></div>`
	}
	now := s.opts.Now()
	files := []Attachment{}
	for _, tok := range uploads {
		u := s.uploads[tok]
		u.CommentID = s.nextID
		files = append(files, u.Files...)
	}
	t.Comments = append(t.Comments, Comment{ID: s.nextID, Type: "Comment", Body: plain, HTMLBody: html, PlainBody: plain,
		Public: public, AuthorID: author, Via: Via{Channel: channel}, Attachments: files, CreatedAt: now})
	t.UpdatedAt = now
	if public && t.Status == "new" && author != t.RequesterID {
		t.Status = "open"
	}
	return &t.Comments[len(t.Comments)-1]
}

func (s *Server) ticketOf(w http.ResponseWriter, r *http.Request) *Ticket {
	id, err := strconv.ParseInt(strings.TrimSuffix(r.PathValue("id"), ".json"), 10, 64)
	t := s.tickets[id]
	if err != nil || t == nil {
		apiError(w, http.StatusNotFound, "RecordNotFound", "Not found", nil)
		return nil
	}
	return t
}

func (s *Server) showTicket(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if t := s.ticketOf(w, r); t != nil {
		writeJSON(w, http.StatusOK, map[string]any{"ticket": t})
	}
}

func (s *Server) updateTicket(w http.ResponseWriter, r *http.Request) {
	in, _, ok := decodeTicket(w, r)
	if !ok {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	t := s.ticketOf(w, r)
	if t == nil {
		return
	}
	now := s.opts.Now()
	// The per-ticket limit: updates by the integration user in the last
	// ten minutes.
	recent := s.perTkt[t.ID][:0]
	for _, at := range s.perTkt[t.ID] {
		if now.Sub(at) < 10*time.Minute {
			recent = append(recent, at)
		}
	}
	s.perTkt[t.ID] = recent
	if len(recent) >= s.opts.TicketUpdatesPer10Min {
		s.stats.TooMany++
		tooMany(w, recent[0].Add(10*time.Minute).Sub(now), "You have exceeded the rate limit for updating this ticket")
		return
	}
	if t.Status == "closed" {
		invalid(w, "status", "Status: closed prevents ticket update")
		return
	}
	if in.SafeUpdate && in.UpdatedStamp != nil && !in.UpdatedStamp.Equal(t.UpdatedAt) {
		apiError(w, http.StatusConflict, "UpdateConflict", "Ticket was updated since the given updated_stamp", nil)
		return
	}
	if in.Comment != nil && len(t.Comments) >= s.opts.MaxComments {
		invalid(w, "base", fmt.Sprintf("Ticket has reached the maximum of %d comments", s.opts.MaxComments))
		return
	}
	if in.Comment != nil && !s.checkUploads(w, in.Comment.Uploads, now) {
		return
	}
	next := *t
	if !s.applyFields(w, &next, in) {
		return
	}
	*t = next
	var c *Comment
	if in.Comment != nil && (in.Comment.Body != "" || in.Comment.HTMLBody != "") {
		c = s.addComment(t, in.Comment.Body, in.Comment.HTMLBody, in.Comment.Public == nil || *in.Comment.Public, s.authorOf(in.Comment), "api", in.Comment.Uploads)
	}
	t.UpdatedAt = now
	s.perTkt[t.ID] = append(s.perTkt[t.ID], now)
	s.stats.TicketUpdates++
	resp := map[string]any{"ticket": t}
	if c != nil {
		resp["audit"] = audit(t, c)
	}
	writeJSON(w, http.StatusOK, resp)
}

// listComments serves GET /api/v2/tickets/{id}/comments with cursor
// pagination (page[size] ≤ 100, page[after]), sort created_at or
// -created_at, and include=users.
func (s *Server) listComments(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	t := s.ticketOf(w, r)
	if t == nil {
		return
	}
	q := r.URL.Query()
	size := 100
	if v := q.Get("page[size]"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > 100 {
			apiError(w, http.StatusBadRequest, "InvalidPaginationParameter", "page[size] must be between 1 and 100", nil)
			return
		}
		size = n
	}
	list := append([]Comment(nil), t.Comments...)
	switch q.Get("sort") {
	case "", "created_at":
	case "-created_at":
		for i, j := 0, len(list)-1; i < j; i, j = i+1, j-1 {
			list[i], list[j] = list[j], list[i]
		}
	default:
		apiError(w, http.StatusBadRequest, "InvalidPaginationParameter", "sort must be created_at or -created_at", nil)
		return
	}
	start := 0
	if after := q.Get("page[after]"); after != "" {
		b, err := base64.RawURLEncoding.DecodeString(after)
		n, err2 := strconv.Atoi(string(b))
		if err != nil || err2 != nil || n < 0 || n > len(list) {
			apiError(w, http.StatusBadRequest, "InvalidPaginationParameter", "page[after] is not a valid cursor", nil)
			return
		}
		start = n
	}
	end := min(start+size, len(list))
	page := list[start:end]
	meta := map[string]any{"has_more": end < len(list), "after_cursor": nil, "before_cursor": nil}
	if end < len(list) {
		meta["after_cursor"] = base64.RawURLEncoding.EncodeToString([]byte(strconv.Itoa(end)))
	}
	resp := map[string]any{"comments": page, "meta": meta}
	if strings.Contains(q.Get("include"), "users") {
		users := []*User{}
		seen := map[int64]bool{}
		for _, c := range page {
			if u := s.users[c.AuthorID]; u != nil && !seen[u.ID] {
				seen[u.ID] = true
				users = append(users, u)
			}
		}
		resp["users"] = users
	}
	writeJSON(w, http.StatusOK, resp)
}

// search supports the one query Helpline makes:
// "type:ticket external_id:<id>". Results come back at once (the real
// index lags by a little).
func (s *Server) search(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	var typ, ext string
	for _, f := range strings.Fields(r.URL.Query().Get("query")) {
		k, v, _ := strings.Cut(f, ":")
		switch k {
		case "type":
			typ = v
		case "external_id":
			ext = strings.Trim(v, `"`)
		}
	}
	if typ != "ticket" || ext == "" {
		apiError(w, http.StatusBadRequest, "InvalidSearch", "the fake supports only type:ticket external_id:<id>", nil)
		return
	}
	results := []map[string]any{}
	var ids []int64
	for id, t := range s.tickets {
		if t.ExternalID == ext {
			ids = append(ids, id)
		}
	}
	sort.Slice(ids, func(i, j int) bool { return ids[i] < ids[j] })
	for _, id := range ids {
		b, _ := json.Marshal(s.tickets[id])
		var m map[string]any
		json.Unmarshal(b, &m)
		m["result_type"] = "ticket"
		results = append(results, m)
	}
	writeJSON(w, http.StatusOK, map[string]any{"results": results, "count": len(results), "next_page": nil, "previous_page": nil})
}

// createOrUpdateUser matches by email, then external_id.
func (s *Server) createOrUpdateUser(w http.ResponseWriter, r *http.Request) {
	var env struct {
		User *User `json:"user"`
	}
	if err := json.NewDecoder(r.Body).Decode(&env); err != nil || env.User == nil {
		apiError(w, http.StatusBadRequest, "InvalidJSON", "The request body is not a JSON object with a user", nil)
		return
	}
	if env.User.Name == "" && env.User.Email == "" {
		invalid(w, "name", "Name: is too short (minimum one character)")
		return
	}
	if env.User.Email != "" && !strings.Contains(env.User.Email, "@") {
		invalid(w, "email", "Email: "+env.User.Email+" is not properly formatted")
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	before := len(s.users)
	u := s.upsertUser(*env.User)
	status := http.StatusOK
	if len(s.users) > before {
		status = http.StatusCreated
	}
	writeJSON(w, status, map[string]any{"user": u})
}

func (s *Server) upsertUser(in User) *User {
	for _, u := range s.users {
		if (in.Email != "" && strings.EqualFold(u.Email, in.Email)) || (in.ExternalID != "" && u.ExternalID == in.ExternalID) {
			if in.Name != "" {
				u.Name = in.Name
			}
			if in.Phone != "" {
				u.Phone = in.Phone
			}
			if in.Email != "" {
				u.Email = in.Email
			}
			if in.ExternalID != "" {
				u.ExternalID = in.ExternalID
			}
			return u
		}
	}
	if in.Name == "" {
		in.Name = in.Email
	}
	in.Role = "end-user"
	return s.addUser(in)
}

// checkUploads writes a 422 and returns false unless every token names an
// unexpired upload that no comment has taken yet. Zendesk does not
// document its answer to a bad token; the fake refuses it so that a file
// a connector meant to attach cannot go missing unnoticed.
func (s *Server) checkUploads(w http.ResponseWriter, tokens []string, now time.Time) bool {
	for i, tok := range tokens {
		u := s.uploads[tok]
		switch {
		case u == nil || u.CommentID == 0 && !now.Before(u.ExpiresAt):
			invalid(w, "uploads", "Uploads: token "+tok+" is invalid or expired")
			return false
		case u.CommentID != 0 || contains(tokens[:i], tok):
			invalid(w, "uploads", "Uploads: token "+tok+" is already attached to a comment")
			return false
		}
	}
	return true
}

// upload serves POST /api/v2/uploads?filename=…[&token=…]: the body is
// the file, its Content-Type the file's type. A token adds the file to
// that earlier upload, as long as it is unattached and unexpired.
func (s *Server) upload(w http.ResponseWriter, r *http.Request) {
	name := r.URL.Query().Get("filename")
	if name == "" {
		invalid(w, "filename", "Filename: cannot be blank")
		return
	}
	data, err := io.ReadAll(io.LimitReader(r.Body, MaxUploadSize+1))
	if err != nil {
		return
	}
	if len(data) > MaxUploadSize {
		apiError(w, http.StatusRequestEntityTooLarge, "AttachmentTooLarge", "Attachments are limited to 50 MB", nil)
		return
	}
	ctype := r.Header.Get("Content-Type")
	if ctype == "" {
		ctype = "application/binary"
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.opts.Now()
	var u *Upload
	if tok := r.URL.Query().Get("token"); tok != "" {
		if u = s.uploads[tok]; u == nil || u.CommentID != 0 || !now.Before(u.ExpiresAt) {
			apiError(w, http.StatusNotFound, "RecordNotFound", "Not found", nil)
			return
		}
	} else {
		s.nextID++
		u = &Upload{Token: fmt.Sprintf("upl%d", s.nextID), ExpiresAt: now.Add(uploadTTL)}
		s.uploads[u.Token] = u
	}
	s.nextID++
	a := Attachment{ID: s.nextID, FileName: name, ContentType: ctype, Size: len(data), Data: data,
		ContentURL: fmt.Sprintf("%s/attachments/token/%s/?name=%s", s.URL, u.Token, url.QueryEscape(name))}
	u.Files = append(u.Files, a)
	s.stats.Uploads++
	writeJSON(w, http.StatusCreated, map[string]any{"upload": map[string]any{"token": u.Token, "expires_at": u.ExpiresAt,
		"attachment": a, "attachments": u.Files}})
}
