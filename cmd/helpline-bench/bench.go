package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"runtime/debug"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/connect"
	"github.com/aws/aws-sdk-go-v2/service/connect/types"
	"github.com/gorilla/websocket"

	"github.com/helplinehq/helpline/connector/freshdesk/freshdesktest"
	"github.com/helplinehq/helpline/connector/kustomer/kustomertest"
	"github.com/helplinehq/helpline/connector/webhook/webhooktest"
	"github.com/helplinehq/helpline/connector/zendesk/zendesktest"
	"github.com/helplinehq/helpline/internal/loadtest"
)

// runBench starts a Helpline server of its own (the product binary, on a
// temporary data directory, with rate limits off) and measures:
//
//  1. sustained SendMessage throughput over many concurrent chats, each
//     with a customer and an agent connected over WebSockets;
//  2. latency from SendMessage to the other participant's socket at a
//     fixed offered rate;
//  3. the server's resident memory per idle WebSocket, on a fresh server;
//  4. the built-in bot: a customer's message to the bot's reply on the
//     customer's socket, and the classifier's throughput (botBench);
//  5. with -phases mirror, zendesk, kustomer and/or freshdesk (off by
//     default), transcript mirroring: see mirrorBench.
//  6. with -phases cluster (off by default), throughput and latency on one
//     node on SQLite, one on PostgreSQL and NATS, and three on them: see
//     clusterBench.
func runBench(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("helpline-bench", flag.ContinueOnError)
	fs.SetOutput(stderr)
	bin := fs.String("bin", "", "the helpline binary to measure (default: build this module's cmd/helpline)")
	chats := fs.Int("chats", 1000, "concurrent chats, each with a customer and an agent socket")
	workers := fs.Int("workers", 128, "concurrent SendMessage callers in the throughput phase")
	duration := fs.Duration("duration", 20*time.Second, "length of each measured phase")
	rate := fs.Int("rate", 2000, "offered messages per second in the latency and mirroring phases (0 skips latency)")
	idle := fs.Int("idle", 10000, "idle WebSockets in the memory phase (0 skips it)")
	phases := fs.String("phases", "throughput,latency,memory,bot", "phases to run: throughput, latency, memory, bot, mirror, zendesk, kustomer, freshdesk, agents, cluster")
	botRate := fs.Int("bot-rate", 500, "customer questions per second offered to the bot chats in the bot phase")
	agentsN := fs.Int("agents", 500, "online agents, each with an agent WebSocket, in the agents phase")
	agentChats := fs.Int("agent-chats", 2000, "chats arriving in the agents phase")
	arrival := fs.Duration("arrival", time.Minute, "how long the agents phase's chats take to arrive, evenly spread")
	msgProfile := fs.String("cpuprofile", "", "the throughput and latency phases' server writes a CPU profile of its whole run to this file")
	agentsProfile := fs.String("agents-cpuprofile", "", "the agents phase's server writes a CPU profile of its whole run to this file")
	mirrorWorkers := fs.Int("mirror-workers", 64, "the mirror dispatcher's workers per connector (mirror.workers) in the mirroring phases")
	scale := fs.Int("zendesk-scale", 25, "the zendesk phase's fake allows this many times Zendesk Enterprise's account limits (the per-ticket limit stays as documented)")
	kusScale := fs.Int("kustomer-scale", 25, "the kustomer phase's fake allows this many times Kustomer Enterprise's org budget (the per-customer caps stay as documented)")
	fdScale := fs.Int("freshdesk-scale", 25, "the freshdesk phase's fake allows this many times Freshdesk Enterprise's account and ticket write budgets")
	cluster := clusterFlags(fs)
	fs.StringVar(&benchBus, "bus", "", "serve on this NATS bus (nats://host:4222), under a subject prefix of its own, instead of the in-process one")
	if err := fs.Parse(args); err != nil {
		return err
	}
	// The memory phase opens as many sockets as -idle says: the server,
	// which inherits the limit, needs a descriptor for each.
	if err := raiseFileLimit(); err != nil {
		fmt.Fprintln(stderr, "helpline-bench: raising the open-file limit:", err)
	}
	// The load generator shares the machine with the server it measures:
	// it collects garbage less often to leave the server more CPU.
	debug.SetGCPercent(400)
	want := func(p string) bool { return slices.Contains(strings.Split(*phases, ","), p) }
	if *bin == "" {
		dir, err := os.MkdirTemp("", "helpline-bench-bin-")
		if err != nil {
			return err
		}
		defer os.RemoveAll(dir)
		if *bin, err = buildProduct(ctx, dir, stderr); err != nil {
			return err
		}
	}
	fmt.Fprintf(stdout, "helpline-bench: %d chats, %d workers, %s per phase\n", *chats, *workers, *duration)

	if want("throughput") || want("latency") {
		var extra []string
		if *msgProfile != "" {
			path, err := filepath.Abs(*msgProfile)
			if err != nil {
				return err
			}
			extra = append(extra, "--cpuprofile", path)
		}
		srv, err := startBenchServer(ctx, stderr, *bin, *chats+16, "", extra...)
		if err != nil {
			return err
		}
		b := &bench{srv: srv}
		err = b.run(ctx, stdout, *chats, *workers, *duration, *rate, want)
		srv.stop()
		if err != nil {
			return err
		}
	}
	if want("mirror") || want("zendesk") || want("kustomer") || want("freshdesk") {
		m := &mirrorBench{bin: *bin, chats: *chats, rate: *rate, duration: *duration, webhook: want("mirror"), zendesk: want("zendesk"), scale: *scale, workers: *mirrorWorkers,
			kustomer: want("kustomer"), kustomerScale: *kusScale, freshdesk: want("freshdesk"), freshdeskScale: *fdScale}
		if err := m.run(ctx, stdout, stderr); err != nil {
			return err
		}
	}
	if want("cluster") {
		cluster.bin, cluster.chats, cluster.workers, cluster.duration = *bin, *chats, *workers, *duration
		if err := cluster.run(ctx, stdout, stderr); err != nil {
			return err
		}
	}
	if want("bot") && *botRate > 0 {
		if err := runBotBench(ctx, stdout, stderr, *bin, *chats, *botRate, *duration); err != nil {
			return err
		}
	}
	if want("agents") {
		a := &agentsBench{bin: *bin, agents: *agentsN, chats: *agentChats, arrival: *arrival, workers: *workers, duration: *duration, cpuProfile: *agentsProfile}
		if err := a.run(ctx, stdout, stderr); err != nil {
			return err
		}
	}
	if want("memory") && *idle > 0 {
		srv, err := startBenchServer(ctx, stderr, *bin, *idle/2+16, "")
		if err != nil {
			return err
		}
		b := &bench{srv: srv}
		err = b.memory(ctx, stdout, *idle)
		srv.stop()
		return err
	}
	return nil
}

// benchBus is the -bus flag: the NATS server every child server uses as its
// bus; empty for the in-process bus.
var benchBus string

