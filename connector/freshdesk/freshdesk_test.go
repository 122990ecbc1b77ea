package freshdesk_test

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/helplinehq/helpline"
	"github.com/helplinehq/helpline/clocktest"
	"github.com/helplinehq/helpline/connector/freshdesk"
	"github.com/helplinehq/helpline/connector/freshdesk/freshdesktest"
	"github.com/helplinehq/helpline/connector/internal/chatlogtest"
)

var ctx = context.Background()

var start = time.Date(2025, 3, 1, 10, 42, 0, 0, time.UTC)

// fixture is a fake Freshdesk and a connector pointed at it.
type fixture struct {
	fake  *freshdesktest.Server
	conn  *freshdesk.Connector
	clock *clocktest.Clock
}

func newFixture(t *testing.T, opts freshdesktest.Options, set freshdesk.Settings, node helpline.ConnectorNode) *fixture {
	t.Helper()
	f := &fixture{clock: clocktest.New(start)}
	if opts.Now == nil {
		opts.Now = f.clock.Now
	}
	f.fake = freshdesktest.NewServer(opts)
	t.Cleanup(f.fake.Close)
	if set.BaseURL == "" {
		set.BaseURL = f.fake.URL
	}
	if set.APIKeyEnv == "" {
		set.APIKeyEnv = "FRESHDESK_API_KEY"
	}
	if set.RequestsPerMinute == 0 {
		set.RequestsPerMinute = 60000 // the fake's clock is not the limiter's
	}
	if set.TimeoutSeconds == 0 {
		set.TimeoutSeconds = 2
	}
	cfg := helpline.ConnectorConfig{
		Name:   "freshdesk",
		Decode: func(v any) error { *v.(*freshdesk.Settings) = set; return nil },
		Getenv: func(k string) string {
			return map[string]string{"FRESHDESK_API_KEY": "fd-key", "FRESHDESK_WEBHOOK_SECRET": "whsec"}[k]
		},
	}
	if node.Now == nil {
		node.Now = f.clock.Now
	}
	if node.MarkerKey == nil {
		node.MarkerKey = []byte("marker key of this installation")
	}
	conn, err := helpline.NewConnector("freshdesk", cfg)
	if err != nil {
		t.Fatal(err)
	}
	if err := conn.(helpline.Provisioner).Provision(ctx, node); err != nil {
		t.Fatal(err)
	}
	f.conn = conn.(*freshdesk.Connector)
	return f
}

// chatLog builds hand-made batches of one contact.
type chatLog = chatlogtest.Log

func newChatLog(contactID string) *chatLog { return chatlogtest.New(contactID) }

func mirror(t *testing.T, c *freshdesk.Connector, b *helpline.MirrorBatch) helpline.MirrorResult {
	t.Helper()
	res, err := c.Mirror(ctx, b)
	if err != nil {
		t.Fatalf("Mirror: %v", err)
	}
	return res
}

// only returns the one ticket of contactID.
func only(t *testing.T, fake *freshdesktest.Server, contactID string) freshdesktest.Ticket {
	t.Helper()
	tickets := fake.TicketsOf(contactID)
	if len(tickets) != 1 || len(fake.Tickets()) != 1 {
		t.Fatalf("%d tickets of %s, %d in all; want 1", len(tickets), contactID, len(fake.Tickets()))
	}
	return tickets[0]
}

// stripMarkers drops the marker lines, whose macs depend on the key.
func stripMarkers(s string) string {
	var out []string
	for _, l := range strings.Split(s, "\n") {
		if !strings.HasPrefix(l, "— helpline ") {
			out = append(out, l)
		} else {
			out = append(out, l[:strings.LastIndex(l, " #")]+" #mac")
		}
	}
	return strings.Join(out, "\n")
}

