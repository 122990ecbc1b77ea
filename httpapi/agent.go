package httpapi

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"log/slog"
	"mime"
	"net"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/helplinehq/helpline"
)

// The agent API: what human agents' clients and automations call.
//
//	POST   /api/agent/login      {"email","password","instance"}  no credentials
//	POST   /api/agent/logout
//	GET    /api/agent/me
//	GET    /api/agent/presence
//	PUT    /api/agent/presence   {"status"}  also a heartbeat (TouchAgent); publishes EventPresence
//	GET    /api/agent/ws                                            WebSocket (agentws.go)
//	POST   /api/admin/tokens     {"name","role","instance"}        admin
//	GET    /api/admin/tokens                                        admin
//	DELETE /api/admin/tokens/{id}                                   admin
//
// A request authenticates with the session cookie a login set or with
// "Authorization: Bearer <API token>". A request with the cookie that
// changes state (any method but GET, HEAD and OPTIONS) must also carry the
// session's CSRF token in X-CSRF-Token. Errors are the API's one model,
// {"error":{"code","message"}} (statusOf).

// SessionCookie is the name of the agent session cookie.
const SessionCookie = "helpline_session"

// CSRFHeader carries the session's CSRF token.
const CSRFHeader = "X-CSRF-Token"

// Error codes of this API beyond helpline's (statusOf maps them).
const (
	codeUnauthorized = "unauthorized" // no credentials, or bad or expired ones: 401
	codeTooLarge     = "too_large"    // the request body exceeds maxBody: 413
	codeUnavailable  = "unavailable"  // the node is stopping; retry, elsewhere: 503
)

// Defaults of AgentConfig.
const (
	DefaultSessionIdle        = time.Hour
	DefaultSessionLifetime    = 12 * time.Hour
	DefaultLoginFailsAccount  = 5
	DefaultLoginFailsAddress  = 50
	DefaultLoginThrottleSpell = 15 * time.Minute
)

// touchEvery is how stale a session's SeenAt may grow before a request
// writes it again: the idle timeout is kept to within this, and a busy
// agent's requests do not each write to the store.
const touchEvery = time.Minute

// AgentConfig configures the agent API.
type AgentConfig struct {
	Agents helpline.AgentDirectory
	// Desk and Participants, when Desk is set, serve the chat endpoints
	// (agentchats.go); Mirrors, when set, lists a chat's linked tickets.
	Desk         helpline.AgentDesk
	Participants helpline.ParticipantService
	Mirrors      helpline.MirrorStore
	// Connectors names the node's mirroring connectors; with Mirrors it
	// serves their health to admins (connectors.go).
	Connectors []string
	// TicketLinks are the connectors, by name, that link a linked ticket
	// to its page in their system (the ticket's url).
	TicketLinks   map[string]helpline.TicketLinker
	CheckPassword helpline.PasswordChecker
	// HashPassword, when set, serves the admin API for agents and queues
	// (agentadmin.go), which sets passwords.
	HashPassword helpline.PasswordHasher
	// DefaultInstance is the instance of a login that names none.
	DefaultInstance string
	// CSRFKey keys the CSRF tokens, derived from session ids: 32 random
	// bytes shared by every node.
	CSRFKey []byte
	// SecureCookie marks the session cookie Secure on every response, as
	// when public_url is https; it is Secure on TLS requests regardless.
	SecureCookie bool
	// SessionIdle ends a session unused this long; SessionLifetime ends
	// it this long after login however busy it is.
	SessionIdle, SessionLifetime time.Duration
	// A login is refused for LoginThrottleSpell once LoginFailsAccount
	// logins to one account, or LoginFailsAddress logins from one client
	// address, have failed within such a spell.
	LoginFailsAccount, LoginFailsAddress int
	LoginThrottleSpell                   time.Duration
	Logger                               *slog.Logger
	// Now defaults to helpline.Now.
	Now func() time.Time

	// Widgets, when set, serves the widget's admin API (widgetadmin.go);
	// Instances, when set, lets it check the flow the settings name.
	Widgets   helpline.WidgetStore
	Instances InstanceFinder

	// The agent WebSocket (agentws.go) needs Feed and Bus; without them
	// GET /api/agent/ws is 404.
	Feed helpline.AgentFeed
	Bus  helpline.Bus
	// PublicURL's origin and AllowedOrigins (e.g. https://desk.example.com)
	// may open an agent's socket with its session cookie, besides pages of
	// the server's own host.
	PublicURL      string
	AllowedOrigins []string
	// SocketIdle closes an agent socket whose client has sent nothing,
	// not even a pong, for this long (default DefaultSocketIdle);
	// SocketPing is how often the server pings it and records the agent
	// as seen (default DefaultSocketPing; keep it well under
	// routing.presence_grace).
	SocketIdle, SocketPing time.Duration
	// Draining, once closed, says the node is stopping: open agent
	// sockets are closed with code 1012 (service restart), which consoles
	// answer by reconnecting, to another node; new ones are refused with
	// 503 and Retry-After. Nil never drains.
	Draining <-chan struct{}
}

