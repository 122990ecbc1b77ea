package kustomer_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/helplinehq/helpline"
	"github.com/helplinehq/helpline/clocktest"
	"github.com/helplinehq/helpline/connector/internal/chatlogtest"
	"github.com/helplinehq/helpline/connector/kustomer"
	"github.com/helplinehq/helpline/connector/kustomer/kustomertest"
)

var ctx = context.Background()

var start = time.Date(2025, 3, 1, 10, 42, 0, 0, time.UTC)

// fixture is a fake Kustomer and a connector pointed at it.
type fixture struct {
	fake  *kustomertest.Server
	conn  *kustomer.Connector
	clock *clocktest.Clock
	cfg   helpline.ConnectorConfig
	node  helpline.ConnectorNode
}

func newFixture(t *testing.T, opts kustomertest.Options, set kustomer.Settings, node helpline.ConnectorNode) *fixture {
	t.Helper()
	return newFixtureClock(t, clocktest.New(start), opts, set, node)
}

func newFixtureClock(t *testing.T, c *clocktest.Clock, opts kustomertest.Options, set kustomer.Settings, node helpline.ConnectorNode) *fixture {
	t.Helper()
	f := &fixture{clock: c}
	if opts.Now == nil {
		opts.Now = f.clock.Now
	}
	f.fake = kustomertest.NewServer(opts)
	t.Cleanup(f.fake.Close)
	if set.BaseURL == "" {
		set.BaseURL = f.fake.URL
	}
	if set.APIKeyEnv == "" {
		set.APIKeyEnv = "KUSTOMER_API_KEY"
	}
	if set.RequestsPerMinute == 0 {
		set.RequestsPerMinute = 60000 // the fake's clock is not the limiter's
	}
	if set.TimeoutSeconds == 0 {
		set.TimeoutSeconds = 2
	}
	f.cfg = helpline.ConnectorConfig{
		Name:   "kustomer",
		Decode: func(v any) error { *v.(*kustomer.Settings) = set; return nil },
		Getenv: func(k string) string {
			return map[string]string{"KUSTOMER_API_KEY": "kus-key", "KUSTOMER_WEBHOOK_SECRET": "whsec"}[k]
		},
	}
	if node.Now == nil {
		node.Now = f.clock.Now
	}
	f.node = node
	f.conn = f.build(t)
	return f
}

// build builds and provisions a new connector, as a (re)starting node
// does.
func (f *fixture) build(t *testing.T) *kustomer.Connector {
	t.Helper()
	conn, err := helpline.NewConnector("kustomer", f.cfg)
	if err != nil {
		t.Fatal(err)
	}
	if err := conn.(helpline.Provisioner).Provision(ctx, f.node); err != nil {
		t.Fatal(err)
	}
	return conn.(*kustomer.Connector)
}

// chatLog builds hand-made batches of one contact.
type chatLog = chatlogtest.Log

func newChatLog(contactID string) *chatLog { return chatlogtest.New(contactID) }

func mirror(t *testing.T, c *kustomer.Connector, b *helpline.MirrorBatch) helpline.MirrorResult {
	t.Helper()
	res, err := c.Mirror(ctx, b)
	if err != nil {
		t.Fatalf("Mirror: %v", err)
	}
	return res
}

// timeline renders a conversation's messages as "dir externalId: body".
func timeline(cv kustomertest.Conversation) []string {
	var out []string
	for _, m := range cv.Messages {
		out = append(out, fmt.Sprintf("%s %s: %s", m.Direction, m.ExternalID, m.Body()))
	}
	return out
}

// only returns the one conversation mirroring contactID.
func only(t *testing.T, fake *kustomertest.Server, contactID string) kustomertest.Conversation {
	t.Helper()
	cvs := fake.ConversationsByExternalID(contactID)
	if len(cvs) != 1 {
		t.Fatalf("%d conversations with externalId %s, want exactly one", len(cvs), contactID)
	}
	return cvs[0]
}

