package httpapi_test

import (
	"context"
	"encoding/json"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/helplinehq/helpline"
	"github.com/helplinehq/helpline/connectapi"
	"github.com/helplinehq/helpline/httpapi"
)

// send sends a widget request from origin (none when empty) with the
// given extra headers.
func (e *widgetEnv) send(method, path, origin, body string, hdr ...string) answer {
	e.t.Helper()
	r := httptest.NewRequest(method, path, strings.NewReader(body))
	r.Host = "chat.internal:8080"
	r.RemoteAddr = "192.0.2.1:40000"
	if body != "" {
		r.Header.Set("Content-Type", "application/json")
	}
	if origin != "" {
		r.Header.Set("Origin", origin)
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		r.Header.Set(hdr[i], hdr[i+1])
	}
	w := httptest.NewRecorder()
	e.h.ServeHTTP(w, r)
	out := answer{status: w.Code, header: w.Header(), raw: w.Body.String()}
	json.Unmarshal(w.Body.Bytes(), &out.body)
	return out
}

// A page of an allowed origin may call the widget API cross-origin: its
// preflights pass and the answers name it; any other origin's preflight
// is refused and no answer names it.
func TestWidgetCORS(t *testing.T) {
	e := newWidgetEnv(t, nil)
	preflight := func(path, origin string) answer {
		return e.send("OPTIONS", path, origin, "", "Access-Control-Request-Method", "POST",
			"Access-Control-Request-Headers", "content-type")
	}
	for _, origin := range []string{"https://shop.example.com", "http://localhost:5173", "http://127.0.0.1:8081"} {
		for _, path := range []string{"/api/widget/shop/start", "/api/widget/default/start", "/api/widget/shop/availability", "/api/widget/shop/settings"} {
			ans := preflight(path, origin)
			if ans.status != 204 || ans.header.Get("Access-Control-Allow-Origin") != origin ||
				!strings.Contains(ans.header.Get("Access-Control-Allow-Methods"), "POST") ||
				!strings.Contains(ans.header.Get("Access-Control-Allow-Headers"), "content-type") {
				t.Errorf("preflight of %s from %s: %d %v %s", path, origin, ans.status, ans.header, ans.raw)
			}
		}
	}
	n := e.started.count()
	for _, tc := range []struct{ name, path, origin string }{
		{"foreign origin", "/api/widget/shop/start", "https://evil.example.org"},
		{"lookalike origin", "/api/widget/shop/start", "https://shop.example.com.evil.org"},
		{"other scheme", "/api/widget/shop/start", "http://shop.example.com"},
		{"null origin", "/api/widget/shop/start", "null"},
		{"no origin", "/api/widget/shop/start", ""},
		{"other instance's origin", "/api/widget/other/start", "https://shop.example.com"},
		// Helpline's own pages need no CORS, and get none.
		{"own origin", "/api/widget/shop/start", "https://chat.example.net"},
	} {
		ans := preflight(tc.path, tc.origin)
		if ans.status != 403 || ans.code() != "forbidden" || ans.header.Get("Access-Control-Allow-Origin") != "" ||
			ans.header.Get("Access-Control-Allow-Methods") != "" {
			t.Errorf("%s: %d %v %s", tc.name, ans.status, ans.header, ans.raw)
		}
	}
	if ans := preflight("/api/widget/nope/start", "https://shop.example.com"); ans.status != 404 || ans.header.Get("Access-Control-Allow-Origin") != "" {
		t.Errorf("unknown instance: %d %v", ans.status, ans.header)
	}

	// The requests themselves: an allowed origin is named in the answer,
	// errors after the origin check included (the page reads why).
	ans := e.send("POST", "/api/widget/shop/start", "https://shop.example.com", `{"name":"Carol"}`)
	if ans.status != 200 || ans.header.Get("Access-Control-Allow-Origin") != "https://shop.example.com" || !strings.Contains(ans.header.Get("Vary"), "Origin") {
		t.Errorf("start: %d %v %s", ans.status, ans.header, ans.raw)
	}
	ans = e.send("POST", "/api/widget/shop/start", "https://shop.example.com", `{"email":"nope"}`)
	if ans.status != 400 || ans.header.Get("Access-Control-Allow-Origin") != "https://shop.example.com" {
		t.Errorf("a refused start: %d %v %s", ans.status, ans.header, ans.raw)
	}
	ans = e.send("GET", "/api/widget/shop/settings", "https://shop.example.com", "")
	if ans.status != 200 || ans.header.Get("Access-Control-Allow-Origin") != "https://shop.example.com" {
		t.Errorf("settings: %d %v", ans.status, ans.header)
	}
	for _, path := range []string{"/api/widget/shop/start", "/api/widget/shop/settings", "/api/widget/shop/availability"} {
		method, body := "GET", ""
		if strings.HasSuffix(path, "start") {
			method, body = "POST", `{}`
		}
		if ans := e.send(method, path, "https://evil.example.org", body); ans.header.Get("Access-Control-Allow-Origin") != "" {
			t.Errorf("%s from a foreign origin names it: %v", path, ans.header)
		}
	}
	if got := e.started.count(); got != n+1 {
		t.Errorf("%d chats started, want the one allowed", got-n)
	}
}

