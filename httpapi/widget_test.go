package httpapi_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/helplinehq/helpline"
	"github.com/helplinehq/helpline/blobfs"
	"github.com/helplinehq/helpline/chat"
	"github.com/helplinehq/helpline/connectapi"
	"github.com/helplinehq/helpline/httpapi"
	"github.com/helplinehq/helpline/inmem"
)

// widgetEndpoints are the widget's admin endpoints with a body and the
// status of success.
var widgetEndpoints = []struct {
	method, path, body string
	ok                 int
}{
	{"GET", "/api/admin/widget", "", 200},
	{"PATCH", "/api/admin/widget", `{"title":"By %s"}`, 200},
	{"POST", "/api/admin/widget/secret", "", 200},
}

// Every widget admin endpoint serves an admin of the instance, session
// with its CSRF token or admin token, and no one else; another instance's
// admin changes only its own instance's widget.
func TestWidgetAdminAuthorisation(t *testing.T) {
	for _, ep := range widgetEndpoints {
		t.Run(ep.method+" "+ep.path, func(t *testing.T) {
			e, adminTok, agentTok, supTok := newAdminEnv(t, nil)
			root, sue, ada, eve := e.login("root"), e.login("sue"), e.login("ada"), e.login("eve")
			noCSRF := ep.ok
			if ep.method != "GET" {
				noCSRF = http.StatusForbidden
			}
			for _, tc := range []struct {
				who  string
				c    creds
				want int
			}{
				{"nobody", creds{}, 401},
				{"agent", ada, 403},
				{"agent token", creds{bearer: agentTok}, 403},
				{"supervisor", sue, 403},
				{"supervisor token", creds{bearer: supTok}, 403},
				{"admin without CSRF", creds{cookie: root.cookie}, noCSRF},
				{"another instance's admin", eve, ep.ok},
				{"admin", root, ep.ok},
			} {
				ans := e.do(ep.method, ep.path, strings.ReplaceAll(ep.body, "%s", tc.who), tc.c)
				if ans.status != tc.want {
					t.Errorf("%s: %d %s, want %d", tc.who, ans.status, ans.raw, tc.want)
				}
			}
			ans := e.do(ep.method, ep.path, strings.ReplaceAll(ep.body, "%s", "token"), creds{bearer: adminTok})
			if ans.status != ep.ok {
				t.Errorf("admin token: %d %s", ans.status, ans.raw)
			}
			ctx := context.Background()
			ws, err := e.store.FindWidgetSettings(ctx, "i1")
			switch ep.method {
			case "GET":
				if err == nil {
					t.Errorf("reading the settings saved some: %+v", ws)
				}
			case "PATCH":
				// Only the admins' changes were made: the token's last.
				if err != nil || ws.Title != "By token" {
					t.Errorf("i1's settings %+v, %v; want the admin token's title", ws, err)
				}
				if ws2, err := e.store.FindWidgetSettings(ctx, "i2"); err != nil || ws2.Title != "By another instance's admin" {
					t.Errorf("i2's settings %+v, %v; want its admin's title", ws2, err)
				}
			case "POST":
				if err != nil || ws.Secret == "" || ws.Secret != ans.body["secret"] {
					t.Errorf("i1's secret %+v, want the last one answered, %v", ws, ans.body["secret"])
				}
			}
		})
	}
}

