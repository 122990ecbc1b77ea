package streamchat_test

import (
	"bytes"
	"compress/gzip"
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/helplinehq/helpline"
	"github.com/helplinehq/helpline/blobfs"
	"github.com/helplinehq/helpline/chat"
	_ "github.com/helplinehq/helpline/connector/streamchat"
	"github.com/helplinehq/helpline/connector/streamchat/streamchattest"
	"github.com/helplinehq/helpline/inmem"
	"github.com/helplinehq/helpline/sqlite"
)

var ctx = context.Background()

const (
	apiKey = "stream-key"
	secret = "stream-secret"
)

// env is the real engine (SQLite, in-process bus) with the connector's
// handler served as the HTTP server would mount it.
type env struct {
	svc   *chat.Service
	store helpline.Store
	srv   *httptest.Server
	conn  helpline.InboundConnector
}

func newEnv(t *testing.T) *env {
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
	conn, err := helpline.NewConnector("streamchat", config(
		"api_key: "+apiKey+"\nsecret_env: STREAM_SECRET\ninstance_id: inst-1\ncontact_flow_id: flow-1\nagent_roles: [admin]\nagent_user_ids: [support-bot]",
		map[string]string{"STREAM_SECRET": secret}))
	if err != nil {
		t.Fatal(err)
	}
	if err := conn.(helpline.Provisioner).Provision(ctx, helpline.ConnectorNode{Intake: svc}); err != nil {
		t.Fatal(err)
	}
	e := &env{svc: svc, store: db, conn: conn.(helpline.InboundConnector)}
	e.srv = httptest.NewServer(http.StripPrefix("/connectors/stream", e.conn))
	t.Cleanup(func() {
		e.srv.Close()
		cancel()
		<-done
		bus.Close()
		db.Close()
	})
	return e
}

func config(conf string, env map[string]string) helpline.ConnectorConfig {
	return helpline.ConnectorConfig{
		Name: "stream",
		Decode: func(v any) error {
			dec := yaml.NewDecoder(strings.NewReader(conf))
			dec.KnownFields(true)
			return dec.Decode(v)
		},
		Getenv: func(k string) string { return env[k] },
	}
}

func (e *env) url() string { return e.srv.URL + "/connectors/stream/webhook" }

// post sends r and returns the status.
func post(t *testing.T, r *http.Request) int {
	t.Helper()
	resp, err := http.DefaultClient.Do(r)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp.StatusCode
}

// send posts ev signed as Stream does and expects 200.
func (e *env) send(t *testing.T, ev streamchattest.Event) {
	t.Helper()
	if st := post(t, streamchattest.Request(e.url(), ev.JSON(), apiKey, secret, "wh-"+ev.Type, 1)); st != http.StatusOK {
		t.Fatalf("%s: status %d", ev.Type, st)
	}
}

// contact finds the channel's contact the way the connector starts it.
func (e *env) contact(t *testing.T, cid string) *helpline.Contact {
	t.Helper()
	started, err := e.svc.StartChat(ctx, helpline.StartChatInput{InstanceID: "inst-1", ContactFlowID: "flow-1", DisplayName: "x", ClientToken: "stream:" + cid})
	if err != nil {
		t.Fatal(err)
	}
	return started.Contact
}

// messages lists the contact's MESSAGE items as "ROLE name: text".
func (e *env) messages(t *testing.T, contactID string) []string {
	t.Helper()
	items, err := e.store.FindItems(ctx, contactID, helpline.ItemQuery{})
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, it := range items {
		if it.Type == helpline.ItemMessage {
			if it.Origin != "stream" {
				t.Errorf("item %d origin %q, want stream", it.Seq, it.Origin)
			}
			out = append(out, fmt.Sprintf("%s %s: %s", it.Role, it.DisplayName, it.Content))
		}
	}
	return out
}

var (
	ada   = streamchattest.User{ID: "ada", Name: "Ada", Role: "user", Extra: map[string]any{"email": "ada@example.com"}}
	grace = streamchattest.User{ID: "grace", Name: "Grace", Role: "admin"}
	bot   = streamchattest.User{ID: "support-bot", Name: "Helper", Role: "user"}
	t0    = time.Date(2025, 3, 1, 10, 0, 0, 0, time.UTC)
)

