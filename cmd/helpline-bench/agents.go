package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/http/cookiejar"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/connect"
	"github.com/aws/aws-sdk-go-v2/service/connect/types"
	"github.com/gorilla/websocket"

	"github.com/helplinehq/helpline/internal/loadtest"
)

// agentsBench measures human-agent routing: agents online agents (capacity
// 10, the most Connect allows, so that the arriving chats fit), each
// logged in and holding its agent WebSocket, and chats chats started
// through the Connect API evenly over arrival, each with its customer on a
// subscribed socket. It reports
//
//   - offer latency: from the StartChatContact request (which creates the
//     chat and puts it in the queue: an upper bound on the time from the
//     queue) to the offer frame on the agent's socket, p50/p99;
//   - agent-message throughput: workers concurrent senders post messages
//     through the agent API to the accepted chats for duration, counted
//     as sent and as received on the customers' sockets.
type agentsBench struct {
	bin               string
	agents, chats     int
	arrival, duration time.Duration
	workers           int
	// cpuProfile, when set, is where the server writes its CPU profile.
	cpuProfile string
}

// benchAgent is one logged-in agent.
type benchAgent struct {
	id     string
	client *http.Client // holds the session cookie
	csrf   string
	conn   *websocket.Conn
}

func (a *agentsBench) run(ctx context.Context, w, stderr io.Writer) error {
	var cfg strings.Builder
	cfg.WriteString("routing:\n  presence_grace: 1h\nqueues:\n  - id: default\n    accept_within: 5m\nagents:\n")
	for i := range a.agents {
		fmt.Fprintf(&cfg, "  - { id: a%04d, name: Agent %d, email: a%04d@example.com, queues: [default], capacity: 10, password_env: HELPLINE_BENCH_AGENT_PASSWORD }\n", i, i, i)
	}
	var extra []string
	if a.cpuProfile != "" {
		path, err := filepath.Abs(a.cpuProfile)
		if err != nil {
			return err
		}
		extra = append(extra, "--cpuprofile", path)
	}
	srv, err := startBenchServer(ctx, stderr, a.bin, a.chats+16, cfg.String(), extra...)
	if err != nil {
		return err
	}
	defer srv.stop()
	b := &bench{srv: srv, http: &http.Client{Transport: &http.Transport{MaxIdleConns: 1024, MaxIdleConnsPerHost: 1024}, Timeout: 30 * time.Second}}
	base := strings.TrimSuffix(srv.endpoint, "/")

	var (
		mu      sync.Mutex
		started = map[string]time.Time{} // contact → StartChatContact sent
		offered = map[string]time.Time{} // contact → offer frame read
		owner   = map[string]*benchAgent{}
		assigns atomic.Int64
	)
	// Each agent reads its socket from the moment it is open: a socket
	// left unread while the others log in would not answer the server's
	// pings, and the server closes a socket silent for 60 s.
	watch := func(ag *benchAgent) {
		for {
			_, data, err := ag.conn.ReadMessage()
			if err != nil {
				return
			}
			now := time.Now()
			var f struct {
				Type  string
				Offer struct{ ID, Contact string }
			}
			if json.Unmarshal(data, &f) != nil || f.Type != "offer" {
				continue
			}
			mu.Lock()
			offered[f.Offer.Contact] = now
			mu.Unlock()
			go func() {
				if err := ag.do(ctx, "POST", base+"/api/agent/offers/"+f.Offer.ID+"/accept", ""); err == nil {
					mu.Lock()
					owner[f.Offer.Contact] = ag
					mu.Unlock()
					assigns.Add(1)
				}
			}()
		}
	}
	began := time.Now()
	if err := loadtest.Parallel(a.agents, 4, func(i int) error {
		ag, err := agentSession(ctx, base, fmt.Sprintf("a%04d", i), b.http.Transport)
		if err == nil {
			go watch(ag)
		}
		return err
	}); err != nil {
		return err
	}
	fmt.Fprintf(w, "agents: %d agents logged in and online over their sockets in %s\n", a.agents, time.Since(began).Round(time.Millisecond))

	// Chats arrive evenly over the arrival window.
	cc := b.connectClient()
	began = time.Now()
	every := a.arrival / time.Duration(max(a.chats, 1))
	var wg sync.WaitGroup
	var failed atomic.Int64
	for i := range a.chats {
		due := began.Add(time.Duration(i) * every)
		time.Sleep(time.Until(due))
		wg.Add(1)
		go func() {
			defer wg.Done()
			t0 := time.Now()
			c, err := b.newCustomer(ctx, cc, i)
			if err != nil {
				failed.Add(1)
				return
			}
			mu.Lock()
			started[c] = t0
			mu.Unlock()
		}()
	}
	wg.Wait()
	for deadline := time.Now().Add(30 * time.Second); assigns.Load() < int64(a.chats)-failed.Load() && time.Now().Before(deadline); {
		time.Sleep(100 * time.Millisecond)
	}
	mu.Lock()
	var lat []time.Duration
	for c, t0 := range started {
		if t, ok := offered[c]; ok {
			lat = append(lat, t.Sub(t0))
		}
	}
	type chat struct {
		contact string
		agent   *benchAgent
	}
	held := make([]chat, 0, len(owner))
	for c, ag := range owner {
		held = append(held, chat{c, ag})
	}
	mu.Unlock()
	fmt.Fprintf(w, "agents: %d chats over %s (%d failed to start): %d offers reached an agent's socket, %d accepted; from StartChatContact to the offer frame p50 %s, p99 %s\n",
		a.chats, a.arrival, failed.Load(), len(lat), assigns.Load(), pct(lat, 50), pct(lat, 99))
	if len(held) == 0 {
		return nil
	}

	// Agents talk: workers senders, each picking an accepted chat.
	b.delivered.Store(0)
	var sent, bad atomic.Int64
	end := time.Now().Add(a.duration)
	t0 := time.Now()
	for range a.workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for time.Now().Before(end) && ctx.Err() == nil {
				c := held[rand.IntN(len(held))]
				body := `{"content":"bench ` + strconv.FormatInt(time.Now().UnixNano(), 10) + `","client_token":"` + strconv.FormatInt(rand.Int64(), 36) + `"}`
				if c.agent.do(ctx, "POST", base+"/api/agent/chats/"+c.contact+"/messages", body) != nil {
					bad.Add(1)
				} else {
					sent.Add(1)
				}
			}
		}()
	}
	wg.Wait()
	elapsed := time.Since(t0)
	awaitCount(func() int { return int(b.delivered.Load()) }, int(sent.Load()), 2*time.Second)
	fmt.Fprintf(w, "agents: %d workers for %s: %d agent messages sent (%.0f/s, %d failed), %d received on the customers' sockets (%.0f/s)\n",
		a.workers, a.duration, sent.Load(), float64(sent.Load())/elapsed.Seconds(), bad.Load(), b.delivered.Load(), float64(b.delivered.Load())/elapsed.Seconds())
	return nil
}

