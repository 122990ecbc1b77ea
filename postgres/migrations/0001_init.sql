-- The schema of helpline.Store on PostgreSQL. It follows the SQLite
-- store's tables; times are bigint unix milliseconds, UTC, as there, and a
-- NULL time is one not set yet. JSON values are jsonb.

CREATE TABLE instances (
	id   text PRIMARY KEY,
	data jsonb NOT NULL -- the helpline.Instance
);

CREATE TABLE secrets (
	name  text PRIMARY KEY,
	value bytea NOT NULL
);

CREATE TABLE contacts (
	id                      text PRIMARY KEY,
	instance_id             text NOT NULL,
	flow_id                 text NOT NULL,
	initial_contact_id      text NOT NULL,
	related_contact_id      text NOT NULL,
	customer_id             text NOT NULL,
	state                   text NOT NULL,
	end_reason              text NOT NULL,
	attributes              jsonb NOT NULL, -- object of strings
	supported_content_types jsonb NOT NULL, -- array of strings
	client_token            text NOT NULL,
	created_at              bigint NOT NULL,
	expires_at              bigint,
	ended_at                bigint,
	-- The owner (bot:<id>, queue:<id>, agent:<id>, or '' for nobody), the
	-- version compare-and-swap changes check, and when the owner last
	-- changed: a queue's waiting contacts are served in that order.
	owner                   text NOT NULL DEFAULT '',
	version                 bigint NOT NULL DEFAULT 1,
	owner_since             bigint,
	-- The Seq of the newest item. Every append raises it in the appending
	-- transaction, so the contact's row lock numbers the items of every
	-- node without a gap or a collision.
	last_seq                bigint NOT NULL DEFAULT 0
);
CREATE UNIQUE INDEX contacts_client_token ON contacts (instance_id, client_token) WHERE client_token <> '';
CREATE INDEX contacts_expiry ON contacts (expires_at) WHERE state = 'CONNECTED';
CREATE INDEX contacts_active_owner ON contacts (instance_id, owner, owner_since) WHERE state = 'CONNECTED';

CREATE TABLE participants (
	n            bigint GENERATED ALWAYS AS IDENTITY, -- join order
	id           text PRIMARY KEY,
	contact_id   text NOT NULL REFERENCES contacts (id),
	role         text NOT NULL,
	display_name text NOT NULL,
	client_token text NOT NULL,
	created_at   bigint NOT NULL,
	connected_at bigint,
	left_at      bigint
);
CREATE INDEX participants_contact ON participants (contact_id, n);
CREATE UNIQUE INDEX participants_client_token ON participants (contact_id, client_token) WHERE client_token <> '';

CREATE TABLE items (
	contact_id     text NOT NULL REFERENCES contacts (id),
	seq            bigint NOT NULL,
	id             text NOT NULL,
	type           text NOT NULL,
	content_type   text NOT NULL,
	content        text NOT NULL,
	participant_id text NOT NULL,
	display_name   text NOT NULL,
	role           text NOT NULL,
	time           bigint NOT NULL,
	attachments    jsonb, -- ATTACHMENT items only
	metadata       jsonb, -- MESSAGEMETADATA items only
	client_token   text NOT NULL,
	origin         text NOT NULL DEFAULT '',
	PRIMARY KEY (contact_id, seq)
);
CREATE UNIQUE INDEX items_id ON items (contact_id, id);
CREATE UNIQUE INDEX items_client_token ON items (contact_id, participant_id, client_token) WHERE client_token <> '';

CREATE TABLE attachments (
	id             text PRIMARY KEY,
	contact_id     text NOT NULL REFERENCES contacts (id),
	participant_id text NOT NULL,
	name           text NOT NULL,
	content_type   text NOT NULL,
	size           bigint NOT NULL,
	status         text NOT NULL,
	client_token   text NOT NULL,
	created_at     bigint NOT NULL,
	uploaded_at    bigint,
	item_seq       bigint -- the Seq of the ATTACHMENT item once completed
);
CREATE INDEX attachments_contact ON attachments (contact_id);
CREATE UNIQUE INDEX attachments_client_token ON attachments (participant_id, client_token) WHERE client_token <> '';

-- Mirroring: the durable state of each (connector, contact) pair. A
-- claim locks the rows it takes with FOR UPDATE SKIP LOCKED, so nodes
-- claiming at once take different pairs.
CREATE TABLE mirror_pairs (
	connector    text NOT NULL,
	contact_id   text NOT NULL REFERENCES contacts (id),
	cursor       bigint NOT NULL, -- the seq of the last item delivered
	refs         jsonb NOT NULL,  -- object of strings
	state        text NOT NULL,
	attempts     integer NOT NULL,
	next_attempt bigint NOT NULL,
	last_error   text NOT NULL,
	lease_owner  text NOT NULL,   -- '' when free
	lease_until  bigint,
	updated_at   bigint NOT NULL,
	PRIMARY KEY (connector, contact_id)
);
CREATE INDEX mirror_pairs_due ON mirror_pairs (connector, next_attempt) WHERE state = 'active';
CREATE INDEX mirror_pairs_contact ON mirror_pairs (contact_id);
CREATE INDEX mirror_pairs_lease_owner ON mirror_pairs (lease_owner) WHERE lease_owner <> '';

