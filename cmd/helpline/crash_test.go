package main

import (
	"bufio"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/helplinehq/helpline/connector/webhook/webhooktest"
	"github.com/helplinehq/helpline/connector/zendesk/zendesktest"
	"github.com/helplinehq/helpline/internal/loadtest"
	"github.com/helplinehq/helpline/mirror/mirrortest"
)

// crashServe runs the built binary's serve as a child process and returns
// it with the banner read; the test kills it.
func crashServe(t *testing.T, bin string, env []string, args ...string) (*exec.Cmd, *testServer, *loadtest.LogBuffer) {
	t.Helper()
	cmd := exec.Command(bin, append([]string{"serve", "--listen", "127.0.0.1:0"}, args...)...)
	cmd.Env = append(os.Environ(), env...)
	logs := &loadtest.LogBuffer{}
	cmd.Stderr = logs
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cmd.Process.Kill()
		cmd.Wait()
	})
	s := &testServer{banner: map[string]string{}}
	sc := bufio.NewScanner(out)
	for sc.Scan() && !strings.HasPrefix(sc.Text(), "Point ") {
		if k, v, ok := strings.Cut(sc.Text(), ":"); ok {
			s.banner[strings.TrimSpace(k)] = strings.TrimSpace(v)
		}
	}
	if s.url() == "" {
		t.Fatalf("serve did not start:\n%s", logs)
	}
	return cmd, s, logs
}

// buildHelpline builds the binary into dir and returns its path.
func buildHelpline(t *testing.T, dir string) string {
	t.Helper()
	bin := filepath.Join(dir, "helpline")
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	return bin
}

