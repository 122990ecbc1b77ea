package sqlite

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/helplinehq/helpline"
)

// The routing store (helpline.RoutingStore): agents and their presence,
// queues, and offers. An agent's load is counted from the contacts table
// and the pending offers in the transaction that would raise it, which the
// single writer serialises: no race of writes can exceed a capacity.

const (
	agentColumns    = `instance_id, id, display_name, email, password_hash, role, queues, capacity, enabled, created_at`
	queueColumns    = `instance_id, id, name, routing, accept_within_ms, auto_accept, reassign_after_ms, hours`
	offerColumns    = `id, instance_id, contact_id, queue_id, agent_id, contact_version, state, created_at, expires_at, decided_at`
	presenceColumns = `status, status_at, seen_at, assigned_at, offered_at`
)

// CreateAgent stores a new agent; see helpline.RoutingStore.
func (db *DB) CreateAgent(ctx context.Context, a *helpline.Agent) error {
	a.Normalize()
	if err := a.Check(); err != nil {
		return err
	}
	queues, err := json.Marshal(nonNilSlice(a.Queues))
	if err != nil {
		return fmt.Errorf("sqlite: encode queues: %w", err)
	}
	return db.write(ctx, func(tx *sql.Tx) error {
		if err := instanceExists(tx, a.InstanceID); err != nil {
			return err
		}
		if err := emailFree(tx, a.InstanceID, a.Email, ""); err != nil {
			return err
		}
		_, err := tx.Exec(`INSERT INTO agents (`+agentColumns+`) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
			a.InstanceID, a.ID, a.DisplayName, a.Email, a.PasswordHash, a.Role, queues, a.Capacity, a.Enabled, millis(a.CreatedAt))
		if err != nil {
			if helpline.ErrorCode(dbError("", err)) == helpline.ECONFLICT {
				return helpline.Errorf(helpline.ECONFLICT, "The instance already has an agent %s.", a.ID)
			}
			return dbError("create agent", err)
		}
		return nil
	})
}

// UpdateAgent replaces an agent's profile, keeping its presence; see
// helpline.RoutingStore.
func (db *DB) UpdateAgent(ctx context.Context, a *helpline.Agent) error {
	a.Normalize()
	if err := a.Check(); err != nil {
		return err
	}
	queues, err := json.Marshal(nonNilSlice(a.Queues))
	if err != nil {
		return fmt.Errorf("sqlite: encode queues: %w", err)
	}
	return db.write(ctx, func(tx *sql.Tx) error {
		if err := emailFree(tx, a.InstanceID, a.Email, a.ID); err != nil {
			return err
		}
		res, err := tx.Exec(`UPDATE agents SET display_name = ?, email = ?, password_hash = ?, role = ?, queues = ?, capacity = ?, enabled = ?
			WHERE instance_id = ? AND id = ?`,
			a.DisplayName, a.Email, a.PasswordHash, a.Role, queues, a.Capacity, a.Enabled, a.InstanceID, a.ID)
		if err != nil {
			return dbError("update agent", err)
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return helpline.NotFound(helpline.ResourceAgent, a.ID)
		}
		return tx.QueryRow(`SELECT created_at FROM agents WHERE instance_id = ? AND id = ?`, a.InstanceID, a.ID).Scan(ptrMillis{&a.CreatedAt})
	})
}

// emailFree returns ECONFLICT if an agent of the instance other than
// except has the email.
func emailFree(tx *sql.Tx, instanceID, email, except string) error {
	var id string
	err := tx.QueryRow(`SELECT id FROM agents WHERE instance_id = ? AND email = ?`, instanceID, email).Scan(&id)
	if errors.Is(err, sql.ErrNoRows) || err == nil && id == except {
		return nil
	} else if err != nil {
		return dbError("find agent", err)
	}
	return helpline.Errorf(helpline.ECONFLICT, "Agent %s already has the email %s.", id, email)
}

func instanceExists(tx *sql.Tx, id string) error {
	var one int
	err := tx.QueryRow(`SELECT 1 FROM instances WHERE id = ?`, id).Scan(&one)
	if errors.Is(err, sql.ErrNoRows) {
		return helpline.NotFound(helpline.ResourceInstance, id)
	} else if err != nil {
		return dbError("find instance", err)
	}
	return nil
}

// FindAgentByID returns ENOTFOUND (Resource AGENT) if there is none.
func (db *DB) FindAgentByID(ctx context.Context, instanceID, id string) (*helpline.Agent, error) {
	a, err := scanAgent(db.r.QueryRowContext(ctx, `SELECT `+agentColumns+` FROM agents WHERE instance_id = ? AND id = ?`, instanceID, id))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, helpline.NotFound(helpline.ResourceAgent, id)
	}
	return a, err
}

// FindAgentByEmail finds an agent by email whatever its case.
func (db *DB) FindAgentByEmail(ctx context.Context, instanceID, email string) (*helpline.Agent, error) {
	email = strings.ToLower(strings.TrimSpace(email))
	a, err := scanAgent(db.r.QueryRowContext(ctx, `SELECT `+agentColumns+` FROM agents WHERE instance_id = ? AND email = ?`, instanceID, email))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, helpline.NotFound(helpline.ResourceAgent, email)
	}
	return a, err
}

// FindAgents returns the instance's agents ordered by id.
func (db *DB) FindAgents(ctx context.Context, instanceID string) ([]*helpline.Agent, error) {
	return queryAll(ctx, db.r, "find agents", scanAgent, `SELECT `+agentColumns+` FROM agents WHERE instance_id = ? ORDER BY id`, instanceID)
}

func scanAgent(s scanner) (*helpline.Agent, error) {
	var (
		a       helpline.Agent
		queues  []byte
		created int64
	)
	if err := s.Scan(&a.InstanceID, &a.ID, &a.DisplayName, &a.Email, &a.PasswordHash, &a.Role, &queues, &a.Capacity, &a.Enabled, &created); err != nil {
		return nil, err
	}
	if err := json.Unmarshal(queues, &a.Queues); err != nil {
		return nil, fmt.Errorf("sqlite: agent %s queues: %w", a.ID, err)
	}
	if len(a.Queues) == 0 {
		a.Queues = nil
	}
	a.CreatedAt = fromMillis(created)
	return &a, nil
}

// SaveQueue creates or replaces a queue; see helpline.RoutingStore.
func (db *DB) SaveQueue(ctx context.Context, q *helpline.Queue) error {
	q.Normalize()
	if err := q.Check(); err != nil {
		return err
	}
	var hours []byte
	if q.Hours != nil {
		var err error
		if hours, err = json.Marshal(queueHours{*q.Hours, q.AwayMessage, q.EndOutOfHours}); err != nil {
			return fmt.Errorf("sqlite: encode hours: %w", err)
		}
	}
	return db.write(ctx, func(tx *sql.Tx) error {
		if err := instanceExists(tx, q.InstanceID); err != nil {
			return err
		}
		_, err := tx.Exec(`INSERT OR REPLACE INTO queues (`+queueColumns+`) VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
			q.InstanceID, q.ID, q.Name, q.Routing, q.AcceptWithin.Milliseconds(), q.AutoAccept, q.ReassignAfter.Milliseconds(), string(hours))
		if err != nil {
			return dbError("save queue", err)
		}
		return nil
	})
}

