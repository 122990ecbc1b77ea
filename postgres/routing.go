package postgres

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/helplinehq/helpline"
)

// The routing store (helpline.RoutingStore): agents and their presence,
// queues, and offers. An agent's load is counted from the contacts table
// and the pending offers in the transaction that would raise it, after
// locking the agent's row: writes of several nodes that would raise one
// agent's load take turns, so none exceeds its capacity.

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
		return fmt.Errorf("postgres: encode queues: %w", err)
	}
	return db.tx(ctx, func(tx pgx.Tx) error {
		if err := instanceExists(ctx, tx, a.InstanceID); err != nil {
			return err
		}
		_, err := tx.Exec(ctx, `INSERT INTO agents (`+agentColumns+`) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)`,
			a.InstanceID, a.ID, a.DisplayName, a.Email, a.PasswordHash, a.Role, string(queues), a.Capacity, a.Enabled, millis(a.CreatedAt))
		return agentConflict(err, a, "create agent")
	})
}

// agentConflict names which uniqueness rule a write of a broke, the email
// or the id, or wraps err.
func agentConflict(err error, a *helpline.Agent, what string) error {
	var pe *pgconn.PgError
	switch {
	case err == nil:
		return nil
	case !isUnique(err):
		return dbError(what, err)
	case errors.As(err, &pe) && pe.ConstraintName == "agents_email":
		return helpline.Errorf(helpline.ECONFLICT, "Another agent already has the email %s.", a.Email)
	}
	return helpline.Errorf(helpline.ECONFLICT, "The instance already has an agent %s.", a.ID)
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
		return fmt.Errorf("postgres: encode queues: %w", err)
	}
	return db.tx(ctx, func(tx pgx.Tx) error {
		var created int64
		err := tx.QueryRow(ctx, `UPDATE agents SET display_name = $1, email = $2, password_hash = $3, role = $4, queues = $5, capacity = $6, enabled = $7
			WHERE instance_id = $8 AND id = $9 RETURNING created_at`,
			a.DisplayName, a.Email, a.PasswordHash, a.Role, string(queues), a.Capacity, a.Enabled, a.InstanceID, a.ID).Scan(&created)
		if errors.Is(err, pgx.ErrNoRows) {
			return helpline.NotFound(helpline.ResourceAgent, a.ID)
		} else if err != nil {
			return agentConflict(err, a, "update agent")
		}
		a.CreatedAt = fromMillis(created)
		return nil
	})
}

// FindAgentByID returns ENOTFOUND (Resource AGENT) if there is none.
func (db *DB) FindAgentByID(ctx context.Context, instanceID, id string) (*helpline.Agent, error) {
	a, err := scanAgent(db.pool.QueryRow(ctx, `SELECT `+agentColumns+` FROM agents WHERE instance_id = $1 AND id = $2`, instanceID, id))
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, helpline.NotFound(helpline.ResourceAgent, id)
	}
	return a, err
}

// FindAgentByEmail finds an agent by email whatever its case.
func (db *DB) FindAgentByEmail(ctx context.Context, instanceID, email string) (*helpline.Agent, error) {
	email = strings.ToLower(strings.TrimSpace(email))
	a, err := scanAgent(db.pool.QueryRow(ctx, `SELECT `+agentColumns+` FROM agents WHERE instance_id = $1 AND email = $2`, instanceID, email))
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, helpline.NotFound(helpline.ResourceAgent, email)
	}
	return a, err
}

// FindAgents returns the instance's agents ordered by id.
func (db *DB) FindAgents(ctx context.Context, instanceID string) ([]*helpline.Agent, error) {
	return queryAll(ctx, db.pool, "find agents", scanAgent, `SELECT `+agentColumns+` FROM agents WHERE instance_id = $1 ORDER BY id`, instanceID)
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
		return nil, fmt.Errorf("postgres: agent %s queues: %w", a.ID, err)
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
	var hours *string
	if q.Hours != nil {
		b, err := json.Marshal(queueHours{*q.Hours, q.AwayMessage, q.EndOutOfHours})
		if err != nil {
			return fmt.Errorf("postgres: encode hours: %w", err)
		}
		s := string(b)
		hours = &s
	}
	return db.tx(ctx, func(tx pgx.Tx) error {
		if err := instanceExists(ctx, tx, q.InstanceID); err != nil {
			return err
		}
		_, err := tx.Exec(ctx, `INSERT INTO queues (`+queueColumns+`) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
			ON CONFLICT (instance_id, id) DO UPDATE SET name = excluded.name, routing = excluded.routing,
			accept_within_ms = excluded.accept_within_ms, auto_accept = excluded.auto_accept,
			reassign_after_ms = excluded.reassign_after_ms, hours = excluded.hours`,
			q.InstanceID, q.ID, q.Name, q.Routing, q.AcceptWithin.Milliseconds(), q.AutoAccept, q.ReassignAfter.Milliseconds(), hours)
		if err != nil {
			return dbError("save queue", err)
		}
		return nil
	})
}

