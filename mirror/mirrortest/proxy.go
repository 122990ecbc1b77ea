// Package mirrortest helps test mirroring against the faults of the real
// world. Proxy stands between a connector and the fake of its outside
// system and injects what a helpdesk does on a bad day: error statuses,
// 429 with Retry-After, requests that time out after their effect landed,
// and slow answers that keep deliveries in flight when a process is
// killed.
package mirrortest

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"time"
)

// Fault makes the proxy handle the next Count requests that Match (all of
// them while Count < 0; every request when Match is nil) itself: with
// Status (and Retry-After when set) without forwarding them, or, with
// Hang, by forwarding the request and then holding the answer until the
// client gives up — a timeout whose effect landed.
type Fault struct {
	Count      int
	Status     int
	RetryAfter string
	Hang       bool
	Match      func(*http.Request) bool
}

// Exchange is one request the proxy saw and how it answered; Status is 0
// when the client gave up first.
type Exchange struct {
	Method, Path string
	Status       int
	Forwarded    bool
	At           time.Time
}

// Proxy forwards requests to a target URL, faults aside. Its methods are
// safe for concurrent use.
type Proxy struct {
	// URL is the proxy's address: configure the connector with it.
	URL string

	srv    *httptest.Server
	target string
	client *http.Client

	mu    sync.Mutex // guards the fields below
	fault Fault
	lag   time.Duration
	match func(*http.Request) bool
	held  int
	log   []Exchange
}

// NewProxy starts a proxy in front of target (a base URL); close it when
// done.
func NewProxy(target string) *Proxy {
	p := &Proxy{target: target, client: &http.Client{}}
	p.srv = httptest.NewServer(http.HandlerFunc(p.serve))
	p.URL = p.srv.URL
	return p
}

// Close stops the proxy.
func (p *Proxy) Close() { p.srv.Close() }

// Fail sets the fault; Fail(Fault{}) heals.
func (p *Proxy) Fail(f Fault) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.fault = f
}

// SetLag holds the answers to requests that match (all requests when
// match is nil) for d after the target answered them: their effect lands
// at once, the client hears of it d later. Zero turns it off.
func (p *Proxy) SetLag(d time.Duration, match func(*http.Request) bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.lag, p.match = d, match
}

// Held is how many answers the proxy holds back right now: requests whose
// effect landed and whose client does not know it yet.
func (p *Proxy) Held() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.held
}

// Log returns the exchanges so far, in the order they finished.
func (p *Proxy) Log() []Exchange {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]Exchange(nil), p.log...)
}

func (p *Proxy) serve(w http.ResponseWriter, r *http.Request) {
	ex := Exchange{Method: r.Method, Path: r.URL.Path, At: time.Now()}
	defer func() {
		p.mu.Lock()
		p.log = append(p.log, ex)
		p.mu.Unlock()
	}()
	body, err := io.ReadAll(r.Body)
	if err != nil {
		return
	}
	p.mu.Lock()
	f := p.fault
	if f.Match != nil && !f.Match(r) {
		f = Fault{}
	} else if f.Count > 0 {
		p.fault.Count--
	}
	lag := p.lag
	if p.match != nil && !p.match(r) {
		lag = 0
	}
	p.mu.Unlock()

	if f.Count != 0 && !f.Hang {
		if f.RetryAfter != "" {
			w.Header().Set("Retry-After", f.RetryAfter)
		}
		ex.Status = f.Status
		http.Error(w, http.StatusText(f.Status), f.Status)
		return
	}
	// The request reaches the target even if the client goes away
	// meanwhile, as one already on the wire would.
	out, err := http.NewRequestWithContext(context.WithoutCancel(r.Context()), r.Method, p.target+r.URL.RequestURI(), bytes.NewReader(body))
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadGateway)
		return
	}
	out.Header = r.Header.Clone()
	resp, err := p.client.Do(out)
	if err != nil {
		ex.Status = http.StatusBadGateway
		http.Error(w, err.Error(), http.StatusBadGateway)
		return
	}
	answer, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	ex.Forwarded = true
	if f.Count != 0 {
		p.hold(r.Context(), 0)
		return
	}
	if lag > 0 && !p.hold(r.Context(), lag) {
		return
	}
	for k, v := range resp.Header {
		w.Header()[k] = v
	}
	w.WriteHeader(resp.StatusCode)
	w.Write(answer)
	ex.Status = resp.StatusCode
}

// hold waits for d (forever when d is 0) or until the client gives up,
// counted as held meanwhile; it reports whether the client still waits.
func (p *Proxy) hold(ctx context.Context, d time.Duration) bool {
	p.mu.Lock()
	p.held++
	p.mu.Unlock()
	defer func() {
		p.mu.Lock()
		p.held--
		p.mu.Unlock()
	}()
	var timeout <-chan time.Time
	if d > 0 {
		t := time.NewTimer(d)
		defer t.Stop()
		timeout = t.C
	}
	select {
	case <-timeout:
		return true
	case <-ctx.Done():
		return false
	}
}
