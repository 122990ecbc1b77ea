// Package kustomertest is a fake Kustomer API for tests: an httptest
// server that behaves as the documented API does for what Helpline uses —
// Bearer API keys, JSON:API envelopes, customers found by external id or
// email and created, conversations created, looked up by external id and
// updated (status, custom attributes, assigned users and teams), messages
// and notes created on a conversation and listed with page pagination,
// users read, the documented error bodies, the org-wide
// budget per minute with x-ratelimit-* headers and the per-customer
// creation caps (120 messages, 120 notes per minute) — plus switchable
// outages, slow answers, writes whose answer is lost, and a webhook
// sender that signs as Kustomer does and can deliver twice. Tests assert
// on what it holds.
//
// Where Kustomer's documentation leaves a fact open the fake takes the
// strict side: message and conversation externalIds are not unique (a
// second create with the same one makes a second object, so a client must
// look up before it retries), unknown message attributes are refused
// with 400, and custom attribute names must end in a type suffix.
package kustomertest

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
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
	"unicode/utf8"
)

// Kustomer's documented limits: the Server's defaults.
const (
	EnterpriseRequestsPerMinute       = 1000 // org-wide, every key and app
	MessagesPerMinutePerCustomer      = 120
	NotesPerMinutePerCustomer         = 120
	ConversationsPerMinutePerCustomer = 120
	MaxNoteBody                       = 10240
)

// Options configure a Server. Zero values take the defaults noted.
type Options struct {
	// APIKey is the accepted Bearer key; default "kus-key".
	APIKey string
	// RequestsPerMinute is the org-wide budget (default 1,000, Enterprise).
	RequestsPerMinute int
	// MessagesPerMinute and NotesPerMinute are the per-customer creation
	// caps (default 120 each).
	MessagesPerMinute, NotesPerMinute int
	// Now is the clock of limits, timestamps and webhook events.
	Now func() time.Time
	// WebhookURL and WebhookSecret configure the outbound webhook: where
	// events go and the token they are signed with.
	WebhookURL, WebhookSecret string
}

// Customer is a customer the fake holds.
type Customer struct {
	ID         string
	Name       string
	Emails     []string
	ExternalID string
}

// Message is a message on a conversation's timeline.
type Message struct {
	ID         string
	Channel    string
	App        string
	Direction  string
	Preview    string
	Meta       map[string]any
	ExternalID string
	SentAt     time.Time
	CreatedAt  time.Time
	CreatedBy  string // user id; empty for API-made messages
}

// Body is the message's full text: meta.body, else the preview.
func (m Message) Body() string {
	if b, ok := m.Meta["body"].(string); ok {
		return b
	}
	return m.Preview
}

// Note is an internal note on a conversation.
type Note struct {
	ID        string
	Body      string
	CreatedAt time.Time
}

// Conversation is a conversation the fake holds, its timeline included.
type Conversation struct {
	ID         string
	CustomerID string
	Name       string
	Status     string
	ExternalID string
	Custom     map[string]any
	// AssignedUsers and AssignedTeams are the conversation's assignment.
	AssignedUsers, AssignedTeams []string
	UpdatedAt                    time.Time
	Messages                     []Message
	Notes                        []Note
}

// Stats count what the fake answered.
type Stats struct {
	Requests      int // every request, refused ones included
	TooMany       int // 429 answers, org budget and per-customer caps
	Unavailable   int // 503 answers during an outage
	Conversations int // conversations created
	Messages      int // messages created
	Notes         int // notes created
	LostAnswers   int // writes that landed but whose answer was dropped
}

// WebhookDelivery is one webhook the fake posted.
type WebhookDelivery struct {
	Event  string
	Body   []byte
	Status int
	Err    error
}

// Server is the fake. Its methods are safe for concurrent use.
type Server struct {
	URL string

	srv  *httptest.Server
	opts Options

	mu        sync.Mutex // guards everything below
	seq       int
	customers map[string]*Customer
	convs     map[string]*Conversation
	order     []string // conversation ids in creation order
	users     map[string]string
	teams     map[string]string
	window    time.Time // start of the current budget minute
	used      int
	perCust   map[string][]time.Time // creation times per "kind:customer"
	stats     Stats
	outage    bool
	delay     time.Duration
	writes    int // successful writes answered or lost
	loseAt    int // the write whose answer is lost; 0: none
	webhooks  []WebhookDelivery
}