type agentAPI struct {
	cfg       AgentConfig
	log       *slog.Logger
	now       func() time.Time
	byAccount *throttle
	byAddress *throttle
	sockets   *agentSockets // the agent WebSocket's (agentws.go)
}

// AgentAPI is the agent API's handler, to be mounted at /api/agent/ and
// /api/admin/. Other APIs take agents' credentials through its
// Authenticate.
type AgentAPI struct {
	api *agentAPI
	mux http.Handler
}

func (h *AgentAPI) ServeHTTP(w http.ResponseWriter, r *http.Request) { h.mux.ServeHTTP(w, r) }

// Authenticate serves next only to requests bearing an agent's session
// (with its CSRF token when they change anything) or an API token, with
// the Principal in their context (PrincipalFrom); see agentAPI.Authenticate.
func (h *AgentAPI) Authenticate(next http.Handler) http.Handler { return h.api.Authenticate(next) }

// contactFor returns contact id of p's instance if p may act on it: another
// instance's, or an unknown one, is not_found; one p may not access
// forbidden. Without the engine (AgentConfig.Desk) every contact is
// forbidden.
func (h *AgentAPI) contactFor(ctx context.Context, p *Principal, id string) (*helpline.Contact, error) {
	if h.api.cfg.Desk == nil {
		return nil, helpline.Errorf(helpline.EFORBIDDEN, "Agents' credentials do not reach contacts on this server.")
	}
	c, err := h.api.cfg.Desk.FindContact(ctx, p.InstanceID, id)
	if err != nil {
		return nil, err
	} else if !p.MayAccess(c) {
		return nil, helpline.Errorf(helpline.EFORBIDDEN, "Contact %s is not assigned to you.", c.ID)
	}
	return c, nil
}