// benchServer is a `helpline serve` child process.
type benchServer struct {
	cmd                                    *exec.Cmd
	dir                                    string
	endpoint, instance, flow, akid, secret string
}

// startBenchServer starts the child server from the helpline binary exe;
// config, when not empty, is the rest of its configuration file, whose
// secrets it finds in the environment variables benchSecrets names. The
// file always lifts the total connection cap (http.max_connections): the
// load opens as many sockets as its flags ask for, all from loopback,
// which the per-address cap exempts by default.
func startBenchServer(ctx context.Context, stderr io.Writer, exe string, maxChats int, config string, extra ...string) (*benchServer, error) {
	dir, err := os.MkdirTemp("", "helpline-bench-")
	if err != nil {
		return nil, err
	}
	args := []string{"serve", "--data", filepath.Join(dir, "data"), "--listen", "127.0.0.1:0",
		"--disable-rate-limits", "--max-active-chats", strconv.Itoa(maxChats)}
	if benchBus != "" {
		// A prefix of its own keeps the run apart from other users of
		// the server.
		config = "bus: " + benchBus + "\nbus_prefix: bench-" + strconv.FormatInt(time.Now().UnixNano(), 36) + "\n" + config
	}
	args = append(args, extra...)
	path := filepath.Join(dir, "helpline.yaml")
	if err := os.WriteFile(path, []byte("http:\n  max_connections: 0\n"+config), 0o600); err != nil {
		return nil, err
	}
	args = append(args, "--config", path)
	cmd := exec.CommandContext(ctx, exe, args...)
	cmd.Env = append(os.Environ(), "HELPLINE_ACCESS_KEY_ID=", "HELPLINE_SECRET_ACCESS_KEY=")
	for k, v := range benchSecrets {
		cmd.Env = append(cmd.Env, k+"="+v)
	}
	var logs bytes.Buffer
	cmd.Stderr = &logs
	out, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	s := &benchServer{cmd: cmd, dir: dir}
	fields := map[string]*string{"Connect endpoint": &s.endpoint, "Instance id": &s.instance,
		"Contact flow id": &s.flow, "Access key id": &s.akid, "Secret access key": &s.secret}
	sc := bufio.NewScanner(out)
	for sc.Scan() && (s.endpoint == "" || s.secret == "") {
		if k, v, ok := strings.Cut(sc.Text(), ":"); ok && fields[strings.TrimSpace(k)] != nil {
			*fields[strings.TrimSpace(k)] = strings.TrimSpace(v)
		}
	}
	go io.Copy(io.Discard, out)
	if s.secret == "" {
		s.stop()
		return nil, fmt.Errorf("server did not start: %s", logs.String())
	}
	return s, nil
}

func (s *benchServer) stop() {
	s.cmd.Process.Signal(os.Interrupt)
	s.cmd.Wait()
	os.RemoveAll(s.dir)
}

// diskWatch follows the server's database while a phase runs: the largest
// size its write-ahead log reaches (sampled every 100 ms) and how much
// the database file grows.
type diskWatch struct {
	db, wal   string
	startSize int64
	maxWAL    atomic.Int64
	stop      chan struct{}
	done      chan struct{}
}

func (s *benchServer) watchDisk() *diskWatch {
	dw := &diskWatch{db: filepath.Join(s.dir, "data", "helpline.db"), stop: make(chan struct{}), done: make(chan struct{})}
	dw.wal = dw.db + "-wal"
	dw.startSize = fileSize(dw.db)
	go func() {
		defer close(dw.done)
		t := time.NewTicker(100 * time.Millisecond)
		defer t.Stop()
		for {
			dw.maxWAL.Store(max(dw.maxWAL.Load(), fileSize(dw.wal)))
			select {
			case <-dw.stop:
				return
			case <-t.C:
			}
		}
	}()
	return dw
}

// end stops the watch and describes it for a phase that stored messages.
func (dw *diskWatch) end(messages int64) string {
	close(dw.stop)
	<-dw.done
	grown := fileSize(dw.db) - dw.startSize
	per := ""
	if messages > 0 {
		per = fmt.Sprintf(" (%d bytes per message, before the last checkpoint)", grown/messages)
	}
	return fmt.Sprintf("write-ahead log largest %.1f MB, %.1f MB at the end; database file grew %.1f MB%s",
		float64(dw.maxWAL.Load())/1e6, float64(fileSize(dw.wal))/1e6, float64(grown)/1e6, per)
}

func fileSize(path string) int64 {
	fi, err := os.Stat(path)
	if err != nil {
		return 0
	}
	return fi.Size()
}

// rss returns the server's resident set size in bytes.
func (s *benchServer) rss() (int64, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", s.cmd.Process.Pid))
	if err != nil {
		return 0, err
	}
	for _, line := range strings.Split(string(b), "\n") {
		if rest, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			kb, err := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(rest), "kB")), 10, 64)
			return kb * 1024, err
		}
	}
	return 0, errors.New("no VmRSS in /proc status")
}

// goroutines returns the server's goroutine count from its metrics, or
// "?" if they cannot be read.
func (s *benchServer) goroutines() string {
	resp, err := http.Get(s.endpoint + "/metrics")
	if err != nil {
		return "?"
	}
	defer resp.Body.Close()
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		if n, ok := strings.CutPrefix(sc.Text(), "go_goroutines "); ok {
			return n
		}
	}
	return "?"
}

type bench struct {
	srv  *benchServer
	http *http.Client

	// Latencies of messages seen by the other participant, while recording.
	mu        sync.Mutex
	recording bool
	latencies []time.Duration
	delivered atomic.Int64
	// lost counts the sockets that ended while their chat was measured,
	// and lostErr holds the first one's error (under mu).
	lost    atomic.Int64
	lostErr error
	// beating are the watched sockets, sent a heartbeat every 10 s as
	// chatjs does (the server closes a socket silent for a minute);
	// beat starts the one goroutine that sends them.
	beating []*benchParty
	beat    sync.Once
	// tokens numbers the messages' ClientTokens.
	tokens atomic.Int64
	// sources is how many loopback source addresses (127.0.0.2 and up)
	// the WebSockets are spread over, 0 for the default; dials counts
	// the sockets dialled.
	sources int
	dials   atomic.Int64
}

// socketsPerSource is how many WebSockets the memory phase opens from one
// loopback source address: a source address has 28,232 ports
// (32768-60999) towards the server's one.
const socketsPerSource = 20000

// dialSocket dials a WebSocket's connection, from the next of b.sources
// loopback source addresses.
func (b *bench) dialSocket(ctx context.Context, network, addr string) (net.Conn, error) {
	var d net.Dialer
	if b.sources > 0 {
		i := b.dials.Add(1)
		d.LocalAddr = &net.TCPAddr{IP: net.IPv4(127, 0, 0, byte(2+i%int64(b.sources)))}
	}
	return d.DialContext(ctx, network, addr)
}

// benchChat is one chat with a connected customer and agent.
type benchChat struct {
	contactID string
	parties   [2]*benchParty // customer, agent
}

