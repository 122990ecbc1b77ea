package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/helplinehq/helpline/connector/zendesk/zendesktest"
	"github.com/helplinehq/helpline/internal/loadtest"
)

// These tests run a real server on real TCP connections: read deadlines
// and idle timeouts are the kernel's wall-clock deadlines, which no fake
// clock drives, so they use timeouts of a second.

// httpServe starts serve with config as its configuration file.
func httpServe(t *testing.T, config string) *testServer {
	t.Helper()
	path := filepath.Join(t.TempDir(), "helpline.yaml")
	if err := os.WriteFile(path, []byte(config), 0o600); err != nil {
		t.Fatal(err)
	}
	return startServe(t, "--config", path, "--data", t.TempDir(), "--disable-rate-limits")
}

func (s *testServer) addr(t *testing.T) string {
	t.Helper()
	u, err := url.Parse(s.url())
	if err != nil {
		t.Fatal(err)
	}
	return u.Host
}

// openFor reports how long the server keeps conn open, waiting at most
// limit: closed is false when it was still open then.
func openFor(conn net.Conn, since time.Time, limit time.Duration) (open time.Duration, closed bool) {
	conn.SetReadDeadline(since.Add(limit))
	_, err := io.Copy(io.Discard, conn)
	var ne net.Error
	return time.Since(since), !(errors.As(err, &ne) && ne.Timeout())
}

// trickle sends head, then a body of 1,000 bytes one byte every 200 ms,
// and reports how long the server kept the connection open (at most
// limit).
func trickle(t *testing.T, addr, head string, limit time.Duration) (open time.Duration, closed bool) {
	t.Helper()
	conn, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if _, err := io.WriteString(conn, head+"Content-Length: 1000\r\n\r\n{"); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	defer loadtest.Trickle(conn, 200*time.Millisecond, []byte(" "))()
	return openFor(conn, start, limit)
}

// A body trickled one byte at a time is cut off at read_body_timeout, on
// the participant routes and on a connector's webhook, with or without a
// valid token, and its connection is closed.
func TestServeCutsOffTrickledBodies(t *testing.T) {
	const secret = "zd-webhook-secret"
	fake := zendesktest.NewServer(zendesktest.Options{WebhookSecret: secret})
	defer fake.Close()
	t.Setenv("ZENDESK_WEBHOOK_SECRET", secret)
	s := zendeskServe(t, fake.URL, "    webhook_secret_env: ZENDESK_WEBHOOK_SECRET\nhttp:\n  read_body_timeout: 1s\n")
	_, token, _ := startCustomer(t, s)
	addr := s.addr(t)

	heads := map[string]string{
		"SendMessage with a token":    "POST /participant/message HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nX-Amz-Bearer: " + token + "\r\n",
		"SendMessage without a token": "POST /participant/message HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n",
		"webhook with a signature": "POST /connectors/zendesk/webhook HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n" +
			"X-Zendesk-Webhook-Signature: c2lnbmF0dXJl\r\nX-Zendesk-Webhook-Signature-Timestamp: " + time.Now().UTC().Format(time.RFC3339) + "\r\n",
		"webhook without a signature": "POST /connectors/zendesk/webhook HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n",
	}
	for name, head := range heads {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			open, closed := trickle(t, addr, head, 4*time.Second)
			if !closed {
				t.Fatalf("the connection is still open after %s of trickling; read_body_timeout is 1s", open.Round(time.Millisecond))
			}
			if open < 900*time.Millisecond {
				t.Errorf("the connection was closed after %s, before read_body_timeout (1s)", open.Round(time.Millisecond))
			}
		})
	}
}

// An idle keep-alive connection is closed after idle_timeout, and one in
// use is kept alive until then.
func TestServeClosesIdleConnections(t *testing.T) {
	s := httpServe(t, "http:\n  idle_timeout: 1s\n")
	conn, err := net.Dial("tcp", s.addr(t))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	br := bufio.NewReader(conn)
	for i := range 2 {
		if err := healthz(conn, br); err != nil {
			t.Fatalf("request %d on the keep-alive connection: %v", i+1, err)
		}
	}
	open, closed := openFor(conn, time.Now(), 4*time.Second)
	if !closed {
		t.Fatalf("an idle connection is still open after %s; idle_timeout is 1s", open.Round(time.Millisecond))
	}
	if open < 900*time.Millisecond {
		t.Errorf("the idle connection was closed after %s, before idle_timeout (1s)", open.Round(time.Millisecond))
	}
}