func TestMirrorCreatesConversationAndTimeline(t *testing.T) {
	f := newFixture(t, kustomertest.Options{}, kustomer.Settings{AttachmentLink: "https://files.acme.com/helpline/{id}"}, helpline.ConnectorNode{})
	l := newChatLog("contact-1")
	l.Add("p-cust", helpline.ItemEvent, helpline.EventParticipantJoined, "")
	l.Say("p-cust", "Where is my order?")
	l.Say("p-bot", "Let me check.")
	l.Add("p-agent", helpline.ItemEvent, helpline.EventParticipantJoined, "")
	l.Say("p-agent", "It ships today.")
	res := mirror(t, f.conn, l.Batch(0, nil, 0))
	if res.Delivered != 5 || res.Refs[kustomer.RefConversationID] == "" || res.Refs[kustomer.RefCustomerID] == "" || res.Refs[kustomer.RefInstanceID] != "inst-1" {
		t.Fatalf("result %+v", res)
	}
	att := l.Add("p-cust", helpline.ItemAttachment, "", "")
	att.Attachments = []helpline.AttachmentRef{{ID: "att-1", Name: "box.png", ContentType: "image/png", Status: helpline.AttachmentApproved}}
	l.Add("p-cust", helpline.ItemEvent, helpline.EventChatEnded, "")
	res = mirror(t, f.conn, l.Batch(5, res.Refs, 0))
	if res.Delivered != 2 {
		t.Fatalf("second batch delivered %d", res.Delivered)
	}

	cust := f.fake.Customers()
	if len(cust) != 1 || cust[0].ExternalID != "helpline:contact-1" || cust[0].Name != "Ada" || len(cust[0].Emails) != 1 || cust[0].Emails[0] != "ada@example.com" {
		t.Errorf("customers = %+v", cust)
	}
	cv := only(t, f.fake, "contact-1")
	if cv.CustomerID != cust[0].ID || cv.Status != "done" || cv.Name != "Chat with Ada" {
		t.Errorf("conversation = %+v", cv)
	}
	want := []string{
		"in helpline:contact-1:2-2: Where is my order?",
		"out helpline:contact-1:3-3: Let me check.",
		"out helpline:contact-1:5-5: It ships today.",
		"in helpline:contact-1:6-6: Sent box.png (https://files.acme.com/helpline/att-1)",
	}
	if got := timeline(cv); strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("timeline\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	for i, m := range cv.Messages {
		if m.Channel != "chat" || m.App != "helpline" || !m.SentAt.Equal(l.Items[[]int{1, 2, 4, 5}[i]].Time) {
			t.Errorf("message %d = %+v", i, m)
		}
	}
	var notes []string
	for _, n := range cv.Notes {
		notes = append(notes, n.Body)
	}
	wantNotes := []string{
		"[10:42:07] Ada (customer) joined the chat\n\n(Helpline chat contact-1, items 1-1)",
		"[10:42:28] Grace (agent) joined the chat\n\n(Helpline chat contact-1, items 4-4)",
		"[10:42:49] The chat ended\n\n(Helpline chat contact-1, items 7-7)",
	}
	if strings.Join(notes, "|") != strings.Join(wantNotes, "|") {
		t.Errorf("notes\n%q\nwant\n%q", notes, wantNotes)
	}
}

