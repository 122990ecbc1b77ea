package streamchat_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/helplinehq/helpline"
	"github.com/helplinehq/helpline/blobfs"
	"github.com/helplinehq/helpline/chat"
	"github.com/helplinehq/helpline/clocktest"
	"github.com/helplinehq/helpline/connector/streamchat"
	"github.com/helplinehq/helpline/connector/streamchat/streamchattest"
	_ "github.com/helplinehq/helpline/connector/zendesksell"
	"github.com/helplinehq/helpline/connector/zendesksell/zendeskselltest"
	"github.com/helplinehq/helpline/inmem"
	"github.com/helplinehq/helpline/sqlite"
)

// The token stream-chat 9.53.0's createToken("ada_l") gives with secret
// "secret-1": new StreamChat("key-1", "secret-1").createToken("ada_l").
const npmToken = "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJ1c2VyX2lkIjoiYWRhX2wifQ.AoRgcR8AIBk0vdEfDZn-gVS_4btsWX0fH2QdIwP5VHI"

func TestUserTokenIsStreamSDKs(t *testing.T) {
	got, err := streamchat.UserToken([]byte("secret-1"), "ada_l")
	if err != nil || got != npmToken {
		t.Fatalf("UserToken = %q, %v; want stream-chat's %q", got, err, npmToken)
	}
}

// joinEnv is the engine, a Stream REST fake, a Sell fake with its
// connector, and the streamchat connector with join enabled, on a fake
// clock.
type joinEnv struct {
	stream *streamchattest.Server
	sell   *zendeskselltest.Server
	clock  *clocktest.Clock
	srv    *httptest.Server
	svc    *chat.Service
}

const joinSettings = `
api_key: ` + apiKey + `
secret_env: STREAM_SECRET
instance_id: inst-1
contact_flow_id: flow-1
channel_attributes: [sell_lead_id]
join:
  enabled: true
  admin_user_id: support-admin
  stream_base_url: %s
  lead_connector: sell
  allowed_origins: [http://localhost:3000]
  requests_per_minute: %d
`

func newJoinEnv(t *testing.T, perMinute int, extra string) *joinEnv {
	t.Helper()
	db, err := sqlite.Open(filepath.Join(t.TempDir(), "helpline.db"))
	if err != nil {
		t.Fatal(err)
	}
	if err := db.SaveInstance(ctx, &helpline.Instance{ID: "inst-1", Name: "Shop", Flows: []helpline.Flow{{ID: "flow-1", Name: "Plain"}}}); err != nil {
		t.Fatal(err)
	}
	blobs, err := blobfs.New(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	bus := inmem.NewBus()
	svc := chat.New(chat.Config{Store: db, Bus: bus, Blobs: blobs, Tokens: helpline.NewTokens([]byte("0123456789abcdef0123456789abcdef"))})
	runCtx, cancel := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- svc.Run(runCtx) }()
	<-svc.Ready()
	e := &joinEnv{stream: streamchattest.NewRESTServer(apiKey, secret), sell: zendeskselltest.NewServer("sell-token"),
		clock: clocktest.New(time.Date(2025, 3, 1, 10, 0, 0, 0, time.UTC)), svc: svc}
	e.stream.AddUser("support-admin", "Support")
	env := map[string]string{"STREAM_SECRET": secret, "SELL_TOKEN": "sell-token", "JOIN_KEY": "join-key"}
	sell, err := helpline.NewConnector("zendesksell", config("base_url: "+e.sell.URL+"\ntoken_env: SELL_TOKEN\nlead_attribute: sell_lead_id\nrequests_per_second: 1000", env))
	if err != nil {
		t.Fatal(err)
	}
	conn, err := helpline.NewConnector("streamchat", config(fmt.Sprintf(joinSettings, e.stream.URL, perMinute)+extra, env))
	if err != nil {
		t.Fatal(err)
	}
	node := helpline.ConnectorNode{Intake: svc, Now: e.clock.Now, MarkerKey: []byte("marker-key"),
		Connector: func(name string) helpline.Connector { return map[string]helpline.Connector{"sell": sell}[name] }}
	for _, c := range []helpline.Connector{sell, conn} {
		if err := c.(helpline.Provisioner).Provision(ctx, node); err != nil {
			t.Fatal(err)
		}
	}
	e.srv = httptest.NewServer(http.StripPrefix("/connectors/stream", conn.(http.Handler)))
	t.Cleanup(func() {
		e.srv.Close()
		e.stream.Close()
		e.sell.Close()
		cancel()
		<-done
		bus.Close()
		db.Close()
	})
	return e
}

