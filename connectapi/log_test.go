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
