package chat_test

import (
	"runtime"
	"sync/atomic"
	"testing"
	"time"

	"github.com/helplinehq/helpline"
	"github.com/helplinehq/helpline/chat"
)

// nopSink accepts everything and keeps nothing.
type nopSink struct{ n atomic.Int64 }

func (s *nopSink) Deliver(*helpline.Item) bool { s.n.Add(1); return true }
func (s *nopSink) End()                        {}

// TestWatcherMemory bounds what the engine keeps per idle watching sink:
// the transport's budget is 20 KB per socket, all included.
func TestWatcherMemory(t *testing.T) {
	if testing.Short() {
		t.Skip("allocates 10,000 watchers")
	}
	e := newEnv(t, withLimits(chat.Limits{MaxActiveChats: 10000}))
	const chats, perChat = 2500, 4
	sessions := make([]*helpline.Session, chats)
	for i := range sessions {
		_, sessions[i] = e.start(t, helpline.StartChatInput{})
	}
	sink := &nopSink{}
	var before, after runtime.MemStats
	// Starting 2,500 chats at once overflows the engine's bus buffer and
	// it catches up from the store in the background: let the heap settle
	// before measuring, so that work is not counted against the watchers.
	settle(&before)
	stops := make([]func(), 0, chats*perChat)
	for _, sess := range sessions {
		for range perChat {
			stop, err := e.svc.Watch(ctx, sess, sess.Contact.LastSeq, sink)
			if err != nil {
				t.Fatal(err)
			}
			stops = append(stops, stop)
		}
	}
	settle(&after)
	per := (int64(after.HeapAlloc) - int64(before.HeapAlloc)) / int64(len(stops))
	t.Logf("engine memory per watcher: %d bytes", per)
	if per > 1024 {
		t.Errorf("engine keeps %d bytes per watcher, want at most 1 KB", per)
	}
	for _, stop := range stops {
		stop()
	}
}

// settle reads the heap statistics once the live heap stops changing
// between collections (within 1 KB, at most 40 rounds).
func settle(m *runtime.MemStats) {
	var last uint64
	for range 40 {
		runtime.GC()
		runtime.ReadMemStats(m)
		if d := int64(m.HeapAlloc) - int64(last); d > -1024 && d < 1024 {
			return
		}
		last = m.HeapAlloc
		time.Sleep(50 * time.Millisecond)
	}
}

// BenchmarkSendMessage measures the hot path: authenticate a connection
// token, store and publish a message, fan it out to two watching sinks.
func BenchmarkSendMessage(b *testing.B) {
	e := newEnv(b)
	const chats = 64
	tokens := make([]string, chats)
	for i := range tokens {
		_, sess := e.start(b, helpline.StartChatInput{})
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
	var next atomic.Int64
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		token := tokens[next.Add(1)%chats]
		for pb.Next() {
			sess, err := e.svc.Authenticate(ctx, helpline.ConnectionToken, token)
			if err != nil {
				b.Error(err)
				return
			}
			if _, err := e.svc.SendMessage(ctx, sess, helpline.ContentPlain, "hello", ""); err != nil {
				b.Error(err)
				return
			}
		}
	})
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "msgs/s")
}
