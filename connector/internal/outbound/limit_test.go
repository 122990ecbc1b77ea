package outbound_test

import (
	"context"
	"errors"
	"net/http"
	"testing"
	"time"

	"github.com/helplinehq/helpline"
	"github.com/helplinehq/helpline/clocktest"
	"github.com/helplinehq/helpline/connector/internal/outbound"
)

// shortCtx has a deadline no limiter wait fits in.
func shortCtx(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), time.Millisecond)
	t.Cleanup(cancel)
	return ctx
}

// limited asserts that err is the limiter's refusal asking for about want.
func limited(t *testing.T, err error, want time.Duration) {
	t.Helper()
	var me *helpline.MirrorError
	if !errors.As(err, &me) || me.Permanent || !errors.Is(err, outbound.ErrLimited) {
		t.Fatalf("Wait = %v, want a retryable ErrLimited", err)
	}
	if d := me.RetryAfter - want; d < -time.Millisecond || d > time.Millisecond {
		t.Errorf("RetryAfter = %v, want %v", me.RetryAfter, want)
	}
}

func TestLimiterPacesPerMinute(t *testing.T) {
	clock := clocktest.New(now)
	// 120 a minute: 114 a minute (1.9/s) with bursts of 3.
	l := outbound.PerMinute(120, clock.Now)
	for i := range 3 {
		if err := l.Wait(shortCtx(t)); err != nil {
			t.Fatalf("request %d of the burst: %v", i+1, err)
		}
	}
	limited(t, l.Wait(shortCtx(t)), time.Second*60/114)
	// The refused wait spent nothing.
	clock.Advance(time.Second * 60 / 114)
	if err := l.Wait(shortCtx(t)); err != nil {
		t.Fatalf("after a token's time: %v", err)
	}
	limited(t, l.Wait(shortCtx(t)), time.Second*60/114)
}

// A client sending as fast as the limiter lets it never puts more than
// 97.5% of the budget into any minute, wherever the system's one-minute
// window starts: 2.5% is left for latency jitter, and 5% of the steady
// rate for the account's other users.
func TestLimiterFitsAnyMinute(t *testing.T) {
	for _, n := range []int{100, 300, 700, 2500} {
		clock := clocktest.New(now)
		l := outbound.PerMinute(n, clock.Now)
		var sent []time.Time
		for clock.Now().Before(now.Add(5 * time.Minute)) {
			if d := l.Reserve(1); d > 0 {
				clock.Advance(d)
			}
			sent = append(sent, clock.Now())
		}
		most, from := 0, 0
		for i, at := range sent {
			for at.Sub(sent[from]) >= time.Minute {
				from++
			}
			most = max(most, i-from+1)
		}
		if limit := n * 975 / 1000; most > limit || most < n*96/100 {
			t.Errorf("%d a minute: %d requests in the busiest minute, want at most %d and not much fewer", n, most, limit)
		}
	}
}

func TestLimiterSetPerMinute(t *testing.T) {
	clock := clocktest.New(now)
	l := outbound.PerMinute(20, clock.Now) // burst 1
	if err := l.Wait(shortCtx(t)); err != nil {
		t.Fatal(err)
	}
	limited(t, l.Wait(shortCtx(t)), time.Second*60/19)
	l.SetPerMinute(700) // Zendesk's X-Rate-Limit said so
	limited(t, l.Wait(shortCtx(t)), time.Second*60/665)
}

func TestLimiterAvailable(t *testing.T) {
	clock := clocktest.New(now)
	l := outbound.PerMinute(120, clock.Now) // 1.9/s, bursts of 3
	if got := l.Available(); got != 3 {
		t.Fatalf("a fresh limiter has %v available, want the burst, 3", got)
	}
	for range 3 {
		if err := l.Wait(shortCtx(t)); err != nil {
			t.Fatal(err)
		}
	}
	if got := l.Available(); got != 0 {
		t.Errorf("after the burst %v available, want 0", got)
	}
	clock.Advance(time.Second * 120 / 114)
	if got := l.Available(); got < 1.99 || got > 2.01 {
		t.Errorf("two tokens' time later %v available, want 2", got)
	}
	l.Observe(http.Header{"X-Ratelimit-Remaining": {"0"}, "X-Ratelimit-Reset": {"10"}})
	if got := l.Available(); got != 0 {
		t.Errorf("while the headers hold requests back %v available, want 0", got)
	}
}

