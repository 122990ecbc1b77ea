package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/helplinehq/helpline/connector/kustomer/kustomertest"
	"github.com/helplinehq/helpline/connector/webhook/webhooktest"
	"github.com/helplinehq/helpline/connector/zendesk/zendesktest"
	"github.com/helplinehq/helpline/connector/zendesksell/zendeskselltest"
	"github.com/helplinehq/helpline/internal/loadtest"
	"github.com/helplinehq/helpline/mirror/mirrortest"
	"github.com/helplinehq/helpline/nats/natstest"
	"github.com/helplinehq/helpline/postgres/pgtest"
)

// The tests of this file run three `helpline serve` processes of the
// built binary on one fresh PostgreSQL schema and one NATS prefix, as
// README's "Several nodes" section sets them up, and kill one with
// SIGKILL where a test says so. They are skipped only when neither
// HELPLINE_TEST_POSTGRES / HELPLINE_TEST_NATS name a server nor one
// answers at the default address (and fail instead when CI is set).

// cluster is three nodes sharing a store and a bus.
type cluster struct {
	t     *testing.T
	bin   string
	env   []string
	nodes []*clusterNode
}

// clusterNode is one node's process.
type clusterNode struct {
	*testServer
	proc *exec.Cmd
	logs *loadtest.LogBuffer
	args []string
}

