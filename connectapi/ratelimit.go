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

// OpenWebSocket is the name, in RateLimits.PerParticipant, of opening a
// participant WebSocket (GET /participant/ws). It is no Connect operation:
// Connect documents no quota for it.
const OpenWebSocket = "OpenWebSocket"

// DefaultSocketsPerParticipant is how many WebSockets one participant may
// hold open at once when RateLimits.SocketsPerParticipant is zero. chatjs
// keeps one, and two for a moment while it replaces one (it opens the new
// socket, subscribes, then closes the old); the third leaves room for a
// socket whose client vanished without closing it and that the server
// holds until the idle timeout.
const DefaultSocketsPerParticipant = 3

// RateLimits are the request limits. Every refusal is 429
// ThrottlingException (TooManyRequestsException for StartChatContact):
//
//   - PerOperation: per instance and operation name (StartChatContact,
//     SendMessage, ...). Each instance has its own bucket per operation.
//   - PerParticipant: per participant and operation, keyed by the
//     participant of the authenticated session, so every connection and
//     WebSocket token of a participant shares its buckets. They sit below
//     the instance's, so that one chat cannot spend the whole instance's
//     quota, and are checked first: a request a participant's own limit
//     refuses takes nothing from the instance's bucket, and one the
//     instance refuses gives the participant its token back.
//   - SocketsPerParticipant: open WebSockets per participant; a socket
//     over it is refused before the upgrade with 429 ThrottlingException
//     "Too many open WebSocket connections for this participant". A slot
//     is freed when its socket closes for any reason.
//
// Limits are held in memory per handler: several nodes each apply them.
type RateLimits struct {
	// Disabled turns every limit off, the socket count included (load
	// tests).
	Disabled bool
	// PerOperation holds the limited operations per instance; operations
	// not in it are not limited. Nil means DefaultRateLimits().PerOperation.
	PerOperation map[string]Rate
	// PerParticipant holds the limited operations per participant, and
	// OpenWebSocket for socket opens; operations not in it are not limited.
	// Nil means DefaultRateLimits().PerParticipant.
	PerParticipant map[string]Rate
	// SocketsPerParticipant is the most WebSockets one participant may hold
	// open; zero means DefaultSocketsPerParticipant.
	SocketsPerParticipant int
}

// DefaultRateLimits returns Amazon Connect's default quotas per instance,
// so that clients written for Connect see the same throttling, and
// Helpline's per-participant limits.
func DefaultRateLimits() RateLimits {
	return RateLimits{
		PerOperation: map[string]Rate{
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
		},
		// What one honest client needs, with room to spare; each is
		// below the instance's bucket for the same operation (the burst
		// included), so that a participant alone never empties it.
		PerParticipant: map[string]Rate{
			// A person types one or two messages a second at most; the
			// burst covers pasted lines and messages a client queued
			// while offline and sends on reconnecting.
			"SendMessage": {2, 10},
			// chatjs sends typing at most once per 10 s, but read and
			// delivered receipts follow every message it shows (read
			// receipts throttled to one per 300 ms).
			"SendEvent": {5, 10},
			// chatjs calls it on starting, on every socket refresh
			// (59 min), heartbeat miss (10 s ticks), regained network and
			// token refresh, backing off 2 s·2^n on network errors. Any
			// 4xx makes its WebSocket manager give up for good, so the
			// burst covers a run of reconnects; the rate still allows one
			// every 2 s.
			"CreateParticipantConnection": {0.5, 5},
			// Loading history pages backward, again after reconnects.
			"GetTranscript": {2, 10},
			// A person attaches a few files at a time.
			"StartAttachmentUpload":    {1, 3},
			"CompleteAttachmentUpload": {1, 3},
			// Showing a transcript with several attachments fetches each.
			"GetAttachment": {2, 6},
			// Leaving is done once; a retry or two is allowed.
			"DisconnectParticipant": {1, 2},
			// chatjs retries a socket that did not open after 1 s,
			// doubling, and opens a second socket for each refresh.
			OpenWebSocket: {1, 5},
		},
	}
}

