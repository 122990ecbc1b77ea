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
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/connect"
	"github.com/aws/aws-sdk-go-v2/service/connect/types"

	"github.com/helplinehq/helpline"
	"github.com/helplinehq/helpline/internal/loadtest"
	"github.com/helplinehq/helpline/sqlite"
)

// fifoSlack is how much earlier than another a chat must have entered the
// queue for the FIFO check to require it be assigned no later. The store
// stamps a queue entry before its transaction commits, so under hundreds
// of concurrent writes a chat stamped a moment earlier may become visible
// to routing after one stamped later, and be rightly assigned after it.
// The window is far shorter than the spread of 600 arrivals (1.2 s: the
// test spaces their starts 2 ms apart, since a fast server takes them
// all within 130 ms), so most chats are checked against earlier ones.
const fifoSlack = 100 * time.Millisecond

// 600 customers start chats at once (within 1.2 s) through the Connect API while 200
// online agents of capacity 3 serve the default queue, which accepts
// offers for its agents (auto_accept), so that the test measures routing
// rather than 600 clients' round trips. Afterwards:
//
//   - every chat was assigned exactly once: its transcript holds one
//     owner.changed item to an agent, and its owner is that agent;
//   - no agent went over capacity: every agent holds 3 chats at the end
//     and, since assigned chats neither end nor move here, an agent's load
//     only grows, so the end bounds the whole run; the store is also
//     sampled during the run (chats plus pending offers per agent);
//   - FIFO per queue: routing offers waiting chats in the order they
//     entered the queue, and the queue accepts each offer as it is made,
//     so, taking chats by when they entered the queue (owner.changed to
//     the queue), those that entered more than fifoSlack before another
//     were assigned (owner.changed to the agent) no later than it.
func TestServeAssigns600ChatsTo200AgentsOnce(t *testing.T) {
	const nAgents, capacity, nChats = 200, 3, 600
	var cfg strings.Builder
	fmt.Fprintf(&cfg, "routing:\n  presence_grace: 1h\nqueues:\n  - id: default\n    auto_accept: true\nagents:\n")
	for i := range nAgents {
		fmt.Fprintf(&cfg, "  - { id: a%03d, name: Agent %03d, email: a%03d@example.com, queues: [default], capacity: %d }\n", i, i, i, capacity)
	}
	dir := t.TempDir()
	data := filepath.Join(dir, "data")
	path := filepath.Join(dir, "helpline.yaml")
	if err := os.WriteFile(path, []byte(cfg.String()), 0o600); err != nil {
		t.Fatal(err)
	}
	s := startServe(t, "--config", path, "--data", data, "--disable-rate-limits", "--max-active-chats", "1000")
	db, err := sqlite.Open(filepath.Join(data, "helpline.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	ctx := context.Background()
	instance := s.banner["Instance id"]
	// Online, as the agents' sockets make them.
	for i := range nAgents {
		now := helpline.Now()
		id := fmt.Sprintf("a%03d", i)
		if err := db.SetPresence(ctx, instance, id, helpline.PresenceOnline, now); err != nil {
			t.Fatal(err)
		}
		if err := db.TouchAgent(ctx, instance, id, now); err != nil {
			t.Fatal(err)
		}
	}

	// The store is sampled while the chats arrive and are routed.
	stop := make(chan struct{})
	var samples, over atomic.Int64
	var overMsg atomic.Value
	sampled := make(chan struct{})
	go func() {
		defer close(sampled)
		for {
			select {
			case <-stop:
				return
			case <-time.After(50 * time.Millisecond):
			}
			snap, err := db.RoutingSnapshot(ctx, instance)
			if err != nil {
				continue
			}
			samples.Add(1)
			now := helpline.Now()
			pending := map[string]int{}
			for _, o := range snap.Offers {
				if o.State == helpline.OfferPending && now.Before(o.ExpiresAt) {
					pending[o.AgentID]++
				}
			}
			for _, a := range snap.Agents {
				if load := len(a.Chats) + pending[a.Agent.ID]; load > capacity {
					over.Add(1)
					overMsg.Store(fmt.Sprintf("agent %s: %d chats and %d pending offers", a.Agent.ID, len(a.Chats), pending[a.Agent.ID]))
				}
			}
		}
	}()

	cc := s.connect()
	contacts := make([]string, nChats)
	began := time.Now()
	// All at once, but not within one instant: chat i starts no sooner
	// than 2i ms after the first (the whole burst within 1.2 s), so that
	// most chats enter the queue more than fifoSlack after others and
	// the FIFO check below has something to check however fast the
	// server takes them.
	if err := loadtest.Parallel(nChats, nChats, func(i int) error {
		time.Sleep(time.Until(began.Add(time.Duration(i) * 2 * time.Millisecond)))
		started, err := cc.StartChatContact(ctx, &connect.StartChatContactInput{
			InstanceId:         aws.String(instance),
			ContactFlowId:      aws.String(s.banner["Contact flow id"]),
			ParticipantDetails: &types.ParticipantDetails{DisplayName: aws.String(fmt.Sprintf("Customer %d", i))},
		})
		if err != nil {
			return err
		}
		contacts[i] = *started.ContactId
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	started := time.Since(began)
	assigned := func() int {
		n := 0
		for _, id := range contacts {
			if c, err := db.FindContactByID(ctx, id); err == nil && strings.HasPrefix(c.Owner, helpline.OwnerAgent+":") {
				n++
			}
		}
		return n
	}
	for deadline := time.Now().Add(60 * time.Second); ; time.Sleep(200 * time.Millisecond) {
		if n := assigned(); n == nChats {
			break
		} else if time.Now().After(deadline) {
			t.Fatalf("%d of %d chats assigned 60 s after they started", n, nChats)
		}
	}
	routed := time.Since(began)
	// A few more rounds pass: nothing moves once everything is assigned.
	time.Sleep(1500 * time.Millisecond)
	close(stop)
	<-sampled

	type assignment struct {
		contact          string
		entered, settled time.Time
	}
	var order []assignment
	load := map[string]int{}
	for _, id := range contacts {
		c, err := db.FindContactByID(ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		items, err := db.FindItems(ctx, id, helpline.ItemQuery{})
		if err != nil {
			t.Fatal(err)
		}
		var toAgent []helpline.OwnerTransition
		a := assignment{contact: id}
		for _, it := range items {
			if it.ContentType != helpline.EventOwnerChanged {
				continue
			}
			var tr helpline.OwnerTransition
			if err := json.Unmarshal([]byte(it.Content), &tr); err != nil {
				t.Fatal(err)
			}
			switch {
			case tr.To == "queue:default":
				a.entered = it.Time
			case strings.HasPrefix(tr.To, helpline.OwnerAgent+":"):
				toAgent = append(toAgent, tr)
				a.settled = it.Time
			}
		}
		if len(toAgent) != 1 || toAgent[0].To != c.Owner || toAgent[0].From != "queue:default" {
			t.Errorf("chat %s: owner %s, owner.changed to agents %v; want exactly one, from the queue to its owner", id, c.Owner, toAgent)
			continue
		}
		load[c.Owner]++
		order = append(order, a)
	}
	for i := range nAgents {
		if n := load[fmt.Sprintf("agent:a%03d", i)]; n != capacity {
			t.Errorf("agent a%03d holds %d chats, want %d", i, n, capacity)
		}
	}
	if n := over.Load(); n > 0 {
		t.Errorf("%d samples of the store saw an agent over capacity, such as %v", n, overMsg.Load())
	}
	if samples.Load() < 10 {
		t.Errorf("only %d samples of the store were taken during the run", samples.Load())
	}

	// FIFO: by entry; an assignment earlier than that of any chat that
	// entered more than fifoSlack before it is an inversion.
	slices.SortFunc(order, func(a, b assignment) int {
		return cmp.Or(a.entered.Compare(b.entered), cmp.Compare(a.contact, b.contact))
	})
	inversions, within, checked := 0, 0, 0
	var latest assignment // assigned latest among those entered before the window
	j := 0
	for _, b := range order {
		for ; order[j].entered.Before(b.entered.Add(-fifoSlack)); j++ {
			if order[j].settled.After(latest.settled) {
				latest = order[j]
			}
		}
		if j > 0 {
			checked++
		}
		if b.settled.Before(latest.settled) {
			inversions++
			if inversions <= 5 {
				t.Errorf("chat %s entered the queue at %s, %s after chat %s, but was assigned %s before it",
					b.contact, b.entered.Format("15:04:05.000"), b.entered.Sub(latest.entered), latest.contact, latest.settled.Sub(b.settled))
			}
		}
	}
	for i := 1; i < len(order); i++ {
		if order[i].settled.Before(order[i-1].settled) {
			within++
		}
	}
	if checked < nChats/2 {
		t.Errorf("only %d of %d chats entered the queue more than %s after another: the FIFO check saw too little", checked, nChats, fifoSlack)
	}
	first, last := order[0].entered, order[len(order)-1].entered
	t.Logf("%d chats started in %s over %s of queue entries, all assigned %s after the first was sent; %d store samples; %d chats checked for FIFO, %d inversions beyond %s, %d adjacent ones within it",
		nChats, started.Round(time.Millisecond), last.Sub(first).Round(time.Millisecond), routed.Round(time.Millisecond), samples.Load(), checked, inversions, fifoSlack, within)
}

// One agent has 50 sessions open (50 console tabs, or 50 clients of one
// account) and all of them accept the one offer of a chat at the same
// moment. The store allows one pending offer per chat, and only the
// offered agent may accept it, so this is the race on one offer that the
// API can see: exactly one accept wins (200), the other 49 get 409
// conflict, and the chat's transcript holds one owner.changed item to
// the agent and one join.
func TestServeFiftyAcceptsOfOneOfferOneWins(t *testing.T) {
	const racers = 50
	t.Setenv("ADA_PASSWORD", "ada's long passphrase")
	t.Setenv("HELPLINE_API_TOKEN", "")
	dir := t.TempDir()
	data := filepath.Join(dir, "data")
	path := filepath.Join(dir, "helpline.yaml")
	if err := os.WriteFile(path, []byte(`
routing:
  presence_grace: 1h
queues:
  - id: default
    accept_within: 5m
agents:
  - { id: ada, name: Ada Lovelace, email: ada@example.com, queues: [default], password_env: ADA_PASSWORD }
`), 0o600); err != nil {
		t.Fatal(err)
	}
	s := startServe(t, "--config", path, "--data", data, "--disable-rate-limits")
	base := strings.TrimSuffix(s.url(), "/")
	sessions := make([]*agentClient, racers)
	for i := range sessions {
		sessions[i] = agentLogin(t, base, "ada@example.com", "ada's long passphrase")
	}
	sessions[0].must(200, "PUT", "/api/agent/presence", `{"status":"online"}`)

	contactID, _, _ := connectCustomer(t, s)
	var offerID string
	waitFor(t, "the offer", func() bool {
		offers, _ := sessions[0].must(200, "GET", "/api/agent/offers", "")["offers"].([]any)
		for _, o := range offers {
			if o := o.(map[string]any); o["contact_id"] == contactID {
				offerID = o["id"].(string)
			}
		}
		return offerID != ""
	})

	codes := make([]int, racers)
	start := make(chan struct{})
	var wg sync.WaitGroup
	for i, a := range sessions {
		wg.Add(1)
		go func() {
			defer wg.Done()
			req, _ := http.NewRequest("POST", base+"/api/agent/offers/"+offerID+"/accept", nil)
			req.AddCookie(a.cookie)
			req.Header.Set("X-CSRF-Token", a.csrf)
			<-start
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Error(err)
				return
			}
			resp.Body.Close()
			codes[i] = resp.StatusCode
		}()
	}
	close(start)
	wg.Wait()
	count := map[int]int{}
	for _, c := range codes {
		count[c]++
	}
	if count[200] != 1 || count[409] != racers-1 {
		t.Errorf("answers to %d concurrent accepts: %v, want one 200 and %d 409", racers, count, racers-1)
	}

	db, err := sqlite.Open(filepath.Join(data, "helpline.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	ctx := context.Background()
	c, err := db.FindContactByID(ctx, contactID)
	if err != nil {
		t.Fatal(err)
	}
	if c.Owner != "agent:ada" {
		t.Errorf("owner %q, want agent:ada", c.Owner)
	}
	waitFor(t, "the agent's join", func() bool {
		items, _ := db.FindItems(ctx, contactID, helpline.ItemQuery{})
		return slices.ContainsFunc(items, func(it *helpline.Item) bool { return it.Role == helpline.RoleAgent })
	})
	time.Sleep(500 * time.Millisecond) // a double would be written by now
	items, err := db.FindItems(ctx, contactID, helpline.ItemQuery{})
	if err != nil {
		t.Fatal(err)
	}
	var toAgent, joins int
	for _, it := range items {
		if it.ContentType == helpline.EventOwnerChanged && strings.Contains(it.Content, `"to":"agent:`) {
			toAgent++
		}
		if it.Role == helpline.RoleAgent && strings.HasSuffix(it.ContentType, "participant.joined") {
			joins++
		}
	}
	if toAgent != 1 || joins != 1 {
		t.Errorf("%d owner.changed items to an agent and %d agent joins, want one of each", toAgent, joins)
	}
	if o, err := db.FindOfferByID(ctx, offerID); err != nil || o.State != helpline.OfferAccepted {
		t.Errorf("the offer: %+v %v, want accepted", o, err)
	}
}
