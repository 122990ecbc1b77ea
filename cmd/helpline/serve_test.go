package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/connect"
	"github.com/aws/aws-sdk-go-v2/service/connect/types"
	"github.com/gorilla/websocket"
)

// testServer is `helpline serve` running in-process.
type testServer struct {
	banner map[string]string
	lines  []string // the banner as printed
	stop   context.CancelFunc
	done   chan error
	logs   *bytes.Buffer
}

func startServe(t *testing.T, args ...string) *testServer {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	pr, pw := io.Pipe()
	s := &testServer{banner: map[string]string{}, stop: cancel, done: make(chan error, 1), logs: &bytes.Buffer{}}
	go func() {
		s.done <- run(ctx, append([]string{"serve", "--listen", "127.0.0.1:0"}, args...), pw, s.logs)
		pw.Close()
	}()
	sc := bufio.NewScanner(pr)
	for sc.Scan() && !strings.HasPrefix(sc.Text(), "Point ") {
		s.lines = append(s.lines, sc.Text())
		if k, v, ok := strings.Cut(sc.Text(), ":"); ok {
			s.banner[strings.TrimSpace(k)] = strings.TrimSpace(v)
		}
	}
	go io.Copy(io.Discard, pr)
	if s.banner["Connect endpoint"] == "" {
		cancel()
		t.Fatalf("server did not start: %v\n%s", <-s.done, s.logs)
	}
	t.Cleanup(func() { s.shutdown(t) })
	return s
}

