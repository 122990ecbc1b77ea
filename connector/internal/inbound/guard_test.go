package inbound_test

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/helplinehq/helpline/clocktest"
	"github.com/helplinehq/helpline/connector/internal/inbound"
)

// memory is a ReplayGuard as the store keeps it, shared by the guards of
// two nodes; fail makes it fail.
type memory struct {
	mu    sync.Mutex // guards until and fail
	until map[string]time.Time
	fail  error
}

func (m *memory) RememberOnce(_ context.Context, scope, key string, now, until time.Time) (bool, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.fail != nil {
		return false, m.fail
	}
	k := scope + "\x00" + key
	if u, ok := m.until[k]; ok && u.After(now) {
		return false, nil
	}
	m.until[k] = until
	return true, nil
}

func (m *memory) Forget(_ context.Context, scope, key string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	delete(m.until, scope+"\x00"+key)
	return nil
}

func TestGuard(t *testing.T) {
	ctx := context.Background()
	clock := clocktest.New(time.Date(2025, 3, 14, 15, 9, 26, 0, time.UTC))
	mem := &memory{until: map[string]time.Time{}}
	node := func(scope string) *inbound.Guard {
		return &inbound.Guard{Replay: mem, Scope: scope, Window: 5 * time.Minute, Now: clock.Now}
	}
	a, b := node("webhook:zd"), node("webhook:zd")
	now := clock.Now()

	if err := a.Admit(ctx, "sig-1", now.Add(-4*time.Minute)); err != nil {
		t.Fatalf("fresh delivery: %v", err)
	}
	if err := a.Admit(ctx, "sig-1", now.Add(-4*time.Minute)); !errors.Is(err, inbound.ErrReplayed) {
		t.Errorf("replay: %v, want ErrReplayed", err)
	}
	if err := b.Admit(ctx, "sig-1", now.Add(-4*time.Minute)); !errors.Is(err, inbound.ErrReplayed) {
		t.Errorf("replay to another node: %v, want ErrReplayed", err)
	}
	if err := node("webhook:other").Admit(ctx, "sig-1", now); err != nil {
		t.Errorf("the same key in another connector's scope: %v", err)
	}
	for name, at := range map[string]time.Time{
		"stale":     now.Add(-5*time.Minute - time.Second),
		"in future": now.Add(5*time.Minute + time.Second),
	} {
		if err := a.Admit(ctx, "sig-"+name, at); !errors.Is(err, inbound.ErrStale) {
			t.Errorf("%s: %v, want ErrStale", name, err)
		}
		if err := a.Admit(ctx, "sig-"+name, now); err != nil {
			t.Errorf("%s: a refused stale delivery was remembered: %v", name, err)
		}
	}

	// A delivery the connector could not act on is let in again.
	if err := a.Release(ctx, "sig-1"); err != nil {
		t.Fatal(err)
	}
	if err := b.Admit(ctx, "sig-1", now); err != nil {
		t.Errorf("after Release: %v", err)
	}

	// Remembered as long as its timestamp can be fresh: admitted at now
	// with a timestamp 5 minutes ahead, it is fresh until now+10min.
	if err := a.Admit(ctx, "sig-2", now.Add(5*time.Minute)); err != nil {
		t.Fatal(err)
	}
	clock.Advance(10*time.Minute - time.Second)
	if err := a.Admit(ctx, "sig-2", now.Add(5*time.Minute)); !errors.Is(err, inbound.ErrReplayed) {
		t.Errorf("replay at the end of the window: %v, want ErrReplayed", err)
	}

	mem.fail = errors.New("disk full")
	err := a.Admit(ctx, "sig-3", clock.Now())
	if err == nil || errors.Is(err, inbound.ErrStale) || errors.Is(err, inbound.ErrReplayed) || !errors.Is(err, mem.fail) {
		t.Errorf("store failure: %v, want the store's error", err)
	}
}
