package zendesk_test

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/helplinehq/helpline"
	"github.com/helplinehq/helpline/clocktest"
	"github.com/helplinehq/helpline/connector/internal/chatlogtest"
	"github.com/helplinehq/helpline/connector/zendesk"
	"github.com/helplinehq/helpline/connector/zendesk/zendesktest"
)

var update = flag.Bool("update", false, "rewrite testdata/*.golden")

var ctx = context.Background()

// recorder sits between the connector and the fake and keeps every
// request it forwards, for golden files.
type recorder struct {
	mu   sync.Mutex
	reqs []string
}

func (r *recorder) handler(target string) http.Handler {
	u, _ := url.Parse(target)
	proxy := httputil.NewSingleHostReverseProxy(u)
	return http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		body, _ := io.ReadAll(req.Body)
		req.Body = io.NopCloser(bytes.NewReader(body))
		line := req.Method + " " + req.URL.RequestURI()
		if k := req.Header.Get("Idempotency-Key"); k != "" {
			line += "\nIdempotency-Key: " + k
		}
		if ct := req.Header.Get("Content-Type"); len(body) > 0 && ct != "application/json" {
			line += fmt.Sprintf("\nContent-Type: %s\n<%d bytes>", ct, len(body))
		} else if len(body) > 0 {
			line += "\n" + string(body)
		}
		r.mu.Lock()
		r.reqs = append(r.reqs, strings.TrimSpace(line))
		r.mu.Unlock()
		proxy.ServeHTTP(w, req)
	})
}

func (r *recorder) String() string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return strings.Join(r.reqs, "\n\n") + "\n"
}

func assertGolden(t *testing.T, name, got string) {
	t.Helper()
	path := filepath.Join("testdata", name+".golden")
	if *update {
		if err := os.MkdirAll("testdata", 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run with -update to create it)", err)
	}
	if got != string(want) {
		t.Errorf("%s differs from the golden file:\n--- got\n%s\n--- want\n%s", path, got, want)
	}
}

// fixture is a fake Zendesk and a connector pointed at it through a
// recorder.
type fixture struct {
	fake  *zendesktest.Server
	conn  *zendesk.Connector
	clock *clocktest.Clock
	rec   *recorder
	// cfg built conn and node provisioned it; building it again is a
	// restart of the connector.
	cfg  helpline.ConnectorConfig
	node helpline.ConnectorNode
}

func newFixture(t *testing.T, opts zendesktest.Options, set zendesk.Settings, node helpline.ConnectorNode) *fixture {
	t.Helper()
	return newFixtureClock(t, clocktest.New(time.Date(2025, 3, 1, 10, 42, 0, 0, time.UTC)), opts, set, node)
}

func newFixtureClock(t *testing.T, c *clocktest.Clock, opts zendesktest.Options, set zendesk.Settings, node helpline.ConnectorNode) *fixture {
	t.Helper()
	f := &fixture{clock: c, rec: &recorder{}}
	if opts.Now == nil {
		opts.Now = f.clock.Now
	}
	f.fake = zendesktest.NewServer(opts)
	t.Cleanup(f.fake.Close)
	front := httptest.NewServer(f.rec.handler(f.fake.URL))
	t.Cleanup(front.Close)
	if set.BaseURL == "" {
		set.BaseURL = front.URL
	}
	if set.Email == "" {
		set.Email = "bot@example.com"
	}
	if set.TokenEnv == "" {
		set.TokenEnv = "ZENDESK_TOKEN"
	}
	if set.RequestsPerMinute == 0 {
		set.RequestsPerMinute = 60000 // the fake's clock is not the limiter's
	}
	if set.UpdatesPerMinute == 0 {
		set.UpdatesPerMinute = 60000
	}
	if set.TimeoutSeconds == 0 {
		set.TimeoutSeconds = 2
	}
	f.cfg = helpline.ConnectorConfig{
		Name:   "zendesk",
		Decode: func(v any) error { *v.(*zendesk.Settings) = set; return nil },
		Getenv: func(k string) string {
			return map[string]string{"ZENDESK_TOKEN": "zd-token", "ZENDESK_WEBHOOK_SECRET": "whsec"}[k]
		},
	}
	if node.Now == nil {
		node.Now = f.clock.Now
	}
	f.node = node
	f.conn = f.build(t)
	return f
}