// NewServer starts a fake; the caller closes it.
func NewServer(opts Options) *Server {
	if opts.APIKey == "" {
		opts.APIKey = "kus-key"
	}
	if opts.RequestsPerMinute == 0 {
		opts.RequestsPerMinute = EnterpriseRequestsPerMinute
	}
	if opts.MessagesPerMinute == 0 {
		opts.MessagesPerMinute = MessagesPerMinutePerCustomer
	}
	if opts.NotesPerMinute == 0 {
		opts.NotesPerMinute = NotesPerMinutePerCustomer
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	s := &Server{opts: opts, customers: map[string]*Customer{}, convs: map[string]*Conversation{},
		users: map[string]string{}, teams: map[string]string{}, perCust: map[string][]time.Time{}}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /v1/customers/{key}", s.findCustomer)
	mux.HandleFunc("POST /v1/customers", s.createCustomer)
	mux.HandleFunc("POST /v1/conversations", s.createConversation)
	mux.HandleFunc("GET /v1/conversations/{key}", s.getConversation)
	mux.HandleFunc("PATCH /v1/conversations/{id}", s.updateConversation)
	mux.HandleFunc("POST /v1/conversations/{id}/messages", s.createMessage)
	mux.HandleFunc("GET /v1/conversations/{id}/messages", s.listMessages)
	mux.HandleFunc("POST /v1/conversations/{id}/notes", s.createNote)
	mux.HandleFunc("GET /v1/conversations/{id}/notes", s.listNotes)
	mux.HandleFunc("GET /v1/users/{id}", s.getUser)
	s.srv = httptest.NewServer(s.gate(mux))
	s.URL = s.srv.URL
	return s
}

// Close shuts the server down.
func (s *Server) Close() { s.srv.Close() }

// SetOutage makes every request fail with 503 while on.
func (s *Server) SetOutage(on bool) { s.mu.Lock(); s.outage = on; s.mu.Unlock() }

// SetDelay holds every answer for d (real time), to provoke timeouts.
func (s *Server) SetDelay(d time.Duration) { s.mu.Lock(); s.delay = d; s.mu.Unlock() }

// LoseAnswerAfter makes the successful write (POST, PATCH) that follows
// the next n land and then drop the connection instead of answering: an
// uncertain outcome.
func (s *Server) LoseAnswerAfter(n int) { s.mu.Lock(); s.loseAt = s.writes + n + 1; s.mu.Unlock() }

// SetWebhookURL changes where webhooks go; while empty, events are
// recorded unsent (see Redeliver).
func (s *Server) SetWebhookURL(u string) { s.mu.Lock(); s.opts.WebhookURL = u; s.mu.Unlock() }

// AddUser adds a Kustomer user (an agent) and returns its id.
func (s *Server) AddUser(name string) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	id := s.newID("usr")
	s.users[id] = name
	return id
}

// AddTeam adds a Kustomer team and returns its id.
func (s *Server) AddTeam(name string) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	id := s.newID("team")
	s.teams[id] = name
	return id
}

// AddCustomer adds a customer, as one made in Kustomer beforehand, and
// returns its id.
func (s *Server) AddCustomer(name, email, externalID string) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	c := &Customer{ID: s.newID("cus"), Name: name, ExternalID: externalID}
	if email != "" {
		c.Emails = []string{email}
	}
	s.customers[c.ID] = c
	return c.ID
}

// Stats returns the counters.
func (s *Server) Stats() Stats { s.mu.Lock(); defer s.mu.Unlock(); return s.stats }

// Customers returns copies of every customer, in creation order.
func (s *Server) Customers() []Customer {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []Customer
	for _, c := range s.customers {
		out = append(out, *c)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out
}

// Conversations returns copies of every conversation, in creation order.
func (s *Server) Conversations() []Conversation {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]Conversation, 0, len(s.order))
	for _, id := range s.order {
		c := *s.convs[id]
		c.Messages = append([]Message(nil), c.Messages...)
		c.Notes = append([]Note(nil), c.Notes...)
		c.AssignedUsers = append([]string(nil), c.AssignedUsers...)
		c.AssignedTeams = append([]string(nil), c.AssignedTeams...)
		out = append(out, c)
	}
	return out
}

