package main

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/helplinehq/helpline/connector/webhook/webhooktest"
)

// gatedHook passes webhook requests on to a receiver, those whose body
// holds marker only once its gate opens; started receives a value as each
// of those arrives.
func gatedHook(t *testing.T, recv *webhooktest.Receiver, marker string) (url string, started chan struct{}, open func()) {
	t.Helper()
	gate := make(chan struct{})
	started = make(chan struct{}, 16)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		if bytes.Contains(body, []byte(marker)) {
			started <- struct{}{}
			select {
			case <-gate:
			case <-r.Context().Done():
				return
			}
		}
		req, _ := http.NewRequest(r.Method, recv.URL, bytes.NewReader(body))
		req.Header = r.Header.Clone()
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadGateway)
			return
		}
		defer res.Body.Close()
		w.WriteHeader(res.StatusCode)
		io.Copy(w, res.Body)
	}))
	t.Cleanup(srv.Close)
	var once bool
	return srv.URL, started, func() {
		if !once {
			once = true
			close(gate)
		}
	}
}

// drainConfig writes a configuration with drain_timeout drain and a
// webhook connector posting to hook with the given timeout.
func drainConfig(t *testing.T, hook, drain, timeout string) string {
	t.Helper()
	body := fmt.Sprintf(`
drain_timeout: %s
mirror:
  poll_interval: 20ms
connectors:
  - name: hooks
    kind: webhook
    urls: [%s]
    secret_env: HOOK_SECRET
    timeout: %s
`, drain, hook, timeout)
	path := filepath.Join(t.TempDir(), "helpline.yaml")
	if err := os.WriteFile(path, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// sayHeld sends text as the customer and waits for its delivery to reach
// the webhook's gate.
func sayHeld(t *testing.T, s *testServer, token, text string, started <-chan struct{}) {
	t.Helper()
	if code := participantCall(t, s.url(), "/participant/message", token,
		map[string]string{"ContentType": "text/plain", "Content": text}, nil); code != 200 {
		t.Fatalf("SendMessage: %d", code)
	}
	select {
	case <-started:
	case <-time.After(20 * time.Second):
		t.Fatal("no delivery to the webhook started")
	}
}

// SIGTERM drains the node: the customer's socket is closed with 1012, for
// the client to reconnect elsewhere; the mirror delivery under way
// finishes and is recorded before serve returns, so that a restart
// delivers nothing twice.
func TestServeDrainsOnStop(t *testing.T) {
	t.Setenv("HOOK_SECRET", "hook-secret")
	recv := webhooktest.NewReceiver("hook-secret")
	t.Cleanup(recv.Close)
	hook, started, open := gatedHook(t, recv, "before the stop")
	defer open()
	path := drainConfig(t, hook, "20s", "15s")
	data := filepath.Join(t.TempDir(), "data")
	s := startServe(t, "--config", path, "--data", data, "--disable-rate-limits")
	contactID, token, ws := startCustomer(t, s)
	sayHeld(t, s, token, "before the stop", started)

	s.stop() // as SIGTERM does
	s.stop = nil
	ws.SetReadDeadline(time.Now().Add(10 * time.Second))
	for {
		_, _, err := ws.ReadMessage()
		if err == nil {
			continue
		}
		var ce *websocket.CloseError
		if !errors.As(err, &ce) || ce.Code != websocket.CloseServiceRestart {
			t.Fatalf("customer socket ended with %v, want close 1012 (reconnect)", err)
		}
		break
	}
	select {
	case err := <-s.done:
		t.Fatalf("serve returned (%v) with a mirror delivery in flight", err)
	case <-time.After(300 * time.Millisecond):
	}
	open()
	select {
	case err := <-s.done:
		if err != nil {
			t.Fatalf("serve: %v", err)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("serve did not stop within 20 s of the delivery's end")
	}
	if got := messages(recv, contactID); strings.Join(got, "|") != "before the stop" {
		t.Fatalf("webhook holds %q once serve returned, want the message delivered during the drain", got)
	}
	if !strings.Contains(s.logs.String(), "draining") {
		t.Errorf("no drain in the logs:\n%s", s.logs)
	}

	// The restarted node finds the pair delivered and free: the next
	// message follows without the first coming again.
	again := startServe(t, "--config", path, "--data", data, "--disable-rate-limits")
	if code := participantCall(t, again.url(), "/participant/message", token,
		map[string]string{"ContentType": "text/plain", "Content": "after the restart"}, nil); code != 200 {
		t.Fatalf("SendMessage after the restart: %d", code)
	}
	waitFor(t, "the message after the restart", func() bool { return len(messages(recv, contactID)) == 2 })
	if all := recv.Deliveries(); len(all) != len(recv.Unique()) {
		t.Errorf("%d deliveries for %d items: the drained delivery came again", len(all), len(recv.Unique()))
	}
}

// A delivery that outlasts drain_timeout is cut off: serve returns, and
// the restarted node delivers the message.
func TestServeDrainTimeout(t *testing.T) {
	t.Setenv("HOOK_SECRET", "hook-secret")
	recv := webhooktest.NewReceiver("hook-secret")
	t.Cleanup(recv.Close)
	hook, started, open := gatedHook(t, recv, "stuck")
	data := filepath.Join(t.TempDir(), "data")
	s := startServe(t, "--config", drainConfig(t, hook, "500ms", "30s"), "--data", data, "--disable-rate-limits")
	contactID, token, _ := startCustomer(t, s)
	sayHeld(t, s, token, "stuck", started)
	s.stop()
	s.stop = nil
	select {
	case err := <-s.done:
		if err != nil {
			t.Fatalf("serve: %v", err)
		}
	case <-time.After(15 * time.Second):
		t.Fatal("serve still draining 15 s after the stop, with drain_timeout 500ms")
	}
	open()
	startServe(t, "--config", drainConfig(t, recv.URL, "500ms", "30s"), "--data", data, "--disable-rate-limits")
	waitFor(t, "the cut-off message delivered after the restart", func() bool { return len(messages(recv, contactID)) == 1 })
}
