package outbound_test

import (
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/helplinehq/helpline/connector/internal/outbound"
)

var now = time.Date(2025, 3, 14, 15, 9, 26, 0, time.UTC)

// timeoutError is a net.Error that timed out, as a dial or a read does.
type timeoutError struct{}

func (timeoutError) Error() string   { return "i/o timeout" }
func (timeoutError) Timeout() bool   { return true }
func (timeoutError) Temporary() bool { return true }

var _ net.Error = timeoutError{}

// refused is the error a client returns when nothing listens.
func refused(t *testing.T) error {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	resp, err := http.Get("http://" + addr + "/")
	if err == nil {
		resp.Body.Close()
		t.Skip("something answered on a closed port")
	}
	return err
}

// The one table of the outbound policy: every connector classifies its
// requests' outcomes by it.
func TestClassify(t *testing.T) {
	h := func(kv ...string) http.Header {
		h := http.Header{}
		for i := 0; i < len(kv); i += 2 {
			h.Add(kv[i], kv[i+1])
		}
		return h
	}
	conflictRetries := outbound.Policy{Retryable: []int{http.StatusConflict}}
	const never = -1 // want nil
	for _, tc := range []struct {
		name      string
		policy    outbound.Policy
		status    int // 0: err instead of an answer
		header    http.Header
		err       error
		permanent bool
		wait      time.Duration // never: Classify returns nil
		reason    string        // in the error's text
	}{
		{name: "200 delivered", status: 200, wait: never},
		{name: "201 delivered", status: 201, wait: never},
		{name: "204 delivered", status: 204, wait: never},
		{name: "no answer and no error", wait: never},

		{name: "301 parks with its target", status: 301, header: h("Location", "https://acme.example/api"), permanent: true, reason: `redirected to "https://acme.example/api"`},
		{name: "302 parks", status: 302, header: h("Location", "/login"), permanent: true, reason: "check the configured URL"},
		{name: "307 parks", status: 307, permanent: true},
		{name: "304 parks", status: 304, permanent: true},

		{name: "400 parks", status: 400, permanent: true, reason: "HTTP 400 Bad Request"},
		{name: "401 parks", status: 401, permanent: true},
		{name: "403 parks", status: 403, permanent: true},
		{name: "404 parks", status: 404, permanent: true},
		{name: "409 parks by default", status: 409, permanent: true},
		{name: "409 retries where declared", policy: conflictRetries, status: 409},
		{name: "declared 409 honours Retry-After", policy: conflictRetries, status: 409, header: h("Retry-After", "4"), wait: 4 * time.Second},
		{name: "413 parks", status: 413, permanent: true},
		{name: "422 parks", status: 422, permanent: true},
		{name: "400 parks despite Retry-After", status: 400, header: h("Retry-After", "30"), permanent: true},
		{name: "408 retries", status: 408, reason: "HTTP 408"},
		{name: "429 retries", status: 429},

		{name: "500 retries", status: 500},
		{name: "502 retries", status: 502},
		{name: "503 retries", status: 503},
		{name: "599 retries", status: 599},
		{name: "1xx parks", status: 101, permanent: true},
		{name: "status out of range parks", status: 600, permanent: true},

		{name: "Retry-After seconds", status: 429, header: h("Retry-After", "7"), wait: 7 * time.Second},
		{name: "Retry-After zero", status: 429, header: h("Retry-After", "0"), wait: 0},
		{name: "Retry-After on 503", status: 503, header: h("Retry-After", "120"), wait: 2 * time.Minute},
		{name: "Retry-After HTTP date", status: 503, header: h("Retry-After", now.Add(90*time.Second).Format(http.TimeFormat)), wait: 90 * time.Second},
		{name: "Retry-After date passed", status: 429, header: h("Retry-After", now.Add(-time.Hour).Format(http.TimeFormat)), wait: 0},
		{name: "Retry-After garbage", status: 429, header: h("Retry-After", "soon"), wait: 0},
		{name: "Retry-After negative", status: 429, header: h("Retry-After", "-5"), wait: 0},
		{name: "Retry-After fractional", status: 429, header: h("Retry-After", "1.5"), wait: 0},
		{name: "Retry-After beyond MaxWait", status: 429, header: h("Retry-After", "86400"), wait: outbound.MaxWait},
		{name: "Retry-After overflowing", status: 429, header: h("Retry-After", "99999999999999999999999"), wait: outbound.MaxWait},
		{name: "Retry-After wins over reset", status: 429, header: h("Retry-After", "3", "X-RateLimit-Remaining", "0", "X-RateLimit-Reset", "30"), wait: 3 * time.Second},
		{name: "garbage Retry-After falls back to reset", status: 429, header: h("Retry-After", "later", "X-RateLimit-Remaining", "0", "X-RateLimit-Reset", "30"), wait: 30 * time.Second},

		{name: "X-RateLimit reset in seconds", status: 429, header: h("X-RateLimit-Remaining", "0", "X-RateLimit-Reset", "30"), wait: 30 * time.Second},
		{name: "X-RateLimit reset as Unix time", status: 429, header: h("X-RateLimit-Remaining", "0", "X-RateLimit-Reset", strconv.FormatInt(now.Add(45*time.Second).Unix(), 10)), wait: 45 * time.Second},
		{name: "X-RateLimit reset passed", status: 429, header: h("X-RateLimit-Remaining", "0", "X-RateLimit-Reset", strconv.FormatInt(now.Add(-time.Minute).Unix(), 10)), wait: 0},
		{name: "X-RateLimit reset on a 429 without remaining", status: 429, header: h("X-RateLimit-Reset", "20"), wait: 20 * time.Second},
		{name: "X-RateLimit budget left on a 503", status: 503, header: h("X-RateLimit-Remaining", "12", "X-RateLimit-Reset", "30"), wait: 0},
		{name: "X-RateLimit spent on a 503", status: 503, header: h("X-RateLimit-Remaining", "0", "X-RateLimit-Reset", "30"), wait: 30 * time.Second},
		{name: "X-RateLimit garbage reset", status: 429, header: h("X-RateLimit-Remaining", "0", "X-RateLimit-Reset", "tomorrow"), wait: 0},
		{name: "X-RateLimit negative reset", status: 429, header: h("X-RateLimit-Remaining", "0", "X-RateLimit-Reset", "-30"), wait: 0},
		{name: "X-RateLimit reset beyond MaxWait", status: 429, header: h("X-RateLimit-Remaining", "0", "X-RateLimit-Reset", "7200"), wait: outbound.MaxWait},
		{name: "ratelimit-* lower case", status: 429, header: h("ratelimit-remaining", "0", "ratelimit-reset", "12"), wait: 12 * time.Second},
		{name: "RateLimit-Reset", status: 429, header: h("RateLimit-Limit", "100", "RateLimit-Remaining", "0", "RateLimit-Reset", "41"), wait: 41 * time.Second},
		{name: "RateLimit budget left on a 500", status: 500, header: h("RateLimit-Remaining", "3", "RateLimit-Reset", "41"), wait: 0},
		{name: "Zendesk's X-Rate-Limit names no reset", status: 429, header: h("X-Rate-Limit", "700", "X-Rate-Limit-Remaining", "0"), wait: 0},

		{name: "net.Error timeout retries", err: timeoutError{}, reason: "i/o timeout"},
		{name: "deadline exceeded retries", err: context.DeadlineExceeded},
		{name: "client timeout retries", err: &net.OpError{Op: "read", Net: "tcp", Err: timeoutError{}}},
		{name: "connection refused retries", err: refused(t), reason: "refused"},
		{name: "connection reset retries", err: io.ErrUnexpectedEOF},
		{name: "cancelled retries", err: context.Canceled},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := tc.policy
			p.Now = func() time.Time { return now }
			var resp *http.Response
			if tc.status != 0 {
				resp = &http.Response{StatusCode: tc.status, Header: tc.header}
				if resp.Header == nil {
					resp.Header = http.Header{}
				}
			}
			got := p.Classify(resp, tc.err)
			if tc.wait == never {
				if got != nil {
					t.Fatalf("Classify = %v, want nil", got)
				}
				return
			}
			if got == nil {
				t.Fatal("Classify = nil, want a failure")
			}
			if got.Permanent != tc.permanent {
				t.Errorf("Permanent = %v, want %v (%v)", got.Permanent, tc.permanent, got)
			}
			if got.RetryAfter != tc.wait {
				t.Errorf("RetryAfter = %v, want %v", got.RetryAfter, tc.wait)
			}
			if tc.err != nil && !errors.Is(got, tc.err) {
				t.Errorf("error %v does not wrap %v", got, tc.err)
			}
			if !strings.Contains(got.Error(), tc.reason) {
				t.Errorf("error %q does not say %q", got, tc.reason)
			}
			var se *outbound.StatusError
			if resp != nil && (!errors.As(got, &se) || se.Status != tc.status) {
				t.Errorf("error %v is not a *StatusError of %d", got, tc.status)
			}
		})
	}
}

// NewClient hands a redirect back instead of following it, so a POST is
// never resent as a GET elsewhere, and Classify parks it.
func TestNewClientDoesNotFollowRedirects(t *testing.T) {
	var hits []string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits = append(hits, r.Method+" "+r.URL.Path)
		if r.URL.Path == "/hook" {
			http.Redirect(w, r, "/elsewhere", http.StatusFound)
		}
	}))
	defer srv.Close()
	c := outbound.NewClient(5*time.Second, nil)
	resp, err := c.Post(srv.URL+"/hook", "application/json", strings.NewReader(`{}`))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	me := outbound.Policy{}.Classify(resp, nil)
	if me == nil || !me.Permanent || !strings.Contains(me.Error(), `"/elsewhere"`) {
		t.Errorf("Classify = %v, want a permanent failure naming the redirect's target", me)
	}
	if len(hits) != 1 || hits[0] != "POST /hook" {
		t.Errorf("server saw %q, want only the POST", hits)
	}
}