// build builds a new connector from the fixture's configuration and
// provisions it, as a node does.
func (f *fixture) build(t *testing.T) *zendesk.Connector {
	t.Helper()
	conn, err := helpline.NewConnector("zendesk", f.cfg)
	if err != nil {
		t.Fatal(err)
	}
	if err := conn.(helpline.Provisioner).Provision(context.Background(), f.node); err != nil {
		t.Fatal(err)
	}
	return conn.(*zendesk.Connector)
}

// chatLog builds hand-made batches of one contact.
type chatLog = chatlogtest.Log

func newChatLog(contactID string) *chatLog { return chatlogtest.New(contactID) }

func mirror(t *testing.T, c *zendesk.Connector, b *helpline.MirrorBatch) helpline.MirrorResult {
	t.Helper()
	res, err := c.Mirror(ctx, b)
	if err != nil {
		t.Fatalf("Mirror: %v", err)
	}
	return res
}

func commentBodies(tk zendesktest.Ticket) []string {
	var out []string
	for _, c := range tk.Comments {
		kind := "public"
		if !c.Public {
			kind = "note"
		}
		out = append(out, kind+": "+c.Body)
	}
	return out
}

func TestMirrorCreatesTicketAndComments(t *testing.T) {
	f := newFixture(t, zendesktest.Options{}, zendesk.Settings{TicketTags: []string{"chat"}, GroupID: 77}, helpline.ConnectorNode{})
	l := newChatLog("contact-1")
	l.Add("p-cust", helpline.ItemEvent, helpline.EventParticipantJoined, "")
	l.Say("p-cust", "Where is my order?")
	l.Say("p-bot", "Let me check order 1234.")
	l.Say("p-cust", "Thanks")
	l.Add("p-cust", helpline.ItemMetadata, "", "") // a receipt: not mirrored
	res := mirror(t, f.conn, l.Batch(0, nil, 0))
	if res.Delivered != 5 || res.Refs["ticket_id"] == "" || res.Refs["requester_id"] == "" {
		t.Fatalf("result = %+v", res)
	}

	l.Say("p-agent", "It ships today.")
	l.Add("p-agent", helpline.ItemAttachment, "", "").Attachments = []helpline.AttachmentRef{{ID: "a1", Name: "label.pdf"}}
	l.Say("p-cust", "Great")
	l.Add("p-cust", helpline.ItemEvent, helpline.EventChatEnded, "")
	f.clock.Advance(res.Wait)
	res2 := mirror(t, f.conn, l.Batch(5, res.Refs, 0))
	if res2.Delivered != 4 || res2.Refs["ticket_id"] != res.Refs["ticket_id"] {
		t.Fatalf("second result = %+v", res2)
	}

	tickets := f.fake.Tickets()
	if len(tickets) != 1 {
		t.Fatalf("%d tickets, want 1", len(tickets))
	}
	tk := tickets[0]
	if tk.ExternalID != "contact-1" || tk.Status != "solved" || tk.Subject != "Chat with Ada" || fmt.Sprint(tk.Tags) != "[chat]" || tk.GroupID == nil || *tk.GroupID != 77 {
		t.Errorf("ticket = %+v", tk)
	}
	var requester zendesktest.User
	for _, u := range f.fake.Users() {
		if fmt.Sprint(u.ID) == res.Refs["requester_id"] {
			requester = u
		}
	}
	if requester.Email != "ada@example.com" || requester.Name != "Ada" || tk.RequesterID != requester.ID {
		t.Errorf("requester = %+v, ticket requester %d", requester, tk.RequesterID)
	}
	want := []string{
		"note: Chat contact-1 with Ada started at 2025-03-01 10:42:00 UTC.\n\n[10:42:07] Ada (customer) joined the chat\n[10:42:21] Shopbot (bot): Let me check order 1234.\n\n(Helpline chat contact-1, items 1-3)",
		"public: [10:42:14] Ada (customer): Where is my order?\n[10:42:28] Ada (customer): Thanks\n\n(Helpline chat contact-1, items 2-4)",
		"public: [10:42:42] Grace (agent): It ships today.\n[10:42:49] Grace (agent) sent label.pdf\n[10:42:56] Ada (customer): Great\n\n(Helpline chat contact-1, items 6-8)",
		"note: [10:43:03] The chat ended\n\n(Helpline chat contact-1, items 9-9)",
	}
	if got := commentBodies(tk); strings.Join(got, "\n|\n") != strings.Join(want, "\n|\n") {
		t.Errorf("comments:\n%s\nwant:\n%s", strings.Join(got, "\n|\n"), strings.Join(want, "\n|\n"))
	}
	// A customer-only public comment is the requester's; a mixed one the
	// integration user's.
	if tk.Comments[1].AuthorID != requester.ID || tk.Comments[2].AuthorID != f.fake.AgentID {
		t.Errorf("authors %d, %d; want requester %d then integration user %d", tk.Comments[1].AuthorID, tk.Comments[2].AuthorID, requester.ID, f.fake.AgentID)
	}
	assertGolden(t, "mirror_requests", f.rec.String())
}