// startCluster builds the binary and starts n nodes with the
// configuration extra appended to the shared store and bus settings,
// env added to each node's environment, each node on a data directory of
// its own and without request-rate limits.
func startCluster(t *testing.T, n int, extra string, env ...string) *cluster {
	t.Helper()
	if testing.Short() {
		t.Skip("builds the binary and runs three nodes")
	}
	store, bus := pgtest.Schema(t), natstest.URL(t)
	dir := t.TempDir()
	cfg := fmt.Sprintf("store: %s\nbus: %s\nbus_prefix: %s\n%s", store, bus, natstest.Prefix(), extra)
	path := filepath.Join(dir, "helpline.yaml")
	if err := os.WriteFile(path, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	c := &cluster{t: t, bin: buildHelpline(t, dir), env: append([]string{"HELPLINE_API_TOKEN=", "HELPLINE_STORE="}, env...)}
	for i := range n {
		args := []string{"--config", path, "--data", filepath.Join(dir, fmt.Sprintf("node-%c", 'a'+i)), "--disable-rate-limits"}
		c.nodes = append(c.nodes, c.start(args))
	}
	for _, nd := range c.nodes[1:] {
		if nd.banner["Instance id"] != c.nodes[0].banner["Instance id"] || nd.banner["Access key id"] != c.nodes[0].banner["Access key id"] {
			t.Fatalf("the nodes do not share the default instance: %v and %v", c.nodes[0].banner, nd.banner)
		}
	}
	return c
}

func (c *cluster) start(args []string) *clusterNode {
	c.t.Helper()
	proc, s, logs := crashServe(c.t, c.bin, c.env, args...)
	return &clusterNode{testServer: s, proc: proc, logs: logs, args: args}
}

// kill ends node i with SIGKILL and waits for the process to be gone.
func (c *cluster) kill(i int) {
	c.t.Helper()
	if err := c.nodes[i].proc.Process.Kill(); err != nil {
		c.t.Fatal(err)
	}
	c.nodes[i].proc.Wait()
}

// logs returns every node's log, for a failure's message.
func (c *cluster) logs() string {
	var b strings.Builder
	for i, nd := range c.nodes {
		fmt.Fprintf(&b, "--- node %c\n%s", 'a'+i, nd.logs)
	}
	return b.String()
}

// connectItem is an aws/chat item of a participant's socket.
type connectItem struct {
	Id, Type, ContentType, Content, ParticipantRole, DisplayName string
	MessageMetadata                                              struct {
		MessageId string
		Receipts  []struct{ ReadTimestamp, RecipientParticipantId string }
	}
}

// nextConnectItem reads the socket until an aws/chat item comes.
func nextConnectItem(t *testing.T, ws *websocket.Conn) connectItem {
	t.Helper()
	ws.SetReadDeadline(time.Now().Add(10 * time.Second))
	for {
		_, data, err := ws.ReadMessage()
		if err != nil {
			t.Fatalf("reading a participant's socket: %v", err)
		}
		var frame struct{ Topic, Content string }
		var it connectItem
		if json.Unmarshal(data, &frame) != nil || frame.Topic != "aws/chat" || json.Unmarshal([]byte(frame.Content), &it) != nil {
			continue
		}
		return it
	}
}

// awaitConnectItem reads the socket until an item match accepts.
func awaitConnectItem(t *testing.T, ws *websocket.Conn, what string, match func(connectItem) bool) connectItem {
	t.Helper()
	for {
		it := nextConnectItem(t, ws)
		if match(it) {
			return it
		}
		if strings.HasSuffix(it.ContentType, "chat.ended") {
			t.Fatalf("the chat ended before %s", what)
		}
	}
}

// A customer on node a and an agent on node b chat: the agent, logged in
// through node b's API with its console socket on node b, is offered the
// chat the customer started on node a, accepts it, and each sees the
// other's lines, typing and read receipts on its own node's socket. Once
// the agent leaves (on node b) its tokens are refused on node c, whose
// session cache knew it.
func TestClusterCustomerAndAgentOnDifferentNodes(t *testing.T) {
	c := startCluster(t, 3, `
routing:
  presence_grace: 1h
queues:
  - id: default
    accept_within: 1m
agents:
  - { id: ada, name: Ada Lovelace, email: ada@example.com, queues: [default], password_env: ADA_PASSWORD }
`, "ADA_PASSWORD=ada's long passphrase")
	a, b := c.nodes[0], c.nodes[1]
	baseB := strings.TrimSuffix(b.url(), "/")
	ada := agentLogin(t, baseB, "ada@example.com", "ada's long passphrase")
	ws := openAgentWS(t, baseB, ada)
	ws.await("hello", nil)
	ada.must(200, "PUT", "/api/agent/presence", `{"status":"online"}`)
	ws.await("presence", func(f agentFrame) bool { return f.str("presence.status") == "online" })
	ws.send(`{"type":"resume","chats":{}}`)
	ws.await("resumed", nil)

	contactID, token, customerWS := startCustomer(t, a.testServer)
	customer := chatSide{token}
	offer := ws.await("offer", func(f agentFrame) bool { return f.str("offer.contact") == contactID })
	ada.must(200, "POST", "/api/agent/offers/"+offer.str("offer.id")+"/accept", "")
	ws.await("assigned", func(f agentFrame) bool { return f.str("contact") == contactID })
	awaitConnectItem(t, customerWS, "the agent joining", func(it connectItem) bool {
		return strings.HasSuffix(it.ContentType, "participant.joined") && it.ParticipantRole == "AGENT"
	})
	chat := "/api/agent/chats/" + contactID

	// The customer's line, on node a, reaches the agent's socket on node b.
	customer.say(t, a.testServer, "My parcel is late.")
	line := ws.await("item", func(f agentFrame) bool { return f.str("item.content") == "My parcel is late." })
	if line.str("item.role") != "CUSTOMER" {
		t.Errorf("the customer's line on node b: %v", line.m)
	}
	// The agent reads it (node b); the customer's socket on node a shows
	// the receipt.
	ada.must(200, "POST", chat+"/read", `{"message_id":"`+line.str("item.id")+`"}`)
	receipt := awaitConnectItem(t, customerWS, "the agent's read receipt", func(it connectItem) bool { return it.Type == "MESSAGEMETADATA" })
	if receipt.MessageMetadata.MessageId != line.str("item.id") || len(receipt.MessageMetadata.Receipts) != 1 || receipt.MessageMetadata.Receipts[0].ReadTimestamp == "" {
		t.Errorf("the receipt on node a: %+v, want message %s read", receipt, line.str("item.id"))
	}

	// The agent types and replies on node b; node a's socket shows both.
	ada.must(204, "POST", chat+"/typing", "")
	awaitConnectItem(t, customerWS, "the agent typing", func(it connectItem) bool {
		return strings.HasSuffix(it.ContentType, "typing") && it.ParticipantRole == "AGENT"
	})
	const reply = "Let me look that up."
	sent := ada.must(200, "POST", chat+"/messages", `{"content":"`+reply+`","client_token":"r1"}`)
	msg := awaitConnectItem(t, customerWS, "the agent's reply", func(it connectItem) bool { return it.Type == "MESSAGE" && it.Content == reply })
	if msg.ParticipantRole != "AGENT" || msg.DisplayName != "Ada Lovelace" {
		t.Errorf("the reply on node a: %+v", msg)
	}
	if id, _ := sent["id"].(string); id != msg.Id {
		t.Errorf("the reply is %q on node b and %q on node a", id, msg.Id)
	}

	// The customer types and reads the reply on node a; node b's agent
	// socket shows both.
	if code := participantCall(t, a.url(), "/participant/event", token,
		map[string]string{"ContentType": "application/vnd.amazonaws.connect.event.typing"}, nil); code != 200 {
		t.Fatalf("SendEvent typing: %d", code)
	}
	ws.await("typing", func(f agentFrame) bool { return f.str("contact") == contactID && f.str("role") == "CUSTOMER" })
	if code := participantCall(t, a.url(), "/participant/event", token, map[string]string{
		"ContentType": "application/vnd.amazonaws.connect.event.message.read", "Content": `{"messageId":"` + msg.Id + `"}`}, nil); code != 200 {
		t.Fatalf("SendEvent read: %d", code)
	}
	read := ws.await("item", func(f agentFrame) bool { return f.str("item.type") == "MESSAGEMETADATA" })
	if !strings.Contains(jsonOf(read.m), msg.Id) {
		t.Errorf("the customer's receipt on node b: %v, want message %s", read.m, msg.Id)
	}

	// The customer's connection token works on node c, whose session
	// cache then holds it; the customer disconnects on node a, and node c
	// refuses the token from then on.
	cNode := c.nodes[2]
	customer.say(t, cNode.testServer, "From node c.")
	ws.await("item", func(f agentFrame) bool { return f.str("item.content") == "From node c." })
	if code := participantCall(t, a.url(), "/participant/disconnect", token, map[string]any{}, nil); code != 200 {
		t.Fatalf("DisconnectParticipant on node a: %d", code)
	}
	if code := participantCall(t, cNode.url(), "/participant/message", token,
		map[string]string{"ContentType": "text/plain", "Content": "after leaving"}, nil); code != 403 {
		t.Errorf("SendMessage on node c after the customer left on node a: %d, want 403", code)
	}
}

// connectOn creates a connection of the participant on node s and opens
// its socket there, subscribed; it returns the connection token.
func connectOn(t *testing.T, s *testServer, participantToken string) (string, *websocket.Conn) {
	t.Helper()
	var conn struct {
		Websocket             struct{ Url string }
		ConnectionCredentials struct{ ConnectionToken string }
	}
	if code := participantCall(t, s.url(), "/participant/connection", participantToken,
		map[string]any{"Type": []string{"WEBSOCKET", "CONNECTION_CREDENTIALS"}, "ConnectParticipant": true}, &conn); code != 200 {
		t.Fatalf("CreateParticipantConnection: %d", code)
	}
	if !strings.HasPrefix(conn.Websocket.Url, "ws"+strings.TrimPrefix(s.url(), "http")) {
		t.Fatalf("the socket %s is not the node's (%s)", conn.Websocket.Url, s.url())
	}
	ws, _, err := websocket.DefaultDialer.Dial(conn.Websocket.Url, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ws.Close() })
	if err := ws.WriteMessage(websocket.TextMessage, []byte(`{"topic":"aws/subscribe","content":{"topics":["aws/chat"]}}`)); err != nil {
		t.Fatal(err)
	}
	return conn.ConnectionCredentials.ConnectionToken, ws
}