// NewAgentAPI returns the agent API.
func NewAgentAPI(cfg AgentConfig) *AgentAPI {
	if cfg.SessionIdle <= 0 {
		cfg.SessionIdle = DefaultSessionIdle
	}
	if cfg.SessionLifetime <= 0 {
		cfg.SessionLifetime = DefaultSessionLifetime
	}
	if cfg.LoginFailsAccount <= 0 {
		cfg.LoginFailsAccount = DefaultLoginFailsAccount
	}
	if cfg.LoginFailsAddress <= 0 {
		cfg.LoginFailsAddress = DefaultLoginFailsAddress
	}
	if cfg.LoginThrottleSpell <= 0 {
		cfg.LoginThrottleSpell = DefaultLoginThrottleSpell
	}
	a := &agentAPI{cfg: cfg, log: cfg.Logger, now: cfg.Now,
		byAccount: newThrottle(cfg.LoginFailsAccount, cfg.LoginThrottleSpell),
		byAddress: newThrottle(cfg.LoginFailsAddress, cfg.LoginThrottleSpell)}
	if a.log == nil {
		a.log = slog.Default()
	}
	if a.now == nil {
		a.now = helpline.Now
	}
	a.sockets = newAgentSockets(&a.cfg, a.log)
	mux := http.NewServeMux()
	mux.HandleFunc("POST /api/agent/login", a.login)
	mux.Handle("POST /api/agent/logout", a.Authenticate(http.HandlerFunc(a.logout)))
	mux.Handle("GET /api/agent/me", a.Authenticate(http.HandlerFunc(a.me)))
	mux.Handle("GET /api/agent/presence", a.Authenticate(http.HandlerFunc(a.presence)))
	mux.Handle("PUT /api/agent/presence", a.Authenticate(http.HandlerFunc(a.setPresence)))
	mux.Handle("GET /api/agent/ws", a.Authenticate(http.HandlerFunc(a.serveSocket)))
	mux.Handle("POST /api/admin/tokens", a.Authenticate(a.requireRole(helpline.AgentRoleAdmin, a.createToken)))
	mux.Handle("GET /api/admin/tokens", a.Authenticate(a.requireRole(helpline.AgentRoleAdmin, a.listTokens)))
	mux.Handle("DELETE /api/admin/tokens/{id}", a.Authenticate(a.requireRole(helpline.AgentRoleAdmin, a.revokeToken)))
	if cfg.Desk != nil {
		a.mountChats(mux)
	}
	if cfg.HashPassword != nil {
		a.mountAdmin(mux)
	}
	if cfg.Widgets != nil {
		a.mountWidgetAdmin(mux)
	}
	a.mountCanned(mux)
	if cfg.Mirrors != nil {
		a.mountConnectors(mux)
	}
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		fail(a.log, w, r, helpline.Errorf(helpline.ENOTFOUND, "No such endpoint: %s %s.", r.Method, r.URL.Path))
	})
	return &AgentAPI{api: a, mux: mux}
}

// Principal is who an authenticated request of the agent API acts for:
// an agent with a session, or an API token, of one instance and role.
type Principal struct {
	InstanceID string
	Role       string
	// AgentID is the logged-in agent, empty for an API token.
	AgentID string
	// TokenID is the API token, empty for a session.
	TokenID string
	// Agent is the logged-in agent as stored, nil for an API token.
	Agent *helpline.Agent
	// session is the session, nil for an API token.
	session *helpline.AgentSession
}

// Has reports whether p has role's rights (helpline.RoleRank).
func (p *Principal) Has(role string) bool {
	return helpline.RoleRank(p.Role) >= helpline.RoleRank(role) && helpline.RoleRank(role) > 0
}

// MayAccess reports whether p may read and write contact c: an agent the
// contacts it owns; a supervisor or admin, and a token of either role,
// every contact of its instance; an agent-role token none.
func (p *Principal) MayAccess(c *helpline.Contact) bool {
	if c.InstanceID != p.InstanceID {
		return false
	} else if p.Has(helpline.AgentRoleSupervisor) {
		return true
	}
	return p.AgentID != "" && c.Owner == helpline.OwnerAgent+":"+p.AgentID
}

// subject names p in records such as a token's CreatedBy.
func (p *Principal) subject() string {
	if p.AgentID != "" {
		return "agent:" + p.AgentID
	}
	return "token:" + p.TokenID
}

type principalKey struct{}

// PrincipalFrom returns the principal Authenticate put in ctx, or nil.
func PrincipalFrom(ctx context.Context) *Principal {
	p, _ := ctx.Value(principalKey{}).(*Principal)
	return p
}

// Authenticate serves next only to requests bearing a valid API token or
// session cookie, with the Principal in their context (PrincipalFrom).
// Others get 401 unauthorized; a cookie request changing state without
// the session's CSRF token gets 403 forbidden. An Authorization header,
// when present, is the only credential looked at.
func (a *agentAPI) Authenticate(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var p *Principal
		var err error
		if h := r.Header.Get("Authorization"); h != "" {
			p, err = a.fromToken(r.Context(), h)
		} else if c, cerr := r.Cookie(SessionCookie); cerr == nil && c.Value != "" {
			p, err = a.fromSession(r, c.Value)
		} else {
			err = unauthorized("Log in, or send an API token.")
		}
		if err != nil {
			fail(a.log, w, r, err)
			return
		}
		next.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), principalKey{}, p)))
	})
}

