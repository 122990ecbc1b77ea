package connectapi

import (
	"sync"
	"time"

	"golang.org/x/time/rate"
)

// Rate is a token bucket: Rate requests per second on average, bursts of
// up to Burst.
type Rate struct {
	Rate  float64
	Burst int
}

// RateLimits are per-instance request limits by operation name
// (StartChatContact, SendMessage, ...). Each instance has its own bucket
// per operation; a request over the limit is refused with 429
// ThrottlingException (TooManyRequestsException for StartChatContact).
type RateLimits struct {
	// Disabled turns every limit off (load tests).
	Disabled bool
	// PerOperation holds the limited operations; operations not in it are
	// not limited. Nil means DefaultRateLimits().PerOperation.
	PerOperation map[string]Rate
}

// DefaultRateLimits returns Amazon Connect's default quotas, so that
// clients written for Connect see the same throttling.
func DefaultRateLimits() RateLimits {
	return RateLimits{PerOperation: map[string]Rate{
		"StartChatContact":            {5, 8},
		"CreateParticipant":           {5, 8},
		"GetContactAttributes":        {10, 15},
		"UpdateContactAttributes":     {10, 15},
		"DescribeContact":             {10, 15},
		"StopContact":                 {10, 15},
		"SendMessage":                 {10, 15},
		"SendEvent":                   {10, 15},
		"CreateParticipantConnection": {6, 9},
		"GetTranscript":               {8, 12},
		"GetAttachment":               {8, 12},
		"DisconnectParticipant":       {3, 5},
		"StartAttachmentUpload":       {2, 5},
		"CompleteAttachmentUpload":    {2, 5},
	}}
}

// limiter holds the buckets. The number of buckets is bounded by the
// instances (which only authenticated callers name) times the operations.
type limiter struct {
	limits map[string]Rate
	mu     sync.Mutex // guards buckets
	// buckets is keyed by instance id and operation.
	buckets map[[2]string]*rate.Limiter
}

func newLimiter(cfg RateLimits) *limiter {
	if cfg.Disabled {
		return &limiter{}
	}
	if cfg.PerOperation == nil {
		cfg = DefaultRateLimits()
	}
	return &limiter{limits: cfg.PerOperation, buckets: make(map[[2]string]*rate.Limiter)}
}

// allow reports whether instanceID may make one more op request at now.
func (l *limiter) allow(instanceID, op string, now time.Time) bool {
	r, ok := l.limits[op]
	if !ok {
		return true
	}
	key := [2]string{instanceID, op}
	l.mu.Lock()
	b := l.buckets[key]
	if b == nil {
		b = rate.NewLimiter(rate.Limit(r.Rate), r.Burst)
		l.buckets[key] = b
	}
	l.mu.Unlock()
	return b.AllowN(now, 1)
}