// transcriptMessages returns the chat's messages, oldest first, as node
// s serves them to token.
func transcriptMessages(t *testing.T, s *testServer, token string) []string {
	t.Helper()
	var out []string
	next := ""
	for {
		in := map[string]any{"MaxResults": 100, "ScanDirection": "FORWARD", "SortOrder": "ASCENDING"}
		if next != "" {
			in["NextToken"] = next
		}
		var page struct {
			Transcript []struct{ Type, Content string }
			NextToken  string
		}
		if code := participantCall(t, s.url(), "/participant/transcript", token, in, &page); code != 200 {
			t.Fatalf("GetTranscript: %d", code)
		}
		for _, it := range page.Transcript {
			if it.Type == "MESSAGE" {
				out = append(out, it.Content)
			}
		}
		if next = page.NextToken; next == "" {
			return out
		}
	}
}

// A customer whose node dies reconnects to another and misses nothing:
// her connection token still works there, a new connection opened with
// her participant token gives a socket on the new node that brings the
// agent's next lines, and the transcript holds every line acknowledged
// before and after the kill, in order, once. An agent that then leaves
// through one node is done on every node: its socket on another ends and
// its token is refused there.
func TestClusterCustomerReconnectsAfterSIGKILL(t *testing.T) {
	c := startCluster(t, 3, "")
	a, b, cn := c.nodes[0], c.nodes[1], c.nodes[2]
	contactID, customerPT, agentPT := startChatWithAgent(t, a.testServer)
	customer, customerWS := connectOn(t, a.testServer, customerPT)
	agent, agentWS := connectOn(t, b.testServer, agentPT)

	var want []string
	say := func(s *clusterNode, token, line string) {
		t.Helper()
		chatSide{token}.say(t, s.testServer, line)
		want = append(want, line)
	}
	for i := range 5 {
		say(a, customer, fmt.Sprintf("customer %d", i))
		say(b, agent, fmt.Sprintf("agent %d", i))
	}
	awaitConnectItem(t, customerWS, "agent 4", func(it connectItem) bool { return it.Content == "agent 4" })

	c.kill(0)
	if _, _, err := customerWS.ReadMessage(); err == nil {
		// A frame in flight may still be read; the next read fails.
		if _, _, err := customerWS.ReadMessage(); err == nil {
			t.Fatal("the killed node's socket still answers")
		}
	}
	// While the customer is away the agent goes on.
	for i := range 3 {
		say(b, agent, fmt.Sprintf("agent while away %d", i))
	}

	// The same connection token on node c, and a new socket there.
	say(cn, customer, "customer back on node c")
	_, again := connectOn(t, cn.testServer, customerPT)
	say(b, agent, "agent after the reconnect")
	awaitConnectItem(t, again, "the agent's line after the reconnect", func(it connectItem) bool {
		return it.Type == "MESSAGE" && it.Content == "agent after the reconnect"
	})
	if got := transcriptMessages(t, cn.testServer, customer); strings.Join(got, "|") != strings.Join(want, "|") {
		t.Fatalf("contact %s: node c's transcript\n got %q\nwant %q", contactID, got, want)
	}

	// The agent leaves through node c: its socket on node b ends, node b,
	// whose session cache holds the agent, refuses its token, and the
	// customer's socket on node c sees it leave.
	if code := participantCall(t, cn.url(), "/participant/disconnect", agent, map[string]any{}, nil); code != 200 {
		t.Fatalf("DisconnectParticipant of the agent on node c: %d", code)
	}
	awaitConnectItem(t, again, "the agent leaving", func(it connectItem) bool {
		return strings.HasSuffix(it.ContentType, "participant.left") && it.ParticipantRole == "AGENT"
	})
	agentWS.SetReadDeadline(time.Now().Add(10 * time.Second))
	for {
		_, _, err := agentWS.ReadMessage()
		if ne, ok := err.(net.Error); ok && ne.Timeout() {
			t.Fatal("the agent's socket on node b is still open 10 s after it left")
		} else if err != nil {
			break
		}
	}
	for _, s := range []*clusterNode{b, cn} {
		if code := participantCall(t, s.url(), "/participant/message", agent,
			map[string]string{"ContentType": "text/plain", "Content": "after leaving"}, nil); code != 403 {
			t.Errorf("the agent's SendMessage on %s after it left: %d, want 403", s.url(), code)
		}
	}
	if got := transcriptMessages(t, cn.testServer, customer); strings.Contains(strings.Join(got, "|"), "after leaving") {
		t.Errorf("a line sent after leaving is in the transcript: %q", got)
	}
}

