//go:build linux && !helpline_noepoll

package connectapi_test

import (
	"runtime"
	"testing"
	"time"
)

// An idle, subscribed socket holds no goroutine: the poller reads it when
// the client sends something, and frames are written without one.
func TestIdleSocketHoldsNoGoroutine(t *testing.T) {
	e := newEnv(t, nil)
	cust := e.startChat(t)
	const n = 100
	urls := make([]string, n+1)
	for i := range urls {
		urls[i] = e.connect(t, cust.participantToken).Websocket.Url
	}
	// The first socket starts the poller and its workers.
	first := dial(t, urls[0])
	first.subscribe()
	settled := func() int {
		time.Sleep(100 * time.Millisecond)
		return runtime.NumGoroutine()
	}
	before := settled()
	var open []*ws
	for _, url := range urls[1:] {
		w := dial(t, url)
		w.subscribe()
		open = append(open, w)
	}
	// Each socket answers, and gets a message, which is written to it.
	id := e.sendMessage(t, e.connect(t, cust.participantToken).ConnectionCredentials.ConnectionToken, "to every socket")
	for _, w := range open {
		w.send(`{"topic":"aws/heartbeat"}`)
		w.nextItem(func(it item) bool { return it.Id == id })
	}
	var after int
	for end := time.Now().Add(5 * time.Second); time.Now().Before(end); {
		if after = settled(); after-before < n/10 {
			break
		}
	}
	if after-before >= n/10 {
		t.Errorf("%d goroutines before %d idle sockets opened, %d after", before, n, after)
	}
	t.Logf("%d goroutines before %d idle sockets opened, %d after", before, n, after)
}