type benchParty struct {
	id, participantToken, connectionToken string
	conn                                  *websocket.Conn
}

// newBenchHTTP returns the HTTP client the load's callers share: enough
// idle connections to the one server for all of them.
func newBenchHTTP() *http.Client {
	return &http.Client{Transport: &http.Transport{MaxIdleConns: 1024, MaxIdleConnsPerHost: 1024}, Timeout: 30 * time.Second}
}

func (b *bench) connectClient() *connect.Client {
	return connect.New(connect.Options{
		BaseEndpoint: aws.String(b.srv.endpoint),
		Region:       "us-east-1",
		Credentials:  credentials.NewStaticCredentialsProvider(b.srv.akid, b.srv.secret, ""),
		HTTPClient:   b.http,
	})
}

// setupChats starts n chats, each with a customer and an agent; with open
// set it connects both over subscribed WebSockets, and with watch set it
// also reads their sockets.
func (b *bench) setupChats(ctx context.Context, n int, open, watch bool) ([]*benchChat, error) {
	b.http = newBenchHTTP()
	cc := b.connectClient()
	out := make([]*benchChat, n)
	err := loadtest.Parallel(n, 32, func(i int) (err error) {
		out[i], err = b.newChat(ctx, cc, i, open, watch)
		return err
	})
	return out, err
}

func (b *bench) newChat(ctx context.Context, cc *connect.Client, i int, open, watch bool) (*benchChat, error) {
	started, err := cc.StartChatContact(ctx, &connect.StartChatContactInput{
		InstanceId:         &b.srv.instance,
		ContactFlowId:      &b.srv.flow,
		ParticipantDetails: &types.ParticipantDetails{DisplayName: aws.String(fmt.Sprintf("customer %d", i))},
	})
	if err != nil {
		return nil, fmt.Errorf("StartChatContact: %w", err)
	}
	agent, err := cc.CreateParticipant(ctx, &connect.CreateParticipantInput{
		InstanceId: &b.srv.instance, ContactId: started.ContactId,
		ParticipantDetails: &types.ParticipantDetailsToAdd{ParticipantRole: types.ParticipantRoleAgent, DisplayName: aws.String("agent")},
	})
	if err != nil {
		return nil, fmt.Errorf("CreateParticipant: %w", err)
	}
	c := &benchChat{contactID: *started.ContactId}
	tokens := [2]string{*started.ParticipantToken, *agent.ParticipantCredentials.ParticipantToken}
	ids := [2]string{*started.ParticipantId, *agent.ParticipantId}
	for k := range tokens {
		c.parties[k] = &benchParty{id: ids[k], participantToken: tokens[k]}
		if !open {
			continue
		}
		if err := b.connectParty(ctx, c.parties[k], watch); err != nil {
			return nil, err
		}
	}
	return c, nil
}

// connectParty creates a connection and opens a subscribed WebSocket.
func (b *bench) connectParty(ctx context.Context, p *benchParty, watch bool) error {
	var res struct {
		Websocket             struct{ Url string }
		ConnectionCredentials struct{ ConnectionToken string }
	}
	err := b.call(ctx, "/participant/connection", p.participantToken,
		map[string]any{"Type": []string{"WEBSOCKET", "CONNECTION_CREDENTIALS"}, "ConnectParticipant": true}, &res)
	if err != nil {
		return fmt.Errorf("CreateParticipantConnection: %w", err)
	}
	d := websocket.Dialer{ReadBufferSize: 1024, WriteBufferSize: 1024, HandshakeTimeout: 30 * time.Second, NetDialContext: b.dialSocket}
	conn, _, err := d.DialContext(ctx, res.Websocket.Url, nil)
	if err != nil {
		return fmt.Errorf("websocket: %w", err)
	}
	if err := conn.WriteMessage(websocket.TextMessage, []byte(`{"topic":"aws/subscribe","content":{"topics":["aws/chat"]}}`)); err != nil {
		return err
	}
	var ack struct {
		Topic   string
		Content struct{ Status string }
	}
	if err := conn.ReadJSON(&ack); err != nil || ack.Topic != "aws/subscribe" || ack.Content.Status != "success" {
		return fmt.Errorf("subscribe: %+v %v", ack, err)
	}
	p.connectionToken, p.conn = res.ConnectionCredentials.ConnectionToken, conn
	if watch {
		b.keepAlive(p)
		go b.read(p)
	}
	return nil
}

// keepAlive has p's socket sent a heartbeat every 10 s.
func (b *bench) keepAlive(p *benchParty) {
	b.mu.Lock()
	b.beating = append(b.beating, p)
	b.mu.Unlock()
	b.beat.Do(func() { go b.heartbeats() })
}

// heartbeats sends every watched socket an aws/heartbeat every 10 s, the
// only writes to a socket after its subscription.
func (b *bench) heartbeats() {
	frame := []byte(`{"topic":"aws/heartbeat"}`)
	for range time.Tick(10 * time.Second) {
		b.mu.Lock()
		parties := slices.Clone(b.beating)
		b.mu.Unlock()
		for _, p := range parties {
			p.conn.WriteMessage(websocket.TextMessage, frame) // a closed socket's error is read's
		}
	}
}

// read records, for each message another participant sent, the time from
// its SendMessage call (written in its content) to now. Only frames that
// can be such a message are decoded: the load generator shares the
// machine with the server, so its own work is kept small.
func (b *bench) read(p *benchParty) {
	own := []byte(`\"ParticipantId\":\"` + p.id + `\"`)
	for {
		_, data, err := p.conn.ReadMessage()
		if err != nil {
			if b.lost.Add(1) == 1 {
				b.mu.Lock()
				b.lostErr = err
				b.mu.Unlock()
			}
			return
		}
		now := time.Now()
		if !bytes.Contains(data, []byte(`\"Content\":\"bench `)) || bytes.Contains(data, own) {
			continue
		}
		var frame struct{ Topic, Content string }
		var it struct{ Type, Content string }
		if json.Unmarshal(data, &frame) != nil || frame.Topic != "aws/chat" ||
			json.Unmarshal([]byte(frame.Content), &it) != nil || it.Type != "MESSAGE" {
			continue
		}
		ns, err := strconv.ParseInt(strings.TrimPrefix(it.Content, "bench "), 10, 64)
		if err != nil {
			continue
		}
		b.delivered.Add(1)
		b.mu.Lock()
		if b.recording {
			b.latencies = append(b.latencies, now.Sub(time.Unix(0, ns)))
		}
		b.mu.Unlock()
	}
}

func (b *bench) call(ctx context.Context, path, token string, in, out any) error {
	body, err := json.Marshal(in)
	if err != nil {
		return err
	}
	return b.post(ctx, path, token, body, out)
}

func (b *bench) post(ctx context.Context, path, token string, body []byte, out any) error {
	return loadtest.PostParticipant(ctx, b.http, b.srv.endpoint, path, token, body, out)
}

// send sends a message whose content is the time of sending.
func (b *bench) send(ctx context.Context, p *benchParty) error {
	return b.sendTo(ctx, b.srv.endpoint, p)
}

