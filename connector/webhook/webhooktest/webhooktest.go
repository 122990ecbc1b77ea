// Package webhooktest is a webhook receiver for tests: an httptest server
// that checks Helpline's webhook signature and timestamp, records every
// delivery (duplicates included, so tests can assert exactly-once by
// delivery id), and can be told to fail: 5xx for a while, 429 with
// Retry-After, hang, or refuse with a permanent 4xx.
//
// It reads the documented wire format on its own and shares no code with
// the connector it tests.
package webhooktest

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Tolerance is how far a signature's timestamp may be from the receiver's
// clock.
const Tolerance = 5 * time.Minute

// Delivery is one accepted request.
type Delivery struct {
	ID         string // X-Helpline-Delivery
	Attempt    int    // X-Helpline-Attempt
	ContactID  string
	ItemID     string
	Seq        int64
	Type       string
	Role       string
	Content    string
	Origin     string
	Body       []byte
	ReceivedAt time.Time
}

// Failure makes the receiver answer the next Count requests (all of them
// while Count < 0) with Status, a Retry-After header when set, or by hanging
// until the client gives up when Hang is set.
type Failure struct {
	Count      int
	Status     int
	RetryAfter string
	Hang       bool
}

// Receiver is a running test receiver. URL is its address.
type Receiver struct {
	*httptest.Server
	secret []byte
	// Now is the receiver's clock for the timestamp check; it defaults to
	// time.Now and may be set before the first request.
	Now func() time.Time

	// mu guards the fields below.
	mu         sync.Mutex
	deliveries []Delivery
	failure    Failure
	refused    int
	failed     int
	changed    chan struct{}
}

// NewReceiver starts a receiver that verifies signatures with secret.
// Close it when done.
func NewReceiver(secret string) *Receiver {
	r := &Receiver{secret: []byte(secret), Now: time.Now, changed: make(chan struct{})}
	r.Server = httptest.NewServer(http.HandlerFunc(r.serve))
	return r
}

// Fail sets the receiver's failure mode; Fail(Failure{}) heals it.
func (r *Receiver) Fail(f Failure) {
	r.mu.Lock()
	r.failure = f
	r.mu.Unlock()
}

// Deliveries returns every accepted delivery in arrival order, duplicates
// included.
func (r *Receiver) Deliveries() []Delivery {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]Delivery(nil), r.deliveries...)
}

// Unique returns the accepted deliveries with repeats of a delivery id left
// out, in order of first arrival.
func (r *Receiver) Unique() []Delivery {
	seen := map[string]bool{}
	var out []Delivery
	for _, d := range r.Deliveries() {
		if !seen[d.ID] {
			seen[d.ID] = true
			out = append(out, d)
		}
	}
	return out
}

// Refused counts requests refused for their signature or body.
func (r *Receiver) Refused() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.refused
}

// Failed counts requests answered by the failure mode.
func (r *Receiver) Failed() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.failed
}

// Changed returns a channel closed at the next accepted delivery, for
// tests that wait without polling.
func (r *Receiver) Changed() <-chan struct{} {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.changed
}

func (r *Receiver) serve(w http.ResponseWriter, req *http.Request) {
	body, err := io.ReadAll(io.LimitReader(req.Body, 1<<20))
	if err != nil || req.Method != http.MethodPost {
		r.refuse(w, http.StatusBadRequest, "bad request")
		return
	}
	if !r.verify(req.Header.Get("X-Helpline-Signature"), body) {
		r.refuse(w, http.StatusUnauthorized, "bad signature")
		return
	}
	var p struct {
		DeliveryID string `json:"delivery_id"`
		Contact    struct {
			ID string `json:"id"`
		} `json:"contact"`
		Item struct {
			ID          string `json:"id"`
			Seq         int64  `json:"seq"`
			Type        string `json:"type"`
			Content     string `json:"content"`
			Origin      string `json:"origin"`
			Participant struct {
				Role string `json:"role"`
			} `json:"participant"`
		} `json:"item"`
	}
	id := req.Header.Get("X-Helpline-Delivery")
	attempt, aerr := strconv.Atoi(req.Header.Get("X-Helpline-Attempt"))
	if err := json.Unmarshal(body, &p); err != nil || id == "" || id != p.DeliveryID || aerr != nil || attempt < 1 {
		r.refuse(w, http.StatusBadRequest, "bad payload or headers")
		return
	}

	r.mu.Lock()
	if f := r.failure; f.Count != 0 {
		if f.Count > 0 {
			r.failure.Count--
		}
		r.failed++
		r.mu.Unlock()
		if f.Hang {
			<-req.Context().Done()
			return
		}
		if f.RetryAfter != "" {
			w.Header().Set("Retry-After", f.RetryAfter)
		}
		http.Error(w, http.StatusText(f.Status), f.Status)
		return
	}
	r.deliveries = append(r.deliveries, Delivery{
		ID: id, Attempt: attempt, ContactID: p.Contact.ID, ItemID: p.Item.ID, Seq: p.Item.Seq,
		Type: p.Item.Type, Role: p.Item.Participant.Role, Content: p.Item.Content, Origin: p.Item.Origin,
		Body: body, ReceivedAt: time.Now(),
	})
	close(r.changed)
	r.changed = make(chan struct{})
	r.mu.Unlock()
	w.WriteHeader(http.StatusNoContent)
}

func (r *Receiver) refuse(w http.ResponseWriter, status int, msg string) {
	r.mu.Lock()
	r.refused++
	r.mu.Unlock()
	http.Error(w, msg, status)
}

// verify checks "t=<unix>,v1=<hex>" against body and the clock.
func (r *Receiver) verify(header string, body []byte) bool {
	var ts, sig string
	for _, part := range strings.Split(header, ",") {
		k, v, _ := strings.Cut(part, "=")
		switch k {
		case "t":
			ts = v
		case "v1":
			sig = v
		}
	}
	sec, err := strconv.ParseInt(ts, 10, 64)
	if err != nil {
		return false
	}
	if d := r.Now().Sub(time.Unix(sec, 0)); d > Tolerance || d < -Tolerance {
		return false
	}
	got, err := hex.DecodeString(sig)
	if err != nil {
		return false
	}
	m := hmac.New(sha256.New, r.secret)
	m.Write([]byte(ts + "."))
	m.Write(body)
	return hmac.Equal(got, m.Sum(nil))
}
