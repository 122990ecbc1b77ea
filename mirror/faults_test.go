package mirror_test

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/helplinehq/helpline"
	"github.com/helplinehq/helpline/connector/zendesk"
	"github.com/helplinehq/helpline/connector/zendesk/zendesktest"
	"github.com/helplinehq/helpline/mirror/mirrortest"
)

// zendeskHarness runs a dispatcher delivering one chat to the Zendesk
// connector through a fault proxy in front of the fake, all on the
// harness's clock.
func zendeskHarness(t *testing.T) (*harness, *zendesktest.Server, *mirrortest.Proxy, *chat) {
	t.Helper()
	h := newHarness(t)
	fake := zendesktest.NewServer(zendesktest.Options{RequestsPerMinute: 2500, UpdatesPerMinute: 1000, Now: h.clock.Now})
	t.Cleanup(fake.Close)
	proxy := mirrortest.NewProxy(fake.URL)
	t.Cleanup(proxy.Close)
	zd, err := zendesk.New(helpline.ConnectorConfig{
		Name: "zendesk",
		Decode: func(v any) error {
			*v.(*zendesk.Settings) = zendesk.Settings{
				BaseURL: proxy.URL, Email: "bot@example.com", TokenEnv: "ZENDESK_TOKEN",
				RequestsPerMinute: 2500, UpdatesPerMinute: 1000, TimeoutSeconds: 5,
			}
			return nil
		},
		Getenv: func(string) string { return "zd-token" },
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := zd.Provision(context.Background(), helpline.ConnectorNode{Now: h.clock.Now}); err != nil {
		t.Fatal(err)
	}
	h.cfg.Connectors = []helpline.Mirrorer{zd}
	// A delivery gets two thirds of the lease, one second of real time:
	// that is when a hanging request counts as timed out.
	h.cfg.Lease = 1500 * time.Millisecond
	h.start()
	c := h.newChat()
	if err := h.store.CreateMirrorPairs(context.Background(), c.contact.ID, []string{"zendesk"}, h.clock.Now()); err != nil {
		t.Fatal(err)
	}
	return h, fake, proxy, c
}

// The helpdesk answers 503 for a while, then 429 with Retry-After, then
// takes a comment but times out before answering, then recovers: every
// line lands once, in order, in one ticket, and the Retry-After is kept.
func TestFaultSequenceIntoZendesk(t *testing.T) {
	h, fake, proxy, c := zendeskHarness(t)
	ctx := context.Background()
	pair := func() *helpline.MirrorPair {
		t.Helper()
		ps, err := h.store.FindMirrorPairs(ctx, helpline.MirrorPairFilter{Connector: "zendesk", ContactID: c.contact.ID})
		if err != nil || len(ps) != 1 {
			t.Fatalf("zendesk pair: %v, %v", ps, err)
		}
		return ps[0]
	}
	// failed waits for the pair to record failure number n, then lets
	// the retry come due (and the ticket's update budget refill).
	failed := func(n int, reason string) *helpline.MirrorPair {
		t.Helper()
		eventually(t, "failed attempt "+reason, func() bool { p := pair(); return p.Attempts >= n && p.LeaseOwner == "" })
		p := pair()
		if p.Attempts != n || !strings.Contains(p.LastError, reason) {
			t.Fatalf("after failure %d: attempts %d, last error %q; want %q", n, p.Attempts, p.LastError, reason)
		}
		return p
	}
	var want []string
	say := func(prefix string, n int) {
		for _, l := range lines(prefix, n) {
			h.say(c, l, "")
			want = append(want, l)
		}
	}
	ticket := func() zendesktest.Ticket {
		tk, _ := fake.TicketByExternalID(c.contact.ID)
		return tk
	}

	say("healthy", 2)
	eventually(t, "the first lines", func() bool { return len(ticket().PublicChatLines()) == 2 })

	proxy.Fail(mirrortest.Fault{Count: -1, Status: 503})
	say("unavailable", 2)
	failed(1, "503")
	h.clock.Advance(2 * time.Minute)
	failed(2, "503")

	proxy.Fail(mirrortest.Fault{Count: 1, Status: 429, RetryAfter: "90"})
	h.clock.Advance(2 * time.Minute)
	p := failed(3, "429")
	if !p.NextAttempt.Equal(h.clock.Now().Add(90 * time.Second)) {
		t.Errorf("after the 429 the next attempt is at %v, want now+90s (%v)", p.NextAttempt, h.clock.Now().Add(90*time.Second))
	}
	say("throttled", 1)

	// The comment lands, its answer never comes.
	isUpdate := func(r *http.Request) bool { return r.Method == http.MethodPut }
	proxy.Fail(mirrortest.Fault{Count: 1, Hang: true, Match: isUpdate})
	h.clock.Advance(90 * time.Second)
	failed(4, "deadline")
	if got := ticket().PublicChatLines(); len(got) != len(want) {
		t.Fatalf("the timed-out update did not land: %v", got)
	}

	proxy.Fail(mirrortest.Fault{})
	say("recovered", 2)
	h.clock.Advance(2 * time.Minute)
	eventually(t, "every line", func() bool { return len(ticket().PublicChatLines()) >= len(want) && pair().Cursor == pair().LastSeq })
	if got := ticket().PublicChatLines(); strings.Join(got, "|") != strings.Join(want, "|") {
		t.Errorf("ticket lines\n got %v\nwant %v", got, want)
	}
	if n := len(fake.Tickets()); n != 1 {
		t.Errorf("%d tickets, want 1", n)
	}
	if p := pair(); p.Attempts != 0 || p.LastError != "" {
		t.Errorf("pair after recovery: %+v", p)
	}
}

// An update that landed without an answer is followed, on its retry, by
// the ticket's update budget running out: the connector asks to wait.
// The try after the wait still checks what landed, so the line is not
// sent twice.
func TestUncertainUpdateIsCheckedAfterAWait(t *testing.T) {
	h, fake, proxy, c := zendeskHarness(t)
	ticket := func() []string {
		tk, _ := fake.TicketByExternalID(c.contact.ID)
		return tk.PublicChatLines()
	}
	var want []string
	say := func(l string) {
		h.say(c, l, "")
		want = append(want, l)
	}
	ctx := context.Background()
	pair := func() *helpline.MirrorPair {
		ps, err := h.store.FindMirrorPairs(ctx, helpline.MirrorPairFilter{Connector: "zendesk", ContactID: c.contact.ID})
		if err != nil || len(ps) != 1 {
			t.Fatalf("zendesk pair: %v, %v", ps, err)
		}
		return ps[0]
	}
	// Four quick updates, each as soon as the ticket's pacing lets it
	// go, spend most of the ticket's burst of five.
	for i := range 4 {
		say(fmt.Sprintf("quick %d", i))
		eventually(t, "quick line", func() bool { return len(ticket()) == len(want) && pair().LeaseOwner == "" })
		h.clock.Advance(max(0, pair().NextAttempt.Sub(h.clock.Now())))
	}
	// The fifth update lands but its answer never comes.
	proxy.Fail(mirrortest.Fault{Count: 1, Hang: true, Match: func(r *http.Request) bool { return r.Method == http.MethodPut }})
	say("uncertain")
	eventually(t, "the timed-out update", func() bool { p := pair(); return p.Attempts == 1 && p.LeaseOwner == "" })
	say("after")
	// The retry finds the uncertain line landed and "after" not, but the
	// budget is spent: it waits for the next update.
	h.clock.Advance(2 * time.Second)
	eventually(t, "the pacing wait", func() bool {
		p := pair()
		return p.LeaseOwner == "" && p.NextAttempt.After(h.clock.Now().Add(10*time.Second))
	})
	h.clock.Advance(time.Minute)
	eventually(t, "every line", func() bool { p := pair(); return p.Cursor == p.LastSeq && p.LeaseOwner == "" })
	if got := ticket(); strings.Join(got, "|") != strings.Join(want, "|") {
		t.Errorf("ticket lines\n got %v\nwant %v", got, want)
	}
}