func msg(id, text string, u streamchattest.User, i int) streamchattest.Message {
	return streamchattest.Message{ID: id, Text: text, User: u, CreatedAt: t0.Add(time.Duration(i) * time.Second)}
}

func TestConversationBecomesContactWithItemsInOrder(t *testing.T) {
	e := newEnv(t)
	e.send(t, streamchattest.Event{Type: "channel.created", ChannelType: "messaging", ChannelID: "order-42", User: &grace, Members: []streamchattest.User{grace, ada}, CreatedAt: t0})
	e.send(t, streamchattest.MessageNew("messaging", "order-42", msg("m1", "Where is my order?", ada, 1), ada, grace))
	e.send(t, streamchattest.MessageNew("messaging", "order-42", msg("m2", "Let me check.", grace, 2), ada, grace))
	withFile := msg("m3", "It shipped, here is the label.", bot, 3)
	withFile.Attachments = []streamchattest.Attachment{{Type: "file", Title: "label.pdf", AssetURL: "https://cdn.example/label.pdf"}}
	e.send(t, streamchattest.MessageNew("messaging", "order-42", withFile, ada, grace))
	e.send(t, streamchattest.MessageNew("messaging", "order-42", streamchattest.Message{ID: "m4", Type: "system", Text: "Grace joined", User: grace, CreatedAt: t0}))

	c := e.contact(t, "messaging:order-42")
	if c.Attributes["stream_cid"] != "messaging:order-42" || c.Attributes["email"] != "ada@example.com" || c.CustomerID != "ada" {
		t.Errorf("contact attributes %v, customer %q", c.Attributes, c.CustomerID)
	}
	got := e.messages(t, c.ID)
	want := []string{
		"CUSTOMER Ada: Where is my order?",
		"AGENT Grace: Let me check.",
		"AGENT Helper: It shipped, here is the label.\n[attachment] label.pdf https://cdn.example/label.pdf",
	}
	if strings.Join(got, "|") != strings.Join(want, "|") {
		t.Fatalf("messages:\n%q\nwant:\n%q", got, want)
	}
}

func TestRetriedDeliveriesDoNotDuplicate(t *testing.T) {
	e := newEnv(t)
	ev := streamchattest.MessageNew("messaging", "c1", msg("m1", "Hello", ada, 1), ada)
	for attempt := 1; attempt <= 3; attempt++ {
		if st := post(t, streamchattest.Request(e.url(), ev.JSON(), apiKey, secret, "wh-1", attempt)); st != http.StatusOK {
			t.Fatalf("attempt %d: status %d", attempt, st)
		}
	}
	e.send(t, streamchattest.MessageNew("messaging", "c1", msg("m2", "Anyone?", ada, 2), ada))
	got := e.messages(t, e.contact(t, "messaging:c1").ID)
	if len(got) != 2 || got[0] != "CUSTOMER Ada: Hello" || got[1] != "CUSTOMER Ada: Anyone?" {
		t.Fatalf("messages %q", got)
	}
}

func TestGzippedBodyIsVerifiedUncompressed(t *testing.T) {
	e := newEnv(t)
	body := streamchattest.MessageNew("messaging", "gz", msg("m1", "Zipped", ada, 1), ada).JSON()
	var zipped bytes.Buffer
	zw := gzip.NewWriter(&zipped)
	zw.Write(body)
	zw.Close()
	r := streamchattest.Request(e.url(), zipped.Bytes(), apiKey, secret, "wh", 1)
	r.Header.Set("X-Signature", streamchattest.Sign(body, secret))
	if st := post(t, r); st != http.StatusOK {
		t.Fatalf("status %d", st)
	}
	if got := e.messages(t, e.contact(t, "messaging:gz").ID); len(got) != 1 {
		t.Fatalf("messages %q", got)
	}
}