// sendTo sends a message whose content is the time of sending, with a
// ClientToken of its own, to the server at endpoint.
func (b *bench) sendTo(ctx context.Context, endpoint string, p *benchParty) error {
	body := `{"ContentType":"text/plain","Content":"bench ` + strconv.FormatInt(time.Now().UnixNano(), 10) +
		`","ClientToken":"m` + strconv.FormatInt(b.tokens.Add(1), 10) + `"}`
	return loadtest.PostParticipant(ctx, b.http, endpoint, "/participant/message", p.connectionToken, []byte(body), nil)
}

func (b *bench) record(on bool) []time.Duration {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.recording = on
	lat := b.latencies
	b.latencies = nil
	return lat
}

func (b *bench) run(ctx context.Context, w io.Writer, n, workers int, d time.Duration, rate int, want func(string) bool) error {
	t0 := time.Now()
	chats, err := b.setupChats(ctx, n, true, true)
	if err != nil {
		return err
	}
	fmt.Fprintf(w, "set up %d chats (%d sockets) in %s\n", n, 2*n, time.Since(t0).Round(time.Millisecond))
	var next atomic.Int64
	pick := func() *benchParty {
		i := next.Add(1)
		return chats[int(i/2)%n].parties[i%2]
	}

	if want("throughput") {
		// Warm up, then measure a closed loop of workers sending as fast
		// as the server acknowledges.
		warm, _ := b.closedLoop(ctx, workers, 2*time.Second, pick, b.send)
		b.settle(warm)
		b.record(true)
		base := b.delivered.Load()
		disk := b.srv.watchDisk()
		cpu := meterCPU(b.srv.cmd.Process.Pid)
		mallocs := serverMallocs(ctx, b.srv.endpoint)
		sent, failed := b.closedLoop(ctx, workers, d, pick, b.send)
		b.settle(base + sent)
		perMsg := cpu.perMessage(sent)
		allocs := -1.0
		if end := serverMallocs(ctx, b.srv.endpoint); mallocs >= 0 && end >= 0 && sent > 0 {
			allocs = (end - mallocs) / float64(sent)
		}
		lat := b.record(false)
		got := b.delivered.Load() - base
		fmt.Fprintf(w, "throughput: %d messages in %s = %.0f messages/s sustained (%d failed), delivered to the other socket: %d (%d missing); latency p50 %s p99 %s; server CPU %.0f µs and %.0f allocations per message\n",
			sent, d, float64(sent)/d.Seconds(), failed, got, sent-got, pct(lat, 50), pct(lat, 99), perMsg, allocs)
		fmt.Fprintf(w, "  disk: %s\n", disk.end(sent))
		if err := b.floor(ctx, w, workers, d, pick, sent); err != nil {
			return err
		}
	}
	if want("latency") && rate > 0 {
		b.record(true)
		base := b.delivered.Load()
		disk := b.srv.watchDisk()
		sent, failed, behind := b.openLoop(ctx, rate, d, pick, b.send)
		b.settle(base + sent)
		lat := b.record(false)
		got := b.delivered.Load() - base
		fmt.Fprintf(w, "latency at %d messages/s offered: sent %d (%d failed, generator behind %d), delivered %d; SendMessage→other socket p50 %s p90 %s p99 %s max %s\n",
			rate, sent, failed, behind, got, pct(lat, 50), pct(lat, 90), pct(lat, 99), pct(lat, 100))
		fmt.Fprintf(w, "  disk: %s\n", disk.end(sent))
	}
	if n := b.lost.Load(); n > 0 {
		b.mu.Lock()
		fmt.Fprintf(w, "  sockets ended by the server or the network during the run: %d (the first: %v)\n", n, b.lostErr)
		b.mu.Unlock()
	}
	for _, c := range chats {
		for _, p := range c.parties {
			p.conn.Close()
		}
	}
	return nil
}

// settle waits up to 10 s for the sockets to receive want messages.
func (b *bench) settle(want int64) {
	for end := time.Now().Add(10 * time.Second); b.delivered.Load() < want && time.Now().Before(end); {
		time.Sleep(20 * time.Millisecond)
	}
}

// floor runs the throughput phase's closed loop again, with the same
// workers, connections and bodies, against a bare handler (serveFloor) in
// a process of its own, and reports Helpline's throughput (sent messages in
// d) as a share of the floor's.
func (b *bench) floor(ctx context.Context, w io.Writer, workers int, d time.Duration, pick func() *benchParty, sent int64) error {
	f, err := startFloor(ctx)
	if err != nil {
		return err
	}
	defer f.stop()
	send := func(ctx context.Context, p *benchParty) error { return b.sendTo(ctx, f.endpoint, p) }
	b.closedLoop(ctx, workers, time.Second, pick, send) // warm up
	cpu := meterCPU(f.cmd.Process.Pid)
	floorSent, floorFailed := b.closedLoop(ctx, workers, d, pick, send)
	perMsg := cpu.perMessage(floorSent)
	ratio := 0.0
	if floorSent > 0 {
		ratio = float64(sent) / float64(floorSent)
	}
	fmt.Fprintf(w, "  floor (bare net/http handler, same load): %.0f messages/s (%d failed), server CPU %.0f µs per message; Helpline ÷ floor %.2f\n",
		float64(floorSent)/d.Seconds(), floorFailed, perMsg, ratio)
	return nil
}

func (b *bench) closedLoop(ctx context.Context, workers int, d time.Duration, pick func() *benchParty, send func(context.Context, *benchParty) error) (sent, failed int64) {
	var ok, bad atomic.Int64
	end := time.Now().Add(d)
	var wg sync.WaitGroup
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for time.Now().Before(end) && ctx.Err() == nil {
				if err := send(ctx, pick()); err != nil {
					bad.Add(1)
				} else {
					ok.Add(1)
				}
			}
		}()
	}
	wg.Wait()
	return ok.Load(), bad.Load()
}

// openLoop offers rate messages per second for d, whatever the latency:
// a message is due every 1/rate seconds and is handed to an idle sender;
// when none is idle the generator counts itself behind.
func (b *bench) openLoop(ctx context.Context, rate int, d time.Duration, pick func() *benchParty, send func(context.Context, *benchParty) error) (sent, failed, behind int64) {
	var ok, bad atomic.Int64
	jobs := make(chan *benchParty, 64)
	var wg sync.WaitGroup
	for range 256 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for p := range jobs {
				if err := send(ctx, p); err != nil {
					bad.Add(1)
				} else {
					ok.Add(1)
				}
			}
		}()
	}
	start := time.Now()
	interval := time.Second / time.Duration(rate)
	for i := 0; ; i++ {
		due := start.Add(time.Duration(i) * interval)
		if due.Sub(start) >= d || ctx.Err() != nil {
			break
		}
		if wait := time.Until(due); wait > 0 {
			time.Sleep(wait)
		}
		select {
		case jobs <- pick():
		default:
			behind++
		}
	}
	close(jobs)
	wg.Wait()
	return ok.Load(), bad.Load(), behind
}

