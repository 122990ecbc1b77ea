package helpline

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"strings"
	"time"
)

// How agents and automations authenticate to the agent API: agents log in
// with a password and hold a session; automations hold an API token that
// an admin created. Both are bearer secrets of 32 random bytes that the
// store keeps only as their SHA-256 (SecretHash): a copy of the database
// lets no one in.

// AgentSession is an agent's login. The secret is the session cookie's value;
// ID is its SecretHash.
type AgentSession struct {
	ID         string
	InstanceID string
	AgentID    string
	CreatedAt  time.Time
	// SeenAt is when the session was last used (AuthStore.TouchSession);
	// the idle timeout counts from it.
	SeenAt time.Time
	// ExpiresAt is the end of the session's absolute lifetime, however
	// busy it is.
	ExpiresAt time.Time
}

// APIToken authorises an automation on one instance with one role's
// rights (AgentRoleAgent, AgentRoleSupervisor or AgentRoleAdmin), as an
// agent of that role who is no particular agent.
type APIToken struct {
	// ID names the token in lists and revocations; it is not secret.
	ID string
	// Hash is the SecretHash of the token's secret.
	Hash       string
	InstanceID string
	Role       string
	// Name says what the token is for.
	Name string
	// CreatedBy is who created it: "agent:<id>", "token:<id>" or "cli".
	CreatedBy string
	CreatedAt time.Time
	// RevokedAt is when it was revoked; zero while it works.
	RevokedAt time.Time
}

// APITokenPrefix starts every API token secret, so that secret scanners
// and people recognise one.
const APITokenPrefix = "hlt_"

// NewSecret returns a new bearer secret (32 random bytes, base64url) with
// the given prefix, and its SecretHash.
func NewSecret(prefix string) (secret, hash string) {
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		panic("helpline: crypto/rand failed: " + err.Error())
	}
	secret = prefix + base64.RawURLEncoding.EncodeToString(b)
	return secret, SecretHash(secret)
}

// SecretHash is how the store keeps a bearer secret: the hex SHA-256 of
// it. A secret of 32 random bytes needs no salt or slow hash.
func SecretHash(secret string) string {
	sum := sha256.Sum256([]byte(secret))
	return hex.EncodeToString(sum[:])
}

// NewAPIToken returns a new token of instanceID with role, and its secret,
// to be shown once and stored nowhere. Errors: EINVALID for an unknown
// role or a name longer than 200 bytes.
func NewAPIToken(instanceID, role, name, createdBy string, now time.Time) (*APIToken, string, error) {
	t := &APIToken{ID: NewID(), InstanceID: instanceID, Role: role, Name: strings.TrimSpace(name), CreatedBy: createdBy, CreatedAt: now}
	if err := t.Check(); err != nil {
		return nil, "", err
	}
	secret, hash := NewSecret(APITokenPrefix)
	t.Hash = hash
	return t, secret, nil
}

// Check returns EINVALID unless t has an instance, a known role and a
// name of at most 200 bytes.
func (t *APIToken) Check() error {
	if t.InstanceID == "" {
		return Errorf(EINVALID, "The token's instance is required.")
	} else if t.Role != AgentRoleAgent && t.Role != AgentRoleSupervisor && t.Role != AgentRoleAdmin {
		return Errorf(EINVALID, "Token role %q is not agent, supervisor or admin.", t.Role)
	} else if len(t.Name) > 200 {
		return Errorf(EINVALID, "A token's name has at most 200 bytes.")
	}
	return nil
}

// RoleRank orders roles by their rights: agent 1, supervisor 2, admin 3,
// anything else 0. A role has the rights of every role of lower rank.
func RoleRank(role string) int {
	switch role {
	case AgentRoleAgent:
		return 1
	case AgentRoleSupervisor:
		return 2
	case AgentRoleAdmin:
		return 3
	}
	return 0
}

// ResourceSession and ResourceAPIToken name what ENOTFOUND errors of the
// auth store did not find.
const (
	ResourceSession  = "SESSION"
	ResourceAPIToken = "API_TOKEN"
)