// A start's context becomes contact attributes, as the service desk
// passes the Watson session history key; bad context starts nothing.
func TestWidgetStartContext(t *testing.T) {
	e := newWidgetEnv(t, nil)
	ans := e.send("POST", "/api/widget/shop/start", "https://shop.example.com",
		`{"name":"Carol","fields":{"order":"A-1"},"context":{"session_history_key":"us-south::v1::code::s1::i1::svc::sub","topic":"refund","message_to_human_agent":" Wants a refund ","empty":""}}`)
	if ans.status != 200 {
		t.Fatalf("start: %d %s", ans.status, ans.raw)
	}
	c := e.contact(ans.body["contact_id"].(string))
	want := map[string]string{"session_history_key": "us-south::v1::code::s1::i1::svc::sub", "topic": "refund",
		"message_to_human_agent": "Wants a refund", "order": "A-1", "helpline_identity_verified": "false"}
	for k, v := range want {
		if c.Attributes[k] != v {
			t.Errorf("attribute %s = %q, want %q (all: %v)", k, c.Attributes[k], v, c.Attributes)
		}
	}
	if _, ok := c.Attributes["empty"]; ok {
		t.Errorf("an empty context entry was kept: %v", c.Attributes)
	}
	n := e.started.count()
	many := map[string]string{}
	for i := range 21 {
		many[string(rune('a'+i))] = "x"
	}
	manyJSON, _ := json.Marshal(map[string]any{"context": many})
	for name, body := range map[string]string{
		"reserved name":    `{"context":{"helpline_identity_verified":"true"}}`,
		"pre-chat field":   `{"context":{"order":"B-2"}}`,
		"email":            `{"context":{"email":"x@example.com"}}`,
		"upper-case name":  `{"context":{"Topic":"x"}}`,
		"name with a dash": `{"context":{"a-b":"x"}}`,
		"long name":        `{"context":{"` + strings.Repeat("a", 33) + `":"x"}}`,
		"long value":       `{"context":{"topic":"` + strings.Repeat("x", 4097) + `"}}`,
		"too many":         string(manyJSON),
		"not a string":     `{"context":{"topic":1}}`,
		"not an object":    `{"context":"x"}`,
	} {
		ans := e.send("POST", "/api/widget/shop/start", "https://shop.example.com", body)
		if ans.status != 400 || ans.code() != "invalid" {
			t.Errorf("%s: %d %s", name, ans.status, ans.raw)
		}
	}
	if got := e.started.count(); got != n {
		t.Errorf("refused starts started %d chats", got-n)
	}
}

