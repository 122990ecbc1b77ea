package postgres

import (
	"context"
	"errors"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/helplinehq/helpline"
)

// The auth store (helpline.AuthStore): agents' sessions and API tokens,
// kept by the SHA-256 of their secrets.

const (
	sessionColumns  = `id, instance_id, agent_id, created_at, seen_at, expires_at`
	apiTokenColumns = `id, hash, instance_id, role, name, created_by, created_at, revoked_at`
)

// CreateSession stores a new session and prunes expired ones; see
// helpline.AuthStore.
func (db *DB) CreateSession(ctx context.Context, s *helpline.AgentSession) error {
	if s.ID == "" || s.InstanceID == "" || s.AgentID == "" {
		return helpline.Errorf(helpline.EINVALID, "A session needs an id, an instance and an agent.")
	}
	return db.tx(ctx, func(tx pgx.Tx) error {
		var one int
		err := tx.QueryRow(ctx, `SELECT 1 FROM agents WHERE instance_id = $1 AND id = $2`, s.InstanceID, s.AgentID).Scan(&one)
		if errors.Is(err, pgx.ErrNoRows) {
			return helpline.NotFound(helpline.ResourceAgent, s.AgentID)
		} else if err != nil {
			return dbError("find agent", err)
		}
		// Pruning skips the rows other logins hold, so that logins on
		// several nodes never wait on each other.
		if _, err := tx.Exec(ctx, `DELETE FROM sessions WHERE id IN
			(SELECT id FROM sessions WHERE expires_at <= $1 FOR UPDATE SKIP LOCKED)`, millis(s.CreatedAt)); err != nil {
			return dbError("prune sessions", err)
		}
		if _, err := tx.Exec(ctx, `INSERT INTO sessions (`+sessionColumns+`) VALUES ($1, $2, $3, $4, $5, $6)`,
			s.ID, s.InstanceID, s.AgentID, millis(s.CreatedAt), millis(s.SeenAt), millis(s.ExpiresAt)); err != nil {
			return dbError("create session", err)
		}
		return nil
	})
}

// FindSession returns ENOTFOUND (Resource SESSION) if there is none.
func (db *DB) FindSession(ctx context.Context, id string) (*helpline.AgentSession, error) {
	var (
		s                      helpline.AgentSession
		created, seen, expires int64
	)
	err := db.pool.QueryRow(ctx, `SELECT `+sessionColumns+` FROM sessions WHERE id = $1`, id).
		Scan(&s.ID, &s.InstanceID, &s.AgentID, &created, &seen, &expires)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, helpline.NotFound(helpline.ResourceSession, "")
	} else if err != nil {
		return nil, dbError("find session", err)
	}
	s.CreatedAt, s.SeenAt, s.ExpiresAt = fromMillis(created), fromMillis(seen), fromMillis(expires)
	return &s, nil
}

// TouchSession moves the session's SeenAt on to at.
func (db *DB) TouchSession(ctx context.Context, id string, at time.Time) error {
	tag, err := db.pool.Exec(ctx, `UPDATE sessions SET seen_at = greatest(seen_at, $1) WHERE id = $2`, millis(at), id)
	if err != nil {
		return dbError("touch session", err)
	} else if tag.RowsAffected() == 0 {
		return helpline.NotFound(helpline.ResourceSession, "")
	}
	return nil
}

// DeleteSession deletes a session, if there is one.
func (db *DB) DeleteSession(ctx context.Context, id string) error {
	if _, err := db.pool.Exec(ctx, `DELETE FROM sessions WHERE id = $1`, id); err != nil {
		return dbError("delete session", err)
	}
	return nil
}

// DeleteAgentSessions deletes an agent's sessions but except; see
// helpline.AuthStore.
func (db *DB) DeleteAgentSessions(ctx context.Context, instanceID, agentID, except string) error {
	if _, err := db.pool.Exec(ctx, `DELETE FROM sessions WHERE instance_id = $1 AND agent_id = $2 AND id <> $3`, instanceID, agentID, except); err != nil {
		return dbError("delete agent sessions", err)
	}
	return nil
}

// CreateAPIToken stores a new token; see helpline.AuthStore.
func (db *DB) CreateAPIToken(ctx context.Context, t *helpline.APIToken) error {
	if err := t.Check(); err != nil {
		return err
	} else if t.ID == "" || t.Hash == "" {
		return helpline.Errorf(helpline.EINVALID, "A token needs an id and a hash.")
	}
	return db.tx(ctx, func(tx pgx.Tx) error {
		if err := instanceExists(ctx, tx, t.InstanceID); err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, `INSERT INTO api_tokens (`+apiTokenColumns+`) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)`,
			t.ID, t.Hash, t.InstanceID, t.Role, t.Name, t.CreatedBy, millis(t.CreatedAt), nullMillis(t.RevokedAt)); err != nil {
			return dbError("create API token", err)
		}
		return nil
	})
}

// FindAPITokenByHash returns the token with the hash, revoked or not.
func (db *DB) FindAPITokenByHash(ctx context.Context, hash string) (*helpline.APIToken, error) {
	t, err := scanAPIToken(db.pool.QueryRow(ctx, `SELECT `+apiTokenColumns+` FROM api_tokens WHERE hash = $1`, hash))
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, helpline.NotFound(helpline.ResourceAPIToken, "")
	} else if err != nil {
		return nil, dbError("find API token", err)
	}
	return t, nil
}

// FindAPITokens returns the instance's tokens, oldest first.
func (db *DB) FindAPITokens(ctx context.Context, instanceID string) ([]*helpline.APIToken, error) {
	return queryAll(ctx, db.pool, "find API tokens", scanAPIToken,
		`SELECT `+apiTokenColumns+` FROM api_tokens WHERE instance_id = $1 ORDER BY created_at, id`, instanceID)
}

// RevokeAPIToken marks the instance's token revoked.
func (db *DB) RevokeAPIToken(ctx context.Context, instanceID, id string, at time.Time) error {
	tag, err := db.pool.Exec(ctx, `UPDATE api_tokens SET revoked_at = coalesce(revoked_at, $1) WHERE instance_id = $2 AND id = $3`, millis(at), instanceID, id)
	if err != nil {
		return dbError("revoke API token", err)
	} else if tag.RowsAffected() == 0 {
		return helpline.NotFound(helpline.ResourceAPIToken, id)
	}
	return nil
}

func scanAPIToken(s scanner) (*helpline.APIToken, error) {
	var (
		t       helpline.APIToken
		created int64
		revoked *int64
	)
	if err := s.Scan(&t.ID, &t.Hash, &t.InstanceID, &t.Role, &t.Name, &t.CreatedBy, &created, &revoked); err != nil {
		return nil, err
	}
	t.CreatedAt, t.RevokedAt = fromMillis(created), fromNullMillis(revoked)
	return &t, nil
}
