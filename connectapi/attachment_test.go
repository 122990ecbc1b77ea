package connectapi_test

import (
	"bufio"
	"errors"
	"io"
	"net"
	"net/http"
	"net/url"
	"testing"
	"time"

	"github.com/helplinehq/helpline/connectapi"
	"github.com/helplinehq/helpline/internal/loadtest"
)

// An upload trickled slower than MinUploadRate is cut off at UploadGrace
// plus its declared size at that rate: the client is answered 400 and the
// connection closed. The deadline is the kernel's wall-clock one, which
// no fake clock drives, so the test uses one of 1.5 s.
func TestUploadTrickledPastItsDeadline(t *testing.T) {
	e := newEnv(t, func(cfg *connectapi.Config) {
		cfg.MinUploadRate = 1000
		cfg.UploadGrace = 500 * time.Millisecond
	})
	cust := e.startChat(t)
	ct := e.connect(t, cust.participantToken).ConnectionCredentials.ConnectionToken
	var up struct{ UploadMetadata struct{ Url string } }
	e.ok(t, "/participant/start-attachment-upload", ct,
		`{"ContentType":"text/plain","AttachmentSizeInBytes":1000,"AttachmentName":"slow.txt","ClientToken":"up-1"}`, &up)
	u, err := url.Parse(up.UploadMetadata.Url)
	if err != nil {
		t.Fatal(err)
	}

	conn, err := net.Dial("tcp", u.Host)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if _, err := io.WriteString(conn, "PUT "+u.RequestURI()+" HTTP/1.1\r\nHost: "+u.Host+
		"\r\nContent-Type: text/plain\r\nContent-Length: 1000\r\n\r\nx"); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	defer loadtest.Trickle(conn, 100*time.Millisecond, []byte("x"))()

	conn.SetReadDeadline(start.Add(5 * time.Second))
	br := bufio.NewReader(conn)
	res, err := http.ReadResponse(br, nil)
	if err != nil {
		t.Fatalf("no answer %s into a trickled upload whose deadline is 1.5 s: %v", time.Since(start).Round(time.Millisecond), err)
	}
	io.Copy(io.Discard, res.Body)
	res.Body.Close()
	took := time.Since(start)
	if res.StatusCode != 400 || res.Header.Get("X-Amzn-ErrorType") != "ValidationException" {
		t.Errorf("a trickled upload was answered %d %s, want 400 ValidationException", res.StatusCode, res.Header.Get("X-Amzn-ErrorType"))
	}
	if took < 1400*time.Millisecond {
		t.Errorf("the upload was cut off after %s, before its deadline (1.5 s)", took.Round(time.Millisecond))
	}
	// Closed is EOF, or a reset as the trickle goes on writing.
	var ne net.Error
	if n, err := io.Copy(io.Discard, br); n > 0 || errors.As(err, &ne) && ne.Timeout() {
		t.Errorf("after the answer the connection is still open: %d more bytes, %v", n, err)
	}
}
