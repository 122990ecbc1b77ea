package main

import (
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/gorilla/websocket"
	"github.com/helplinehq/helpline/connector/zendesk/zendesktest"
)

// agentClient calls the agent API as one logged-in agent.
type agentClient struct {
	t      *testing.T
	base   string
	cookie *http.Cookie
	csrf   string
}

func agentLogin(t *testing.T, base, email, password string) *agentClient {
	t.Helper()
	return agentLoginIn(t, base, "", email, password)
}

// agentLoginIn logs in an agent of the instance ("": the default one).
func agentLoginIn(t *testing.T, base, instance, email, password string) *agentClient {
	t.Helper()
	a := &agentClient{t: t, base: base}
	resp, body := a.call("POST", "/api/agent/login", jsonOf(map[string]string{"email": email, "password": password, "instance": instance}))
	for _, c := range resp.Cookies() {
		if c.Name == "helpline_session" {
			a.cookie = c
		}
	}
	a.csrf, _ = body["csrf_token"].(string)
	if resp.StatusCode != 200 || a.cookie == nil || a.csrf == "" {
		t.Fatalf("login %s: %d %v", email, resp.StatusCode, body)
	}
	return a
}

func (a *agentClient) call(method, path, body string) (*http.Response, map[string]any) {
	a.t.Helper()
	req, _ := http.NewRequest(method, a.base+path, strings.NewReader(body))
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	if a.cookie != nil {
		req.AddCookie(a.cookie)
		req.Header.Set("X-CSRF-Token", a.csrf)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		a.t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	var m map[string]any
	json.Unmarshal(raw, &m)
	return resp, m
}

// must calls and fails the test unless the answer has status want.
func (a *agentClient) must(want int, method, path, body string) map[string]any {
	a.t.Helper()
	resp, m := a.call(method, path, body)
	if resp.StatusCode != want {
		a.t.Fatalf("%s %s: %d %v, want %d", method, path, resp.StatusCode, m, want)
	}
	return m
}

// awaitItem reads the customer's socket until an item want accepts.
func awaitItem(t *testing.T, ws *websocket.Conn, what string, want func(typ, contentType, content, role, name string) bool) {
	t.Helper()
	for {
		it := nextChatItem(t, ws)
		if want(it.Type, it.ContentType, it.Content, it.ParticipantRole, it.DisplayName) {
			return
		}
		if strings.HasSuffix(it.ContentType, "chat.ended") && !strings.Contains(what, "ended") {
			t.Fatalf("the chat ended before %s", what)
		}
	}
}

// Two agents declared in the configuration log in through the agent API
// and go online; a chat a Connect customer starts in the default flow is
// offered to one, who accepts it, talks with the customer both ways,
// transfers it to the other (the customer sees one leave and the other
// join), who closes it (the customer sees chat.ended). The Zendesk ticket
// holds an agent's line under its name, and the chat's context names the
// ticket.
func TestServeAgentChatsEndToEnd(t *testing.T) {
	fake := zendesktest.NewServer(zendesktest.Options{})
	defer fake.Close()
	t.Setenv("ADA_PASSWORD", "ada's long passphrase")
	t.Setenv("BO_PASSWORD", "bo's long passphrase")
	t.Setenv("HELPLINE_API_TOKEN", "")
	s := zendeskServe(t, fake.URL, `
routing:
  presence_grace: 1h   # the REST presence is the agents' heartbeat here
queues:
  - id: default
    accept_within: 1m
agents:
  - { id: ada, name: Ada Lovelace, email: ada@example.com, queues: [default], password_env: ADA_PASSWORD }
  - { id: bo, name: Bo Diddley, email: bo@example.com, queues: [default], password_env: BO_PASSWORD }
`)
	base := strings.TrimSuffix(s.url(), "/")
	agents := map[string]*agentClient{
		"ada": agentLogin(t, base, "ada@example.com", "ada's long passphrase"),
		"bo":  agentLogin(t, base, "bo@example.com", "bo's long passphrase"),
	}
	names := map[string]string{"ada": "Ada Lovelace", "bo": "Bo Diddley"}
	for _, a := range agents {
		a.must(200, "PUT", "/api/agent/presence", `{"status":"online"}`)
	}

	contactID, token, ws := startCustomer(t, s)
	customer := chatSide{token}

	// The chat is offered to one of them.
	var first, offerID string
	waitFor(t, "an offer of the chat", func() bool {
		for id, a := range agents {
			offers, _ := a.must(200, "GET", "/api/agent/offers", "")["offers"].([]any)
			for _, o := range offers {
				if o := o.(map[string]any); o["contact_id"] == contactID {
					first, offerID = id, o["id"].(string)
				}
			}
		}
		return offerID != ""
	})
	second := map[string]string{"ada": "bo", "bo": "ada"}[first]
	chat := "/api/agent/chats/" + contactID
	if q := agents[first].must(200, "GET", "/api/agent/queues", ""); !strings.Contains(jsonOf(q), `"id":"default"`) {
		t.Errorf("queues: %v", q)
	}
	if got := agents[first].must(200, "POST", "/api/agent/offers/"+offerID+"/accept", ""); got["owner"] != "agent:"+first {
		t.Fatalf("accept: %v", got)
	}
	awaitItem(t, ws, names[first]+" joining", func(_, ct, _, role, name string) bool {
		return strings.HasSuffix(ct, "participant.joined") && role == "AGENT" && name == names[first]
	})

	// Both ways.
	const hello = "Hello, how can I help?"
	agents[first].must(200, "POST", chat+"/messages", `{"content":"`+hello+`","client_token":"h1"}`)
	agents[first].must(200, "POST", chat+"/messages", `{"content":"`+hello+`","client_token":"h1"}`) // a retry
	awaitItem(t, ws, "the agent's line", func(typ, _, content, role, name string) bool {
		return typ == "MESSAGE" && content == hello && role == "AGENT" && name == names[first]
	})
	customer.say(t, s, "My parcel is late.")
	waitFor(t, "the customer's line in the agent's transcript", func() bool {
		return strings.Contains(jsonOf(agents[first].must(200, "GET", chat+"/transcript?limit=100", "")), "My parcel is late.")
	})

	// The transfer.
	if got := agents[first].must(200, "POST", chat+"/transfer", `{"agent_id":"`+second+`"}`); got["owner"] != "agent:"+second {
		t.Fatalf("transfer: %v", got)
	}
	awaitItem(t, ws, names[first]+" leaving", func(_, ct, _, role, name string) bool {
		return strings.HasSuffix(ct, "participant.left") && name == names[first]
	})
	awaitItem(t, ws, names[second]+" joining", func(_, ct, _, role, name string) bool {
		return strings.HasSuffix(ct, "participant.joined") && role == "AGENT" && name == names[second]
	})
	if resp, _ := agents[first].call("GET", chat, ""); resp.StatusCode != 403 {
		t.Errorf("the first agent reading the chat after the transfer: %d, want 403", resp.StatusCode)
	}
	const found = "I found it: it arrives tomorrow."
	agents[second].must(200, "POST", chat+"/messages", `{"content":"`+found+`","client_token":"f1"}`)
	awaitItem(t, ws, "the second agent's line", func(typ, _, content, _, name string) bool {
		return typ == "MESSAGE" && content == found && name == names[second]
	})

	// The ticket holds the first agent's line under its name, once though
	// it was sent twice. (The second agent's line is behind Zendesk's
	// per-ticket budget by now, five updates and then one per 24 seconds;
	// its name on the customer's socket above shows it speaks as itself.)
	waitFor(t, "the agent's line in the ticket", func() bool {
		tk, _ := fake.TicketByExternalID(contactID)
		for _, c := range tk.Comments {
			if strings.Contains(c.Body, names[first]+" (agent): "+hello) {
				return true
			}
		}
		return false
	})
	tk, _ := fake.TicketByExternalID(contactID)
	hellos := 0
	for _, c := range tk.Comments {
		hellos += strings.Count(c.Body, hello)
	}
	if hellos != 1 {
		t.Errorf("the retried line is in the ticket %d times, want once", hellos)
	}
	detail := agents[second].must(200, "GET", chat, "")
	if tickets := jsonOf(detail["tickets"]); !strings.Contains(tickets, `"connector":"zendesk"`) {
		t.Errorf("the chat's tickets: %s, want the Zendesk ticket", tickets)
	}

	// The close.
	agents[second].must(204, "POST", chat+"/close", "")
	awaitItem(t, ws, "chat.ended", func(_, ct, _, _, _ string) bool { return strings.HasSuffix(ct, "chat.ended") })
	if chats := jsonOf(agents[second].must(200, "GET", "/api/agent/chats", "")); strings.Contains(chats, contactID) {
		t.Errorf("the closed chat is still in the agent's list: %s", chats)
	}
}

func jsonOf(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}