// memory opens idle sockets (a customer and an agent per chat) on a fresh
// server and reports the growth of its resident memory per socket.
func (b *bench) memory(ctx context.Context, w io.Writer, sockets int) error {
	// Chats first; the connections and sockets are what is measured.
	chats, err := b.setupChats(ctx, sockets/2, false, false)
	if err != nil {
		return err
	}
	time.Sleep(2 * time.Second)
	before, err := b.srv.rss()
	if err != nil {
		return err
	}
	goroutinesBefore := b.srv.goroutines()
	b.sources = (sockets + socketsPerSource - 1) / socketsPerSource
	var parties []*benchParty
	for _, c := range chats {
		parties = append(parties, c.parties[:]...)
	}
	// The sockets send heartbeats, as chatjs does, so that the server
	// does not close the first ones as idle while the last ones open;
	// nothing reads them.
	err = loadtest.Parallel(len(parties), 32, func(i int) error {
		if err := b.connectParty(ctx, parties[i], false); err != nil {
			return err
		}
		b.keepAlive(parties[i])
		return nil
	})
	if err != nil {
		return err
	}
	time.Sleep(5 * time.Second)
	after, err := b.srv.rss()
	if err != nil {
		return err
	}
	fmt.Fprintf(w, "memory: %d idle WebSockets; server RSS %.1f MiB before, %.1f MiB after: %.1f KB per idle WebSocket; server goroutines %s before, %s after\n",
		len(parties), float64(before)/(1<<20), float64(after)/(1<<20), float64(after-before)/float64(len(parties))/1000,
		goroutinesBefore, b.srv.goroutines())
	for _, p := range parties {
		p.conn.Close()
	}
	return nil
}

// pct returns the p-th percentile of ds (p=100 is the maximum).
func pct(ds []time.Duration, p float64) time.Duration {
	if len(ds) == 0 {
		return 0
	}
	slices.Sort(ds)
	i := int(float64(len(ds)-1) * p / 100)
	return ds[i].Round(10 * time.Microsecond)
}

// limitProxy stands between Helpline and a helpdesk fake and records
// the 429s the fake answers.
type limitProxy struct {
	*httptest.Server
	mu      sync.Mutex // guards tooMany
	tooMany []refusal
}

// refusal is a 429: when it was answered and whether the ticket's own
// limit (rather than the account's) refused the request.
type refusal struct {
	at        time.Time
	perTicket bool
}

func newLimitProxy(target string) (*limitProxy, error) {
	u, err := url.Parse(target)
	if err != nil {
		return nil, err
	}
	p := &limitProxy{}
	rp := httputil.NewSingleHostReverseProxy(u)
	rp.Transport = &http.Transport{MaxIdleConnsPerHost: 256}
	// A request its client gave up on is the client's to report.
	rp.ErrorLog = log.New(io.Discard, "", 0)
	rp.ModifyResponse = func(res *http.Response) error {
		if res.StatusCode != http.StatusTooManyRequests {
			return nil
		}
		body, err := io.ReadAll(res.Body)
		res.Body.Close()
		res.Body = io.NopCloser(bytes.NewReader(body))
		p.mu.Lock()
		p.tooMany = append(p.tooMany, refusal{at: time.Now(), perTicket: bytes.Contains(body, []byte("this ticket"))})
		p.mu.Unlock()
		return err
	}
	p.Server = httptest.NewServer(rp)
	return p, nil
}

// refusals counts the 429s answered at or after t, and how many of them
// the per-ticket limit answered.
func (p *limitProxy) refusals(t time.Time) (total, perTicket int) {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, r := range p.tooMany {
		if !r.at.Before(t) {
			total++
			if r.perTicket {
				perTicket++
			}
		}
	}
	return total, perTicket
}

// benchSecrets are the secrets a bench server's configuration names,
// passed to it in its environment.
var benchSecrets = map[string]string{
	"HELPLINE_BENCH_HOOK_SECRET":    "bench-hook-secret",
	"HELPLINE_BENCH_ZENDESK_TOKEN":  "bench-zendesk-token",
	"HELPLINE_BENCH_KUSTOMER_KEY":   "bench-kustomer-key",
	"HELPLINE_BENCH_FRESHDESK_KEY":  "bench-freshdesk-key",
	"HELPLINE_BENCH_AGENT_PASSWORD": "bench agent passphrase",
	"HELPLINE_BENCH_BOT_SECRET":     "bench-bot-secret-0123456789",
}

// zendeskTicketWindow is the window of Zendesk's per-ticket update limit
// (zendesktest.TicketUpdatesPer10Min).
const zendeskTicketWindow = 10 * time.Minute

// mirrorBench measures transcript mirroring. A server of its own gets
// chats with a customer and an agent (connected, without sockets) and
// messages offered at a fixed rate through SendMessage, each carrying a
// number and the time of its SendMessage call.
//
// With webhook set (phase "mirror") a webhook connector posts every item
// to a receiver in this process: the lag runs from SendMessage to
// receipt; lost are acknowledged messages never received, doubled those
// received under two delivery ids, repeats deliveries of an id already
// received.
//
// With zendesk set (phase "zendesk") a Zendesk connector mirrors the same
// chats into a fake in this process that enforces Zendesk's per-ticket
// limit as documented and scale times the Enterprise account limits (at
// the documented ones, 1,000 new tickets take 20 minutes to get their
// first comments); the connector is configured with the account limits
// scaled alike. At the end the tickets' comments are read: every message
// must be there once, and its lag runs from SendMessage to the comment's
// creation.
//
// With kustomer or freshdesk set (phases "kustomer", "freshdesk") the
// same chats are mirrored into that helpdesk's fake, which enforces
// kustomerScale (freshdeskScale) times the Enterprise plan's budgets and
// Kustomer's per-customer caps as documented; the connector is
// configured with the scaled budget. See reportDesk for what is
// measured.
type mirrorBench struct {
	bin              string // the helpline binary
	chats, rate      int
	duration         time.Duration
	webhook, zendesk bool
	scale            int
	workers          int // the dispatcher's, per connector

	kustomer, freshdesk           bool
	kustomerScale, freshdeskScale int

	next  atomic.Int64
	mu    sync.Mutex     // guards acked and sends
	acked map[int64]bool // messages whose SendMessage succeeded, by number
	// chatOf is each party's chat, by index; sends are the acknowledged
	// messages' chats and send times, for idealLag.
	chatOf map[*benchParty]int
	sends  []benchSend
}

// benchSend is an acknowledged message: its chat and when it was sent.
type benchSend struct {
	chat int
	at   time.Time
}