// ConversationsByExternalID returns every conversation with the external
// id; more than one means a client created a duplicate.
func (s *Server) ConversationsByExternalID(ext string) []Conversation {
	var out []Conversation
	for _, c := range s.Conversations() {
		if c.ExternalID == ext {
			out = append(out, c)
		}
	}
	return out
}

// Webhooks returns the webhooks posted so far, and those made while no
// URL was set (Status 0), in the order they were made.
func (s *Server) Webhooks() []WebhookDelivery {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]WebhookDelivery(nil), s.webhooks...)
}

// AgentReply plays an agent replying in Kustomer: it adds an outbound
// chat message by the user to the conversation, with Kustomer's own app,
// and posts the signed kustomer.message.create event. It returns the
// message and the webhook's status (0 when no URL is configured).
func (s *Server) AgentReply(convID, userID, text string) (Message, int, error) {
	s.mu.Lock()
	c := s.convs[convID]
	if c == nil {
		s.mu.Unlock()
		return Message{}, 0, fmt.Errorf("kustomertest: no conversation %s", convID)
	}
	now := s.opts.Now().UTC()
	m := Message{ID: s.newID("msg"), Channel: "chat", App: "chat", Direction: "out", Preview: text,
		SentAt: now, CreatedAt: now, CreatedBy: userID}
	c.Messages = append(c.Messages, m)
	ev := s.event("kustomer.message.create", messageResource(c, m), now)
	s.mu.Unlock()
	status, err := s.PostWebhook("kustomer.message.create", ev)
	return m, status, err
}

// SetStatus plays an agent changing the conversation's status (done
// closes it) and posts the signed kustomer.conversation.update event.
func (s *Server) SetStatus(convID, status string) (int, error) {
	s.mu.Lock()
	c := s.convs[convID]
	if c == nil {
		s.mu.Unlock()
		return 0, fmt.Errorf("kustomertest: no conversation %s", convID)
	}
	c.Status = status
	ev := s.event("kustomer.conversation.update", conversationResource(c), s.opts.Now().UTC())
	s.mu.Unlock()
	return s.PostWebhook("kustomer.conversation.update", ev)
}

// Redeliver posts the i-th webhook again, byte for byte, as Kustomer's
// at-least-once delivery may.
func (s *Server) Redeliver(i int) (int, error) {
	s.mu.Lock()
	d := s.webhooks[i]
	s.mu.Unlock()
	return s.PostWebhook(d.Event, d.Body)
}

// event is a webhook envelope; s.mu is held.
func (s *Server) event(name string, data map[string]any, at time.Time) []byte {
	b, _ := json.Marshal(map[string]any{
		"id": s.newID("evt"), "name": name, "org": "org-1", "partition": "org-1",
		"data": data, "createdAt": at.Format(time.RFC3339Nano), "dataId": data["id"],
		"meta": map[string]any{"customChanged": false},
	})
	return b
}