// FindQueueByID returns ENOTFOUND (Resource QUEUE) if there is none.
func (db *DB) FindQueueByID(ctx context.Context, instanceID, id string) (*helpline.Queue, error) {
	q, err := scanQueue(db.pool.QueryRow(ctx, `SELECT `+queueColumns+` FROM queues WHERE instance_id = $1 AND id = $2`, instanceID, id))
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, helpline.NotFound(helpline.ResourceQueue, id)
	}
	return q, err
}

// FindQueues returns the instance's queues ordered by id.
func (db *DB) FindQueues(ctx context.Context, instanceID string) ([]*helpline.Queue, error) {
	return findQueues(ctx, db.pool, instanceID)
}

func findQueues(ctx context.Context, q querier, instanceID string) ([]*helpline.Queue, error) {
	return queryAll(ctx, q, "find queues", scanQueue, `SELECT `+queueColumns+` FROM queues WHERE instance_id = $1 ORDER BY id`, instanceID)
}

func scanQueue(s scanner) (*helpline.Queue, error) {
	var (
		q                helpline.Queue
		accept, reassign int64
		hours            []byte
	)
	if err := s.Scan(&q.InstanceID, &q.ID, &q.Name, &q.Routing, &accept, &q.AutoAccept, &reassign, &hours); err != nil {
		return nil, err
	}
	q.AcceptWithin, q.ReassignAfter = time.Duration(accept)*time.Millisecond, time.Duration(reassign)*time.Millisecond
	if hours != nil {
		var qh queueHours
		if err := json.Unmarshal(hours, &qh); err != nil {
			return nil, fmt.Errorf("postgres: queue %s hours: %w", q.ID, err)
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
	return db.updateAgentRow(ctx, agentID, `UPDATE agents SET status = $1, status_at = $2 WHERE instance_id = $3 AND id = $4`,
		status, millis(at), instanceID, agentID)
}

// TouchAgent records that a live connection of the agent was seen at at.
func (db *DB) TouchAgent(ctx context.Context, instanceID, agentID string, at time.Time) error {
	return db.updateAgentRow(ctx, agentID, `UPDATE agents SET seen_at = greatest(seen_at, $1) WHERE instance_id = $2 AND id = $3`,
		millis(at), instanceID, agentID)
}

// updateAgentRow runs an update of one agent's row, ENOTFOUND if it
// changed no row.
func (db *DB) updateAgentRow(ctx context.Context, agentID, query string, args ...any) error {
	tag, err := db.pool.Exec(ctx, query, args...)
	if err != nil {
		return dbError("update agent", err)
	} else if tag.RowsAffected() == 0 {
		return helpline.NotFound(helpline.ResourceAgent, agentID)
	}
	return nil
}

// FindPresence returns an agent's presence.
func (db *DB) FindPresence(ctx context.Context, instanceID, agentID string) (*helpline.Presence, error) {
	var pc presenceCols
	err := db.pool.QueryRow(ctx, `SELECT `+presenceColumns+` FROM agents WHERE instance_id = $1 AND id = $2`, instanceID, agentID).Scan(pc.dest()...)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, helpline.NotFound(helpline.ResourceAgent, agentID)
	} else if err != nil {
		return nil, dbError("find presence", err)
	}
	return pc.presence(), nil
}

// presenceCols receives the presence columns of an agent's row.
type presenceCols struct {
	status                            string
	statusAt, seen, assigned, offered *int64
}

func (pc *presenceCols) dest() []any {
	return []any{&pc.status, &pc.statusAt, &pc.seen, &pc.assigned, &pc.offered}
}

func (pc *presenceCols) presence() *helpline.Presence {
	return &helpline.Presence{Status: pc.status, StatusAt: fromNullMillis(pc.statusAt), SeenAt: fromNullMillis(pc.seen),
		AssignedAt: fromNullMillis(pc.assigned), OfferedAt: fromNullMillis(pc.offered)}
}

// RoutingSnapshot reads the instance's routing state in one read-only
// REPEATABLE READ transaction: every query sees the same moment.
func (db *DB) RoutingSnapshot(ctx context.Context, instanceID string) (*helpline.RoutingSnapshot, error) {
	return db.routingSnapshot(ctx, instanceID, "")
}

// AgentSnapshot reads the part of the routing state agentID's desk shows
// as RoutingSnapshot reads the whole; see helpline.RoutingStore.
func (db *DB) AgentSnapshot(ctx context.Context, instanceID, agentID string) (*helpline.RoutingSnapshot, error) {
	if agentID == "" {
		return nil, helpline.Errorf(helpline.EINVALID, "An agent snapshot names its agent.")
	}
	return db.routingSnapshot(ctx, instanceID, agentID)
}

func (db *DB) routingSnapshot(ctx context.Context, instanceID, agentID string) (*helpline.RoutingSnapshot, error) {
	var snap *helpline.RoutingSnapshot
	err := db.txOptions(ctx, pgx.TxOptions{IsoLevel: pgx.RepeatableRead, AccessMode: pgx.ReadOnly}, func(tx pgx.Tx) (err error) {
		snap, err = routingSnapshot(ctx, tx, instanceID, agentID)
		return err
	})
	return snap, err
}

// routingSnapshot reads the instance's routing state, or with agentID
// set the part of it that agent's desk shows (AgentSnapshot).
func routingSnapshot(ctx context.Context, tx pgx.Tx, instanceID, agentID string) (*helpline.RoutingSnapshot, error) {
	var (
		snap helpline.RoutingSnapshot
		err  error
	)
	if snap.Queues, err = findQueues(ctx, tx, instanceID); err != nil {
		return nil, err
	}
	agents, args := `SELECT `+agentColumns+`, `+presenceColumns+` FROM agents WHERE instance_id = $1 AND enabled`, []any{instanceID}
	if agentID != "" {
		agents, args = agents+` AND id = $2`, append(args, agentID)
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
		list := []string{helpline.OwnerAgent + ":" + agentID}
		for _, as := range snap.Agents { // none when disabled
			for _, q := range as.Agent.Queues {
				list = append(list, helpline.OwnerQueue+":"+q)
			}
		}
		owners, args = `owner = ANY($2)`, append(args, list)
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
		FROM contacts WHERE instance_id = $1 AND `+isActive+` AND `+owners+`
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
	offers, args := `instance_id = $1 AND (state = '`+helpline.OfferPending+`' OR contact_id IN
			(SELECT id FROM contacts WHERE instance_id = $1 AND `+isActive+` AND owner LIKE 'queue:%'))`, []any{instanceID}
	if agentID != "" {
		offers, args = `instance_id = $1 AND agent_id = $2 AND state = '`+helpline.OfferPending+`'`, append(args, agentID)
	}
	snap.Offers, err = queryAll(ctx, tx, "find offers", scanOffer, `SELECT `+offerColumns+` FROM offers WHERE `+offers+`
		ORDER BY created_at, id`, args...)
	if err != nil {
		return nil, err
	}
	return &snap, nil
}

// CreateOffer stores a pending offer; see helpline.RoutingStore. It locks
// the agent's row, then the contact's: offers of one contact take turns,
// and so do the writes that raise one agent's load.
func (db *DB) CreateOffer(ctx context.Context, o *helpline.Offer) error {
	if o.ContactID == "" || !helpline.ValidName(o.QueueID) || !helpline.ValidName(o.AgentID) || !o.ExpiresAt.After(o.CreatedAt) {
		return helpline.Errorf(helpline.EINVALID, "An offer needs a contact, a queue, an agent and an expiry after its creation.")
	}
	if o.ID == "" {
		o.ID = helpline.NewID()
	}
	o.State, o.DecidedAt = helpline.OfferPending, time.Time{}
	return db.tx(ctx, func(tx pgx.Tx) error {
		var instanceID string
		if err := tx.QueryRow(ctx, `SELECT instance_id FROM contacts WHERE id = $1`, o.ContactID).Scan(&instanceID); errors.Is(err, pgx.ErrNoRows) {
			return helpline.NotFound(helpline.ResourceContact, o.ContactID)
		} else if err != nil {
			return dbError("read contact", err)
		}
		if err := checkCapacity(ctx, tx, instanceID, o.AgentID, o.ContactID, o.CreatedAt, true); err != nil {
			return err
		}
		c, err := lockActiveContact(ctx, tx, o.ContactID)
		if err != nil {
			return err
		}
		if c.Owner != helpline.OwnerQueue+":"+o.QueueID || c.Version != o.ContactVersion {
			return helpline.Errorf(helpline.ECONFLICT, "The contact is %q at version %d, not waiting in queue %s at version %d.",
				c.Owner, c.Version, o.QueueID, o.ContactVersion)
		}
		o.InstanceID = c.InstanceID
		if _, err := tx.Exec(ctx, `UPDATE offers SET state = $1, decided_at = expires_at WHERE contact_id = $2 AND state = $3 AND expires_at <= $4`,
			helpline.OfferExpired, o.ContactID, helpline.OfferPending, millis(o.CreatedAt)); err != nil {
			return dbError("expire offers", err)
		}
		var pending int
		if err := tx.QueryRow(ctx, `SELECT count(*) FROM offers WHERE contact_id = $1 AND state = $2`, o.ContactID, helpline.OfferPending).Scan(&pending); err != nil {
			return dbError("count offers", err)
		} else if pending > 0 {
			return helpline.Errorf(helpline.ECONFLICT, "The contact is already offered to an agent.")
		}
		_, err = tx.Exec(ctx, `INSERT INTO offers (`+offerColumns+`) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, NULL)`,
			o.ID, o.InstanceID, o.ContactID, o.QueueID, o.AgentID, o.ContactVersion, o.State, millis(o.CreatedAt), millis(o.ExpiresAt))
		if err != nil {
			return dbError("create offer", err)
		}
		if _, err := tx.Exec(ctx, `UPDATE agents SET offered_at = $1 WHERE instance_id = $2 AND id = $3`, millis(o.CreatedAt), o.InstanceID, o.AgentID); err != nil {
			return dbError("create offer", err)
		}
		return nil
	})
}

// checkCapacity locks the agent's row and returns EQUOTA unless the
// agent's load at time at, leaving out contactID, is under its capacity,
// and ECONFLICT if the agent is disabled. An agent with no row is
// ENOTFOUND when required, and passes otherwise.
func checkCapacity(ctx context.Context, tx pgx.Tx, instanceID, agentID, contactID string, at time.Time, required bool) error {
	var capacity int
	var enabled bool
	err := tx.QueryRow(ctx, `SELECT capacity, enabled FROM agents WHERE instance_id = $1 AND id = $2 FOR UPDATE`, instanceID, agentID).Scan(&capacity, &enabled)
	if errors.Is(err, pgx.ErrNoRows) {
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
	err = tx.QueryRow(ctx, `SELECT
		(SELECT count(*) FROM contacts WHERE instance_id = $1 AND owner = $2 AND `+isActive+` AND id <> $3) +
		(SELECT count(*) FROM offers WHERE instance_id = $1 AND agent_id = $4 AND state = $5 AND expires_at > $6 AND contact_id <> $3)`,
		instanceID, helpline.OwnerAgent+":"+agentID, contactID, agentID, helpline.OfferPending, millis(at)).Scan(&load)
	if err != nil {
		return dbError("count agent load", err)
	}
	if load >= capacity {
		return helpline.Errorf(helpline.EQUOTA, "Agent %s is at capacity (%d chats).", agentID, capacity)
	}
	return nil
}

// AcceptOffer moves the offered contact to the agent and marks the offer
// accepted in one transaction; see helpline.RoutingStore. The offer's row
// is locked after the agent's and the contact's (the order of every
// write), and its state read again under the lock: of accepts racing on
// one offer, one moves the contact and the others find it accepted.
func (db *DB) AcceptOffer(ctx context.Context, offerID string, at time.Time) (*helpline.Contact, *helpline.Item, error) {
	var (
		c  *helpline.Contact
		it *helpline.Item
		// lost is the state a stale offer moves to; the move is
		// committed although the accept fails.
		lost string
	)
	err := db.tx(ctx, func(tx pgx.Tx) error {
		lost = ""
		o, err := findOffer(ctx, tx, offerID, "")
		if err != nil {
			return err
		}
		ch := &helpline.OwnerChange{
			ContactID: o.ContactID, From: helpline.OwnerQueue + ":" + o.QueueID, Version: o.ContactVersion,
			To: helpline.OwnerAgent + ":" + o.AgentID, Reason: "accepted", Actor: helpline.OwnerAgent + ":" + o.AgentID, At: at,
		}
		// Lock order: agent (changeOwner below checks its capacity),
		// contact, offer.
		if _, err := tx.Exec(ctx, `SELECT FROM agents WHERE instance_id = $1 AND id = $2 FOR UPDATE`, o.InstanceID, o.AgentID); err != nil {
			return dbError("lock agent", err)
		}
		if _, err := lockContact(ctx, tx, o.ContactID); err != nil {
			return err
		}
		if o, err = findOffer(ctx, tx, offerID, "FOR UPDATE"); err != nil {
			return err
		}
		if o.State != helpline.OfferPending {
			return helpline.Errorf(helpline.ECONFLICT, "The offer is %s.", o.State)
		} else if !at.Before(o.ExpiresAt) {
			lost = helpline.OfferExpired
			return helpline.Errorf(helpline.ECONFLICT, "The offer expired at %s.", o.ExpiresAt.Format(time.RFC3339))
		}
		// The offer itself is withdrawn by the change below, then marked
		// accepted.
		if c, it, err = changeOwner(ctx, tx, ch); err != nil {
			if helpline.ErrorCode(err) == helpline.ECONFLICT {
				lost = helpline.OfferWithdrawn
			}
			return err
		}
		if _, err := tx.Exec(ctx, `UPDATE offers SET state = $1, decided_at = $2 WHERE id = $3`, helpline.OfferAccepted, millis(at), offerID); err != nil {
			return dbError("accept offer", err)
		}
		if _, err := tx.Exec(ctx, `UPDATE agents SET assigned_at = $1 WHERE instance_id = $2 AND id = $3`, millis(at), o.InstanceID, o.AgentID); err != nil {
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
	tag, err := db.pool.Exec(ctx, `UPDATE offers SET state = $1, decided_at = $2 WHERE id = $3 AND state = $4`,
		state, millis(at), offerID, helpline.OfferPending)
	if err != nil {
		return dbError("close offer", err)
	} else if tag.RowsAffected() == 1 {
		return nil
	}
	o, err := findOffer(ctx, db.pool, offerID, "")
	if err != nil {
		return err
	}
	return helpline.Errorf(helpline.ECONFLICT, "The offer is %s.", o.State)
}

// FindOfferByID returns ENOTFOUND (Resource OFFER) if there is none.
func (db *DB) FindOfferByID(ctx context.Context, id string) (*helpline.Offer, error) {
	return findOffer(ctx, db.pool, id, "")
}

// findOffer reads an offer; lock, when set, is appended to the query.
func findOffer(ctx context.Context, q querier, id, lock string) (*helpline.Offer, error) {
	o, err := scanOffer(q.QueryRow(ctx, `SELECT `+offerColumns+` FROM offers WHERE id = $1 `+lock, id))
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, helpline.NotFound(helpline.ResourceOffer, id)
	} else if err != nil {
		return nil, dbError("find offer", err)
	}
	return o, nil
}

func scanOffer(s scanner) (*helpline.Offer, error) {
	var (
		o                helpline.Offer
		created, expires int64
		decided          *int64
	)
	if err := s.Scan(&o.ID, &o.InstanceID, &o.ContactID, &o.QueueID, &o.AgentID, &o.ContactVersion, &o.State, &created, &expires, &decided); err != nil {
		return nil, err
	}
	o.CreatedAt, o.ExpiresAt, o.DecidedAt = fromMillis(created), fromMillis(expires), fromNullMillis(decided)
	return &o, nil
}