func (m *mirrorBench) run(ctx context.Context, w, stderr io.Writer) error {
	conf := fmt.Sprintf("mirror:\n  poll_interval: 100ms\n  workers: %d\nconnectors:\n", m.workers)
	var recv *webhooktest.Receiver
	if m.webhook {
		recv = webhooktest.NewReceiver(benchSecrets["HELPLINE_BENCH_HOOK_SECRET"])
		defer recv.Close()
		conf += fmt.Sprintf("  - {name: hooks, kind: webhook, urls: [%s], secret_env: HELPLINE_BENCH_HOOK_SECRET}\n", recv.URL)
	}
	var zd *zendesktest.Server
	var proxy *limitProxy
	if m.zendesk {
		zd = zendesktest.NewServer(zendesktest.Options{
			Token:                 benchSecrets["HELPLINE_BENCH_ZENDESK_TOKEN"],
			RequestsPerMinute:     zendesktest.EnterpriseRequestsPerMinute * m.scale,
			UpdatesPerMinute:      zendesktest.EnterpriseUpdatesPerMinute * m.scale,
			TicketUpdatesPer10Min: zendesktest.TicketUpdatesPer10Min,
		})
		defer zd.Close()
		var err error
		if proxy, err = newLimitProxy(zd.URL); err != nil {
			return err
		}
		defer proxy.Close()
		conf += fmt.Sprintf("  - {name: zendesk, kind: zendesk, base_url: %s, email: bot@example.com, token_env: HELPLINE_BENCH_ZENDESK_TOKEN, "+
			"requests_per_minute: %d, updates_per_minute: %d, status_on_end: none}\n",
			proxy.URL, zendesktest.EnterpriseRequestsPerMinute*m.scale, zendesktest.EnterpriseUpdatesPerMinute*m.scale)
	}
	var kus *kustomertest.Server
	var kusProxy *limitProxy
	if m.kustomer {
		kus = kustomertest.NewServer(kustomertest.Options{
			APIKey:            benchSecrets["HELPLINE_BENCH_KUSTOMER_KEY"],
			RequestsPerMinute: kustomertest.EnterpriseRequestsPerMinute * m.kustomerScale,
		})
		defer kus.Close()
		var err error
		if kusProxy, err = newLimitProxy(kus.URL); err != nil {
			return err
		}
		defer kusProxy.Close()
		conf += fmt.Sprintf("  - {name: kustomer, kind: kustomer, base_url: %s, api_key_env: HELPLINE_BENCH_KUSTOMER_KEY, requests_per_minute: %d, status_on_end: none}\n",
			kusProxy.URL, kustomertest.EnterpriseRequestsPerMinute*m.kustomerScale)
	}
	var fd *freshdesktest.Server
	var fdProxy *limitProxy
	if m.freshdesk {
		fd = freshdesktest.NewServer(freshdesktest.Options{
			APIKey:                benchSecrets["HELPLINE_BENCH_FRESHDESK_KEY"],
			RequestsPerMinute:     freshdesktest.EnterpriseRequestsPerMinute * m.freshdeskScale,
			TicketWritesPerMinute: freshdesktest.EnterpriseTicketWritesPerMinute * m.freshdeskScale,
		})
		defer fd.Close()
		var err error
		if fdProxy, err = newLimitProxy(fd.URL); err != nil {
			return err
		}
		defer fdProxy.Close()
		conf += fmt.Sprintf("  - {name: freshdesk, kind: freshdesk, base_url: %s, api_key_env: HELPLINE_BENCH_FRESHDESK_KEY, requests_per_minute: %d, status_on_end: none}\n",
			fdProxy.URL, freshdesktest.EnterpriseRequestsPerMinute*m.freshdeskScale)
	}
	srv, err := startBenchServer(ctx, stderr, m.bin, m.chats+16, conf)
	if err != nil {
		return err
	}
	defer srv.stop()
	b := &bench{srv: srv}
	chats, err := b.setupChats(ctx, m.chats, false, false)
	if err != nil {
		return err
	}
	var parties []*benchParty
	m.chatOf = map[*benchParty]int{}
	for i, c := range chats {
		parties = append(parties, c.parties[:]...)
		for _, p := range c.parties {
			m.chatOf[p] = i
		}
	}
	if err := b.connectAll(ctx, parties); err != nil {
		return err
	}

	m.acked = map[int64]bool{}
	var next atomic.Int64
	pick := func() *benchParty { return parties[int(next.Add(1))%len(parties)] }
	began := time.Now()
	sent, failed, behind := b.openLoop(ctx, m.rate, m.duration, pick, m.send(b))
	ended := time.Now()
	fmt.Fprintf(w, "mirroring %d chats at %d messages/s offered for %s: sent %d (%d failed, generator behind %d)\n",
		m.chats, m.rate, m.duration, sent, failed, behind)
	if m.webhook {
		m.reportWebhook(w, recv, ended)
	}
	if m.zendesk {
		m.reportZendesk(w, zd, proxy, began, ended)
	}
	if m.kustomer {
		// Kustomer's org budget R is every request's, so the least is
		// one request per delivery round: I = max(N/R, 60 s/120), the
		// second the per-customer cap of 120 messages a minute; 0 when
		// neither binds (every line can be its own message at once).
		r := kustomertest.EnterpriseRequestsPerMinute * m.kustomerScale
		var interval time.Duration
		if m.rate*60 > r || m.rate*60 > m.chats*kustomertest.MessagesPerMinutePerCustomer {
			interval = max(time.Duration(m.chats)*time.Minute/time.Duration(r), time.Minute/kustomertest.MessagesPerMinutePerCustomer)
		}
		m.reportDesk(w, deskRun{
			name:     "kustomer",
			limits:   fmt.Sprintf("%d requests a minute, %d messages a customer per minute", r, kustomertest.MessagesPerMinutePerCustomer),
			interval: interval,
			lines:    func() map[int64][]time.Duration { return kustomerLines(kus) },
			requests: func() (int, int) {
				st := kus.Stats()
				return st.Requests, st.Messages + st.Notes
			},
			writes:     "messages and notes",
			containers: func() int { return len(kus.Conversations()) },
			proxy:      kusProxy,
		}, began, ended)
	}
	if m.freshdesk {
		// Freshdesk's ticket write budget W is the tighter (40% of the
		// account's): the least is one write per delivery round, so a
		// ticket is written at best every I = N/W; 0 when W takes every
		// line as its own write.
		wpm := freshdesktest.EnterpriseTicketWritesPerMinute * m.freshdeskScale
		var interval time.Duration
		if m.rate*60 > wpm {
			interval = time.Duration(m.chats) * time.Minute / time.Duration(wpm)
		}
		m.reportDesk(w, deskRun{
			name:     "freshdesk",
			limits:   fmt.Sprintf("%d requests and %d ticket writes a minute", freshdesktest.EnterpriseRequestsPerMinute*m.freshdeskScale, wpm),
			interval: interval,
			lines:    func() map[int64][]time.Duration { return freshdeskLines(fd) },
			requests: func() (int, int) {
				st := fd.Stats()
				return st.Requests, st.TicketCreates + st.Conversations
			},
			writes:     "ticket creates, notes and replies",
			containers: func() int { return len(fd.Tickets()) },
			proxy:      fdProxy,
		}, began, ended)
	}
	return nil
}

