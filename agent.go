package helpline

import (
	"context"
	"net/mail"
	"strings"
	"time"
)

// Agents, queues, presence and offers: what the routing of contacts to
// human agents reads and writes. All of it lives in the store (RoutingStore),
// none in a node's memory, so that nodes sharing a store route as one.

// Agent roles.
const (
	AgentRoleAgent      = "agent"      // serves queues
	AgentRoleSupervisor = "supervisor" // and watches and transfers others' chats
	AgentRoleAdmin      = "admin"      // and manages agents and queues
)

// Agent capacity: how many chats an agent holds at once, counting offers
// not yet answered. Amazon Connect allows 1 to 10 chats per agent.
const (
	DefaultCapacity = 3
	MaxCapacity     = 10
)

// Agent is a human who answers chats, one of an instance's users.
type Agent struct {
	InstanceID string
	// ID names the agent in owners ("agent:<id>") and bus subjects: 1 to
	// 64 letters, digits, '-' or '_'.
	ID          string
	DisplayName string
	// Email is the login name, unique per instance whatever its case; it
	// is stored in lower case.
	Email string
	// PasswordHash is an encoded password hash (routing.HashPassword);
	// empty means the agent cannot log in with a password.
	PasswordHash string
	Role         string
	// Queues are the ids of the queues the agent serves.
	Queues []string
	// Capacity is how many chats the agent holds at once, offers included
	// (1 to MaxCapacity; 0 in a new agent means DefaultCapacity).
	Capacity int
	// Enabled agents may log in and be offered chats.
	Enabled   bool
	CreatedAt time.Time
}

// Serves reports whether a serves queue id.
func (a *Agent) Serves(id string) bool {
	for _, q := range a.Queues {
		if q == id {
			return true
		}
	}
	return false
}

// Normalize fills a new agent's defaults (id from the email, display name
// from the id, capacity, role) and lowers its email's case. Check it
// afterwards.
func (a *Agent) Normalize() {
	a.Email = strings.TrimSpace(a.Email)
	if a.ID == "" {
		a.ID = AgentIDFromEmail(a.Email) // as written: Ada.L@… is Ada-L
	}
	a.Email = strings.ToLower(a.Email)
	if a.DisplayName == "" {
		a.DisplayName = a.ID
	}
	if a.Capacity == 0 {
		a.Capacity = DefaultCapacity
	}
	if a.Role == "" {
		a.Role = AgentRoleAgent
	}
}

// AgentIDFromEmail derives an agent id from an email's local part, each
// character not allowed in an id (ValidName) replaced by '-'.
func AgentIDFromEmail(email string) string {
	local, _, _ := strings.Cut(email, "@")
	return strings.Map(func(r rune) rune {
		if r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '_' {
			return r
		}
		return '-'
	}, local)
}

// Check returns EINVALID unless a has an instance, a valid id, an email
// address, a known role, a capacity of 1 to MaxCapacity and valid queue ids.
func (a *Agent) Check() error {
	if a.InstanceID == "" {
		return Errorf(EINVALID, "The agent's instance is required.")
	} else if !ValidName(a.ID) {
		return Errorf(EINVALID, "Agent id %q must be 1 to 64 letters, digits, - or _.", a.ID)
	} else if addr, err := mail.ParseAddress(a.Email); err != nil || addr.Address != a.Email {
		return Errorf(EINVALID, "Agent email %q is not an email address.", a.Email)
	} else if a.Role != AgentRoleAgent && a.Role != AgentRoleSupervisor && a.Role != AgentRoleAdmin {
		return Errorf(EINVALID, "Agent role %q is not agent, supervisor or admin.", a.Role)
	} else if a.Capacity < 1 || a.Capacity > MaxCapacity {
		return Errorf(EINVALID, "Agent capacity %d is not between 1 and %d.", a.Capacity, MaxCapacity)
	}
	for _, q := range a.Queues {
		if !ValidName(q) {
			return Errorf(EINVALID, "Queue id %q must be 1 to 64 letters, digits, - or _.", q)
		}
	}
	return nil
}

// ValidName reports whether s is 1 to 64 ASCII letters, digits, '-' or
// '_': the form of agent and queue ids, which appear in owners and bus
// subjects.
func ValidName(s string) bool {
	if len(s) == 0 || len(s) > 64 {
		return false
	}
	for _, r := range s {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '_') {
			return false
		}
	}
	return true
}

