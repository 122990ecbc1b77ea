package outbound

import (
	"context"
	"errors"
	"net/http"
	"sync"
	"time"

	"golang.org/x/time/rate"

	"github.com/helplinehq/helpline"
)

// ErrLimited is the cause of a Limiter wait that would outlast its
// context.
var ErrLimited = errors.New("account rate limit reached locally")

// Limiter paces the requests of one account (one API token) under its
// budget, and holds them all back while the account's own rate-limit
// headers say the budget is spent. It is memory only, per process: after
// a restart, or beside another node, the system's 429 and Retry-After
// pace what the limiter could not. Methods are safe for concurrent use.
type Limiter struct {
	now    func() time.Time
	bucket *rate.Limiter

	mu    sync.Mutex // guards until
	until time.Time  // no request before this, from Observe
}

// NewLimiter paces requests at r per second with bursts of burst,
// reading time from now (nil: time.Now).
func NewLimiter(r rate.Limit, burst int, now func() time.Time) *Limiter {
	if now == nil {
		now = time.Now
	}
	return &Limiter{now: now, bucket: rate.NewLimiter(r, burst)}
}

// PerMinute paces requests under n per minute; see SetPerMinute.
func PerMinute(n int, now func() time.Time) *Limiter {
	r, burst := perMinute(n)
	return NewLimiter(r, burst, now)
}

// perMinute is the bucket for a budget of n per minute; see SetPerMinute.
func perMinute(n int) (rate.Limit, int) { return rate.Limit(float64(n) * 0.95 / 60), max(1, n/40) }

// SetPerMinute sets the budget to n per minute, for systems that count
// in fixed one-minute windows (Zendesk, Kustomer, Freshdesk). A bucket of
// rate r and burst b sends at most b + 60·r in any 60 seconds, wherever
// the system's window starts, so no clock needs to agree with the
// system's: the bucket runs at 95% of n with bursts of a fortieth of it,
// 97.5% of n in any window. The 2.5% left covers requests sent in one
// minute that arrive in the next (1.5 s of latency jitter at the full
// rate), and the 5% under n the requests the account makes elsewhere
// meanwhile (an agent's update in the web interface counts against
// Zendesk's Update Ticket limit too).
func (l *Limiter) SetPerMinute(n int) {
	r, burst := perMinute(n)
	if l.bucket.Limit() == r && l.bucket.Burst() == burst {
		return
	}
	now := l.now()
	l.bucket.SetLimitAt(now, r)
	l.bucket.SetBurstAt(now, burst)
}

// Observe reads the rate-limit headers of an answer (ResetWait) and,
// when they say the budget is spent, holds every request back until the
// window resets.
func (l *Limiter) Observe(h http.Header) {
	now := l.now()
	wait := ResetWait(h, now, false)
	if wait <= 0 {
		return
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if until := now.Add(wait); until.After(l.until) {
		l.until = until
	}
}

// Reserve takes the budget of n requests now and returns how long until
// they may be sent: 0, or more when the budget is spent. The caller sends them
// then, without Wait: the budget is theirs. A caller that will not wait
// so long can go away and send when it comes back, keeping its place in
// the line (a write gathered late carries more).
func (l *Limiter) Reserve(n int) time.Duration {
	now := l.now()
	l.mu.Lock()
	held := l.until.Sub(now)
	l.mu.Unlock()
	r := l.bucket.ReserveN(now.Add(max(held, 0)), n)
	if !r.OK() {
		// More than a burst: no reservation can hold it; the caller's
		// sends wait for their budget one by one instead.
		return 0
	}
	return r.DelayFrom(now)
}

// Available is how many requests may be sent now without waiting: 0
// while the account's headers hold requests back. A connector that
// can send its writes one by one or gathered into fewer asks it to
// choose: gathering only when behind keeps each write as small as the
// budget allows.
func (l *Limiter) Available() float64 {
	now := l.now()
	l.mu.Lock()
	held := l.until.After(now)
	l.mu.Unlock()
	if held {
		return 0
	}
	return max(0, l.bucket.TokensAt(now))
}

// Wait blocks until a request may be sent. When the wait would outlast
// ctx it spends nothing and returns at once a retryable
// *helpline.MirrorError with Err ErrLimited and RetryAfter the wait it
// would have been; when ctx ends meanwhile, one with ctx's error.
func (l *Limiter) Wait(ctx context.Context) error {
	now := l.now()
	l.mu.Lock()
	held := l.until.Sub(now)
	l.mu.Unlock()
	r := l.bucket.ReserveN(now.Add(max(held, 0)), 1)
	if !r.OK() {
		return &helpline.MirrorError{Err: ErrLimited}
	}
	d := r.DelayFrom(now)
	if d <= 0 {
		return nil
	}
	if dl, ok := ctx.Deadline(); ok && time.Until(dl) < d {
		r.CancelAt(now)
		return &helpline.MirrorError{Err: ErrLimited, RetryAfter: d}
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		r.CancelAt(l.now())
		return &helpline.MirrorError{Err: ctx.Err()}
	}
}

// Pacer keeps a budget per object (a ticket, a customer) for systems
// that limit writes to one object: a bucket of burst refilled one every
// every. Zendesk's 30 updates per ticket per 10 minutes is a burst of 5
// refilled every 24s; Kustomer's 120 messages per customer per minute a
// burst of 10 refilled every 550ms. It is memory only: after a restart
// the system's 429 and Retry-After pace the first writes. Methods are
// safe for concurrent use.
type Pacer struct {
	every time.Duration
	burst int

	mu      sync.Mutex // guards objects
	objects map[string]*rate.Limiter
}

// NewPacer returns a pacer giving each object burst writes at once and
// one more every every.
func NewPacer(burst int, every time.Duration) *Pacer {
	return &Pacer{every: every, burst: burst, objects: map[string]*rate.Limiter{}}
}

// Take spends n writes of key's budget at now, or spends nothing and
// returns how long until n are available.
func (p *Pacer) Take(key string, n int, now time.Time) time.Duration {
	p.mu.Lock()
	defer p.mu.Unlock()
	l := p.objects[key]
	if l == nil {
		l = rate.NewLimiter(rate.Every(p.every), p.burst)
		p.objects[key] = l
	}
	if l.AllowN(now, n) {
		return 0
	}
	missing := float64(n) - l.TokensAt(now)
	return time.Duration(missing * float64(p.every))
}

// Next is how long until key has one write to spend: a caller waits
// that long and gathers what arrives meanwhile into one write.
func (p *Pacer) Next(key string, now time.Time) time.Duration {
	p.mu.Lock()
	defer p.mu.Unlock()
	l, ok := p.objects[key]
	if !ok {
		return 0
	}
	if tokens := l.TokensAt(now); tokens < 1 {
		return time.Duration((1 - tokens) * float64(p.every))
	}
	return 0
}

// Forget drops key's budget, for an object written no more (an ended
// chat's ticket).
func (p *Pacer) Forget(key string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	delete(p.objects, key)
}