// FindQueueByID returns ENOTFOUND (Resource QUEUE) if there is none.
func (db *DB) FindQueueByID(ctx context.Context, instanceID, id string) (*helpline.Queue, error) {
	q, err := scanQueue(db.r.QueryRowContext(ctx, `SELECT `+queueColumns+` FROM queues WHERE instance_id = ? AND id = ?`, instanceID, id))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, helpline.NotFound(helpline.ResourceQueue, id)
	}
	return q, err
}

// FindQueues returns the instance's queues ordered by id.
func (db *DB) FindQueues(ctx context.Context, instanceID string) ([]*helpline.Queue, error) {
	return findQueues(ctx, db.r, instanceID)
}

func findQueues(ctx context.Context, q querier, instanceID string) ([]*helpline.Queue, error) {
	return queryAll(ctx, q, "find queues", scanQueue, `SELECT `+queueColumns+` FROM queues WHERE instance_id = ? ORDER BY id`, instanceID)
}

func scanQueue(s scanner) (*helpline.Queue, error) {
	var (
		q                helpline.Queue
		accept, reassign int64
		hours            string
	)
	if err := s.Scan(&q.InstanceID, &q.ID, &q.Name, &q.Routing, &accept, &q.AutoAccept, &reassign, &hours); err != nil {
		return nil, err
	}
	q.AcceptWithin, q.ReassignAfter = time.Duration(accept)*time.Millisecond, time.Duration(reassign)*time.Millisecond
	if hours != "" {
		var qh queueHours
		if err := json.Unmarshal([]byte(hours), &qh); err != nil {
			return nil, fmt.Errorf("sqlite: queue %s hours: %w", q.ID, err)
		}
		q.Hours, q.AwayMessage, q.EndOutOfHours = &qh.BusinessHours, qh.AwayMessage, qh.EndOutOfHours
	}
	return &q, nil
}