// Routing methods: how a queue picks among its eligible agents.
const (
	// RoutingLongestIdle offers to the agent whose last accepted chat is
	// the oldest (never is oldest of all): the default, as Connect's.
	RoutingLongestIdle = "longest_idle"
	// RoutingRoundRobin offers to the agent who was offered a chat least
	// recently, so that offers go round the agents in turn.
	RoutingRoundRobin = "round_robin"
)

// Queue defaults.
const (
	DefaultAcceptWithin = 30 * time.Second
)

// Queue is where contacts wait for an agent, in FIFO order of when they
// entered it (their owner became "queue:<id>").
type Queue struct {
	InstanceID string
	// ID names the queue in owners ("queue:<id>"): as an agent id.
	ID   string
	Name string
	// Routing is RoutingLongestIdle (the default when empty) or
	// RoutingRoundRobin.
	Routing string
	// AcceptWithin is how long an agent has to accept an offer before it
	// moves on to another agent (0 in a new queue means
	// DefaultAcceptWithin).
	AcceptWithin time.Duration
	// AutoAccept accepts offers for the agent as they are made.
	AutoAccept bool
	// ReassignAfter, when set, returns an agent's accepted chats to the
	// queue once the agent has been away or offline this long; zero keeps
	// them with the agent.
	ReassignAfter time.Duration
	// Hours, when set, are the queue's business hours; nil is always open.
	// A chat that enters the queue from its flow's start outside them
	// (and whose flow has no hours of its own) gets AwayMessage
	// (DefaultAwayMessage when empty) and waits, or ends at once when
	// EndOutOfHours is set.
	Hours         *BusinessHours `json:",omitempty"`
	AwayMessage   string         `json:",omitempty"`
	EndOutOfHours bool           `json:",omitempty"`
}

// MaxAwayMessage bounds an away message, in bytes.
const MaxAwayMessage = 1024

// Normalize fills a new queue's defaults.
func (q *Queue) Normalize() {
	if q.Routing == "" {
		q.Routing = RoutingLongestIdle
	}
	if q.AcceptWithin == 0 {
		q.AcceptWithin = DefaultAcceptWithin
	}
	if q.Name == "" {
		q.Name = q.ID
	}
}

// Check returns EINVALID unless q has an instance, a valid id, a known
// routing method, positive durations and valid hours.
func (q *Queue) Check() error {
	if q.InstanceID == "" {
		return Errorf(EINVALID, "The queue's instance is required.")
	} else if !ValidName(q.ID) {
		return Errorf(EINVALID, "Queue id %q must be 1 to 64 letters, digits, - or _.", q.ID)
	} else if q.Routing != RoutingLongestIdle && q.Routing != RoutingRoundRobin {
		return Errorf(EINVALID, "Queue routing %q is not %s or %s.", q.Routing, RoutingLongestIdle, RoutingRoundRobin)
	} else if q.AcceptWithin <= 0 || q.ReassignAfter < 0 {
		return Errorf(EINVALID, "Queue accept_within must be positive and reassign_after not negative.")
	} else if len(q.AwayMessage) > MaxAwayMessage {
		return Errorf(EINVALID, "Queue away_message exceeds %d bytes.", MaxAwayMessage)
	} else if q.Hours == nil && (q.AwayMessage != "" || q.EndOutOfHours) {
		return Errorf(EINVALID, "Queue away_message and end_out_of_hours need hours.")
	}
	if q.Hours != nil {
		return q.Hours.Check()
	}
	return nil
}

// BusinessHours are the weekly hours a queue is open, in a time zone.
type BusinessHours struct {
	// TimeZone is an IANA zone name, such as "Europe/Paris"; empty is UTC.
	TimeZone string
	// Open lists the open periods; a day with none is closed.
	Open []OpenPeriod
	// Holidays are dates, written "2025-12-25" and read in TimeZone, on
	// which the hours are closed all day whatever Open says.
	Holidays []string `json:",omitempty"`
}

// OpenPeriod is one day's open period, From inclusive to To exclusive,
// written "09:00" and "17:30".
type OpenPeriod struct {
	Day      time.Weekday
	From, To string
}