// Availability answers whether a chat started now would reach a person:
// someone serving the widget flow's queue online, within the flow's
// hours. It is for allowed origins only, and rate limited.
func TestWidgetAvailability(t *testing.T) {
	e := newWidgetEnv(t, nil)
	ctx := context.Background()
	closed := &helpline.BusinessHours{TimeZone: "UTC", Open: []helpline.OpenPeriod{{Day: time.Sunday, From: "00:00", To: "00:01"}}}
	if err := e.store.SaveInstance(ctx, &helpline.Instance{ID: "shop", Name: "Shop", Flows: []helpline.Flow{
		{ID: "desk", Name: "Desk", Queue: "support"}, {ID: "night", Name: "Night", Queue: "support", Hours: closed}}}); err != nil {
		t.Fatal(err)
	}
	for _, a := range []*helpline.Agent{
		{InstanceID: "shop", ID: "pat", Queues: []string{"support"}, Enabled: true},
		{InstanceID: "shop", ID: "sam", Queues: []string{"sales"}, Enabled: true},
		{InstanceID: "shop", ID: "off", Queues: []string{"support"}, Enabled: false},
	} {
		a.Role, a.Email, a.DisplayName, a.PasswordHash = helpline.AgentRoleAgent, a.ID+"@example.com", a.ID, hashed
		if err := e.store.CreateAgent(ctx, a); err != nil {
			t.Fatal(err)
		}
	}
	online := func(id string) {
		t.Helper()
		if err := e.store.SetPresence(ctx, "shop", id, helpline.PresenceOnline, e.clock.Now()); err != nil {
			t.Fatal(err)
		}
		if err := e.store.TouchAgent(ctx, "shop", id, e.clock.Now()); err != nil {
			t.Fatal(err)
		}
	}
	check := func(name, want string) {
		t.Helper()
		ans := e.send("GET", "/api/widget/shop/availability", "https://shop.example.com", "")
		if ans.status != 200 || strings.TrimSpace(ans.raw) != want || ans.header.Get("Access-Control-Allow-Origin") != "https://shop.example.com" {
			t.Errorf("%s: %d %s %v, want %s", name, ans.status, ans.raw, ans.header, want)
		}
	}
	check("nobody online", `{"available":false,"agents_online":false,"in_hours":true}`)
	online("sam")
	online("off")
	check("only others online", `{"available":false,"agents_online":false,"in_hours":true}`)
	online("pat")
	check("pat online", `{"available":true,"agents_online":true,"in_hours":true}`)
	e.clock.Advance(2 * time.Minute)
	check("pat's connection gone quiet", `{"available":false,"agents_online":false,"in_hours":true}`)
	online("pat")
	ws, _ := e.store.FindWidgetSettings(ctx, "shop")
	ws.FlowID = "night"
	if err := e.store.SaveWidgetSettings(ctx, ws); err != nil {
		t.Fatal(err)
	}
	check("out of hours", `{"available":false,"agents_online":true,"in_hours":false}`)

	for _, tc := range []struct {
		name, path, origin string
		status             int
	}{
		{"foreign origin", "/api/widget/shop/availability", "https://evil.example.org", 403},
		{"no origin", "/api/widget/shop/availability", "", 403},
		{"other instance's origin", "/api/widget/other/availability", "https://shop.example.com", 403},
		{"unknown instance", "/api/widget/nope/availability", "https://shop.example.com", 404},
	} {
		ans := e.send("GET", tc.path, tc.origin, "")
		if ans.status != tc.status || strings.Contains(ans.raw, "available") {
			t.Errorf("%s: %d %s", tc.name, ans.status, ans.raw)
		}
	}
	if ans := e.send("POST", "/api/widget/shop/availability", "https://shop.example.com", `{}`); ans.status != 404 {
		t.Errorf("POST: %d %s", ans.status, ans.raw)
	}

	// Without routing to read, there is no such endpoint.
	bare := newWidgetEnv(t, func(c *httpapi.WidgetConfig) { c.Routing = nil })
	if ans := bare.send("GET", "/api/widget/shop/availability", "https://shop.example.com", ""); ans.status != 404 {
		t.Errorf("without routing: %d %s", ans.status, ans.raw)
	}
}

// Availability has its own bucket per address.
func TestWidgetAvailabilityRateLimit(t *testing.T) {
	e := newWidgetEnv(t, func(c *httpapi.WidgetConfig) {
		c.PerAddress, c.DisableRateLimit = connectapi.Rate{Rate: 0.1, Burst: 2}, false
	})
	for i := range 2 {
		if ans := e.send("GET", "/api/widget/shop/availability", "https://shop.example.com", ""); ans.status != 200 {
			t.Fatalf("ask %d: %d %s", i, ans.status, ans.raw)
		}
	}
	if ans := e.send("GET", "/api/widget/shop/availability", "https://shop.example.com", ""); ans.status != 429 || ans.header.Get("Retry-After") == "" {
		t.Errorf("over the burst: %d %v %s", ans.status, ans.header, ans.raw)
	}
	if ans := e.send("POST", "/api/widget/shop/start", "https://shop.example.com", `{}`); ans.status != 200 {
		t.Errorf("a start from the same address: %d %s", ans.status, ans.raw)
	}
}