// PostWebhook posts body to the webhook URL as Kustomer does, with
// X-Kustomer-Webhook-Event and X-Kustomer-Webhook-Signature, the
// lowercase hex HMAC-SHA256 of the raw body keyed by the webhook token.
func (s *Server) PostWebhook(event string, body []byte) (int, error) {
	s.mu.Lock()
	hook, secret := s.opts.WebhookURL, s.opts.WebhookSecret
	if hook == "" {
		// Kept unsent, for Redeliver to send later.
		s.webhooks = append(s.webhooks, WebhookDelivery{Event: event, Body: body})
		s.mu.Unlock()
		return 0, nil
	}
	s.mu.Unlock()
	req, err := http.NewRequest(http.MethodPost, hook, bytes.NewReader(body))
	if err != nil {
		return 0, err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("X-Kustomer-Webhook-Event", event)
	req.Header.Set("X-Kustomer-Webhook-Signature", Sign(secret, body))
	resp, err := http.DefaultClient.Do(req)
	d := WebhookDelivery{Event: event, Body: body, Err: err}
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

// Sign is Kustomer's webhook signature.
func Sign(secret string, body []byte) string {
	m := hmac.New(sha256.New, []byte(secret))
	m.Write(body)
	return hex.EncodeToString(m.Sum(nil))
}

// newID makes an id; s.mu is held.
func (s *Server) newID(prefix string) string {
	s.seq++
	return fmt.Sprintf("%s%020x", prefix[:1], s.seq)
}

// gate applies outages, delays, authentication and the org budget, and
// stamps the x-ratelimit-* headers every answer carries.
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
			fail(w, http.StatusServiceUnavailable, "service_unavailable", "Service Unavailable")
			return
		}
		if r.Header.Get("Authorization") != "Bearer "+s.opts.APIKey {
			fail(w, http.StatusUnauthorized, "unauthorized", "Invalid or missing API key")
			return
		}
		s.mu.Lock()
		now := s.opts.Now()
		if now.Sub(s.window) >= time.Minute {
			s.window, s.used = now.Truncate(time.Minute), 0
		}
		limit := s.opts.RequestsPerMinute
		over := s.used >= limit
		if !over {
			s.used++
		} else {
			s.stats.TooMany++
		}
		reset := int(math.Ceil(s.window.Add(time.Minute).Sub(now).Seconds()))
		remaining := max(limit-s.used, 0)
		s.mu.Unlock()
		w.Header().Set("X-Ratelimit-Limit", strconv.Itoa(limit))
		w.Header().Set("X-Ratelimit-Remaining", strconv.Itoa(remaining))
		w.Header().Set("X-Ratelimit-Reset", strconv.Itoa(reset))
		if over {
			fail(w, http.StatusTooManyRequests, "too_many_requests", "Rate limit exceeded")
			return
		}
		next.ServeHTTP(w, r)
	})
}

// fail writes Kustomer's usual error body.
func fail(w http.ResponseWriter, status int, code, msg string) {
	writeJSON(w, status, map[string]any{"errors": []map[string]any{{"status": status, "code": code, "title": msg, "meta": map[string]any{}}}})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(v)
}

// answer writes a 2xx answer to a write, or drops the connection when
// LoseAnswers asked for it: the write has landed either way.
func (s *Server) answer(w http.ResponseWriter, status int, v any) {
	s.mu.Lock()
	s.writes++
	lose := s.writes == s.loseAt
	if lose {
		s.stats.LostAnswers++
	}
	s.mu.Unlock()
	if lose {
		if hj, ok := w.(http.Hijacker); ok {
			if conn, _, err := hj.Hijack(); err == nil {
				conn.Close()
				return
			}
		}
	}
	writeJSON(w, status, v)
}

// capped reports whether customer has used its per-minute cap of kind
// and otherwise counts one creation; s.mu is held. The wait is until the
// oldest creation in the last minute leaves it.
func (s *Server) capped(kind, customer string, limit int, now time.Time) (time.Duration, bool) {
	key := kind + ":" + customer
	var recent []time.Time
	for _, t := range s.perCust[key] {
		if now.Sub(t) < time.Minute {
			recent = append(recent, t)
		}
	}
	if len(recent) >= limit {
		s.perCust[key] = recent
		s.stats.TooMany++
		return recent[0].Add(time.Minute).Sub(now), true
	}
	s.perCust[key] = append(recent, now)
	return 0, false
}

// tooMany is the per-customer cap's 429; Kustomer documents the 429 but
// not its headers, so the fake names the wait in Retry-After.
func tooMany(w http.ResponseWriter, wait time.Duration, what string) {
	w.Header().Set("Retry-After", strconv.Itoa(int(math.Ceil(wait.Seconds()))))
	fail(w, http.StatusTooManyRequests, "too_many_requests", what+" per minute per customer exceeded")
}

// decode reads a JSON object body into v, refusing unknown fields when
// strict; it answers 400 itself and returns false on failure.
func decode(w http.ResponseWriter, r *http.Request, v any, strict bool) bool {
	if !strings.HasPrefix(r.Header.Get("Content-Type"), "application/json") {
		fail(w, http.StatusUnsupportedMediaType, "unsupported_media_type", "Content-Type must be application/json")
		return false
	}
	dec := json.NewDecoder(io.LimitReader(r.Body, 1<<20))
	if strict {
		dec.DisallowUnknownFields()
	}
	if err := dec.Decode(v); err != nil {
		fail(w, http.StatusBadRequest, "bad_request", "invalid body: "+err.Error())
		return false
	}
	return true
}