// AuthStore keeps agents' sessions and API tokens. It stores what it is
// given and applies no policy of its own beyond what is written here: the
// transport decides, with its clock, whether a session is still valid.
// Every method is safe for concurrent use.
type AuthStore interface {
	// CreateSession stores a new session, and deletes the sessions whose
	// ExpiresAt is at or before s.CreatedAt in the same transaction.
	// Errors: EINVALID without an ID, instance or agent; ENOTFOUND
	// (Resource AGENT) for an unknown agent; ECONFLICT for an ID in use.
	CreateSession(ctx context.Context, s *AgentSession) error
	// FindSession returns ENOTFOUND (Resource SESSION) if there is none.
	FindSession(ctx context.Context, id string) (*AgentSession, error)
	// TouchSession sets the session's SeenAt to at, unless it is already
	// later. Errors: ENOTFOUND (Resource SESSION).
	TouchSession(ctx context.Context, id string, at time.Time) error
	// DeleteSession deletes a session; deleting an unknown one is not an
	// error, so that logging out twice is harmless.
	DeleteSession(ctx context.Context, id string) error
	// DeleteAgentSessions deletes the sessions of the instance's agent
	// agentID but the session except (none when empty), so that a
	// password set or an account disabled ends them at once. An agent
	// without sessions is not an error.
	DeleteAgentSessions(ctx context.Context, instanceID, agentID, except string) error

	// CreateAPIToken stores a new token (Check first). Errors: EINVALID;
	// ENOTFOUND (Resource INSTANCE); ECONFLICT for an ID or hash in use.
	CreateAPIToken(ctx context.Context, t *APIToken) error
	// FindAPITokenByHash returns the token whose Hash is hash, revoked or
	// not, or ENOTFOUND (Resource API_TOKEN).
	FindAPITokenByHash(ctx context.Context, hash string) (*APIToken, error)
	// FindAPITokens returns the instance's tokens, revoked ones included,
	// oldest first (ties by id).
	FindAPITokens(ctx context.Context, instanceID string) ([]*APIToken, error)
	// RevokeAPIToken marks the instance's token id revoked at time at; a
	// token already revoked keeps its first RevokedAt. Errors: ENOTFOUND
	// (Resource API_TOKEN), also for a token of another instance.
	RevokeAPIToken(ctx context.Context, instanceID, id string, at time.Time) error
}

// AgentDirectory is the agent domain as the agent API transport sees it:
// the agents it authenticates and admins manage, their sessions and
// tokens, their presence, the queues and the canned responses. A Store
// is one.
type AgentDirectory interface {
	AuthStore
	CannedStore
	CreateAgent(ctx context.Context, a *Agent) error
	UpdateAgent(ctx context.Context, a *Agent) error
	FindAgentByID(ctx context.Context, instanceID, id string) (*Agent, error)
	FindAgentByEmail(ctx context.Context, instanceID, email string) (*Agent, error)
	FindAgents(ctx context.Context, instanceID string) ([]*Agent, error)
	SaveQueue(ctx context.Context, q *Queue) error
	FindQueueByID(ctx context.Context, instanceID, id string) (*Queue, error)
	FindQueues(ctx context.Context, instanceID string) ([]*Queue, error)
	SetPresence(ctx context.Context, instanceID, agentID, status string, at time.Time) error
	TouchAgent(ctx context.Context, instanceID, agentID string, at time.Time) error
	FindPresence(ctx context.Context, instanceID, agentID string) (*Presence, error)
}

// PasswordChecker reports whether password matches an agent's stored
// PasswordHash, in constant time; a malformed or empty hash matches
// nothing. The node supplies routing.CheckPassword.
type PasswordChecker func(hash, password string) bool

// PasswordHasher returns the stored form (Agent.PasswordHash) of a new
// password, or EINVALID for one too short or too long: the one rule for
// passwords set by the CLI, the configuration and the admin API. The node
// supplies routing.HashPassword.
type PasswordHasher func(password string) (string, error)
