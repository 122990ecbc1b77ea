-- Canned responses (helpline.CannedStore): replies an instance's agents
-- insert by their shortcut.

CREATE TABLE canned_responses (
	instance_id TEXT NOT NULL,
	id          TEXT NOT NULL,
	shortcut    TEXT NOT NULL,
	text        TEXT NOT NULL,
	created_at  INTEGER NOT NULL,
	updated_at  INTEGER NOT NULL,
	PRIMARY KEY (instance_id, id)
) WITHOUT ROWID;
CREATE UNIQUE INDEX canned_responses_shortcut ON canned_responses (instance_id, shortcut);