func TestLimiterHoldsBackWhileTheBudgetIsSpent(t *testing.T) {
	clock := clocktest.New(now)
	l := outbound.PerMinute(600, clock.Now)
	l.Observe(http.Header{"X-Ratelimit-Remaining": {"4"}, "X-Ratelimit-Reset": {"30"}})
	if err := l.Wait(shortCtx(t)); err != nil {
		t.Fatalf("budget left: %v", err)
	}
	l.Observe(http.Header{"X-Ratelimit-Remaining": {"0"}, "X-Ratelimit-Reset": {"30"}})
	limited(t, l.Wait(shortCtx(t)), 30*time.Second)
	// An earlier reset does not shorten the hold.
	l.Observe(http.Header{"Ratelimit-Remaining": {"0"}, "Ratelimit-Reset": {"5"}})
	limited(t, l.Wait(shortCtx(t)), 30*time.Second)
	clock.Advance(30 * time.Second)
	if err := l.Wait(shortCtx(t)); err != nil {
		t.Fatalf("after the reset: %v", err)
	}
}

func TestLimiterWaitEndsWithItsContext(t *testing.T) {
	clock := clocktest.New(now)
	l := outbound.PerMinute(20, clock.Now)
	if err := l.Wait(context.Background()); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	err := l.Wait(ctx)
	var me *helpline.MirrorError
	if !errors.As(err, &me) || me.Permanent || !errors.Is(err, context.Canceled) {
		t.Fatalf("Wait = %v, want a retryable failure with the context's error", err)
	}
}

func TestPacer(t *testing.T) {
	// Zendesk's 30 updates per ticket per 10 minutes.
	p := outbound.NewPacer(5, 24*time.Second)
	at := now
	if w := p.Take("t1", 2, at); w != 0 {
		t.Fatalf("first take waits %v", w)
	}
	if w := p.Take("t1", 3, at); w != 0 {
		t.Fatalf("rest of the burst waits %v", w)
	}
	if w := p.Take("t1", 2, at); w != 48*time.Second {
		t.Errorf("take over budget: wait %v, want 48s", w)
	}
	if w := p.Next("t1", at); w != 24*time.Second {
		t.Errorf("Next = %v, want 24s", w)
	}
	if w := p.Take("t2", 5, at); w != 0 {
		t.Errorf("another object waits %v", w)
	}
	if w := p.Next("unknown", at); w != 0 {
		t.Errorf("Next of an unknown object = %v", w)
	}
	at = at.Add(24 * time.Second)
	if w := p.Next("t1", at); w != 0 {
		t.Errorf("Next after a refill = %v", w)
	}
	if w := p.Take("t1", 1, at); w != 0 {
		t.Errorf("take after a refill waits %v", w)
	}
	p.Forget("t1")
	if w := p.Take("t1", 5, at); w != 0 {
		t.Errorf("a forgotten object starts full; waits %v", w)
	}

	// Taking whenever allowed, one object gets at most 30 writes into
	// any ten minutes.
	p = outbound.NewPacer(5, 24*time.Second)
	var taken []time.Time
	for at := now; at.Before(now.Add(time.Hour)); at = at.Add(time.Second) {
		if p.Take("t", 1, at) == 0 {
			taken = append(taken, at)
		}
	}
	for i := range taken {
		n := 0
		for _, t2 := range taken[i:] {
			if t2.Sub(taken[i]) < 10*time.Minute {
				n++
			}
		}
		if n > 30 {
			t.Fatalf("%d writes in the ten minutes from %v", n, taken[i].Sub(now))
		}
	}
	if len(taken) < 150 {
		t.Errorf("only %d writes in an hour; the pacer is too strict", len(taken))
	}
}