func unauthorized(msg string) error { return helpline.Errorf(codeUnauthorized, "%s", msg) }

func (a *agentAPI) fromToken(ctx context.Context, header string) (*Principal, error) {
	secret, ok := strings.CutPrefix(header, "Bearer ")
	if !ok || secret == "" {
		return nil, unauthorized("The Authorization header must be Bearer <API token>.")
	}
	t, err := a.cfg.Agents.FindAPITokenByHash(ctx, helpline.SecretHash(secret))
	if helpline.ErrorCode(err) == helpline.ENOTFOUND || err == nil && !t.RevokedAt.IsZero() {
		return nil, unauthorized("Invalid or revoked API token.")
	} else if err != nil {
		return nil, err
	}
	return &Principal{InstanceID: t.InstanceID, Role: t.Role, TokenID: t.ID}, nil
}

func (a *agentAPI) fromSession(r *http.Request, secret string) (*Principal, error) {
	ctx, now := r.Context(), a.now()
	s, err := a.cfg.Agents.FindSession(ctx, helpline.SecretHash(secret))
	if helpline.ErrorCode(err) == helpline.ENOTFOUND {
		return nil, unauthorized("Your session has ended; log in again.")
	} else if err != nil {
		return nil, err
	}
	if !now.Before(s.ExpiresAt) || !now.Before(s.SeenAt.Add(a.cfg.SessionIdle)) {
		a.endSession(ctx, s.ID)
		return nil, unauthorized("Your session has expired; log in again.")
	}
	ag, err := a.cfg.Agents.FindAgentByID(ctx, s.InstanceID, s.AgentID)
	if helpline.ErrorCode(err) == helpline.ENOTFOUND || err == nil && !ag.Enabled {
		a.endSession(ctx, s.ID)
		return nil, unauthorized("Your account is disabled.")
	} else if err != nil {
		return nil, err
	}
	switch r.Method {
	case http.MethodGet, http.MethodHead, http.MethodOptions:
	default:
		got := r.Header.Get(CSRFHeader)
		if subtle.ConstantTimeCompare([]byte(got), []byte(a.csrfToken(s.ID))) != 1 {
			return nil, helpline.Errorf(helpline.EFORBIDDEN, "A request that changes anything needs the session's CSRF token in %s.", CSRFHeader)
		}
	}
	if now.Sub(s.SeenAt) >= touchEvery {
		if err := a.cfg.Agents.TouchSession(ctx, s.ID, now); err != nil && helpline.ErrorCode(err) != helpline.ENOTFOUND {
			return nil, err
		}
	}
	return &Principal{InstanceID: s.InstanceID, Role: ag.Role, AgentID: ag.ID, Agent: ag, session: s}, nil
}

// endSession deletes a session found expired; a failure only leaves it to
// be pruned later.
func (a *agentAPI) endSession(ctx context.Context, id string) {
	if err := a.cfg.Agents.DeleteSession(ctx, id); err != nil {
		a.log.Warn("deleting an expired session", "err", err)
	}
}

// csrfToken is the session's CSRF token: an HMAC of its id, so that every
// node derives it and a reloaded client gets it again from /me.
func (a *agentAPI) csrfToken(sessionID string) string {
	m := hmac.New(sha256.New, a.cfg.CSRFKey)
	m.Write([]byte("csrf\x00" + sessionID))
	return base64.RawURLEncoding.EncodeToString(m.Sum(nil))
}

// requireRole serves fn only to principals with role's rights; others get
// 403 forbidden.
func (a *agentAPI) requireRole(role string, fn http.HandlerFunc) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !PrincipalFrom(r.Context()).Has(role) {
			fail(a.log, w, r, helpline.Errorf(helpline.EFORBIDDEN, "This needs the %s role.", role))
			return
		}
		fn(w, r)
	})
}

// dummyHash is a well-formed Argon2id hash that matches no password: a
// login for an unknown email checks against it, so that it takes as long
// as one for a known email and the answer's timing names no account.
const dummyHash = "$argon2id$v=19$m=19456,t=2,p=1$c2FsdHNhbHRzYWx0c2FsdA$AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"

