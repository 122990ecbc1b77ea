// Package rasatest is a fake Rasa server's REST channel:
// POST /webhooks/rest/webhook with {"sender", "message", "metadata"?,
// "input_channel"?} answers 200 with the array of bot messages a scripted
// rule gives for the message ([] when no rule matches, as Rasa answers
// when its policies say nothing). GET /webhooks/rest/ is the health
// check. It is strict about what Rasa would not take: another path 404,
// another method 405, a body that is not that JSON object (or lacks the
// sender or message) 400. It can be taken down (a status for every
// request), made to answer a raw body, or to hang until the caller gives
// up.
package rasatest

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
)

// WebhookPath is the REST channel's webhook path.
const WebhookPath = "/webhooks/rest/webhook"

// Message is one bot message as the REST channel answers it; empty
// fields are left out.
type Message struct {
	RecipientID string   `json:"recipient_id"`
	Text        string   `json:"text,omitempty"`
	Image       string   `json:"image,omitempty"`
	Buttons     []Button `json:"buttons,omitempty"`
	Custom      any      `json:"custom,omitempty"`
}

// Button is a button of a message.
type Button struct {
	Title   string `json:"title"`
	Payload string `json:"payload"`
}

// Request is a message the webhook took in.
type Request struct {
	Sender   string
	Message  string
	Metadata map[string]any
}

// Server is the fake. URL + WebhookPath is the URL to configure.
type Server struct {
	*httptest.Server

	mu       sync.Mutex // guards the fields below
	rules    map[string][]Message
	down     int    // a status every request answers, or 0
	raw      []byte // a body every webhook request answers, or nil
	hang     bool
	received []Request
	tries    int // webhook requests received, taken in or not

	closed chan struct{} // closed by Close, to release hanging requests
}

// NewServer starts a fake with no rules; Close stops it.
func NewServer() *Server {
	s := &Server{rules: map[string][]Message{}, closed: make(chan struct{})}
	s.Server = httptest.NewServer(http.HandlerFunc(s.serve))
	return s
}

// Close releases the requests left hanging and stops the server.
func (s *Server) Close() {
	select {
	case <-s.closed:
	default:
		close(s.closed)
	}
	s.Server.Close()
}

// WebhookURL is the URL of the REST channel's webhook.
func (s *Server) WebhookURL() string { return s.URL + WebhookPath }

// On answers msgs (their recipient_id set to the sender) to every
// message equal to text.
func (s *Server) On(text string, msgs ...Message) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.rules[text] = msgs
}

// SetDown makes every request answer status (0: served again).
func (s *Server) SetDown(status int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.down = status
}

// SetRaw makes the webhook answer 200 with body as JSON whatever was
// asked (nil: the rules again).
func (s *Server) SetRaw(body []byte) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.raw = body
}

// SetHang makes the webhook answer nothing until the caller goes away.
func (s *Server) SetHang(hang bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.hang = hang
}

// Received returns the messages the webhook took in, in order.
func (s *Server) Received() []Request {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Request(nil), s.received...)
}

// Tries returns how many webhook requests arrived, answered or not.
func (s *Server) Tries() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.tries
}

func (s *Server) serve(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	if r.URL.Path == WebhookPath {
		s.tries++
	}
	down, raw, hang := s.down, s.raw, s.hang
	s.mu.Unlock()
	switch {
	case down != 0:
		http.Error(w, http.StatusText(down), down)
		return
	case r.URL.Path == "/webhooks/rest/" || r.URL.Path == "/webhooks/rest":
		if r.Method != http.MethodGet {
			http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
			return
		}
		writeJSON(w, map[string]string{"status": "ok"})
		return
	case r.URL.Path != WebhookPath:
		http.NotFound(w, r)
		return
	case r.Method != http.MethodPost:
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return
	case hang:
		// Once the body is read the server notices the caller leaving.
		io.Copy(io.Discard, r.Body)
		select {
		case <-r.Context().Done():
		case <-s.closed:
		}
		return
	}
	var req struct {
		Sender       *string        `json:"sender"`
		Message      *string        `json:"message"`
		Metadata     map[string]any `json:"metadata"`
		InputChannel string         `json:"input_channel"`
	}
	dec := json.NewDecoder(r.Body)
	dec.DisallowUnknownFields()
	if err := dec.Decode(&req); err != nil || req.Sender == nil || *req.Sender == "" || req.Message == nil {
		http.Error(w, "the body must be {\"sender\", \"message\", \"metadata\"?}", http.StatusBadRequest)
		return
	}
	s.mu.Lock()
	s.received = append(s.received, Request{Sender: *req.Sender, Message: *req.Message, Metadata: req.Metadata})
	msgs := append([]Message{}, s.rules[*req.Message]...)
	s.mu.Unlock()
	if raw != nil {
		w.Header().Set("Content-Type", "application/json")
		w.Write(raw)
		return
	}
	for i := range msgs {
		msgs[i].RecipientID = *req.Sender
	}
	writeJSON(w, msgs)
}

func writeJSON(w http.ResponseWriter, v any) {
	var buf bytes.Buffer
	json.NewEncoder(&buf).Encode(v)
	w.Header().Set("Content-Type", "application/json")
	w.Write(buf.Bytes())
}
