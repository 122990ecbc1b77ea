package httpapi

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gorilla/websocket"
)

// The hub may drop a socket (its queue overflowed, its agent was
// disabled) from the moment it is added, before the upgrade is done: a
// drop that comes first closes the connection the upgrade then gives,
// and one that races with it closes it too. Run with -race: drop and
// attach are on different goroutines.
func TestSocketDroppedWhileUpgrading(t *testing.T) {
	for _, order := range []string{"drop first", "at once"} {
		t.Run(order, func(t *testing.T) {
			upgrader := websocket.Upgrader{CheckOrigin: func(*http.Request) bool { return true }}
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				s := &agentSocket{done: make(chan struct{})}
				var wg sync.WaitGroup
				wg.Add(1)
				go func() { // the hub's goroutine
					defer wg.Done()
					s.drop()
				}()
				if order == "drop first" {
					wg.Wait()
				}
				ws, err := upgrader.Upgrade(w, r, nil)
				if err != nil {
					return
				}
				s.attach(ws)
				wg.Wait()
			}))
			defer srv.Close()
			ws, _, err := websocket.DefaultDialer.Dial("ws"+strings.TrimPrefix(srv.URL, "http"), nil)
			if err != nil {
				t.Fatal(err)
			}
			defer ws.Close()
			ws.SetReadDeadline(time.Now().Add(10 * time.Second))
			_, _, err = ws.ReadMessage()
			if err == nil || websocket.IsCloseError(err) || strings.Contains(err.Error(), "timeout") {
				t.Errorf("reading a dropped socket: %v, want the connection closed without a close frame", err)
			}
		})
	}
}