// Check returns EINVALID unless the zone is known and every period is
// well formed, From before To.
func (h *BusinessHours) Check() error {
	if _, err := time.LoadLocation(h.TimeZone); err != nil {
		return Errorf(EINVALID, "Unknown time zone %q.", h.TimeZone)
	}
	for _, p := range h.Open {
		from, ok1 := clockMinutes(p.From)
		to, ok2 := clockMinutes(p.To)
		if !ok1 || !ok2 || from >= to || p.Day < time.Sunday || p.Day > time.Saturday {
			return Errorf(EINVALID, "Open period %v %s-%s is not a day and HH:MM-HH:MM with from before to.", p.Day, p.From, p.To)
		}
	}
	for _, d := range h.Holidays {
		if _, err := time.Parse(time.DateOnly, d); err != nil {
			return Errorf(EINVALID, "Holiday %q is not a date written YYYY-MM-DD.", d)
		}
	}
	return nil
}

// IsOpen reports whether t falls in an open period. Hours that fail Check
// are never open.
func (h *BusinessHours) IsOpen(t time.Time) bool {
	loc, err := time.LoadLocation(h.TimeZone)
	if err != nil {
		return false
	}
	t = t.In(loc)
	for _, d := range h.Holidays {
		if d == t.Format(time.DateOnly) {
			return false
		}
	}
	now := t.Hour()*60 + t.Minute()
	for _, p := range h.Open {
		from, ok1 := clockMinutes(p.From)
		to, ok2 := clockMinutes(p.To)
		if ok1 && ok2 && p.Day == t.Weekday() && now >= from && now < to {
			return true
		}
	}
	return false
}

var weekdays = [...]string{"sun", "mon", "tue", "wed", "thu", "fri", "sat"}

// ParseOpenPeriods reads open periods written "mon-fri 09:00-17:30" or
// "sat 10:00-13:00" (days sun … sat; a range may wrap: "fri-mon"), one
// OpenPeriod per day. It checks the form only; BusinessHours.Check checks
// the times. Errors: EINVALID naming the period.
func ParseOpenPeriods(periods []string) ([]OpenPeriod, error) {
	var out []OpenPeriod
	for _, p := range periods {
		days, span, ok := strings.Cut(strings.TrimSpace(p), " ")
		from, to, ok2 := strings.Cut(strings.TrimSpace(span), "-")
		first, last, ok3 := parseDays(days)
		if !ok || !ok2 || !ok3 {
			return nil, Errorf(EINVALID, "Open period %q is not written \"mon-fri 09:00-17:30\".", p)
		}
		for d := first; ; d = (d + 1) % 7 {
			out = append(out, OpenPeriod{Day: d, From: from, To: to})
			if d == last {
				break
			}
		}
	}
	return out, nil
}

// parseDays reads "mon" or "mon-fri".
func parseDays(s string) (first, last time.Weekday, ok bool) {
	a, b, isRange := strings.Cut(strings.ToLower(s), "-")
	day := func(name string) (time.Weekday, bool) {
		for i, w := range weekdays {
			if w == name {
				return time.Weekday(i), true
			}
		}
		return 0, false
	}
	if first, ok = day(a); !ok || !isRange {
		return first, first, ok
	}
	last, ok = day(b)
	return first, last, ok
}

// FormatOpenPeriods writes periods as ParseOpenPeriods reads them, one
// day each: "mon 09:00-17:30".
func FormatOpenPeriods(periods []OpenPeriod) []string {
	out := make([]string, 0, len(periods))
	for _, p := range periods {
		day := "?"
		if p.Day >= time.Sunday && p.Day <= time.Saturday {
			day = weekdays[p.Day]
		}
		out = append(out, day+" "+p.From+"-"+p.To)
	}
	return out
}

// clockMinutes returns the minutes since midnight of "HH:MM" (up to 24:00).
func clockMinutes(s string) (int, bool) {
	t, err := time.Parse("15:04", s)
	if s == "24:00" {
		return 24 * 60, true
	} else if err != nil {
		return 0, false
	}
	return t.Hour()*60 + t.Minute(), true
}

// Presence statuses. An agent sets its own; routing also counts an agent
// offline whose live connection has been gone longer than a grace period.
const (
	PresenceOnline  = "online"
	PresenceAway    = "away"
	PresenceOffline = "offline"
)