func TestBadRequestsAreRefusedAndChangeNothing(t *testing.T) {
	e := newEnv(t)
	body := streamchattest.MessageNew("messaging", "evil", msg("m1", "Injected", ada, 1), ada).JSON()
	cases := map[string]struct {
		req  func() *http.Request
		want int
	}{
		"unsigned": {func() *http.Request {
			r := streamchattest.Request(e.url(), body, apiKey, secret, "wh", 1)
			r.Header.Del("X-Signature")
			return r
		}, 401},
		"wrong secret": {func() *http.Request { return streamchattest.Request(e.url(), body, apiKey, "guess", "wh", 1) }, 401},
		"tampered body": {func() *http.Request {
			tampered := bytes.Replace(body, []byte("Injected"), []byte("Tampered"), 1)
			r := streamchattest.Request(e.url(), tampered, apiKey, secret, "wh", 1)
			r.Header.Set("X-Signature", streamchattest.Sign(body, secret))
			return r
		}, 401},
		"other app": {func() *http.Request { return streamchattest.Request(e.url(), body, "other-key", secret, "wh", 1) }, 401},
		"not json": {func() *http.Request {
			return streamchattest.Request(e.url(), []byte("hello"), apiKey, secret, "wh", 1)
		}, 400},
		"GET": {func() *http.Request { r, _ := http.NewRequest(http.MethodGet, e.url(), nil); return r }, 405},
		"other path": {func() *http.Request {
			return streamchattest.Request(e.srv.URL+"/connectors/stream/other", body, apiKey, secret, "wh", 1)
		}, 404},
	}
	for name, tc := range cases {
		if st := post(t, tc.req()); st != tc.want {
			t.Errorf("%s: status %d, want %d", name, st, tc.want)
		}
	}
	// Nothing was started: the channel's first contact comes now, empty.
	if got := e.messages(t, e.contact(t, "messaging:evil").ID); len(got) != 0 {
		t.Fatalf("refused requests left messages %q", got)
	}
}

func TestUnknownEventsAreAcknowledged(t *testing.T) {
	e := newEnv(t)
	e.send(t, streamchattest.Event{Type: "reaction.new", ChannelType: "messaging", ChannelID: "x", User: &ada})
	e.send(t, streamchattest.Event{Type: "user.updated", User: &ada})
}

func TestChannelDeletedStopsContact(t *testing.T) {
	e := newEnv(t)
	e.send(t, streamchattest.MessageNew("messaging", "bye", msg("m1", "Thanks!", ada, 1), ada))
	e.send(t, streamchattest.Event{Type: "channel.deleted", ChannelType: "messaging", ChannelID: "bye", User: &grace})
	if c := e.contact(t, "messaging:bye"); !c.Ended() {
		t.Fatalf("contact state %s, want ended", c.State)
	}
	late := streamchattest.MessageNew("messaging", "bye", msg("m2", "One more thing", ada, 2), ada)
	if st := post(t, streamchattest.Request(e.url(), late.JSON(), apiKey, secret, "wh", 1)); st != http.StatusConflict {
		t.Fatalf("message after channel.deleted: status %d, want 409", st)
	}
}

// A source brings chats in and mirrors nothing out: it is no Mirrorer,
// so the node opens no mirror pairs for it.
func TestSourceMirrorsNothing(t *testing.T) {
	e := newEnv(t)
	if _, ok := e.conn.(helpline.Mirrorer); ok {
		t.Fatal("streamchat is a Mirrorer")
	}
}

func TestConfigErrors(t *testing.T) {
	env := map[string]string{"S": "x"}
	for conf, want := range map[string]string{
		"instance_id: i\ncontact_flow_id: f":                           "secret_env is required",
		"secret_env: NONE\ninstance_id: i\ncontact_flow_id: f":         "NONE",
		"secret_env: S\ninstance_id: i\ncontact_flow_id: f\nsecret: x": "secret",
		"secret_env: S\nchannel_attributes: ['']":                      "channel_attributes",
	} {
		_, err := helpline.NewConnector("streamchat", config(conf, env))
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%q: error %v, want one mentioning %q", conf, err, want)
		}
	}
	conn, err := helpline.NewConnector("streamchat", config("secret_env: S\ninstance_id: i\ncontact_flow_id: f", env))
	if err != nil {
		t.Fatal(err)
	}
	if err := conn.(helpline.Provisioner).Provision(ctx, helpline.ConnectorNode{}); err == nil || !strings.Contains(err.Error(), "no chat service") {
		t.Errorf("provisioned without an intake: error %v, want one saying there is no chat service", err)
	}
}