// customSuffix is the type suffix a custom attribute's name must end in.
var customSuffix = regexp.MustCompile(`^[a-z][A-Za-z0-9]*(Str|Txt|Num|At|Bool|Url|Id)$`)

// MaxStr is the most characters a Str (single-line text) attribute
// holds.
const MaxStr = 1024

func validCustom(w http.ResponseWriter, custom map[string]any) bool {
	for k, v := range custom {
		if !customSuffix.MatchString(k) {
			fail(w, http.StatusBadRequest, "bad_request", fmt.Sprintf("custom attribute %q has no type suffix (Str, Txt, Num, At, Bool, Url, Id)", k))
			return false
		}
		if !strings.HasSuffix(k, "Str") || v == nil {
			continue
		}
		if str, ok := v.(string); !ok || utf8.RuneCountInString(str) > MaxStr {
			fail(w, http.StatusBadRequest, "bad_request", fmt.Sprintf("custom attribute %q must be a string of at most %d characters", k, MaxStr))
			return false
		}
	}
	return true
}

func customerResource(c *Customer) map[string]any {
	emails := []map[string]string{}
	for _, e := range c.Emails {
		emails = append(emails, map[string]string{"email": e})
	}
	return map[string]any{"type": "customer", "id": c.ID,
		"attributes": map[string]any{"name": c.Name, "emails": emails, "externalId": c.ExternalID},
		"links":      map[string]string{"self": "/v1/customers/" + c.ID}}
}

func conversationResource(c *Conversation) map[string]any {
	return map[string]any{"type": "conversation", "id": c.ID,
		"attributes": map[string]any{"name": c.Name, "status": c.Status, "externalId": c.ExternalID, "custom": c.Custom,
			"assignedUsers": nonNil(c.AssignedUsers), "assignedTeams": nonNil(c.AssignedTeams), "updatedAt": c.UpdatedAt.Format(time.RFC3339Nano)},
		"relationships": map[string]any{"customer": map[string]any{
			"data": map[string]string{"type": "customer", "id": c.CustomerID}, "links": map[string]string{"self": "/v1/customers/" + c.CustomerID}}},
		"links": map[string]string{"self": "/v1/conversations/" + c.ID}}
}

func nonNil(list []string) []string {
	if list == nil {
		return []string{}
	}
	return list
}

func messageResource(c *Conversation, m Message) map[string]any {
	rel := map[string]any{
		"customer":     map[string]any{"data": map[string]string{"type": "customer", "id": c.CustomerID}},
		"conversation": map[string]any{"data": map[string]string{"type": "conversation", "id": c.ID}},
	}
	if m.CreatedBy != "" {
		rel["createdBy"] = map[string]any{"data": map[string]string{"type": "user", "id": m.CreatedBy}}
	}
	return map[string]any{"type": "message", "id": m.ID,
		"attributes": map[string]any{"channel": m.Channel, "app": m.App, "direction": m.Direction, "preview": m.Preview,
			"meta": m.Meta, "externalId": m.ExternalID, "sentAt": m.SentAt.Format(time.RFC3339Nano),
			"createdAt": m.CreatedAt.Format(time.RFC3339Nano), "auto": false},
		"relationships": rel,
		"links":         map[string]string{"self": "/v1/messages/" + m.ID}}
}

