package connectapi_test

import (
	"bytes"
	"encoding/json"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/helplinehq/helpline/connectapi"
	"github.com/helplinehq/helpline/internal/loadtest"
)

func TestLogRequests(t *testing.T) {
	var out loadtest.LogBuffer
	logger := slog.New(slog.NewJSONHandler(&out, nil))
	h := connectapi.LogRequests(logger, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusTeapot)
		w.Write([]byte("short and stout"))
	}))
	srv := httptest.NewServer(h)
	defer srv.Close()
	resp, err := http.Post(srv.URL+"/participant/message", "application/json", nil)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	id := resp.Header.Get("x-amzn-RequestId")

	lines := bytes.Split(bytes.TrimSpace([]byte(out.String())), []byte("\n"))
	if len(lines) != 1 {
		t.Fatalf("%d log lines: %s", len(lines), out.String())
	}
	var rec struct {
		Method, Path string
		Status       int
		RequestID    string `json:"request_id"`
		Bytes        int
		Duration     *int64
	}
	if err := json.Unmarshal(lines[0], &rec); err != nil {
		t.Fatal(err)
	}
	if id == "" || rec.RequestID != id || rec.Method != "POST" || rec.Path != "/participant/message" ||
		rec.Status != http.StatusTeapot || rec.Bytes != len("short and stout") || rec.Duration == nil {
		t.Errorf("log line %s for request id %q", lines[0], id)
	}
}

// The tokens of attachment URLs never reach the log.
func TestLogRequestsRedactsTokens(t *testing.T) {
	var out loadtest.LogBuffer
	logger := slog.New(slog.NewJSONHandler(&out, nil))
	srv := httptest.NewServer(connectapi.LogRequests(logger, http.NotFoundHandler()))
	defer srv.Close()
	const token = "secret-token-abc.def"
	for _, path := range []string{"/attachments/upload/" + token, "/attachments/download/" + token} {
		resp, err := http.Get(srv.URL + path)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
	}
	log := out.String()
	if strings.Contains(log, "secret-token") || !strings.Contains(log, `"path":"/attachments/upload/REDACTED"`) ||
		!strings.Contains(log, `"path":"/attachments/download/REDACTED"`) {
		t.Errorf("log:\n%s", log)
	}
}

// Sampled, one successful request in three is logged (the first, the
// fourth, ...); every failed one is, whatever the count.
func TestLogRequestsSampled(t *testing.T) {
	var out loadtest.LogBuffer
	logger := slog.New(slog.NewJSONHandler(&out, nil))
	h := connectapi.LogRequests(logger, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Query().Get("fail") != "" {
			w.WriteHeader(http.StatusInternalServerError)
		}
	}), connectapi.SampleSuccesses(3))
	srv := httptest.NewServer(h)
	defer srv.Close()
	var want []string
	for i := range 7 {
		path := "/ok?i=" + string(rune('0'+i))
		if i == 1 || i == 2 {
			// failures between sampled successes are each logged
			path = "/fail?fail=1&i=" + string(rune('0'+i))
		}
		resp, err := http.Get(srv.URL + path)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		switch i {
		case 0, 1, 2, 5: // successes 1 and 4, and both failures
			want = append(want, strings.SplitN(path, "?", 2)[0])
		}
	}
	var got []string
	for _, line := range bytes.Split(bytes.TrimSpace([]byte(out.String())), []byte("\n")) {
		var rec struct{ Path string }
		if err := json.Unmarshal(line, &rec); err != nil {
			t.Fatalf("%v: %s", err, line)
		}
		got = append(got, rec.Path)
	}
	if strings.Join(got, " ") != strings.Join(want, " ") {
		t.Errorf("logged %v, want %v", got, want)
	}
}
