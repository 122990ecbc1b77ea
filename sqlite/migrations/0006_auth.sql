-- Agents' sessions and API tokens (helpline.AuthStore). Secrets are kept
-- only as their SHA-256 (helpline.SecretHash).

CREATE TABLE sessions (
	id          TEXT PRIMARY KEY, -- SHA-256 of the session cookie's value
	instance_id TEXT NOT NULL,
	agent_id    TEXT NOT NULL,
	created_at  INTEGER NOT NULL,
	seen_at     INTEGER NOT NULL,
	expires_at  INTEGER NOT NULL
) WITHOUT ROWID;
-- Pruning deletes by expiry.
CREATE INDEX sessions_expires ON sessions (expires_at);

CREATE TABLE api_tokens (
	id          TEXT PRIMARY KEY,
	hash        TEXT NOT NULL UNIQUE, -- SHA-256 of the secret
	instance_id TEXT NOT NULL,
	role        TEXT NOT NULL,
	name        TEXT NOT NULL,
	created_by  TEXT NOT NULL,
	created_at  INTEGER NOT NULL,
	revoked_at  INTEGER
);
CREATE INDEX api_tokens_instance ON api_tokens (instance_id, created_at);