type loginInput struct {
	Email    string `json:"email"`
	Password string `json:"password"`
	Instance string `json:"instance"`
}

func (a *agentAPI) login(w http.ResponseWriter, r *http.Request) {
	if err := a.doLogin(w, r); err != nil {
		fail(a.log, w, r, err)
	}
}

func (a *agentAPI) doLogin(w http.ResponseWriter, r *http.Request) error {
	// A JSON content type needs a CORS preflight, so no other site's form
	// can log a browser in to an account of the attacker's choosing.
	if mt, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type")); mt != "application/json" {
		return helpline.Errorf(helpline.EINVALID, "A login is sent as Content-Type: application/json.")
	}
	var in loginInput
	if err := decode(r, &in); err != nil {
		return err
	} else if strings.TrimSpace(in.Email) == "" || in.Password == "" {
		return helpline.Errorf(helpline.EINVALID, "email and password are required.")
	}
	instance := in.Instance
	if instance == "" {
		instance = a.cfg.DefaultInstance
	}
	now := a.now()
	account := instance + "\x00" + strings.ToLower(strings.TrimSpace(in.Email))
	address := clientAddress(r)
	if wait := max(a.byAccount.wait(account, now), a.byAddress.wait(address, now)); wait > 0 {
		return &retryError{err: helpline.Errorf(helpline.ETHROTTLED, "Too many failed logins; try again in %d seconds.", seconds(wait)), after: wait}
	}
	ag, err := a.cfg.Agents.FindAgentByEmail(r.Context(), instance, in.Email)
	hash := dummyHash
	if err == nil && ag.PasswordHash != "" {
		hash = ag.PasswordHash
	} else if err != nil && helpline.ErrorCode(err) != helpline.ENOTFOUND {
		return err
	}
	if ok := a.cfg.CheckPassword(hash, in.Password); !ok || err != nil || !ag.Enabled {
		a.byAccount.fail(account, now)
		a.byAddress.fail(address, now)
		// One answer for an unknown email, a wrong password and a disabled
		// agent: the API tells no one which accounts exist.
		return unauthorized("Wrong email or password.")
	}
	a.byAccount.reset(account)
	secret, id := helpline.NewSecret("")
	s := &helpline.AgentSession{ID: id, InstanceID: ag.InstanceID, AgentID: ag.ID, CreatedAt: now, SeenAt: now, ExpiresAt: now.Add(a.cfg.SessionLifetime)}
	if err := a.cfg.Agents.CreateSession(r.Context(), s); err != nil {
		return err
	}
	http.SetCookie(w, &http.Cookie{Name: SessionCookie, Value: secret, Path: "/api/", Expires: s.ExpiresAt,
		HttpOnly: true, Secure: a.cfg.SecureCookie || r.TLS != nil, SameSite: http.SameSiteLaxMode})
	p := &Principal{InstanceID: ag.InstanceID, Role: ag.Role, AgentID: ag.ID, Agent: ag, session: s}
	writeJSON(w, http.StatusOK, a.meOut(p))
	return nil
}

func (a *agentAPI) logout(w http.ResponseWriter, r *http.Request) {
	p := PrincipalFrom(r.Context())
	if p.session == nil {
		fail(a.log, w, r, helpline.Errorf(helpline.EINVALID, "An API token is revoked, not logged out."))
		return
	}
	if err := a.cfg.Agents.DeleteSession(r.Context(), p.session.ID); err != nil {
		fail(a.log, w, r, err)
		return
	}
	http.SetCookie(w, &http.Cookie{Name: SessionCookie, Value: "", Path: "/api/", MaxAge: -1,
		HttpOnly: true, Secure: a.cfg.SecureCookie || r.TLS != nil, SameSite: http.SameSiteLaxMode})
	w.WriteHeader(http.StatusNoContent)
}

// agentJSON is an agent on the wire.
type agentJSON struct {
	ID       string   `json:"id"`
	Name     string   `json:"name"`
	Email    string   `json:"email"`
	Role     string   `json:"role"`
	Queues   []string `json:"queues"`
	Capacity int      `json:"capacity"`
}

