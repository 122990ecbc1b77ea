package main

import (
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/helplinehq/helpline/connector/freshdesk/freshdesktest"
	"github.com/helplinehq/helpline/connector/kustomer/kustomertest"
)

// desksServe starts serve mirroring into a Freshdesk fake and a Kustomer
// fake, both offering ticket actions, with the API token "api-token".
func desksServe(t *testing.T, freshdeskURL, kustomerURL string) *testServer {
	t.Helper()
	t.Setenv("FRESHDESK_API_KEY", "fd-key")
	t.Setenv("KUSTOMER_API_KEY", "kus-key")
	t.Setenv("HELPLINE_API_TOKEN", "api-token")
	cfg := fmt.Sprintf(`
mirror:
  poll_interval: 20ms
connectors:
  - name: freshdesk
    kind: freshdesk
    base_url: %s
    api_key_env: FRESHDESK_API_KEY
  - name: kustomer
    kind: kustomer
    base_url: %s
    api_key_env: KUSTOMER_API_KEY
`, freshdeskURL, kustomerURL)
	path := filepath.Join(t.TempDir(), "helpline.yaml")
	if err := os.WriteFile(path, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	return startServe(t, "--config", path, "--data", t.TempDir(), "--disable-rate-limits")
}

// ticketCall calls the ticket API with the bearer token tok ("" for
// none) and decodes the JSON answer.
func ticketCall(t *testing.T, s *testServer, method, path, tok, body string) (int, map[string]any) {
	t.Helper()
	req, _ := http.NewRequest(method, s.url()+path, strings.NewReader(body))
	if tok != "" {
		req.Header.Set("Authorization", "Bearer "+tok)
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	out := map[string]any{}
	json.NewDecoder(res.Body).Decode(&out)
	return res.StatusCode, out
}

func errorCode(body map[string]any) string {
	e, _ := body["error"].(map[string]any)
	code, _ := e["code"].(string)
	return code
}

// startDeskChat starts a chat whose customer says one line, and waits
// until both helpdesks hold it and the ticket API finds the ticket.
func startDeskChat(t *testing.T, s *testServer, fd *freshdesktest.Server, kus *kustomertest.Server) string {
	t.Helper()
	contactID, customer, _ := startMirroredChat(t, s)
	customer.say(t, s, "Where is my order?")
	waitFor(t, "the line in Freshdesk", func() bool {
		tickets := fd.TicketsOf(contactID)
		return len(tickets) == 1 && strings.Contains(tickets[0].Transcript(), "Where is my order?")
	})
	waitFor(t, "the line in Kustomer", func() bool {
		cvs := kus.ConversationsByExternalID(contactID)
		return len(cvs) == 1 && len(cvs[0].Messages) == 1
	})
	for _, desk := range []string{"freshdesk", "kustomer"} {
		waitFor(t, "the "+desk+" ticket through the API", func() bool {
			status, _ := ticketCall(t, s, "GET", "/api/contacts/"+contactID+"/ticket?connector="+desk, "api-token", "")
			return status == 200
		})
	}
	return contactID
}

// The ticket API over Freshdesk, with another helpdesk configured: no
// token or a wrong one is 401; without ?connector= it names both
// helpdesks; with it, the ticket, a public reply, a private note, the
// latest conversation, an assignment and a hand-off land in the ticket.
func TestServeTicketActionsFreshdesk(t *testing.T) {
	fd := freshdesktest.NewServer(freshdesktest.Options{})
	defer fd.Close()
	kus := kustomertest.NewServer(kustomertest.Options{})
	defer kus.Close()
	s := desksServe(t, fd.URL, kus.URL)
	contactID := startDeskChat(t, s, fd, kus)
	base := "/api/contacts/" + contactID + "/ticket"
	grace := fd.AddAgent("Grace", "grace@example.com")
	billing := fd.AddGroup("Billing")

	for _, tok := range []string{"", "wrong-token"} {
		if status, _ := ticketCall(t, s, "GET", base+"?connector=freshdesk", tok, ""); status != 401 {
			t.Errorf("token %q: status %d, want 401", tok, status)
		}
		if status, _ := ticketCall(t, s, "POST", base+"/note?connector=freshdesk", tok, `{"body":"psst"}`); status != 401 {
			t.Errorf("note with token %q: status %d, want 401", tok, status)
		}
	}
	if status, body := ticketCall(t, s, "GET", base, "api-token", ""); status != 400 || !strings.Contains(fmt.Sprint(body), "freshdesk, kustomer") {
		t.Errorf("no connector named: %d %v", status, body)
	}

	ticket := fd.TicketsOf(contactID)[0]
	status, body := ticketCall(t, s, "GET", base+"?connector=freshdesk", "api-token", "")
	if status != 200 || body["id"] != strconv.FormatInt(ticket.ID, 10) || body["status"] != "open" || body["subject"] != "Chat with Ada" {
		t.Fatalf("ticket: %d %v", status, body)
	}
	if status, body := ticketCall(t, s, "POST", base+"/reply?connector=freshdesk", "api-token", `{"body":"We are on it."}`); status != 201 || body["public"] != true {
		t.Errorf("reply: %d %v", status, body)
	}
	if status, body := ticketCall(t, s, "POST", base+"/note?connector=freshdesk", "api-token", `{"body":"VIP customer"}`); status != 201 || body["public"] != false {
		t.Errorf("note: %d %v", status, body)
	}
	if status, body := ticketCall(t, s, "GET", base+"/latest-message?connector=freshdesk", "api-token", ""); status != 200 || body["body"] != "VIP customer" {
		t.Errorf("latest message: %d %v", status, body)
	}
	if status, body := ticketCall(t, s, "POST", base+"/assign?connector=freshdesk", "api-token", `{"assignee_id":"424242"}`); status != 400 || errorCode(body) != "invalid" {
		t.Errorf("assign to an unknown agent: %d %v", status, body)
	}
	group := strconv.FormatInt(billing, 10)
	if status, body := ticketCall(t, s, "POST", base+"/assign?connector=freshdesk", "api-token", `{"group_id":"`+group+`"}`); status != 200 || body["group_id"] != group {
		t.Errorf("assign: %d %v", status, body)
	}
	agent := strconv.FormatInt(grace.ID, 10)
	status, body = ticketCall(t, s, "POST", base+"/handoff?connector=freshdesk", "api-token", `{"assignee_id":"`+agent+`","context":"Wants a refund for order 1234."}`)
	if status != 200 || body["assignee_id"] != agent || body["group_id"] != group {
		t.Errorf("handoff: %d %v", status, body)
	}

	ticket = fd.TicketsOf(contactID)[0]
	if ticket.ResponderID == nil || *ticket.ResponderID != grace.ID || ticket.GroupID == nil || *ticket.GroupID != billing {
		t.Errorf("ticket assignment: responder %v, group %v", ticket.ResponderID, ticket.GroupID)
	}
	tr := ticket.Transcript()
	want := "reply:\nWe are on it.\nprivate note:\nVIP customer\nprivate note:\nWants a refund for order 1234.\n"
	if !strings.HasSuffix(tr, want) {
		t.Errorf("ticket transcript\n%s\nwant it to end with\n%s", tr, want)
	}
}

// The ticket API over Kustomer, with another helpdesk configured: the
// conversation, a note, the latest note, an assignment to a team and a
// hand-off land in the conversation; a public reply is 501 unsupported
// and sends nothing; no token or a wrong one is 401.
func TestServeTicketActionsKustomer(t *testing.T) {
	fd := freshdesktest.NewServer(freshdesktest.Options{})
	defer fd.Close()
	kus := kustomertest.NewServer(kustomertest.Options{})
	defer kus.Close()
	s := desksServe(t, fd.URL, kus.URL)
	contactID := startDeskChat(t, s, fd, kus)
	base := "/api/contacts/" + contactID + "/ticket"
	grace := kus.AddUser("Grace")
	billing := kus.AddTeam("Billing")

	for _, tok := range []string{"", "wrong-token"} {
		if status, _ := ticketCall(t, s, "POST", base+"/handoff?connector=kustomer", tok, `{"assignee_id":"`+grace+`","context":"x"}`); status != 401 {
			t.Errorf("token %q: status %d, want 401", tok, status)
		}
	}
	conv := kus.ConversationsByExternalID(contactID)[0]
	status, body := ticketCall(t, s, "GET", base+"?connector=kustomer", "api-token", "")
	if status != 200 || body["id"] != conv.ID || body["status"] != "open" || body["subject"] != "Chat with Ada" {
		t.Fatalf("ticket: %d %v", status, body)
	}
	status, body = ticketCall(t, s, "POST", base+"/reply?connector=kustomer", "api-token", `{"body":"We are on it."}`)
	if status != 501 || errorCode(body) != "unsupported" {
		t.Errorf("reply: %d %v, want 501 unsupported", status, body)
	}
	if status, body := ticketCall(t, s, "POST", base+"/note?connector=kustomer", "api-token", `{"body":"VIP customer"}`); status != 201 || body["public"] != false {
		t.Errorf("note: %d %v", status, body)
	}
	if status, body := ticketCall(t, s, "GET", base+"/latest-message?connector=kustomer", "api-token", ""); status != 200 || body["body"] != "VIP customer" {
		t.Errorf("latest message: %d %v", status, body)
	}
	if status, body := ticketCall(t, s, "POST", base+"/assign?connector=kustomer", "api-token", `{"group_id":"`+billing+`"}`); status != 200 || body["group_id"] != billing {
		t.Errorf("assign: %d %v", status, body)
	}
	status, body = ticketCall(t, s, "POST", base+"/handoff?connector=kustomer", "api-token", `{"assignee_id":"`+grace+`","context":"Wants a refund for order 1234."}`)
	if status != 200 || body["assignee_id"] != grace || body["group_id"] != billing {
		t.Errorf("handoff: %d %v", status, body)
	}

	conv = kus.ConversationsByExternalID(contactID)[0]
	if strings.Join(conv.AssignedUsers, ",") != grace || strings.Join(conv.AssignedTeams, ",") != billing {
		t.Errorf("assignment: users %v, teams %v", conv.AssignedUsers, conv.AssignedTeams)
	}
	var notes []string
	for _, n := range conv.Notes {
		notes = append(notes, n.Body)
	}
	if len(notes) < 2 || strings.Join(notes[len(notes)-2:], "|") != "VIP customer|Wants a refund for order 1234." {
		t.Errorf("notes %q", notes)
	}
	for _, m := range conv.Messages {
		if strings.Contains(m.Body(), "We are on it.") {
			t.Errorf("the unsupported reply reached the timeline: %q", m.Body())
		}
	}
}
