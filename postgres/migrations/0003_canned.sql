-- Canned responses (helpline.CannedStore): replies an instance's agents
-- insert by their shortcut.
CREATE TABLE canned_responses (
	instance_id text   NOT NULL,
	id          text   NOT NULL,
	shortcut    text   NOT NULL,
	text        text   NOT NULL,
	created_at  bigint NOT NULL,
	updated_at  bigint NOT NULL,
	PRIMARY KEY (instance_id, id)
);
CREATE UNIQUE INDEX canned_responses_shortcut ON canned_responses (instance_id, shortcut);
