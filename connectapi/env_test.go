package connectapi_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/connect"
	"github.com/aws/aws-sdk-go-v2/service/connect/types"
	"github.com/gorilla/websocket"

	"github.com/helplinehq/helpline"
	"github.com/helplinehq/helpline/blobfs"
	"github.com/helplinehq/helpline/chat"
	"github.com/helplinehq/helpline/connectapi"
	"github.com/helplinehq/helpline/inmem"
	"github.com/helplinehq/helpline/sqlite"
)

const (
	instanceID = "inst-1"
	accessKey  = "AKIDHELPLINETEST"
	secretKey  = "secret-key-of-inst-1"
	region     = "us-east-1"
)

// env is the real wiring (engine, SQLite store, in-process bus, blob
// directory) behind connectapi in an httptest server.
type env struct {
	srv *httptest.Server
	svc *chat.Service
	db  *sqlite.DB
}

// newEnv starts an env; edit may adjust connectapi's config (the Service
// is set already).
func newEnv(t testing.TB, edit func(*connectapi.Config)) *env {
	t.Helper()
	dir := t.TempDir()
	db, err := sqlite.Open(filepath.Join(dir, "helpline.db"))
	if err != nil {
		t.Fatal(err)
	}
	blobs, err := blobfs.New(filepath.Join(dir, "blobs"))
	if err != nil {
		t.Fatal(err)
	}
	inst := &helpline.Instance{
		ID: instanceID, Name: "Shop",
		Flows:      []helpline.Flow{{ID: "flow-plain", Name: "Plain"}},
		AccessKeys: []helpline.AccessKey{{ID: accessKey, Secret: secretKey}},
	}
	if err := db.SaveInstance(context.Background(), inst); err != nil {
		t.Fatal(err)
	}
	bus := inmem.NewBus()
	logger := slog.New(slog.NewTextHandler(io.Discard, nil))
	svc := chat.New(chat.Config{
		Store: db, Bus: bus, Blobs: blobs, Logger: logger,
		Tokens: helpline.NewTokens([]byte("0123456789abcdef0123456789abcdef")),
	})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- svc.Run(ctx) }()

	cfg := connectapi.Config{Service: svc, Logger: logger, Region: region, Limits: connectapi.RateLimits{Disabled: true}}
	if edit != nil {
		edit(&cfg)
	}
	srv := httptest.NewServer(connectapi.LogRequests(logger, connectapi.New(cfg)))
	t.Cleanup(func() {
		srv.CloseClientConnections()
		srv.Close()
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Run: %v", err)
		}
		bus.Close()
		db.Close()
	})
	return &env{srv: srv, svc: svc, db: db}
}

// client returns a Connect SDK client signing with key and secret, with
// retries off so that each call is one request.
func (e *env) client(key, secret string, opts ...func(*connect.Options)) *connect.Client {
	return connect.New(connect.Options{
		BaseEndpoint:     aws.String(e.srv.URL),
		Region:           region,
		Credentials:      credentials.NewStaticCredentialsProvider(key, secret, ""),
		RetryMaxAttempts: 1,
	}, opts...)
}

// chat is a started contact with its customer.
type chatSession struct {
	contactID, participantID, participantToken string
}

func (e *env) startChat(t *testing.T) chatSession {
	t.Helper()
	out, err := e.client(accessKey, secretKey).StartChatContact(context.Background(), &connect.StartChatContactInput{
		InstanceId:         aws.String(instanceID),
		ContactFlowId:      aws.String("flow-plain"),
		ParticipantDetails: &types.ParticipantDetails{DisplayName: aws.String("Casey")},
	})
	if err != nil {
		t.Fatalf("StartChatContact: %v", err)
	}
	return chatSession{aws.ToString(out.ContactId), aws.ToString(out.ParticipantId), aws.ToString(out.ParticipantToken)}
}

// addAgent adds an AGENT participant and returns its participant token.
func (e *env) addAgent(t *testing.T, contactID string) string {
	t.Helper()
	out, err := e.client(accessKey, secretKey).CreateParticipant(context.Background(), &connect.CreateParticipantInput{
		InstanceId: aws.String(instanceID), ContactId: aws.String(contactID),
		ParticipantDetails: &types.ParticipantDetailsToAdd{ParticipantRole: types.ParticipantRoleAgent, DisplayName: aws.String("Alex")},
	})
	if err != nil {
		t.Fatalf("CreateParticipant: %v", err)
	}
	return aws.ToString(out.ParticipantCredentials.ParticipantToken)
}

// reply is an HTTP response, read whole.
type reply struct {
	status int
	header http.Header
	body   []byte
}

// errorType is the X-Amzn-ErrorType of an error reply.
func (r reply) errorType() string { return r.header.Get("X-Amzn-ErrorType") }

func (r reply) decode(t *testing.T, v any) {
	t.Helper()
	if err := json.Unmarshal(r.body, v); err != nil {
		t.Fatalf("decoding %s: %v", r.body, err)
	}
}