// CheckPresence returns EINVALID unless status is one of the three.
func CheckPresence(status string) error {
	if status != PresenceOnline && status != PresenceAway && status != PresenceOffline {
		return Errorf(EINVALID, "Presence %q is not online, away or offline.", status)
	}
	return nil
}

// Presence is what the store keeps of an agent's availability.
type Presence struct {
	// Status is what the agent set, and StatusAt when; a new agent is
	// offline.
	Status   string
	StatusAt time.Time
	// SeenAt is when a live connection of the agent was last seen
	// (RoutingStore.TouchAgent); zero if never.
	SeenAt time.Time
	// AssignedAt is when the agent last took a chat (an accepted offer or
	// a transfer to it); zero if never. Longest-idle routing reads it.
	AssignedAt time.Time
	// OfferedAt is when the agent was last offered a chat; round-robin
	// routing reads it.
	OfferedAt time.Time
}

// Offer states. An offer is pending until accepted, declined, expired
// (not accepted within its queue's accept_within) or withdrawn (its agent
// left, or the contact's owner changed by other means).
const (
	OfferPending   = "pending"
	OfferAccepted  = "accepted"
	OfferDeclined  = "declined"
	OfferExpired   = "expired"
	OfferWithdrawn = "withdrawn"
)

// Offer proposes a contact waiting in a queue to one agent.
type Offer struct {
	ID         string
	InstanceID string
	ContactID  string
	QueueID    string
	AgentID    string
	// ContactVersion is the contact's version when it was offered, its
	// owner then "queue:<QueueID>": accepting is a compare-and-swap from
	// that owner and version.
	ContactVersion int64
	State          string
	CreatedAt      time.Time
	ExpiresAt      time.Time
	// DecidedAt is when the offer left the pending state; zero before.
	DecidedAt time.Time
}

// Waiting is a contact waiting in a queue: its owner is "queue:<QueueID>"
// since Since, at version Version.
type Waiting struct {
	ContactID string
	QueueID   string
	Version   int64
	Since     time.Time
}

// Assignment is an active contact an agent owns, since Since, at version
// Version. QueueID is the queue it was accepted from, empty if it came
// to the agent otherwise (a direct transfer).
type Assignment struct {
	ContactID string
	QueueID   string
	Version   int64
	Since     time.Time
}

// AgentState is an agent with its presence and the chats it owns.
type AgentState struct {
	Agent    *Agent
	Presence Presence
	Chats    []Assignment
}

// RoutingSnapshot is everything the routing of one instance decides on,
// read in one transaction.
type RoutingSnapshot struct {
	Queues []*Queue
	// Agents are the enabled agents, ordered by id; password hashes are
	// left out.
	Agents []*AgentState
	// Waiting are the contacts owned by a queue, oldest Since first (ties
	// by contact id): FIFO order.
	Waiting []Waiting
	// Offers are the pending offers, and the closed offers of contacts
	// still waiting (so that an offer that timed out moves on to another
	// agent), oldest first.
	Offers []*Offer
}

// ResourceAgent, ResourceQueue and ResourceOffer name what ENOTFOUND
// errors of the routing store did not find.
const (
	ResourceAgent = "AGENT"
	ResourceQueue = "QUEUE"
	ResourceOffer = "OFFER"
)