// Chats whose duration runs out end once, though three nodes sweep for
// them: one chat.ended item per chat reaches the webhook, and the
// customer's socket sees it once.
func TestClusterExpiredChatEndsOnce(t *testing.T) {
	recv := webhooktest.NewReceiver("hook-secret")
	defer recv.Close()
	c := startCluster(t, 3, fmt.Sprintf(`
limits:
  chat_duration: 3s
mirror:
  poll_interval: 50ms
connectors:
  - name: hooks
    kind: webhook
    urls: [%s]
    secret_env: HOOK_SECRET
`, recv.URL), "HOOK_SECRET=hook-secret")
	var contacts []string
	var sockets []*websocket.Conn
	for i := range 6 {
		id, pt, _ := startChatWithAgent(t, c.nodes[i%3].testServer)
		tok, ws := connectOn(t, c.nodes[(i+1)%3].testServer, pt)
		chatSide{tok}.say(t, c.nodes[i%3].testServer, "hello")
		contacts = append(contacts, id)
		sockets = append(sockets, ws)
	}
	ended := func(id string) int {
		n := 0
		for _, d := range recv.Unique() {
			if d.ContactID == id && strings.Contains(string(d.Body), "chat.ended") {
				n++
			}
		}
		return n
	}
	// The sweep runs every 10 s on each node.
	deadline := time.Now().Add(40 * time.Second)
	for _, id := range contacts {
		for ended(id) == 0 {
			if time.Now().After(deadline) {
				t.Fatalf("contact %s has not ended 40 s after it expired\n%s", id, c.logs())
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
	for _, ws := range sockets {
		awaitConnectItem(t, ws, "chat.ended", func(it connectItem) bool { return strings.HasSuffix(it.ContentType, "chat.ended") })
	}
	time.Sleep(12 * time.Second) // another sweep of every node
	for i, id := range contacts {
		if n := ended(id); n != 1 {
			t.Errorf("contact %s: %d chat.ended items, want 1", id, n)
		}
		sockets[i].SetReadDeadline(time.Now().Add(200 * time.Millisecond))
		for {
			_, data, err := sockets[i].ReadMessage()
			if err != nil {
				break
			}
			if strings.Contains(string(data), "chat.ended") {
				t.Errorf("contact %s: chat.ended again on the socket", id)
			}
		}
	}
}

// hookRecorder stands between an outside system and a node: it passes
// each webhook on and keeps it, so that a test replays it byte for byte.
type hookRecorder struct {
	*httptest.Server
	mu     sync.Mutex
	target string
	got    []*recordedHook
}

type recordedHook struct {
	header http.Header
	body   []byte
}

func newHookRecorder(target string) *hookRecorder {
	h := &hookRecorder{target: target}
	h.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		h.mu.Lock()
		h.got = append(h.got, &recordedHook{r.Header.Clone(), body})
		h.mu.Unlock()
		status, err := h.send(h.target, len(h.got)-1)
		if err != nil {
			status = http.StatusBadGateway
		}
		w.WriteHeader(status)
	}))
	return h
}