// do sends a request with an optional bearer token.
func (e *env) do(t *testing.T, method, path, token, body string) reply {
	t.Helper()
	req, err := http.NewRequest(method, e.srv.URL+path, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	if token != "" {
		req.Header.Set("x-amz-bearer", token)
	}
	return send(t, req)
}

func send(t *testing.T, req *http.Request) reply {
	t.Helper()
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return reply{resp.StatusCode, resp.Header, b}
}

// ok sends a participant request that must succeed and decodes its body
// into out (when not nil).
func (e *env) ok(t *testing.T, path, token, body string, out any) {
	t.Helper()
	r := e.do(t, http.MethodPost, path, token, body)
	if r.status != http.StatusOK {
		t.Fatalf("POST %s %s: %d %s", path, body, r.status, r.body)
	}
	if out != nil {
		r.decode(t, out)
	}
}

type connection struct {
	Websocket             struct{ Url, ConnectionExpiry string }
	ConnectionCredentials struct{ ConnectionToken, Expiry string }
}

// connect calls CreateParticipantConnection for both connection types.
func (e *env) connect(t *testing.T, participantToken string) connection {
	t.Helper()
	var c connection
	e.ok(t, "/participant/connection", participantToken, `{"Type":["WEBSOCKET","CONNECTION_CREDENTIALS"]}`, &c)
	return c
}

func jsonString(s string) string {
	b, _ := json.Marshal(s)
	return string(b)
}

// sendMessage sends a text message and returns its item id.
func (e *env) sendMessage(t *testing.T, connectionToken, text string) string {
	t.Helper()
	var out struct{ Id, AbsoluteTime string }
	e.ok(t, "/participant/message", connectionToken, `{"ContentType":"text/plain","Content":`+jsonString(text)+`}`, &out)
	if out.Id == "" || out.AbsoluteTime == "" {
		t.Fatalf("SendMessage answered %+v", out)
	}
	return out.Id
}

// item is the wire item the tests read.
type item struct {
	Id, Type, ContentType, Content, AbsoluteTime string
	ParticipantId, DisplayName, ParticipantRole  string
	InitialContactId, ContactId                  string
	Attachments                                  []struct{ AttachmentId, AttachmentName, ContentType, Status string }
	MessageMetadata                              *struct {
		MessageId string
		Receipts  []struct{ ReadTimestamp, DeliveredTimestamp, RecipientParticipantId string }
	}
}

type transcript struct {
	InitialContactId string
	Transcript       []item
	NextToken        *string
}

// transcriptAll reads the whole transcript oldest first.
func (e *env) transcriptAll(t *testing.T, connectionToken string) []item {
	t.Helper()
	var tr transcript
	e.ok(t, "/participant/transcript", connectionToken, `{"MaxResults":100,"ScanDirection":"FORWARD","SortOrder":"ASCENDING","StartPosition":{}}`, &tr)
	if tr.NextToken != nil {
		t.Fatalf("transcript of a short chat has NextToken %q", *tr.NextToken)
	}
	return tr.Transcript
}

func hasItem(items []item, pred func(item) bool) bool {
	for _, it := range items {
		if pred(it) {
			return true
		}
	}
	return false
}

// ws is a WebSocket client.
type ws struct {
	t    *testing.T
	conn *websocket.Conn
}

func dial(t *testing.T, url string) *ws {
	t.Helper()
	conn, resp, err := websocket.DefaultDialer.Dial(url, nil)
	if err != nil {
		t.Fatalf("dial %s: %v (%v)", url, err, resp)
	}
	t.Cleanup(func() { conn.Close() })
	return &ws{t, conn}
}

func (w *ws) send(frame string) {
	w.t.Helper()
	if err := w.conn.WriteMessage(websocket.TextMessage, []byte(frame)); err != nil {
		w.t.Fatal(err)
	}
}

// frame is a server frame.
type frame struct {
	Topic         string          `json:"topic"`
	Content       json.RawMessage `json:"content"`
	ContentType   string          `json:"contentType"`
	StatusCode    int             `json:"statusCode"`
	StatusContent string          `json:"statusContent"`
	Message       string          `json:"message"`
	ConnectionID  string          `json:"connectionId"`
	RequestID     string          `json:"requestId"`
}

// read returns the next frame, failing the test after 5 s without one.
func (w *ws) read() frame {
	w.t.Helper()
	w.conn.SetReadDeadline(time.Now().Add(5 * time.Second))
	typ, data, err := w.conn.ReadMessage()
	if err != nil {
		w.t.Fatalf("reading frame: %v", err)
	}
	if typ != websocket.TextMessage {
		w.t.Fatalf("frame type %d", typ)
	}
	var f frame
	if err := json.Unmarshal(data, &f); err != nil {
		w.t.Fatalf("frame %s: %v", data, err)
	}
	return f
}

// item decodes an aws/chat frame's item.
func (f frame) item(t *testing.T) item {
	t.Helper()
	if f.Topic != "aws/chat" || f.ContentType != "application/json" {
		t.Fatalf("not a chat frame: %+v", f)
	}
	var s string
	if err := json.Unmarshal(f.Content, &s); err != nil {
		t.Fatalf("chat frame content is not a string: %s", f.Content)
	}
	var it item
	if err := json.Unmarshal([]byte(s), &it); err != nil {
		t.Fatalf("chat item %s: %v", s, err)
	}
	return it
}

// subscribe subscribes and checks the ack.
func (w *ws) subscribe() {
	w.t.Helper()
	w.send(`{"topic":"aws/subscribe","content":{"topics":["aws/chat"]}}`)
	f := w.read()
	if f.Topic != "aws/subscribe" || string(compact(f.Content)) != `{"status":"success","topics":["aws/chat"]}` {
		w.t.Fatalf("subscribe ack: %+v %s", f, f.Content)
	}
}

// nextItem reads frames until an aws/chat item for which pred holds.
func (w *ws) nextItem(pred func(item) bool) item {
	w.t.Helper()
	for {
		f := w.read()
		if f.Topic != "aws/chat" {
			continue
		}
		if it := f.item(w.t); pred(it) {
			return it
		}
	}
}

func compact(b []byte) []byte {
	var buf bytes.Buffer
	json.Compact(&buf, b)
	return buf.Bytes()
}
