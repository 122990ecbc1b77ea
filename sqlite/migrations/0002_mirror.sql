-- Mirroring: the durable state of each (connector, contact) pair, the
-- connectors' references looked up by value, and the connector an item
-- came in through.

ALTER TABLE items ADD COLUMN origin TEXT NOT NULL DEFAULT '';

CREATE TABLE mirror_pairs (
	connector    TEXT NOT NULL,
	contact_id   TEXT NOT NULL REFERENCES contacts (id),
	cursor       INTEGER NOT NULL, -- the seq of the last item delivered
	refs         TEXT NOT NULL,    -- JSON object
	state        TEXT NOT NULL,
	attempts     INTEGER NOT NULL,
	next_attempt INTEGER NOT NULL,
	last_error   TEXT NOT NULL,
	lease_owner  TEXT NOT NULL,    -- '' when free
	lease_until  INTEGER,
	updated_at   INTEGER NOT NULL,
	PRIMARY KEY (connector, contact_id)
) WITHOUT ROWID;
-- Claiming scans a connector's active pairs by due time.
CREATE INDEX mirror_pairs_due ON mirror_pairs (connector, next_attempt) WHERE state = 'active';
CREATE INDEX mirror_pairs_contact ON mirror_pairs (contact_id);

-- One row per entry of a pair's refs, so that an inbound webhook naming a
-- ticket finds its contact. Several contacts may share a reference (one
-- CRM lead for a returning customer).
CREATE TABLE mirror_refs (
	connector  TEXT NOT NULL,
	key        TEXT NOT NULL,
	value      TEXT NOT NULL,
	contact_id TEXT NOT NULL,
	PRIMARY KEY (connector, key, value, contact_id),
	FOREIGN KEY (connector, contact_id) REFERENCES mirror_pairs (connector, contact_id)
) WITHOUT ROWID;
CREATE INDEX mirror_refs_pair ON mirror_refs (connector, contact_id);
