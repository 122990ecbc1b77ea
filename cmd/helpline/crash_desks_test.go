package main

import (
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/helplinehq/helpline/connector/freshdesk/freshdesktest"
	"github.com/helplinehq/helpline/connector/kustomer/kustomertest"
	"github.com/helplinehq/helpline/mirror/mirrortest"
)

// crashDesk is TestServeSurvivesSIGKILLMidDelivery for one helpdesk: the
// binary serves with connector (a connectors: entry whose %s is the
// helpdesk's address) mirroring into target through a proxy that holds
// the answers to writes for a second, so they land before the server
// hears of them. Four chats say six lines, then four more; the process
// is killed (SIGKILL) while writes are held, restarted on the same data
// directory, and the chats say four more. It returns each contact's
// lines in the order said, once lines(contact) holds as many as were
// said (20 s after the restart at most).
func crashDesk(t *testing.T, target, connector string, env []string, lines func(contactID string) []string) map[string][]string {
	t.Helper()
	if testing.Short() {
		t.Skip("builds the binary and kills it")
	}
	dir := t.TempDir()
	bin := buildHelpline(t, dir)
	desk := mirrortest.NewProxy(target)
	t.Cleanup(desk.Close)
	desk.SetLag(time.Second, func(r *http.Request) bool { return r.Method != http.MethodGet })

	cfgPath := filepath.Join(dir, "helpline.yaml")
	cfg := "mirror:\n  lease: 10s\n  poll_interval: 50ms\nconnectors:\n" + fmt.Sprintf(connector, desk.URL)
	if err := os.WriteFile(cfgPath, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	env = append(env, "HELPLINE_API_TOKEN=")
	args := []string{"--config", cfgPath, "--data", filepath.Join(dir, "data"), "--disable-rate-limits"}
	proc, s, _ := crashServe(t, bin, env, args...)

	type chat struct {
		id              string
		customer, agent chatSide
	}
	chats := make([]chat, 4)
	want := map[string][]string{}
	for i := range chats {
		id, cust, agent := startMirroredChat(t, s)
		chats[i] = chat{id: id, customer: cust, agent: agent}
	}
	talk := func(s *testServer, phase string, n int) {
		for i := range n {
			for ci, c := range chats {
				side, who := c.customer, "customer"
				if i%2 == 1 {
					side, who = c.agent, "agent"
				}
				line := fmt.Sprintf("%s c%d %s %d", phase, ci, who, i)
				side.say(t, s, line)
				want[c.id] = append(want[c.id], line)
			}
		}
	}
	behind := func() string {
		var out []string
		for _, c := range chats {
			if got := len(lines(c.id)); got < len(want[c.id]) {
				out = append(out, fmt.Sprintf("%s: %d of %d", c.id, got, len(want[c.id])))
			}
		}
		return strings.Join(out, "; ")
	}
	talk(s, "before", 6)
	waitFor(t, "the first lines delivered", func() bool { return behind() == "" })
	talk(s, "during", 4)
	waitFor(t, "writes in flight", func() bool { return desk.Held() > 0 })
	held := desk.Held()
	if err := proc.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	proc.Wait()

	_, s, logs := crashServe(t, bin, env, args...)
	talk(s, "after", 4)
	for deadline := time.Now().Add(20 * time.Second); behind() != ""; time.Sleep(20 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("not delivered 20 s after the restart: %s\nlogs:\n%s", behind(), logs)
		}
	}
	if !regexp.MustCompile(`released the leases of a previous run.* pairs=[1-9]`).MatchString(logs.String()) {
		t.Errorf("the restarted server did not release the killed process's leases; logs:\n%s", logs)
	}
	t.Logf("killed with %d writes landed and not yet answered", held)
	return want
}

// Killed mid-delivery into Kustomer and restarted: every line is in its
// contact's one conversation once, in order (the restarted process reads
// the conversation's messages before it sends again).
func TestServeSurvivesSIGKILLMidDeliveryToKustomer(t *testing.T) {
	// An org budget above the documented plans: this test is about
	// crashes, not pacing (the concurrency tests enforce the limits).
	fake := kustomertest.NewServer(kustomertest.Options{RequestsPerMinute: 5000})
	defer fake.Close()
	want := crashDesk(t, fake.URL, `  - name: kustomer
    kind: kustomer
    base_url: %s
    api_key_env: CRASH_KUSTOMER_KEY
    requests_per_minute: 5000
    status_on_end: none
    timeout_seconds: 5
`, []string{"CRASH_KUSTOMER_KEY=kus-key"}, func(contactID string) []string {
		var out []string
		for _, cv := range fake.ConversationsByExternalID(contactID) {
			for _, m := range cv.Messages {
				out = append(out, saidLines(m.Body())...)
			}
		}
		return out
	})
	for id, lines := range want {
		convs := fake.ConversationsByExternalID(id)
		if len(convs) != 1 {
			t.Errorf("contact %s: %d conversations, want 1", id, len(convs))
			continue
		}
		var got []string
		for _, m := range convs[0].Messages {
			got = append(got, saidLines(m.Body())...)
		}
		if strings.Join(got, "|") != strings.Join(lines, "|") {
			t.Errorf("contact %s: conversation lines\n got %v\nwant %v", id, got, lines)
		}
		joined := 0
		for _, n := range convs[0].Notes {
			joined += strings.Count(n.Body, "joined the chat")
		}
		if joined != 2 {
			t.Errorf("contact %s: %d join lines in the notes, want 2 (customer, agent)", id, joined)
		}
	}
}

// Killed mid-delivery into Freshdesk and restarted: every line is in its
// contact's one ticket once, in order (the restarted process finds the
// ranges already there by their markers before it sends again).
func TestServeSurvivesSIGKILLMidDeliveryToFreshdesk(t *testing.T) {
	fake := freshdesktest.NewServer(freshdesktest.Options{RequestsPerMinute: 5000, TicketWritesPerMinute: 2000})
	defer fake.Close()
	want := crashDesk(t, fake.URL, `  - name: freshdesk
    kind: freshdesk
    base_url: %s
    api_key_env: CRASH_FRESHDESK_KEY
    requests_per_minute: 5000
    status_on_end: none
    timeout_seconds: 5
`, []string{"CRASH_FRESHDESK_KEY=fd-key"}, func(contactID string) []string {
		return freshdeskLines(fake, contactID)
	})
	for id, lines := range want {
		tickets := fake.TicketsOf(id)
		if len(tickets) != 1 {
			t.Errorf("contact %s: %d tickets, want 1", id, len(tickets))
			continue
		}
		if got := freshdeskLines(fake, id); strings.Join(got, "|") != strings.Join(lines, "|") {
			t.Errorf("contact %s: ticket %d lines\n got %v\nwant %v", id, tickets[0].ID, got, lines)
		}
		if joined := strings.Count(tickets[0].Transcript(), "joined the chat"); joined != 2 {
			t.Errorf("contact %s: %d join lines in the ticket, want 2 (customer, agent)", id, joined)
		}
	}
}