// join posts body to /join with headers and returns the status, the
// headers and the body.
func (e *joinEnv) join(t *testing.T, body string, headers map[string]string) (int, http.Header, string) {
	t.Helper()
	r, _ := http.NewRequest(http.MethodPost, e.srv.URL+"/connectors/stream/join", strings.NewReader(body))
	r.Header.Set("Content-Type", "application/json")
	for k, v := range headers {
		r.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(r)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, resp.Header, string(b)
}

type joined struct {
	User    struct{ ID, Name string }
	Token   string
	APIKey  string `json:"api_key"`
	Channel struct{ Type, ID, CID string }
	LeadID  string `json:"lead_id"`
}

// Join upserts the user, creates the channel with the user and the admin
// and the Sell lead's id in its data, and answers the token Stream's SDK
// would; a second join finds all of it again.
func TestJoinCreatesUserChannelAndLead(t *testing.T) {
	e := newJoinEnv(t, 3, "")
	body := `{"username":"ada_l","first_name":"Ada","last_name":"Lovelace","email":"ada@example.com"}`
	var first joined
	for i := 0; i < 2; i++ {
		status, h, out := e.join(t, body, map[string]string{"Origin": "http://localhost:3000"})
		if status != 200 || h.Get("Access-Control-Allow-Origin") != "http://localhost:3000" {
			t.Fatalf("join %d: %d %v %s", i, status, h, out)
		}
		var got joined
		if err := json.Unmarshal([]byte(out), &got); err != nil {
			t.Fatal(err)
		}
		if i == 0 {
			first = got
		} else if got != first {
			t.Errorf("second join %+v, want the first's %+v", got, first)
		}
	}
	want, _ := streamchat.UserToken([]byte(secret), "ada_l")
	if first.User.ID != "ada_l" || first.User.Name != "Ada Lovelace" || first.Token != want || first.APIKey != apiKey ||
		first.Channel.CID != "messaging:support-ada_l" {
		t.Errorf("answer %+v", first)
	}
	leads := e.sell.Leads()
	if len(leads) != 1 || leads[0].Email != "ada@example.com" || fmt.Sprint(leads[0].ID) != first.LeadID {
		t.Fatalf("Sell holds %+v, want one lead for ada@example.com, id %s", leads, first.LeadID)
	}
	u, ok := e.stream.User("ada_l")
	if !ok || u["name"] != "Ada Lovelace" || u["email"] != "ada@example.com" {
		t.Errorf("Stream user %v", u)
	}
	ch, ok := e.stream.Channel("messaging", "support-ada_l")
	if !ok || ch.CreatedByID != "support-admin" || strings.Join(ch.Members, ",") != "ada_l,support-admin" || ch.Custom["sell_lead_id"] != first.LeadID {
		t.Fatalf("Stream channel %+v", ch)
	}
}

// A channel that exists already (made before Helpline, without the
// customer or the lead) gets the member and the lead's id.
func TestJoinCompletesAnExistingChannel(t *testing.T) {
	e := newJoinEnv(t, 3, "")
	e.stream.AddChannel(streamchattest.Channel{Type: "messaging", ID: "support-bob", CreatedByID: "support-admin", Members: []string{"support-admin"}})
	if status, _, out := e.join(t, `{"username":"bob","email":"bob@example.com"}`, nil); status != 200 {
		t.Fatalf("join: %d %s", status, out)
	}
	ch, _ := e.stream.Channel("messaging", "support-bob")
	if strings.Join(ch.Members, ",") != "support-admin,bob" || ch.Custom["sell_lead_id"] == nil {
		t.Errorf("channel %+v, want bob added and the lead id set", ch)
	}
}

// Bad input is refused with the documented status, and changes nothing
// at Stream or in Sell; the server goes on serving.
func TestJoinRefusesBadInput(t *testing.T) {
	e := newJoinEnv(t, 100, "  key_env: JOIN_KEY\n")
	key := map[string]string{"X-Helpline-Join-Key": "join-key"}
	long := strings.Repeat("x", 101)
	for _, tc := range []struct {
		name, body string
		headers    map[string]string
		want       int
	}{
		{"no key", `{"username":"ada"}`, nil, 401},
		{"wrong key", `{"username":"ada"}`, map[string]string{"X-Helpline-Join-Key": "nope"}, 401},
		{"origin not allowed", `{"username":"ada"}`, map[string]string{"X-Helpline-Join-Key": "join-key", "Origin": "https://evil.example"}, 403},
		{"malformed JSON", `{"username":`, key, 400},
		{"two objects", `{"username":"a"}{"username":"b"}`, key, 400},
		{"unknown field", `{"username":"ada","role":"admin"}`, key, 400},
		{"not an object", `["ada"]`, key, 400},
		{"missing username", `{"first_name":"Ada"}`, key, 422},
		{"username with @", `{"username":"ada@example.com"}`, key, 422},
		{"overlong username", `{"username":"` + strings.Repeat("a", 65) + `"}`, key, 422},
		{"overlong first name", `{"username":"ada","first_name":"` + long + `"}`, key, 422},
		{"overlong last name", `{"username":"ada","last_name":"` + long + `"}`, key, 422},
		{"control character", `{"username":"ada","last_name":"L\u0000"}`, key, 422},
		{"bad email", `{"username":"ada","email":"not-an-email"}`, key, 422},
		{"email with a name", `{"username":"ada","email":"Ada <ada@example.com>"}`, key, 422},
		{"overlong body", `{"username":"ada","last_name":"` + strings.Repeat("x", 5000) + `"}`, key, 413},
	} {
		if status, _, out := e.join(t, tc.body, tc.headers); status != tc.want {
			t.Errorf("%s: %d %s, want %d", tc.name, status, out, tc.want)
		}
	}
	if reqs := e.stream.Requests(); len(reqs) != 0 || len(e.sell.Leads()) != 0 {
		t.Errorf("refused joins reached Stream (%v) or Sell (%d leads)", reqs, len(e.sell.Leads()))
	}
	if status, _, out := e.join(t, `{"username":"ada"}`, key); status != 200 {
		t.Fatalf("a good join afterwards: %d %s", status, out)
	}
	if len(e.sell.Leads()) != 0 {
		t.Errorf("a join without email made a lead")
	}
}

// One address gets requests_per_minute joins, then 429 with Retry-After
// until the clock moves on; another address is not held back.
func TestJoinRateLimitPerAddress(t *testing.T) {
	e := newJoinEnv(t, 3, "")
	for i := 0; i < 3; i++ {
		if status, _, out := e.join(t, `{"username":"ada"}`, nil); status != 200 {
			t.Fatalf("join %d: %d %s", i, status, out)
		}
	}
	status, h, _ := e.join(t, `{"username":"ada"}`, nil)
	if status != 429 || h.Get("Retry-After") == "" {
		t.Fatalf("fourth join: %d Retry-After %q, want 429 with Retry-After", status, h.Get("Retry-After"))
	}
	e.clock.Advance(20 * time.Second)
	if status, _, out := e.join(t, `{"username":"ada"}`, nil); status != 200 {
		t.Fatalf("after 20 s: %d %s", status, out)
	}
}

// A CORS preflight from an allowed origin is answered; Stream's refusals
// are 502 and its rate limit 503, without crashing.
func TestJoinPreflightAndStreamFailures(t *testing.T) {
	e := newJoinEnv(t, 3, "")
	r, _ := http.NewRequest(http.MethodOptions, e.srv.URL+"/connectors/stream/join", nil)
	r.Header.Set("Origin", "http://localhost:3000")
	r.Header.Set("Access-Control-Request-Method", "POST")
	r.Header.Set("Access-Control-Request-Headers", "content-type")
	resp, err := http.DefaultClient.Do(r)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 204 || resp.Header.Get("Access-Control-Allow-Origin") != "http://localhost:3000" ||
		!strings.Contains(resp.Header.Get("Access-Control-Allow-Headers"), "Content-Type") {
		t.Errorf("preflight: %d %v", resp.StatusCode, resp.Header)
	}
	e.stream.SetOutage(500)
	if status, _, _ := e.join(t, `{"username":"ada"}`, nil); status != 502 {
		t.Errorf("Stream down: %d, want 502", status)
	}
	e.stream.SetOutage(0)
	e.stream.SetRateLimit(1)
	if status, h, _ := e.join(t, `{"username":"ada"}`, nil); status != 503 || h.Get("Retry-After") == "" {
		t.Errorf("Stream rate-limited: %d %v, want 503 with Retry-After", status, h)
	}
}

func TestJoinConfigErrors(t *testing.T) {
	for _, tc := range []struct{ conf, want string }{
		{"secret_env: S\njoin: {enabled: true, admin_user_id: a}", "api_key is required"},
		{"secret_env: S\napi_key: k\njoin: {enabled: true}", "admin_user_id"},
		{"secret_env: S\napi_key: k\njoin: {enabled: true, admin_user_id: a, channel_id_template: fixed}", "channel_id_template"},
		{"secret_env: S\napi_key: k\njoin: {enabled: true, admin_user_id: a, allowed_origins: [localhost:3000]}", "allowed_origins"},
		{"secret_env: S\napi_key: k\njoin: {enabled: true, admin_user_id: a, lead_connector: sell}", "channel_attributes"},
		{"secret_env: S\napi_key: k\njoin: {enabled: true, admin_user_id: a, key_env: NOPE}", "key_env"},
		{"secret_env: S\napi_key: k\njoin: {enabled: true, admin_user_id: a, stream_base_url: 'ftp://x'}", "stream_base_url"},
	} {
		_, err := helpline.NewConnector("streamchat", config(tc.conf, map[string]string{"S": "secret"}))
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: %v, want an error naming %s", tc.conf, err, tc.want)
		}
	}
}