// Provision resolves "default" (also when the keys are left out) to the
// instance Helpline created and its first flow, and refuses, naming the
// key, an instance or flow that does not exist.
func TestProvisionResolvesDefaultsAndRefusesUnknownReferences(t *testing.T) {
	e := newEnv(t)
	env := map[string]string{"S": "x"}
	provision := func(conf string) (helpline.InboundConnector, error) {
		conn, err := helpline.NewConnector("streamchat", config("secret_env: S\n"+conf, env))
		if err != nil {
			t.Fatal(err)
		}
		return conn.(helpline.InboundConnector), conn.(helpline.Provisioner).Provision(ctx, helpline.ConnectorNode{Intake: e.svc, DefaultInstanceID: "inst-1"})
	}
	for _, conf := range []string{"instance_id: default\ncontact_flow_id: default", "", "instance_id: inst-1\ncontact_flow_id: default"} {
		conn, err := provision(conf)
		if err != nil {
			t.Fatalf("%q: %v", conf, err)
		}
		srv := httptest.NewServer(http.StripPrefix("/connectors/stream", conn))
		ev := streamchattest.MessageNew("messaging", "d", msg("m1", "Hi", ada, 1), ada)
		st := post(t, streamchattest.Request(srv.URL+"/connectors/stream/webhook", ev.JSON(), apiKey, "x", "wh", 1))
		srv.Close()
		if st != http.StatusOK {
			t.Fatalf("%q: webhook status %d, want 200", conf, st)
		}
	}
	if c := e.contact(t, "messaging:d"); c.FlowID != "flow-1" {
		t.Errorf("contact in flow %q, want flow-1", c.FlowID)
	}
	for conf, want := range map[string]string{
		"instance_id: nope":                          `instance_id "nope": no such instance`,
		"instance_id: inst-1\ncontact_flow_id: nope": `contact_flow_id "nope"`,
	} {
		if _, err := provision(conf); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%q: error %v, want one saying %s", conf, err, want)
		}
	}
}

// goneInstance is an engine whose instance has disappeared.
type goneInstance struct{ *chat.Service }

func (goneInstance) StartChat(context.Context, helpline.StartChatInput) (*helpline.ChatStarted, error) {
	return nil, helpline.NotFound(helpline.ResourceInstance, "inst-1")
}

// A configuration error no retry can cure is a 4xx that says why, so
// that Stream does not retry it and its dashboard shows the reason.
func TestMissingInstanceIsA404ThatSaysWhy(t *testing.T) {
	e := newEnv(t)
	conn, err := helpline.NewConnector("streamchat", config("secret_env: S\ninstance_id: inst-1\ncontact_flow_id: flow-1", map[string]string{"S": secret}))
	if err != nil {
		t.Fatal(err)
	}
	if err := conn.(helpline.Provisioner).Provision(ctx, helpline.ConnectorNode{Intake: goneInstance{e.svc}}); err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(http.StripPrefix("/connectors/stream", conn.(helpline.InboundConnector)))
	defer srv.Close()
	ev := streamchattest.MessageNew("messaging", "c", msg("m1", "Hi", ada, 1), ada)
	resp, err := http.DefaultClient.Do(streamchattest.Request(srv.URL+"/connectors/stream/webhook", ev.JSON(), apiKey, secret, "wh", 1))
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusNotFound || !strings.Contains(string(body), `instance_id "inst-1"`) {
		t.Fatalf("status %d %q, want 404 naming the configured instance_id", resp.StatusCode, body)
	}
}

