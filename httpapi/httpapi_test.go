package httpapi_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/helplinehq/helpline"
	"github.com/helplinehq/helpline/httpapi"
)

const token = "s3cret-token"

// desk is a TicketDesk holding one ticket, for contact "c1".
type desk struct {
	ticket   helpline.Ticket
	comments []helpline.TicketMessage
}

func (d *desk) find(contactID string) error {
	if contactID != "c1" {
		return helpline.NotFound(helpline.ResourceContact, contactID)
	}
	return nil
}

func (d *desk) Ticket(_ context.Context, c string) (*helpline.Ticket, error) {
	if err := d.find(c); err != nil {
		return nil, err
	}
	t := d.ticket
	return &t, nil
}

func (d *desk) LatestMessage(_ context.Context, c string) (*helpline.TicketMessage, error) {
	if err := d.find(c); err != nil {
		return nil, err
	}
	if len(d.comments) == 0 {
		return nil, helpline.Errorf(helpline.ENOTFOUND, "no comments")
	}
	m := d.comments[len(d.comments)-1]
	return &m, nil
}

func (d *desk) add(c, body string, public bool) (*helpline.TicketMessage, error) {
	if err := d.find(c); err != nil {
		return nil, err
	}
	d.comments = append(d.comments, helpline.TicketMessage{ID: "m" + string(rune('0'+len(d.comments))), Body: body, Public: public})
	m := d.comments[len(d.comments)-1]
	return &m, nil
}

func (d *desk) Reply(_ context.Context, c, body string) (*helpline.TicketMessage, error) {
	return d.add(c, body, true)
}

func (d *desk) AddNote(_ context.Context, c, body string) (*helpline.TicketMessage, error) {
	return d.add(c, body, false)
}

func (d *desk) Assign(_ context.Context, c string, a helpline.TicketAssignment) (*helpline.Ticket, error) {
	if err := d.find(c); err != nil {
		return nil, err
	}
	if a.AssigneeID != "" {
		d.ticket.AssigneeID = a.AssigneeID
	}
	if a.GroupID != "" {
		d.ticket.GroupID = a.GroupID
	}
	t := d.ticket
	return &t, nil
}

func (d *desk) HandOff(ctx context.Context, c string, a helpline.TicketAssignment, note string) (*helpline.Ticket, error) {
	if _, err := d.add(c, note, false); err != nil {
		return nil, err
	}
	return d.Assign(ctx, c, a)
}

// pairs is a MirrorStore with one parked pair; only the methods the API
// calls are implemented.
type pairs struct {
	helpline.MirrorStore
	list    []*helpline.MirrorPair
	resumed []string
}

func (p *pairs) FindMirrorPairs(_ context.Context, f helpline.MirrorPairFilter) ([]*helpline.MirrorPair, error) {
	var out []*helpline.MirrorPair
	for _, mp := range p.list {
		if (f.State == "" || f.State == mp.State) && (f.Connector == "" || f.Connector == mp.Connector) {
			out = append(out, mp)
		}
	}
	return out, nil
}

func (p *pairs) ResumeMirrorPairs(_ context.Context, connector, contactID string, now time.Time) (int, error) {
	n := 0
	for _, mp := range p.list {
		if mp.State == helpline.MirrorParked && (connector == "" || connector == mp.Connector) && (contactID == "" || contactID == mp.ContactID) {
			mp.State, mp.NextAttempt = helpline.MirrorActive, now
			p.resumed = append(p.resumed, mp.ContactID)
			n++
		}
	}
	return n, nil
}

func newAPI(t *testing.T, desks map[string]helpline.TicketDesk) (*httptest.Server, *pairs) {
	t.Helper()
	ps := &pairs{list: []*helpline.MirrorPair{
		{Connector: "hooks", ContactID: "c1", State: helpline.MirrorParked, Cursor: 3, LastSeq: 7, LastError: "permanent mirror failure: 410 Gone"},
		{Connector: "hooks", ContactID: "c2", State: helpline.MirrorActive, Cursor: 7, LastSeq: 7},
	}}
	srv := httptest.NewServer(httpapi.New(httpapi.Config{Mirrors: ps, Desks: desks, Token: token}))
	t.Cleanup(srv.Close)
	return srv, ps
}

