package main

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"regexp"
	"slices"
	"testing"
	"time"
)

// TestMain serves the throughput phase's floor when the test binary is
// started again as the floor (startFloor runs its own executable).
func TestMain(m *testing.M) {
	if addr := os.Getenv(floorEnv); addr != "" {
		fmt.Fprintln(os.Stderr, "helpline-bench floor:", serveFloor(addr))
		os.Exit(1)
	}
	os.Exit(m.Run())
}

// A short run of the load command, as `go run ./cmd/helpline-bench` with
// small flags: it builds the product binary, starts it, and the phases
// report their lines, the bot answering every question, mirroring (to
// the webhook, Kustomer and Freshdesk) losing and doubling nothing and
// drawing no 429. Memory waits seconds by
// design and zendesk about 25 s for the per-ticket limit, so this run
// leaves them out.
func TestBenchRuns(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and starts the product binary")
	}
	var out, errs bytes.Buffer
	err := runBench(context.Background(), []string{"-phases", "throughput,latency,mirror,kustomer,freshdesk,bot",
		"-chats", "4", "-workers", "4", "-duration", "500ms", "-rate", "40", "-bot-rate", "40", "-idle", "0"}, &out, &errs)
	if err != nil {
		t.Fatalf("bench: %v\n%s", err, errs.String())
	}
	t.Log(out.String())
	for _, want := range []string{
		`(?m)^throughput: \d+ messages in 500ms .* \(0 failed\).*; server CPU \d+ µs and \d+ allocations per message$`,
		`(?m)^  floor \(bare net/http handler, same load\): \d+ messages/s \(0 failed\), server CPU \d+ µs per message; Helpline ÷ floor \d\.\d\d$`,
		`(?m)^latency at 40 messages/s offered: sent 20 \(0 failed`,
		`(?m)^mirror → webhook: received 20 of 20 acknowledged messages, lost 0, doubled 0`,
		`(?m)^kustomer \(limits: .*\): delivered 20 of 20 acknowledged messages, lost 0, doubled 0, into 4; .* 429s 0,`,
		`(?m)^bot: classifier \(shipped intents, \d+ example utterances\), in process: \d+ utterances/s`,
		`(?m)^bot: 4 bot chats, 40 questions/s offered: asked 20 \(0 failed, generator behind 0\), answered 20; .* p99 `,
		`(?m)^freshdesk \(limits: .*\): delivered 20 of 20 acknowledged messages, lost 0, doubled 0, into 4; .* 429s 0,`,
	} {
		if !regexp.MustCompile(want).Match(out.Bytes()) {
			t.Errorf("output lacks %s", want)
		}
	}
}

// The ideal mirror serves the ticket whose oldest line waits longest, one
// update per 60/perMinute seconds, never more than perTicket of a ticket
// in a window.
func TestIdealLag(t *testing.T) {
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	sends := []benchSend{{chat: 1, at: t0}, {chat: 0, at: t0.Add(500 * time.Millisecond)}, {chat: 0, at: t0}}
	got := idealLag(sends, 60, 30, 10*time.Minute)
	want := []time.Duration{0, time.Second, 1500 * time.Millisecond}
	if !slices.Equal(got, want) {
		t.Errorf("lags %v, want %v", got, want)
	}
	// One update a ticket per 10 s: chat 0's second line waits for it.
	got = idealLag(sends, 60, 1, 10*time.Second)
	want = []time.Duration{0, time.Second, 9500 * time.Millisecond}
	if !slices.Equal(got, want) {
		t.Errorf("with one update a ticket per 10 s: lags %v, want %v", got, want)
	}
}