// queueHours is what the hours column holds as JSON: the queue's hours
// and what happens out of them, which a queue has only with hours.
type queueHours struct {
	helpline.BusinessHours
	AwayMessage   string `json:",omitempty"`
	EndOutOfHours bool   `json:",omitempty"`
}

// SetPresence records the status an agent set.
func (db *DB) SetPresence(ctx context.Context, instanceID, agentID, status string, at time.Time) error {
	if err := helpline.CheckPresence(status); err != nil {
		return err
	}
	return db.updateAgentRow(ctx, instanceID, agentID, `UPDATE agents SET status = ?, status_at = ? WHERE instance_id = ? AND id = ?`,
		status, millis(at), instanceID, agentID)
}

// TouchAgent records that a live connection of the agent was seen at at.
func (db *DB) TouchAgent(ctx context.Context, instanceID, agentID string, at time.Time) error {
	return db.updateAgentRow(ctx, instanceID, agentID, `UPDATE agents SET seen_at = max(coalesce(seen_at, 0), ?) WHERE instance_id = ? AND id = ?`,
		millis(at), instanceID, agentID)
}

// updateAgentRow runs an update of one agent's row, ENOTFOUND if it
// changed no row.
func (db *DB) updateAgentRow(ctx context.Context, instanceID, agentID, query string, args ...any) error {
	return db.write(ctx, func(tx *sql.Tx) error {
		res, err := tx.Exec(query, args...)
		if err != nil {
			return dbError("update agent", err)
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return helpline.NotFound(helpline.ResourceAgent, agentID)
		}
		return nil
	})
}

// FindPresence returns an agent's presence.
func (db *DB) FindPresence(ctx context.Context, instanceID, agentID string) (*helpline.Presence, error) {
	p, err := scanPresence(db.r.QueryRowContext(ctx, `SELECT `+presenceColumns+` FROM agents WHERE instance_id = ? AND id = ?`, instanceID, agentID))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, helpline.NotFound(helpline.ResourceAgent, agentID)
	}
	return p, err
}

func scanPresence(s scanner) (*helpline.Presence, error) {
	var pc presenceCols
	if err := s.Scan(pc.dest()...); err != nil {
		return nil, err
	}
	return pc.presence(), nil
}

// presenceCols receives the presence columns of an agent's row.
type presenceCols struct {
	status                            string
	statusAt, seen, assigned, offered sql.NullInt64
}

func (pc *presenceCols) dest() []any {
	return []any{&pc.status, &pc.statusAt, &pc.seen, &pc.assigned, &pc.offered}
}

func (pc *presenceCols) presence() *helpline.Presence {
	return &helpline.Presence{Status: pc.status, StatusAt: fromNullMillis(pc.statusAt), SeenAt: fromNullMillis(pc.seen),
		AssignedAt: fromNullMillis(pc.assigned), OfferedAt: fromNullMillis(pc.offered)}
}

// RoutingSnapshot reads the instance's routing state in one read
// transaction.
func (db *DB) RoutingSnapshot(ctx context.Context, instanceID string) (*helpline.RoutingSnapshot, error) {
	return db.routingSnapshot(ctx, instanceID, "")
}

// AgentSnapshot reads the part of the routing state agentID's desk shows
// in one read transaction; see helpline.RoutingStore.
func (db *DB) AgentSnapshot(ctx context.Context, instanceID, agentID string) (*helpline.RoutingSnapshot, error) {
	if agentID == "" {
		return nil, helpline.Errorf(helpline.EINVALID, "An agent snapshot names its agent.")
	}
	return db.routingSnapshot(ctx, instanceID, agentID)
}