// The process is killed (SIGKILL) while deliveries to a webhook and to
// Zendesk are in flight — landed at the other end, not yet acknowledged —
// and restarted on the same data directory. Afterwards every item is at
// the webhook receiver in order per contact, repeated only under its
// delivery id, and every chat line is in its contact's one Zendesk ticket
// exactly once, in order.
func TestServeSurvivesSIGKILLMidDelivery(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary and kills it")
	}
	dir := t.TempDir()
	bin := buildHelpline(t, dir)

	recv := webhooktest.NewReceiver("hook-secret")
	defer recv.Close()
	hooks := mirrortest.NewProxy(recv.URL)
	defer hooks.Close()
	// Account limits above the documented plan limits: this test is about
	// crashes, not pacing (the concurrency test enforces them).
	fake := zendesktest.NewServer(zendesktest.Options{RequestsPerMinute: 2500, UpdatesPerMinute: 1000})
	defer fake.Close()
	desk := mirrortest.NewProxy(fake.URL)
	defer desk.Close()
	// Answers come late: the items landed, the server does not know yet.
	hooks.SetLag(300*time.Millisecond, nil)
	desk.SetLag(time.Second, func(r *http.Request) bool { return r.Method == http.MethodPut })

	// The lease is long: deliveries get two thirds of it, so slow answers
	// do not time out, and the restarted server must not wait for the
	// killed process's leases to run out (it releases them, and says so).
	cfgPath := filepath.Join(dir, "helpline.yaml")
	cfg := fmt.Sprintf(`
mirror:
  lease: 10s
  poll_interval: 50ms
connectors:
  - name: hooks
    kind: webhook
    urls: [%s]
    secret_env: HOOK_SECRET
    timeout: 5s
    batch_size: 4
  - name: zendesk
    kind: zendesk
    base_url: %s
    email: bot@example.com
    token_env: ZENDESK_TOKEN
    requests_per_minute: 2500
    updates_per_minute: 1000
    timeout_seconds: 5
`, hooks.URL, desk.URL)
	if err := os.WriteFile(cfgPath, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	env := []string{"HOOK_SECRET=hook-secret", "ZENDESK_TOKEN=zd-token", "HELPLINE_API_TOKEN="}
	args := []string{"--config", cfgPath, "--data", filepath.Join(dir, "data"), "--disable-rate-limits"}
	proc, s, _ := crashServe(t, bin, env, args...)

	type chat struct {
		id              string
		customer, agent chatSide
		want            []string
	}
	const contacts = 6
	chats := make([]*chat, contacts)
	for i := range chats {
		id, cust, agent := startMirroredChat(t, s)
		chats[i] = &chat{id: id, customer: cust, agent: agent}
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
				c.want = append(c.want, line)
			}
		}
	}
	delivered := func(c *chat) bool {
		tk, _ := fake.TicketByExternalID(c.id)
		return len(messages(recv, c.id)) >= len(c.want) && len(tk.PublicChatLines()) >= len(c.want)
	}
	talk(s, "before", 6)
	waitFor(t, "the first lines delivered", func() bool {
		for _, c := range chats {
			if !delivered(c) {
				return false
			}
		}
		return true
	})
	// More lines, and a kill once both helpdesks hold answers to requests
	// that carried them and landed.
	talk(s, "during", 4)
	waitFor(t, "deliveries in flight", func() bool { return hooks.Held() > 0 && desk.Held() > 0 })
	if err := proc.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	proc.Wait()
	// Zendesk stays slow, so that the lines sent after the restart gather
	// into one update per ticket, within the connector's per-ticket pacing
	// (a burst of 5 updates per process).
	hooks.SetLag(0, nil)
	before := len(recv.Deliveries())

	_, s, logs := crashServe(t, bin, env, args...)
	talk(s, "after", 4)

	behind := func() string {
		var out []string
		for _, c := range chats {
			if !delivered(c) {
				tk, _ := fake.TicketByExternalID(c.id)
				out = append(out, fmt.Sprintf("%s: webhook %d, zendesk %d of %d", c.id, len(messages(recv, c.id)), len(tk.PublicChatLines()), len(c.want)))
			}
		}
		return strings.Join(out, "; ")
	}
	for deadline := time.Now().Add(20 * time.Second); behind() != ""; time.Sleep(20 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("not delivered 20 s after the restart: %s\nlogs:\n%s", behind(), logs)
		}
	}

	if !regexp.MustCompile(`released the leases of a previous run.* pairs=[1-9]`).MatchString(logs.String()) {
		t.Errorf("the restarted server did not release the killed process's leases; logs:\n%s", logs)
	}

	// Webhook: every item in order per contact, repeats only under the
	// same delivery id, and a repeat of what the killed process sent
	// comes as a retry (attempt 2 or more) for the receiver to drop.
	ids := map[string]string{}
	repeats := 0
	for i, d := range recv.Deliveries() {
		prev, seen := ids[d.ItemID]
		if seen && prev != d.ID {
			t.Errorf("item %s delivered under ids %s and %s", d.ItemID, prev, d.ID)
		}
		if seen {
			repeats++
			if i >= before && d.Attempt < 2 {
				t.Errorf("item %s sent again after the restart with attempt %d, want ≥ 2", d.ItemID, d.Attempt)
			}
		}
		ids[d.ItemID] = d.ID
	}
	t.Logf("%d webhook deliveries before the kill, %d after; %d repeated", before, len(recv.Deliveries())-before, repeats)
	for _, c := range chats {
		var seqs []int64
		for _, d := range recv.Unique() {
			if d.ContactID == c.id {
				seqs = append(seqs, d.Seq)
			}
		}
		for i, seq := range seqs {
			if seq != int64(i+1) {
				t.Errorf("contact %s: webhook items by seq %v, want 1, 2, 3, ... in order", c.id, seqs)
				break
			}
		}
		if got := messages(recv, c.id); strings.Join(got, "|") != strings.Join(c.want, "|") {
			t.Errorf("contact %s: webhook messages\n got %v\nwant %v", c.id, got, c.want)
		}
	}

	// Zendesk: one ticket per contact, every line once, in order.
	if n := len(fake.Tickets()); n != contacts {
		t.Errorf("%d tickets, want %d", n, contacts)
	}
	for _, c := range chats {
		tk, ok := fake.TicketByExternalID(c.id)
		if !ok {
			t.Errorf("contact %s has no ticket", c.id)
			continue
		}
		if got := tk.PublicChatLines(); strings.Join(got, "|") != strings.Join(c.want, "|") {
			t.Errorf("contact %s: ticket %d lines\n got %v\nwant %v", c.id, tk.ID, got, c.want)
		}
		joined := 0
		for _, cm := range tk.Comments {
			joined += strings.Count(cm.Body, "joined the chat")
		}
		if joined != 2 {
			t.Errorf("contact %s: %d join lines in the ticket, want 2 (customer, agent)", c.id, joined)
		}
	}
}