// connectAll gives every party connection credentials, without a socket.
func (b *bench) connectAll(ctx context.Context, parties []*benchParty) error {
	return loadtest.Parallel(len(parties), 32, func(i int) error {
		var res struct {
			ConnectionCredentials struct{ ConnectionToken string }
		}
		err := b.call(ctx, "/participant/connection", parties[i].participantToken,
			map[string]any{"Type": []string{"CONNECTION_CREDENTIALS"}, "ConnectParticipant": true}, &res)
		if err != nil {
			return fmt.Errorf("CreateParticipantConnection: %w", err)
		}
		parties[i].connectionToken = res.ConnectionCredentials.ConnectionToken
		return nil
	})
}

// send returns a sender of messages "mirror <number> <unix ns>" that
// records the numbers acknowledged.
func (m *mirrorBench) send(b *bench) func(context.Context, *benchParty) error {
	return func(ctx context.Context, p *benchParty) error {
		n := m.next.Add(1)
		at := time.Now()
		body := fmt.Sprintf(`{"ContentType":"text/plain","Content":"mirror %d %d"}`, n, at.UnixNano())
		if err := b.post(ctx, "/participant/message", p.connectionToken, []byte(body), nil); err != nil {
			return err
		}
		m.mu.Lock()
		m.acked[n] = true
		m.sends = append(m.sends, benchSend{chat: m.chatOf[p], at: at})
		m.mu.Unlock()
		return nil
	}
}

// mirrored reads a message of send: its number and when it was sent.
func mirrored(content string) (n int64, at time.Time, ok bool) {
	var ns int64
	if _, err := fmt.Sscanf(content, "mirror %d %d", &n, &ns); err != nil {
		return 0, time.Time{}, false
	}
	return n, time.Unix(0, ns), true
}