func TestMirrorRetryCreatesOneTicketAndNoDuplicateComments(t *testing.T) {
	f := newFixture(t, zendesktest.Options{}, zendesk.Settings{}, helpline.ConnectorNode{})
	l := newChatLog("contact-2")
	l.Say("p-cust", "Hello")
	l.Say("p-bot", "Hi, how can I help?")

	// The first try landed but its outcome was lost; the retry carries
	// one more item and no refs.
	// Without refs the ticket's update budget is not known either: it
	// starts empty, so the new line waits for a refill.
	mirror(t, f.conn, l.Batch(0, nil, 0))
	l.Say("p-cust", "My parcel is late")
	res := mirror(t, f.conn, l.Batch(0, nil, 1))
	if res.Delivered != 2 || res.Wait < 20*time.Second {
		t.Fatalf("retry = %+v, want the 2 items that landed delivered and a wait", res)
	}
	f.clock.Advance(res.Wait)
	cursor := int64(res.Delivered)
	for cursor < 3 {
		res = mirror(t, f.conn, l.Batch(cursor, res.Refs, 1))
		cursor += int64(res.Delivered)
		f.clock.Advance(max(res.Wait, time.Second))
	}
	// A plain repeat of the first create (Attempt 0, no refs) is an
	// Idempotency-Key hit, which adds nothing: the ticket's first comment
	// came with it.
	l2 := newChatLog("contact-2")
	l2.Say("p-cust", "Hello")
	mirror(t, f.conn, l2.Batch(0, nil, 0))
	// One whose first comment differs (it holds the later line too) is
	// refused by Zendesk and retried, and its retry (Attempt 1) finds the
	// ticket and everything in it.
	_, err := f.conn.Mirror(ctx, l.Batch(0, nil, 0))
	assertMirrorError(t, err, false, 5*time.Second)
	mirror(t, f.conn, l.Batch(0, nil, 1))

	tickets := f.fake.Tickets()
	if len(tickets) != 1 || f.fake.Stats().TicketCreates != 1 {
		t.Fatalf("%d tickets, %d creates; want 1 and 1", len(tickets), f.fake.Stats().TicketCreates)
	}
	all := strings.Join(commentBodies(tickets[0]), "\n")
	for _, line := range []string{"Ada (customer): Hello", "Shopbot (bot): Hi, how can I help?", "Ada (customer): My parcel is late"} {
		if n := strings.Count(all, line); n != 1 {
			t.Errorf("%q appears %d times, want once:\n%s", line, n, all)
		}
	}
}

// A customer typing a line a second for two minutes: the connector
// spends its per-ticket budget and then asks to wait, so the lines that
// arrive meanwhile share one comment; the fake never refuses an update.
func TestMirrorPacesTicketUpdates(t *testing.T) {
	f := newFixture(t, zendesktest.Options{}, zendesk.Settings{}, helpline.ConnectorNode{})
	l := newChatLog("contact-3")
	var refs map[string]string
	var cursor int64
	var notBefore time.Time
	deliver := func() {
		if f.clock.Now().Before(notBefore) || cursor == int64(len(l.Items)) {
			return
		}
		res := mirror(t, f.conn, l.Batch(cursor, refs, 0))
		refs = res.Refs
		cursor += int64(res.Delivered)
		notBefore = f.clock.Now().Add(res.Wait)
	}
	const lines = 120
	for i := 0; i < lines; i++ {
		l.Say("p-cust", fmt.Sprintf("line %d", i))
		deliver()
		f.clock.Advance(time.Second)
	}
	for cursor < int64(len(l.Items)) {
		f.clock.Advance(time.Second)
		deliver()
	}
	st := f.fake.Stats()
	if st.TooMany != 0 {
		t.Errorf("the fake answered %d 429s; the pacer should keep under the per-ticket limit", st.TooMany)
	}
	// 5 at once, then one per 24 s over about two minutes.
	if st.TicketUpdates > 12 {
		t.Errorf("%d updates for %d lines a second apart; want them batched", st.TicketUpdates, lines)
	}
	all := strings.Join(commentBodies(f.fake.Tickets()[0]), "\n")
	last := -1
	for i := 0; i < lines; i++ {
		at := strings.Index(all, fmt.Sprintf("): line %d\n", i))
		if at < 0 || at < last || strings.Count(all, fmt.Sprintf("): line %d\n", i)) != 1 {
			t.Fatalf("line %d missing, doubled or out of order in\n%s", i, all)
		}
		last = at
	}
}

