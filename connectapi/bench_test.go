package connectapi_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/helplinehq/helpline"
)

// nopSink stands for a subscribed socket: it takes every item.
type nopSink struct{ n atomic.Int64 }

func (s *nopSink) Deliver(*helpline.Item) bool { s.n.Add(1); return true }
func (s *nopSink) End()                        {}

// BenchmarkSendMessageHandler measures SendMessage as the server runs it,
// from the HTTP request to the answer: the access log, the bearer token,
// the body, the engine, the durable append and the fan-out to both
// participants' sockets, each message with a ClientToken of its own. Its
// allocations per operation (-benchmem) count every goroutine's,
// the writer's and the fan-out's included.
func BenchmarkSendMessageHandler(b *testing.B) {
	e := newEnv(b, nil)
	ctx := context.Background()
	const chats = 16
	tokens := make([]string, chats)
	for i := range tokens {
		started, err := e.svc.StartChat(ctx, helpline.StartChatInput{InstanceID: instanceID, ContactFlowID: "flow-plain", DisplayName: "Casey"})
		if err != nil {
			b.Fatal(err)
		}
		sess, err := e.svc.Authenticate(ctx, helpline.ParticipantToken, started.ParticipantToken)
		if err != nil {
			b.Fatal(err)
		}
		conn, err := e.svc.CreateConnection(ctx, sess, true)
		if err != nil {
			b.Fatal(err)
		}
		tokens[i] = conn.ConnectionToken
		for range 2 {
			if _, err := e.svc.Watch(ctx, sess, sess.Contact.LastSeq, &nopSink{}); err != nil {
				b.Fatal(err)
			}
		}
	}
	h := e.srv.Config.Handler
	var n atomic.Int64
	send := func(b *testing.B) {
		i := int(n.Add(1))
		body := `{"ContentType":"text/plain","Content":"hello","ClientToken":"m` + strconv.Itoa(i) + `"}`
		req := httptest.NewRequest(http.MethodPost, "/participant/message", strings.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("X-Amz-Bearer", tokens[i%chats])
		w := httptest.NewRecorder()
		h.ServeHTTP(w, req)
		if w.Code != http.StatusOK {
			b.Fatalf("SendMessage: %d %s", w.Code, w.Body)
		}
	}
	// One at a time, each message is a write batch of its own.
	b.Run("serial", func(b *testing.B) {
		b.ReportAllocs()
		for range b.N {
			send(b)
		}
	})
	// 64 callers at once, as under load: the writer commits them in
	// batches, so the per-batch work is shared.
	b.Run("parallel", func(b *testing.B) {
		b.ReportAllocs()
		b.SetParallelism(32)
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				send(b)
			}
		})
	})
}
