-- Routing to human agents (helpline.RoutingStore): agents with their
-- presence, queues, and offers of waiting contacts to agents.

CREATE TABLE agents (
	instance_id   TEXT NOT NULL,
	id            TEXT NOT NULL,
	display_name  TEXT NOT NULL,
	email         TEXT NOT NULL, -- lower case
	password_hash TEXT NOT NULL,
	role          TEXT NOT NULL,
	queues        TEXT NOT NULL, -- JSON array of queue ids
	capacity      INTEGER NOT NULL,
	enabled       INTEGER NOT NULL,
	created_at    INTEGER NOT NULL,
	-- Presence: the status the agent set and when, and the last live
	-- connection, assignment and offer (unix milliseconds, NULL for never).
	status        TEXT NOT NULL DEFAULT 'offline',
	status_at     INTEGER,
	seen_at       INTEGER,
	assigned_at   INTEGER,
	offered_at    INTEGER,
	PRIMARY KEY (instance_id, id)
) WITHOUT ROWID;
CREATE UNIQUE INDEX agents_email ON agents (instance_id, email);

CREATE TABLE queues (
	instance_id       TEXT NOT NULL,
	id                TEXT NOT NULL,
	name              TEXT NOT NULL,
	routing           TEXT NOT NULL,
	accept_within_ms  INTEGER NOT NULL,
	auto_accept       INTEGER NOT NULL,
	reassign_after_ms INTEGER NOT NULL,
	hours             TEXT NOT NULL, -- helpline.BusinessHours as JSON, or ''
	PRIMARY KEY (instance_id, id)
) WITHOUT ROWID;

CREATE TABLE offers (
	id              TEXT PRIMARY KEY,
	instance_id     TEXT NOT NULL,
	contact_id      TEXT NOT NULL REFERENCES contacts (id),
	queue_id        TEXT NOT NULL,
	agent_id        TEXT NOT NULL,
	contact_version INTEGER NOT NULL,
	state           TEXT NOT NULL,
	created_at      INTEGER NOT NULL,
	expires_at      INTEGER NOT NULL,
	decided_at      INTEGER
);
CREATE INDEX offers_contact ON offers (contact_id, created_at);
CREATE INDEX offers_pending_agent ON offers (instance_id, agent_id) WHERE state = 'pending';

-- When the contact's owner last changed: a queue's waiting contacts are
-- served in this order. Contacts from before count from their creation.
ALTER TABLE contacts ADD COLUMN owner_since INTEGER;
CREATE INDEX contacts_active_owner ON contacts (instance_id, owner, owner_since) WHERE state = 'CONNECTED';
