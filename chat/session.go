package chat

import (
	"context"
	"sync"
	"time"

	"github.com/helplinehq/helpline"
)

// Authenticate resolves a participant, connection or WebSocket token to its
// session. Unknown, tampered and expired tokens, tokens of other kinds, and
// tokens of a participant that left or of a contact that ended are
// EFORBIDDEN. The session's records are shared snapshots: callers must not
// modify them.
//
// Sessions are cached, so the hot path (SendMessage) verifies only the
// token's signature. The session of a participant or WebSocket token
// reports the contact's current LastSeq; that of a connection token (the
// participant operations, which do not read it) may report an older one,
// which spares the hot path a copy of the contact per message. A contact ending or a participant leaving on this node
// evicts it at once; on other nodes as soon as the bus carries the item.
// When the bus reports lost events the whole cache is dropped, since the
// lost ones may have been such items.
func (s *Service) Authenticate(ctx context.Context, kind helpline.TokenKind, token string) (*helpline.Session, error) {
	if kind != helpline.ParticipantToken && kind != helpline.ConnectionToken && kind != helpline.WebSocketToken {
		return nil, forbidden()
	}
	pid, _, err := s.tokens.Verify(kind, token, s.now())
	if err != nil {
		return nil, err
	}
	if sess := s.sessions.find(pid, kind != helpline.ConnectionToken); sess != nil {
		return sess, nil
	}
	gen := s.sessions.generation()
	p, err := s.store.FindParticipantByID(ctx, pid)
	if helpline.ErrorCode(err) == helpline.ENOTFOUND {
		return nil, forbidden()
	} else if err != nil {
		return nil, err
	}
	c, err := s.store.FindContactByID(ctx, p.ContactID)
	if err != nil {
		return nil, err
	}
	if p.Left() || c.Ended() {
		return nil, forbidden()
	}
	inst, err := s.store.FindInstanceByID(ctx, c.InstanceID)
	if err != nil {
		return nil, err
	}
	sess := &helpline.Session{Participant: p, Contact: c, Instance: inst}
	s.sessions.add(sess, gen)
	return sess, nil
}

func forbidden() error {
	return &helpline.Error{Code: helpline.EFORBIDDEN, Message: "Invalid or expired token."}
}

// CreateConnection issues a connection token, valid Limits.ConnectionTokenTTL
// but never past the chat's end, and a WebSocket token valid
// Limits.WebSocketURLTTL. With connect set it records the participant as
// connected (the first time only). It may be called any number of times.
func (s *Service) CreateConnection(ctx context.Context, sess *helpline.Session, connect bool) (*helpline.Connection, error) {
	now := s.now()
	p, c := sess.Participant, sess.Contact
	if connect && p.ConnectedAt.IsZero() {
		if err := s.store.MarkParticipantConnected(ctx, p.ID, now); err != nil {
			return nil, err
		}
		s.sessions.forgetParticipant(p.ID)
	}
	connExpiry := capAt(now.Add(s.limits.ConnectionTokenTTL), c.ExpiresAt)
	wsExpiry := capAt(now.Add(s.limits.WebSocketURLTTL), c.ExpiresAt)
	return &helpline.Connection{
		ConnectionToken:  s.tokens.Sign(helpline.ConnectionToken, p.ID, connExpiry),
		ConnectionExpiry: connExpiry,
		WebSocketToken:   s.tokens.Sign(helpline.WebSocketToken, p.ID, wsExpiry),
		WebSocketExpiry:  wsExpiry,
	}, nil
}

func capAt(t, limit time.Time) time.Time {
	if t.After(limit) {
		return limit
	}
	return t
}

// defaultSessionCacheSize bounds the session cache; when it is full the
// cache starts over.
const defaultSessionCacheSize = 100000

// sessionCache holds the sessions of active participants of active
// contacts, keyed by participant id.
type sessionCache struct {
	max int

	// mu guards the fields below.
	mu       sync.Mutex
	sessions map[string]*helpline.Session
	// byContact indexes sessions by contact id.
	byContact map[string]map[string]bool
	// lastSeq is the highest Seq seen per cached contact, so that sessions
	// report a current Contact.LastSeq.
	lastSeq map[string]int64
	// gen counts evictions. A loader notes it before reading the store and
	// adds its result only if no eviction happened meanwhile, so a stale
	// read never re-enters the cache.
	gen uint64
}

