package httpapi_test

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/helplinehq/helpline"
	"github.com/helplinehq/helpline/clocktest"
	"github.com/helplinehq/helpline/httpapi"
	"github.com/helplinehq/helpline/routing"
	"github.com/helplinehq/helpline/sqlite"
)

const password = "correct horse battery"

var (
	hashOnce sync.Once
	hashed   string
)

// agentEnv is the agent API on a real SQLite store with instances i1 and
// i2 and a fake clock. i1 has ada (agent), sue (supervisor), root (admin)
// and dis (disabled); i2 has eve (admin). All share one password.
type agentEnv struct {
	t     *testing.T
	store *sqlite.DB
	clock *clocktest.Clock
	h     http.Handler
}

func newAgentEnv(t *testing.T, tune func(*httpapi.AgentConfig)) *agentEnv {
	t.Helper()
	hashOnce.Do(func() {
		var err error
		if hashed, err = routing.HashPassword(password); err != nil {
			panic(err)
		}
	})
	ctx := context.Background()
	db, err := sqlite.Open(filepath.Join(t.TempDir(), "helpline.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	for _, in := range []string{"i1", "i2"} {
		if err := db.SaveInstance(ctx, &helpline.Instance{ID: in, Name: in}); err != nil {
			t.Fatal(err)
		}
	}
	for _, a := range []*helpline.Agent{
		{InstanceID: "i1", ID: "ada", Role: helpline.AgentRoleAgent, Queues: []string{"sales"}, Enabled: true},
		{InstanceID: "i1", ID: "sue", Role: helpline.AgentRoleSupervisor, Enabled: true},
		{InstanceID: "i1", ID: "root", Role: helpline.AgentRoleAdmin, Enabled: true},
		{InstanceID: "i1", ID: "dis", Role: helpline.AgentRoleAgent, Enabled: false},
		{InstanceID: "i2", ID: "eve", Role: helpline.AgentRoleAdmin, Enabled: true},
	} {
		a.Email, a.DisplayName, a.PasswordHash = a.ID+"@example.com", a.ID, hashed
		if err := db.CreateAgent(ctx, a); err != nil {
			t.Fatal(err)
		}
	}
	clock := clocktest.New(time.Date(2024, 5, 1, 9, 0, 0, 0, time.UTC))
	cfg := httpapi.AgentConfig{Agents: db, CheckPassword: routing.CheckPassword, HashPassword: routing.HashPassword, DefaultInstance: "i1",
		CSRFKey: []byte("0123456789abcdef0123456789abcdef"), Now: clock.Now, Widgets: db, Instances: db}
	if tune != nil {
		tune(&cfg)
	}
	return &agentEnv{t: t, store: db, clock: clock, h: httpapi.NewAgentAPI(cfg)}
}

// creds are what a request carries.
type creds struct {
	cookie *http.Cookie
	csrf   string
	bearer string
	addr   string // client address, default 192.0.2.1
	tls    bool
	ctype  string // Content-Type, default application/json
}

type answer struct {
	status int
	header http.Header
	body   map[string]any
	raw    string
}

func (a answer) code() string { return errCode(a.body) }

func (e *agentEnv) do(method, path, body string, c creds) answer {
	e.t.Helper()
	r := httptest.NewRequest(method, path, strings.NewReader(body))
	r.RemoteAddr = "192.0.2.1:40000"
	if c.addr != "" {
		r.RemoteAddr = c.addr + ":40000"
	}
	if c.tls {
		r.TLS = &tls.ConnectionState{}
	}
	if c.ctype != "" {
		r.Header.Set("Content-Type", c.ctype)
	} else if body != "" {
		r.Header.Set("Content-Type", "application/json")
	}
	if c.cookie != nil {
		r.AddCookie(c.cookie)
	}
	if c.csrf != "" {
		r.Header.Set(httpapi.CSRFHeader, c.csrf)
	}
	if c.bearer != "" {
		r.Header.Set("Authorization", "Bearer "+c.bearer)
	}
	w := httptest.NewRecorder()
	e.h.ServeHTTP(w, r)
	out := answer{status: w.Code, header: w.Header(), raw: w.Body.String()}
	if strings.HasPrefix(w.Header().Get("Content-Type"), "application/json") {
		if err := json.Unmarshal(w.Body.Bytes(), &out.body); err != nil {
			e.t.Fatalf("%s %s: %v in %s", method, path, err, w.Body)
		}
	}
	return out
}

func loginBody(email, pw string) string {
	b, _ := json.Marshal(map[string]string{"email": email, "password": pw})
	return string(b)
}

// login logs the agent id in (of i1, eve of i2) and returns the session cookie and CSRF token.
func (e *agentEnv) login(id string) creds {
	e.t.Helper()
	body := loginBody(id+"@example.com", password)
	if id == "eve" {
		body = `{"email":"eve@example.com","password":"` + password + `","instance":"i2"}`
	}
	ans := e.do("POST", "/api/agent/login", body, creds{})
	if ans.status != 200 {
		e.t.Fatalf("login %s: %d %s", id, ans.status, ans.raw)
	}
	c := sessionCookie(ans.header)
	if c == nil {
		e.t.Fatalf("login %s set no session cookie: %v", id, ans.header)
	}
	csrf, _ := ans.body["csrf_token"].(string)
	return creds{cookie: &http.Cookie{Name: c.Name, Value: c.Value}, csrf: csrf}
}

func sessionCookie(h http.Header) *http.Cookie {
	for _, c := range (&http.Response{Header: h}).Cookies() {
		if c.Name == httpapi.SessionCookie {
			return c
		}
	}
	return nil
}

func TestLogin(t *testing.T) {
	e := newAgentEnv(t, nil)
	ans := e.do("POST", "/api/agent/login", loginBody("ADA@example.com", password), creds{})
	agent, _ := ans.body["agent"].(map[string]any)
	if ans.status != 200 || agent["id"] != "ada" || ans.body["role"] != "agent" || ans.body["instance"] != "i1" || ans.body["csrf_token"] == "" {
		t.Fatalf("login: %d %s", ans.status, ans.raw)
	}
	c := sessionCookie(ans.header)
	if c == nil || !c.HttpOnly || c.SameSite != http.SameSiteLaxMode || c.Secure || c.Path != "/api/" || len(c.Value) < 40 {
		t.Errorf("session cookie = %+v, want HttpOnly, SameSite=Lax, not Secure over plain HTTP, Path /api/", c)
	}
	if strings.Contains(ans.raw, c.Value) {
		t.Error("the login answer's body repeats the session secret")
	}
	me := e.do("GET", "/api/agent/me", "", creds{cookie: &http.Cookie{Name: c.Name, Value: c.Value}})
	if me.status != 200 || me.body["agent"].(map[string]any)["email"] != "ada@example.com" || me.body["csrf_token"] != ans.body["csrf_token"] {
		t.Errorf("me: %d %s", me.status, me.raw)
	}

	// Unknown email, wrong password and disabled agent get one answer.
	var first string
	for _, body := range []string{
		loginBody("ada@example.com", password+"x"),
		loginBody("nobody@example.com", password),
		loginBody("dis@example.com", password),
		`{"email":"ada@example.com","password":"` + password + `","instance":"i2"}`,
	} {
		ans := e.do("POST", "/api/agent/login", body, creds{})
		if ans.status != 401 || ans.code() != "unauthorized" || sessionCookie(ans.header) != nil {
			t.Errorf("login %s: %d %s, want 401 unauthorized and no cookie", body, ans.status, ans.raw)
		}
		if first == "" {
			first = ans.raw
		} else if ans.raw != first {
			t.Errorf("login %s answered %s, unlike %s: the answer must not tell which accounts exist", body, ans.raw, first)
		}
	}
	if ans := e.do("POST", "/api/agent/login", `{"email":"eve@example.com","password":"`+password+`","instance":"i2"}`, creds{}); ans.status != 200 || ans.body["instance"] != "i2" {
		t.Errorf("login to instance i2: %d %s", ans.status, ans.raw)
	}
}

func TestSecureCookie(t *testing.T) {
	e := newAgentEnv(t, nil)
	ans := e.do("POST", "/api/agent/login", loginBody("ada@example.com", password), creds{tls: true})
	if c := sessionCookie(ans.header); c == nil || !c.Secure || !c.HttpOnly {
		t.Errorf("cookie over TLS = %+v, want Secure", c)
	}
	https := newAgentEnv(t, func(c *httpapi.AgentConfig) { c.SecureCookie = true })
	ans = https.do("POST", "/api/agent/login", loginBody("ada@example.com", password), creds{})
	if c := sessionCookie(ans.header); c == nil || !c.Secure {
		t.Errorf("cookie with an https public URL = %+v, want Secure", c)
	}
}

func TestCSRF(t *testing.T) {
	e := newAgentEnv(t, nil)
	s := e.login("ada")
	for name, c := range map[string]creds{
		"no token":              {cookie: s.cookie},
		"wrong token":           {cookie: s.cookie, csrf: "x" + s.csrf},
		"another session's one": {cookie: s.cookie, csrf: e.login("sue").csrf},
	} {
		if ans := e.do("PUT", "/api/agent/presence", `{"status":"online"}`, c); ans.status != 403 || ans.code() != helpline.EFORBIDDEN {
			t.Errorf("%s: %d %s, want 403 forbidden", name, ans.status, ans.raw)
		}
		if ans := e.do("POST", "/api/agent/logout", "", c); ans.status != 403 {
			t.Errorf("logout with %s: %d %s, want 403", name, ans.status, ans.raw)
		}
	}
	if p, _ := e.store.FindPresence(context.Background(), "i1", "ada"); p.Status != helpline.PresenceOffline {
		t.Errorf("presence after refused requests = %s, want offline still", p.Status)
	}
	if ans := e.do("PUT", "/api/agent/presence", `{"status":"online"}`, s); ans.status != 200 || ans.body["status"] != "online" {
		t.Errorf("with the token: %d %s", ans.status, ans.raw)
	}
	if ans := e.do("GET", "/api/agent/presence", "", creds{cookie: s.cookie}); ans.status != 200 || ans.body["status"] != "online" {
		t.Errorf("a GET needs no token: %d %s", ans.status, ans.raw)
	}
}

func TestLogout(t *testing.T) {
	e := newAgentEnv(t, nil)
	s, other := e.login("ada"), e.login("ada")
	ans := e.do("POST", "/api/agent/logout", "", s)
	if c := sessionCookie(ans.header); ans.status != 204 || c == nil || c.MaxAge >= 0 {
		t.Errorf("logout: %d, cookie %+v; want 204 clearing the cookie", ans.status, c)
	}
	if ans := e.do("GET", "/api/agent/me", "", s); ans.status != 401 || ans.code() != "unauthorized" {
		t.Errorf("me after logout: %d %s, want 401", ans.status, ans.raw)
	}
	if ans := e.do("GET", "/api/agent/me", "", other); ans.status != 200 {
		t.Errorf("the agent's other session: %d, want it alive", ans.status)
	}
}

func TestSessionExpiry(t *testing.T) {
	e := newAgentEnv(t, func(c *httpapi.AgentConfig) { c.SessionIdle, c.SessionLifetime = 30*time.Minute, 2*time.Hour })
	idle := e.login("ada")
	e.clock.Advance(29 * time.Minute)
	if ans := e.do("GET", "/api/agent/me", "", idle); ans.status != 200 {
		t.Fatalf("after 29 idle minutes: %d", ans.status)
	}
	e.clock.Advance(29 * time.Minute) // 29 minutes since the last use
	if ans := e.do("GET", "/api/agent/me", "", idle); ans.status != 200 {
		t.Fatalf("use renews the idle timeout: %d", ans.status)
	}
	e.clock.Advance(31 * time.Minute)
	if ans := e.do("GET", "/api/agent/me", "", idle); ans.status != 401 || ans.code() != "unauthorized" {
		t.Errorf("after 31 idle minutes: %d %s, want 401", ans.status, ans.raw)
	}

	busy := e.login("ada")
	for i := 1; i < 6; i++ {
		e.clock.Advance(20 * time.Minute)
		if ans := e.do("GET", "/api/agent/me", "", busy); ans.status != 200 {
			t.Fatalf("busy session after %d minutes: %d", 20*i, ans.status)
		}
	}
	e.clock.Advance(20 * time.Minute) // 2 hours after login
	if ans := e.do("GET", "/api/agent/me", "", busy); ans.status != 401 {
		t.Errorf("busy session past its lifetime: %d, want 401", ans.status)
	}

	// A disabled agent's session stops working at once.
	s := e.login("ada")
	a, _ := e.store.FindAgentByID(context.Background(), "i1", "ada")
	a.Enabled = false
	if err := e.store.UpdateAgent(context.Background(), a); err != nil {
		t.Fatal(err)
	}
	if ans := e.do("GET", "/api/agent/me", "", s); ans.status != 401 {
		t.Errorf("session of a disabled agent: %d, want 401", ans.status)
	}
}

func TestLoginThrottle(t *testing.T) {
	e := newAgentEnv(t, func(c *httpapi.AgentConfig) {
		c.LoginFailsAccount, c.LoginFailsAddress, c.LoginThrottleSpell = 3, 5, 10*time.Minute
	})
	wrong := loginBody("ada@example.com", "wrong password")
	for i := 0; i < 3; i++ {
		if ans := e.do("POST", "/api/agent/login", wrong, creds{addr: "192.0.2.10"}); ans.status != 401 {
			t.Fatalf("failure %d: %d", i+1, ans.status)
		}
	}
	// The account is locked, even from another address, even with the
	// right password; other accounts are not.
	ans := e.do("POST", "/api/agent/login", loginBody("ADA@example.com", password), creds{addr: "192.0.2.11"})
	if ans.status != 429 || ans.code() != helpline.ETHROTTLED || ans.header.Get("Retry-After") != "600" {
		t.Errorf("locked account: %d Retry-After %q %s, want 429 throttled, Retry-After 600", ans.status, ans.header.Get("Retry-After"), ans.raw)
	}
	if ans := e.do("POST", "/api/agent/login", loginBody("sue@example.com", password), creds{addr: "192.0.2.10"}); ans.status != 200 {
		t.Errorf("another account from the same address: %d", ans.status)
	}
	e.clock.Advance(4 * time.Minute)
	if ans := e.do("POST", "/api/agent/login", loginBody("ada@example.com", password), creds{}); ans.header.Get("Retry-After") != "360" {
		t.Errorf("Retry-After 4 minutes on = %q, want 360", ans.header.Get("Retry-After"))
	}
	e.clock.Advance(6 * time.Minute)
	if ans := e.do("POST", "/api/agent/login", loginBody("ada@example.com", password), creds{}); ans.status != 200 {
		t.Errorf("after the spell: %d %s", ans.status, ans.raw)
	}

	// One address failing on many accounts is throttled too.
	for i, id := range []string{"x1", "x2", "x3", "x4", "x5"} {
		if ans := e.do("POST", "/api/agent/login", loginBody(id+"@example.com", password), creds{addr: "198.51.100.7"}); ans.status != 401 {
			t.Fatalf("address failure %d: %d", i+1, ans.status)
		}
	}
	if ans := e.do("POST", "/api/agent/login", loginBody("root@example.com", password), creds{addr: "198.51.100.7"}); ans.status != 429 || ans.header.Get("Retry-After") == "" {
		t.Errorf("throttled address: %d %s", ans.status, ans.raw)
	}
	if ans := e.do("POST", "/api/agent/login", loginBody("root@example.com", password), creds{addr: "198.51.100.8"}); ans.status != 200 {
		t.Errorf("another address: %d", ans.status)
	}
}

func TestAPITokens(t *testing.T) {
	e := newAgentEnv(t, nil)
	admin := e.login("root")

	// Only an admin creates, lists and revokes tokens.
	for _, id := range []string{"ada", "sue"} {
		s := e.login(id)
		for _, req := range [][2]string{{"POST", "/api/admin/tokens"}, {"GET", "/api/admin/tokens"}, {"DELETE", "/api/admin/tokens/x"}} {
			if ans := e.do(req[0], req[1], `{"role":"agent"}`, s); ans.status != 403 || ans.code() != helpline.EFORBIDDEN {
				t.Errorf("%s: %s %s: %d %s, want 403", id, req[0], req[1], ans.status, ans.raw)
			}
		}
	}
	if ans := e.do("GET", "/api/admin/tokens", "", creds{}); ans.status != 401 {
		t.Errorf("no credentials: %d, want 401", ans.status)
	}

	ans := e.do("POST", "/api/admin/tokens", `{"name":"reports","role":"supervisor"}`, admin)
	secret, _ := ans.body["secret"].(string)
	if ans.status != 201 || !strings.HasPrefix(secret, helpline.APITokenPrefix) || ans.body["role"] != "supervisor" ||
		ans.body["instance"] != "i1" || ans.body["created_by"] != "agent:root" {
		t.Fatalf("create: %d %s", ans.status, ans.raw)
	}
	id := ans.body["id"].(string)
	me := e.do("GET", "/api/agent/me", "", creds{bearer: secret})
	if me.status != 200 || me.body["role"] != "supervisor" || me.body["token"].(map[string]any)["id"] != id || me.body["agent"] != nil {
		t.Errorf("me with the token: %d %s", me.status, me.raw)
	}
	list := e.do("GET", "/api/admin/tokens", "", admin)
	if list.status != 200 || strings.Contains(list.raw, secret) || strings.Contains(list.raw, `"secret"`) || !strings.Contains(list.raw, id) {
		t.Errorf("list: %d %s, want the token without its secret", list.status, list.raw)
	}

	// An agent-role token cannot use admin endpoints; an admin token can,
	// on its own instance only.
	agentTok := e.do("POST", "/api/admin/tokens", `{"role":"agent"}`, admin).body["secret"].(string)
	if ans := e.do("GET", "/api/admin/tokens", "", creds{bearer: agentTok}); ans.status != 403 {
		t.Errorf("agent token on an admin endpoint: %d, want 403", ans.status)
	}
	if ans := e.do("GET", "/api/agent/presence", "", creds{bearer: agentTok}); ans.status != 403 {
		t.Errorf("a token has no presence: %d, want 403", ans.status)
	}
	if ans := e.do("POST", "/api/admin/tokens", `{"role":"agent","instance":"i2"}`, admin); ans.status != 403 {
		t.Errorf("admin of i1 creating a token of i2: %d, want 403", ans.status)
	}
	eve := e.login("eve")
	tokB := e.do("POST", "/api/admin/tokens", `{"role":"admin","name":"i2 automation"}`, eve).body["secret"].(string)
	if ans := e.do("GET", "/api/admin/tokens?instance=i1", "", creds{bearer: tokB}); ans.status != 403 {
		t.Errorf("i2 token listing i1's tokens: %d, want 403", ans.status)
	}
	if ans := e.do("GET", "/api/admin/tokens", "", creds{bearer: tokB}); ans.status != 200 || strings.Contains(ans.raw, id) {
		t.Errorf("i2 token lists: %d %s, want none of i1's", ans.status, ans.raw)
	}
	if ans := e.do("DELETE", "/api/admin/tokens/"+id, "", creds{bearer: tokB}); ans.status != 404 || ans.code() != helpline.ENOTFOUND {
		t.Errorf("i2 token revoking i1's: %d %s, want 404", ans.status, ans.raw)
	}
	if ans := e.do("GET", "/api/agent/me", "", creds{bearer: secret}); ans.status != 200 {
		t.Errorf("the token after another instance's revoke: %d, want it working", ans.status)
	}

	// Revoked, it is refused; a token needs no CSRF token.
	if ans := e.do("DELETE", "/api/admin/tokens/"+id, "", creds{bearer: tokB}); ans.status != 404 {
		t.Errorf("revoke through another instance: %d", ans.status)
	}
	adminTok := e.do("POST", "/api/admin/tokens", `{"role":"admin"}`, admin).body["secret"].(string)
	if ans := e.do("DELETE", "/api/admin/tokens/"+id, "", creds{bearer: adminTok}); ans.status != 204 {
		t.Fatalf("revoke: %d %s", ans.status, ans.raw)
	}
	for _, bearer := range []string{secret, "hlt_unknown", helpline.SecretHash(secret)} {
		if ans := e.do("GET", "/api/agent/me", "", creds{bearer: bearer}); ans.status != 401 || ans.code() != "unauthorized" || ans.header.Get("WWW-Authenticate") == "" {
			t.Errorf("bearer %q: %d %s, want 401", bearer, ans.status, ans.raw)
		}
	}
	list = e.do("GET", "/api/admin/tokens", "", admin)
	if !strings.Contains(list.raw, `"revoked_at"`) {
		t.Errorf("list after revoke: %s, want the token marked revoked", list.raw)
	}
}

// Every endpoint refuses bad input with its documented code, and the API
// keeps serving.
func TestAgentAPIBadInput(t *testing.T) {
	e := newAgentEnv(t, nil)
	admin := e.login("root")
	huge := `{"name":"` + strings.Repeat("x", 70<<10) + `","role":"agent"}`
	for _, tc := range []struct {
		name, method, path, body string
		c                        creds
		status                   int
		code                     string
	}{
		{"login malformed", "POST", "/api/agent/login", `{"email":`, creds{}, 400, helpline.EINVALID},
		{"login no password", "POST", "/api/agent/login", `{"email":"ada@example.com"}`, creds{}, 400, helpline.EINVALID},
		{"login no email", "POST", "/api/agent/login", `{"password":"x"}`, creds{}, 400, helpline.EINVALID},
		{"login unknown field", "POST", "/api/agent/login", `{"email":"a@b.c","password":"x","remember":true}`, creds{}, 400, helpline.EINVALID},
		{"login two values", "POST", "/api/agent/login", loginBody("ada@example.com", password) + `{}`, creds{}, 400, helpline.EINVALID},
		{"login form post", "POST", "/api/agent/login", loginBody("ada@example.com", password), creds{ctype: "text/plain"}, 400, helpline.EINVALID},
		{"login oversize", "POST", "/api/agent/login", `{"email":"a@b.c","password":"` + strings.Repeat("x", 70<<10) + `"}`, creds{}, 413, "too_large"},
		{"login empty", "POST", "/api/agent/login", ``, creds{ctype: "application/json"}, 400, helpline.EINVALID},
		{"logout token", "POST", "/api/agent/logout", ``, creds{bearer: e.do("POST", "/api/admin/tokens", `{"role":"agent"}`, admin).body["secret"].(string)}, 400, helpline.EINVALID},
		{"presence malformed", "PUT", "/api/agent/presence", `[`, admin, 400, helpline.EINVALID},
		{"presence missing", "PUT", "/api/agent/presence", `{}`, admin, 400, helpline.EINVALID},
		{"presence unknown", "PUT", "/api/agent/presence", `{"status":"busy"}`, admin, 400, helpline.EINVALID},
		{"presence oversize", "PUT", "/api/agent/presence", `{"status":"` + strings.Repeat("x", 70<<10) + `"}`, admin, 413, "too_large"},
		{"token malformed", "POST", "/api/admin/tokens", `{"role":`, admin, 400, helpline.EINVALID},
		{"token no role", "POST", "/api/admin/tokens", `{"name":"x"}`, admin, 400, helpline.EINVALID},
		{"token bad role", "POST", "/api/admin/tokens", `{"role":"root"}`, admin, 400, helpline.EINVALID},
		{"token long name", "POST", "/api/admin/tokens", `{"role":"agent","name":"` + strings.Repeat("x", 201) + `"}`, admin, 400, helpline.EINVALID},
		{"token oversize", "POST", "/api/admin/tokens", huge, admin, 413, "too_large"},
		{"revoke unknown", "DELETE", "/api/admin/tokens/nope", ``, admin, 404, helpline.ENOTFOUND},
		{"bearer without scheme", "GET", "/api/agent/me", ``, creds{bearer: " "}, 401, "unauthorized"},
		{"unknown cookie", "GET", "/api/agent/me", ``, creds{cookie: &http.Cookie{Name: httpapi.SessionCookie, Value: "forged"}}, 401, "unauthorized"},
		{"unknown endpoint", "GET", "/api/agent/nope", ``, admin, 404, helpline.ENOTFOUND},
	} {
		ans := e.do(tc.method, tc.path, tc.body, tc.c)
		if ans.status != tc.status || ans.code() != tc.code || ans.body["error"].(map[string]any)["message"] == "" {
			t.Errorf("%s: %d %.200s, want %d %s", tc.name, ans.status, ans.raw, tc.status, tc.code)
		}
	}
	if ans := e.do("GET", "/api/agent/me", "", admin); ans.status != 200 {
		t.Errorf("after bad input: %d", ans.status)
	}
}

func TestPrincipalMayAccess(t *testing.T) {
	mine := &helpline.Contact{InstanceID: "i1", Owner: "agent:ada"}
	queued := &helpline.Contact{InstanceID: "i1", Owner: "queue:sales"}
	elsewhere := &helpline.Contact{InstanceID: "i2", Owner: "agent:ada"}
	for _, tc := range []struct {
		p    httpapi.Principal
		want [3]bool // mine, queued, elsewhere
	}{
		{httpapi.Principal{InstanceID: "i1", Role: "agent", AgentID: "ada"}, [3]bool{true, false, false}},
		{httpapi.Principal{InstanceID: "i1", Role: "agent", AgentID: "bob"}, [3]bool{false, false, false}},
		{httpapi.Principal{InstanceID: "i1", Role: "supervisor", AgentID: "sue"}, [3]bool{true, true, false}},
		{httpapi.Principal{InstanceID: "i1", Role: "admin", TokenID: "t"}, [3]bool{true, true, false}},
		{httpapi.Principal{InstanceID: "i1", Role: "agent", TokenID: "t"}, [3]bool{false, false, false}},
		{httpapi.Principal{InstanceID: "i2", Role: "supervisor", AgentID: "x"}, [3]bool{false, false, true}},
	} {
		got := [3]bool{tc.p.MayAccess(mine), tc.p.MayAccess(queued), tc.p.MayAccess(elsewhere)}
		if got != tc.want {
			t.Errorf("%+v: MayAccess(mine, queued, elsewhere) = %v, want %v", tc.p, got, tc.want)
		}
	}
}
