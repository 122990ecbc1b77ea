package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/helplinehq/helpline"
	"github.com/helplinehq/helpline/sqlite"
)

// The process is killed (SIGKILL) while ten chats are in the hands of
// routing: four accepted by agents, six offered and not yet answered.
// After the restart on the same data directory the assigned chats are
// still each with their agent, and the offers resume: the agents accept
// half of those that were outstanding at once, before they expire (200),
// and the others, left to expire, are offered again (to another agent,
// under a new id) and accepted. In the end every chat is owned by one
// agent, its transcript holds exactly one owner.changed to an agent, that
// agent, and no agent holds more than its capacity.
func TestServeSIGKILLWithOffersOutstanding(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary and kills it")
	}
	const nAgents, capacity, nChats, acceptWithin = 6, 3, 10, 8 * time.Second
	dir := t.TempDir()
	bin := buildHelpline(t, dir)
	var cfg strings.Builder
	fmt.Fprintf(&cfg, "routing:\n  presence_grace: 1h\nqueues:\n  - id: default\n    accept_within: %s\nagents:\n", acceptWithin)
	for i := range nAgents {
		fmt.Fprintf(&cfg, "  - { id: a%d, name: Agent %d, email: a%d@example.com, queues: [default], capacity: %d, password_env: AGENT_PASSWORD }\n", i, i, i, capacity)
	}
	cfgPath := filepath.Join(dir, "helpline.yaml")
	if err := os.WriteFile(cfgPath, []byte(cfg.String()), 0o600); err != nil {
		t.Fatal(err)
	}
	const password = "a long shared passphrase"
	env := []string{"AGENT_PASSWORD=" + password, "HELPLINE_API_TOKEN="}
	data := filepath.Join(dir, "data")
	args := []string{"--config", cfgPath, "--data", data, "--disable-rate-limits"}
	proc, s, logs := crashServe(t, bin, env, args...)

	login := func(s *testServer) map[string]*agentClient {
		base := strings.TrimSuffix(s.url(), "/")
		agents := map[string]*agentClient{}
		for i := range nAgents {
			agents[fmt.Sprintf("a%d", i)] = agentLogin(t, base, fmt.Sprintf("a%d@example.com", i), password)
		}
		return agents
	}
	type offer struct{ id, agent, contact string }
	pending := func(agents map[string]*agentClient) map[string]offer { // by contact
		out := map[string]offer{}
		for id, a := range agents {
			offers, _ := a.must(200, "GET", "/api/agent/offers", "")["offers"].([]any)
			for _, o := range offers {
				o := o.(map[string]any)
				out[o["contact_id"].(string)] = offer{o["id"].(string), id, o["contact_id"].(string)}
			}
		}
		return out
	}

	agents := login(s)
	for _, a := range agents {
		a.must(200, "PUT", "/api/agent/presence", `{"status":"online"}`)
	}
	contacts := make([]string, nChats)
	for i := range contacts {
		contacts[i], _, _ = connectCustomer(t, s)
	}
	var offers map[string]offer
	waitFor(t, "an offer of every chat", func() bool {
		offers = pending(agents)
		return len(offers) == nChats
	})
	// Four are accepted; six stay outstanding when the process dies.
	assigned := map[string]string{} // contact → agent
	var outstanding []offer
	for _, c := range contacts {
		o := offers[c]
		if len(assigned) < 4 {
			agents[o.agent].must(200, "POST", "/api/agent/offers/"+o.id+"/accept", "")
			assigned[c] = o.agent
		} else {
			outstanding = append(outstanding, o)
		}
	}
	if err := proc.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	proc.Wait()
	killed := time.Now()

	_, s, logs = crashServe(t, bin, env, args...)
	agents = login(s)
	// Every outstanding offer is still the agent's, pending, and the
	// first half are accepted before they expire.
	after := pending(agents)
	for i, o := range outstanding {
		if got, ok := after[o.contact]; !ok || got != o {
			t.Errorf("chat %s: after the restart its offer is %+v, want the outstanding %+v", o.contact, got, o)
		}
		if i < len(outstanding)/2 {
			agents[o.agent].must(200, "POST", "/api/agent/offers/"+o.id+"/accept", "")
			assigned[o.contact] = o.agent
		}
	}
	restarted := time.Since(killed)
	// The others expire and are offered again, to someone else.
	rest := outstanding[len(outstanding)/2:]
	deadline := time.Now().Add(acceptWithin + 15*time.Second)
	for len(rest) > 0 {
		if time.Now().After(deadline) {
			t.Fatalf("chats %v were not offered again %s after the restart; logs:\n%s", rest, acceptWithin+15*time.Second, logs)
		}
		now := pending(agents)
		var left []offer
		for _, o := range rest {
			got, ok := now[o.contact]
			if !ok || got.id == o.id {
				left = append(left, o)
				continue
			}
			if got.agent == o.agent {
				t.Errorf("chat %s offered again to %s, whose offer expired; want another agent", o.contact, o.agent)
			}
			agents[got.agent].must(200, "POST", "/api/agent/offers/"+got.id+"/accept", "")
			assigned[o.contact] = got.agent
		}
		rest = left
		time.Sleep(50 * time.Millisecond)
	}

	db, err := sqlite.Open(filepath.Join(data, "helpline.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	ctx := context.Background()
	for _, o := range outstanding[len(outstanding)/2:] {
		if got, err := db.FindOfferByID(ctx, o.id); err != nil || got.State != helpline.OfferExpired {
			t.Errorf("offer %s left to run out: %+v %v, want expired", o.id, got, err)
		}
	}
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
		var toAgent []string
		for _, it := range items {
			var tr helpline.OwnerTransition
			if it.ContentType == helpline.EventOwnerChanged && json.Unmarshal([]byte(it.Content), &tr) == nil && strings.HasPrefix(tr.To, helpline.OwnerAgent+":") {
				toAgent = append(toAgent, tr.To)
			}
		}
		want := helpline.OwnerAgent + ":" + assigned[id]
		if c.Owner != want || len(toAgent) != 1 || toAgent[0] != want {
			t.Errorf("chat %s: owner %q, owner.changed to agents %v; want %s once", id, c.Owner, toAgent, want)
		}
		load[c.Owner]++
	}
	for owner, n := range load {
		if n > capacity {
			t.Errorf("%s holds %d chats, over its capacity %d", owner, n, capacity)
		}
	}
	t.Logf("restarted and half the outstanding offers accepted %s after the kill", restarted.Round(time.Millisecond))
}