// send posts the i-th webhook received to url, with its headers.
func (h *hookRecorder) send(url string, i int) (int, error) {
	h.mu.Lock()
	hk := h.got[i]
	h.mu.Unlock()
	req, _ := http.NewRequest(http.MethodPost, url, bytes.NewReader(hk.body))
	req.Header = hk.header.Clone()
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, err
	}
	res.Body.Close()
	return res.StatusCode, nil
}

// A signed webhook accepted by one node is refused by the others when
// replayed to them, byte for byte: a Zendesk trigger and a Kustomer
// event, each replayed to the two other nodes (409), and the agent's
// reply reaches the chat once.
func TestClusterReplayedWebhooksRefusedOnEveryNode(t *testing.T) {
	zd := zendesktest.NewServer(zendesktest.Options{WebhookSecret: "zd-webhook-secret", RequestsPerMinute: 2500, UpdatesPerMinute: 1000})
	defer zd.Close()
	kus := kustomertest.NewServer(kustomertest.Options{WebhookSecret: "kus-webhook-secret"})
	defer kus.Close()
	c := startCluster(t, 3, fmt.Sprintf(`
mirror:
  poll_interval: 20ms
connectors:
  - name: zendesk
    kind: zendesk
    base_url: %s
    email: bot@example.com
    token_env: ZENDESK_TOKEN
    webhook_secret_env: ZENDESK_WEBHOOK_SECRET
  - name: kustomer
    kind: kustomer
    base_url: %s
    api_key_env: KUSTOMER_API_KEY
    webhook_secret_env: KUSTOMER_WEBHOOK_SECRET
`, zd.URL, kus.URL), "ZENDESK_TOKEN=zd-token", "ZENDESK_WEBHOOK_SECRET=zd-webhook-secret",
		"KUSTOMER_API_KEY=kus-key", "KUSTOMER_WEBHOOK_SECRET=kus-webhook-secret")
	hookURL := func(i int, name string) string { return c.nodes[i].url() + "/connectors/" + name + "/webhook" }
	rec := newHookRecorder(hookURL(0, "zendesk"))
	defer rec.Close()
	zd.SetWebhookURL(rec.URL)
	kus.SetWebhookURL(hookURL(0, "kustomer"))

	contactID, pt, _ := startChatWithAgent(t, c.nodes[1].testServer)
	token, ws := connectOn(t, c.nodes[2].testServer, pt)
	chatSide{token}.say(t, c.nodes[1].testServer, "Where is my parcel?")
	var ticket zendesktest.Ticket
	waitFor(t, "the ticket and the conversation", func() bool {
		tk, ok := zd.TicketByExternalID(contactID)
		ticket = tk
		return ok && len(tk.PublicChatLines()) > 0 && len(kus.ConversationsByExternalID(contactID)) == 1
	})

	const zdReply, kusReply = "From Zendesk: it left this morning.", "From Kustomer: it arrives tomorrow."
	agent := zd.AddAgent("Grace Hopper", "grace@example.com")
	if _, status, err := zd.AgentReply(ticket.ID, agent.ID, zdReply); err != nil || status != 200 {
		t.Fatalf("the Zendesk webhook on node a: %d, %v", status, err)
	}
	conv := kus.ConversationsByExternalID(contactID)[0]
	if _, status, err := kus.AgentReply(conv.ID, kus.AddUser("Bo Diddley"), kusReply); err != nil || status != 200 {
		t.Fatalf("the Kustomer webhook on node a: %d, %v", status, err)
	}
	for _, i := range []int{1, 2} {
		if status, err := rec.send(hookURL(i, "zendesk"), 0); err != nil || status != 409 {
			t.Errorf("the Zendesk webhook replayed to node %c: %d, %v; want 409", 'a'+i, status, err)
		}
		kus.SetWebhookURL(hookURL(i, "kustomer"))
		if status, err := kus.Redeliver(len(kus.Webhooks()) - 1); err != nil || status != 409 {
			t.Errorf("the Kustomer event replayed to node %c: %d, %v; want 409", 'a'+i, status, err)
		}
	}
	// A forged one (a signature of another secret) is refused as well.
	rec.mu.Lock()
	rec.got[0].header.Set("X-Zendesk-Webhook-Signature", zendesktest.Sign("another secret", rec.got[0].header.Get("X-Zendesk-Webhook-Signature-Timestamp"), rec.got[0].body))
	rec.mu.Unlock()
	if status, _ := rec.send(hookURL(1, "zendesk"), 0); status != 401 {
		t.Errorf("a webhook signed with another secret: %d, want 401", status)
	}

	awaitConnectItem(t, ws, "both replies", func(it connectItem) bool { return it.Content == kusReply || it.Content == zdReply })
	chatSide{token}.say(t, c.nodes[0].testServer, "Thanks!")
	awaitConnectItem(t, ws, "the customer's thanks", func(it connectItem) bool { return it.Content == "Thanks!" })
	got := transcriptMessages(t, c.nodes[0].testServer, token)
	for _, reply := range []string{zdReply, kusReply} {
		if n := strings.Count(strings.Join(got, "\n"), reply); n != 1 {
			t.Errorf("%q is in the transcript %d times, want once: %q", reply, n, got)
		}
	}
}