// participantKey names a participant's bucket for one operation.
type participantKey struct{ instanceID, participantID, op string }

// sweepEvery is how often idle participant buckets are looked for.
const sweepEvery = time.Second

// limiter holds the buckets and socket counts. The instance buckets are
// bounded by the instances (which only authenticated callers name) times
// the operations. Participant buckets are dropped once idle long enough to
// be full again, when a fresh bucket would be the same, so they are
// bounded by the participants active within the longest refill time;
// socket counts are dropped when they reach zero.
type limiter struct {
	disabled     bool
	instance     map[string]Rate
	participant  map[string]Rate
	maxSockets   int
	mu           sync.Mutex                  // guards the fields below
	buckets      map[[2]string]*rate.Limiter // by instance id and operation
	participants map[participantKey]*rate.Limiter
	lastSweep    time.Time
	sockets      map[[2]string]int // open sockets by instance and participant id
}

func newLimiter(cfg RateLimits) *limiter {
	if cfg.Disabled {
		return &limiter{disabled: true}
	}
	def := DefaultRateLimits()
	if cfg.PerOperation == nil {
		cfg.PerOperation = def.PerOperation
	}
	if cfg.PerParticipant == nil {
		cfg.PerParticipant = def.PerParticipant
	}
	if cfg.SocketsPerParticipant == 0 {
		cfg.SocketsPerParticipant = DefaultSocketsPerParticipant
	}
	return &limiter{
		instance:     cfg.PerOperation,
		participant:  cfg.PerParticipant,
		maxSockets:   cfg.SocketsPerParticipant,
		buckets:      make(map[[2]string]*rate.Limiter),
		participants: make(map[participantKey]*rate.Limiter),
		sockets:      make(map[[2]string]int),
	}
}

// allow reports whether participantID of instanceID may make one more op
// request at now, taking a token from the participant's bucket and then
// from the instance's. participantID is empty for the contact operations,
// which the instance's keys sign.
func (l *limiter) allow(instanceID, participantID, op string, now time.Time) bool {
	if l.disabled {
		return true
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	l.sweep(now)
	var taken *rate.Reservation
	if r, ok := l.participant[op]; ok && participantID != "" {
		key := participantKey{instanceID, participantID, op}
		b := l.participants[key]
		if b == nil {
			b = rate.NewLimiter(rate.Limit(r.Rate), r.Burst)
			l.participants[key] = b
		}
		taken = b.ReserveN(now, 1)
		if !taken.OK() || taken.DelayFrom(now) > 0 {
			taken.CancelAt(now)
			return false
		}
	}
	if r, ok := l.instance[op]; ok {
		key := [2]string{instanceID, op}
		b := l.buckets[key]
		if b == nil {
			b = rate.NewLimiter(rate.Limit(r.Rate), r.Burst)
			l.buckets[key] = b
		}
		if !b.AllowN(now, 1) {
			if taken != nil {
				taken.CancelAt(now)
			}
			return false
		}
	}
	return true
}

// sweep drops the participant buckets that are full at now, at most once
// per sweepEvery. l.mu must be held.
func (l *limiter) sweep(now time.Time) {
	if now.Sub(l.lastSweep) < sweepEvery {
		return
	}
	l.lastSweep = now
	for key, b := range l.participants {
		if b.TokensAt(now) >= float64(b.Burst()) {
			delete(l.participants, key)
		}
	}
}

// openSocket takes one of the participant's socket slots and reports
// whether one was free; a taken slot must be given back with closeSocket.
func (l *limiter) openSocket(instanceID, participantID string) bool {
	if l.disabled {
		return true
	}
	key := [2]string{instanceID, participantID}
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.sockets[key] >= l.maxSockets {
		return false
	}
	l.sockets[key]++
	return true
}

// closeSocket gives back a slot openSocket took.
func (l *limiter) closeSocket(instanceID, participantID string) {
	if l.disabled {
		return
	}
	key := [2]string{instanceID, participantID}
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.sockets[key] <= 1 {
		delete(l.sockets, key)
	} else {
		l.sockets[key]--
	}
}
