package httpapi_test

import (
	"context"
	"testing"
	"time"

	"github.com/helplinehq/helpline"
	"github.com/helplinehq/helpline/httpapi"
)

// mirroredContact creates a contact of i1 mirrored by connectors, with a
// customer message after its opening items.
func mirroredContact(t *testing.T, e *agentEnv, connectors ...string) string {
	t.Helper()
	ctx, now := context.Background(), e.clock.Now()
	id := helpline.NewID()
	cust := &helpline.Participant{ID: helpline.NewID(), ContactID: id, Role: helpline.RoleCustomer, DisplayName: "Cat", CreatedAt: now}
	nc := &helpline.NewContact{
		Contact: &helpline.Contact{ID: id, InstanceID: "i1", FlowID: "f", InitialContactID: id, State: helpline.ContactActive,
			CreatedAt: now, ExpiresAt: now.Add(time.Hour)},
		Customer: cust, Mirrors: connectors,
	}
	if _, err := e.store.CreateContact(ctx, nc); err != nil {
		t.Fatal(err)
	}
	it := &helpline.Item{ContactID: id, ID: helpline.NewID(), Type: helpline.ItemMessage, ContentType: helpline.ContentPlain,
		Content: "Hello", ParticipantID: cust.ID, DisplayName: "Cat", Role: helpline.RoleCustomer, Time: now}
	if _, err := e.store.AppendItem(ctx, it); err != nil {
		t.Fatal(err)
	}
	return id
}

// newConnectorsEnv is newAdminEnv with the connectors "hooks" and
// "zendesk" mirroring: one pair of hooks parked, another behind.
func newConnectorsEnv(t *testing.T) (e *agentEnv, adminTok, parked, behind string) {
	t.Helper()
	e, adminTok, _, _ = newAdminEnv(t, nil, func(c *httpapi.AgentConfig) {
		c.Mirrors, c.Connectors = c.Agents.(helpline.MirrorStore), []string{"hooks", "zendesk"}
	})
	ctx := context.Background()
	parked = mirroredContact(t, e, "hooks")
	pairs, err := e.store.ClaimMirrorPairs(ctx, "hooks", parked, "w1", e.clock.Now(), time.Minute, 1)
	if err != nil || len(pairs) != 1 {
		t.Fatalf("claim: %v %v", pairs, err)
	}
	p := pairs[0]
	p.State, p.Attempts, p.LastError = helpline.MirrorParked, 3, "HTTP 422: <b>invalid requester</b>"
	if err := e.store.SaveMirrorPair(ctx, p, "w1", e.clock.Now()); err != nil {
		t.Fatal(err)
	}
	behind = mirroredContact(t, e, "hooks")
	e.clock.Advance(90 * time.Second)
	return e, adminTok, parked, behind
}

func TestConnectorsHealth(t *testing.T) {
	e, adminTok, parked, _ := newConnectorsEnv(t)
	ans := e.do("GET", "/api/admin/connectors", "", creds{bearer: adminTok})
	list, _ := ans.body["connectors"].([]any)
	if ans.status != 200 || len(list) != 2 {
		t.Fatalf("health: %d %s", ans.status, ans.raw)
	}
	hooks, zendesk := list[0].(map[string]any), list[1].(map[string]any)
	parkedList, _ := hooks["parked"].([]any)
	if hooks["name"] != "hooks" || hooks["behind"] != 1.0 || hooks["parked_count"] != 1.0 || len(parkedList) != 1 ||
		hooks["oldest_lag_seconds"].(float64) < 90 {
		t.Errorf("hooks: %v, want one behind for 90 s or more and one parked", hooks)
	}
	if p := parkedList[0].(map[string]any); p["contact_id"] != parked || p["reason"] != "HTTP 422: <b>invalid requester</b>" || p["attempts"] != 3.0 {
		t.Errorf("the parked pair: %v", p)
	}
	if zendesk["behind"] != 0.0 || zendesk["parked_count"] != 0.0 || zendesk["oldest_lag_seconds"] != 0.0 {
		t.Errorf("zendesk, which mirrors nothing: %v", zendesk)
	}

	// Replay resumes the parked pair: it is active and due again.
	if ans := e.do("POST", "/api/admin/connectors/hooks/replay", "", e.login("root")); ans.status != 200 || ans.body["resumed"] != 1.0 {
		t.Fatalf("replay: %d %s", ans.status, ans.raw)
	}
	pairs, _ := e.store.FindMirrorPairs(context.Background(), helpline.MirrorPairFilter{Connector: "hooks", ContactID: parked})
	if len(pairs) != 1 || pairs[0].State != helpline.MirrorActive || pairs[0].Attempts != 0 {
		t.Errorf("after replay: %+v, want the pair active with no attempts", pairs)
	}
	for _, tc := range []struct {
		path, body string
		status     int
		code       string
	}{
		{"/api/admin/connectors/nope/replay", "", 404, "not_found"},
		{"/api/admin/connectors/hooks/replay", `{"contact":"x"}`, 400, "invalid"},
		{"/api/admin/connectors/hooks/replay", `{`, 400, "invalid"},
		{"/api/admin/connectors/hooks/replay", `{"contact_id":"unknown"}`, 200, ""},
	} {
		if ans := e.do("POST", tc.path, tc.body, creds{bearer: adminTok}); ans.status != tc.status || ans.code() != tc.code {
			t.Errorf("POST %s %s: %d %s, want %d %s", tc.path, tc.body, ans.status, ans.raw, tc.status, tc.code)
		}
	}
}

// Only an admin of the default instance reads connectors' health and
// replays: connectors serve every instance of the node.
func TestConnectorsAuthorisation(t *testing.T) {
	for _, ep := range []struct{ method, path string }{
		{"GET", "/api/admin/connectors"},
		{"POST", "/api/admin/connectors/hooks/replay"},
	} {
		t.Run(ep.method, func(t *testing.T) {
			e, adminTok, parked, _ := newConnectorsEnv(t)
			agentTok, supTok := apiToken(t, e, helpline.AgentRoleAgent), apiToken(t, e, helpline.AgentRoleSupervisor)
			root := e.login("root")
			noCSRF := 200
			if ep.method != "GET" {
				noCSRF = 403
			}
			for _, tc := range []struct {
				who  string
				c    creds
				want int
			}{
				{"nobody", creds{}, 401},
				{"agent", e.login("ada"), 403},
				{"agent token", creds{bearer: agentTok}, 403},
				{"supervisor", e.login("sue"), 403},
				{"supervisor token", creds{bearer: supTok}, 403},
				{"admin without CSRF", creds{cookie: root.cookie}, noCSRF},
				{"another instance's admin", e.login("eve"), 403},
			} {
				if ans := e.do(ep.method, ep.path, "", tc.c); ans.status != tc.want {
					t.Errorf("%s: %d %s, want %d", tc.who, ans.status, ans.raw, tc.want)
				}
			}
			pairs, _ := e.store.FindMirrorPairs(context.Background(), helpline.MirrorPairFilter{Connector: "hooks", ContactID: parked})
			if ep.method == "POST" && pairs[0].State != helpline.MirrorParked {
				t.Errorf("a refused replay resumed the pair: %+v", pairs[0])
			}
			for _, c := range []creds{root, {bearer: adminTok}} {
				if ans := e.do(ep.method, ep.path, "", c); ans.status != 200 {
					t.Errorf("an admin of the default instance: %d %s", ans.status, ans.raw)
				}
			}
		})
	}
}