// RoutingStore keeps agents, queues, presence and offers. Every method is
// safe for concurrent use; all state is in the store, so that several
// nodes sharing it route as one.
//
// The load of an agent is the active contacts it owns plus its pending
// offers not yet expired. No write makes a load exceed the agent's
// capacity: CreateOffer, AcceptOffer and Store.ChangeOwner to an agent
// that has a row check it in their transaction and return EQUOTA.
type RoutingStore interface {
	// CreateAgent stores a new agent (Normalize then Check). Errors:
	// EINVALID; ENOTFOUND (Resource INSTANCE) for an unknown instance;
	// ECONFLICT when the instance has an agent with that id or email.
	CreateAgent(ctx context.Context, a *Agent) error
	// UpdateAgent replaces an agent's profile (name, email, password hash,
	// role, queues, capacity, enabled), keeping its presence and
	// CreatedAt. Errors: EINVALID; ENOTFOUND (Resource AGENT); ECONFLICT
	// when another agent of the instance has the email.
	UpdateAgent(ctx context.Context, a *Agent) error
	// FindAgentByID returns ENOTFOUND (Resource AGENT) if there is none.
	FindAgentByID(ctx context.Context, instanceID, id string) (*Agent, error)
	// FindAgentByEmail finds an agent by email, whatever its case, or
	// returns ENOTFOUND (Resource AGENT).
	FindAgentByEmail(ctx context.Context, instanceID, email string) (*Agent, error)
	// FindAgents returns the instance's agents, ordered by id.
	FindAgents(ctx context.Context, instanceID string) ([]*Agent, error)

	// SaveQueue creates or replaces a queue (Normalize then Check).
	// Errors: EINVALID; ENOTFOUND (Resource INSTANCE).
	SaveQueue(ctx context.Context, q *Queue) error
	// FindQueueByID returns ENOTFOUND (Resource QUEUE) if there is none.
	FindQueueByID(ctx context.Context, instanceID, id string) (*Queue, error)
	// FindQueues returns the instance's queues, ordered by id.
	FindQueues(ctx context.Context, instanceID string) ([]*Queue, error)

	// SetPresence records the status an agent set at time at. Errors:
	// EINVALID; ENOTFOUND (Resource AGENT).
	SetPresence(ctx context.Context, instanceID, agentID, status string, at time.Time) error
	// TouchAgent records that a live connection of the agent was seen at
	// time at (Presence.SeenAt); an earlier time than the stored one is
	// ignored. Errors: ENOTFOUND (Resource AGENT).
	TouchAgent(ctx context.Context, instanceID, agentID string, at time.Time) error
	// FindPresence returns an agent's presence, or ENOTFOUND (Resource
	// AGENT).
	FindPresence(ctx context.Context, instanceID, agentID string) (*Presence, error)

	// RoutingSnapshot reads what the routing of the instance decides on,
	// in one consistent read.
	RoutingSnapshot(ctx context.Context, instanceID string) (*RoutingSnapshot, error)
	// AgentSnapshot reads, in one consistent read, the part of the
	// instance's routing snapshot that one agent's desk shows: every
	// queue; in Agents the agent alone, with its presence and chats (none
	// when it is disabled or unknown); in Waiting the contacts waiting in
	// the agent's queues (none without the agent); in Offers the agent's
	// pending offers. Each list holds what RoutingSnapshot's would hold of
	// it, in the same order. It costs in proportion to the agent's share,
	// not the instance's. Errors: EINVALID for an empty agentID.
	AgentSnapshot(ctx context.Context, instanceID, agentID string) (*RoutingSnapshot, error)

	// CreateOffer stores o as pending (setting its ID if empty and its
	// State) and the agent's Presence.OfferedAt, in one transaction,
	// provided that the contact is still owned by queue:<o.QueueID> at
	// o.ContactVersion and has no other pending offer that has not
	// expired at o.CreatedAt (expired ones are marked expired first), and
	// that the agent is enabled and under its capacity. Errors: EINVALID;
	// ENOTFOUND (CONTACT, AGENT); ECONFLICT (owner moved on, another
	// pending offer, agent disabled); EQUOTA (agent at capacity).
	CreateOffer(ctx context.Context, o *Offer) error
	// AcceptOffer accepts a pending offer at time at, before its expiry:
	// in one transaction it moves the contact from queue:<QueueID> at
	// ContactVersion to agent:<AgentID> exactly as Store.ChangeOwner does
	// (reason "accepted", actor the agent, one owner.changed item), marks
	// the offer accepted and sets the agent's Presence.AssignedAt. Of
	// accepts racing on one offer exactly one succeeds. It returns the
	// updated contact and the transition item. Errors: ENOTFOUND (Resource
	// OFFER); ECONFLICT, writing nothing but the offer's new state, when
	// the offer is no longer pending, has expired (it becomes expired) or
	// the contact moved on (it becomes withdrawn).
	AcceptOffer(ctx context.Context, offerID string, at time.Time) (*Contact, *Item, error)
	// CloseOffer ends a pending offer as declined, expired or withdrawn at
	// time at. It returns ECONFLICT if the offer is no longer pending,
	// ENOTFOUND (Resource OFFER) if there is none, EINVALID for another
	// state.
	CloseOffer(ctx context.Context, offerID, state string, at time.Time) error
	// FindOfferByID returns ENOTFOUND (Resource OFFER) if there is none.
	FindOfferByID(ctx context.Context, id string) (*Offer, error)
}
