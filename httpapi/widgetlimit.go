package httpapi

import (
	"sync"
	"time"

	"golang.org/x/time/rate"

	"github.com/helplinehq/helpline/connectapi"
)

// addressLimiter is a token bucket per key (an operation and a client
// address), as connectapi keeps one per participant. Buckets idle long
// enough to be full again are dropped, so it holds only the addresses
// active within the refill time. It is a node's own memory.
type addressLimiter struct {
	rate connectapi.Rate

	mu        sync.Mutex // guards buckets and lastSweep
	buckets   map[string]*rate.Limiter
	lastSweep time.Time
}

func newAddressLimiter(r connectapi.Rate) *addressLimiter {
	return &addressLimiter{rate: r, buckets: map[string]*rate.Limiter{}}
}

// take takes a token of key's bucket at now and returns zero, or, when
// the bucket is empty, takes nothing and returns how long until it has
// one again.
func (l *addressLimiter) take(key string, now time.Time) time.Duration {
	l.mu.Lock()
	defer l.mu.Unlock()
	if now.Sub(l.lastSweep) >= time.Second {
		l.lastSweep = now
		for k, b := range l.buckets {
			if b.TokensAt(now) >= float64(b.Burst()) {
				delete(l.buckets, k)
			}
		}
	}
	b := l.buckets[key]
	if b == nil {
		b = rate.NewLimiter(rate.Limit(l.rate.Rate), l.rate.Burst)
		l.buckets[key] = b
	}
	res := b.ReserveN(now, 1)
	if !res.OK() {
		return time.Hour
	}
	if d := res.DelayFrom(now); d > 0 {
		res.CancelAt(now)
		return d
	}
	return 0
}
