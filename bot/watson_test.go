package bot

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/helplinehq/helpline/bot/watsontest"
	"github.com/helplinehq/helpline/clocktest"
)

type watsonRig struct {
	srv   *watsontest.Server
	clock *clocktest.Clock
	p     *pauses
	bot   *Watson
}

func newWatsonRig(t *testing.T) *watsonRig {
	t.Helper()
	clock := clocktest.New(time.Date(2025, 3, 1, 10, 0, 0, 0, time.UTC))
	srv := watsontest.NewServer("key-1", "asst-1", clock.Now)
	t.Cleanup(srv.Close)
	rig := &watsonRig{srv: srv, clock: clock, p: &pauses{}}
	rig.bot = rig.newBot(t, "key-1", "asst-1")
	return rig
}

func (rig *watsonRig) newBot(t *testing.T, key, assistant string) *Watson {
	t.Helper()
	b, err := NewWatson(WatsonConfig{URL: rig.srv.URL, AssistantID: assistant, APIKey: key, TokenURL: rig.srv.TokenURL(),
		Now: rig.clock.Now, Remote: Remote{Queue: "support", Timeout: 2 * time.Second, Sleep: rig.p.sleep}})
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestWatsonRepliesInOneSession(t *testing.T) {
	rig := newWatsonRig(t)
	rig.srv.On("hi", watsontest.Text("Hello!"), map[string]any{"response_type": "pause", "time": 500}, watsontest.Text("How can I help?"))
	rig.srv.On("my order is late", watsontest.Text("Let me check."))
	c := plainContact()

	resp := turnOf(t, rig.bot, c, State{}, textItem("hi"))
	if len(resp.Replies) != 2 || resp.Replies[0] != Text("Hello!") || resp.Replies[1] != Text("How can I help?") || resp.Handoff != nil {
		t.Fatalf("first turn: %+v handoff %+v", resp.Replies, resp.Handoff)
	}
	rig.clock.Advance(4 * time.Minute)
	resp = turnOf(t, rig.bot, c, resp.State, textItem("my order\nis\tlate"))
	if len(resp.Replies) != 1 || resp.Replies[0] != Text("Let me check.") {
		t.Fatalf("second turn: %+v", resp.Replies)
	}
	msgs := rig.srv.Messages()
	if len(msgs) != 2 || msgs[0].Session != msgs[1].Session || msgs[1].Session != resp.State.Session || msgs[0].UserID != "cust-1" {
		t.Fatalf("Watson received %+v; state session %q", msgs, resp.State.Session)
	}
	if n := rig.srv.SessionsCreated(); n != 1 {
		t.Errorf("%d sessions created for two turns", n)
	}
	if n := rig.srv.TokenRequests(); n != 1 {
		t.Errorf("%d tokens fetched for two turns", n)
	}
}

func TestWatsonSessionRecreatedAfterExpiry(t *testing.T) {
	rig := newWatsonRig(t)
	rig.srv.On("hi", watsontest.Text("Hello!"))
	c := plainContact()
	st := turnOf(t, rig.bot, c, State{}, textItem("hi")).State

	rig.clock.Advance(5 * time.Minute) // the fake's inactivity timeout
	resp := turnOf(t, rig.bot, c, st, textItem("hi"))
	if len(resp.Replies) != 1 || resp.Replies[0] != Text("Hello!") || resp.Handoff != nil {
		t.Fatalf("after expiry: %+v handoff %+v", resp.Replies, resp.Handoff)
	}
	if resp.State.Session == st.Session || rig.srv.SessionsCreated() != 2 {
		t.Fatalf("session %q after %q, %d created", resp.State.Session, st.Session, rig.srv.SessionsCreated())
	}
	if msgs := rig.srv.Messages(); len(msgs) != 2 || msgs[1].Session != resp.State.Session {
		t.Errorf("messages %+v", msgs)
	}

	// The session ends with the contact; ending it again is no error.
	if err := rig.bot.EndSession(context.Background(), resp.State); err != nil {
		t.Fatal(err)
	}
	if err := rig.bot.EndSession(context.Background(), resp.State); err != nil {
		t.Errorf("ending a deleted session: %v", err)
	}
	if d := rig.srv.Deleted(); len(d) != 1 || d[0] != resp.State.Session {
		t.Errorf("deleted %v", d)
	}
}

func TestWatsonOptionsBecomeQuickReplies(t *testing.T) {
	rig := newWatsonRig(t)
	rig.srv.On("returns", watsontest.Option("What would you like?", []string{"Start a return", "Return policy"},
		map[string]string{"Start a return": "start return"}))
	rig.srv.On("start return", watsontest.Text("What is your order number?"))

	c := richContact()
	resp := turnOf(t, rig.bot, c, State{}, textItem("returns"))
	if len(resp.Replies) != 1 {
		t.Fatalf("replies %+v", resp.Replies)
	}
	title, opts := quickReplyTitles(t, resp.Replies[0])
	if title != "What would you like?" || strings.Join(opts, "|") != "Start a return|Return policy" {
		t.Fatalf("quick reply %q %q", title, opts)
	}
	resp = turnOf(t, rig.bot, c, resp.State, pickItem("Start a return"))
	if len(resp.Replies) != 1 || resp.Replies[0] != Text("What is your order number?") {
		t.Fatalf("after the pick: %+v", resp.Replies)
	}
	if msgs := rig.srv.Messages(); len(msgs) != 2 || msgs[1].Text != "start return" {
		t.Errorf("Watson received %+v", msgs)
	}
}

func TestWatsonConnectToAgent(t *testing.T) {
	rig := newWatsonRig(t)
	rig.srv.On("agent", watsontest.Text("I'll get someone."),
		watsontest.ConnectToAgent("Customer wants a refund over the limit.", "An agent will be with you shortly.",
			[]string{"Order 884421", "Refund of $250"}, "us-south::v1::code::sess::int::inst::sub"))
	resp := turnOf(t, rig.bot, plainContact(), State{}, textItem("agent"))
	want := Handoff{Queue: "support", Reason: ReasonBotHandoff, Summary: "Customer wants a refund over the limit.\nOrder 884421\nRefund of $250"}
	if resp.Handoff == nil || *resp.Handoff != want {
		t.Fatalf("handoff %+v, want %+v", resp.Handoff, want)
	}
	if len(resp.Replies) != 2 || resp.Replies[1] != Text("An agent will be with you shortly.") {
		t.Errorf("replies %+v", resp.Replies)
	}
	if got := resp.Attributes[AttrSessionHistoryKey]; got != "us-south::v1::code::sess::int::inst::sub" {
		t.Errorf("attributes %v", resp.Attributes)
	}

	// A summary given as a plain string.
	rig.srv.On("agent2", map[string]any{"response_type": "connect_to_agent", "message_to_human_agent": "Wants a person.",
		"transfer_info": map[string]any{"summary_message_to_agent": "Asked twice."}})
	resp = turnOf(t, rig.bot, plainContact(), resp.State, textItem("agent2"))
	if resp.Handoff == nil || resp.Handoff.Summary != "Wants a person.\nAsked twice." || resp.Attributes != nil {
		t.Errorf("handoff %+v attributes %v", resp.Handoff, resp.Attributes)
	}
}

func TestWatsonTokenCachedAndRefreshed(t *testing.T) {
	rig := newWatsonRig(t)
	rig.srv.On("hi", watsontest.Text("Hello!"))
	c := plainContact()
	st := State{}
	say := func() {
		t.Helper()
		resp := turnOf(t, rig.bot, c, st, textItem("hi"))
		if len(resp.Replies) != 1 || resp.Replies[0] != Text("Hello!") {
			t.Fatalf("replies %+v handoff %+v", resp.Replies, resp.Handoff)
		}
		st = resp.State
	}
	say()
	for range 11 { // 44 minutes, talking every 4 so that the session lives
		rig.clock.Advance(4 * time.Minute)
		say()
	}
	if n := rig.srv.TokenRequests(); n != 1 {
		t.Fatalf("%d tokens within 80%% of the first one's hour", n)
	}
	rig.clock.Advance(4 * time.Minute) // 48 min: 80% of the hour
	say()
	if n := rig.srv.TokenRequests(); n != 2 {
		t.Fatalf("%d tokens after 48 minutes, want a second one", n)
	}
	// A token Watson no longer takes is replaced once.
	rig.srv.RevokeTokens()
	say()
	if n := rig.srv.TokenRequests(); n != 3 {
		t.Fatalf("%d tokens after a 401, want 3", n)
	}
}

func TestWatsonThrottled(t *testing.T) {
	rig := newWatsonRig(t)
	rig.srv.On("hi", watsontest.Text("Hello!"))
	c := plainContact()

	rig.srv.Throttle(1, 2)
	resp := turnOf(t, rig.bot, c, State{}, textItem("hi"))
	if len(resp.Replies) != 1 || resp.Replies[0] != Text("Hello!") {
		t.Fatalf("after one 429: %+v", resp.Replies)
	}
	if got := rig.p.all(); len(got) != 1 || got[0] != 2*time.Second {
		t.Errorf("pauses %v, want the 2 s of Retry-After", got)
	}

	rig.srv.Throttle(2, 1)
	checkUnavailable(t, turnOf(t, rig.bot, c, resp.State, textItem("hi")), "Watson Assistant", "429")

	rig.srv.Throttle(1, 60)
	before := len(rig.p.all())
	checkUnavailable(t, turnOf(t, rig.bot, c, resp.State, textItem("hi")), "Watson Assistant", "429")
	if got := rig.p.all(); len(got) != before {
		t.Errorf("waited %v for a Retry-After of a minute", got[before:])
	}
}

// A Watson that is down, refuses the key, or answers nonsense: the
// customer hears the fallback and the contact goes to a person.
func TestWatsonUnavailable(t *testing.T) {
	for _, tc := range []struct {
		name      string
		setup     func(*watsonRig) *Watson
		wantCause string
	}{
		{"503", func(r *watsonRig) *Watson { r.srv.SetDown(http.StatusServiceUnavailable); return r.bot }, "503"},
		{"closed", func(r *watsonRig) *Watson { r.srv.Close(); return r.bot }, "refused"},
		{"wrong API key", func(r *watsonRig) *Watson { return r.newBot(t, "key-2", "asst-1") }, "API key could not be found"},
		{"unknown assistant", func(r *watsonRig) *Watson { return r.newBot(t, "key-1", "asst-2") }, "Resource not found"},
		{"not JSON", func(r *watsonRig) *Watson { r.srv.SetRaw([]byte("<html/>")); return r.bot }, "without output"},
		{"no output", func(r *watsonRig) *Watson { r.srv.SetRaw([]byte(`{"user_id":"x"}`)); return r.bot }, "without output"},
		{"generic not a list", func(r *watsonRig) *Watson { r.srv.SetRaw([]byte(`{"output":{"generic":{"a":1}}}`)); return r.bot }, "without output"},
		{"item not an object", func(r *watsonRig) *Watson { r.srv.SetRaw([]byte(`{"output":{"generic":[1]}}`)); return r.bot }, "wrong shape"},
		{"text not a string", func(r *watsonRig) *Watson {
			r.srv.SetRaw([]byte(`{"output":{"generic":[{"response_type":"text","text":["a"]}]}}`))
			return r.bot
		}, "wrong shape"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rig := newWatsonRig(t)
			b := tc.setup(rig)
			resp := turnOf(t, b, plainContact(), State{}, textItem("hi"))
			checkUnavailable(t, resp, "Watson Assistant", tc.wantCause)
			if strings.Contains(resp.Handoff.Summary, "key-") {
				t.Errorf("the summary %q shows the API key", resp.Handoff.Summary)
			}
		})
	}
}

func TestNewWatsonRefusesBadSettings(t *testing.T) {
	ok := WatsonConfig{URL: "https://api.us-south.assistant.watson.cloud.ibm.com/instances/x", AssistantID: "a1", APIKey: "k"}
	if _, err := NewWatson(ok); err != nil {
		t.Fatalf("good settings refused: %v", err)
	}
	for name, mutate := range map[string]func(*WatsonConfig){
		"no url":           func(c *WatsonConfig) { c.URL = "" },
		"relative url":     func(c *WatsonConfig) { c.URL = "api.example.com" },
		"no assistant":     func(c *WatsonConfig) { c.AssistantID = "" },
		"assistant path":   func(c *WatsonConfig) { c.AssistantID = "a/b" },
		"no API key":       func(c *WatsonConfig) { c.APIKey = "" },
		"bad token url":    func(c *WatsonConfig) { c.TokenURL = "iam.cloud.ibm.com" },
		"bad version":      func(c *WatsonConfig) { c.Version = "latest" },
		"bad queue":        func(c *WatsonConfig) { c.Queue = "a queue" },
		"negative timeout": func(c *WatsonConfig) { c.Timeout = -1 },
	} {
		cfg := ok
		mutate(&cfg)
		if _, err := NewWatson(cfg); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}
