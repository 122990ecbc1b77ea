package app

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/helplinehq/helpline"
)

// healthTimeout bounds each check of /healthz and the round trip of
// /healthz/realtime.
const healthTimeout = 2 * time.Second

// healthBlobKey is the attachment file /healthz writes to learn that the
// attachment store takes files; attachment keys are ids, never this.
const healthBlobKey = "healthz"

// Health statuses.
const (
	statusUp       = "up"
	statusDown     = "down"
	statusDraining = "draining"
)

// pinger is a bus that can tell whether its connection is up (natsbus);
// the in-process bus cannot be down.
type pinger interface {
	Ping(ctx context.Context) error
}

// healthReport is /healthz's body: the overall status and each
// dependency's.
type healthReport struct {
	// Status is "up" when every check is, "draining" while the node
	// stops, and "down" otherwise.
	Status string `json:"status"`
	// Checks are "up" or "down" by dependency: store, bus, blobs.
	Checks map[string]string `json:"checks"`
}

// healthz answers GET /healthz: each dependency checked at once, within
// healthTimeout, and the answer 200 when all are up, 503 otherwise or
// while the node drains (a load balancer then sends new clients to other
// nodes). Why a check failed is logged, not shown: the endpoint needs no
// credentials.
func (n *Node) healthz(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := context.WithTimeout(r.Context(), healthTimeout)
	defer cancel()
	checks := map[string]func(context.Context) error{
		"store": func(ctx context.Context) error { _, err := n.store.FindInstances(ctx); return err },
		"bus": func(ctx context.Context) error {
			if p, ok := n.bus.(pinger); ok {
				return p.Ping(ctx)
			}
			return nil
		},
		"blobs": func(ctx context.Context) error {
			return n.blobs.Put(ctx, healthBlobKey, 2, strings.NewReader("ok"))
		},
	}
	rep := healthReport{Status: statusUp, Checks: map[string]string{}}
	var mu sync.Mutex // guards rep
	var wg sync.WaitGroup
	for name, check := range checks {
		wg.Go(func() {
			status := statusUp
			if err := check(ctx); err != nil {
				status = statusDown
				n.logger.Warn("health check failed", "dependency", name, "err", err)
			}
			mu.Lock()
			defer mu.Unlock()
			rep.Checks[name] = status
			if status == statusDown {
				rep.Status = statusDown
			}
		})
	}
	wg.Wait()
	if rep.Status == statusUp && n.isDraining() {
		rep.Status = statusDraining
	}
	writeHealth(w, rep.Status, rep)
}

// realtimeReport is /healthz/realtime's body.
type realtimeReport struct {
	Status string `json:"status"`
	// RoundTripMS is how long the event took from publish to delivery,
	// in milliseconds; absent when it did not arrive.
	RoundTripMS float64 `json:"round_trip_ms,omitempty"`
}

// kindHealth is the kind of /healthz/realtime's events; subscribers pass
// over it, as over every kind they do not know.
const kindHealth helpline.EventKind = "healthz.ping"

// realtime answers GET /healthz/realtime: it subscribes to a subject of its
// own, publishes an event on it and waits for it, for at most
// healthTimeout. With NATS the event goes through the server, so 200 says
// that this node's events reach subscribers; 503 that they do not.
// realtimeSlots bounds the round trips under way, as the endpoint needs
// no credentials: more are refused with 503 at once.
func (n *Node) realtime(w http.ResponseWriter, r *http.Request) {
	select {
	case n.realtimeSlots <- struct{}{}:
		defer func() { <-n.realtimeSlots }()
	default:
		writeHealth(w, statusDown, realtimeReport{Status: statusDown})
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), healthTimeout)
	defer cancel()
	rep := realtimeReport{Status: statusDown}
	subject := helpline.AgentSubject("healthz-" + helpline.NewID())
	sub, err := n.bus.Subscribe(ctx, subject)
	if err != nil {
		n.logger.Warn("realtime health check: subscribing", "err", err)
		writeHealth(w, rep.Status, rep)
		return
	}
	defer sub.Close()
	start := time.Now()
	if err := n.bus.Publish(ctx, helpline.Event{Kind: kindHealth, Subject: subject}); err != nil {
		n.logger.Warn("realtime health check: publishing", "err", err)
		writeHealth(w, rep.Status, rep)
		return
	}
	for rep.Status != statusUp {
		select {
		case ev, ok := <-sub.Events():
			if !ok {
				writeHealth(w, rep.Status, rep)
				return
			}
			if ev.Kind == kindHealth {
				rep.Status = statusUp
				rep.RoundTripMS = float64(time.Since(start).Microseconds()) / 1000
			}
		case <-ctx.Done():
			n.logger.Warn("realtime health check: the event did not come back", "within", healthTimeout)
			writeHealth(w, rep.Status, rep)
			return
		}
	}
	writeHealth(w, rep.Status, rep)
}

// writeHealth writes v with 200 when status is up, 503 otherwise; health
// answers are never cached.
func writeHealth(w http.ResponseWriter, status string, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	code := http.StatusOK
	if status != statusUp {
		code = http.StatusServiceUnavailable
	}
	w.WriteHeader(code)
	json.NewEncoder(w).Encode(v)
}