// shutdown stops the server as SIGTERM does and waits for it to finish.
func (s *testServer) shutdown(t *testing.T) {
	t.Helper()
	if s.stop == nil {
		return
	}
	s.stop()
	s.stop = nil
	select {
	case err := <-s.done:
		if err != nil {
			t.Errorf("serve returned %v", err)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("serve did not stop within 20 s")
	}
}

func (s *testServer) url() string { return s.banner["Connect endpoint"] }

func (s *testServer) connect() *connect.Client {
	return s.connectWith(s.banner["Access key id"], s.banner["Secret access key"])
}

// connectWith is a Connect client signing with the access key keyID.
func (s *testServer) connectWith(keyID, secret string) *connect.Client {
	return connect.New(connect.Options{
		BaseEndpoint: aws.String(s.url()),
		Region:       "us-east-1",
		Credentials:  credentials.NewStaticCredentialsProvider(keyID, secret, ""),
	})
}

// chatEntry is where a customer starts a chat: an instance, one of its
// flows, and an access key of the instance to sign StartChatContact.
type chatEntry struct{ instance, flow, keyID, secret string }

// defaultEntry is the default instance's flow, signed with the key the
// banner shows.
func (s *testServer) defaultEntry() chatEntry {
	return chatEntry{s.banner["Instance id"], s.banner["Contact flow id"], s.banner["Access key id"], s.banner["Secret access key"]}
}

func participantCall(t *testing.T, base, path, token string, in, out any) int {
	t.Helper()
	body, _ := json.Marshal(in)
	req, _ := http.NewRequest("POST", base+path, bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("X-Amz-Bearer", token)
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	data, _ := io.ReadAll(res.Body)
	if out != nil && res.StatusCode == 200 {
		if err := json.Unmarshal(data, out); err != nil {
			t.Fatalf("%s: %v: %s", path, err, data)
		}
	}
	return res.StatusCode
}

// A fresh data directory gets a default instance that signs; a graceful
// stop closes sockets; a restart keeps the identity and every acknowledged
// item.
func TestServeRestartKeepsEverything(t *testing.T) {
	data := filepath.Join(t.TempDir(), "data")
	s := startServe(t, "--data", data, "--disable-rate-limits")
	for _, k := range []string{"Instance id", "Contact flow id", "Access key id", "Secret access key", "Region"} {
		if s.banner[k] == "" {
			t.Fatalf("banner lacks %q: %v", k, s.banner)
		}
	}
	if !strings.HasPrefix(s.url(), "http://127.0.0.1:") {
		t.Fatalf("endpoint %q", s.url())
	}
	res, err := http.Get(s.url() + "/healthz")
	if err != nil || res.StatusCode != 200 {
		t.Fatalf("healthz: %v %v", res, err)
	}

	_, token, ws := startCustomer(t, s)

	var ids []string
	for i := range 40 {
		var sent struct{ Id string }
		if code := participantCall(t, s.url(), "/participant/message", token,
			map[string]string{"ContentType": "text/plain", "Content": fmt.Sprintf("line %d", i)}, &sent); code != 200 {
			t.Fatalf("SendMessage %d: %d", i, code)
		}
		ids = append(ids, sent.Id)
	}

	s.shutdown(t)
	ws.SetReadDeadline(time.Now().Add(5 * time.Second))
	for {
		if _, _, err := ws.ReadMessage(); err != nil {
			if _, ok := err.(*websocket.CloseError); !ok && strings.Contains(err.Error(), "timeout") {
				t.Fatalf("socket still open after shutdown: %v", err)
			}
			break
		}
	}

	again := startServe(t, "--data", data)
	for _, k := range []string{"Instance id", "Contact flow id", "Access key id", "Secret access key"} {
		if again.banner[k] != s.banner[k] {
			t.Errorf("%s changed across restart: %q → %q", k, s.banner[k], again.banner[k])
		}
	}
	var page struct {
		Transcript []struct{ Id, Type, Content string }
		NextToken  string
	}
	if code := participantCall(t, again.url(), "/participant/transcript", token,
		map[string]any{"MaxResults": 100, "ScanDirection": "FORWARD", "SortOrder": "ASCENDING", "StartPosition": map[string]any{"MostRecent": 100}}, &page); code != 200 {
		t.Fatalf("GetTranscript after restart: %d", code)
	}
	var got []string
	for _, it := range page.Transcript {
		if it.Type == "MESSAGE" {
			got = append(got, it.Id)
		}
	}
	if strings.Join(got, ",") != strings.Join(ids, ",") {
		t.Fatalf("after restart the transcript holds %d of %d messages, or out of order", len(got), len(ids))
	}
}

// HELPLINE_ACCESS_KEY_ID and HELPLINE_SECRET_ACCESS_KEY replace the
// generated key, and the replaced one no longer signs.
func TestServeKeyFromEnvironment(t *testing.T) {
	data := filepath.Join(t.TempDir(), "data")
	first := startServe(t, "--data", data)
	generated := first.connect()
	first.shutdown(t)

	t.Setenv("HELPLINE_ACCESS_KEY_ID", "AKIDTESTENV000000001")
	t.Setenv("HELPLINE_SECRET_ACCESS_KEY", "env-secret-env-secret-env-secret-000001")
	s := startServe(t, "--data", data)
	if s.banner["Access key id"] != "AKIDTESTENV000000001" || s.banner["Secret access key"] != "(from HELPLINE_SECRET_ACCESS_KEY)" {
		t.Fatalf("banner key %q, secret %q", s.banner["Access key id"], s.banner["Secret access key"])
	}
	s.banner["Secret access key"] = "env-secret-env-secret-env-secret-000001"
	in := &connect.StartChatContactInput{
		InstanceId:         aws.String(s.banner["Instance id"]),
		ContactFlowId:      aws.String(s.banner["Contact flow id"]),
		ParticipantDetails: &types.ParticipantDetails{DisplayName: aws.String("Ada")},
	}
	if _, err := s.connect().StartChatContact(context.Background(), in); err != nil {
		t.Fatalf("env key refused: %v", err)
	}
	generated = connect.New(generated.Options(), func(o *connect.Options) { o.BaseEndpoint = aws.String(s.url()) })
	if _, err := generated.StartChatContact(context.Background(), in); err == nil {
		t.Fatal("the replaced generated key still signs")
	}
}

func TestServeRejectsBadConfig(t *testing.T) {
	dir := t.TempDir()
	cases := map[string]string{
		"unknown key":         "listen: 127.0.0.1:0\nbogus: 1\n",
		"instance no id":      "instances:\n  - name: x\n",
		"missing secret":      "instances:\n  - id: a\n    flows: [{id: f}]\n    access_keys: [{id: K, secret_env: HELPLINE_TEST_UNSET_SECRET}]\n",
		"bad duration":        "limits:\n  chat_duration: soon\n",
		"bad rate":            "limits:\n  rates:\n    SendMessage: {rate: 0, burst: 1}\n",
		"bad log format":      "log: {format: xml}\n",
		"unset metrics token": "metrics: {token_env: HELPLINE_TEST_UNSET_SECRET}\n",
		"shared access key id": "instances:\n  - id: a\n    flows: [{id: f}]\n    access_keys: [{id: K, secret_env: HELPLINE_TEST_SECRET_A}]\n" +
			"  - id: b\n    flows: [{id: f}]\n    access_keys: [{id: K, secret_env: HELPLINE_TEST_SECRET_B}]\n",
	}
	t.Setenv("HELPLINE_TEST_SECRET_A", "secret-a")
	t.Setenv("HELPLINE_TEST_SECRET_B", "secret-b")
	for name, body := range cases {
		path := filepath.Join(dir, strings.ReplaceAll(name, " ", "-")+".yaml")
		if err := os.WriteFile(path, []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
		var out, errs bytes.Buffer
		err := run(context.Background(), []string{"serve", "--config", path, "--data", filepath.Join(dir, "d")}, &out, &errs)
		if err == nil || !strings.Contains(err.Error(), "config") {
			t.Errorf("%s: err = %v, want a config error", name, err)
		}
	}
}

// An access key id that the default instance and a configured one share
// refuses to start: the key id would not say whose secret to check.
func TestServeRefusesAccessKeyOfTwoInstances(t *testing.T) {
	dir := t.TempDir()
	t.Setenv("HELPLINE_ACCESS_KEY_ID", "AKIDSHARED0000000001")
	t.Setenv("HELPLINE_SECRET_ACCESS_KEY", "default-instance-secret")
	t.Setenv("HELPLINE_TEST_SECRET_A", "instance-a-secret")
	path := filepath.Join(dir, "helpline.yaml")
	cfg := "instances:\n  - id: a\n    flows: [{id: f}]\n    access_keys: [{id: AKIDSHARED0000000001, secret_env: HELPLINE_TEST_SECRET_A}]\n"
	if err := os.WriteFile(path, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	// A server that does start is stopped after a while, so that the
	// failure is reported rather than waited on.
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	var out, errs bytes.Buffer
	err := run(ctx, []string{"serve", "--listen", "127.0.0.1:0", "--config", path, "--data", filepath.Join(dir, "d")}, &out, &errs)
	if err == nil || !strings.Contains(err.Error(), "AKIDSHARED0000000001") {
		t.Errorf("serve with a shared access key id: %v, want a refusal naming the key", err)
	}
}

// TestServeRejectsBadLimits: the per-participant limits are validated like
// the per-instance ones.
func TestServeRejectsBadLimits(t *testing.T) {
	dir := t.TempDir()
	cases := map[string]struct{ body, want string }{
		"bad participant rate":   {"limits:\n  participant_rates:\n    SendMessage: {rate: 1, burst: 0}\n", "limits.participant_rates.SendMessage: rate and burst must be positive"},
		"unknown participant op": {"limits:\n  participant_rates:\n    StartChatContact: {rate: 1, burst: 1}\n", `limits.participant_rates: unknown operation "StartChatContact"`},
		"socket opens in rates":  {"limits:\n  rates:\n    OpenWebSocket: {rate: 1, burst: 1}\n", `limits.rates: unknown operation "OpenWebSocket"`},
		"negative sockets":       {"limits:\n  sockets_per_participant: -1\n", "limits.sockets_per_participant must not be negative"},
	}
	for name, c := range cases {
		path := filepath.Join(dir, strings.ReplaceAll(name, " ", "-")+".yaml")
		if err := os.WriteFile(path, []byte(c.body), 0o600); err != nil {
			t.Fatal(err)
		}
		var out, errs bytes.Buffer
		err := run(context.Background(), []string{"serve", "--config", path, "--data", filepath.Join(dir, "d")}, &out, &errs)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: err = %v, want %q", name, err, c.want)
		}
	}
}

// A data directory other users can read gets a warning at start, and the
// database in it is the owner's only.
func TestServeWarnsOfOpenDataDirectory(t *testing.T) {
	data := filepath.Join(t.TempDir(), "data")
	if err := os.Mkdir(data, 0o755); err != nil {
		t.Fatal(err)
	}
	os.Chmod(data, 0o755)
	s := startServe(t, "--data", data)
	s.shutdown(t)
	if !strings.Contains(s.logs.String(), "the data directory can be read by other users") {
		t.Errorf("no warning about the data directory's mode:\n%s", s.logs)
	}
	fi, err := os.Stat(filepath.Join(data, "helpline.db"))
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("helpline.db: %v %v, want mode 0600", fi.Mode(), err)
	}
	quiet := startServe(t, "--data", filepath.Join(t.TempDir(), "fresh"))
	quiet.shutdown(t)
	if strings.Contains(quiet.logs.String(), "can be read by other users") {
		t.Errorf("a fresh data directory was warned about:\n%s", quiet.logs)
	}
}

// /metrics is open on the main address by default, and can move to an
// address of its own or require a token.
func TestServeMetricsAccess(t *testing.T) {
	get := func(t *testing.T, url, token string) int {
		t.Helper()
		req, _ := http.NewRequest(http.MethodGet, url, nil)
		if token != "" {
			req.Header.Set("Authorization", "Bearer "+token)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode == 200 && !strings.Contains(string(body), "go_goroutines") {
			t.Errorf("%s: 200 without metrics: %.200s", url, body)
		}
		return resp.StatusCode
	}
	dir := t.TempDir()
	config := func(name, body string) string {
		path := filepath.Join(dir, name)
		if err := os.WriteFile(path, []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
		return path
	}

	// A server with a connector, stopped: its metrics (read from its
	// closed database) must not be what the servers after it serve.
	t.Setenv("HOOK_SECRET", "hook-secret")
	mirrored := startServe(t, "--data", filepath.Join(dir, "mirrored"), "--config",
		config("mirrored.yaml", "connectors: [{name: hooks, kind: webhook, urls: [\"http://127.0.0.1:9/\"], secret_env: HOOK_SECRET}]\n"))
	mirrored.shutdown(t)

	open := startServe(t, "--data", filepath.Join(dir, "open"))
	if got := get(t, open.url()+"/metrics", ""); got != 200 || open.banner["Metrics"] != open.url()+"/metrics" {
		t.Errorf("default: /metrics %d, banner %q", got, open.banner["Metrics"])
	}

	apart := startServe(t, "--data", filepath.Join(dir, "apart"), "--config", config("apart.yaml", "metrics: {listen: 127.0.0.1:0}\n"))
	if got := get(t, apart.url()+"/metrics", ""); got != 404 {
		t.Errorf("metrics.listen: /metrics on the main address %d, want 404", got)
	}
	if got := get(t, apart.banner["Metrics"], ""); got != 200 || apart.banner["Metrics"] == apart.url()+"/metrics" {
		t.Errorf("metrics.listen: %s %d, want 200", apart.banner["Metrics"], got)
	}

	t.Setenv("HELPLINE_TEST_METRICS_TOKEN", "scrape-token-1")
	guarded := startServe(t, "--data", filepath.Join(dir, "guarded"), "--config", config("guarded.yaml", "metrics: {token_env: HELPLINE_TEST_METRICS_TOKEN}\n"))
	for token, want := range map[string]int{"": 401, "wrong": 401, "scrape-token-1": 200} {
		if got := get(t, guarded.url()+"/metrics", token); got != want {
			t.Errorf("metrics.token_env: token %q got %d, want %d", token, got, want)
		}
	}
}

// startCustomer starts a chat as the customer Ada and opens her socket,
// subscribed; it returns the contact id and her connection token.
func startCustomer(t *testing.T, s *testServer) (contactID, connectionToken string, ws *websocket.Conn) {
	t.Helper()
	return startCustomerAt(t, s, s.defaultEntry())
}

// startCustomerAt is startCustomer in the entry's flow.
func startCustomerAt(t *testing.T, s *testServer, e chatEntry) (contactID, connectionToken string, ws *websocket.Conn) {
	t.Helper()
	contactID, connectionToken, wsURL := connectCustomerAt(t, s, e)
	ws, _, err := websocket.DefaultDialer.Dial(wsURL, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ws.Close() })
	if err := ws.WriteMessage(websocket.TextMessage, []byte(`{"topic":"aws/subscribe","content":{"topics":["aws/chat"]}}`)); err != nil {
		t.Fatal(err)
	}
	return contactID, connectionToken, ws
}

// connectCustomer starts a chat as the customer Ada and creates her
// connection; it returns the contact id, her connection token and her
// WebSocket URL.
func connectCustomer(t *testing.T, s *testServer) (contactID, connectionToken, wsURL string) {
	t.Helper()
	return connectCustomerAt(t, s, s.defaultEntry())
}

// connectCustomerAt is connectCustomer in the entry's flow.
func connectCustomerAt(t *testing.T, s *testServer, e chatEntry) (contactID, connectionToken, wsURL string) {
	t.Helper()
	started, err := s.connectWith(e.keyID, e.secret).StartChatContact(context.Background(), &connect.StartChatContactInput{
		InstanceId:         aws.String(e.instance),
		ContactFlowId:      aws.String(e.flow),
		ParticipantDetails: &types.ParticipantDetails{DisplayName: aws.String("Ada")},
	})
	if err != nil {
		t.Fatal(err)
	}
	var conn struct {
		Websocket             struct{ Url string }
		ConnectionCredentials struct{ ConnectionToken string }
	}
	if code := participantCall(t, s.url(), "/participant/connection", *started.ParticipantToken,
		map[string]any{"Type": []string{"WEBSOCKET", "CONNECTION_CREDENTIALS"}}, &conn); code != 200 {
		t.Fatalf("CreateParticipantConnection: %d", code)
	}
	return *started.ContactId, conn.ConnectionCredentials.ConnectionToken, conn.Websocket.Url
}

// zendeskServe starts serve mirroring into a Zendesk fake at fakeURL,
// with extra settings appended to the connector's entry.
func zendeskServe(t *testing.T, fakeURL, extra string) *testServer {
	t.Helper()
	t.Setenv("ZENDESK_TOKEN", "zd-token")
	cfg := fmt.Sprintf(`
mirror:
  poll_interval: 20ms
connectors:
  - name: zendesk
    kind: zendesk
    base_url: %s
    email: bot@example.com
    token_env: ZENDESK_TOKEN
%s`, fakeURL, extra)
	path := filepath.Join(t.TempDir(), "helpline.yaml")
	if err := os.WriteFile(path, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	return startServe(t, "--config", path, "--data", t.TempDir(), "--disable-rate-limits")
}

// TestServeParticipantLimits: limits.participant_rates and
// limits.sockets_per_participant from the configuration file are applied.
func TestServeParticipantLimits(t *testing.T) {
	path := filepath.Join(t.TempDir(), "helpline.yaml")
	cfg := "limits:\n  participant_rates:\n    SendMessage: {rate: 0.001, burst: 2}\n    OpenWebSocket: {rate: 1, burst: 5}\n  sockets_per_participant: 1\n"
	if err := os.WriteFile(path, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	s := startServe(t, "--config", path, "--data", t.TempDir())
	_, connectionToken, wsURL := connectCustomer(t, s)
	msg := map[string]any{"ContentType": "text/plain", "Content": "hello"}
	for i, want := range []int{200, 200, 429} {
		if code := participantCall(t, s.url(), "/participant/message", connectionToken, msg, nil); code != want {
			t.Errorf("SendMessage %d: %d, want %d", i+1, code, want)
		}
	}
	ws, _, err := websocket.DefaultDialer.Dial(wsURL, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer ws.Close()
	second, resp, err := websocket.DefaultDialer.Dial(wsURL, nil)
	if err == nil {
		second.Close()
		t.Fatal("a second socket opened with sockets_per_participant: 1")
	}
	if resp == nil || resp.StatusCode != 429 || resp.Header.Get("X-Amzn-ErrorType") != "ThrottlingException" {
		t.Errorf("second socket: %v %v", err, resp)
	}
}