// When the account's update budget is spent for a while, a delivery does
// not wait holding the lines it has: it goes away with its place kept and,
// when it comes back, one update carries what arrived meanwhile too.
func TestMirrorKeepsPlaceForAccountBudget(t *testing.T) {
	// 20 updates a minute: a burst of one, then one every 3.3 s.
	f := newFixture(t, zendesktest.Options{}, zendesk.Settings{UpdatesPerMinute: 20}, helpline.ConnectorNode{})
	a, b := newChatLog("contact-ka"), newChatLog("contact-kb")
	a.Say("p-cust", "Hello")
	b.Say("p-cust", "Hello")
	resA := mirror(t, f.conn, a.Batch(0, nil, 0)) // creations spend no update
	resB := mirror(t, f.conn, b.Batch(0, nil, 0))

	a.Say("p-cust", "a one")
	if res := mirror(t, f.conn, a.Batch(1, resA.Refs, 0)); res.Delivered != 1 {
		t.Fatalf("first update: %+v, want it sent at once", res)
	}
	b.Say("p-cust", "b one")
	res := mirror(t, f.conn, b.Batch(1, resB.Refs, 0))
	if res.Delivered != 0 || res.Wait <= 0 {
		t.Fatalf("second update: %+v, want nothing sent and a wait for the budget", res)
	}
	if n := f.fake.Stats().TicketUpdates; n != 1 {
		t.Fatalf("%d updates, want 1", n)
	}
	b.Say("p-cust", "b two")
	f.clock.Advance(res.Wait)
	if res := mirror(t, f.conn, b.Batch(1, resB.Refs, 0)); res.Delivered != 2 {
		t.Fatalf("back after the wait: %+v, want both lines sent", res)
	}
	tk := f.fake.Tickets()[1]
	last := tk.Comments[len(tk.Comments)-1].Body
	if n := f.fake.Stats().TicketUpdates; n != 2 || !strings.Contains(last, "b one") || !strings.Contains(last, "b two") {
		t.Fatalf("%d updates, last comment %q; want 2, the last with both lines", n, last)
	}
}

