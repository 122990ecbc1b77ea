package main

import (
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/connect"
	"github.com/aws/aws-sdk-go-v2/service/connect/types"

	"github.com/helplinehq/helpline/connector/webhook/webhooktest"
	"github.com/helplinehq/helpline/connector/zendesk/zendesktest"
	"github.com/helplinehq/helpline/connector/zendesksell/zendeskselltest"
	"github.com/helplinehq/helpline/internal/loadtest"
)

// concZendeskScale multiplies Zendesk's documented Enterprise account
// limits (700 requests and 100 ticket updates a minute) in the
// concurrency test's fake. Three times gives the High Volume add-on's
// documented 300 ticket updates a minute, with 2,100 requests a minute
// (under its 2,500); at the plain Enterprise limits 200 new tickets would
// need two minutes for their first comments alone. The connector is
// configured with the same limits; the per-ticket limit (30 updates in
// 10 minutes) is as documented. The test takes about 80 s.
const concZendeskScale = 3

// concEmail is every customer's email: the Sell connector links all the
// contacts to one lead, whose description they all append to.
const concEmail = "shared.customer@example.com"

// concChat is a chat of the concurrency test: its contact and the
// connection tokens of its customer and agent.
type concChat struct {
	contactID       string
	customer, agent string
}

// concLine is the text of message j of chat i; the one who speaks alternates,
// customer first.
func concLine(i, j int) string {
	who := "customer"
	if j%2 == 1 {
		who = "agent"
	}
	return fmt.Sprintf("c%03d m%02d %s", i, j, who)
}

