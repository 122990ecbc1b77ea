//go:build unix

package connectapi

import (
	"bufio"
	"encoding/json"
	"io"
	"net"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/gobwas/ws"

	"github.com/helplinehq/helpline"
)

// socketPair returns a socket on the server end of a loopback TCP
// connection and the client end, whose receive buffer is small when
// small is set.
func socketPair(t *testing.T, sc *socketConfig, small bool) (*socket, net.Conn) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	d := net.Dialer{}
	if small {
		d.Control = func(_, _ string, rc syscall.RawConn) error {
			return rc.Control(func(fd uintptr) { setRecvBuffer(fd, 4096) })
		}
	}
	client, err := d.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	conn, err := ln.Accept()
	if err != nil {
		t.Fatal(err)
	}
	if small {
		// A fixed, small send buffer, so that the kernel refuses frames
		// soon.
		conn.(*net.TCPConn).SetWriteBuffer(16 << 10)
	}
	c := &socket{cfg: sc, conn: conn, raw: rawConnOf(conn), release: func() {}, contactID: "c", initialContactID: "c", participantID: "p"}
	c.timer = time.AfterFunc(time.Hour, c.expire)
	sc.add(c)
	t.Cleanup(func() { c.shut(); client.Close() })
	return c, client
}

// readItems reads n aws/chat frames from a server's connection and sends
// their item IDs on the returned channel, closing it at the end.
func readItems(conn net.Conn) <-chan string {
	ids := make(chan string, 1024)
	go func() {
		defer close(ids)
		r := bufio.NewReader(conn)
		for {
			h, err := ws.ReadHeader(r)
			if err != nil {
				return
			}
			payload := make([]byte, h.Length)
			if _, err := io.ReadFull(r, payload); err != nil {
				return
			}
			var f chatFrame
			var it wireItem
			if json.Unmarshal(payload, &f) != nil || json.Unmarshal([]byte(f.Content), &it) != nil {
				return
			}
			ids <- it.Id
		}
	}()
	return ids
}

// A client that does not read is dropped once socketQueueLen frames wait
// for it, without Deliver ever waiting for it, and the client that reads
// gets every frame, in order.
func TestSlowSocketDropped(t *testing.T) {
	sc := newSocketConfig(nil, time.Minute, nil)
	slow, _ := socketPair(t, sc, true)
	fast, fastClient := socketPair(t, sc, false)
	ids := readItems(fastClient)

	content := strings.Repeat("x", 8000)
	const bursts, burst = 10, 32
	dropped := 0
	var slowest time.Duration
	for b := range bursts {
		for i := range burst {
			seq := int64(b*burst + i + 1)
			it := &helpline.Item{ContactID: "c", Seq: seq, ID: "item" + strconv.FormatInt(seq, 10), Type: "MESSAGE", ContentType: "text/plain", Content: content}
			start := time.Now()
			if dropped == 0 && !slow.Deliver(it) {
				dropped = int(seq)
			}
			if !fast.Deliver(it) {
				t.Fatalf("the reading client was dropped at item %d", seq)
			}
			slowest = max(slowest, time.Since(start))
		}
		for i := range burst {
			want := "item" + strconv.Itoa(b*burst+i+1)
			select {
			case id := <-ids:
				if id != want {
					t.Fatalf("the reading client got %s, want %s", id, want)
				}
			case <-time.After(5 * time.Second):
				t.Fatalf("the reading client waits for %s", want)
			}
		}
	}
	if dropped == 0 {
		t.Fatal("the client that does not read was never dropped")
	}
	if dropped < socketQueueLen {
		t.Errorf("the client that does not read was dropped at item %d, before its queue was full", dropped)
	}
	if slowest > 100*time.Millisecond {
		t.Errorf("a Deliver took %s", slowest)
	}
	for end := time.Now().Add(5 * time.Second); ; time.Sleep(10 * time.Millisecond) {
		slow.mu.Lock()
		shut := slow.done
		slow.mu.Unlock()
		if shut {
			break
		}
		if time.Now().After(end) {
			t.Fatal("the dropped socket was not shut")
		}
	}
	t.Logf("dropped at item %d of %d; slowest Deliver %s", dropped, bursts*burst, slowest)
}

func setRecvBuffer(fd uintptr, n int) {
	syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_RCVBUF, n)
}