func TestMirrorCreatesTicketAndConversations(t *testing.T) {
	f := newFixture(t, freshdesktest.Options{}, freshdesk.Settings{TicketTags: []string{"chat"}, GroupID: 77}, helpline.ConnectorNode{})
	l := newChatLog("contact-1")
	l.Add("p-cust", helpline.ItemEvent, helpline.EventParticipantJoined, "")
	l.Say("p-cust", "Where is my order?")
	l.Say("p-bot", "Let me check order 1234.")
	l.Add("p-cust", helpline.ItemMetadata, "", "") // a receipt: not mirrored
	res := mirror(t, f.conn, l.Batch(0, nil, 0))
	if res.Delivered != 4 || res.Refs["ticket_id"] == "" || res.Refs["requester_id"] == "" || res.Refs["instance_id"] != "inst-1" {
		t.Fatalf("result = %+v", res)
	}

	l.Say("p-cust", "Thanks")
	l.Say("p-cust", "And <b>fast</b> please")
	l.Say("p-agent", "It ships today.")
	l.Say("p-bot", "Anything else?")
	l.Add("p-cust", helpline.ItemEvent, helpline.EventChatEnded, "")
	res2 := mirror(t, f.conn, l.Batch(4, res.Refs, 0))
	if res2.Delivered != 5 || res2.Refs["ticket_id"] != res.Refs["ticket_id"] {
		t.Fatalf("second result = %+v", res2)
	}

	tk := only(t, f.fake, "contact-1")
	if tk.Subject != "Chat with Ada" || tk.Source != 7 || tk.Status != 4 || tk.Priority != 1 || fmt.Sprint(tk.Tags) != "[chat]" || tk.GroupID == nil || *tk.GroupID != 77 {
		t.Errorf("ticket = %+v", tk)
	}
	contacts := f.fake.Contacts()
	if len(contacts) != 1 || contacts[0].Email != "ada@example.com" || contacts[0].Name != "Ada" || tk.RequesterID != contacts[0].ID {
		t.Errorf("contacts %+v, ticket requester %d", contacts, tk.RequesterID)
	}
	want := `description:
[10:42:07] Ada (customer) joined the chat
[10:42:14] Ada (customer): Where is my order?
[10:42:21] Shopbot (bot): Let me check order 1234.
— helpline contact-1 seq 1-3 #mac
incoming note:
[10:42:35] Ada (customer): Thanks
[10:42:42] Ada (customer): And <b>fast</b> please
— helpline contact-1 seq 5-6 #mac
reply:
[10:42:49] Grace (agent): It ships today.
— helpline contact-1 seq 7-7 #mac
private note:
[10:42:56] Shopbot (bot): Anything else?
[10:43:03] The chat ended
— helpline contact-1 seq 8-9 #mac
`
	if got := stripMarkers(tk.Transcript()); got != want {
		t.Errorf("transcript:\n%s\nwant:\n%s", got, want)
	}
	if c := tk.Conversations[0]; c.UserID != tk.RequesterID || c.Private {
		t.Errorf("the customer's note is %+v; want a public one in the requester's name", c)
	}
	if c := tk.Conversations[1]; c.UserID != f.fake.AgentID {
		t.Errorf("the agent's reply is by user %d, want the API agent %d", c.UserID, f.fake.AgentID)
	}
}

func TestMirrorCustomerLinesAsReplies(t *testing.T) {
	f := newFixture(t, freshdesktest.Options{}, freshdesk.Settings{CustomerLines: "reply", StatusOnEnd: "none"}, helpline.ConnectorNode{})
	l := newChatLog("contact-r")
	l.Say("p-cust", "Hello")
	res := mirror(t, f.conn, l.Batch(0, nil, 0))
	l.Say("p-cust", "Anyone?")
	l.Add("p-cust", helpline.ItemEvent, helpline.EventChatEnded, "")
	mirror(t, f.conn, l.Batch(1, res.Refs, 0))
	tk := only(t, f.fake, "contact-r")
	if !strings.Contains(tk.Transcript(), "reply:\n[10:42:14] Ada (customer): Anyone?") || tk.Status != 2 {
		t.Errorf("status %d, transcript:\n%s", tk.Status, tk.Transcript())
	}
}