// sendLines sends lines j0 to j1-1 of each chat through the node
// nodeOf gives it, customer and agent alternating, all chats at once.
func sendLines(hc *http.Client, chats []*concChat, j0, j1 int, nodeOf func(i int) *testServer) error {
	return loadtest.Parallel(len(chats), len(chats), func(i int) error {
		c := chats[i]
		for j := j0; j < j1; j++ {
			token := c.customer
			if j%2 == 1 {
				token = c.agent
			}
			if err := postParticipant(hc, nodeOf(i).url(), "/participant/message", token,
				map[string]string{"ContentType": "text/plain", "Content": concLine(i, j)}, nil); err != nil {
				return fmt.Errorf("chat %d message %d: %w", i, j, err)
			}
		}
		return nil
	})
}

// startConcChats starts n chats of customers with the email, chat i on
// the node nodeOf gives it.
func startConcChats(t *testing.T, hc *http.Client, n int, email string, nodeOf func(i int) *testServer) []*concChat {
	t.Helper()
	chats := make([]*concChat, n)
	if err := loadtest.Parallel(n, 8, func(i int) (err error) {
		s := nodeOf(i)
		chats[i], err = startConcChat(s.connect(), hc, s, i, email)
		return err
	}); err != nil {
		t.Fatal(err)
	}
	return chats
}