// call sends a request and decodes the JSON answer into a map.
func call(t *testing.T, srv *httptest.Server, method, path, tok, body string) (int, map[string]any) {
	t.Helper()
	req, _ := http.NewRequest(method, srv.URL+path, strings.NewReader(body))
	if tok != "" {
		req.Header.Set("Authorization", "Bearer "+tok)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	var out map[string]any
	if len(raw) > 0 && strings.HasPrefix(resp.Header.Get("Content-Type"), "application/json") {
		if err := json.Unmarshal(raw, &out); err != nil {
			t.Fatalf("%s %s: %v in %s", method, path, err, raw)
		}
	}
	return resp.StatusCode, out
}

func errCode(m map[string]any) string {
	e, _ := m["error"].(map[string]any)
	s, _ := e["code"].(string)
	return s
}

func TestAuth(t *testing.T) {
	srv, _ := newAPI(t, nil)
	for _, tok := range []string{"", "wrong", token + "x"} {
		status, body := call(t, srv, "GET", "/admin/mirror/pairs", tok, "")
		if status != http.StatusUnauthorized || errCode(body) != "unauthorized" {
			t.Errorf("token %q: %d %v, want 401 unauthorized", tok, status, body)
		}
	}
	if status, _ := call(t, srv, "GET", "/admin/mirror/pairs", token, ""); status != http.StatusOK {
		t.Errorf("right token: %d", status)
	}
}

func TestNoTokenTurnsTheAPIOff(t *testing.T) {
	srv := httptest.NewServer(httpapi.New(httpapi.Config{Mirrors: &pairs{}}))
	defer srv.Close()
	for _, tok := range []string{"", "anything"} {
		if status, _ := call(t, srv, "GET", "/admin/mirror/pairs", tok, ""); status != http.StatusNotFound {
			t.Errorf("token %q: %d, want 404", tok, status)
		}
	}
}

func TestPairsAndResume(t *testing.T) {
	srv, ps := newAPI(t, nil)
	status, body := call(t, srv, "GET", "/admin/mirror/pairs?state=parked", token, "")
	list, _ := body["pairs"].([]any)
	if status != 200 || len(list) != 1 {
		t.Fatalf("parked pairs: %d %v", status, body)
	}
	p := list[0].(map[string]any)
	if p["contact_id"] != "c1" || p["last_error"] != "permanent mirror failure: 410 Gone" || p["cursor"] != 3.0 || p["last_seq"] != 7.0 {
		t.Errorf("pair = %v", p)
	}
	if status, body := call(t, srv, "GET", "/admin/mirror/pairs?state=stuck", token, ""); status != 400 || errCode(body) != helpline.EINVALID {
		t.Errorf("bad state: %d %v", status, body)
	}
	status, body = call(t, srv, "POST", "/admin/mirror/resume?connector=hooks&contact=c1", token, "")
	if status != 200 || body["resumed"] != 1.0 || len(ps.resumed) != 1 {
		t.Errorf("resume: %d %v, resumed %v", status, body, ps.resumed)
	}
	if _, body := call(t, srv, "POST", "/admin/mirror/resume", token, ""); body["resumed"] != 0.0 {
		t.Errorf("second resume: %v, want 0", body)
	}
}

func TestTicketActions(t *testing.T) {
	d := &desk{ticket: helpline.Ticket{ID: "42", Status: "open"}}
	srv, _ := newAPI(t, map[string]helpline.TicketDesk{"zendesk": d})

	status, body := call(t, srv, "GET", "/api/contacts/c1/ticket", token, "")
	if status != 200 || body["id"] != "42" || body["status"] != "open" {
		t.Errorf("ticket: %d %v", status, body)
	}
	if status, body := call(t, srv, "GET", "/api/contacts/nope/ticket", token, ""); status != 404 || errCode(body) != helpline.ENOTFOUND {
		t.Errorf("unknown contact: %d %v", status, body)
	}
	if status, body := call(t, srv, "POST", "/api/contacts/c1/ticket/reply", token, `{"body":"Hello"}`); status != 201 || body["public"] != true {
		t.Errorf("reply: %d %v", status, body)
	}
	if status, body := call(t, srv, "POST", "/api/contacts/c1/ticket/note", token, `{"body":"psst"}`); status != 201 || body["public"] != false {
		t.Errorf("note: %d %v", status, body)
	}
	if status, body := call(t, srv, "GET", "/api/contacts/c1/ticket/latest-message", token, ""); status != 200 || body["body"] != "psst" {
		t.Errorf("latest: %d %v", status, body)
	}
	for _, bad := range []string{`{"body":""}`, `{"text":"x"}`, `not json`} {
		if status, body := call(t, srv, "POST", "/api/contacts/c1/ticket/reply", token, bad); status != 400 || errCode(body) != helpline.EINVALID {
			t.Errorf("reply %s: %d %v", bad, status, body)
		}
	}
	if status, body := call(t, srv, "POST", "/api/contacts/c1/ticket/assign", token, `{"group_id":"7"}`); status != 200 || body["group_id"] != "7" {
		t.Errorf("assign: %d %v", status, body)
	}
	if status, _ := call(t, srv, "POST", "/api/contacts/c1/ticket/assign", token, `{}`); status != 400 {
		t.Errorf("empty assign: %d", status)
	}
	if status, _ := call(t, srv, "POST", "/api/contacts/c1/ticket/handoff", token, `{"assignee_id":"9"}`); status != 400 {
		t.Errorf("handoff without context: %d", status)
	}
	status, body = call(t, srv, "POST", "/api/contacts/c1/ticket/handoff", token, `{"assignee_id":"9","context":"wants a refund"}`)
	if status != 200 || body["assignee_id"] != "9" || d.comments[len(d.comments)-1].Body != "wants a refund" || d.comments[len(d.comments)-1].Public {
		t.Errorf("handoff: %d %v, comments %v", status, body, d.comments)
	}
}

// unsupportedDesk is a desk that cannot reply publicly.
type unsupportedDesk struct{ *desk }

func (unsupportedDesk) Reply(context.Context, string, string) (*helpline.TicketMessage, error) {
	return nil, helpline.Errorf(helpline.EUNSUPPORTED, "This helpdesk cannot send a public reply.")
}

// An action the helpdesk does not have is 501 with its code and message.
func TestUnsupportedAction(t *testing.T) {
	srv, _ := newAPI(t, map[string]helpline.TicketDesk{"k": unsupportedDesk{&desk{}}})
	status, body := call(t, srv, "POST", "/api/contacts/c1/ticket/reply", token, `{"body":"Hello"}`)
	if status != 501 || errCode(body) != helpline.EUNSUPPORTED || !strings.Contains(body["error"].(map[string]any)["message"].(string), "cannot send a public reply") {
		t.Errorf("reply on a desk without replies: %d %v", status, body)
	}
}

func TestChoosingTheDesk(t *testing.T) {
	a, b := &desk{ticket: helpline.Ticket{ID: "1"}}, &desk{ticket: helpline.Ticket{ID: "2"}}
	srv, _ := newAPI(t, map[string]helpline.TicketDesk{"a": a, "b": b})
	if status, body := call(t, srv, "GET", "/api/contacts/c1/ticket", token, ""); status != 400 || !strings.Contains(body["error"].(map[string]any)["message"].(string), "a, b") {
		t.Errorf("no connector named: %d %v", status, body)
	}
	if _, body := call(t, srv, "GET", "/api/contacts/c1/ticket?connector=b", token, ""); body["id"] != "2" {
		t.Errorf("connector=b: %v", body)
	}
	if status, _ := call(t, srv, "GET", "/api/contacts/c1/ticket?connector=c", token, ""); status != 404 {
		t.Errorf("connector=c: %d", status)
	}
	none, _ := newAPI(t, nil)
	if status, _ := call(t, none, "GET", "/api/contacts/c1/ticket", token, ""); status != 404 {
		t.Errorf("no desks: %d", status)
	}
}
