package app

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"reflect"
	"testing"
	"time"

	"github.com/helplinehq/helpline/nats/natstest"
)

// runNode builds the node cfg describes and serves it until the test
// ends; it returns the node and its base URL.
func runNode(t *testing.T, cfg *Config) (*Node, string) {
	t.Helper()
	node, err := New(context.Background(), cfg, quiet())
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, stop := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- node.Run(ctx, ln, nil) }()
	t.Cleanup(func() {
		stop()
		if err := <-done; err != nil {
			t.Errorf("Run: %v", err)
		}
		node.Close()
	})
	return node, "http://" + ln.Addr().String()
}

// get answers GET url with its status and JSON body decoded into out.
func get(t *testing.T, url string, out any) int {
	t.Helper()
	res, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	if ct := res.Header.Get("Content-Type"); ct != "application/json" {
		t.Errorf("GET %s: Content-Type %q", url, ct)
	}
	if err := json.NewDecoder(res.Body).Decode(out); err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	return res.StatusCode
}

// health is /healthz's body, every field kept.
type health map[string]any

func allUp() health {
	return health{"status": "up", "checks": map[string]any{"store": "up", "bus": "up", "blobs": "up"}}
}

// checkRealtime asserts /healthz/realtime's answer.
func checkRealtime(t *testing.T, base string, wantUp bool) {
	t.Helper()
	var rt struct {
		Status      string  `json:"status"`
		RoundTripMS float64 `json:"round_trip_ms"`
	}
	code := get(t, base+"/healthz/realtime", &rt)
	if wantUp && (code != 200 || rt.Status != "up" || rt.RoundTripMS <= 0) {
		t.Errorf("/healthz/realtime = %d %+v, want 200 up with a round trip", code, rt)
	}
	if !wantUp && (code != 503 || rt.Status != "down") {
		t.Errorf("/healthz/realtime = %d %+v, want 503 down", code, rt)
	}
}

// On the in-process bus: everything up, a round trip through the bus, no
// credentials needed and nothing shown but statuses; a dependency that
// fails makes it 503, and so does a node that drains.
func TestHealthzInProcess(t *testing.T) {
	cfg := loadConfig(t, "log:\n  level: error\n")
	node, base := runNode(t, cfg)
	var got health
	if code := get(t, base+"/healthz", &got); code != 200 || !reflect.DeepEqual(got, allUp()) {
		t.Errorf("/healthz = %d %v, want 200 %v", code, got, allUp())
	}
	checkRealtime(t, base, true)
	for _, path := range []string{"/healthz", "/healthz/realtime"} {
		res, err := http.Post(base+path, "application/json", nil)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		// Only GET is a health check; the Connect API answers the rest.
		if res.StatusCode != http.StatusNotFound && res.StatusCode != http.StatusMethodNotAllowed {
			t.Errorf("POST %s = %d, want 404 or 405", path, res.StatusCode)
		}
	}

	// The attachment directory gone: blobs down, the rest up.
	dir := filepath.Join(cfg.Data, "attachments")
	if err := os.RemoveAll(dir); err != nil {
		t.Fatal(err)
	}
	got = nil
	want := health{"status": "down", "checks": map[string]any{"store": "up", "bus": "up", "blobs": "down"}}
	if code := get(t, base+"/healthz", &got); code != 503 || !reflect.DeepEqual(got, want) {
		t.Errorf("/healthz without attachments = %d %v, want 503 %v", code, got, want)
	}
	if err := os.Mkdir(dir, 0o700); err != nil {
		t.Fatal(err)
	}

	node.drain()
	rec := httptest.NewRecorder()
	node.healthz(rec, httptest.NewRequest("GET", "/healthz", nil))
	got = nil
	json.Unmarshal(rec.Body.Bytes(), &got)
	if rec.Code != 503 || got["status"] != "draining" {
		t.Errorf("/healthz while draining = %d %v, want 503 draining", rec.Code, got)
	}
}

// On NATS: the bus up, a round trip through the server; the server down
// makes both endpoints 503, and its return 200 again.
func TestHealthzNATS(t *testing.T) {
	srv := natstest.Start(t)
	cfg := loadConfig(t, fmt.Sprintf("bus: %s\nbus_prefix: %s\nlog:\n  level: error\n", srv.URL(), natstest.Prefix()))
	_, base := runNode(t, cfg)
	var got health
	if code := get(t, base+"/healthz", &got); code != 200 || !reflect.DeepEqual(got, allUp()) {
		t.Errorf("/healthz = %d %v, want 200 %v", code, got, allUp())
	}
	checkRealtime(t, base, true)

	srv.Stop()
	want := health{"status": "down", "checks": map[string]any{"store": "up", "bus": "down", "blobs": "up"}}
	waitFor(t, "/healthz to see NATS down", func() bool {
		got = nil
		return get(t, base+"/healthz", &got) == 503 && reflect.DeepEqual(got, want)
	})
	checkRealtime(t, base, false)

	srv.Restart()
	waitFor(t, "/healthz to see NATS back", func() bool {
		got = nil
		return get(t, base+"/healthz", &got) == 200
	})
	checkRealtime(t, base, true)
}

// The shared NATS server of the test environment carries the round trip
// too, under a prefix of the test's own.
func TestHealthzSharedNATS(t *testing.T) {
	cfg := loadConfig(t, fmt.Sprintf("bus: %s\nbus_prefix: %s\nlog:\n  level: error\n", natstest.URL(t), natstest.Prefix()))
	_, base := runNode(t, cfg)
	checkRealtime(t, base, true)
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(50 * time.Millisecond)
	}
}