// healthz sends GET /healthz on conn and reads a 200 answer.
func healthz(conn net.Conn, br *bufio.Reader) error {
	conn.SetDeadline(time.Now().Add(3 * time.Second))
	defer conn.SetDeadline(time.Time{})
	if _, err := io.WriteString(conn, "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n"); err != nil {
		return err
	}
	res, err := http.ReadResponse(br, nil)
	if err != nil {
		return err
	}
	defer res.Body.Close()
	if _, err := io.Copy(io.Discard, res.Body); err != nil {
		return err
	}
	if res.StatusCode != 200 {
		return fmt.Errorf("status %d", res.StatusCode)
	}
	return nil
}

// dialHealthz opens a connection from the local address from and checks
// that the server answers on it; the connection is returned open.
func dialHealthz(t *testing.T, from, addr string) (net.Conn, error) {
	t.Helper()
	d := net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(from)}}
	conn, err := d.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	if err := healthz(conn, bufio.NewReader(conn)); err != nil {
		conn.Close()
		return nil, err
	}
	return conn, nil
}

// mustServe opens a connection that the server must answer.
func mustServe(t *testing.T, from, addr string) net.Conn {
	t.Helper()
	conn, err := dialHealthz(t, from, addr)
	if err != nil {
		t.Fatalf("a connection from %s under the cap was refused: %v", from, err)
	}
	return conn
}

// mustRefuse opens a connection that the server must close unanswered.
func mustRefuse(t *testing.T, from, addr string) {
	t.Helper()
	if _, err := dialHealthz(t, from, addr); err == nil {
		t.Fatalf("a connection from %s over the cap was served", from)
	}
}

// awaitServed waits for the server to take a connection from from again,
// once one it held was closed (its close reaches the server
// asynchronously).
func awaitServed(t *testing.T, from, addr string) {
	t.Helper()
	waitFor(t, "a connection from "+from+" to be served again", func() bool {
		_, err := dialHealthz(t, from, addr)
		return err == nil
	})
}

// max_connections_per_ip refuses an address's connection over the cap,
// and serves it again once one of its connections has closed; other
// addresses are not affected.
func TestServeCapsConnectionsPerAddress(t *testing.T) {
	s := httpServe(t, "http:\n  max_connections_per_ip: 2\n  per_ip_exempt: []\n")
	addr := s.addr(t)
	first := mustServe(t, "127.0.0.1", addr)
	mustServe(t, "127.0.0.1", addr)
	mustRefuse(t, "127.0.0.1", addr)
	mustServe(t, "127.0.0.2", addr)

	first.Close()
	awaitServed(t, "127.0.0.1", addr)
	// awaitServed's connection took the freed place: the cap holds again.
	mustRefuse(t, "127.0.0.1", addr)
}

// Loopback is exempt from max_connections_per_ip unless per_ip_exempt
// says otherwise.
func TestServeExemptsLoopbackFromPerAddressCap(t *testing.T) {
	s := httpServe(t, "http:\n  max_connections_per_ip: 1\n")
	addr := s.addr(t)
	mustServe(t, "127.0.0.1", addr)
	mustServe(t, "127.0.0.1", addr)
}

// max_connections refuses any connection over the cap, and serves again
// once one has closed.
func TestServeCapsConnectionsInTotal(t *testing.T) {
	s := httpServe(t, "http:\n  max_connections: 3\n")
	addr := s.addr(t)
	first := mustServe(t, "127.0.0.1", addr)
	mustServe(t, "127.0.0.2", addr)
	mustServe(t, "127.0.0.3", addr)
	mustRefuse(t, "127.0.0.4", addr)

	first.Close()
	awaitServed(t, "127.0.0.4", addr)
	mustRefuse(t, "127.0.0.1", addr)
}

// A WebSocket outlives read_body_timeout: the upgrade has no body, and
// the socket sets its own deadlines once hijacked.
func TestServeWebSocketOutlivesBodyTimeout(t *testing.T) {
	s := httpServe(t, "http:\n  read_body_timeout: 1s\n  idle_timeout: 1s\n")
	_, _, ws := startCustomer(t, s)
	heartbeat := func() error {
		ws.SetReadDeadline(time.Now().Add(3 * time.Second))
		ws.SetWriteDeadline(time.Now().Add(3 * time.Second))
		if err := ws.WriteMessage(websocket.TextMessage, []byte(`{"topic":"aws/heartbeat"}`)); err != nil {
			return err
		}
		for {
			_, data, err := ws.ReadMessage()
			if err != nil {
				return err
			}
			var frame struct{ Topic string }
			if json.Unmarshal(data, &frame) == nil && frame.Topic == "aws/heartbeat" {
				return nil
			}
		}
	}
	if err := heartbeat(); err != nil {
		t.Fatalf("heartbeat on a new socket: %v", err)
	}
	time.Sleep(2 * time.Second) // past both timeouts; a wall-clock deadline is what is tested
	if err := heartbeat(); err != nil {
		t.Fatalf("heartbeat after read_body_timeout and idle_timeout: %v", err)
	}
}