func newSessionCache(max int) *sessionCache {
	return &sessionCache{
		max:       max,
		sessions:  make(map[string]*helpline.Session),
		byContact: make(map[string]map[string]bool),
		lastSeq:   make(map[string]int64),
	}
}

func (sc *sessionCache) generation() uint64 {
	sc.mu.Lock()
	defer sc.mu.Unlock()
	return sc.gen
}

// find returns the cached session of participant pid, or nil. With
// current set, the contact's LastSeq is brought up to date, in a new
// snapshot if it has moved.
func (sc *sessionCache) find(pid string, current bool) *helpline.Session {
	sc.mu.Lock()
	defer sc.mu.Unlock()
	sess := sc.sessions[pid]
	if sess == nil {
		return nil
	}
	if seq := sc.lastSeq[sess.Contact.ID]; current && seq > sess.Contact.LastSeq {
		c := *sess.Contact
		c.LastSeq = seq
		sess = &helpline.Session{Participant: sess.Participant, Contact: &c, Instance: sess.Instance}
		sc.sessions[pid] = sess
	}
	return sess
}

// add caches sess unless an eviction happened since generation gen.
func (sc *sessionCache) add(sess *helpline.Session, gen uint64) {
	sc.mu.Lock()
	defer sc.mu.Unlock()
	if sc.gen != gen {
		return
	}
	if len(sc.sessions) >= sc.max {
		sc.resetLocked()
	}
	pid, cid := sess.Participant.ID, sess.Contact.ID
	sc.sessions[pid] = sess
	if sc.byContact[cid] == nil {
		sc.byContact[cid] = make(map[string]bool)
	}
	sc.byContact[cid][pid] = true
	if sess.Contact.LastSeq > sc.lastSeq[cid] {
		sc.lastSeq[cid] = sess.Contact.LastSeq
	}
}

// observe updates the cache for an item seen on the bus.
func (sc *sessionCache) observe(it *helpline.Item) {
	switch it.ContentType {
	case helpline.EventChatEnded:
		sc.forgetContact(it.ContactID)
		return
	case helpline.EventParticipantLeft:
		sc.forgetParticipant(it.ParticipantID)
	}
	if !it.Stored() {
		return
	}
	sc.mu.Lock()
	defer sc.mu.Unlock()
	if seq, ok := sc.lastSeq[it.ContactID]; ok && it.Seq > seq {
		sc.lastSeq[it.ContactID] = it.Seq
	}
}

func (sc *sessionCache) forgetParticipant(pid string) {
	sc.mu.Lock()
	defer sc.mu.Unlock()
	sc.gen++
	if sess := sc.sessions[pid]; sess != nil {
		cid := sess.Contact.ID
		delete(sc.sessions, pid)
		delete(sc.byContact[cid], pid)
		if len(sc.byContact[cid]) == 0 {
			delete(sc.byContact, cid)
			delete(sc.lastSeq, cid)
		}
	}
}

func (sc *sessionCache) forgetContact(cid string) {
	sc.mu.Lock()
	defer sc.mu.Unlock()
	sc.gen++
	for pid := range sc.byContact[cid] {
		delete(sc.sessions, pid)
	}
	delete(sc.byContact, cid)
	delete(sc.lastSeq, cid)
}

// reset empties the cache, so that every session is read again from the
// store. Sessions already handed out stay valid for their callers, and a
// load under way does not re-enter a stale result (reset counts as an
// eviction).
func (sc *sessionCache) reset() {
	sc.mu.Lock()
	defer sc.mu.Unlock()
	sc.resetLocked()
}

func (sc *sessionCache) resetLocked() {
	sc.gen++
	sc.sessions = make(map[string]*helpline.Session)
	sc.byContact = make(map[string]map[string]bool)
	sc.lastSeq = make(map[string]int64)
}
