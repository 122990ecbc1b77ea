-- The replay guard (helpline.ReplayGuard): keys remembered per scope until
-- a time, such as the signatures of accepted inbound webhooks.

CREATE TABLE remembered (
	scope TEXT NOT NULL,
	key   TEXT NOT NULL,
	until INTEGER NOT NULL,
	PRIMARY KEY (scope, key)
) WITHOUT ROWID;
-- Pruning deletes by expiry.
CREATE INDEX remembered_until ON remembered (until);
