-- Times are integer unix milliseconds, UTC. A NULL time is one not set yet.
-- Queries repeat the WHERE terms of the partial indexes literally
-- (client_token != '', state = 'CONNECTED') so that SQLite uses them.

CREATE TABLE instances (
	id   TEXT PRIMARY KEY,
	data TEXT NOT NULL -- the helpline.Instance as JSON
);

CREATE TABLE secrets (
	name  TEXT PRIMARY KEY,
	value BLOB NOT NULL
);

CREATE TABLE contacts (
	id                      TEXT PRIMARY KEY,
	instance_id             TEXT NOT NULL,
	flow_id                 TEXT NOT NULL,
	initial_contact_id      TEXT NOT NULL,
	related_contact_id      TEXT NOT NULL,
	customer_id             TEXT NOT NULL,
	state                   TEXT NOT NULL,
	end_reason              TEXT NOT NULL,
	attributes              TEXT NOT NULL, -- JSON object
	supported_content_types TEXT NOT NULL, -- JSON array
	client_token            TEXT NOT NULL,
	created_at              INTEGER NOT NULL,
	expires_at              INTEGER,
	ended_at                INTEGER
	-- A contact's LastSeq is the highest seq of its items.
);
CREATE UNIQUE INDEX contacts_client_token ON contacts (instance_id, client_token) WHERE client_token != '';
CREATE INDEX contacts_active ON contacts (instance_id) WHERE state = 'CONNECTED';
CREATE INDEX contacts_expiry ON contacts (expires_at) WHERE state = 'CONNECTED';

CREATE TABLE participants (
	id           TEXT PRIMARY KEY,
	contact_id   TEXT NOT NULL REFERENCES contacts (id),
	role         TEXT NOT NULL,
	display_name TEXT NOT NULL,
	client_token TEXT NOT NULL,
	created_at   INTEGER NOT NULL,
	connected_at INTEGER,
	left_at      INTEGER
);
CREATE INDEX participants_contact ON participants (contact_id);
CREATE UNIQUE INDEX participants_client_token ON participants (contact_id, client_token) WHERE client_token != '';

CREATE TABLE items (
	contact_id     TEXT NOT NULL REFERENCES contacts (id),
	seq            INTEGER NOT NULL,
	id             TEXT NOT NULL,
	type           TEXT NOT NULL,
	content_type   TEXT NOT NULL,
	content        TEXT NOT NULL,
	participant_id TEXT NOT NULL,
	display_name   TEXT NOT NULL,
	role           TEXT NOT NULL,
	time           INTEGER NOT NULL,
	attachments    TEXT, -- JSON array, ATTACHMENT items only
	metadata       TEXT, -- JSON object, MESSAGEMETADATA items only
	client_token   TEXT NOT NULL,
	PRIMARY KEY (contact_id, seq)
) WITHOUT ROWID;
CREATE UNIQUE INDEX items_id ON items (contact_id, id);
CREATE UNIQUE INDEX items_client_token ON items (contact_id, participant_id, client_token) WHERE client_token != '';

CREATE TABLE attachments (
	id             TEXT PRIMARY KEY,
	contact_id     TEXT NOT NULL REFERENCES contacts (id),
	participant_id TEXT NOT NULL,
	name           TEXT NOT NULL,
	content_type   TEXT NOT NULL,
	size           INTEGER NOT NULL,
	status         TEXT NOT NULL,
	client_token   TEXT NOT NULL,
	created_at     INTEGER NOT NULL,
	uploaded_at    INTEGER,
	item_seq       INTEGER -- the Seq of the ATTACHMENT item once completed
);
CREATE INDEX attachments_contact ON attachments (contact_id);
CREATE UNIQUE INDEX attachments_client_token ON attachments (participant_id, client_token) WHERE client_token != '';