// meJSON is who a request acts for.
type meJSON struct {
	Instance string     `json:"instance"`
	Role     string     `json:"role"`
	Agent    *agentJSON `json:"agent,omitempty"`
	Token    *tokenJSON `json:"token,omitempty"`
	// CSRFToken and ExpiresAt belong to a session.
	CSRFToken string     `json:"csrf_token,omitempty"`
	ExpiresAt *time.Time `json:"session_expires_at,omitempty"`
}

func (a *agentAPI) meOut(p *Principal) meJSON {
	out := meJSON{Instance: p.InstanceID, Role: p.Role}
	if ag := p.Agent; ag != nil {
		queues := ag.Queues
		if queues == nil {
			queues = []string{}
		}
		out.Agent = &agentJSON{ID: ag.ID, Name: ag.DisplayName, Email: ag.Email, Role: ag.Role, Queues: queues, Capacity: ag.Capacity}
	}
	if p.session != nil {
		out.CSRFToken = a.csrfToken(p.session.ID)
		out.ExpiresAt = &p.session.ExpiresAt
	}
	if p.TokenID != "" {
		out.Token = &tokenJSON{ID: p.TokenID, Instance: p.InstanceID, Role: p.Role}
	}
	return out
}

func (a *agentAPI) me(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, http.StatusOK, a.meOut(PrincipalFrom(r.Context())))
}

type presenceJSON struct {
	Status   string     `json:"status"`
	StatusAt *time.Time `json:"status_at,omitempty"`
}

// agentOnly returns the principal's agent id, or EFORBIDDEN for a token.
func agentOnly(p *Principal) (string, error) {
	if p.AgentID == "" {
		return "", helpline.Errorf(helpline.EFORBIDDEN, "Only a logged-in agent has a presence.")
	}
	return p.AgentID, nil
}

