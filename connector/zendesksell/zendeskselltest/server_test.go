package zendeskselltest_test

import (
	"encoding/json"
	"io"
	"net/http"
	"strconv"
	"strings"
	"testing"

	"github.com/helplinehq/helpline/connector/zendesksell/zendeskselltest"
)

func do(t *testing.T, s *zendeskselltest.Server, method, path, body string, headers map[string]string) (*http.Response, map[string]any) {
	t.Helper()
	r, _ := http.NewRequest(method, s.URL+path, strings.NewReader(body))
	r.Header.Set("User-Agent", "test")
	r.Header.Set("Authorization", "Bearer tok")
	for k, v := range headers {
		r.Header.Set(k, v) // an empty User-Agent is not sent
	}
	resp, err := http.DefaultClient.Do(r)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	var out map[string]any
	json.Unmarshal(raw, &out)
	return resp, out
}

func errorCode(body map[string]any) string {
	errs, _ := body["errors"].([]any)
	if len(errs) == 0 {
		return ""
	}
	e := errs[0].(map[string]any)["error"].(map[string]any)
	return e["code"].(string)
}

func TestEnvelopesAuthAndErrors(t *testing.T) {
	s := zendeskselltest.NewServer("tok")
	defer s.Close()
	if resp, body := do(t, s, "GET", "/v2/leads", "", map[string]string{"User-Agent": ""}); resp.StatusCode != 400 || errorCode(body) != "invalid_user_agent" {
		t.Errorf("no User-Agent: %d %v", resp.StatusCode, body)
	}
	if resp, body := do(t, s, "GET", "/v2/leads", "", map[string]string{"Authorization": "Bearer nope"}); resp.StatusCode != 401 || errorCode(body) != "unauthorized" {
		t.Errorf("bad token: %d %v", resp.StatusCode, body)
	}
	if resp, body := do(t, s, "POST", "/v2/leads", `{"data":{"first_name":"Ada"}}`, nil); resp.StatusCode != 422 || errorCode(body) != "blank" {
		t.Errorf("lead without last name: %d %v", resp.StatusCode, body)
	}
	resp, body := do(t, s, "POST", "/v2/leads", `{"data":{"last_name":"Lovelace","email":"ada@example.com"}}`, nil)
	if resp.StatusCode != 200 || body["meta"].(map[string]any)["type"] != "lead" {
		t.Fatalf("create lead: %d %v", resp.StatusCode, body)
	}
	_, list := do(t, s, "GET", "/v2/leads?email=ADA@example.com", "", nil)
	if items := list["items"].([]any); len(items) != 1 || list["meta"].(map[string]any)["type"] != "collection" {
		t.Errorf("search by email: %v", list)
	}
	s.SetRateLimit(1)
	do(t, s, "GET", "/v2/leads", "", nil)
	resp, body = do(t, s, "GET", "/v2/leads", "", nil)
	if resp.StatusCode != 429 || errorCode(body) != "rate_limit_exceeded" || resp.Header.Get("Retry-After") != "" {
		t.Errorf("over the limit: %d %v %v", resp.StatusCode, body, resp.Header)
	}
}

func TestLostAnswerWriteTakesEffect(t *testing.T) {
	s := zendeskselltest.NewServer("tok")
	defer s.Close()
	lead := s.AddLead(zendeskselltest.Lead{LastName: "L"})
	s.LoseAnswers(503, 1)
	body := `{"data":{"resource_type":"lead","resource_id":` + strconv.FormatInt(lead, 10) + `,"content":"hello"}}`
	if resp, out := do(t, s, "POST", "/v2/notes", body, nil); resp.StatusCode != 503 || errorCode(out) != "server_error" {
		t.Fatalf("first write: %d %v, want 503 server_error", resp.StatusCode, out)
	}
	if resp, _ := do(t, s, "POST", "/v2/notes", body, nil); resp.StatusCode != 200 {
		t.Fatalf("second write: %d, want 200", resp.StatusCode)
	}
	if n := len(s.Notes(lead)); n != 2 {
		t.Fatalf("%d notes, want 2: the write whose answer was lost landed too", n)
	}
}

// The name filters narrow the list; a filter the fake does not implement
// is refused rather than ignored.
func TestLeadNameFiltersAndUnknownFilters(t *testing.T) {
	s := zendeskselltest.NewServer("tok")
	defer s.Close()
	s.AddLead(zendeskselltest.Lead{FirstName: "Ada", LastName: "Lovelace"})
	s.AddLead(zendeskselltest.Lead{FirstName: "Ada", LastName: "Byron"})
	s.AddLead(zendeskselltest.Lead{LastName: "Lovelace"})
	for query, want := range map[string]int{
		"last_name=lovelace":                2,
		"first_name=Ada&last_name=Lovelace": 1,
		"first_name=Ada":                    2,
		"last_name=Babbage":                 0,
	} {
		resp, list := do(t, s, "GET", "/v2/leads?"+query, "", nil)
		if items, _ := list["items"].([]any); resp.StatusCode != 200 || len(items) != want {
			t.Errorf("%s: %d, %d leads, want %d", query, resp.StatusCode, len(items), want)
		}
	}
	for _, query := range []string{"status=New", "custom_fields%5Bchat%5D=x", "sort_by=updated_at:desc"} {
		if resp, body := do(t, s, "GET", "/v2/leads?"+query, "", nil); resp.StatusCode != 400 || errorCode(body) != "invalid_param" {
			t.Errorf("%s: %d %v, want 400 invalid_param", query, resp.StatusCode, body)
		}
	}
}