func TestWidgetAdminSettings(t *testing.T) {
	e, adminTok, _, _ := newAdminEnv(t, nil)
	tok := creds{bearer: adminTok}
	ctx := context.Background()
	if err := e.store.SaveInstance(ctx, &helpline.Instance{ID: "i1", Name: "i1", Flows: []helpline.Flow{{ID: "f"}, {ID: "g"}}}); err != nil {
		t.Fatal(err)
	}

	// Out of the box: the defaults, the default instance embeddable from
	// localhost, no secret.
	ans := e.do("GET", "/api/admin/widget", "", tok)
	if ans.status != 200 || ans.body["secret_set"] != false || ans.body["position"] != "right" ||
		!strings.Contains(ans.raw, `"allowed_origins":["http://localhost:*","http://127.0.0.1:*"]`) {
		t.Fatalf("defaults: %d %s", ans.status, ans.raw)
	}
	if ans := e.do("GET", "/api/admin/widget", "", creds{bearer: mustToken(t, e, "i2")}); !strings.Contains(ans.raw, `"allowed_origins":[]`) {
		t.Errorf("another instance's defaults allow origins: %s", ans.raw)
	}

	ans = e.do("PATCH", "/api/admin/widget", `{"title":"Shop help","primary":"#aa0000","position":"left","flow_id":"g",
		"allowed_origins":["https://shop.example.com"],"pre_chat":{"enabled":true,"fields":[{"name":"name","label":"Name","type":"text","required":true},{"name":"order","label":"Order number","type":"text"}]},
		"away_message":"Closed"}`, tok)
	if ans.status != 200 || ans.body["title"] != "Shop help" || ans.body["primary"] != "#aa0000" || ans.body["greeting"] != "Hi! How can we help?" ||
		ans.body["flow_id"] != "g" || !strings.Contains(ans.raw, `"allowed_origins":["https://shop.example.com"]`) {
		t.Fatalf("patch: %d %s", ans.status, ans.raw)
	}
	e.clock.Advance(time.Minute)
	ans = e.do("POST", "/api/admin/widget/secret", "", tok)
	secret, _ := ans.body["secret"].(string)
	if ans.status != 200 || !strings.HasPrefix(secret, "hlw_") || len(secret) < 40 {
		t.Fatalf("rotate: %d %s", ans.status, ans.raw)
	}
	ans = e.do("GET", "/api/admin/widget", "", tok)
	if ans.body["secret_set"] != true || strings.Contains(ans.raw, secret) || ans.body["title"] != "Shop help" {
		t.Errorf("after rotating: %s", ans.raw)
	}
	if again := e.do("POST", "/api/admin/widget/secret", "", tok); again.body["secret"] == secret {
		t.Error("rotating twice gave the same secret")
	}

	// Bad input: the documented error, nothing saved.
	before, err := e.store.FindWidgetSettings(ctx, "i1")
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct{ body, code string }{
		{`{"primary":"red"}`, "invalid"},
		{`{"on_primary":"#fff"}`, "invalid"},
		{`{"primary":"#000000;background:url(x)"}`, "invalid"},
		{`{"position":"top"}`, "invalid"},
		{`{"title":""}`, "invalid"},
		{`{"allowed_origins":["https://shop.example.com/"]}`, "invalid"},
		{`{"allowed_origins":["shop.example.com"]}`, "invalid"},
		{`{"allowed_origins":["https://shop.example.com 'unsafe-inline'"]}`, "invalid"},
		{`{"allowed_origins":["https://*.example.com"]}`, "invalid"},
		{`{"pre_chat":{"enabled":true,"fields":[{"name":"Bad","label":"x","type":"text"}]}}`, "invalid"},
		{`{"pre_chat":{"fields":[{"name":"helpline_identity_verified","label":"x","type":"text"}]}}`, "invalid"},
		{`{"flow_id":"nope"}`, "invalid"},
		{`{"secret":"mine"}`, "invalid"},
		{`{"title":"x"`, "invalid"},
		{`{"title":"` + strings.Repeat("x", 70<<10) + `"}`, "too_large"},
	} {
		ans := e.do("PATCH", "/api/admin/widget", tc.body, tok)
		if ans.code() != tc.code {
			t.Errorf("PATCH %.60s: %d %s, want %s", tc.body, ans.status, ans.raw, tc.code)
		}
	}
	after, err := e.store.FindWidgetSettings(ctx, "i1")
	if err != nil || after.Title != before.Title || after.Primary != before.Primary || len(after.AllowedOrigins) != 1 || after.FlowID != "g" {
		t.Errorf("bad input changed the settings: %+v", after)
	}
}

func mustToken(t *testing.T, e *agentEnv, instance string) string {
	t.Helper()
	tok, secret, err := helpline.NewAPIToken(instance, helpline.AgentRoleAdmin, "admin", "test", e.clock.Now())
	if err != nil {
		t.Fatal(err)
	} else if err := e.store.CreateAPIToken(context.Background(), tok); err != nil {
		t.Fatal(err)
	}
	return secret
}

// widgetEnv is the widget API over a real engine on SQLite. Instance
// The rate limit is off unless tune turns it on. Instance
// shop (the node's default) has flow web, answered by a bot first, and
// flow night, open on no day; instance other has flow o.
type widgetEnv struct {
	*agentEnv
	engine  *chat.Service
	h       *httpapi.WidgetAPI
	started *startLog
}