// routingSnapshot reads the instance's routing state, or with agentID
// set the part of it that agent's desk shows (AgentSnapshot).
func (db *DB) routingSnapshot(ctx context.Context, instanceID, agentID string) (*helpline.RoutingSnapshot, error) {
	tx, err := db.r.BeginTx(ctx, &sql.TxOptions{ReadOnly: true})
	if err != nil {
		return nil, dbError("begin", err)
	}
	defer tx.Rollback()
	var snap helpline.RoutingSnapshot
	if snap.Queues, err = findQueues(ctx, tx, instanceID); err != nil {
		return nil, err
	}
	agents, args := `SELECT `+agentColumns+`, `+presenceColumns+` FROM agents WHERE instance_id = ? AND enabled`, []any{instanceID}
	if agentID != "" {
		agents, args = agents+` AND id = ?`, append(args, agentID)
	}
	snap.Agents, err = queryAll(ctx, tx, "find agents", func(s scanner) (*helpline.AgentState, error) {
		var pc presenceCols
		a, err := scanAgent(withExtra{s, pc.dest()})
		if err != nil {
			return nil, err
		}
		a.PasswordHash = ""
		return &helpline.AgentState{Agent: a, Presence: *pc.presence()}, nil
	}, agents+` ORDER BY id`, args...)
	if err != nil {
		return nil, err
	}
	byID := map[string]*helpline.AgentState{}
	for _, as := range snap.Agents {
		byID[as.Agent.ID] = as
	}
	// The owners read: every queue and agent, or the agent and its
	// queues.
	owners, args := `(owner LIKE 'queue:%' OR owner LIKE 'agent:%')`, []any{instanceID}
	if agentID != "" {
		owners, args = `owner IN (?`, append(args, helpline.OwnerAgent+":"+agentID)
		for _, as := range snap.Agents { // none when disabled
			for _, q := range as.Agent.Queues {
				owners, args = owners+`, ?`, append(args, helpline.OwnerQueue+":"+q)
			}
		}
		owners += `)`
	}
	type owned struct {
		owner string
		helpline.Assignment
	}
	// An agent's chat comes from the queue of the contact's latest offer
	// the agent accepted (index offers_accepted); 7 skips "agent:".
	rows, err := queryAll(ctx, tx, "find owned contacts", func(s scanner) (owned, error) {
		var o owned
		var since int64
		err := s.Scan(&o.owner, &o.ContactID, &o.Version, &since, &o.QueueID)
		o.Since = fromMillis(since)
		return o, err
	}, `SELECT owner, id, version, coalesce(owner_since, created_at),
		coalesce((SELECT queue_id FROM offers WHERE offers.contact_id = contacts.id AND state = '`+helpline.OfferAccepted+`'
			AND agent_id = substr(contacts.owner, 7) ORDER BY decided_at DESC LIMIT 1), '')
		FROM contacts WHERE instance_id = ? AND `+isActive+` AND `+owners+`
		ORDER BY coalesce(owner_since, created_at), id`, args...)
	if err != nil {
		return nil, err
	}
	for _, o := range rows {
		kind, id, _ := strings.Cut(o.owner, ":")
		switch {
		case kind == helpline.OwnerQueue:
			snap.Waiting = append(snap.Waiting, helpline.Waiting{ContactID: o.ContactID, QueueID: id, Version: o.Version, Since: o.Since})
		case byID[id] != nil:
			byID[id].Chats = append(byID[id].Chats, o.Assignment)
		}
	}
	// The range over owner, unlike LIKE, is served by the contacts'
	// owner index (';' follows ':').
	offers, args := `instance_id = ? AND (state = '`+helpline.OfferPending+`' OR contact_id IN
			(SELECT id FROM contacts WHERE instance_id = ? AND `+isActive+` AND owner >= 'queue:' AND owner < 'queue;'))`, []any{instanceID, instanceID}
	if agentID != "" {
		offers, args = `instance_id = ? AND agent_id = ? AND state = '`+helpline.OfferPending+`'`, []any{instanceID, agentID}
	}
	snap.Offers, err = queryAll(ctx, tx, "find offers", scanOffer, `SELECT `+offerColumns+` FROM offers WHERE `+offers+`
		ORDER BY created_at, id`, args...)
	if err != nil {
		return nil, err
	}
	return &snap, nil
}