// The ticket create landed but its answer was lost: the retry, without
// a ticket reference, finds the ticket by its description's marker and
// creates no other; a later batch's lost answer does not double its lines.
func TestMirrorExactlyOnceAfterLostAnswers(t *testing.T) {
	f := newFixture(t, freshdesktest.Options{}, freshdesk.Settings{}, helpline.ConnectorNode{})
	// An older chat ticket of the same customer must not be taken.
	older := newChatLog("contact-0")
	mirror(t, f.conn, older.Batch(0, nil, 0))
	older.Say("p-cust", "old chat")
	mirror(t, f.conn, older.Batch(0, nil, 0))

	l := newChatLog("contact-2")
	l.Say("p-cust", "Hello")
	l.Say("p-bot", "Hi, how can I help?")
	f.fake.LoseAnswers(1)
	if _, err := f.conn.Mirror(ctx, l.Batch(0, nil, 0)); err == nil {
		t.Fatal("Mirror succeeded through a lost answer")
	}
	// The retry carries one more item.
	l.Say("p-cust", "My parcel is late")
	res := mirror(t, f.conn, l.Batch(0, nil, 1))
	if res.Delivered != 3 {
		t.Fatalf("Delivered = %d, want 3", res.Delivered)
	}
	l.Say("p-agent", "Let me look.")
	l.Say("p-cust", "ok")
	f.fake.LoseAnswers(1)
	got, err := f.conn.Mirror(ctx, l.Batch(3, res.Refs, 0))
	if err == nil || got.Delivered != 0 {
		t.Fatalf("Mirror = %+v, %v; want a failure with nothing delivered", got, err)
	}
	mirror(t, f.conn, l.Batch(3, res.Refs, 1))
	if n := f.fake.Stats().TicketCreates; n != 2 {
		t.Errorf("%d tickets created, want 2 (one per chat)", n)
	}
	all := f.fake.TicketsOf("contact-2")
	if len(all) != 1 {
		t.Fatalf("%d tickets for the chat, want 1", len(all))
	}
	text := all[0].Transcript()
	for _, line := range []string{"Ada (customer): Hello", "Shopbot (bot): Hi, how can I help?", "Ada (customer): My parcel is late", "Grace (agent): Let me look.", "Ada (customer): ok"} {
		if n := strings.Count(text, line+"\n"); n != 1 {
			t.Errorf("%q appears %d times, want once:\n%s", line, n, text)
		}
	}
}

// A line the customer types that reads as a marker — for a range ahead
// of the chat, with a made-up mac — makes no retry skip a line.
func TestMirrorForgedMarkerChangesNothing(t *testing.T) {
	f := newFixture(t, freshdesktest.Options{}, freshdesk.Settings{}, helpline.ConnectorNode{})
	l := newChatLog("contact-9")
	l.Say("p-cust", "Hello")
	res := mirror(t, f.conn, l.Batch(0, nil, 0))
	l.Say("p-cust", "look:\n— helpline contact-9 seq 2-99 #0123456789abcdef")
	mirror(t, f.conn, l.Batch(1, res.Refs, 0))
	// The next one fails before landing; its retry must send it, as must
	// a retry of a first delivery whose forged description names a range.
	l.Say("p-cust", "Where is my parcel?")
	f.fake.SetOutage(true)
	if _, err := f.conn.Mirror(ctx, l.Batch(2, res.Refs, 0)); err == nil {
		t.Fatal("Mirror succeeded through an outage")
	}
	f.fake.SetOutage(false)
	mirror(t, f.conn, l.Batch(2, res.Refs, 1))
	text := only(t, f.fake, "contact-9").Transcript()
	if n := strings.Count(text, "Ada (customer): Where is my parcel?"); n != 1 {
		t.Fatalf("the retried line appears %d times, want once:\n%s", n, text)
	}

	f2 := newFixture(t, freshdesktest.Options{}, freshdesk.Settings{}, helpline.ConnectorNode{})
	l2 := newChatLog("contact-10")
	l2.Say("p-cust", "hi\n— helpline contact-10 seq 1-5 #0123456789abcdef")
	f2.fake.SetOutage(true)
	f2.conn.Mirror(ctx, l2.Batch(0, nil, 0))
	f2.fake.SetOutage(false)
	mirror(t, f2.conn, l2.Batch(0, nil, 1))
	if n := f2.fake.Stats().TicketCreates; n != 1 {
		t.Errorf("%d tickets created, want 1", n)
	}
}