func TestMirrorFindsCustomerByExternalIDThenEmail(t *testing.T) {
	f := newFixture(t, kustomertest.Options{}, kustomer.Settings{}, helpline.ConnectorNode{})
	byEmail := f.fake.AddCustomer("Ada L.", "ada@example.com", "")
	byExt := f.fake.AddCustomer("Ada Known", "other@example.com", "cust-42")

	l := newChatLog("contact-e")
	l.Say("p-cust", "Hi")
	res := mirror(t, f.conn, l.Batch(0, nil, 0))
	if res.Refs[kustomer.RefCustomerID] != byEmail {
		t.Errorf("customer %s, want %s found by email", res.Refs[kustomer.RefCustomerID], byEmail)
	}
	l2 := newChatLog("contact-x")
	l2.Contact.CustomerID = "cust-42"
	l2.Say("p-cust", "Hi again")
	res = mirror(t, f.conn, l2.Batch(0, nil, 0))
	if res.Refs[kustomer.RefCustomerID] != byExt {
		t.Errorf("customer %s, want %s found by external id before email", res.Refs[kustomer.RefCustomerID], byExt)
	}
	if n := len(f.fake.Customers()); n != 2 {
		t.Errorf("%d customers, want the two that were there", n)
	}
}

// A write that landed but whose answer was lost is not made again: not
// the customer, not the conversation, not a message or a note.
func TestMirrorUncertainOutcomeLandsOnce(t *testing.T) {
	for _, lose := range []string{"customer", "conversation", "message", "note", "status"} {
		t.Run(lose, func(t *testing.T) {
			f := newFixture(t, kustomertest.Options{}, kustomer.Settings{}, helpline.ConnectorNode{})
			l := newChatLog("contact-u")
			l.Say("p-cust", "one")
			l.Say("p-agent", "two")
			l.Add("p-cust", helpline.ItemEvent, helpline.EventChatEnded, "")
			// The n-th write of the first delivery loses its answer:
			// customer, conversation, two messages, a note, the status.
			f.fake.LoseAnswerAfter(map[string]int{"customer": 0, "conversation": 1, "message": 3, "note": 4, "status": 5}[lose])
			res, err := f.conn.Mirror(ctx, l.Batch(0, nil, 0))
			if err == nil {
				t.Fatalf("first delivery: no error with a lost answer (%+v)", res)
			}
			assertRetryable(t, err)
			res = mirror(t, f.conn, l.Batch(0, res.Refs, 1))
			if res.Delivered != 3 {
				t.Fatalf("retry delivered %d", res.Delivered)
			}
			cv := only(t, f.fake, "contact-u")
			if got := timeline(cv); len(got) != 2 || len(cv.Notes) != 1 || cv.Status != "done" || len(f.fake.Customers()) != 1 {
				t.Errorf("after the retry: timeline %q, %d notes, status %s, %d customers", got, len(cv.Notes), cv.Status, len(f.fake.Customers()))
			}
		})
	}
}