-- One row per entry of a pair's refs, so that an inbound webhook naming a
-- ticket finds its contact. Several contacts may share a reference.
CREATE TABLE mirror_refs (
	connector  text NOT NULL,
	key        text NOT NULL,
	value      text NOT NULL,
	contact_id text NOT NULL,
	PRIMARY KEY (connector, key, value, contact_id),
	FOREIGN KEY (connector, contact_id) REFERENCES mirror_pairs (connector, contact_id)
);
CREATE INDEX mirror_refs_pair ON mirror_refs (connector, contact_id);

-- The replay guard (helpline.ReplayGuard).
CREATE TABLE remembered (
	scope text NOT NULL,
	key   text NOT NULL,
	until bigint NOT NULL,
	PRIMARY KEY (scope, key)
);
CREATE INDEX remembered_until ON remembered (until);

-- Routing to human agents (helpline.RoutingStore). A write that raises
-- an agent's load locks the agent's row first, so that writes of several
-- nodes never take the agent past its capacity.
CREATE TABLE agents (
	instance_id   text NOT NULL,
	id            text NOT NULL,
	display_name  text NOT NULL,
	email         text NOT NULL, -- lower case
	password_hash text NOT NULL,
	role          text NOT NULL,
	queues        jsonb NOT NULL, -- array of queue ids
	capacity      integer NOT NULL,
	enabled       boolean NOT NULL,
	created_at    bigint NOT NULL,
	status        text NOT NULL DEFAULT 'offline',
	status_at     bigint,
	seen_at       bigint,
	assigned_at   bigint,
	offered_at    bigint,
	PRIMARY KEY (instance_id, id)
);
CREATE UNIQUE INDEX agents_email ON agents (instance_id, email);

CREATE TABLE queues (
	instance_id       text NOT NULL,
	id                text NOT NULL,
	name              text NOT NULL,
	routing           text NOT NULL,
	accept_within_ms  bigint NOT NULL,
	auto_accept       boolean NOT NULL,
	reassign_after_ms bigint NOT NULL,
	hours             jsonb, -- helpline.BusinessHours, NULL for always open
	PRIMARY KEY (instance_id, id)
);

CREATE TABLE offers (
	id              text PRIMARY KEY,
	instance_id     text NOT NULL,
	contact_id      text NOT NULL REFERENCES contacts (id),
	queue_id        text NOT NULL,
	agent_id        text NOT NULL,
	contact_version bigint NOT NULL,
	state           text NOT NULL,
	created_at      bigint NOT NULL,
	expires_at      bigint NOT NULL,
	decided_at      bigint
);
CREATE INDEX offers_contact ON offers (contact_id, created_at);
CREATE INDEX offers_pending_agent ON offers (instance_id, agent_id) WHERE state = 'pending';

-- Agents' sessions and API tokens (helpline.AuthStore), kept by the
-- SHA-256 of their secrets.
CREATE TABLE sessions (
	id          text PRIMARY KEY,
	instance_id text NOT NULL,
	agent_id    text NOT NULL,
	created_at  bigint NOT NULL,
	seen_at     bigint NOT NULL,
	expires_at  bigint NOT NULL
);
CREATE INDEX sessions_expires ON sessions (expires_at);

CREATE TABLE api_tokens (
	id          text PRIMARY KEY,
	hash        text NOT NULL UNIQUE,
	instance_id text NOT NULL,
	role        text NOT NULL,
	name        text NOT NULL,
	created_by  text NOT NULL,
	created_at  bigint NOT NULL,
	revoked_at  bigint
);
CREATE INDEX api_tokens_instance ON api_tokens (instance_id, created_at);

-- Attachment bytes (the Blobs type), shared by every node: a blob's
-- bytes are chunks of at most 256 KiB under an id of its own, and a key
-- points at the id of its last complete upload.
CREATE TABLE blobs (
	key     text PRIMARY KEY,
	blob_id text NOT NULL,
	size    bigint NOT NULL
);

CREATE TABLE blob_chunks (
	blob_id text NOT NULL,
	n       integer NOT NULL,
	data    bytea NOT NULL,
	PRIMARY KEY (blob_id, n)
);

-- Uploads under way: a Put notes its blob id here before its first chunk
-- and removes it as the key points at the chunks. One left behind by a
-- node that died mid-upload is swept, chunks and all, a day later.
CREATE TABLE blob_uploads (
	blob_id    text PRIMARY KEY,
	started_at bigint NOT NULL
);
CREATE INDEX blob_uploads_started ON blob_uploads (started_at);