// awaitCount polls have until it reaches want or stops growing for idle, and
// returns the last count.
func awaitCount(have func() int, want int, idle time.Duration) int {
	last, since := -1, time.Now()
	for {
		n := have()
		if n >= want {
			return n
		}
		if n != last {
			last, since = n, time.Now()
		} else if time.Since(since) > idle {
			return n
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// tally compares what a system received (each message's number, once
// per copy) with what was acknowledged.
func (m *mirrorBench) tally(got map[int64]int) (lost, doubled int) {
	m.mu.Lock()
	defer m.mu.Unlock()
	for n := range m.acked {
		if got[n] == 0 {
			lost++
		}
	}
	for _, c := range got {
		if c > 1 {
			doubled++
		}
	}
	return lost, doubled
}

func (m *mirrorBench) reportWebhook(w io.Writer, recv *webhooktest.Receiver, ended time.Time) {
	m.mu.Lock()
	want := len(m.acked)
	m.mu.Unlock()
	count := func() int {
		n := 0
		for _, d := range recv.Unique() {
			if _, _, ok := mirrored(d.Content); ok {
				n++
			}
		}
		return n
	}
	awaitCount(count, want, 30*time.Second)
	drained := time.Since(ended)
	all := recv.Deliveries()
	ids := map[int64]map[string]bool{} // delivery ids of each message
	seen := map[string]bool{}          // delivery ids
	repeated := 0
	var lag []time.Duration
	for _, d := range all {
		if seen[d.ID] {
			repeated++
		}
		seen[d.ID] = true
		n, at, ok := mirrored(d.Content)
		if !ok {
			continue
		}
		if ids[n] == nil {
			ids[n] = map[string]bool{}
			lag = append(lag, d.ReceivedAt.Sub(at))
		}
		ids[n][d.ID] = true
	}
	got := map[int64]int{}
	for n, set := range ids {
		got[n] = len(set)
	}
	lost, doubled := m.tally(got)
	fmt.Fprintf(w, "mirror → webhook: received %d of %d acknowledged messages, lost %d, doubled %d, repeated deliveries %d; SendMessage→receipt p50 %s p90 %s p99 %s max %s; drained %s after the last send\n",
		len(ids), want, lost, doubled, repeated, pct(lag, 50), pct(lag, 90), pct(lag, 99), pct(lag, 100), drained.Round(time.Millisecond))
}

// zendeskComments returns, for every message in the fake's tickets, the
// lag of each public comment holding it: from its SendMessage to the
// comment's creation, in real time.
func zendeskComments(zd *zendesktest.Server) map[int64][]time.Duration {
	out := map[int64][]time.Duration{}
	for _, t := range zd.Tickets() {
		for _, c := range t.Comments {
			if !c.Public || c.Via.Channel != "api" {
				continue
			}
			for _, l := range strings.Split(c.Body, "\n") {
				text, ok := loadtest.Said(l)
				if !ok {
					continue
				}
				if n, at, ok := mirrored(text); ok {
					out[n] = append(out[n], c.CreatedAt.Sub(at))
				}
			}
		}
	}
	return out
}

// idealLag replays sends through an ideal mirror and returns each
// message's lag: every chat's ticket exists before its first line, ticket
// updates go out exactly at the account's perMinute, at most perTicket of
// one ticket in any window, each to the ticket whose oldest waiting line
// is the oldest, carrying every line of it sent until then, and take no
// time. It is what the steady-state least of reportZendesk is for a run
// that starts and stops: a chat updated while its lines still arrive
// needs a second update, and the lines sent at the start wait for a
// queue that starts empty.
func idealLag(sends []benchSend, perMinute, perTicket int, window time.Duration) []time.Duration {
	sends = slices.Clone(sends)
	slices.SortFunc(sends, func(a, b benchSend) int { return a.at.Compare(b.at) })
	if len(sends) == 0 {
		return nil
	}
	every := time.Minute / time.Duration(perMinute)
	waiting := map[int][]time.Time{} // each chat's lines not yet in its ticket
	updated := map[int][]time.Time{} // each chat's updates, for perTicket
	var lag []time.Duration
	next, t := 0, sends[0].at
	for next < len(sends) || len(waiting) > 0 {
		for next < len(sends) && !sends[next].at.After(t) {
			waiting[sends[next].chat] = append(waiting[sends[next].chat], sends[next].at)
			next++
		}
		best := -1
		for c, lines := range waiting {
			recent := 0
			for _, at := range updated[c] {
				if t.Sub(at) < window {
					recent++
				}
			}
			if recent < perTicket && (best < 0 || lines[0].Before(waiting[best][0]) || lines[0].Equal(waiting[best][0]) && c < best) {
				best = c
			}
		}
		if best < 0 {
			if len(waiting) == 0 {
				t = sends[next].at
			} else {
				t = t.Add(every)
			}
			continue
		}
		for _, at := range waiting[best] {
			lag = append(lag, t.Sub(at))
		}
		delete(waiting, best)
		updated[best] = append(updated[best], t)
		t = t.Add(every)
	}
	return lag
}

// reportZendesk waits for the tail and compares the lag with the least the
// limits allow. In the steady state every chat has lines waiting, so the
// account's U ticket updates a minute are shared by the N tickets, and one
// ticket gets at most 30 updates in 10 minutes: a ticket can be updated
// at best every I = max(N/U, 10 min/30). A line sent at a random moment
// waits for its ticket's next update: Uniform(0, I), so the least lag is
// I/2 at p50 and 0.99·I at p99 (before request time). U is scale times
// Enterprise's 100. The report also replays this run's sends through an
// ideal mirror (idealLag), whose lag for a run that starts and stops is a
// little under or over the steady state's.
func (m *mirrorBench) reportZendesk(w io.Writer, zd *zendesktest.Server, proxy *limitProxy, began, ended time.Time) {
	m.mu.Lock()
	want := len(m.acked)
	ideal := idealLag(m.sends, zendesktest.EnterpriseUpdatesPerMinute*m.scale, zendesktest.TicketUpdatesPer10Min, zendeskTicketWindow)
	m.mu.Unlock()
	interval := max(time.Duration(m.chats)*time.Minute/time.Duration(zendesktest.EnterpriseUpdatesPerMinute*m.scale), zendeskTicketWindow/zendesktest.TicketUpdatesPer10Min)
	// A ticket needs a few updates to take everything sent; wait for
	// several of its least intervals, at least two minutes.
	awaitCount(func() int { return len(zendeskComments(zd)) }, want, max(2*time.Minute, 6*interval))
	drained := time.Since(ended)
	comments := zendeskComments(zd)
	got := map[int64]int{}
	var lag []time.Duration
	for n, lags := range comments {
		got[n] = len(lags)
		lag = append(lag, lags[0])
	}
	lost, doubled := m.tally(got)
	st := zd.Stats()
	total, perTicket := proxy.refusals(time.Time{})
	late, _ := proxy.refusals(began.Add(time.Minute))
	delivered := len(comments)
	fmt.Fprintf(w, "zendesk (limits: %d requests and %d ticket updates a minute, %d updates a ticket per %s): delivered %d of %d acknowledged messages, lost %d, doubled %d, into %d tickets; "+
		"%d requests (%.3f per message), %d ticket updates (%.3f per message); 429s %d (%d per-ticket), %d after the first minute; "+
		"SendMessage→comment p50 %s p99 %s max %s; least the limits allow p50 %s p99 %s (a ticket updated every %s), an ideal mirror of these sends p50 %s p99 %s; drained %s after the last send\n",
		zendesktest.EnterpriseRequestsPerMinute*m.scale, zendesktest.EnterpriseUpdatesPerMinute*m.scale, zendesktest.TicketUpdatesPer10Min, zendeskTicketWindow,
		delivered, want, lost, doubled, len(zd.Tickets()),
		st.Requests, float64(st.Requests)/float64(max(delivered, 1)), st.TicketUpdates, float64(st.TicketUpdates)/float64(max(delivered, 1)),
		total, perTicket, late,
		pct(lag, 50), pct(lag, 99), pct(lag, 100), (interval / 2).Round(time.Millisecond), (interval * 99 / 100).Round(time.Millisecond), interval.Round(time.Millisecond),
		pct(ideal, 50).Round(time.Millisecond), pct(ideal, 99).Round(time.Millisecond), drained.Round(time.Millisecond))
}

// deskRun is what reportDesk needs of one helpdesk phase.
type deskRun struct {
	name, limits string
	// interval is the least time between two writes of one busy
	// ticket or conversation the limits allow.
	interval time.Duration
	// lines returns, for every message in the helpdesk, the lag of each
	// copy of it (see zendeskComments).
	lines func() map[int64][]time.Duration
	// requests counts every request the fake answered and its writes.
	requests   func() (all, writes int)
	writes     string // what the writes are, for the report
	containers func() int
	proxy      *limitProxy
}

// reportDesk waits for the tail and compares the lag with the least the
// limits allow. In the steady state every chat has lines waiting, and a
// delivery round of a ticket or conversation costs at least one write,
// so a chat's lines land at best every I (deskRun.interval): a line sent
// at a random moment waits Uniform(0, I) for its chat's next write, so
// the least lag is I/2 at p50 and 0.99·I at p99 (before request time).
// I is 0 when the offered rate is within the limits.
func (m *mirrorBench) reportDesk(w io.Writer, d deskRun, began, ended time.Time) {
	m.mu.Lock()
	want := len(m.acked)
	m.mu.Unlock()
	awaitCount(func() int { return len(d.lines()) }, want, max(time.Minute, 6*d.interval))
	drained := time.Since(ended)
	lines := d.lines()
	got := map[int64]int{}
	var lag []time.Duration
	for n, lags := range lines {
		got[n] = len(lags)
		lag = append(lag, slices.Min(lags))
	}
	lost, doubled := m.tally(got)
	all, writes := d.requests()
	total, _ := d.proxy.refusals(time.Time{})
	late, _ := d.proxy.refusals(began.Add(time.Minute))
	delivered := max(len(lines), 1)
	fmt.Fprintf(w, "%s (limits: %s): delivered %d of %d acknowledged messages, lost %d, doubled %d, into %d; "+
		"%d requests (%.3f per message), %d %s (%.3f per message); 429s %d, %d after the first minute; "+
		"SendMessage→%s p50 %s p99 %s max %s; least the limits allow p50 %s p99 %s (written every %s); drained %s after the last send\n",
		d.name, d.limits, len(lines), want, lost, doubled, d.containers(),
		all, float64(all)/float64(delivered), writes, d.writes, float64(writes)/float64(delivered), total, late,
		d.name, pct(lag, 50), pct(lag, 99), pct(lag, 100), (d.interval / 2).Round(time.Millisecond), (d.interval * 99 / 100).Round(time.Millisecond), d.interval.Round(time.Millisecond), drained.Round(time.Millisecond))
}

// saidMessages returns the bench messages in a text holding one message
// as itself or stamped transcript lines, each with the lag to at.
func saidMessages(text string, at time.Time, out map[int64][]time.Duration) {
	for _, l := range strings.Split(text, "\n") {
		if said, ok := loadtest.Said(l); ok {
			l = said
		}
		if n, sent, ok := mirrored(strings.TrimSpace(l)); ok {
			out[n] = append(out[n], at.Sub(sent))
		}
	}
}

// kustomerLines is zendeskComments for Kustomer: the messages of every
// conversation.
func kustomerLines(kus *kustomertest.Server) map[int64][]time.Duration {
	out := map[int64][]time.Duration{}
	for _, c := range kus.Conversations() {
		for _, msg := range c.Messages {
			saidMessages(msg.Body(), msg.CreatedAt, out)
		}
	}
	return out
}

// freshdeskLines is zendeskComments for Freshdesk: every ticket's
// description and conversations.
func freshdeskLines(fd *freshdesktest.Server) map[int64][]time.Duration {
	out := map[int64][]time.Duration{}
	for _, t := range fd.Tickets() {
		saidMessages(t.DescriptionText, t.CreatedAt, out)
		for _, c := range t.Conversations {
			saidMessages(c.BodyText, c.CreatedAt, out)
		}
	}
	return out
}