func assertRetryable(t *testing.T, err error) {
	t.Helper()
	var me *helpline.MirrorError
	if !errors.As(err, &me) || me.Permanent {
		t.Fatalf("err = %v, want a retryable *MirrorError", err)
	}
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

func TestMirrorErrorClasses(t *testing.T) {
	l := newChatLog("contact-4")
	l.Say("p-cust", "Hello")

	t.Run("503 retryable, then delivered", func(t *testing.T) {
		f := newFixture(t, kustomertest.Options{}, kustomer.Settings{}, helpline.ConnectorNode{})
		f.fake.SetOutage(true)
		_, err := f.conn.Mirror(ctx, l.Batch(0, nil, 0))
		assertMirrorError(t, err, false, 0)
		f.fake.SetOutage(false)
		mirror(t, f.conn, l.Batch(0, nil, 1))
		if got := timeline(only(t, f.fake, "contact-4")); len(got) != 1 {
			t.Errorf("timeline %q", got)
		}
	})
	t.Run("timeout retryable", func(t *testing.T) {
		f := newFixture(t, kustomertest.Options{}, kustomer.Settings{TimeoutSeconds: 1}, helpline.ConnectorNode{})
		f.fake.SetDelay(1500 * time.Millisecond)
		_, err := f.conn.Mirror(ctx, l.Batch(0, nil, 0))
		assertMirrorError(t, err, false, 0)
	})
	t.Run("401 permanent", func(t *testing.T) {
		f := newFixture(t, kustomertest.Options{APIKey: "other"}, kustomer.Settings{}, helpline.ConnectorNode{})
		_, err := f.conn.Mirror(ctx, l.Batch(0, nil, 0))
		assertMirrorError(t, err, true, 0)
		if !strings.Contains(err.Error(), "unauthorized") {
			t.Errorf("reason %q does not carry Kustomer's answer", err)
		}
	})
	t.Run("org budget spent: held back, then 429 waits for x-ratelimit-reset", func(t *testing.T) {
		clock := clocktest.New(start.Add(15 * time.Second))
		f := newFixtureClock(t, clock, kustomertest.Options{RequestsPerMinute: 3}, kustomer.Settings{}, helpline.ConnectorNode{})
		// Three requests (two customer lookups, the create) spend the
		// budget; the answer saying so holds the fourth back locally.
		short, cancel := context.WithTimeout(ctx, time.Second)
		defer cancel()
		_, err := f.conn.Mirror(short, l.Batch(0, nil, 0))
		var me *helpline.MirrorError
		if !errors.As(err, &me) || me.Permanent || me.RetryAfter < 44*time.Second || me.RetryAfter > 45*time.Second {
			t.Fatalf("err = %v, want a retryable hold of about 45s", err)
		}
		if n := f.fake.Stats().TooMany; n != 0 {
			t.Errorf("%d 429s; the connector should have held back", n)
		}
		// A restarted connector knows nothing of the budget: Kustomer's
		// 429 and its x-ratelimit-reset pace it.
		_, err = f.build(t).Mirror(ctx, l.Batch(0, nil, 1))
		assertMirrorError(t, err, false, 45*time.Second)
	})
	t.Run("per-customer cap 429 carries Retry-After", func(t *testing.T) {
		f := newFixture(t, kustomertest.Options{MessagesPerMinute: 1}, kustomer.Settings{}, helpline.ConnectorNode{})
		l2 := newChatLog("contact-5")
		l2.Say("p-cust", "one")
		l2.Say("p-cust", "two")
		_, err := f.conn.Mirror(ctx, l2.Batch(0, nil, 0))
		assertMirrorError(t, err, false, time.Minute)
	})
	// answering is a Kustomer that answers every request with status and
	// body.
	answering := func(t *testing.T, status int, body string) *fixture {
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(status)
			io.WriteString(w, body)
		}))
		t.Cleanup(srv.Close)
		return newFixture(t, kustomertest.Options{}, kustomer.Settings{BaseURL: srv.URL}, helpline.ConnectorNode{})
	}
	t.Run("400 parks with its reason", func(t *testing.T) {
		f := answering(t, http.StatusBadRequest, `{"errors":[{"code":"bad_request","message":"custom attribute fooX has no type suffix","meta":{}}]}`)
		_, err := f.conn.Mirror(ctx, l.Batch(0, nil, 0))
		assertMirrorError(t, err, true, 0)
		if !strings.Contains(err.Error(), "bad_request custom attribute fooX has no type suffix") {
			t.Errorf("reason %q", err)
		}
	})
	t.Run("JSON:API error shape read", func(t *testing.T) {
		f := answering(t, http.StatusForbidden, `{"errors":[{"status":403,"code":"forbidden","title":"Forbidden","detail":"missing org.permission.customer.read"}]}`)
		_, err := f.conn.Mirror(ctx, l.Batch(0, nil, 0))
		assertMirrorError(t, err, true, 0)
		if !strings.Contains(err.Error(), "missing org.permission.customer.read") {
			t.Errorf("reason %q", err)
		}
	})
	t.Run("redirect parks, not followed", func(t *testing.T) {
		srv := httptest.NewServer(http.RedirectHandler("https://elsewhere.example/v1", http.StatusFound))
		t.Cleanup(srv.Close)
		f := newFixture(t, kustomertest.Options{}, kustomer.Settings{BaseURL: srv.URL}, helpline.ConnectorNode{})
		_, err := f.conn.Mirror(ctx, l.Batch(0, nil, 0))
		assertMirrorError(t, err, true, 0)
	})
}

