// Package inbound holds what connectors share to take requests from
// their outside systems: a guard that refuses stale and replayed webhook
// deliveries, with its memory in the store so that a restart or a second
// node refuses them too.
package inbound

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/helplinehq/helpline"
)

// Refusals of Guard.Admit. A connector answers ErrStale as it answers a
// bad signature (401) and ErrReplayed with 409.
var (
	ErrStale    = errors.New("stale or future signature timestamp")
	ErrReplayed = errors.New("this delivery was already received")
)

// Guard admits each signed delivery of one connector's webhooks once,
// and only while its signature timestamp is fresh.
type Guard struct {
	// Replay is the store's memory of admitted keys.
	Replay helpline.ReplayGuard
	// Scope separates this connector's keys from others'; by convention
	// "webhook:" and the connector's name.
	Scope string
	// Window is how far a signature timestamp may be from now, either
	// way. An admitted key is remembered for twice as long from its
	// admission, which covers every moment its timestamp is still fresh.
	Window time.Duration
	// Now is the clock; nil means time.Now.
	Now func() time.Time
}

// Admit checks a delivery whose signature the caller has verified: at is
// its signed timestamp and key identifies it (the signature itself, or
// a delivery id the signature covers). It returns ErrStale when at is
// more than Window from now, ErrReplayed when key was admitted before
// and is still remembered, another error when the store fails, and nil
// when the delivery is admitted; of deliveries racing on one key at most
// one is admitted.
func (g *Guard) Admit(ctx context.Context, key string, at time.Time) error {
	now := time.Now()
	if g.Now != nil {
		now = g.Now()
	}
	if at.Before(now.Add(-g.Window)) || at.After(now.Add(g.Window)) {
		return ErrStale
	}
	first, err := g.Replay.RememberOnce(ctx, g.Scope, key, now, now.Add(2*g.Window))
	if err != nil {
		return fmt.Errorf("replay guard: %w", err)
	}
	if !first {
		return ErrReplayed
	}
	return nil
}

// Release forgets an admitted key, for a delivery the connector could
// not act on: the system's retry of it is then admitted.
func (g *Guard) Release(ctx context.Context, key string) error {
	if err := g.Replay.Forget(ctx, g.Scope, key); err != nil {
		return fmt.Errorf("replay guard: %w", err)
	}
	return nil
}