// 200 chats × 50 messages, customer and agent interleaved, all sent at
// once, are mirrored by three connectors at the same time: Zendesk Support
// (against a fake enforcing the account and per-ticket update limits),
// Zendesk Sell in description mode (every contact appending to the one
// lead of their shared email: the lost-update hazard) and a webhook.
// Afterwards every line is in each system exactly once and, per contact,
// in the order it was sent. It takes about 90 s on two cores, most of it
// the Zendesk connector's per-ticket pacing (after five quick updates a
// ticket gets one every 24 s).
func TestServeMirrorsConcurrentChatsExactlyOnce(t *testing.T) {
	const nChats, nLines = 200, 50
	zd := zendesktest.NewServer(zendesktest.Options{
		RequestsPerMinute:     zendesktest.EnterpriseRequestsPerMinute * concZendeskScale,
		UpdatesPerMinute:      zendesktest.EnterpriseUpdatesPerMinute * concZendeskScale,
		TicketUpdatesPer10Min: zendesktest.TicketUpdatesPer10Min,
	})
	defer zd.Close()
	sell := zendeskselltest.NewServer("sell-token")
	defer sell.Close()
	recv := webhooktest.NewReceiver("hook-secret")
	defer recv.Close()

	t.Setenv("CONC_ZENDESK_TOKEN", "zd-token")
	t.Setenv("CONC_SELL_TOKEN", "sell-token")
	t.Setenv("CONC_HOOK_SECRET", "hook-secret")
	cfg := fmt.Sprintf(`
mirror:
  poll_interval: 50ms
connectors:
  - name: zendesk
    kind: zendesk
    base_url: %s
    email: bot@example.com
    token_env: CONC_ZENDESK_TOKEN
    requests_per_minute: %d
    updates_per_minute: %d
    status_on_end: none
  - name: sell
    kind: zendesksell
    base_url: %s
    token_env: CONC_SELL_TOKEN
    mode: description
    requests_per_second: 10000
  - name: hooks
    kind: webhook
    urls: [%s]
    secret_env: CONC_HOOK_SECRET
`, zd.URL, zendesktest.EnterpriseRequestsPerMinute*concZendeskScale, zendesktest.EnterpriseUpdatesPerMinute*concZendeskScale, sell.URL, recv.URL)
	path := filepath.Join(t.TempDir(), "helpline.yaml")
	if err := os.WriteFile(path, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	s := startServe(t, "--config", path, "--data", filepath.Join(t.TempDir(), "data"), "--disable-rate-limits")

	hc := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 256}, Timeout: 30 * time.Second}
	chats := make([]*concChat, nChats)
	cc := s.connect()
	if err := loadtest.Parallel(nChats, 16, func(i int) (err error) {
		chats[i], err = startConcChat(cc, hc, s, i, concEmail)
		return err
	}); err != nil {
		t.Fatal(err)
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

	// Wait until every contact has all its lines in each system (a
	// total could be reached early by doubles).
	caughtUp := func() (z, sl, h int) {
		byZ, byS, byH := zendeskLines(zd), sellLines(t, sell), webhookLines(recv)
		for i, c := range chats {
			if len(byZ[c.contactID]) >= nLines {
				z++
			}
			if len(byS[fmt.Sprintf("c%03d", i)]) >= nLines {
				sl++
			}
			if len(byH[c.contactID]) >= nLines {
				h++
			}
		}
		return z, sl, h
	}
	deadline := time.Now().Add(3 * time.Minute)
	for {
		z, sl, h := caughtUp()
		if z == nChats && sl == nChats && h == nChats {
			break
		}
		if time.Now().After(deadline) {
			t.Errorf("after 3 minutes Zendesk holds every line of %d chats, Sell of %d, the webhook of %d, of %d", z, sl, h, nChats)
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	mirrored := time.Since(began)

	byZendesk, bySell, byHook := zendeskLines(zd), sellLines(t, sell), webhookLines(recv)
	for i, c := range chats {
		var want []string
		for j := range nLines {
			want = append(want, concLine(i, j))
		}
		if got := byZendesk[c.contactID]; !slices.Equal(got, want) {
			t.Errorf("chat %d: the Zendesk ticket holds\n%v\nwant\n%v\nits comments: %s", i, got, want, footers(zd, c.contactID))
		}
		if got := bySell[fmt.Sprintf("c%03d", i)]; !slices.Equal(got, want) {
			t.Errorf("chat %d: the Sell lead holds\n%v\nwant\n%v", i, got, want)
		}
		if got := byHook[c.contactID]; !slices.Equal(got, want) {
			t.Errorf("chat %d: the webhook received\n%v\nwant\n%v", i, got, want)
		}
	}
	if n := len(zd.Tickets()); n != nChats {
		t.Errorf("Zendesk holds %d tickets for %d chats", n, nChats)
	}
	if leads := sell.Leads(); len(leads) != 1 {
		t.Errorf("Sell holds %d leads for one customer email", len(leads))
	}
	// A delivery id is one item sent to one URL: an item under two ids
	// would be a double the receiver cannot drop.
	ids := map[string]map[string]bool{}
	for _, d := range recv.Deliveries() {
		if ids[d.ItemID] == nil {
			ids[d.ItemID] = map[string]bool{}
		}
		ids[d.ItemID][d.ID] = true
	}
	for item, set := range ids {
		if len(set) > 1 {
			t.Errorf("item %s reached the webhook under %d delivery ids", item, len(set))
		}
	}
	st := zd.Stats()
	t.Logf("%d chats × %d messages sent in %s, mirrored everywhere %s after the first was sent; Zendesk: %d requests, %d ticket updates, %d answered 429",
		nChats, nLines, sent.Round(time.Millisecond), mirrored.Round(time.Millisecond), st.Requests, st.TicketUpdates, st.TooMany)
	if st.TooMany > 0 {
		t.Errorf("Zendesk answered %d requests with 429: the connector's limiter let it exceed the limits", st.TooMany)
	}
}

// startConcChat starts chat i with a customer of the given email and an
// agent, both with connection credentials.
func startConcChat(cc *connect.Client, hc *http.Client, s *testServer, i int, email string) (*concChat, error) {
	ctx := context.Background()
	started, err := cc.StartChatContact(ctx, &connect.StartChatContactInput{
		InstanceId:         aws.String(s.banner["Instance id"]),
		ContactFlowId:      aws.String(s.banner["Contact flow id"]),
		ParticipantDetails: &types.ParticipantDetails{DisplayName: aws.String(fmt.Sprintf("Customer %d", i))},
		Attributes:         map[string]string{"email": email},
	})
	if err != nil {
		return nil, err
	}
	agent, err := cc.CreateParticipant(ctx, &connect.CreateParticipantInput{
		InstanceId:         aws.String(s.banner["Instance id"]),
		ContactId:          started.ContactId,
		ParticipantDetails: &types.ParticipantDetailsToAdd{DisplayName: aws.String(fmt.Sprintf("Agent %d", i)), ParticipantRole: types.ParticipantRoleAgent},
	})
	if err != nil {
		return nil, err
	}
	c := &concChat{contactID: *started.ContactId}
	for token, dst := range map[string]*string{*started.ParticipantToken: &c.customer, *agent.ParticipantCredentials.ParticipantToken: &c.agent} {
		var conn struct {
			ConnectionCredentials struct{ ConnectionToken string }
		}
		if err := postParticipant(hc, s.url(), "/participant/connection", token,
			map[string]any{"Type": []string{"CONNECTION_CREDENTIALS"}, "ConnectParticipant": true}, &conn); err != nil {
			return nil, err
		}
		*dst = conn.ConnectionCredentials.ConnectionToken
	}
	return c, nil
}

// postParticipant calls a participant API operation; anything but 200
// is an error.
func postParticipant(hc *http.Client, base, path, token string, in, out any) error {
	body, err := json.Marshal(in)
	if err != nil {
		return err
	}
	return loadtest.PostParticipant(context.Background(), hc, base, path, token, body, out)
}

// zendeskLines returns the messages of each contact's ticket, by contact
// id (the ticket's external id), in the order of its public comments made
// through the API.
func zendeskLines(zd *zendesktest.Server) map[string][]string {
	out := map[string][]string{}
	for _, t := range zd.Tickets() {
		for _, c := range t.Comments {
			if !c.Public || c.Via.Channel != "api" {
				continue
			}
			for _, l := range strings.Split(c.Body, "\n") {
				if text, ok := loadtest.Said(l); ok {
					out[t.ExternalID] = append(out[t.ExternalID], text)
				}
			}
		}
	}
	return out
}

// webhookLines returns the messages the receiver holds, by contact id,
// once per delivery id, in order of arrival.
func webhookLines(recv *webhooktest.Receiver) map[string][]string {
	out := map[string][]string{}
	for _, d := range recv.Unique() {
		if d.Type == "MESSAGE" {
			out[d.ContactID] = append(out[d.ContactID], d.Content)
		}
	}
	return out
}

// sellLines returns the messages on the lead of concEmail, by the chat
// they name ("c007"): its description's, then, once the description is
// full, its notes' in the order they were made.
func sellLines(t *testing.T, sell *zendeskselltest.Server) map[string][]string {
	out := map[string][]string{}
	for _, l := range sell.Leads() {
		if !strings.EqualFold(l.Email, concEmail) {
			t.Errorf("Sell holds lead %d of %q", l.ID, l.Email)
			continue
		}
		texts := []string{l.Description}
		notes := sell.Notes(l.ID)
		slices.SortFunc(notes, func(a, b zendeskselltest.Note) int { return cmp.Compare(a.ID, b.ID) })
		for _, n := range notes {
			texts = append(texts, n.Content)
		}
		for _, text := range texts {
			for _, line := range strings.Split(text, "\n") {
				if said, ok := loadtest.Said(line); ok {
					chat, _, _ := strings.Cut(said, " ")
					out[chat] = append(out[chat], said)
				}
			}
		}
	}
	return out
}

// footers lists the footers of the comments on contactID's ticket, with
// when each was made, to show which deliveries a wrong ticket got.
func footers(zd *zendesktest.Server, contactID string) string {
	t, ok := zd.TicketByExternalID(contactID)
	if !ok {
		return "no ticket"
	}
	var b strings.Builder
	for _, c := range t.Comments {
		body := strings.TrimSpace(c.Body)
		fmt.Fprintf(&b, "\n  %s public=%v %s", c.CreatedAt.Format("15:04:05.000"), c.Public, body[strings.LastIndexByte(body, '\n')+1:])
	}
	return b.String()
}