// A chat that outruns the per-customer cap has its lines gathered into
// fewer messages, each line once and in order, and never draws a 429.
func TestMirrorGathersLinesUnderTheCustomerCap(t *testing.T) {
	f := newFixture(t, kustomertest.Options{}, kustomer.Settings{}, helpline.ConnectorNode{})
	l := newChatLog("contact-p")
	var want []string
	for i := range 300 {
		pid := "p-cust"
		if i%3 == 2 {
			pid = "p-agent"
		}
		l.Say(pid, fmt.Sprintf("line %d", i))
		want = append(want, fmt.Sprintf("line %d", i))
	}
	var refs map[string]string
	cursor := 0
	for cursor < len(l.Items) {
		end := min(cursor+100, len(l.Items))
		b := l.Batch(int64(cursor), refs, 0)
		b.Items = b.Items[:end-cursor]
		res := mirror(t, f.conn, b)
		refs = res.Refs
		cursor += res.Delivered
		if res.Wait > 0 {
			f.clock.Advance(res.Wait)
		}
	}
	cv := only(t, f.fake, "contact-p")
	var got []string
	for _, m := range cv.Messages {
		for _, ln := range strings.Split(m.Body(), "\n") {
			if i := strings.Index(ln, "line "); i >= 0 {
				got = append(got, ln[i:])
			}
		}
	}
	if strings.Join(got, "|") != strings.Join(want, "|") {
		t.Fatalf("lines in the conversation (%d) differ from the chat's (%d)", len(got), len(want))
	}
	if st := f.fake.Stats(); st.TooMany != 0 || st.Messages >= 300 {
		t.Errorf("stats %+v: want no 429 and fewer messages than lines", st)
	}
}

// Behind the customer's budget, a chat whose customer and agent take
// turns is gathered into an out message through the last answer and an
// in message for the customer's lines after it; notes stay notes. A
// retry after a lost answer sends nothing twice.
func TestMirrorGathersTurnsWhenBehind(t *testing.T) {
	f := newFixture(t, kustomertest.Options{}, kustomer.Settings{}, helpline.ConnectorNode{})
	l := newChatLog("contact-g")
	l.Say("p-cust", "Hello")
	res := mirror(t, f.conn, l.Batch(0, nil, 0))
	// Nine messages of the customer's budget are left; the second
	// delivery's eleven posts one by one would be more.
	l.Say("p-agent", "Hi Ada")
	l.Say("p-cust", "My order?")
	l.Say("p-agent", "Checking")
	l.Say("p-cust", "Thanks")
	l.Add("p-agent", helpline.ItemEvent, helpline.EventParticipantLeft, "")
	l.Say("p-cust", "Anyone?")
	l.Say("p-bot", "Order 1234 ships today.")
	l.Say("p-cust", "Great")
	l.Say("p-bot", "Anything else?")
	l.Say("p-cust", "No")
	l.Say("p-cust", "Bye!")
	f.fake.LoseAnswerAfter(0) // the first message lands, its answer is lost
	if _, err := f.conn.Mirror(ctx, l.Batch(1, res.Refs, 0)); err == nil {
		t.Fatal("the lost answer was not reported")
	} else {
		assertRetryable(t, err)
	}
	// The retry finds 2-4 landed; the rest, one by one a note and seven
	// messages, is more than the four left, and is gathered again.
	res = mirror(t, f.conn, l.Batch(1, res.Refs, 1))
	if res.Delivered != 11 {
		t.Fatalf("retry result = %+v", res)
	}
	cv := only(t, f.fake, "contact-g")
	want := []string{
		"in helpline:contact-g:1-1: Hello",
		"out helpline:contact-g:2-4: [10:42:14] Grace (agent): Hi Ada\n[10:42:21] Ada (customer): My order?\n[10:42:28] Grace (agent): Checking",
		"in helpline:contact-g:5-5: Thanks",
		"out helpline:contact-g:7-10: [10:42:49] Ada (customer): Anyone?\n[10:42:56] Shopbot (bot): Order 1234 ships today.\n[10:43:03] Ada (customer): Great\n[10:43:10] Shopbot (bot): Anything else?",
		"in helpline:contact-g:11-12: [10:43:17] Ada (customer): No\n[10:43:24] Ada (customer): Bye!",
	}
	if got := timeline(cv); strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("timeline\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	if len(cv.Notes) != 1 || !strings.HasSuffix(cv.Notes[0].Body, "(Helpline chat contact-g, items 6-6)") {
		t.Errorf("notes = %+v", cv.Notes)
	}
	for i, m := range cv.Messages {
		if first := []int{0, 1, 4, 6, 10}[i]; !m.SentAt.Equal(l.Items[first].Time) || m.Meta["author"] != []string{"Ada", "Grace", "Ada", "Shopbot", "Ada"}[i] {
			t.Errorf("message %d sent at %v by %v", i, m.SentAt, m.Meta["author"])
		}
	}
	if st := f.fake.Stats(); st.Messages != 5 || st.TooMany != 0 {
		t.Errorf("stats %+v: want 5 messages and no 429", st)
	}
}

