package httpapi_test

import (
	"context"
	"testing"

	"github.com/helplinehq/helpline"
	"github.com/helplinehq/helpline/httpapi"
)

// anyDesk is a TicketDesk with a ticket for every contact, recording the
// notes it is given.
type anyDesk struct{ notes []string }

func (d *anyDesk) Ticket(_ context.Context, c string) (*helpline.Ticket, error) {
	return &helpline.Ticket{ID: "t-" + c, Status: "open"}, nil
}

func (d *anyDesk) LatestMessage(context.Context, string) (*helpline.TicketMessage, error) {
	return nil, helpline.Errorf(helpline.ENOTFOUND, "no comments")
}

func (d *anyDesk) Reply(_ context.Context, c, body string) (*helpline.TicketMessage, error) {
	return &helpline.TicketMessage{ID: "r", Body: body, Public: true}, nil
}

func (d *anyDesk) AddNote(_ context.Context, c, body string) (*helpline.TicketMessage, error) {
	d.notes = append(d.notes, c+": "+body)
	return &helpline.TicketMessage{ID: "n", Body: body}, nil
}

func (d *anyDesk) Assign(_ context.Context, c string, a helpline.TicketAssignment) (*helpline.Ticket, error) {
	return d.Ticket(context.Background(), c)
}

func (d *anyDesk) HandOff(ctx context.Context, c string, a helpline.TicketAssignment, note string) (*helpline.Ticket, error) {
	return d.Ticket(ctx, c)
}

// The ticket actions take the agent API's credentials besides the
// operator token: the agent a chat is assigned to, supervisors and
// supervisors' tokens may act on its ticket; other agents, agent-role
// tokens and other instances may not; a session changing anything needs
// its CSRF token. The mirror admin endpoints stay the operator's.
func TestTicketActionsTakeAgentsCredentials(t *testing.T) {
	e := newChatEnv(t)
	d := &anyDesk{}
	e.h = httpapi.New(httpapi.Config{Mirrors: &pairs{}, Desks: map[string]helpline.TicketDesk{"zendesk": d}, Token: token,
		Agents: e.h.(*httpapi.AgentAPI)})
	e.creds["operator"] = creds{bearer: token}
	read := map[string]int{"operator": 200, "ada": 200, "ada-nocsrf": 200, "bob": 403, "sue": 200, "agent-token": 403, "supervisor-token": 200, "eve": 404, "nobody": 401}
	note := map[string]int{"operator": 201, "ada": 201, "ada-nocsrf": 403, "bob": 403, "sue": 201, "agent-token": 403, "supervisor-token": 201, "eve": 404, "nobody": 401}
	admin := map[string]int{"operator": 200, "ada": 401, "ada-nocsrf": 401, "bob": 401, "sue": 401, "agent-token": 401, "supervisor-token": 401, "eve": 401, "nobody": 401}
	c := e.assign(e.startChat("i1"), "ada")
	for _, p := range append(who, "operator") {
		for _, tc := range []struct {
			method, path, body string
			want               map[string]int
		}{
			{"GET", "/api/contacts/" + c.ID + "/ticket", "", read},
			{"POST", "/api/contacts/" + c.ID + "/ticket/note", `{"body":"checked by ` + p + `"}`, note},
			{"GET", "/admin/mirror/pairs", "", admin},
		} {
			ans := e.do(tc.method, tc.path, tc.body, e.creds[p])
			if ans.status != tc.want[p] {
				t.Errorf("%s %s as %s: %d %s, want %d", tc.method, tc.path, p, ans.status, ans.raw, tc.want[p])
			} else if ans.status >= 400 && ans.code() == "" {
				t.Errorf("%s %s as %s: %s, want an error body", tc.method, tc.path, p, ans.raw)
			}
		}
	}
	if len(d.notes) != 4 {
		t.Errorf("notes %q, want the operator's, ada's, sue's and the supervisor token's", d.notes)
	}
	// An unknown contact is not found for an agent too.
	if ans := e.do("GET", "/api/contacts/nope/ticket", "", e.creds["sue"]); ans.status != 404 || ans.code() != helpline.ENOTFOUND {
		t.Errorf("unknown contact as sue: %d %s", ans.status, ans.raw)
	}
}

// Without an operator token the ticket endpoints still serve agents, and
// the operator endpoints are off.
func TestTicketActionsForAgentsOnly(t *testing.T) {
	e := newChatEnv(t)
	e.h = httpapi.New(httpapi.Config{Mirrors: &pairs{}, Desks: map[string]helpline.TicketDesk{"zendesk": &anyDesk{}},
		Agents: e.h.(*httpapi.AgentAPI)})
	c := e.assign(e.startChat("i1"), "ada")
	if ans := e.do("GET", "/api/contacts/"+c.ID+"/ticket", "", e.creds["ada"]); ans.status != 200 {
		t.Errorf("ada: %d %s", ans.status, ans.raw)
	}
	if ans := e.do("GET", "/admin/mirror/pairs", "", creds{bearer: ""}); ans.status != 404 {
		t.Errorf("operator endpoint without a token configured: %d, want 404", ans.status)
	}
}