// startLog records the chats the widget API started.
type startLog struct {
	helpline.ContactService
	mu  sync.Mutex
	ids []string
}

func (s *startLog) StartChat(ctx context.Context, in helpline.StartChatInput) (*helpline.ChatStarted, error) {
	out, err := s.ContactService.StartChat(ctx, in)
	if err == nil {
		s.mu.Lock()
		s.ids = append(s.ids, out.Contact.ID)
		s.mu.Unlock()
	}
	return out, err
}

func (s *startLog) count() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.ids)
}

const shopSecret = "hlw_the-shops-widget-secret-0123456789"

func newWidgetEnv(t *testing.T, tune func(*httpapi.WidgetConfig)) *widgetEnv {
	t.Helper()
	ctx := context.Background()
	e := newAgentEnv(t, nil)
	blobs, err := blobfs.New(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	engine := chat.New(chat.Config{Store: e.store, Bus: inmem.NewBus(), Blobs: blobs,
		Tokens: helpline.NewTokens([]byte("0123456789abcdef0123456789abcdef")), Now: e.clock.Now})
	closed := &helpline.BusinessHours{TimeZone: "UTC", Open: []helpline.OpenPeriod{{Day: time.Sunday, From: "00:00", To: "00:01"}}}
	for _, in := range []*helpline.Instance{
		{ID: "shop", Name: "Shop", Flows: []helpline.Flow{{ID: "web", Name: "Web", Bot: "shop"}, {ID: "night", Name: "Night", Hours: closed}}},
		{ID: "other", Name: "Other", Flows: []helpline.Flow{{ID: "o", Name: "O"}}},
	} {
		if err := e.store.SaveInstance(ctx, in); err != nil {
			t.Fatal(err)
		}
	}
	ws := helpline.DefaultWidgetSettings("shop", true)
	ws.AllowedOrigins = append(ws.AllowedOrigins, "https://shop.example.com")
	ws.Secret = shopSecret
	ws.PreChat.Fields = append(ws.PreChat.Fields, helpline.PreChatField{Name: "order", Label: "Order", Type: "text"})
	if err := e.store.SaveWidgetSettings(ctx, ws); err != nil {
		t.Fatal(err)
	}
	started := &startLog{ContactService: engine}
	cfg := httpapi.WidgetConfig{Widgets: e.store, Contacts: started, DefaultInstance: "shop",
		PublicURL: "https://chat.example.net", Now: e.clock.Now, DisableRateLimit: true,
		Routing: e.store, Presence: engine.PresenceStatus}
	if tune != nil {
		tune(&cfg)
	}
	h := httpapi.NewWidgetAPI(cfg)
	e.h = h
	return &widgetEnv{agentEnv: e, engine: engine, h: h, started: started}
}

// post sends a widget request from origin.
func (e *widgetEnv) post(path, origin, body string) answer {
	e.t.Helper()
	return e.postFrom("192.0.2.1", path, origin, body)
}

func (e *widgetEnv) postFrom(addr, path, origin, body string) answer {
	e.t.Helper()
	r := httptest.NewRequest("POST", path, strings.NewReader(body))
	r.Host = "chat.internal:8080"
	r.RemoteAddr = addr + ":40000"
	r.Header.Set("Content-Type", "application/json")
	if origin != "" {
		r.Header.Set("Origin", origin)
	}
	w := httptest.NewRecorder()
	e.h.ServeHTTP(w, r)
	out := answer{status: w.Code, header: w.Header(), raw: w.Body.String()}
	json.Unmarshal(w.Body.Bytes(), &out.body)
	return out
}

func (e *widgetEnv) contact(id string) *helpline.Contact {
	e.t.Helper()
	c, err := e.store.FindContactByID(context.Background(), id)
	if err != nil {
		e.t.Fatal(err)
	}
	return c
}

// The public settings carry what the window shows and nothing secret.
func TestWidgetPublicSettings(t *testing.T) {
	e := newWidgetEnv(t, nil)
	for _, id := range []string{"shop", "default"} {
		ans := e.do("GET", "/api/widget/"+id+"/settings", "", creds{})
		if ans.status != 200 || ans.body["instance_id"] != "shop" || ans.body["identity"] != true || ans.body["away"] != false ||
			ans.body["title"] != "Chat with us" || ans.body["primary"] != "#1f5fbf" {
			t.Fatalf("%s: %d %s", id, ans.status, ans.raw)
		}
		for _, leak := range []string{shopSecret, "origins", "shop.example.com", "secret"} {
			if strings.Contains(ans.raw, leak) {
				t.Errorf("the public settings show %q: %s", leak, ans.raw)
			}
		}
	}
	if ans := e.do("GET", "/api/widget/nope/settings", "", creds{}); ans.status != 404 || ans.code() != "not_found" {
		t.Errorf("unknown instance: %d %s", ans.status, ans.raw)
	}
	// Outside the widget flow's hours the window shows the away message.
	ws, _ := e.store.FindWidgetSettings(context.Background(), "shop")
	ws.FlowID = "night"
	if err := e.store.SaveWidgetSettings(context.Background(), ws); err != nil {
		t.Fatal(err)
	}
	if ans := e.do("GET", "/api/widget/shop/settings", "", creds{}); ans.body["away"] != true || ans.body["away_message"] == "" {
		t.Errorf("out of hours: %s", ans.raw)
	}
}

func TestWidgetFrameAncestors(t *testing.T) {
	e := newWidgetEnv(t, nil)
	for query, want := range map[string]string{
		"instance=shop":    "http://localhost:* http://127.0.0.1:* https://shop.example.com",
		"instance=default": "http://localhost:* http://127.0.0.1:* https://shop.example.com",
		"":                 "http://localhost:* http://127.0.0.1:* https://shop.example.com",
		"instance=other":   "",
		"instance=nope":    "",
	} {
		r := httptest.NewRequest("GET", "/widget/?"+query, nil)
		if got := strings.Join(e.h.FrameAncestors(r), " "); got != want {
			t.Errorf("%s: %q, want %q", query, got, want)
		}
	}
}

// A start goes through the engine as StartChatContact does: the flow's
// bot owns the chat, and the participant token answered is a working one.
func TestWidgetStart(t *testing.T) {
	e := newWidgetEnv(t, nil)
	for _, origin := range []string{"https://chat.example.net", "http://chat.internal:8080", "https://shop.example.com", "http://localhost:5173"} {
		ans := e.post("/api/widget/shop/start", origin, `{"name":"Carol","email":"carol@example.com","fields":{"order":"A-100"}}`)
		if ans.status != 200 {
			t.Fatalf("from %s: %d %s", origin, ans.status, ans.raw)
		}
		c := e.contact(ans.body["contact_id"].(string))
		if c.InstanceID != "shop" || c.FlowID != "web" || c.Owner != "bot:shop" || c.Attributes["email"] != "carol@example.com" ||
			c.Attributes["order"] != "A-100" || c.Attributes["helpline_identity_verified"] != "false" {
			t.Errorf("from %s: contact %+v", origin, c)
		}
		s, err := e.engine.Authenticate(context.Background(), helpline.ParticipantToken, ans.body["participant_token"].(string))
		if err != nil || s.Participant.ID != ans.body["participant_id"] || s.Participant.DisplayName != "Carol" {
			t.Errorf("from %s: the participant token gives %+v, %v", origin, s, err)
		}
	}
	// A retry with the same client token starts nothing new.
	a1 := e.post("/api/widget/default/start", "https://shop.example.com", `{"client_token":"tab-1"}`)
	a2 := e.post("/api/widget/default/start", "https://shop.example.com", `{"client_token":"tab-1"}`)
	if a1.status != 200 || a1.body["contact_id"] != a2.body["contact_id"] {
		t.Errorf("retried start: %s then %s", a1.raw, a2.raw)
	}
	if c := e.contact(a1.body["contact_id"].(string)); c.Attributes["helpline_identity_verified"] != "false" {
		t.Errorf("an anonymous start: %+v", c.Attributes)
	}
	n := e.started.count()

	// Refused: the documented error, and no chat.
	for _, tc := range []struct {
		name, path, origin, body string
		status                   int
		code                     string
	}{
		{"foreign origin", "/api/widget/shop/start", "https://evil.example.org", `{}`, 403, "forbidden"},
		{"lookalike origin", "/api/widget/shop/start", "https://shop.example.com.evil.org", `{}`, 403, "forbidden"},
		{"no origin", "/api/widget/shop/start", "", `{}`, 403, "forbidden"},
		{"null origin", "/api/widget/shop/start", "null", `{}`, 403, "forbidden"},
		{"other instance's origin", "/api/widget/other/start", "https://shop.example.com", `{}`, 403, "forbidden"},
		{"unknown instance", "/api/widget/nope/start", "https://chat.example.net", `{}`, 404, "not_found"},
		{"bad JSON", "/api/widget/shop/start", "https://chat.example.net", `{"name":`, 400, "invalid"},
		{"unknown key", "/api/widget/shop/start", "https://chat.example.net", `{"nick":"x"}`, 400, "invalid"},
		{"unknown field", "/api/widget/shop/start", "https://chat.example.net", `{"fields":{"age":"9"}}`, 400, "invalid"},
		{"name as field", "/api/widget/shop/start", "https://chat.example.net", `{"fields":{"name":"x"}}`, 400, "invalid"},
		{"bad email", "/api/widget/shop/start", "https://chat.example.net", `{"email":"carol at example"}`, 400, "invalid"},
		{"long name", "/api/widget/shop/start", "https://chat.example.net", `{"name":"` + strings.Repeat("n", 300) + `"}`, 400, "invalid"},
		{"huge body", "/api/widget/shop/start", "https://chat.example.net", `{"name":"` + strings.Repeat("n", 70<<10) + `"}`, 413, "too_large"},
	} {
		ans := e.post(tc.path, tc.origin, tc.body)
		if ans.status != tc.status || ans.code() != tc.code {
			t.Errorf("%s: %d %s, want %d %s", tc.name, ans.status, ans.raw, tc.status, tc.code)
		}
	}
	r := httptest.NewRequest("POST", "/api/widget/shop/start", strings.NewReader(`{}`))
	r.Header.Set("Origin", "https://shop.example.com")
	r.Header.Set("Content-Type", "text/plain")
	w := httptest.NewRecorder()
	e.h.ServeHTTP(w, r)
	if w.Code != 400 {
		t.Errorf("a text/plain body (a form post from anywhere): %d %s", w.Code, w.Body)
	}
	if got := e.started.count(); got != n {
		t.Errorf("refused starts started %d chats", got-n)
	}

	// A required pre-chat field, when the form is on.
	ws, _ := e.store.FindWidgetSettings(context.Background(), "shop")
	ws.PreChat.Enabled, ws.PreChat.Fields[1].Required = true, true
	if err := e.store.SaveWidgetSettings(context.Background(), ws); err != nil {
		t.Fatal(err)
	}
	if ans := e.post("/api/widget/shop/start", "https://shop.example.com", `{"name":"Carol"}`); ans.status != 400 || !strings.Contains(ans.raw, "Email is required") {
		t.Errorf("without the required email: %d %s", ans.status, ans.raw)
	}
}

// identityToken signs claims with the shop's secret, HS256, unless the
// caller picks another method or key.
func identityToken(t *testing.T, method jwt.SigningMethod, key any, claims jwt.MapClaims) string {
	t.Helper()
	s, err := jwt.NewWithClaims(method, claims).SignedString(key)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestWidgetIdentity(t *testing.T) {
	e := newWidgetEnv(t, nil)
	now := e.clock.Now()
	claims := func(change func(jwt.MapClaims)) jwt.MapClaims {
		c := jwt.MapClaims{"sub": "cust-42", "email": "carol@example.com", "name": "Carol Verified",
			"iat": now.Add(-time.Minute).Unix(), "exp": now.Add(5 * time.Minute).Unix()}
		if change != nil {
			change(c)
		}
		return c
	}
	start := func(tok, extra string) answer {
		return e.post("/api/widget/shop/start", "https://shop.example.com", `{"identity_token":"`+tok+`"`+extra+`}`)
	}

	ans := start(identityToken(t, jwt.SigningMethodHS256, []byte(shopSecret), claims(nil)), `,"name":"Mallory","email":"mallory@example.com"`)
	if ans.status != 200 {
		t.Fatalf("a good token: %d %s", ans.status, ans.raw)
	}
	c := e.contact(ans.body["contact_id"].(string))
	want := map[string]string{"helpline_identity_verified": "true", "helpline_identity_external_id": "cust-42", "helpline_identity_email": "carol@example.com",
		"helpline_identity_name": "Carol Verified", "email": "carol@example.com", "helpline_unverified_name": "Mallory", "helpline_unverified_email": "mallory@example.com"}
	for k, v := range want {
		if c.Attributes[k] != v {
			t.Errorf("attribute %s = %q, want %q", k, c.Attributes[k], v)
		}
	}
	if c.CustomerID != "cust-42" {
		t.Errorf("customer id %q", c.CustomerID)
	}
	if ans := start(identityToken(t, jwt.SigningMethodHS256, []byte(shopSecret), claims(func(c jwt.MapClaims) { delete(c, "sub"); c["external_id"] = "ext-7" })), ""); ans.status != 200 ||
		e.contact(ans.body["contact_id"].(string)).CustomerID != "ext-7" {
		t.Errorf("external_id instead of sub: %d %s", ans.status, ans.raw)
	}
	n := e.started.count()

	hs512 := identityToken(t, jwt.SigningMethodHS512, []byte(shopSecret), claims(nil))
	none := identityToken(t, jwt.SigningMethodNone, jwt.UnsafeAllowNoneSignatureType, claims(nil))
	good := identityToken(t, jwt.SigningMethodHS256, []byte(shopSecret), claims(nil))
	for _, tc := range []struct{ name, token, why string }{
		{"forged", identityToken(t, jwt.SigningMethodHS256, []byte("a guessed secret"), claims(nil)), "signature"},
		{"tampered", good[:strings.LastIndexByte(good, '.')-2] + "xx" + good[strings.LastIndexByte(good, '.'):], ""},
		{"HS512", hs512, "HS256"},
		{"alg none", none, "HS256"},
		{"expired", identityToken(t, jwt.SigningMethodHS256, []byte(shopSecret), claims(func(c jwt.MapClaims) { c["exp"] = now.Add(-2 * time.Minute).Unix() })), "expired"},
		{"stale", identityToken(t, jwt.SigningMethodHS256, []byte(shopSecret), claims(func(c jwt.MapClaims) { c["iat"] = now.Add(-12 * time.Minute).Unix() })), "10 minutes"},
		{"from the future", identityToken(t, jwt.SigningMethodHS256, []byte(shopSecret), claims(func(c jwt.MapClaims) { c["iat"] = now.Add(5 * time.Minute).Unix() })), "future"},
		{"no exp", identityToken(t, jwt.SigningMethodHS256, []byte(shopSecret), claims(func(c jwt.MapClaims) { delete(c, "exp") })), "exp"},
		{"no iat", identityToken(t, jwt.SigningMethodHS256, []byte(shopSecret), claims(func(c jwt.MapClaims) { delete(c, "iat") })), "iat"},
		{"no subject", identityToken(t, jwt.SigningMethodHS256, []byte(shopSecret), claims(func(c jwt.MapClaims) { delete(c, "sub") })), "sub"},
		{"bad email", identityToken(t, jwt.SigningMethodHS256, []byte(shopSecret), claims(func(c jwt.MapClaims) { c["email"] = "nope" })), "email"},
		{"not a JWT", "not.a.jwt", ""},
	} {
		ans := start(tc.token, "")
		if ans.status != 401 || ans.code() != "unauthorized" || !strings.Contains(ans.raw, tc.why) {
			t.Errorf("%s: %d %s, want 401 unauthorized saying %q", tc.name, ans.status, ans.raw, tc.why)
		}
	}
	// Within the skew is fine.
	if ans := start(identityToken(t, jwt.SigningMethodHS256, []byte(shopSecret), claims(func(c jwt.MapClaims) { c["iat"] = now.Add(30 * time.Second).Unix() })), ""); ans.status != 200 {
		t.Errorf("iat 30 s ahead: %d %s", ans.status, ans.raw)
	}
	n++
	// A widget with no secret takes no token.
	ans = e.post("/api/widget/other/start", "http://chat.internal:8080", `{"identity_token":"`+good+`"}`)
	if ans.status != 401 || !strings.Contains(ans.raw, "no identity secret") {
		t.Errorf("no secret: %d %s", ans.status, ans.raw)
	}
	if got := e.started.count(); got != n {
		t.Errorf("refused tokens started %d chats", got-n)
	}
}

func TestWidgetRateLimit(t *testing.T) {
	e := newWidgetEnv(t, func(c *httpapi.WidgetConfig) {
		c.PerAddress, c.DisableRateLimit = connectapi.Rate{Rate: 0.1, Burst: 3}, false
	})
	for i := range 3 {
		if ans := e.post("/api/widget/shop/start", "https://shop.example.com", `{}`); ans.status != 200 {
			t.Fatalf("start %d: %d %s", i, ans.status, ans.raw)
		}
	}
	ans := e.post("/api/widget/shop/start", "https://shop.example.com", `{}`)
	if ans.status != 429 || ans.code() != "throttled" || ans.header.Get("Retry-After") != "10" {
		t.Fatalf("over the burst: %d %v %s", ans.status, ans.header, ans.raw)
	}
	// Refusals cost nothing more; other addresses and the offline form
	// have their own buckets.
	if ans := e.postFrom("198.51.100.7", "/api/widget/shop/start", "https://shop.example.com", `{}`); ans.status != 200 {
		t.Errorf("another address: %d %s", ans.status, ans.raw)
	}
	if ans := e.post("/api/widget/shop/offline", "https://shop.example.com", `{"name":"C","email":"c@example.com","message":"hi"}`); ans.status != 201 {
		t.Errorf("offline from the throttled address: %d %s", ans.status, ans.raw)
	}
	// Refused requests, however many, from a foreign origin too, do not
	// keep the address refused once its bucket refills.
	for range 5 {
		e.post("/api/widget/shop/start", "https://evil.example.org", `{}`)
	}
	e.clock.Advance(10 * time.Second)
	if ans := e.post("/api/widget/shop/start", "https://shop.example.com", `{}`); ans.status != 200 {
		t.Errorf("after 10 s: %d %s", ans.status, ans.raw)
	}
	if ans := e.post("/api/widget/shop/start", "https://shop.example.com", `{}`); ans.status != 429 {
		t.Errorf("the refill was one start: %d %s", ans.status, ans.raw)
	}
}

// An offline message becomes an ended contact holding it, which the
// connectors mirror as a ticket.
func TestWidgetOffline(t *testing.T) {
	e := newWidgetEnv(t, nil)
	ans := e.post("/api/widget/shop/offline", "https://shop.example.com", `{"name":"Carol","email":"carol@example.com","message":"Where is order A-1?","fields":{"order":"A-1"}}`)
	if ans.status != 201 {
		t.Fatalf("offline: %d %s", ans.status, ans.raw)
	}
	id := ans.body["contact_id"].(string)
	c := e.contact(id)
	if c.EndedAt.IsZero() || c.Attributes["helpline_offline"] != "true" || c.Attributes["email"] != "carol@example.com" || c.Attributes["order"] != "A-1" {
		t.Errorf("contact %+v", c)
	}
	items, err := e.store.FindItems(context.Background(), id, helpline.ItemQuery{})
	if err != nil {
		t.Fatal(err)
	}
	found := false
	for _, it := range items {
		found = found || it.Type == helpline.ItemMessage && it.Content == "Where is order A-1?"
	}
	if !found {
		t.Errorf("the transcript lacks the message: %+v", items)
	}
	n := e.started.count()
	for _, tc := range []struct{ name, origin, body string }{
		{"foreign origin", "https://evil.example.org", `{"name":"C","email":"c@example.com","message":"hi"}`},
		{"no email", "https://shop.example.com", `{"name":"C","message":"hi"}`},
		{"bad email", "https://shop.example.com", `{"name":"C","email":"c","message":"hi"}`},
		{"no message", "https://shop.example.com", `{"name":"C","email":"c@example.com","message":"  "}`},
		{"long message", "https://shop.example.com", `{"name":"C","email":"c@example.com","message":"` + strings.Repeat("m", 16385) + `"}`},
	} {
		if ans := e.post("/api/widget/shop/offline", tc.origin, tc.body); ans.status/100 != 4 {
			t.Errorf("%s: %d %s", tc.name, ans.status, ans.raw)
		}
	}
	if got := e.started.count(); got != n {
		t.Errorf("refused offline messages started %d contacts", got-n)
	}
}
