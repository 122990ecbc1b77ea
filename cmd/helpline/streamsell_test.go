package main

import (
	"bytes"
	"compress/gzip"
	"context"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/helplinehq/helpline/connector/streamchat/streamchattest"
	"github.com/helplinehq/helpline/connector/zendesksell/zendeskselltest"
)

// streamConfig is README's Stream Chat example, as written, followed by a
// Sell connector writing to fake in mode.
func streamConfig(t *testing.T, fakeURL, mode string) string {
	t.Helper()
	cfg := `connectors:
  - name: stream
    kind: streamchat
    api_key: abc123                # the Stream app's API key (checked against X-Api-Key)
    secret_env: STREAM_SECRET      # the app's API secret, which signs the webhook
    instance_id: default
    contact_flow_id: default
    agent_roles: [admin, moderator]   # Stream roles that speak as agents (default)
    agent_user_ids: [support-bot]     # and/or individual users
  - name: sell
    kind: zendesksell
    token_env: SELL_TOKEN
    base_url: ` + fakeURL + `
    mode: ` + mode + `
    requests_per_second: 1000
mirror:
  poll_interval: 20ms
`
	path := filepath.Join(t.TempDir(), "helpline.yaml")
	if err := os.WriteFile(path, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// The tutorial's order on a fresh data directory with README's Stream
// configuration: the admin creates each channel with no members, adds the
// customer, then both sides write at once; Stream delivers every event
// twice and one of them gzipped. Every line lands once, under its author,
// on the customer's one lead.
func TestStreamTutorialIntoSell(t *testing.T) {
	for _, mode := range []string{"notes", "description"} {
		t.Run(mode, func(t *testing.T) {
			fake := zendeskselltest.NewServer("sell-token")
			defer fake.Close()
			t.Setenv("STREAM_SECRET", "stream-secret")
			t.Setenv("SELL_TOKEN", "sell-token")
			s := startServe(t, "--config", streamConfig(t, fake.URL, mode), "--data", filepath.Join(t.TempDir(), "data"), "--disable-rate-limits")
			hook := s.url() + "/connectors/stream/webhook"
			deliver := func(ev streamchattest.Event, zipped bool) {
				body := ev.JSON()
				raw := body
				if zipped {
					var b bytes.Buffer
					zw := gzip.NewWriter(&b)
					zw.Write(body)
					zw.Close()
					raw = b.Bytes()
				}
				for attempt := 1; attempt <= 2; attempt++ { // Stream's retry
					r := streamchattest.Request(hook, raw, "abc123", "stream-secret", "wh", attempt)
					r.Header.Set("X-Signature", streamchattest.Sign(body, "stream-secret"))
					resp, err := http.DefaultClient.Do(r)
					if err != nil {
						t.Error(err)
						return
					}
					resp.Body.Close()
					if resp.StatusCode != http.StatusOK {
						t.Errorf("%s: status %d", ev.Type, resp.StatusCode)
					}
				}
			}
			channels := 1
			if mode == "description" {
				channels = 4 // every channel's customer is Ada: one lead
			}
			ada := streamchattest.User{ID: "ada", Name: "Ada Lovelace", Role: "user", Extra: map[string]any{"email": "ada@example.com"}}
			grace := streamchattest.User{ID: "grace", Name: "Grace", Role: "admin"}
			const perSide = 15
			var want []string
			var wg sync.WaitGroup
			for ch := 0; ch < channels; ch++ {
				id := fmt.Sprintf("sales-%d", ch)
				deliver(streamchattest.Event{Type: "channel.created", ChannelType: "messaging", ChannelID: id, User: &grace, CreatedAt: time.Now()}, false)
				deliver(streamchattest.Event{Type: "member.added", ChannelType: "messaging", ChannelID: id, User: &grace, Member: &ada, CreatedAt: time.Now()}, ch == 0)
				for _, u := range []streamchattest.User{ada, grace} {
					wg.Add(1)
					go func() {
						defer wg.Done()
						for i := 0; i < perSide; i++ {
							m := streamchattest.Message{ID: fmt.Sprintf("%s-%s-%d", id, u.ID, i), Text: fmt.Sprintf("%s %s %d", id, u.ID, i), User: u, CreatedAt: time.Now()}
							deliver(streamchattest.MessageNew("messaging", id, m, ada, grace), i == 3)
						}
					}()
					role := "customer"
					if u.ID == "grace" {
						role = "agent"
					}
					for i := 0; i < perSide; i++ {
						want = append(want, fmt.Sprintf("%s (%s): %s %s %d", u.Name, role, id, u.ID, i))
					}
				}
			}
			wg.Wait()
			text := func() string {
				var b strings.Builder
				for _, l := range fake.Leads() {
					b.WriteString(l.Description + "\n")
					for _, n := range fake.Notes(l.ID) {
						b.WriteString(n.Content + "\n")
					}
				}
				return b.String()
			}
			waitFor(t, "every line in Sell", func() bool {
				all := text()
				for _, w := range want {
					if !strings.Contains(all, w+"\n") {
						return false
					}
				}
				return true
			})
			all := text()
			for _, w := range want {
				if n := strings.Count(all, w+"\n"); n != 1 {
					t.Errorf("%q written %d times", w, n)
				}
			}
			if strings.Contains(all, "Stream user") && strings.Contains(all, "Stream user (customer):") {
				t.Errorf("a line under the placeholder name:\n%s", all)
			}
			leads := fake.Leads()
			if len(leads) != 1 || leads[0].Email != "ada@example.com" || leads[0].LastName != "Lovelace" {
				t.Fatalf("leads %+v, want Ada Lovelace's one lead", leads)
			}
		})
	}
}

// A Stream source naming an instance or flow that does not exist is
// refused at start, with the key named.
func TestServeRefusesStreamSourceWithUnknownInstance(t *testing.T) {
	t.Setenv("STREAM_SECRET", "stream-secret")
	for key, settings := range map[string]string{
		`instance_id "acme"`:    "instance_id: acme",
		`contact_flow_id "web"`: "contact_flow_id: web",
	} {
		cfg := "connectors:\n  - name: stream\n    kind: streamchat\n    secret_env: STREAM_SECRET\n    " + settings + "\n"
		path := filepath.Join(t.TempDir(), "helpline.yaml")
		if err := os.WriteFile(path, []byte(cfg), 0o600); err != nil {
			t.Fatal(err)
		}
		var out, errs bytes.Buffer
		err := run(context.Background(), []string{"serve", "--listen", "127.0.0.1:0", "--config", path, "--data", t.TempDir()}, &out, &errs)
		if err == nil || !strings.Contains(err.Error(), key) || !strings.Contains(err.Error(), "connector stream") {
			t.Errorf("%s: err = %v, want a refusal naming connector stream and %s", settings, err, key)
		}
	}
}

// The lead the team chose: a fixed lead_id in the Sell connector's
// settings, or a lead id kept on the Stream channel's custom data and
// carried into a contact attribute. Either way every line lands on that
// lead and no lead is made from the customer's email.
func TestStreamIntoTheChosenSellLead(t *testing.T) {
	for _, tc := range []struct {
		name, stream, sell string
		channel            func(leadID int64) map[string]any
	}{
		{"configured lead", "", "    lead_id: %d\n", nil},
		{"channel custom field", "    channel_attributes: [sell_lead_id]\n", "    lead_attribute: sell_lead_id\n",
			func(leadID int64) map[string]any { return map[string]any{"sell_lead_id": leadID} }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			fake := zendeskselltest.NewServer("sell-token")
			defer fake.Close()
			chosen := fake.AddLead(zendeskselltest.Lead{FirstName: "Team", LastName: "Chosen", Email: "sales-team@example.com"})
			t.Setenv("STREAM_SECRET", "stream-secret")
			t.Setenv("SELL_TOKEN", "sell-token")
			sell := tc.sell
			if strings.Contains(sell, "%d") {
				sell = fmt.Sprintf(sell, chosen)
			}
			cfg := "connectors:\n  - name: stream\n    kind: streamchat\n    api_key: abc123\n    secret_env: STREAM_SECRET\n" + tc.stream +
				"  - name: sell\n    kind: zendesksell\n    token_env: SELL_TOKEN\n    base_url: " + fake.URL + "\n    requests_per_second: 1000\n" + sell +
				"mirror:\n  poll_interval: 20ms\n"
			path := filepath.Join(t.TempDir(), "helpline.yaml")
			if err := os.WriteFile(path, []byte(cfg), 0o600); err != nil {
				t.Fatal(err)
			}
			s := startServe(t, "--config", path, "--data", filepath.Join(t.TempDir(), "data"), "--disable-rate-limits")
			hook := s.url() + "/connectors/stream/webhook"
			deliver := func(ev streamchattest.Event) {
				t.Helper()
				resp, err := http.DefaultClient.Do(streamchattest.Request(hook, ev.JSON(), "abc123", "stream-secret", "wh", 1))
				if err != nil {
					t.Fatal(err)
				}
				resp.Body.Close()
				if resp.StatusCode != http.StatusOK {
					t.Fatalf("%s: status %d", ev.Type, resp.StatusCode)
				}
			}
			ada := streamchattest.User{ID: "ada", Name: "Ada Lovelace", Role: "user", Extra: map[string]any{"email": "ada@example.com"}}
			grace := streamchattest.User{ID: "grace", Name: "Grace", Role: "admin"}
			created := streamchattest.Event{Type: "channel.created", ChannelType: "messaging", ChannelID: "deal-1", User: &grace, Members: []streamchattest.User{ada, grace}, CreatedAt: time.Now()}
			if tc.channel != nil {
				created.Channel = tc.channel(chosen)
			}
			deliver(created)
			var want []string
			for i := 0; i < 4; i++ {
				u, role := ada, "customer"
				if i%2 == 1 {
					u, role = grace, "agent"
				}
				m := streamchattest.Message{ID: fmt.Sprintf("m%d", i), Text: fmt.Sprintf("line %d", i), User: u, CreatedAt: time.Now()}
				deliver(streamchattest.MessageNew("messaging", "deal-1", m, ada, grace))
				want = append(want, fmt.Sprintf("%s (%s): line %d", u.Name, role, i))
			}
			notes := func() string {
				var b strings.Builder
				for _, n := range fake.Notes(chosen) {
					b.WriteString(n.Content + "\n")
				}
				return b.String()
			}
			waitFor(t, "every line on the chosen lead", func() bool {
				all := notes()
				for _, w := range want {
					if !strings.Contains(all, w+"\n") {
						return false
					}
				}
				return true
			})
			all := notes()
			for _, w := range want {
				if n := strings.Count(all, w+"\n"); n != 1 {
					t.Errorf("%q written %d times on the chosen lead", w, n)
				}
			}
			if leads := fake.Leads(); len(leads) != 1 {
				t.Errorf("%d leads, want only the chosen one: %+v", len(leads), leads)
			}
		})
	}
}