func TestMirrorErrorClasses(t *testing.T) {
	l := newChatLog("contact-4")
	l.Say("p-cust", "Hello")

	t.Run("503 retryable", func(t *testing.T) {
		f := newFixture(t, zendesktest.Options{}, zendesk.Settings{}, helpline.ConnectorNode{})
		f.fake.SetOutage(true)
		_, err := f.conn.Mirror(ctx, l.Batch(0, nil, 0))
		assertMirrorError(t, err, false, 0)
	})
	t.Run("timeout retryable", func(t *testing.T) {
		f := newFixture(t, zendesktest.Options{}, zendesk.Settings{TimeoutSeconds: 1}, helpline.ConnectorNode{})
		f.fake.SetDelay(1500 * time.Millisecond)
		_, err := f.conn.Mirror(ctx, l.Batch(0, nil, 0))
		assertMirrorError(t, err, false, 0)
	})
	t.Run("401 permanent", func(t *testing.T) {
		f := newFixture(t, zendesktest.Options{Token: "other"}, zendesk.Settings{}, helpline.ConnectorNode{})
		_, err := f.conn.Mirror(ctx, l.Batch(0, nil, 0))
		assertMirrorError(t, err, true, 0)
	})
	t.Run("429 carries Retry-After", func(t *testing.T) {
		f := newFixture(t, zendesktest.Options{TicketUpdatesPer10Min: 1}, zendesk.Settings{}, helpline.ConnectorNode{})
		// The creation carries the first line and spends no update;
		// the second line spends the ticket's one, the third is refused.
		res := mirror(t, f.conn, l.Batch(0, nil, 0))
		l2 := newChatLog("contact-4")
		l2.Say("p-cust", "Hello")
		l2.Say("p-cust", "Anyone?")
		l2.Say("p-cust", "Hello?")
		mirror(t, f.conn, l2.Batch(1, res.Refs, 0))
		_, err := f.conn.Mirror(ctx, l2.Batch(2, res.Refs, 0))
		assertMirrorError(t, err, false, 10*time.Minute)
	})
	// answering is a Zendesk that answers every request with status and
	// the headers kv.
	answering := func(t *testing.T, status int, kv ...string) *fixture {
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			for i := 0; i < len(kv); i += 2 {
				w.Header().Set(kv[i], kv[i+1])
			}
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(status)
			io.WriteString(w, `{"error":"Whatever","description":"as answered"}`)
		}))
		t.Cleanup(srv.Close)
		return newFixture(t, zendesktest.Options{}, zendesk.Settings{BaseURL: srv.URL}, helpline.ConnectorNode{})
	}
	t.Run("408 retryable", func(t *testing.T) {
		f := answering(t, http.StatusRequestTimeout)
		_, err := f.conn.Mirror(ctx, l.Batch(0, nil, 0))
		assertMirrorError(t, err, false, 0)
	})
	t.Run("409 update collision retryable", func(t *testing.T) {
		f := answering(t, http.StatusConflict, "Retry-After", "5")
		_, err := f.conn.Mirror(ctx, l.Batch(0, nil, 0))
		assertMirrorError(t, err, false, 5*time.Second)
	})
	t.Run("Retry-After as an HTTP date", func(t *testing.T) {
		f := answering(t, http.StatusServiceUnavailable, "Retry-After", time.Date(2025, 3, 1, 10, 44, 0, 0, time.UTC).Format(http.TimeFormat))
		_, err := f.conn.Mirror(ctx, l.Batch(0, nil, 0))
		assertMirrorError(t, err, false, 2*time.Minute)
	})
	t.Run("redirect permanent, not followed", func(t *testing.T) {
		f := answering(t, http.StatusMovedPermanently, "Location", "https://acme.zendesk.com/api/v2/users/create_or_update")
		_, err := f.conn.Mirror(ctx, l.Batch(0, nil, 0))
		assertMirrorError(t, err, true, 0)
		if !strings.Contains(err.Error(), `redirected to "https://acme.zendesk.com/api/v2/users/create_or_update"`) {
			t.Errorf("reason %q does not name the redirect's target", err)
		}
	})
	t.Run("422 comment cap permanent", func(t *testing.T) {
		f := newFixture(t, zendesktest.Options{MaxComments: 1}, zendesk.Settings{}, helpline.ConnectorNode{})
		l2 := newChatLog("contact-5")
		l2.Say("p-cust", "Hello")
		l2.Say("p-bot", "Hi, how can I help?") // a second comment, the note
		_, err := f.conn.Mirror(ctx, l2.Batch(0, nil, 0))
		assertMirrorError(t, err, true, 0)
		if !strings.Contains(err.Error(), "maximum of 1 comments") {
			t.Errorf("reason %q does not carry Zendesk's answer", err)
		}
	})
}

func assertMirrorError(t *testing.T, err error, permanent bool, retryAfter time.Duration) {
	t.Helper()
	var me *helpline.MirrorError
	if !errors.As(err, &me) {
		t.Fatalf("err = %v, want a *MirrorError", err)
	}
	if me.Permanent != permanent || me.RetryAfter != retryAfter {
		t.Errorf("err = %v (permanent %v, retry after %v); want permanent %v, retry after %v", err, me.Permanent, me.RetryAfter, permanent, retryAfter)
	}
}