func TestMirrorErrorClasses(t *testing.T) {
	l := newChatLog("contact-4")
	l.Say("p-cust", "Hello")

	t.Run("503 retryable", func(t *testing.T) {
		f := newFixture(t, freshdesktest.Options{}, freshdesk.Settings{}, helpline.ConnectorNode{})
		f.fake.SetOutage(true)
		_, err := f.conn.Mirror(ctx, l.Batch(0, nil, 0))
		assertMirrorError(t, err, false, 0, "503")
	})
	t.Run("timeout retryable", func(t *testing.T) {
		f := newFixture(t, freshdesktest.Options{}, freshdesk.Settings{TimeoutSeconds: 1}, helpline.ConnectorNode{})
		f.fake.SetDelay(1500 * time.Millisecond)
		_, err := f.conn.Mirror(ctx, l.Batch(0, nil, 0))
		assertMirrorError(t, err, false, 0, "")
	})
	t.Run("401 permanent", func(t *testing.T) {
		f := newFixture(t, freshdesktest.Options{APIKey: "other"}, freshdesk.Settings{}, helpline.ConnectorNode{})
		_, err := f.conn.Mirror(ctx, l.Batch(0, nil, 0))
		assertMirrorError(t, err, true, 0, "401")
	})
	t.Run("429 carries Retry-After", func(t *testing.T) {
		// Growth's 80 ticket writes a minute, spent 20 s into the minute.
		f := newFixture(t, freshdesktest.Options{RequestsPerMinute: freshdesktest.GrowthRequestsPerMinute, TicketWritesPerMinute: 2}, freshdesk.Settings{}, helpline.ConnectorNode{})
		f.clock.Advance(20 * time.Second)
		res := mirror(t, f.conn, l.Batch(0, nil, 0))
		l2 := newChatLog("contact-4")
		l2.Say("p-cust", "Hello")
		l2.Say("p-agent", "Hi")
		l2.Say("p-cust", "Anyone?")
		got, err := f.conn.Mirror(ctx, l2.Batch(1, res.Refs, 0))
		assertMirrorError(t, err, false, 40*time.Second, "429")
		if got.Delivered != 1 {
			t.Errorf("Delivered = %d, want 1: the agent's reply landed before the limit", got.Delivered)
		}
	})
	t.Run("400 parks with Freshdesk's reason", func(t *testing.T) {
		f := newFixture(t, freshdesktest.Options{}, freshdesk.Settings{}, helpline.ConnectorNode{})
		bad := newChatLog("contact-5")
		bad.Contact.Attributes = map[string]string{"email": "not an address"}
		bad.Say("p-cust", "Hello")
		_, err := f.conn.Mirror(ctx, bad.Batch(0, nil, 0))
		assertMirrorError(t, err, true, 0, `email: invalid_value "It should be in the 'valid email address' format"`)
	})
	t.Run("404 ticket parks", func(t *testing.T) {
		f := newFixture(t, freshdesktest.Options{}, freshdesk.Settings{}, helpline.ConnectorNode{})
		_, err := f.conn.Mirror(ctx, l.Batch(0, map[string]string{"ticket_id": "999999", "requester_id": "1"}, 0))
		assertMirrorError(t, err, true, 0, "404")
	})
}

func assertMirrorError(t *testing.T, err error, permanent bool, retryAfter time.Duration, reason string) {
	t.Helper()
	var me *helpline.MirrorError
	if !errors.As(err, &me) {
		t.Fatalf("err = %v, want a *MirrorError", err)
	}
	if me.Permanent != permanent || me.RetryAfter != retryAfter {
		t.Errorf("err = %v (permanent %v, retry after %v); want permanent %v, retry after %v", err, me.Permanent, me.RetryAfter, permanent, retryAfter)
	}
	if !strings.Contains(err.Error(), reason) {
		t.Errorf("err = %v; want it to say %q", err, reason)
	}
}