// CreateOffer stores a pending offer; see helpline.RoutingStore.
func (db *DB) CreateOffer(ctx context.Context, o *helpline.Offer) error {
	if o.ContactID == "" || !helpline.ValidName(o.QueueID) || !helpline.ValidName(o.AgentID) || !o.ExpiresAt.After(o.CreatedAt) {
		return helpline.Errorf(helpline.EINVALID, "An offer needs a contact, a queue, an agent and an expiry after its creation.")
	}
	if o.ID == "" {
		o.ID = helpline.NewID()
	}
	o.State, o.DecidedAt = helpline.OfferPending, time.Time{}
	return db.write(ctx, func(tx *sql.Tx) error {
		c, err := findActiveContact(tx, o.ContactID)
		if err != nil {
			return err
		}
		if c.Owner != helpline.OwnerQueue+":"+o.QueueID || c.Version != o.ContactVersion {
			return helpline.Errorf(helpline.ECONFLICT, "The contact is %q at version %d, not waiting in queue %s at version %d.",
				c.Owner, c.Version, o.QueueID, o.ContactVersion)
		}
		o.InstanceID = c.InstanceID
		if _, err := tx.Exec(`UPDATE offers SET state = ?, decided_at = expires_at WHERE contact_id = ? AND state = ? AND expires_at <= ?`,
			helpline.OfferExpired, o.ContactID, helpline.OfferPending, millis(o.CreatedAt)); err != nil {
			return dbError("expire offers", err)
		}
		var pending int
		if err := tx.QueryRow(`SELECT count(*) FROM offers WHERE contact_id = ? AND state = ?`, o.ContactID, helpline.OfferPending).Scan(&pending); err != nil {
			return dbError("count offers", err)
		} else if pending > 0 {
			return helpline.Errorf(helpline.ECONFLICT, "The contact is already offered to an agent.")
		}
		if err := checkCapacity(tx, c.InstanceID, o.AgentID, o.ContactID, o.CreatedAt, true); err != nil {
			return err
		}
		_, err = tx.Exec(`INSERT INTO offers (`+offerColumns+`) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, NULL)`,
			o.ID, o.InstanceID, o.ContactID, o.QueueID, o.AgentID, o.ContactVersion, o.State, millis(o.CreatedAt), millis(o.ExpiresAt))
		if err != nil {
			return dbError("create offer", err)
		}
		if _, err := tx.Exec(`UPDATE agents SET offered_at = ? WHERE instance_id = ? AND id = ?`, millis(o.CreatedAt), o.InstanceID, o.AgentID); err != nil {
			return dbError("create offer", err)
		}
		return nil
	})
}

// checkCapacity returns EQUOTA unless the agent's load at time at, leaving
// out contactID, is under its capacity, and ECONFLICT if the agent is
// disabled. An agent with no row is ENOTFOUND when required, and passes
// otherwise.
func checkCapacity(tx *sql.Tx, instanceID, agentID, contactID string, at time.Time, required bool) error {
	var capacity int
	var enabled bool
	err := tx.QueryRow(`SELECT capacity, enabled FROM agents WHERE instance_id = ? AND id = ?`, instanceID, agentID).Scan(&capacity, &enabled)
	if errors.Is(err, sql.ErrNoRows) {
		if required {
			return helpline.NotFound(helpline.ResourceAgent, agentID)
		}
		return nil
	} else if err != nil {
		return dbError("find agent", err)
	}
	if !enabled {
		return helpline.Errorf(helpline.ECONFLICT, "Agent %s is disabled.", agentID)
	}
	var load int
	err = tx.QueryRow(`SELECT
		(SELECT count(*) FROM contacts WHERE instance_id = ? AND owner = ? AND `+isActive+` AND id != ?) +
		(SELECT count(*) FROM offers WHERE instance_id = ? AND agent_id = ? AND state = ? AND expires_at > ? AND contact_id != ?)`,
		instanceID, helpline.OwnerAgent+":"+agentID, contactID,
		instanceID, agentID, helpline.OfferPending, millis(at), contactID).Scan(&load)
	if err != nil {
		return dbError("count agent load", err)
	}
	if load >= capacity {
		return helpline.Errorf(helpline.EQUOTA, "Agent %s is at capacity (%d chats).", agentID, capacity)
	}
	return nil
}