func TestNewValidatesSettings(t *testing.T) {
	for _, tc := range []struct {
		name string
		set  zendesk.Settings
		want string
	}{
		{"no address", zendesk.Settings{Email: "a@b.c", TokenEnv: "ZENDESK_TOKEN"}, "subdomain or base_url"},
		{"no email", zendesk.Settings{Subdomain: "acme", TokenEnv: "ZENDESK_TOKEN"}, "email"},
		{"empty token", zendesk.Settings{Subdomain: "acme", Email: "a@b.c", TokenEnv: "UNSET"}, "UNSET"},
		{"bad status", zendesk.Settings{Subdomain: "acme", Email: "a@b.c", TokenEnv: "ZENDESK_TOKEN", StatusOnEnd: "gone"}, "status_on_end"},
		{"upload limit over Zendesk's", zendesk.Settings{Subdomain: "acme", Email: "a@b.c", TokenEnv: "ZENDESK_TOKEN", MaxUploadMB: 51}, "max_upload_mb"},
	} {
		_, err := helpline.NewConnector("zendesk", helpline.ConnectorConfig{
			Name:   "zd",
			Decode: func(v any) error { *v.(*zendesk.Settings) = tc.set; return nil },
			Getenv: func(k string) string { return map[string]string{"ZENDESK_TOKEN": "x"}[k] },
		})
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: err = %v, want one mentioning %q", tc.name, err, tc.want)
		}
	}
}

// A connector that takes signed webhooks is not provisioned without the
// replay guard that refuses replayed ones, nor without the engine its
// replies go to.
func TestProvisionNeedsReplayGuardForWebhooks(t *testing.T) {
	conn, err := helpline.NewConnector("zendesk", helpline.ConnectorConfig{
		Name: "zd",
		Decode: func(v any) error {
			*v.(*zendesk.Settings) = zendesk.Settings{Subdomain: "acme", Email: "a@b.c", TokenEnv: "ZENDESK_TOKEN", WebhookSecretEnv: "ZENDESK_WEBHOOK_SECRET"}
			return nil
		},
		Getenv: func(k string) string { return "x" },
	})
	if err != nil {
		t.Fatal(err)
	}
	p := conn.(helpline.Provisioner)
	if err := p.Provision(ctx, helpline.ConnectorNode{Intake: struct{ helpline.Intake }{}}); err == nil || !strings.Contains(err.Error(), "replay guard") {
		t.Errorf("provisioned without a replay guard: err = %v", err)
	}
	if err := p.Provision(ctx, helpline.ConnectorNode{Replay: struct{ helpline.ReplayGuard }{}}); err == nil || !strings.Contains(err.Error(), "intake") {
		t.Errorf("provisioned without an intake: err = %v", err)
	}
}

// A footer in a comment Helpline did not write (the customer answering
// the ticket's notification by email or on the web) is not Helpline's:
// a retry must still send the lines it claims.
func TestMirrorRetryIgnoresFootersOfOtherComments(t *testing.T) {
	f := newFixture(t, zendesktest.Options{}, zendesk.Settings{}, helpline.ConnectorNode{})
	l := newChatLog("contact-9")
	l.Say("p-cust", "Hello")
	res := mirror(t, f.conn, l.Batch(0, nil, 0))
	ticketID, _ := strconv.ParseInt(res.Refs["ticket_id"], 10, 64)
	requesterID, _ := strconv.ParseInt(res.Refs["requester_id"], 10, 64)
	if _, _, err := f.fake.AgentReply(ticketID, requesterID, "thanks\n\n(Helpline chat contact-9, items 2-99999)"); err != nil {
		t.Fatal(err)
	}
	// The next update fails before landing; its retry must send it.
	l.Say("p-cust", "Where is my parcel?")
	f.fake.SetOutage(true)
	if _, err := f.conn.Mirror(ctx, l.Batch(1, res.Refs, 0)); err == nil {
		t.Fatal("Mirror succeeded through an outage")
	}
	f.fake.SetOutage(false)
	mirror(t, f.conn, l.Batch(1, res.Refs, 1))
	tickets := f.fake.Tickets()
	all := strings.Join(commentBodies(tickets[0]), "\n")
	if n := strings.Count(all, "Ada (customer): Where is my parcel?"); n != 1 {
		t.Fatalf("the retried line appears %d times, want once:\n%s", n, all)
	}
}

