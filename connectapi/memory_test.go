package connectapi_test

import (
	"runtime"
	"testing"

	"github.com/gorilla/websocket"
)

// TestIdleSocketMemory opens subscribed, idle sockets and checks what each
// costs in heap and goroutine stacks, server and test client together:
// the server must hold 10,000 idle sockets at 8 KB of resident memory each
// or less (helpline-bench -phases memory), and the live heap and stacks of
// a socket, server and test client together (the client's gorilla
// connection takes some 2.5 KB), stay under 12 KiB: about 5.8 KB with the
// poller, 9.8 KB with a goroutine per socket (-tags helpline_noepoll).
func TestIdleSocketMemory(t *testing.T) {
	if testing.Short() {
		t.Skip("opens hundreds of sockets")
	}
	const n = 400
	e := newEnv(t, nil)
	cust := e.startChat(t)
	dialer := websocket.Dialer{ReadBufferSize: 512, WriteBufferSize: 512}
	measure := func() uint64 {
		runtime.GC()
		runtime.GC()
		var m runtime.MemStats
		runtime.ReadMemStats(&m)
		return m.HeapInuse + m.StackInuse
	}
	// Warm up pools and the engine's room for this contact.
	urls := make([]string, n)
	for i := range urls {
		urls[i] = e.connect(t, cust.participantToken).Websocket.Url
	}
	before := measure()
	conns := make([]*websocket.Conn, n)
	for i, url := range urls {
		c, _, err := dialer.Dial(url, nil)
		if err != nil {
			t.Fatal(err)
		}
		conns[i] = c
		w := &ws{t, c}
		w.subscribe()
	}
	after := measure()
	per := (int64(after) - int64(before)) / n
	t.Logf("%d bytes per idle socket, server and client", per)
	for _, c := range conns {
		c.Close()
	}
	if per > 12<<10 {
		t.Errorf("an idle socket costs %d bytes, server and client together; want at most 12 KiB", per)
	}
}