func (a *agentAPI) presence(w http.ResponseWriter, r *http.Request) {
	p := PrincipalFrom(r.Context())
	id, err := agentOnly(p)
	var pr *helpline.Presence
	if err == nil {
		pr, err = a.cfg.Agents.FindPresence(r.Context(), p.InstanceID, id)
	}
	if err != nil {
		fail(a.log, w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, presenceOut(pr))
}

func presenceOut(pr *helpline.Presence) presenceJSON {
	out := presenceJSON{Status: pr.Status}
	if !pr.StatusAt.IsZero() {
		out.StatusAt = &pr.StatusAt
	}
	return out
}

func (a *agentAPI) setPresence(w http.ResponseWriter, r *http.Request) {
	p := PrincipalFrom(r.Context())
	err := func() error {
		id, err := agentOnly(p)
		if err != nil {
			return err
		}
		var in struct {
			Status string `json:"status"`
		}
		if err := decode(r, &in); err != nil {
			return err
		} else if err := helpline.CheckPresence(in.Status); err != nil {
			return err
		}
		now := a.now()
		if err := a.cfg.Agents.SetPresence(r.Context(), p.InstanceID, id, in.Status, now); err != nil {
			return err
		}
		// Setting a presence is a sign of life too: a client without the
		// agent WebSocket stays online by setting it within the grace.
		if err := a.cfg.Agents.TouchAgent(r.Context(), p.InstanceID, id, now); err != nil {
			return err
		}
		// The change is news for routing (an agent come online may take a
		// waiting chat; one gone away loses its pending offers) and for the
		// agent's consoles, which learn presence only from the bus. The
		// presence is stored by now: a lost event is caught up by routing's
		// next round and the consoles' next reread, so it fails nothing.
		if a.cfg.Bus != nil {
			pr, err := a.cfg.Agents.FindPresence(r.Context(), p.InstanceID, id)
			if err != nil {
				return err
			}
			ev := helpline.Event{Kind: helpline.EventPresence, Subject: helpline.AgentSubject(id), Presence: pr}
			if err := a.cfg.Bus.Publish(context.WithoutCancel(r.Context()), ev); err != nil {
				a.log.Warn("publishing a presence", "agent", id, "err", err)
			}
		}
		writeJSON(w, http.StatusOK, presenceJSON{Status: in.Status, StatusAt: &now})
		return nil
	}()
	if err != nil {
		fail(a.log, w, r, err)
	}
}

// tokenJSON is an API token on the wire, never with its secret but in the
// answer that creates it.
type tokenJSON struct {
	ID        string     `json:"id"`
	Name      string     `json:"name,omitempty"`
	Instance  string     `json:"instance"`
	Role      string     `json:"role"`
	CreatedBy string     `json:"created_by,omitempty"`
	CreatedAt *time.Time `json:"created_at,omitempty"`
	RevokedAt *time.Time `json:"revoked_at,omitempty"`
	Secret    string     `json:"secret,omitempty"`
}

func tokenOut(t *helpline.APIToken) *tokenJSON {
	out := &tokenJSON{ID: t.ID, Name: t.Name, Instance: t.InstanceID, Role: t.Role, CreatedBy: t.CreatedBy, CreatedAt: &t.CreatedAt}
	if !t.RevokedAt.IsZero() {
		out.RevokedAt = &t.RevokedAt
	}
	return out
}

// sameInstance returns EFORBIDDEN unless instance is empty or p's.
func sameInstance(p *Principal, instance string) error {
	if instance != "" && instance != p.InstanceID {
		return helpline.Errorf(helpline.EFORBIDDEN, "You may act on instance %s only.", p.InstanceID)
	}
	return nil
}

func (a *agentAPI) createToken(w http.ResponseWriter, r *http.Request) {
	p := PrincipalFrom(r.Context())
	err := func() error {
		var in struct {
			Name     string `json:"name"`
			Role     string `json:"role"`
			Instance string `json:"instance"`
		}
		if err := decode(r, &in); err != nil {
			return err
		} else if in.Role == "" {
			return helpline.Errorf(helpline.EINVALID, "role is required: agent, supervisor or admin.")
		} else if err := sameInstance(p, in.Instance); err != nil {
			return err
		}
		t, secret, err := helpline.NewAPIToken(p.InstanceID, in.Role, in.Name, p.subject(), a.now())
		if err != nil {
			return err
		} else if err := a.cfg.Agents.CreateAPIToken(r.Context(), t); err != nil {
			return err
		}
		out := tokenOut(t)
		out.Secret = secret
		writeJSON(w, http.StatusCreated, out)
		return nil
	}()
	if err != nil {
		fail(a.log, w, r, err)
	}
}

func (a *agentAPI) listTokens(w http.ResponseWriter, r *http.Request) {
	p := PrincipalFrom(r.Context())
	if err := sameInstance(p, r.URL.Query().Get("instance")); err != nil {
		fail(a.log, w, r, err)
		return
	}
	list, err := a.cfg.Agents.FindAPITokens(r.Context(), p.InstanceID)
	if err != nil {
		fail(a.log, w, r, err)
		return
	}
	out := make([]*tokenJSON, 0, len(list))
	for _, t := range list {
		out = append(out, tokenOut(t))
	}
	writeJSON(w, http.StatusOK, map[string]any{"tokens": out})
}

func (a *agentAPI) revokeToken(w http.ResponseWriter, r *http.Request) {
	p := PrincipalFrom(r.Context())
	if err := a.cfg.Agents.RevokeAPIToken(r.Context(), p.InstanceID, r.PathValue("id"), a.now()); err != nil {
		fail(a.log, w, r, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

// retryError is an ETHROTTLED error that says when to retry.
type retryError struct {
	err   error
	after time.Duration
}

func (e *retryError) Error() string { return e.err.Error() }
func (e *retryError) Unwrap() error { return e.err }

func seconds(d time.Duration) int64 { return int64((d + time.Second - 1) / time.Second) }

// clientAddress is the address a request came from, without its port.
func clientAddress(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
}

// retryAfter sets Retry-After when err says when to retry.
func retryAfter(w http.ResponseWriter, err error) {
	var re *retryError
	if errors.As(err, &re) {
		w.Header().Set("Retry-After", strconv.FormatInt(seconds(re.after), 10))
	}
}