// AcceptOffer moves the offered contact to the agent and marks the offer
// accepted in one transaction; see helpline.RoutingStore.
func (db *DB) AcceptOffer(ctx context.Context, offerID string, at time.Time) (*helpline.Contact, *helpline.Item, error) {
	var (
		c  *helpline.Contact
		it *helpline.Item
		// lost is the state a stale offer moves to; the move is
		// committed although the accept fails.
		lost string
	)
	err := db.write(ctx, func(tx *sql.Tx) error {
		o, err := findOffer(ctx, tx, offerID)
		if err != nil {
			return err
		}
		if o.State != helpline.OfferPending {
			return helpline.Errorf(helpline.ECONFLICT, "The offer is %s.", o.State)
		} else if !at.Before(o.ExpiresAt) {
			lost = helpline.OfferExpired
			return helpline.Errorf(helpline.ECONFLICT, "The offer expired at %s.", o.ExpiresAt.Format(time.RFC3339))
		}
		ch := &helpline.OwnerChange{
			ContactID: o.ContactID, From: helpline.OwnerQueue + ":" + o.QueueID, Version: o.ContactVersion,
			To: helpline.OwnerAgent + ":" + o.AgentID, Reason: "accepted", Actor: helpline.OwnerAgent + ":" + o.AgentID, At: at,
		}
		// The offer itself is withdrawn by the change below, then marked
		// accepted.
		if c, it, err = changeOwner(tx, ch); err != nil {
			if helpline.ErrorCode(err) == helpline.ECONFLICT {
				lost = helpline.OfferWithdrawn
			}
			return err
		}
		if _, err := tx.Exec(`UPDATE offers SET state = ?, decided_at = ? WHERE id = ?`, helpline.OfferAccepted, millis(at), offerID); err != nil {
			return dbError("accept offer", err)
		}
		if _, err := tx.Exec(`UPDATE agents SET assigned_at = ? WHERE instance_id = ? AND id = ?`, millis(at), o.InstanceID, o.AgentID); err != nil {
			return dbError("accept offer", err)
		}
		return nil
	})
	if lost != "" {
		if cerr := db.CloseOffer(ctx, offerID, lost, at); cerr != nil && helpline.ErrorCode(cerr) != helpline.ECONFLICT {
			return nil, nil, errors.Join(err, cerr)
		}
	}
	if err != nil {
		return nil, nil, err
	}
	return c, it, nil
}

// CloseOffer ends a pending offer; see helpline.RoutingStore.
func (db *DB) CloseOffer(ctx context.Context, offerID, state string, at time.Time) error {
	if state != helpline.OfferDeclined && state != helpline.OfferExpired && state != helpline.OfferWithdrawn {
		return helpline.Errorf(helpline.EINVALID, "An offer closes as declined, expired or withdrawn, not %q.", state)
	}
	return db.write(ctx, func(tx *sql.Tx) error {
		o, err := findOffer(ctx, tx, offerID)
		if err != nil {
			return err
		} else if o.State != helpline.OfferPending {
			return helpline.Errorf(helpline.ECONFLICT, "The offer is %s.", o.State)
		}
		if _, err := tx.Exec(`UPDATE offers SET state = ?, decided_at = ? WHERE id = ?`, state, millis(at), offerID); err != nil {
			return dbError("close offer", err)
		}
		return nil
	})
}

// FindOfferByID returns ENOTFOUND (Resource OFFER) if there is none.
func (db *DB) FindOfferByID(ctx context.Context, id string) (*helpline.Offer, error) {
	return findOffer(ctx, db.r, id)
}

func findOffer(ctx context.Context, q querier, id string) (*helpline.Offer, error) {
	o, err := scanOffer(q.QueryRowContext(ctx, `SELECT `+offerColumns+` FROM offers WHERE id = ?`, id))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, helpline.NotFound(helpline.ResourceOffer, id)
	}
	return o, err
}

func scanOffer(s scanner) (*helpline.Offer, error) {
	var (
		o                helpline.Offer
		created, expires int64
		decided          sql.NullInt64
	)
	if err := s.Scan(&o.ID, &o.InstanceID, &o.ContactID, &o.QueueID, &o.AgentID, &o.ContactVersion, &o.State, &created, &expires, &decided); err != nil {
		return nil, err
	}
	o.CreatedAt, o.ExpiresAt, o.DecidedAt = fromMillis(created), fromMillis(expires), fromNullMillis(decided)
	return &o, nil
}

// ptrMillis scans unix milliseconds into a time.
type ptrMillis struct{ t *time.Time }

func (p ptrMillis) Scan(src any) error {
	ms, ok := src.(int64)
	if !ok {
		return fmt.Errorf("sqlite: %T is not unix milliseconds", src)
	}
	*p.t = fromMillis(ms)
	return nil
}
