// Package orderstest is a fake Orders endpoint, the HTTP contract the
// e-commerce bot looks orders up with: GET /orders/{number}?email=…
// with a bearer token, answering the order as JSON or 404 when no order
// has that number and email. It can be taken down to answer 503.
package orderstest

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
)

// Order is an order as the endpoint answers it.
type Order struct {
	Number      string `json:"number"`
	Email       string `json:"email"`
	Status      string `json:"status"`
	Carrier     string `json:"carrier,omitempty"`
	TrackingURL string `json:"tracking_url,omitempty"`
	Items       []Item `json:"items"`
}

// Item is one line of an order.
type Item struct {
	Name     string `json:"name"`
	Quantity int    `json:"quantity"`
}

// Server is the fake endpoint. Its URL is the base URL to configure.
type Server struct {
	*httptest.Server
	Token string

	mu       sync.Mutex // guards the fields below
	orders   map[string]Order
	down     bool
	requests []string // "number email" of every authorised lookup
}

// NewServer starts a fake that accepts token; Close stops it.
func NewServer(token string) *Server {
	s := &Server{Token: token, orders: map[string]Order{}}
	s.Server = httptest.NewServer(http.HandlerFunc(s.serve))
	return s
}

// Add stores an order.
func (s *Server) Add(o Order) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.orders[o.Number] = o
}

// SetDown makes every request answer 503 (down) or be served again.
func (s *Server) SetDown(down bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.down = down
}

// Lookups returns "number email" for every authorised lookup received.
func (s *Server) Lookups() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.requests...)
}

func (s *Server) serve(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.down {
		http.Error(w, "down", http.StatusServiceUnavailable)
		return
	}
	if r.Header.Get("Authorization") != "Bearer "+s.Token {
		http.Error(w, "unauthorized", http.StatusUnauthorized)
		return
	}
	number, ok := strings.CutPrefix(r.URL.Path, "/orders/")
	if r.Method != http.MethodGet || !ok || number == "" || strings.Contains(number, "/") {
		http.NotFound(w, r)
		return
	}
	email := r.URL.Query().Get("email")
	s.requests = append(s.requests, number+" "+email)
	o, ok := s.orders[number]
	if !ok || !strings.EqualFold(o.Email, email) {
		http.NotFound(w, r)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	json.NewEncoder(w).Encode(o)
}
