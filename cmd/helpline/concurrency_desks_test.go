package main

import (
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/helplinehq/helpline/connector/freshdesk/freshdesktest"
	"github.com/helplinehq/helpline/connector/kustomer/kustomertest"
	"github.com/helplinehq/helpline/internal/loadtest"
)

// concDeskBudget is the per-minute budget of the fakes in the Kustomer
// and Freshdesk concurrency tests: Kustomer's org budget (10,000), and
// half of Freshdesk's account budget (20,000, of which 8,000 for ticket
// writes, Freshdesk's 40%). No plan of either has it
// (Kustomer Ultimate 2,000 requests; Freshdesk Enterprise 280 ticket
// writes): 200 chats × 50 alternating lines are 10,000 messages or
// conversations, which no documented budget writes in under two minutes,
// so the test runs an account with a larger one, enforced as the
// documented ones are, and the connector is configured with it.
// Kustomer's per-customer cap (120 messages a minute) is as documented.
const concDeskBudget = 10000

// concDesk runs 200 chats × 50 messages, customer and agent interleaved,
// all sent at once, against serve mirroring with cfg (a connectors:
// section), waits until lines(contactID) finds every line of every chat in
// the helpdesk (within, after the first line was sent, at most), and
// checks each chat's lines are there once, in order. With ready set, the
// lines are sent once the chats are started and ready reports true.
func concDesk(t *testing.T, cfg string, ready func() bool, within time.Duration, lines func(contactID string) []string) {
	t.Helper()
	const nChats, nLines = 200, 50
	path := filepath.Join(t.TempDir(), "helpline.yaml")
	if err := os.WriteFile(path, []byte("mirror:\n  poll_interval: 50ms\n"+cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	s := startServe(t, "--config", path, "--data", filepath.Join(t.TempDir(), "data"), "--disable-rate-limits")
	hc := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 256}, Timeout: 30 * time.Second}
	chats := make([]*concChat, nChats)
	cc := s.connect()
	if err := loadtest.Parallel(nChats, 16, func(i int) (err error) {
		// A customer each: one customer's chats share Kustomer's
		// per-customer cap, a different test.
		chats[i], err = startConcChat(cc, hc, s, i, fmt.Sprintf("customer%03d@example.com", i))
		return err
	}); err != nil {
		t.Fatal(err)
	}
	for deadline := time.Now().Add(3 * time.Minute); ready != nil && !ready(); time.Sleep(200 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("the helpdesk was not ready 3 minutes after the chats started")
		}
	}
	began := time.Now()
	if err := loadtest.Parallel(nChats, nChats, func(i int) error {
		c := chats[i]
		for j := range nLines {
			token := c.customer
			if j%2 == 1 {
				token = c.agent
			}
			if err := postParticipant(hc, s.url(), "/participant/message", token,
				map[string]string{"ContentType": "text/plain", "Content": concLine(i, j)}, nil); err != nil {
				return fmt.Errorf("chat %d message %d: %w", i, j, err)
			}
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	sent := time.Since(began)
	caughtUp := func() int {
		n := 0
		for _, c := range chats {
			if len(lines(c.contactID)) >= nLines {
				n++
			}
		}
		return n
	}
	for deadline := began.Add(within); caughtUp() < nChats; time.Sleep(200 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Errorf("%s after the first line was sent the helpdesk holds every line of %d chats of %d", within, caughtUp(), nChats)
			break
		}
	}
	t.Logf("%d chats × %d messages sent in %s, mirrored %s after the first was sent",
		nChats, nLines, sent.Round(time.Millisecond), time.Since(began).Round(time.Millisecond))
	for i, c := range chats {
		var want []string
		for j := range nLines {
			want = append(want, concLine(i, j))
		}
		if got := lines(c.contactID); !slices.Equal(got, want) {
			t.Errorf("chat %d: the helpdesk holds\n%v\nwant\n%v", i, got, want)
		}
	}
}

// saidLines returns the chat lines of text: "[10:42:07] Ada (customer):
// text" lines by their text, and a whole text that is no such line as
// itself (a message holding one line).
func saidLines(text string) []string {
	var out []string
	for _, l := range strings.Split(strings.TrimSpace(text), "\n") {
		if said, ok := loadtest.Said(l); ok {
			out = append(out, said)
		} else if !strings.HasPrefix(text, "[") {
			return []string{strings.TrimSpace(text)}
		}
	}
	return out
}

// 200 chats × 50 messages mirrored into Kustomer, against a fake that
// enforces the per-customer cap of 120 messages a minute and an org
// budget (concDeskBudget) with x-ratelimit-* headers: every line is on
// its contact's one conversation once, in order, and Kustomer answered
// no request with 429. It takes about 90 s.
func TestServeMirrorsConcurrentChatsToKustomer(t *testing.T) {
	fake := kustomertest.NewServer(kustomertest.Options{RequestsPerMinute: concDeskBudget})
	defer fake.Close()
	t.Setenv("CONC_KUSTOMER_KEY", "kus-key")
	concDesk(t, fmt.Sprintf(`connectors:
  - name: kustomer
    kind: kustomer
    base_url: %s
    api_key_env: CONC_KUSTOMER_KEY
    requests_per_minute: %d
    status_on_end: none
`, fake.URL, concDeskBudget), nil, 3*time.Minute, func(contactID string) []string {
		var out []string
		for _, cv := range fake.ConversationsByExternalID(contactID) {
			for _, m := range cv.Messages {
				out = append(out, saidLines(m.Body())...)
			}
		}
		return out
	})
	st := fake.Stats()
	t.Logf("Kustomer: %d requests, %d conversations, %d messages, %d notes, %d answered 429", st.Requests, st.Conversations, st.Messages, st.Notes, st.TooMany)
	if st.Conversations != 200 {
		t.Errorf("%d conversations for 200 chats", st.Conversations)
	}
	if st.TooMany > 0 {
		t.Errorf("Kustomer answered %d requests with 429: the connector's pacing let it exceed the limits", st.TooMany)
	}
}

// 200 chats × 50 messages mirrored into Freshdesk, against a fake that
// enforces an account budget of 20,000 requests a minute, 8,000 of them
// (concDeskBudget × 0.8, Freshdesk's 40%) for ticket creates and updates,
// notes and replies counted with them, with X-RateLimit-* headers: every
// line is in its contact's one ticket once, in order, and Freshdesk
// answered no request with 429. It takes about 90 s.
func TestServeMirrorsConcurrentChatsToFreshdesk(t *testing.T) {
	fake := freshdesktest.NewServer(freshdesktest.Options{RequestsPerMinute: 2 * concDeskBudget, TicketWritesPerMinute: 2 * concDeskBudget * 4 / 10}) // 20,000 and 8,000
	defer fake.Close()
	t.Setenv("CONC_FRESHDESK_KEY", "fd-key")
	concDesk(t, fmt.Sprintf(`connectors:
  - name: freshdesk
    kind: freshdesk
    base_url: %s
    api_key_env: CONC_FRESHDESK_KEY
    requests_per_minute: %d
    status_on_end: none
`, fake.URL, 2*concDeskBudget), nil, 3*time.Minute, func(contactID string) []string {
		return freshdeskLines(fake, contactID)
	})
	st := fake.Stats()
	t.Logf("Freshdesk: %d requests, %d tickets, %d conversations, %d answered 429", st.Requests, st.TicketCreates, st.Conversations, st.TooMany)
	if st.TicketCreates != 200 {
		t.Errorf("%d tickets for 200 chats", st.TicketCreates)
	}
	if st.TooMany > 0 {
		t.Errorf("Freshdesk answered %d requests with 429: the connector's limiter let it exceed the limits", st.TooMany)
	}
}

// freshdeskLines returns the chat lines in contactID's tickets, in order.
func freshdeskLines(fake *freshdesktest.Server, contactID string) []string {
	var out []string
	for _, tk := range fake.TicketsOf(contactID) {
		for _, l := range strings.Split(tk.Transcript(), "\n") {
			if said, ok := loadtest.Said(l); ok {
				out = append(out, said)
			}
		}
	}
	return out
}

// 200 chats × 50 messages, customer and agent taking turns, mirrored into
// Freshdesk at the Enterprise plan's documented limits, enforced by the
// fake as Freshdesk counts them (700 requests a minute, 280 of them ticket
// creates and updates, notes and replies with them), with the connector
// configured as README says (following X-RateLimit-Total, from the trial's
// 50 until the first answer). The lines are sent once every chat's ticket
// exists (made of its join events), so none can hide in a description:
// every line is in its contact's one ticket once, in order, within 4
// minutes of the first line, and Freshdesk answered no request with 429.
//
// Why 4 minutes: the connector paces ticket writes at 95% of 280, 266 a
// minute. Each chat's 50 lines need at least one conversation (a reply,
// the agent having the last word): 200 writes, 45 s. The lines take a
// second or two to send, so a chat's lines come in a few deliveries, each
// gathered into one reply and at most one incoming note: some 400-600
// writes, 1.5 to 2.3 minutes, and the rest is margin for the shared
// machine. One conversation per line, as before gathering, is 10,000
// writes: 40 minutes.
func TestServeMirrorsConcurrentChatsToFreshdeskEnterprise(t *testing.T) {
	fake := freshdesktest.NewServer(freshdesktest.Options{
		RequestsPerMinute:     freshdesktest.EnterpriseRequestsPerMinute,
		TicketWritesPerMinute: freshdesktest.EnterpriseTicketWritesPerMinute,
	})
	defer fake.Close()
	t.Setenv("CONC_FRESHDESK_KEY", "fd-key")
	concDesk(t, fmt.Sprintf(`connectors:
  - name: freshdesk
    kind: freshdesk
    base_url: %s
    api_key_env: CONC_FRESHDESK_KEY
    status_on_end: none
`, fake.URL), func() bool { return fake.Stats().TicketCreates == 200 }, 4*time.Minute, func(contactID string) []string {
		return freshdeskLines(fake, contactID)
	})
	st := fake.Stats()
	t.Logf("Freshdesk Enterprise: %d requests, %d tickets, %d conversations, %d answered 429", st.Requests, st.TicketCreates, st.Conversations, st.TooMany)
	if st.TicketCreates != 200 {
		t.Errorf("%d tickets for 200 chats", st.TicketCreates)
	}
	if st.TooMany > 0 {
		t.Errorf("Freshdesk answered %d requests with 429: the connector's limiter let it exceed the Enterprise limits", st.TooMany)
	}
}