func TestNewValidatesSettings(t *testing.T) {
	for _, tc := range []struct {
		name string
		set  freshdesk.Settings
		want string
	}{
		{"no address", freshdesk.Settings{APIKeyEnv: "FRESHDESK_API_KEY"}, "domain or base_url"},
		{"no key", freshdesk.Settings{Domain: "acme"}, "api_key_env"},
		{"empty key", freshdesk.Settings{Domain: "acme", APIKeyEnv: "UNSET"}, "UNSET"},
		{"empty secret", freshdesk.Settings{Domain: "acme", APIKeyEnv: "FRESHDESK_API_KEY", WebhookSecretEnv: "UNSET"}, "UNSET"},
		{"bad status", freshdesk.Settings{Domain: "acme", APIKeyEnv: "FRESHDESK_API_KEY", StatusOnEnd: "solved"}, "status_on_end"},
		{"bad customer lines", freshdesk.Settings{Domain: "acme", APIKeyEnv: "FRESHDESK_API_KEY", CustomerLines: "email"}, "customer_lines"},
		{"bad priority", freshdesk.Settings{Domain: "acme", APIKeyEnv: "FRESHDESK_API_KEY", Priority: 5}, "priority"},
		{"negative rate", freshdesk.Settings{Domain: "acme", APIKeyEnv: "FRESHDESK_API_KEY", RequestsPerMinute: -1}, "negative"},
	} {
		_, err := helpline.NewConnector("freshdesk", helpline.ConnectorConfig{
			Name:   "fd",
			Decode: func(v any) error { *v.(*freshdesk.Settings) = tc.set; return nil },
			Getenv: func(k string) string { return map[string]string{"FRESHDESK_API_KEY": "x"}[k] },
		})
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: err = %v, want one mentioning %q", tc.name, err, tc.want)
		}
	}
}

// The connector is not provisioned without a marker key, nor, with a
// webhook secret, without the engine and the replay guard.
func TestProvisionNeeds(t *testing.T) {
	conn, err := helpline.NewConnector("freshdesk", helpline.ConnectorConfig{
		Name: "fd",
		Decode: func(v any) error {
			*v.(*freshdesk.Settings) = freshdesk.Settings{Domain: "acme", APIKeyEnv: "K", WebhookSecretEnv: "S"}
			return nil
		},
		Getenv: func(k string) string { return "x" },
	})
	if err != nil {
		t.Fatal(err)
	}
	p := conn.(helpline.Provisioner)
	key := []byte("k")
	intake, pairs, replay := struct{ helpline.Intake }{}, struct{ helpline.MirrorStore }{}, struct{ helpline.ReplayGuard }{}
	for _, tc := range []struct {
		node helpline.ConnectorNode
		want string
	}{
		{helpline.ConnectorNode{Intake: intake, Mirrors: pairs, Replay: replay}, "marker key"},
		{helpline.ConnectorNode{MarkerKey: key, Mirrors: pairs, Replay: replay}, "intake"},
		{helpline.ConnectorNode{MarkerKey: key, Intake: intake, Mirrors: pairs}, "replay guard"},
	} {
		if err := p.Provision(ctx, tc.node); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("Provision = %v, want a refusal naming the %s", err, tc.want)
		}
	}
}

