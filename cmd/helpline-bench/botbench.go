package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"runtime"
	"sync"
	"sync/atomic"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/connect"
	"github.com/aws/aws-sdk-go-v2/service/connect/types"

	"github.com/helplinehq/helpline/app"
	"github.com/helplinehq/helpline/internal/loadtest"
)

// botQuestion is what every bench customer asks: the built-in bot
// classifies it as shipping_info and answers with one policy line, with
// no order lookup and no handoff, so every turn is the same work.
const botQuestion = "how long does shipping take"

// botConfig gives the bench server an instance whose one flow is
// answered by the built-in e-commerce bot (shipped intents and policies).
const botConfig = `instances:
  - id: bench
    flows:
      - id: bench-bot
        bot: {kind: ecommerce}
    access_keys:
      - {id: AKIABENCHBOT, secret_env: HELPLINE_BENCH_BOT_SECRET}
`

// botBench measures the built-in bot (phase "bot"): the time from a
// customer's SendMessage to the bot's reply on that customer's Connect
// socket, with n bot chats open and questions offered at rate a second
// (round robin over the chats, so a chat asks every n/rate seconds), and
// the classifier's throughput in this process.
type botBench struct {
	*bench
	mu        sync.Mutex // guards recording and latencies
	recording bool
	latencies []time.Duration
	replies   atomic.Int64
}

// botParty is a bench customer: sent is when its last question went out
// (UnixNano), cleared by the first bot reply after it.
type botParty struct {
	*benchParty
	sent atomic.Int64
}

func runBotBench(ctx context.Context, w, stderr io.Writer, exe string, n, rate int, d time.Duration) error {
	if err := classifierThroughput(w, d); err != nil {
		return err
	}
	srv, err := startBenchServer(ctx, stderr, exe, n+16, botConfig)
	if err != nil {
		return err
	}
	defer srv.stop()
	srv.instance, srv.flow, srv.akid, srv.secret = "bench", "bench-bot", "AKIABENCHBOT", benchSecrets["HELPLINE_BENCH_BOT_SECRET"]
	b := &botBench{bench: &bench{srv: srv}}
	b.http = newBenchHTTP()
	cc := b.connectClient()
	t0 := time.Now()
	parties := make([]*botParty, n)
	if err := loadtest.Parallel(n, 32, func(i int) (err error) {
		parties[i], err = b.newBotChat(ctx, cc, i)
		return err
	}); err != nil {
		return err
	}
	defer func() {
		for _, p := range parties {
			p.conn.Close()
		}
	}()
	fmt.Fprintf(w, "bot: set up %d bot chats (customer sockets) in %s\n", n, time.Since(t0).Round(time.Millisecond))

	// Warm up: every chat's first turn seats the bot participant, which
	// later turns do not; it is not what is measured.
	if err := loadtest.Parallel(n, 64, func(i int) error { return b.ask(ctx, parties[i]) }); err != nil {
		return err
	}
	b.await(int64(n))

	var next atomic.Int64
	pick := func() *benchParty { return parties[int(next.Add(1))%n].benchParty }
	byParty := make(map[*benchParty]*botParty, n)
	for _, p := range parties {
		byParty[p.benchParty] = p
	}
	b.record(true)
	base := b.replies.Load()
	sent, failed, behind := b.openLoop(ctx, rate, d, pick, func(ctx context.Context, p *benchParty) error { return b.ask(ctx, byParty[p]) })
	b.await(base + sent)
	lat := b.record(false)
	got := b.replies.Load() - base
	fmt.Fprintf(w, "bot: %d bot chats, %d questions/s offered: asked %d (%d failed, generator behind %d), answered %d; customer message→bot reply on the customer's socket p50 %s p90 %s p99 %s max %s\n",
		n, rate, sent, failed, behind, got, pct(lat, 50), pct(lat, 90), pct(lat, 99), pct(lat, 100))
	return nil
}

// newBotChat starts a chat in the bot's flow and connects its customer.
func (b *botBench) newBotChat(ctx context.Context, cc *connect.Client, i int) (*botParty, error) {
	started, err := cc.StartChatContact(ctx, &connect.StartChatContactInput{
		InstanceId: &b.srv.instance, ContactFlowId: &b.srv.flow,
		ParticipantDetails: &types.ParticipantDetails{DisplayName: aws.String(fmt.Sprintf("customer %d", i))},
	})
	if err != nil {
		return nil, fmt.Errorf("StartChatContact: %w", err)
	}
	p := &botParty{benchParty: &benchParty{id: *started.ParticipantId, participantToken: *started.ParticipantToken}}
	if err := b.connectParty(ctx, p.benchParty, false); err != nil {
		return nil, err
	}
	go b.readBot(p)
	return p, nil
}

// ask sends the customer's question, noting when.
func (b *botBench) ask(ctx context.Context, p *botParty) error {
	p.sent.Store(time.Now().UnixNano())
	return b.post(ctx, "/participant/message", p.connectionToken, []byte(`{"ContentType":"text/plain","Content":"`+botQuestion+`"}`), nil)
}

// readBot times the first bot message after each question.
func (b *botBench) readBot(p *botParty) {
	for {
		_, data, err := p.conn.ReadMessage()
		if err != nil {
			return
		}
		now := time.Now()
		if !bytes.Contains(data, []byte(`CUSTOM_BOT`)) {
			continue
		}
		var frame struct{ Topic, Content string }
		var it struct{ Type, ParticipantRole string }
		if json.Unmarshal(data, &frame) != nil || frame.Topic != "aws/chat" ||
			json.Unmarshal([]byte(frame.Content), &it) != nil || it.Type != "MESSAGE" || it.ParticipantRole != "CUSTOM_BOT" {
			continue
		}
		sent := p.sent.Swap(0)
		if sent == 0 {
			continue
		}
		b.replies.Add(1)
		b.mu.Lock()
		if b.recording {
			b.latencies = append(b.latencies, now.Sub(time.Unix(0, sent)))
		}
		b.mu.Unlock()
	}
}

func (b *botBench) record(on bool) []time.Duration {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.recording = on
	lat := b.latencies
	b.latencies = nil
	return lat
}

// await waits up to 10 s for want replies.
func (b *botBench) await(want int64) {
	for end := time.Now().Add(10 * time.Second); b.replies.Load() < want && time.Now().Before(end); {
		time.Sleep(20 * time.Millisecond)
	}
}

// classifierThroughput trains the shipped classifier and classifies its
// own examples for up to d, first on one goroutine, then on one per CPU.
func classifierThroughput(w io.Writer, d time.Duration) error {
	set, err := app.LoadIntents("")
	if err != nil {
		return err
	}
	clf, err := app.NewClassifier("")
	if err != nil {
		return err
	}
	var utterances []string
	for _, in := range set.Intents {
		utterances = append(utterances, in.Examples...)
	}
	d = min(d, 5*time.Second)
	run := func(workers int) float64 {
		var done atomic.Int64
		end := time.Now().Add(d)
		var wg sync.WaitGroup
		for g := range workers {
			wg.Go(func() {
				var k int64
				for i := g; time.Now().Before(end); i++ {
					clf.Classify(utterances[i%len(utterances)])
					k++
				}
				done.Add(k)
			})
		}
		wg.Wait()
		return float64(done.Load()) / d.Seconds()
	}
	one := run(1)
	all := run(runtime.GOMAXPROCS(0))
	fmt.Fprintf(w, "bot: classifier (shipped intents, %d example utterances), in process: %.0f utterances/s on 1 goroutine, %.0f on %d\n",
		len(utterances), one, all, runtime.GOMAXPROCS(0))
	return nil
}
