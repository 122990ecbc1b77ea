package zendesktest_test

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/helplinehq/helpline/connector/zendesk/zendesktest"
)

// call sends a request as the integration user and returns the status
// and the decoded JSON answer.
func call(t *testing.T, s *zendesktest.Server, method, path, contentType string, body []byte) (int, map[string]any) {
	t.Helper()
	req, err := http.NewRequest(method, s.URL+path, bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.SetBasicAuth("bot@example.com/token", "zd-token")
	req.Header.Set("Content-Type", contentType)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	var out map[string]any
	json.Unmarshal(raw, &out)
	return resp.StatusCode, out
}

func uploadToken(t *testing.T, s *zendesktest.Server, name, query string, data []byte) string {
	t.Helper()
	status, out := call(t, s, http.MethodPost, "/api/v2/uploads?filename="+name+query, "image/png", data)
	if status != http.StatusCreated {
		t.Fatalf("upload: HTTP %d %v", status, out)
	}
	return out["upload"].(map[string]any)["token"].(string)
}

func comment(t *testing.T, s *zendesktest.Server, method, path string, uploads ...string) (int, map[string]any) {
	t.Helper()
	body, _ := json.Marshal(map[string]any{"ticket": map[string]any{"comment": map[string]any{"body": "see files", "uploads": uploads}}})
	return call(t, s, method, path, "application/json", body)
}

func TestUploadTokensAttachOnce(t *testing.T) {
	now := time.Date(2025, 3, 1, 10, 0, 0, 0, time.UTC)
	s := zendesktest.NewServer(zendesktest.Options{Now: func() time.Time { return now }})
	defer s.Close()

	first := uploadToken(t, s, "a.png", "", []byte("png-a"))
	if again := uploadToken(t, s, "b.png", "&token="+first, []byte("png-b")); again != first {
		t.Fatalf("adding to upload %s answered token %s", first, again)
	}
	status, out := comment(t, s, http.MethodPost, "/api/v2/tickets", first)
	if status != http.StatusCreated {
		t.Fatalf("create: HTTP %d %v", status, out)
	}
	tk := s.Tickets()[0]
	if c := tk.Comments[0]; len(c.Attachments) != 2 || c.Attachments[0].FileName != "a.png" || string(c.Attachments[1].Data) != "png-b" ||
		c.Attachments[0].ContentType != "image/png" {
		t.Fatalf("comment attachments = %+v", c.Attachments)
	}
	path := "/api/v2/tickets/" + jsonID(tk.ID)

	// A token is taken once; unknown and expired tokens are refused, and
	// a refused update adds nothing.
	for name, tok := range map[string]string{"reused": first, "unknown": "nope"} {
		if status, out := comment(t, s, http.MethodPut, path, tok); status != http.StatusUnprocessableEntity || !strings.Contains(jsonText(out), "uploads") {
			t.Errorf("%s token: HTTP %d %v, want 422 on uploads", name, status, out)
		}
	}
	stale := uploadToken(t, s, "c.png", "", []byte("png-c"))
	now = now.Add(time.Hour)
	if status, _ := comment(t, s, http.MethodPut, path, stale); status != http.StatusUnprocessableEntity {
		t.Errorf("expired token: HTTP %d, want 422", status)
	}
	if status, _ := call(t, s, http.MethodPost, "/api/v2/uploads?filename=d.png&token="+stale, "image/png", []byte("d")); status != http.StatusNotFound {
		t.Errorf("adding to an expired upload: HTTP %d, want 404", status)
	}
	if n := len(s.Tickets()[0].Comments); n != 1 {
		t.Errorf("%d comments after refused updates, want 1", n)
	}
	fresh := uploadToken(t, s, "e.png", "", []byte("png-e"))
	if status, _ := comment(t, s, http.MethodPut, path, fresh); status != http.StatusOK {
		t.Errorf("fresh token: HTTP %d, want 200", status)
	}
	if c := s.Tickets()[0].Comments[1]; len(c.Attachments) != 1 || c.Attachments[0].FileName != "e.png" {
		t.Errorf("second comment attachments = %+v", c.Attachments)
	}
}

func jsonID(n int64) string { b, _ := json.Marshal(n); return string(b) }

func jsonText(v any) string { b, _ := json.Marshal(v); return string(b) }