func ticketID(t *testing.T, refs map[string]string) int64 {
	t.Helper()
	n, err := strconv.ParseInt(refs["ticket_id"], 10, 64)
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// A retry reads every page of the ticket's conversations (Freshdesk
// pages them by 100 with a Link header): a lost answer after the
// hundredth conversation still lands once.
func TestMirrorRetryReadsEveryPage(t *testing.T) {
	f := newFixture(t, freshdesktest.Options{}, freshdesk.Settings{}, helpline.ConnectorNode{})
	l := newChatLog("contact-long")
	l.Say("p-cust", "Hello")
	res := mirror(t, f.conn, l.Batch(0, nil, 0))
	for i := range 130 {
		who := "p-cust"
		if i%2 == 1 {
			who = "p-agent"
		}
		l.Say(who, fmt.Sprintf("line %d", i))
		mirror(t, f.conn, l.Batch(int64(len(l.Items)-1), res.Refs, 0))
	}
	l.Say("p-cust", "the last one")
	f.fake.LoseAnswers(1)
	if _, err := f.conn.Mirror(ctx, l.Batch(int64(len(l.Items)-1), res.Refs, 0)); err == nil {
		t.Fatal("Mirror succeeded through a lost answer")
	}
	if res := mirror(t, f.conn, l.Batch(int64(len(l.Items)-1), res.Refs, 1)); res.Delivered != 1 {
		t.Fatalf("Delivered = %d, want 1", res.Delivered)
	}
	tk := only(t, f.fake, "contact-long")
	if n := len(tk.Conversations); n != 131 {
		t.Errorf("%d conversations, want 131", n)
	}
	if n := strings.Count(tk.Transcript(), "the last one"); n != 1 {
		t.Errorf("the last line is in the ticket %d times, want once", n)
	}
	if ticketID(t, res.Refs) != tk.ID {
		t.Errorf("refs name ticket %s, the fake holds %d", res.Refs["ticket_id"], tk.ID)
	}
}

// Behind the ticket write budget, a chat whose customer and agent take
// turns is not one conversation per line: each stretch between the
// bot's private notes is one reply through the agent's last line and an
// incoming note of the customer's lines after it, every line stamped
// and in order; a retry after a lost answer sends none of it again.
func TestMirrorGathersTurnsWhenBehind(t *testing.T) {
	// 200 requests a minute: 80 ticket writes, a burst of 4. The first
	// delivery's ticket leaves 3, fewer than the 9 runs of the second,
	// and its retry's 6.
	f := newFixture(t, freshdesktest.Options{}, freshdesk.Settings{RequestsPerMinute: 200, StatusOnEnd: "none"}, helpline.ConnectorNode{})
	l := newChatLog("contact-g")
	l.Say("p-cust", "Hello")
	res := mirror(t, f.conn, l.Batch(0, nil, 0))
	l.Say("p-agent", "Hi Ada")
	l.Say("p-cust", "My order?")
	l.Say("p-agent", "Checking")
	l.Say("p-bot", "Order 1234 ships today.")
	l.Say("p-cust", "Thanks")
	l.Say("p-agent", "Anything else?")
	l.Say("p-cust", "No")
	l.Say("p-agent", "Bye")
	l.Say("p-cust", "Bye!")
	l.Say("p-cust", "Oh, one more thing")
	f.fake.LoseAnswers(1)
	if _, err := f.conn.Mirror(ctx, l.Batch(1, res.Refs, 0)); err == nil {
		t.Fatal("the lost answer was not reported")
	}
	res2 := mirror(t, f.conn, l.Batch(1, res.Refs, 1))
	if res2.Delivered != 10 {
		t.Fatalf("second result = %+v", res2)
	}
	want := `description:
[10:42:07] Ada (customer): Hello
— helpline contact-g seq 1-1 #mac
reply:
[10:42:14] Grace (agent): Hi Ada
[10:42:21] Ada (customer): My order?
[10:42:28] Grace (agent): Checking
— helpline contact-g seq 2-4 #mac
private note:
[10:42:35] Shopbot (bot): Order 1234 ships today.
— helpline contact-g seq 5-5 #mac
reply:
[10:42:42] Ada (customer): Thanks
[10:42:49] Grace (agent): Anything else?
[10:42:56] Ada (customer): No
[10:43:03] Grace (agent): Bye
— helpline contact-g seq 6-9 #mac
incoming note:
[10:43:10] Ada (customer): Bye!
[10:43:17] Ada (customer): Oh, one more thing
— helpline contact-g seq 10-11 #mac
`
	tk := only(t, f.fake, "contact-g")
	if got := stripMarkers(tk.Transcript()); got != want {
		t.Errorf("transcript:\n%s\nwant:\n%s", got, want)
	}
	if c := tk.Conversations[len(tk.Conversations)-1]; c.UserID != tk.RequesterID || !c.Incoming || c.Private {
		t.Errorf("the customer's last lines are %+v; want an incoming public note in the requester's name", c)
	}
}
