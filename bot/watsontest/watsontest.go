// Package watsontest is a fake Watson Assistant v2 service with its IBM
// Cloud IAM token endpoint, in one server:
//
//	POST /identity/token   form grant_type=urn:ibm:params:oauth:grant-type:apikey&apikey=…
//	                       → {access_token, refresh_token, token_type, expires_in, expiration}
//	POST   /v2/assistants/{id}/sessions?version=…                → 201 {session_id}
//	DELETE /v2/assistants/{id}/sessions/{sid}?version=…          → 200 {}
//	POST   /v2/assistants/{id}/sessions/{sid}/message?version=…  {"input":{"message_type":"text","text":…}}
//	                       → 200 {"output":{"generic":[…],"intents":[],"entities":[]},"user_id":…}
//
// Tokens expire on the fake's clock, sessions after InactivityTimeout
// without a message. It is strict: a wrong grant type or API key is
// 400 from IAM, a missing, unknown or expired bearer token 401, a call
// without version 400, an unknown assistant or session 404 (an expired
// session answers {"error":"Invalid Session","code":404}), a message
// that is not the documented JSON or whose text holds CR, LF or tab
// 400. Replies come from scripted rules; it can throttle (429 with
// Retry-After), be taken down or answer a raw body.
package watsontest

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"time"
)

// TokenPath is the IAM token endpoint's path.
const TokenPath = "/identity/token"

// Server is the fake. URL is the service URL to configure, URL +
// TokenPath the token URL.
type Server struct {
	*httptest.Server
	APIKey      string
	AssistantID string
	// TokenLifetime is how long a token lives; 3600 s unless set before
	// the first request.
	TokenLifetime time.Duration
	// InactivityTimeout is how long a session lives without a message;
	// 5 min unless set before the first request.
	InactivityTimeout time.Duration

	now func() time.Time

	mu            sync.Mutex           // guards the fields below
	tokens        map[string]time.Time // token → expiry
	tokenRequests int
	sessions      map[string]time.Time // session id → last used
	created       int
	deleted       []string
	rules         map[string][]any
	messages      []Message
	throttle      int // requests still to answer 429
	retryAfter    int
	down          int
	raw           []byte
}

// Message is a message the fake took in.
type Message struct {
	Session, Text, UserID string
}

// NewServer starts a fake of the assistant assistantID that takes
// apiKey, with time from now; Close stops it.
func NewServer(apiKey, assistantID string, now func() time.Time) *Server {
	s := &Server{APIKey: apiKey, AssistantID: assistantID, TokenLifetime: time.Hour, InactivityTimeout: 5 * time.Minute,
		now: now, tokens: map[string]time.Time{}, sessions: map[string]time.Time{}, rules: map[string][]any{}}
	s.Server = httptest.NewServer(http.HandlerFunc(s.serve))
	return s
}

// TokenURL is the IAM token endpoint's URL.
func (s *Server) TokenURL() string { return s.URL + TokenPath }

// On answers generic (output.generic items: Text, Option,
// ConnectToAgent or any JSON object) to every message equal to text.
func (s *Server) On(text string, generic ...any) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.rules[text] = generic
}

// Text is a text item.
func Text(text string) any { return map[string]any{"response_type": "text", "text": text} }

// Option is an option item; each option's label is shown and
// values[label] (or the label) is its input text.
func Option(title string, labels []string, values map[string]string) any {
	var opts []any
	for _, l := range labels {
		v := values[l]
		if v == "" {
			v = l
		}
		opts = append(opts, map[string]any{"label": l, "value": map[string]any{"input": map[string]any{"text": v}}})
	}
	return map[string]any{"response_type": "option", "title": title, "options": opts}
}

// ConnectToAgent is a connect_to_agent item.
func ConnectToAgent(toAgent, available string, summary []string, historyKey string) any {
	var items []any
	for _, l := range summary {
		items = append(items, map[string]any{"response_type": "text", "text": l})
	}
	return map[string]any{"response_type": "connect_to_agent", "message_to_human_agent": toAgent,
		"agent_available":   map[string]any{"message": available},
		"agent_unavailable": map[string]any{"message": "No one is available."},
		"transfer_info":     map[string]any{"session_history_key": historyKey, "summary_message_to_agent": items}}
}

// Throttle makes the next n API calls (not token requests) answer 429
// with Retry-After: retryAfter.
func (s *Server) Throttle(n, retryAfter int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.throttle, s.retryAfter = n, retryAfter
}

// SetDown makes every request answer status (0: served again).
func (s *Server) SetDown(status int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.down = status
}

// SetRaw makes every message answer 200 with body (nil: the rules).
func (s *Server) SetRaw(body []byte) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.raw = body
}

// ExpireSessions forgets every session, as Watson does after inactivity.
func (s *Server) ExpireSessions() {
	s.mu.Lock()
	defer s.mu.Unlock()
	clear(s.sessions)
}

// RevokeTokens makes every token issued so far unknown.
func (s *Server) RevokeTokens() {
	s.mu.Lock()
	defer s.mu.Unlock()
	clear(s.tokens)
}

// Messages returns the messages taken in, in order.
func (s *Server) Messages() []Message {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Message(nil), s.messages...)
}

// TokenRequests returns how many tokens IAM issued.
func (s *Server) TokenRequests() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.tokenRequests
}

// SessionsCreated returns how many sessions were created.
func (s *Server) SessionsCreated() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.created
}

// Deleted returns the sessions deleted, in order.
func (s *Server) Deleted() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.deleted...)
}