// The tutorial's order: the admin creates the channel with no members,
// then adds the customer, who then writes. The contact starts as "Stream
// user" and takes the customer's name and email from member.added; a
// second non-agent user does not take the contact over.
func TestCustomerLearnedAfterTheChannelStarted(t *testing.T) {
	e := newEnv(t)
	e.send(t, streamchattest.Event{Type: "channel.created", ChannelType: "messaging", ChannelID: "t", User: &grace, CreatedAt: t0})
	c := e.contact(t, "messaging:t")
	if c.Attributes["email"] != "" {
		t.Fatalf("contact of an empty channel has email %q", c.Attributes["email"])
	}
	e.send(t, streamchattest.MessageNew("messaging", "t", msg("m0", "Welcome!", grace, 1), grace))
	e.send(t, streamchattest.Event{Type: "member.added", ChannelType: "messaging", ChannelID: "t", User: &grace, Member: &ada, CreatedAt: t0})
	e.send(t, streamchattest.Event{Type: "member.added", ChannelType: "messaging", ChannelID: "t", User: &grace, Member: &ada, CreatedAt: t0}) // Stream's retry
	e.send(t, streamchattest.MessageNew("messaging", "t", msg("m1", "Hi, I am Ada", ada, 2), ada, grace))
	eve := streamchattest.User{ID: "eve", Name: "Eve", Role: "user", Extra: map[string]any{"email": "eve@example.com"}}
	e.send(t, streamchattest.MessageNew("messaging", "t", msg("m2", "Me too", eve, 3), ada, grace, eve))

	c = e.contact(t, "messaging:t")
	if c.Attributes["email"] != "ada@example.com" || c.Attributes["stream_user_id"] != "ada" {
		t.Errorf("attributes %v, want Ada's email and id", c.Attributes)
	}
	want := "AGENT Grace: Welcome!|CUSTOMER Ada: Hi, I am Ada|CUSTOMER Ada: Me too"
	if got := strings.Join(e.messages(t, c.ID), "|"); got != want {
		t.Errorf("messages %q, want %q", got, want)
	}
	items, err := e.store.FindItems(ctx, c.ID, helpline.ItemQuery{})
	if err != nil {
		t.Fatal(err)
	}
	updates := 0
	for _, it := range items {
		if it.ContentType == helpline.EventCustomerUpdated {
			updates++
		}
	}
	if updates != 1 {
		t.Errorf("%d customer.updated items, want 1 (member.added; its retry and later events change nothing)", updates)
	}
}

// channel_attributes copies the channel's custom data into the contact,
// also when it is set later (channel.updated).
func TestChannelCustomFieldsBecomeAttributes(t *testing.T) {
	e := newEnv(t)
	conn, err := helpline.NewConnector("streamchat", config("secret_env: S\ninstance_id: inst-1\ncontact_flow_id: flow-1\nchannel_attributes: [sell_lead_id]", map[string]string{"S": secret}))
	if err != nil {
		t.Fatal(err)
	}
	if err := conn.(helpline.Provisioner).Provision(ctx, helpline.ConnectorNode{Intake: e.svc}); err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(http.StripPrefix("/connectors/stream", conn.(helpline.InboundConnector)))
	defer srv.Close()
	send := func(ev streamchattest.Event) {
		if st := post(t, streamchattest.Request(srv.URL+"/connectors/stream/webhook", ev.JSON(), apiKey, secret, "wh", 1)); st != 200 {
			t.Fatalf("%s: status %d", ev.Type, st)
		}
	}
	send(streamchattest.Event{Type: "channel.created", ChannelType: "messaging", ChannelID: "a", User: &grace, Members: []streamchattest.User{ada}, Channel: map[string]any{"sell_lead_id": 9007199254740993, "color": "red"}})
	if got := e.contact(t, "messaging:a").Attributes; got["sell_lead_id"] != "9007199254740993" || got["color"] != "" {
		t.Errorf("attributes %v, want sell_lead_id with every digit and nothing else of the channel", got)
	}
	send(streamchattest.Event{Type: "channel.created", ChannelType: "messaging", ChannelID: "b", User: &grace})
	send(streamchattest.Event{Type: "channel.updated", ChannelType: "messaging", ChannelID: "b", User: &grace, Channel: map[string]any{"sell_lead_id": "77"}})
	if got := e.contact(t, "messaging:b").Attributes["sell_lead_id"]; got != "77" {
		t.Errorf("after channel.updated sell_lead_id = %q, want 77", got)
	}
}