// newCustomer starts chat i and opens its customer's socket, whose
// messages from agents b.read counts; it returns the contact id.
func (b *bench) newCustomer(ctx context.Context, cc *connect.Client, i int) (string, error) {
	started, err := cc.StartChatContact(ctx, &connect.StartChatContactInput{
		InstanceId:         &b.srv.instance,
		ContactFlowId:      &b.srv.flow,
		ParticipantDetails: &types.ParticipantDetails{DisplayName: aws.String(fmt.Sprintf("customer %d", i))},
	})
	if err != nil {
		return "", fmt.Errorf("StartChatContact: %w", err)
	}
	p := &benchParty{id: *started.ParticipantId, participantToken: *started.ParticipantToken}
	if err := b.connectParty(ctx, p, true); err != nil {
		return "", err
	}
	return *started.ContactId, nil
}

// agentSession logs agent id in, sets it online and opens its agent
// WebSocket, reading the hello frame.
func agentSession(ctx context.Context, base, id string, rt http.RoundTripper) (*benchAgent, error) {
	jar, _ := cookiejar.New(nil)
	ag := &benchAgent{id: id, client: &http.Client{Transport: rt, Jar: jar, Timeout: 30 * time.Second}}
	req, _ := http.NewRequestWithContext(ctx, "POST", base+"/api/agent/login",
		strings.NewReader(`{"email":"`+id+`@example.com","password":"`+benchSecrets["HELPLINE_BENCH_AGENT_PASSWORD"]+`"}`))
	req.Header.Set("Content-Type", "application/json")
	res, err := ag.client.Do(req)
	if err != nil {
		return nil, err
	}
	var login struct {
		CSRF string `json:"csrf_token"`
	}
	err = json.NewDecoder(res.Body).Decode(&login)
	res.Body.Close()
	if res.StatusCode != 200 || err != nil {
		return nil, fmt.Errorf("login %s: %d %v", id, res.StatusCode, err)
	}
	ag.csrf = login.CSRF
	if err := ag.do(ctx, "PUT", base+"/api/agent/presence", `{"status":"online"}`); err != nil {
		return nil, err
	}
	u := "ws" + strings.TrimPrefix(base, "http") + "/api/agent/ws"
	hdr := http.Header{}
	for _, c := range jar.Cookies(req.URL) {
		hdr.Add("Cookie", c.Name+"="+c.Value)
	}
	ag.conn, _, err = websocket.DefaultDialer.DialContext(ctx, u, hdr)
	if err != nil {
		return nil, fmt.Errorf("agent socket %s: %w", id, err)
	}
	if _, _, err := ag.conn.ReadMessage(); err != nil {
		return nil, fmt.Errorf("agent socket %s hello: %w", id, err)
	}
	return ag, nil
}

// do calls the agent API with the session; anything but 2xx is an error.
func (ag *benchAgent) do(ctx context.Context, method, url, body string) error {
	req, _ := http.NewRequestWithContext(ctx, method, url, strings.NewReader(body))
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	req.Header.Set("X-CSRF-Token", ag.csrf)
	res, err := ag.client.Do(req)
	if err != nil {
		return err
	}
	data, _ := io.ReadAll(res.Body)
	res.Body.Close()
	if res.StatusCode/100 != 2 {
		return fmt.Errorf("%s %s: %d %s", method, url, res.StatusCode, data)
	}
	return nil
}