func (s *Server) serve(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.down != 0 {
		writeError(w, s.down, http.StatusText(s.down))
		return
	}
	if r.URL.Path == TokenPath {
		s.issueToken(w, r)
		return
	}
	rest, ok := strings.CutPrefix(r.URL.Path, "/v2/assistants/")
	if !ok {
		writeError(w, http.StatusNotFound, "Resource not found")
		return
	}
	if exp, ok := s.tokens[strings.TrimPrefix(r.Header.Get("Authorization"), "Bearer ")]; !ok || !strings.HasPrefix(r.Header.Get("Authorization"), "Bearer ") || !s.now().Before(exp) {
		writeError(w, http.StatusUnauthorized, "Unauthorized")
		return
	}
	if s.throttle > 0 {
		s.throttle--
		w.Header().Set("Retry-After", fmt.Sprint(s.retryAfter))
		writeError(w, http.StatusTooManyRequests, "Rate limit exceeded")
		return
	}
	if _, err := time.Parse(time.DateOnly, r.URL.Query().Get("version")); err != nil {
		writeError(w, http.StatusBadRequest, "Missing or invalid version query parameter")
		return
	}
	parts := strings.Split(rest, "/")
	if parts[0] != s.AssistantID || len(parts) < 2 || parts[1] != "sessions" {
		writeError(w, http.StatusNotFound, "Resource not found")
		return
	}
	switch {
	case len(parts) == 2 && r.Method == http.MethodPost:
		s.created++
		id := fmt.Sprintf("session-%d", s.created)
		s.sessions[id] = s.now()
		writeJSON(w, http.StatusCreated, map[string]string{"session_id": id})
	case len(parts) == 3 && r.Method == http.MethodDelete:
		if !s.liveSession(parts[2]) {
			writeError(w, http.StatusNotFound, "Invalid Session")
			return
		}
		delete(s.sessions, parts[2])
		s.deleted = append(s.deleted, parts[2])
		writeJSON(w, http.StatusOK, map[string]any{})
	case len(parts) == 4 && parts[3] == "message" && r.Method == http.MethodPost:
		s.message(w, r, parts[2])
	default:
		writeError(w, http.StatusNotFound, "Resource not found")
	}
}

// liveSession reports whether id is a session used within the
// inactivity timeout; an expired one is forgotten.
func (s *Server) liveSession(id string) bool {
	last, ok := s.sessions[id]
	if ok && s.now().Sub(last) >= s.InactivityTimeout {
		delete(s.sessions, id)
		return false
	}
	return ok
}

func (s *Server) message(w http.ResponseWriter, r *http.Request, session string) {
	if !s.liveSession(session) {
		writeError(w, http.StatusNotFound, "Invalid Session")
		return
	}
	var in struct {
		Input *struct {
			MessageType string `json:"message_type"`
			Text        string `json:"text"`
		} `json:"input"`
		UserID string `json:"user_id"`
	}
	dec := json.NewDecoder(r.Body)
	dec.DisallowUnknownFields()
	if err := dec.Decode(&in); err != nil || in.Input == nil || in.Input.MessageType != "text" {
		writeError(w, http.StatusBadRequest, "Invalid request body: input.message_type must be text")
		return
	}
	if strings.ContainsAny(in.Input.Text, "\r\n\t") {
		writeError(w, http.StatusBadRequest, "input.text must not contain carriage return, newline or tab")
		return
	}
	s.sessions[session] = s.now()
	s.messages = append(s.messages, Message{Session: session, Text: in.Input.Text, UserID: in.UserID})
	if s.raw != nil {
		w.Header().Set("Content-Type", "application/json")
		w.Write(s.raw)
		return
	}
	generic := s.rules[in.Input.Text]
	if generic == nil {
		generic = []any{}
	}
	writeJSON(w, http.StatusOK, map[string]any{"output": map[string]any{"generic": generic, "intents": []any{}, "entities": []any{}}, "user_id": in.UserID})
}

func (s *Server) issueToken(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost || r.Header.Get("Content-Type") != "application/x-www-form-urlencoded" {
		writeIAMError(w, http.StatusBadRequest, "BXNIM0109E", "Property missing or empty.")
		return
	}
	if err := r.ParseForm(); err != nil || r.PostForm.Get("grant_type") != "urn:ibm:params:oauth:grant-type:apikey" {
		writeIAMError(w, http.StatusBadRequest, "BXNIM0103E", "Unsupported grant type.")
		return
	}
	if r.PostForm.Get("apikey") != s.APIKey {
		writeIAMError(w, http.StatusBadRequest, "BXNIM0415E", "Provided API key could not be found.")
		return
	}
	s.tokenRequests++
	tok := fmt.Sprintf("token-%d", s.tokenRequests)
	exp := s.now().Add(s.TokenLifetime)
	s.tokens[tok] = exp
	writeJSON(w, http.StatusOK, map[string]any{"access_token": tok, "refresh_token": "not-supported", "token_type": "Bearer",
		"expires_in": int64(s.TokenLifetime / time.Second), "expiration": exp.Unix()})
}

func writeError(w http.ResponseWriter, status int, msg string) {
	writeJSON(w, status, map[string]any{"error": msg, "code": status})
}

func writeIAMError(w http.ResponseWriter, status int, code, msg string) {
	writeJSON(w, status, map[string]any{"errorCode": code, "errorMessage": msg})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	var buf bytes.Buffer
	json.NewEncoder(&buf).Encode(v)
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	w.Write(buf.Bytes())
}