// A customer whose name and email become known after the ticket was made
// (a customer.updated event) becomes the ticket's requester, and the
// subject names them; the lines already written stay.
func TestMirrorFollowsCustomerLearnedLate(t *testing.T) {
	f := newFixture(t, zendesktest.Options{}, zendesk.Settings{}, helpline.ConnectorNode{})
	l := newChatLog("contact-late")
	l.Contact.Attributes = map[string]string{}
	l.Parts[0].DisplayName = "Stream user"
	l.Say("p-cust", "Hello?")
	res := mirror(t, f.conn, l.Batch(0, nil, 0))
	users := len(f.fake.Users())

	l.Parts[0].DisplayName = "Ada Lovelace"
	l.Contact.Attributes["email"] = "ada@example.com"
	l.Add("p-cust", helpline.ItemEvent, helpline.EventCustomerUpdated, "")
	l.Say("p-cust", "It is order 1234.")
	res2 := mirror(t, f.conn, l.Batch(1, res.Refs, 0))
	// The same batch again, as after an uncertain outcome, changes nothing more.
	mirror(t, f.conn, l.Batch(1, res.Refs, 1))

	tickets := f.fake.Tickets()
	if len(tickets) != 1 {
		t.Fatalf("%d tickets, want 1", len(tickets))
	}
	tk := tickets[0]
	var requester zendesktest.User
	for _, u := range f.fake.Users() {
		if u.ID == tk.RequesterID {
			requester = u
		}
	}
	if requester.Email != "ada@example.com" || requester.Name != "Ada Lovelace" || tk.Subject != "Chat with Ada Lovelace" ||
		res2.Refs["requester_id"] != fmt.Sprint(requester.ID) {
		t.Errorf("ticket %q requester %+v, refs %v; want Ada Lovelace <ada@example.com>", tk.Subject, requester, res2.Refs)
	}
	if got := tk.PublicChatLines(); strings.Join(got, "|") != "Hello?|It is order 1234." {
		t.Errorf("lines %q", got)
	}
	if n := len(f.fake.Users()); n != users {
		t.Errorf("%d users after the update, %d before: the requester was not updated in place", n, users)
	}
}

// A slot kept for the public lines is spent on them when a note came
// meanwhile: the note goes with a slot of its own, and the lines after it
// wait for it, in order, without a failed try.
func TestMirrorSlotForFewerUpdates(t *testing.T) {
	// 20 updates a minute: a burst of one, then one every 3.2 s.
	f := newFixture(t, zendesktest.Options{}, zendesk.Settings{UpdatesPerMinute: 20}, helpline.ConnectorNode{})
	a, b := newChatLog("contact-sa"), newChatLog("contact-sb")
	a.Say("p-cust", "Hello")
	b.Say("p-cust", "Hello")
	resA := mirror(t, f.conn, a.Batch(0, nil, 0))
	resB := mirror(t, f.conn, b.Batch(0, nil, 0))
	a.Say("p-cust", "a one")
	mirror(t, f.conn, a.Batch(1, resA.Refs, 0)) // spends the burst
	b.Say("p-cust", "b one")
	res := mirror(t, f.conn, b.Batch(1, resB.Refs, 0))
	if res.Delivered != 0 || res.Wait <= 0 {
		t.Fatalf("b's first update: %+v, want a wait for its slot", res)
	}
	b.Say("p-bot", "b note")
	b.Say("p-cust", "b two")
	f.clock.Advance(res.Wait)
	res, err := f.conn.Mirror(ctx, b.Batch(1, resB.Refs, 0))
	if err != nil || res.Delivered != 1 || res.Wait <= 0 {
		t.Fatalf("back for the slot: %+v, %v; want the public lines before the note sent, and a wait", res, err)
	}
	cursor := int64(2)
	for i := 0; cursor < 4 && i < 20; i++ {
		f.clock.Advance(res.Wait)
		time.Sleep(res.Wait) // the account limiter reads the real clock
		res = mirror(t, f.conn, b.Batch(cursor, res.Refs, 0))
		cursor += int64(res.Delivered)
	}
	tk := f.fake.Tickets()[1]
	got := strings.Join(commentBodies(tk), "\n|\n")
	for _, want := range []string{"public: [10:42:14] Ada (customer): b one\n[10:42:28] Ada (customer): b two", "note: [10:42:21] Shopbot (bot): b note"} {
		if strings.Count(got, want) != 1 {
			t.Errorf("comments:\n%s\nwant one %q", got, want)
		}
	}
	if st := f.fake.Stats(); st.TooMany != 0 {
		t.Errorf("%d 429s", st.TooMany)
	}
}