// slowReader reads r at most chunk bytes at a time, one read every
// every.
type slowReader struct {
	r     io.Reader
	chunk int
	every time.Duration
}

func (r *slowReader) Read(p []byte) (int, error) {
	time.Sleep(r.every)
	return r.r.Read(p[:min(len(p), r.chunk)])
}

// An attachment upload slower than read_body_timeout but faster than
// min_upload_rate succeeds: its deadline grows with its declared size.
func TestServeUploadGetsTimeForItsSize(t *testing.T) {
	s := httpServe(t, "http:\n  read_body_timeout: 1s\n  min_upload_rate: 8192\n")
	_, token, _ := startCustomer(t, s)

	// 24 KiB at about 12 KiB/s take 2 s; the deadline is 1 s + 24 KiB at 8 KiB/s = 4 s.
	file := bytes.Repeat([]byte("receipt "), 3072)
	var up struct {
		AttachmentId   string
		UploadMetadata struct {
			Url              string
			HeadersToInclude map[string]string
		}
	}
	if code := participantCall(t, s.url(), "/participant/start-attachment-upload", token, map[string]any{
		"ContentType": "text/plain", "AttachmentSizeInBytes": len(file), "AttachmentName": "receipt.txt", "ClientToken": "up-1",
	}, &up); code != 200 {
		t.Fatalf("StartAttachmentUpload: %d", code)
	}
	req, _ := http.NewRequest(http.MethodPut, up.UploadMetadata.Url, &slowReader{r: bytes.NewReader(file), chunk: 1024, every: 83 * time.Millisecond})
	req.ContentLength = int64(len(file))
	for k, v := range up.UploadMetadata.HeadersToInclude {
		req.Header.Set(k, v)
	}
	start := time.Now()
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("the upload was cut off after %s: %v", time.Since(start).Round(time.Millisecond), err)
	}
	body, _ := io.ReadAll(res.Body)
	res.Body.Close()
	if res.StatusCode != 200 {
		t.Fatalf("upload: %d %s", res.StatusCode, body)
	}
	if took := time.Since(start); took < 1500*time.Millisecond {
		t.Fatalf("the upload took %s; the test needs it slower than read_body_timeout (1s)", took)
	}
	if code := participantCall(t, s.url(), "/participant/complete-attachment-upload", token,
		map[string]any{"AttachmentIds": []string{up.AttachmentId}, "ClientToken": "done-1"}, nil); code != 200 {
		t.Fatalf("CompleteAttachmentUpload: %d", code)
	}
}

// A 20 MB download read slowly outlives read_body_timeout and
// idle_timeout: the server sets no write deadline that would cut it.
func TestServeSlowDownloadIsNotCut(t *testing.T) {
	s := httpServe(t, "http:\n  read_body_timeout: 1s\n  idle_timeout: 1s\n")
	_, token, _ := startCustomer(t, s)
	file := bytes.Repeat([]byte("0123456789abcdef"), 20<<20/16)
	var up struct {
		AttachmentId   string
		UploadMetadata struct{ Url string }
	}
	if code := participantCall(t, s.url(), "/participant/start-attachment-upload", token, map[string]any{
		"ContentType": "text/plain", "AttachmentSizeInBytes": len(file), "AttachmentName": "big.txt", "ClientToken": "up-1",
	}, &up); code != 200 {
		t.Fatalf("StartAttachmentUpload: %d", code)
	}
	req, _ := http.NewRequest(http.MethodPut, up.UploadMetadata.Url, bytes.NewReader(file))
	req.Header.Set("Content-Type", "text/plain")
	if res, err := http.DefaultClient.Do(req); err != nil || res.StatusCode != 200 {
		t.Fatalf("upload: %v %v", res, err)
	}
	if code := participantCall(t, s.url(), "/participant/complete-attachment-upload", token,
		map[string]any{"AttachmentIds": []string{up.AttachmentId}, "ClientToken": "done-1"}, nil); code != 200 {
		t.Fatalf("CompleteAttachmentUpload: %d", code)
	}
	var att struct{ Url string }
	if code := participantCall(t, s.url(), "/participant/attachment", token, map[string]any{"AttachmentId": up.AttachmentId}, &att); code != 200 {
		t.Fatalf("GetAttachment: %d", code)
	}

	res, err := http.Get(att.Url)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	// At most 1 MiB a read, a read every 100 ms: seconds for the file,
	// more than the socket buffers hold, so the server waits on the
	// client past both timeouts.
	start := time.Now()
	got, err := io.ReadAll(&slowReader{r: res.Body, chunk: 1 << 20, every: 100 * time.Millisecond})
	if err != nil || !bytes.Equal(got, file) {
		t.Fatalf("the download was cut after %s: %d of %d bytes, %v", time.Since(start).Round(time.Millisecond), len(got), len(file), err)
	}
}