// Zendesk Sell in description mode with every contact on one lead: chats
// on three nodes append to the one description at once (a read and a
// write back each time, which Sell offers no compare-and-swap for), and
// afterwards every line of every chat is on the lead once, in order.
func TestClusterSellDescriptionOneLeadLosesNothing(t *testing.T) {
	const nChats, nLines = 30, 10
	sell := zendeskselltest.NewServer("sell-token")
	defer sell.Close()
	// A slow answer widens the window between a node's read and its write.
	sell.SetDelay(20 * time.Millisecond)
	c := startCluster(t, 3, fmt.Sprintf(`
mirror:
  poll_interval: 20ms
connectors:
  - name: sell
    kind: zendesksell
    base_url: %s
    token_env: SELL_TOKEN
    mode: description
    batch_size: 2
    requests_per_second: 10000
`, sell.URL), "SELL_TOKEN=sell-token")
	hc := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 64}, Timeout: 30 * time.Second}
	nodeOf := func(i int) *testServer { return c.nodes[i%3].testServer }
	chats := startConcChats(t, hc, nChats, concEmail, nodeOf)
	if err := sendLines(hc, chats, 0, nLines, nodeOf); err != nil {
		t.Fatal(err)
	}
	all := func() bool {
		by := sellLines(t, sell)
		for i := range chats {
			if len(by[fmt.Sprintf("c%03d", i)]) < nLines {
				return false
			}
		}
		return true
	}
	for deadline := time.Now().Add(90 * time.Second); !all(); time.Sleep(100 * time.Millisecond) {
		if time.Now().After(deadline) {
			break
		}
	}
	by := sellLines(t, sell)
	for i := range chats {
		var want []string
		for j := range nLines {
			want = append(want, concLine(i, j))
		}
		if got := by[fmt.Sprintf("c%03d", i)]; strings.Join(got, "|") != strings.Join(want, "|") {
			t.Errorf("chat %d: the lead holds\n%q\nwant\n%q", i, got, want)
		}
	}
	if leads := sell.Leads(); len(leads) != 1 {
		t.Errorf("Sell holds %d leads for one customer email", len(leads))
	}
}