func TestNewValidatesSettings(t *testing.T) {
	for _, tc := range []struct {
		name string
		set  kustomer.Settings
		want string
	}{
		{"no org", kustomer.Settings{APIKeyEnv: "KUSTOMER_API_KEY"}, "set org or base_url"},
		{"bad url", kustomer.Settings{BaseURL: "ftp://x", APIKeyEnv: "KUSTOMER_API_KEY"}, "not an http(s) URL"},
		{"no key env", kustomer.Settings{Org: "acme"}, "api_key_env"},
		{"empty key", kustomer.Settings{Org: "acme", APIKeyEnv: "NOPE"}, "NOPE (api_key_env) is empty"},
		{"bad status", kustomer.Settings{Org: "acme", APIKeyEnv: "KUSTOMER_API_KEY", StatusOnEnd: "closed"}, "status_on_end"},
		{"bad app", kustomer.Settings{Org: "acme", APIKeyEnv: "KUSTOMER_API_KEY", App: "Help Line"}, "app"},
		{"end without webhook", kustomer.Settings{Org: "acme", APIKeyEnv: "KUSTOMER_API_KEY", EndChatOnDone: true}, "end_chat_on_done needs webhook_secret_env"},
		{"bad link", kustomer.Settings{Org: "acme", APIKeyEnv: "KUSTOMER_API_KEY", AttachmentLink: "https://files/x"}, "{id}"},
		{"attribute without Str", kustomer.Settings{Org: "acme", APIKeyEnv: "KUSTOMER_API_KEY", SessionHistoryAttribute: "sessionHistoryTxt"}, "session_history_attribute"},
		{"bad transcript url", kustomer.Settings{Org: "acme", APIKeyEnv: "KUSTOMER_API_KEY", TranscriptURL: "https://help.acme.com/chats"}, "{contact}"},
		{"negative", kustomer.Settings{Org: "acme", APIKeyEnv: "KUSTOMER_API_KEY", BatchSize: -1}, "negative"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			set := tc.set
			_, err := helpline.NewConnector("kustomer", helpline.ConnectorConfig{Name: "k",
				Decode: func(v any) error { *v.(*kustomer.Settings) = set; return nil },
				Getenv: func(k string) string { return map[string]string{"KUSTOMER_API_KEY": "key"}[k] }})
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("err = %v, want it to say %q", err, tc.want)
			}
		})
	}
}