// findCustomer serves GET /v1/customers/externalId={id} and
// GET /v1/customers/email={email}.
func (s *Server) findCustomer(w http.ResponseWriter, r *http.Request) {
	key, value, ok := strings.Cut(r.PathValue("key"), "=")
	if !ok || (key != "externalId" && key != "email") || value == "" {
		fail(w, http.StatusNotFound, "not_found", "Not found")
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, c := range s.customers {
		if (key == "externalId" && c.ExternalID == value) || (key == "email" && contains(c.Emails, value)) {
			writeJSON(w, http.StatusOK, map[string]any{"data": customerResource(c)})
			return
		}
	}
	fail(w, http.StatusNotFound, "not_found", "Customer not found")
}

func contains(list []string, s string) bool {
	for _, v := range list {
		if strings.EqualFold(v, s) {
			return true
		}
	}
	return false
}

func (s *Server) createCustomer(w http.ResponseWriter, r *http.Request) {
	var in struct {
		Name       string                   `json:"name"`
		Emails     []struct{ Email string } `json:"emails"`
		ExternalID string                   `json:"externalId"`
		Custom     map[string]any           `json:"custom"`
	}
	if !decode(w, r, &in, false) || !validCustom(w, in.Custom) {
		return
	}
	s.mu.Lock()
	for _, c := range s.customers {
		if in.ExternalID != "" && c.ExternalID == in.ExternalID {
			s.mu.Unlock()
			fail(w, http.StatusConflict, "duplicate", "a customer with this externalId exists")
			return
		}
	}
	c := &Customer{ID: s.newID("cus"), Name: in.Name, ExternalID: in.ExternalID}
	for _, e := range in.Emails {
		c.Emails = append(c.Emails, e.Email)
	}
	s.customers[c.ID] = c
	res := customerResource(c)
	s.mu.Unlock()
	s.answer(w, http.StatusCreated, map[string]any{"data": res})
}

var statuses = map[string]bool{"open": true, "snoozed": true, "done": true}

func (s *Server) createConversation(w http.ResponseWriter, r *http.Request) {
	var in struct {
		Customer   string         `json:"customer"`
		Name       string         `json:"name"`
		Status     string         `json:"status"`
		ExternalID string         `json:"externalId"`
		Tags       []string       `json:"tags"`
		Custom     map[string]any `json:"custom"`
	}
	if !decode(w, r, &in, false) || !validCustom(w, in.Custom) {
		return
	}
	if in.Status == "" {
		in.Status = "open"
	}
	if !statuses[in.Status] {
		fail(w, http.StatusBadRequest, "bad_request", "status must be open, snoozed or done")
		return
	}
	s.mu.Lock()
	if s.customers[in.Customer] == nil {
		s.mu.Unlock()
		fail(w, http.StatusBadRequest, "bad_request", "customer is required and must exist")
		return
	}
	if wait, over := s.capped("conversation", in.Customer, ConversationsPerMinutePerCustomer, s.opts.Now()); over {
		s.mu.Unlock()
		tooMany(w, wait, "conversations")
		return
	}
	c := &Conversation{ID: s.newID("con"), CustomerID: in.Customer, Name: in.Name, Status: in.Status, ExternalID: in.ExternalID, Custom: in.Custom,
		UpdatedAt: s.opts.Now().UTC()}
	s.convs[c.ID] = c
	s.order = append(s.order, c.ID)
	s.stats.Conversations++
	res := conversationResource(c)
	s.mu.Unlock()
	s.answer(w, http.StatusCreated, map[string]any{"data": res})
}

// getConversation serves GET /v1/conversations/{id} and
// GET /v1/conversations/externalId={id}, which finds the first.
func (s *Server) getConversation(w http.ResponseWriter, r *http.Request) {
	key := r.PathValue("key")
	s.mu.Lock()
	defer s.mu.Unlock()
	if ext, ok := strings.CutPrefix(key, "externalId="); ok {
		for _, id := range s.order {
			if c := s.convs[id]; c.ExternalID == ext && ext != "" {
				writeJSON(w, http.StatusOK, map[string]any{"data": conversationResource(c)})
				return
			}
		}
	} else if c := s.convs[key]; c != nil {
		writeJSON(w, http.StatusOK, map[string]any{"data": conversationResource(c)})
		return
	}
	fail(w, http.StatusNotFound, "not_found", "Conversation not found")
}

// updateConversation serves PATCH /v1/conversations/{id}: the status,
// custom attributes, and the assignment (assignedUsers, assignedTeams:
// at most 10 each, every id a user or team the fake holds; a list
// replaces the one held).
func (s *Server) updateConversation(w http.ResponseWriter, r *http.Request) {
	var in struct {
		Status        *string        `json:"status"`
		Custom        map[string]any `json:"custom"`
		Tags          []string       `json:"tags"`
		AssignedUsers *[]string      `json:"assignedUsers"`
		AssignedTeams *[]string      `json:"assignedTeams"`
	}
	if !decode(w, r, &in, true) || !validCustom(w, in.Custom) {
		return
	}
	if in.Status != nil && !statuses[*in.Status] {
		fail(w, http.StatusBadRequest, "bad_request", "status must be open, snoozed or done")
		return
	}
	s.mu.Lock()
	c := s.convs[r.PathValue("id")]
	if c == nil {
		s.mu.Unlock()
		fail(w, http.StatusNotFound, "not_found", "Conversation not found")
		return
	}
	for _, as := range []struct {
		field string
		ids   *[]string
		known map[string]string
	}{{"assignedUsers", in.AssignedUsers, s.users}, {"assignedTeams", in.AssignedTeams, s.teams}} {
		if as.ids == nil {
			continue
		}
		if len(*as.ids) > 10 {
			s.mu.Unlock()
			fail(w, http.StatusBadRequest, "bad_request", as.field+" takes at most 10 ids")
			return
		}
		for _, id := range *as.ids {
			if _, ok := as.known[id]; !ok {
				s.mu.Unlock()
				fail(w, http.StatusBadRequest, "bad_request", fmt.Sprintf("%s: %q does not exist", as.field, id))
				return
			}
		}
	}
	if in.AssignedUsers != nil {
		c.AssignedUsers = append([]string{}, *in.AssignedUsers...)
	}
	if in.AssignedTeams != nil {
		c.AssignedTeams = append([]string{}, *in.AssignedTeams...)
	}
	c.UpdatedAt = s.opts.Now().UTC()
	if in.Status != nil {
		c.Status = *in.Status
	}
	for k, v := range in.Custom {
		if c.Custom == nil {
			c.Custom = map[string]any{}
		}
		c.Custom[k] = v
	}
	res := conversationResource(c)
	s.mu.Unlock()
	s.answer(w, http.StatusOK, map[string]any{"data": res})
}

var channels = map[string]bool{"email": true, "sms": true, "chat": true, "facebook": true, "twitter-dm": true,
	"twitter-tweet": true, "voice": true, "instagram": true, "whatsapp": true}

// createMessage serves POST /v1/conversations/{id}/messages. The
// attributes it takes are the documented ones; anything else is 400, as
// the field carrying a message's text is not documented (the connector
// sends preview and meta.body).
func (s *Server) createMessage(w http.ResponseWriter, r *http.Request) {
	var in struct {
		Channel    string         `json:"channel"`
		App        string         `json:"app"`
		Direction  string         `json:"direction"`
		Preview    string         `json:"preview"`
		Meta       map[string]any `json:"meta"`
		ExternalID string         `json:"externalId"`
		SentAt     string         `json:"sentAt"`
		ImportedAt string         `json:"importedAt"`
	}
	if !decode(w, r, &in, true) {
		return
	}
	var sentAt time.Time
	switch {
	case !channels[in.Channel]:
		fail(w, http.StatusBadRequest, "bad_request", "channel is required and must be a known channel")
		return
	case in.App == "":
		fail(w, http.StatusBadRequest, "bad_request", "app is required")
		return
	case in.Direction != "in" && in.Direction != "out":
		fail(w, http.StatusBadRequest, "bad_request", "direction must be in or out")
		return
	case strings.TrimSpace(in.Preview) == "":
		fail(w, http.StatusBadRequest, "bad_request", "preview is required")
		return
	case in.SentAt != "":
		t, err := time.Parse(time.RFC3339Nano, in.SentAt)
		if err != nil {
			fail(w, http.StatusBadRequest, "bad_request", "sentAt must be an ISO 8601 date")
			return
		}
		sentAt = t
	}
	s.mu.Lock()
	c := s.convs[r.PathValue("id")]
	if c == nil {
		s.mu.Unlock()
		fail(w, http.StatusNotFound, "not_found", "Conversation not found")
		return
	}
	now := s.opts.Now().UTC()
	if in.ImportedAt == "" {
		if wait, over := s.capped("message", c.CustomerID, s.opts.MessagesPerMinute, now); over {
			s.mu.Unlock()
			tooMany(w, wait, "messages")
			return
		}
	}
	if sentAt.IsZero() {
		sentAt = now
	}
	m := Message{ID: s.newID("msg"), Channel: in.Channel, App: in.App, Direction: in.Direction, Preview: in.Preview,
		Meta: in.Meta, ExternalID: in.ExternalID, SentAt: sentAt, CreatedAt: now}
	c.Messages = append(c.Messages, m)
	s.stats.Messages++
	res := messageResource(c, m)
	s.mu.Unlock()
	s.answer(w, http.StatusCreated, map[string]any{"data": res})
}

// page serves one page of n resources: page from 1, pageSize up to 100.
func page(w http.ResponseWriter, r *http.Request, base string, n int, at func(i int) map[string]any) {
	q := r.URL.Query()
	pg, size := 1, 100
	if v := q.Get("page"); v != "" {
		if p, err := strconv.Atoi(v); err == nil && p >= 1 {
			pg = p
		} else {
			fail(w, http.StatusBadRequest, "bad_request", "page must be a number from 1")
			return
		}
	}
	if v := q.Get("pageSize"); v != "" {
		if p, err := strconv.Atoi(v); err == nil && p >= 1 && p <= 100 {
			size = p
		} else {
			fail(w, http.StatusBadRequest, "bad_request", "pageSize must be 1 to 100")
			return
		}
	}
	data := []map[string]any{}
	for i := (pg - 1) * size; i < n && i < pg*size; i++ {
		data = append(data, at(i))
	}
	link := func(p int) string {
		return base + "?" + url.Values{"page": {strconv.Itoa(p)}, "pageSize": {strconv.Itoa(size)}}.Encode()
	}
	pages := max(1, (n+size-1)/size)
	links := map[string]any{"self": link(pg), "first": link(1), "last": link(pages), "next": nil, "prev": nil}
	if pg < pages {
		links["next"] = link(pg + 1)
	}
	if pg > 1 {
		links["prev"] = link(pg - 1)
	}
	writeJSON(w, http.StatusOK, map[string]any{"data": data, "links": links,
		"meta": map[string]int{"page": pg, "pageSize": size, "total": n, "totalPages": pages}})
}

func (s *Server) listMessages(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	c := s.convs[r.PathValue("id")]
	if c == nil {
		fail(w, http.StatusNotFound, "not_found", "Conversation not found")
		return
	}
	page(w, r, r.URL.Path, len(c.Messages), func(i int) map[string]any { return messageResource(c, c.Messages[i]) })
}

func (s *Server) createNote(w http.ResponseWriter, r *http.Request) {
	var in struct {
		Body         string           `json:"body"`
		UserMentions []map[string]any `json:"userMentions"`
	}
	if !decode(w, r, &in, true) {
		return
	}
	if n := len([]rune(in.Body)); n < 1 || n > MaxNoteBody {
		fail(w, http.StatusBadRequest, "bad_request", fmt.Sprintf("body must be 1 to %d characters", MaxNoteBody))
		return
	}
	if len(in.UserMentions) > 20 {
		fail(w, http.StatusBadRequest, "bad_request", "at most 20 userMentions")
		return
	}
	s.mu.Lock()
	c := s.convs[r.PathValue("id")]
	if c == nil {
		s.mu.Unlock()
		fail(w, http.StatusNotFound, "not_found", "Conversation not found")
		return
	}
	now := s.opts.Now().UTC()
	if wait, over := s.capped("note", c.CustomerID, s.opts.NotesPerMinute, now); over {
		s.mu.Unlock()
		tooMany(w, wait, "notes")
		return
	}
	n := Note{ID: s.newID("not"), Body: in.Body, CreatedAt: now}
	c.Notes = append(c.Notes, n)
	s.stats.Notes++
	s.mu.Unlock()
	s.answer(w, http.StatusCreated, map[string]any{"data": noteResource(c, n)})
}

func noteResource(c *Conversation, n Note) map[string]any {
	return map[string]any{"type": "note", "id": n.ID,
		"attributes":    map[string]any{"body": n.Body, "createdAt": n.CreatedAt.Format(time.RFC3339Nano)},
		"relationships": map[string]any{"conversation": map[string]any{"data": map[string]string{"type": "conversation", "id": c.ID}}}}
}

func (s *Server) listNotes(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	c := s.convs[r.PathValue("id")]
	if c == nil {
		fail(w, http.StatusNotFound, "not_found", "Conversation not found")
		return
	}
	page(w, r, r.URL.Path, len(c.Notes), func(i int) map[string]any { return noteResource(c, c.Notes[i]) })
}

func (s *Server) getUser(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	id := r.PathValue("id")
	name, ok := s.users[id]
	if !ok {
		fail(w, http.StatusNotFound, "not_found", "User not found")
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"data": map[string]any{"type": "user", "id": id,
		"attributes": map[string]any{"name": name, "displayName": name}}})
}