// 100 chats × 50 lines, spread over three nodes, are mirrored into a
// webhook receiver and Zendesk while one node is killed (SIGKILL) with
// deliveries in flight to both; its chats go on through the other two,
// which take over its pairs once its leases run out. Afterwards every
// item is at the webhook in order per contact, repeated only under its
// delivery id, and every line is in its contact's one ticket once, in
// order.
func TestClusterMirrorsThroughSIGKILLOfANode(t *testing.T) {
	const nChats, nLines, beforeKill = 100, 50, 30
	recv := webhooktest.NewReceiver("hook-secret")
	defer recv.Close()
	hooks := mirrortest.NewProxy(recv.URL)
	defer hooks.Close()
	zd := zendesktest.NewServer(zendesktest.Options{RequestsPerMinute: 3 * 2500, UpdatesPerMinute: 3 * 1000,
		TicketUpdatesPer10Min: zendesktest.TicketUpdatesPer10Min})
	defer zd.Close()
	desk := mirrortest.NewProxy(zd.URL)
	defer desk.Close()
	c := startCluster(t, 3, fmt.Sprintf(`
mirror:
  lease: 6s
  poll_interval: 50ms
connectors:
  - name: hooks
    kind: webhook
    urls: [%s]
    secret_env: HOOK_SECRET
    timeout: 3s
    batch_size: 4
  - name: zendesk
    kind: zendesk
    base_url: %s
    email: bot@example.com
    token_env: ZENDESK_TOKEN
    requests_per_minute: 2500
    updates_per_minute: 1000
    timeout_seconds: 3
    status_on_end: none
`, hooks.URL, desk.URL), "HOOK_SECRET=hook-secret", "ZENDESK_TOKEN=zd-token")
	hc := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 128}, Timeout: 30 * time.Second}
	chats := startConcChats(t, hc, nChats, "customer@example.com", func(i int) *testServer { return c.nodes[i%3].testServer })

	began := time.Now()
	node := func(i int) *testServer { return c.nodes[i%3].testServer }
	if err := sendLines(hc, chats, 0, beforeKill-5, node); err != nil {
		t.Fatal(err)
	}
	// Answers come late, so that the kill finds requests that landed and
	// are not yet acknowledged. The last lines before the kill are sent
	// after, so that there is something to deliver even when the first
	// ones are all in already (Zendesk's tickets paced, waiting for them).
	hooks.SetLag(300*time.Millisecond, nil)
	desk.SetLag(time.Second, func(r *http.Request) bool { return r.Method == http.MethodPut })
	if err := sendLines(hc, chats, beforeKill-5, beforeKill, node); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "deliveries in flight", func() bool { return hooks.Held() > 0 && desk.Held() > 0 })
	c.kill(0)
	hooks.SetLag(0, nil)
	desk.SetLag(0, nil)
	if err := sendLines(hc, chats, beforeKill, nLines, func(i int) *testServer { return c.nodes[1+i%2].testServer }); err != nil {
		t.Fatal(err)
	}
	sent := time.Since(began)

	behind := func() string {
		byZ, byH := zendeskLines(zd), webhookLines(recv)
		var out []string
		for i, ch := range chats {
			if len(byZ[ch.contactID]) < nLines || len(byH[ch.contactID]) < nLines {
				out = append(out, fmt.Sprintf("chat %d: zendesk %d, webhook %d", i, len(byZ[ch.contactID]), len(byH[ch.contactID])))
			}
		}
		return strings.Join(out, "; ")
	}
	for deadline := time.Now().Add(3 * time.Minute); behind() != ""; time.Sleep(100 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("not delivered 3 minutes after the kill: %s\n%s", behind(), c.logs())
		}
	}
	t.Logf("%d chats × %d lines sent in %s, everything mirrored %s after the first", nChats, nLines, sent.Round(time.Millisecond), time.Since(began).Round(time.Millisecond))

	byZ, byH := zendeskLines(zd), webhookLines(recv)
	for i, ch := range chats {
		var want []string
		for j := range nLines {
			want = append(want, concLine(i, j))
		}
		if got := byZ[ch.contactID]; strings.Join(got, "|") != strings.Join(want, "|") {
			t.Errorf("chat %d: the ticket holds\n%q\nwant\n%q", i, got, want)
		}
		if got := byH[ch.contactID]; strings.Join(got, "|") != strings.Join(want, "|") {
			t.Errorf("chat %d: the webhook received\n%q\nwant\n%q", i, got, want)
		}
		var seqs []int64
		for _, d := range recv.Unique() {
			if d.ContactID == ch.contactID {
				seqs = append(seqs, d.Seq)
			}
		}
		for k, seq := range seqs {
			if seq != int64(k+1) {
				t.Errorf("chat %d: webhook items by seq %v, want 1, 2, 3, ... once each", i, seqs)
				break
			}
		}
	}
	if n := len(zd.Tickets()); n != nChats {
		t.Errorf("Zendesk holds %d tickets for %d chats", n, nChats)
	}
	ids := map[string]string{}
	for _, d := range recv.Deliveries() {
		if prev, ok := ids[d.ItemID]; ok && prev != d.ID {
			t.Errorf("item %s delivered under ids %s and %s", d.ItemID, prev, d.ID)
		}
		ids[d.ItemID] = d.ID
	}
}

// With limits.nodes a node enforces its share of the instance's quota:
// of a SendMessage burst of 6 shared by three nodes this node lets 2
// through and refuses the next with 429, as the other nodes would theirs.
func TestServeLimitsNodesSharesTheQuota(t *testing.T) {
	path := filepath.Join(t.TempDir(), "helpline.yaml")
	if err := os.WriteFile(path, []byte("limits:\n  nodes: 3\n  rates:\n    SendMessage: { rate: 0.01, burst: 6 }\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	s := startServe(t, "--config", path, "--data", t.TempDir())
	_, token, _ := startCustomer(t, s)
	var codes []int
	for i := range 4 {
		codes = append(codes, participantCall(t, s.url(), "/participant/message", token,
			map[string]string{"ContentType": "text/plain", "Content": fmt.Sprintf("line %d", i)}, nil))
	}
	if fmt.Sprint(codes) != "[200 200 429 429]" {
		t.Errorf("SendMessage ×4 with a burst of 6 shared by 3 nodes: %v, want [200 200 429 429]", codes)
	}
}
