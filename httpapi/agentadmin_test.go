package httpapi_test

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/helplinehq/helpline"
	"github.com/helplinehq/helpline/httpapi"
)

// adminEndpoints are the admin API's endpoints for agents and queues, each
// with a body (%s: a suffix that keeps creations apart) and the status of
// success. other is what an admin of instance i2 gets, and leak, when
// set, is what it must not see of i1.
var adminEndpoints = []struct {
	method, path, body string
	ok, other          int
	leak               string
}{
	{"GET", "/api/admin/agents", "", 200, 200, `"ada"`},
	{"POST", "/api/admin/agents", `{"id":"new-%s","email":"new-%s@example.com","queues":["sales"]}`, 201, 201, ""},
	{"GET", "/api/admin/agents/ada", "", 200, 404, ""},
	{"PATCH", "/api/admin/agents/ada", `{"name":"Ada %s"}`, 200, 404, ""},
	{"POST", "/api/admin/agents/ada/password", `{"password":"another long passphrase %s"}`, 204, 404, ""},
	{"POST", "/api/admin/agents/ada/disable", "", 200, 404, ""},
	{"GET", "/api/admin/queues", "", 200, 200, `"sales"`},
	{"POST", "/api/admin/queues", `{"id":"q-%s","accept_within":"45s"}`, 201, 201, ""},
	{"GET", "/api/admin/queues/sales", "", 200, 404, ""},
	{"PATCH", "/api/admin/queues/sales", `{"name":"Sales %s"}`, 200, 404, ""},
	{"POST", "/api/admin/queues", `{"id":"h-%s","hours":{"time_zone":"Europe/Paris","open":["mon-fri 09:00-18:00"]},"away_message":"Back soon.","end_out_of_hours":true}`, 201, 201, ""},
	{"PATCH", "/api/admin/queues/sales", `{"hours":{"time_zone":"Europe/Paris","open":["sat 10:00-13:00"],"holidays":["2025-12-25"]},"away_message":"%s"}`, 200, 404, ""},
}

// newAdminEnv is newAgentEnv with queue sales in i1 and admin, agent and
// supervisor tokens of i1; tunes change the configuration further.
func newAdminEnv(t *testing.T, log *bytes.Buffer, tunes ...func(*httpapi.AgentConfig)) (e *agentEnv, adminTok, agentTok, supTok string) {
	t.Helper()
	e = newAgentEnv(t, func(c *httpapi.AgentConfig) {
		if log != nil {
			c.Logger = slog.New(slog.NewTextHandler(log, &slog.HandlerOptions{Level: slog.LevelDebug}))
		}
		for _, tune := range tunes {
			tune(c)
		}
	})
	if err := e.store.SaveQueue(context.Background(), &helpline.Queue{InstanceID: "i1", ID: "sales"}); err != nil {
		t.Fatal(err)
	}
	return e, apiToken(t, e, helpline.AgentRoleAdmin), apiToken(t, e, helpline.AgentRoleAgent), apiToken(t, e, helpline.AgentRoleSupervisor)
}

// apiToken stores a new API token of i1 with role and returns its secret.
func apiToken(t *testing.T, e *agentEnv, role string) string {
	t.Helper()
	tok, secret, err := helpline.NewAPIToken("i1", role, role+" bot", "cli", e.clock.Now())
	if err != nil {
		t.Fatal(err)
	} else if err := e.store.CreateAPIToken(context.Background(), tok); err != nil {
		t.Fatal(err)
	}
	return secret
}

// Every admin endpoint serves an admin of the instance, session with its
// CSRF token or admin token, and no one else; another instance's admin
// reaches only its own instance.
func TestAdminAPIAuthorisation(t *testing.T) {
	for _, ep := range adminEndpoints {
		t.Run(ep.method+" "+ep.path, func(t *testing.T) {
			e, adminTok, agentTok, supTok := newAdminEnv(t, nil)
			root, sue, ada, eve := e.login("root"), e.login("sue"), e.login("ada"), e.login("eve")
			noCSRF := ep.ok
			if ep.method != "GET" {
				noCSRF = http.StatusForbidden
			}
			for _, tc := range []struct {
				who  string
				c    creds
				want int
			}{
				{"nobody", creds{}, 401},
				{"agent", ada, 403},
				{"agent token", creds{bearer: agentTok}, 403},
				{"supervisor", sue, 403},
				{"supervisor token", creds{bearer: supTok}, 403},
				{"admin without CSRF", creds{cookie: root.cookie}, noCSRF},
				{"another instance's admin", eve, ep.other},
				{"admin", root, ep.ok},
				{"admin token", creds{bearer: adminTok}, ep.ok},
			} {
				body := strings.ReplaceAll(ep.body, "%s", strings.NewReplacer(" ", "-", "'", "").Replace(tc.who))
				ans := e.do(ep.method, ep.path, body, tc.c)
				if ans.status != tc.want {
					t.Errorf("%s: %d %s, want %d", tc.who, ans.status, ans.raw, tc.want)
				}
				if tc.who == "another instance's admin" && ep.leak != "" && strings.Contains(ans.raw, ep.leak) {
					t.Errorf("%s sees i1's %s: %s", tc.who, ep.leak, ans.raw)
				}
			}
			// What the refused ones asked did not happen; the admins' did.
			ctx := context.Background()
			switch {
			case ep.method == "POST" && ep.path == "/api/admin/agents":
				for id, want := range map[string]bool{"new-admin": true, "new-admin-token": true, "new-supervisor": false, "new-agent-token": false} {
					if _, err := e.store.FindAgentByID(ctx, "i1", id); (err == nil) != want {
						t.Errorf("agent %s exists = %v, want %v", id, err == nil, want)
					}
				}
				if _, err := e.store.FindAgentByID(ctx, "i2", "new-another-instances-admin"); err != nil {
					t.Errorf("i2's admin created no agent in i2: %v", err)
				}
				if _, err := e.store.FindAgentByID(ctx, "i1", "new-another-instances-admin"); err == nil {
					t.Errorf("i2's admin created an agent in i1")
				}
			case ep.path == "/api/admin/agents/ada/disable":
				if ag, _ := e.store.FindAgentByID(ctx, "i1", "ada"); ag.Enabled {
					t.Error("the admins' disable left ada enabled")
				}
			}
		})
	}
}

func TestAdminAgents(t *testing.T) {
	e, adminTok, _, _ := newAdminEnv(t, nil)
	root := e.login("root")
	tok := creds{bearer: adminTok}

	ans := e.do("POST", "/api/admin/agents", `{"email":"Grace.H@Example.com","name":"Grace","role":"supervisor","queues":["sales"],"capacity":5,"password":"a long passphrase"}`, root)
	if ans.status != 201 || ans.body["id"] != "Grace-H" || ans.body["email"] != "grace.h@example.com" || ans.body["role"] != "supervisor" ||
		ans.body["capacity"] != 5.0 || ans.body["enabled"] != true || ans.body["password_set"] != true {
		t.Fatalf("create: %d %s", ans.status, ans.raw)
	}
	if strings.Contains(ans.raw, "passphrase") || strings.Contains(ans.raw, "argon2") {
		t.Errorf("create answered the password or its hash: %s", ans.raw)
	}
	if in := e.do("POST", "/api/agent/login", loginBody("grace.h@example.com", "a long passphrase"), creds{}); in.status != 200 {
		t.Errorf("the created agent logs in: %d %s", in.status, in.raw)
	}
	// Without a password the agent exists but cannot log in yet.
	ans = e.do("POST", "/api/admin/agents", `{"email":"nopw@example.com"}`, tok)
	if ans.status != 201 || ans.body["password_set"] != false || ans.body["capacity"] != 3.0 || ans.body["role"] != "agent" || ans.body["name"] != "nopw" {
		t.Errorf("create with defaults: %d %s", ans.status, ans.raw)
	}

	list := e.do("GET", "/api/admin/agents", "", tok)
	if list.status != 200 || len(list.body["agents"].([]any)) != 6 || strings.Contains(list.raw, "argon2") || strings.Contains(list.raw, "eve") {
		t.Errorf("list: %d %s, want i1's six agents, no hashes", list.status, list.raw)
	}

	ans = e.do("PATCH", "/api/admin/agents/Grace-H", `{"name":"Grace H.","role":"agent","queues":[],"capacity":2}`, tok)
	if ans.status != 200 || ans.body["name"] != "Grace H." || ans.body["role"] != "agent" || ans.body["capacity"] != 2.0 || len(ans.body["queues"].([]any)) != 0 ||
		ans.body["email"] != "grace.h@example.com" || ans.body["password_set"] != true {
		t.Errorf("patch: %d %s", ans.status, ans.raw)
	}
	if got := e.do("GET", "/api/admin/agents/Grace-H", "", tok); got.body["name"] != "Grace H." {
		t.Errorf("get after patch: %s", got.raw)
	}
	// Enabled again by PATCH, a disabled agent logs in again.
	if ans := e.do("PATCH", "/api/admin/agents/dis", `{"enabled":true}`, tok); ans.status != 200 || ans.body["enabled"] != true {
		t.Errorf("enable: %d %s", ans.status, ans.raw)
	}
	e.login("dis")
}

// An admin's password change ends the agent's other sessions; a disable
// ends all of them at once, sessions and the store's rows alike.
func TestAdminEndsSessions(t *testing.T) {
	e, adminTok, _, _ := newAdminEnv(t, nil)
	tok := creds{bearer: adminTok}
	ada1, ada2 := e.login("ada"), e.login("ada")
	if ans := e.do("POST", "/api/admin/agents/ada/password", `{"password":"a brand new passphrase"}`, tok); ans.status != 204 || ans.raw != "" {
		t.Fatalf("set password: %d %s", ans.status, ans.raw)
	}
	for i, s := range []creds{ada1, ada2} {
		if ans := e.do("GET", "/api/agent/me", "", s); ans.status != 401 {
			t.Errorf("ada's session %d after the password change: %d, want 401", i+1, ans.status)
		}
	}
	if ans := e.do("POST", "/api/agent/login", loginBody("ada@example.com", password), creds{}); ans.status != 401 {
		t.Errorf("the old password: %d, want 401", ans.status)
	}
	in := e.do("POST", "/api/agent/login", loginBody("ada@example.com", "a brand new passphrase"), creds{})
	if in.status != 200 {
		t.Fatalf("the new password: %d %s", in.status, in.raw)
	}
	ada3 := creds{cookie: sessionCookie(in.header)}

	// An admin setting its own password keeps the session it used.
	root1, root2 := e.login("root"), e.login("root")
	if ans := e.do("POST", "/api/admin/agents/root/password", `{"password":"root's new passphrase"}`, root1); ans.status != 204 {
		t.Fatalf("own password: %d %s", ans.status, ans.raw)
	}
	if ans := e.do("GET", "/api/agent/me", "", root1); ans.status != 200 {
		t.Errorf("the session that set its own password: %d, want 200", ans.status)
	}
	if ans := e.do("GET", "/api/agent/me", "", root2); ans.status != 401 {
		t.Errorf("root's other session: %d, want 401", ans.status)
	}

	// Disabled, sue's session ends at once and its row is gone.
	sue := e.login("sue")
	if ans := e.do("POST", "/api/admin/agents/sue/disable", "", root1); ans.status != 200 || ans.body["enabled"] != false {
		t.Fatalf("disable: %d %s", ans.status, ans.raw)
	}
	if _, err := e.store.FindSession(context.Background(), helpline.SecretHash(sue.cookie.Value)); helpline.ErrorCode(err) != helpline.ENOTFOUND {
		t.Errorf("sue's session after disable: %v, want deleted", err)
	}
	if ans := e.do("GET", "/api/agent/me", "", sue); ans.status != 401 {
		t.Errorf("sue after disable: %d, want 401", ans.status)
	}
	if ans := e.do("POST", "/api/agent/login", loginBody("sue@example.com", password), creds{}); ans.status != 401 {
		t.Errorf("sue logging in after disable: %d, want 401", ans.status)
	}
	// The same through PATCH.
	if ans := e.do("PATCH", "/api/admin/agents/ada", `{"enabled":false}`, tok); ans.status != 200 {
		t.Fatalf("patch disable: %d %s", ans.status, ans.raw)
	}
	if ans := e.do("GET", "/api/agent/me", "", ada3); ans.status != 401 {
		t.Errorf("ada after PATCH enabled=false: %d, want 401", ans.status)
	}
}

// Passwords appear in no answer and no log line, whatever happens to them.
func TestAdminPasswordsNeverEchoed(t *testing.T) {
	var log bytes.Buffer
	e, adminTok, _, _ := newAdminEnv(t, &log)
	tok := creds{bearer: adminTok}
	secrets := []string{"first secret passphrase", "second secret passphrase", "short7!", strings.Repeat("L", 1025)}
	var answers []string
	for _, req := range [][3]string{
		{"POST", "/api/admin/agents", `{"email":"pw@example.com","password":"` + secrets[0] + `"}`},
		{"POST", "/api/admin/agents", `{"email":"pw@example.com","password":"` + secrets[0] + `"}`}, // conflict
		{"POST", "/api/admin/agents", `{"email":"bad","password":"` + secrets[0] + `"}`},
		{"POST", "/api/admin/agents/pw/password", `{"password":"` + secrets[1] + `"}`},
		{"POST", "/api/admin/agents/pw/password", `{"password":"` + secrets[2] + `"}`},
		{"POST", "/api/admin/agents/pw/password", `{"password":"` + secrets[3] + `"}`},
		{"POST", "/api/admin/agents/nobody/password", `{"password":"` + secrets[1] + `"}`},
		{"POST", "/api/admin/agents/pw/password", `{"password":"` + secrets[1] + `","extra":1}`},
		{"GET", "/api/admin/agents/pw", ""},
		{"GET", "/api/admin/agents", ""},
	} {
		ans := e.do(req[0], req[1], req[2], tok)
		answers = append(answers, fmt.Sprint(ans.status, ans.header, ans.raw))
	}
	if ans := e.do("POST", "/api/agent/login", loginBody("pw@example.com", secrets[1]), creds{}); ans.status != 200 {
		t.Fatalf("login with the password set: %d %s", ans.status, ans.raw)
	}
	for _, s := range secrets {
		for _, a := range answers {
			if strings.Contains(a, s) {
				t.Errorf("an answer holds the password %.20q: %s", s, a)
			}
		}
		if strings.Contains(log.String(), s) {
			t.Errorf("the log holds the password %.20q", s)
		}
	}
}

// Bad input gets the documented codes, and changes nothing.
func TestAdminAPIBadInput(t *testing.T) {
	e, adminTok, _, _ := newAdminEnv(t, nil)
	root := e.login("root")
	tok := creds{bearer: adminTok}
	huge := `{"email":"x@example.com","name":"` + strings.Repeat("x", 70<<10) + `"}`
	for _, tc := range []struct {
		method, path, body string
		c                  creds
		status             int
		code               string
	}{
		{"POST", "/api/admin/agents", `{}`, tok, 400, "invalid"},
		{"POST", "/api/admin/agents", `{"email":"not an address"}`, tok, 400, "invalid"},
		{"POST", "/api/admin/agents", `{"id":"bad id","email":"b@example.com"}`, tok, 400, "invalid"},
		{"POST", "/api/admin/agents", `{"email":"b@example.com","role":"boss"}`, tok, 400, "invalid"},
		{"POST", "/api/admin/agents", `{"email":"b@example.com","capacity":11}`, tok, 400, "invalid"},
		{"POST", "/api/admin/agents", `{"email":"b@example.com","capacity":-1}`, tok, 400, "invalid"},
		{"POST", "/api/admin/agents", `{"email":"b@example.com","queues":["no good"]}`, tok, 400, "invalid"},
		{"POST", "/api/admin/agents", `{"email":"b@example.com","password":"7 chars"}`, tok, 400, "invalid"},
		{"POST", "/api/admin/agents", `{"email":"b@example.com","enabled":false}`, tok, 400, "invalid"},
		{"POST", "/api/admin/agents", `{"email":"b@example.com"`, tok, 400, "invalid"},
		{"POST", "/api/admin/agents", huge, tok, 413, "too_large"},
		{"POST", "/api/admin/agents", `{"id":"ada","email":"b@example.com"}`, tok, 409, "conflict"},
		{"POST", "/api/admin/agents", `{"id":"ada2","email":"ADA@example.com"}`, tok, 409, "conflict"},
		{"POST", "/api/admin/agents", `{"email":"b@example.com","instance":"i2"}`, tok, 403, "forbidden"},
		{"PATCH", "/api/admin/agents/ada", `{"capacity":0}`, tok, 400, "invalid"},
		{"PATCH", "/api/admin/agents/ada", `{"capacity":11}`, tok, 400, "invalid"},
		{"PATCH", "/api/admin/agents/ada", `{"role":"boss"}`, tok, 400, "invalid"},
		{"PATCH", "/api/admin/agents/ada", `{"queues":["no good"]}`, tok, 400, "invalid"},
		{"PATCH", "/api/admin/agents/ada", `{"email":"new@example.com"}`, tok, 400, "invalid"},
		{"PATCH", "/api/admin/agents/ada", `{"password":"a long passphrase"}`, tok, 400, "invalid"},
		{"PATCH", "/api/admin/agents/ada", `{"enabled":"no"}`, tok, 400, "invalid"},
		{"PATCH", "/api/admin/agents/nobody", `{"name":"x"}`, tok, 404, "not_found"},
		{"PATCH", "/api/admin/agents/root", `{"enabled":false}`, root, 409, "conflict"},
		{"PATCH", "/api/admin/agents/root", `{"role":"supervisor"}`, root, 409, "conflict"},
		{"POST", "/api/admin/agents/root/disable", "", root, 409, "conflict"},
		{"POST", "/api/admin/agents/ada/password", `{}`, tok, 400, "invalid"},
		{"POST", "/api/admin/agents/ada/password", `{"password":"7 chars"}`, tok, 400, "invalid"},
		{"POST", "/api/admin/agents/nobody/password", `{"password":"a long passphrase"}`, tok, 404, "not_found"},
		{"POST", "/api/admin/agents/nobody/disable", "", tok, 404, "not_found"},
		{"GET", "/api/admin/agents/nobody", "", tok, 404, "not_found"},
		{"POST", "/api/admin/queues", `{}`, tok, 400, "invalid"},
		{"POST", "/api/admin/queues", `{"id":"bad id"}`, tok, 400, "invalid"},
		{"POST", "/api/admin/queues", `{"id":"q","routing":"random"}`, tok, 400, "invalid"},
		{"POST", "/api/admin/queues", `{"id":"q","accept_within":"soon"}`, tok, 400, "invalid"},
		{"POST", "/api/admin/queues", `{"id":"q","accept_within":30}`, tok, 400, "invalid"},
		{"POST", "/api/admin/queues", `{"id":"q","accept_within":"-1s"}`, tok, 400, "invalid"},
		{"POST", "/api/admin/queues", `{"id":"q","reassign_after":"-1s"}`, tok, 400, "invalid"},
		{"POST", "/api/admin/queues", `{"id":"q","hours":{}}`, tok, 400, "invalid"},
		{"POST", "/api/admin/queues", `{"id":"q","hours":{"time_zone":"Mars/Olympus","open":["mon 09:00-17:00"]}}`, tok, 400, "invalid"},
		{"POST", "/api/admin/queues", `{"id":"q","hours":{"open":["weekdays 09:00-17:00"]}}`, tok, 400, "invalid"},
		{"POST", "/api/admin/queues", `{"id":"q","hours":{"open":["mon 17:00-09:00"]}}`, tok, 400, "invalid"},
		{"POST", "/api/admin/queues", `{"id":"q","hours":{"open":["mon 09:00-25:00"]}}`, tok, 400, "invalid"},
		{"POST", "/api/admin/queues", `{"id":"q","hours":{"open":["mon 09:00-17:00"],"holidays":["25/12/2025"]}}`, tok, 400, "invalid"},
		{"POST", "/api/admin/queues", `{"id":"q","hours":{"open":["mon 09:00-17:00"],"days":"all"}}`, tok, 400, "invalid"},
		{"POST", "/api/admin/queues", `{"id":"q","hours":"mon-fri"}`, tok, 400, "invalid"},
		{"POST", "/api/admin/queues", `{"id":"q","away_message":"closed"}`, tok, 400, "invalid"},
		{"POST", "/api/admin/queues", `{"id":"q","end_out_of_hours":true}`, tok, 400, "invalid"},
		{"POST", "/api/admin/queues", `{"id":"q","hours":{"open":["mon 09:00-17:00"]},"away_message":"` + strings.Repeat("x", helpline.MaxAwayMessage+1) + `"}`, tok, 400, "invalid"},
		{"PATCH", "/api/admin/queues/sales", `{"away_message":"closed"}`, tok, 400, "invalid"},
		{"PATCH", "/api/admin/queues/sales", `{"hours":{"time_zone":"Nowhere/Else","open":["mon 09:00-17:00"]}}`, tok, 400, "invalid"},
		{"PATCH", "/api/admin/queues/sales", `{"hours":{"open":["mon 09:00-17:00"],"tz":"UTC"}}`, tok, 400, "invalid"},
		{"PATCH", "/api/admin/queues/sales", `{"hours":[]}`, tok, 400, "invalid"},
		{"POST", "/api/admin/queues", `{"id":"sales"}`, tok, 409, "conflict"},
		{"POST", "/api/admin/queues", `{"id":"q","instance":"i2"}`, tok, 403, "forbidden"},
		{"PATCH", "/api/admin/queues/sales", `{"accept_within":"0s"}`, tok, 400, "invalid"},
		{"PATCH", "/api/admin/queues/sales", `{"routing":"random"}`, tok, 400, "invalid"},
		{"PATCH", "/api/admin/queues/sales", `{"reassign_after":"-5m"}`, tok, 400, "invalid"},
		{"PATCH", "/api/admin/queues/sales", `{"id":"other"}`, tok, 400, "invalid"},
		{"PATCH", "/api/admin/queues/nobody", `{"name":"x"}`, tok, 404, "not_found"},
		{"GET", "/api/admin/queues/nobody", "", tok, 404, "not_found"},
		{"DELETE", "/api/admin/queues/sales", "", tok, 404, "not_found"},
	} {
		ans := e.do(tc.method, tc.path, tc.body, tc.c)
		if ans.status != tc.status || ans.code() != tc.code {
			t.Errorf("%s %s %.80s: %d %.200s, want %d %s", tc.method, tc.path, tc.body, ans.status, ans.raw, tc.status, tc.code)
		}
	}
	// Nothing changed: ada, root and sales are as they were, and no agent
	// or queue was added.
	ctx := context.Background()
	ada, _ := e.store.FindAgentByID(ctx, "i1", "ada")
	if ada.Capacity != 3 || ada.Role != "agent" || ada.Email != "ada@example.com" || !ada.Enabled || len(ada.Queues) != 1 {
		t.Errorf("ada after refused changes: %+v", ada)
	}
	if root, _ := e.store.FindAgentByID(ctx, "i1", "root"); !root.Enabled || root.Role != "admin" {
		t.Errorf("root after refused changes: %+v", root)
	}
	if agents, _ := e.store.FindAgents(ctx, "i1"); len(agents) != 4 {
		t.Errorf("i1 has %d agents after refused creations, want 4", len(agents))
	}
	if queues, _ := e.store.FindQueues(ctx, "i1"); len(queues) != 1 || queues[0].AcceptWithin != helpline.DefaultAcceptWithin || queues[0].Hours != nil || queues[0].AwayMessage != "" {
		t.Errorf("queues after refused changes: %+v", queues)
	}
	if e.login("ada").cookie == nil {
		t.Error("ada's password changed")
	}
}

func TestAdminQueues(t *testing.T) {
	e, adminTok, _, _ := newAdminEnv(t, nil)
	tok := creds{bearer: adminTok}
	ans := e.do("POST", "/api/admin/queues", `{"id":"web","name":"Web chat","routing":"round_robin","accept_within":"45s","auto_accept":true,"reassign_after":"10m"}`, tok)
	want := `{"id":"web","name":"Web chat","routing":"round_robin","accept_within":"45s","auto_accept":true,"reassign_after":"10m0s","hours":null,"away_message":"","end_out_of_hours":false}`
	if ans.status != 201 || strings.TrimSpace(ans.raw) != want {
		t.Fatalf("create: %d %s, want %s", ans.status, ans.raw, want)
	}
	q, err := e.store.FindQueueByID(context.Background(), "i1", "web")
	if err != nil || q.Routing != helpline.RoutingRoundRobin || !q.AutoAccept || q.ReassignAfter.Minutes() != 10 {
		t.Errorf("stored: %+v, %v", q, err)
	}
	ans = e.do("POST", "/api/admin/queues", `{"id":"plain"}`, tok)
	if want := `{"id":"plain","name":"plain","routing":"longest_idle","accept_within":"30s","auto_accept":false,"reassign_after":"0s","hours":null,"away_message":"","end_out_of_hours":false}`; strings.TrimSpace(ans.raw) != want {
		t.Errorf("create with defaults: %s, want %s", ans.raw, want)
	}
	ans = e.do("PATCH", "/api/admin/queues/web", `{"routing":"longest_idle","auto_accept":false,"reassign_after":"0s"}`, tok)
	if ans.status != 200 || ans.body["routing"] != "longest_idle" || ans.body["auto_accept"] != false || ans.body["reassign_after"] != "0s" ||
		ans.body["name"] != "Web chat" || ans.body["accept_within"] != "45s" {
		t.Errorf("patch: %d %s", ans.status, ans.raw)
	}
	list := e.do("GET", "/api/admin/queues", "", tok)
	if list.status != 200 || len(list.body["queues"].([]any)) != 3 {
		t.Errorf("list: %d %s, want plain, sales and web", list.status, list.raw)
	}

	// Business hours: written as the configuration file writes a flow's,
	// answered one day each; PATCH keeps what it leaves out, and hours
	// null (always open) drops the away message and the ending too.
	ans = e.do("PATCH", "/api/admin/queues/web", `{"hours":{"time_zone":"Europe/Paris","open":["fri-sat 09:00-12:00"],"holidays":["2025-12-25"]},"away_message":"Back on Friday.","end_out_of_hours":true}`, tok)
	wantHours := `"hours":{"time_zone":"Europe/Paris","open":["fri 09:00-12:00","sat 09:00-12:00"],"holidays":["2025-12-25"]},"away_message":"Back on Friday.","end_out_of_hours":true}`
	if ans.status != 200 || !strings.HasSuffix(strings.TrimSpace(ans.raw), wantHours) {
		t.Errorf("patch hours: %d %s, want ending %s", ans.status, ans.raw, wantHours)
	}
	q, err = e.store.FindQueueByID(context.Background(), "i1", "web")
	if err != nil || q.Hours == nil || q.Hours.TimeZone != "Europe/Paris" || len(q.Hours.Open) != 2 || q.Hours.Open[0].Day != time.Friday ||
		q.AwayMessage != "Back on Friday." || !q.EndOutOfHours {
		t.Errorf("stored hours: %+v, %v", q, err)
	}
	ans = e.do("PATCH", "/api/admin/queues/web", `{"away_message":"Back soon.","end_out_of_hours":false}`, tok)
	if ans.status != 200 || ans.body["away_message"] != "Back soon." || ans.body["hours"] == nil || ans.body["end_out_of_hours"] != false {
		t.Errorf("patch the away message: %d %s, want the hours kept", ans.status, ans.raw)
	}
	if got := e.do("GET", "/api/admin/queues/web", "", tok); got.status != 200 || got.body["away_message"] != "Back soon." {
		t.Errorf("get: %d %s", got.status, got.raw)
	}
	ans = e.do("PATCH", "/api/admin/queues/web", `{"hours":null}`, tok)
	if ans.status != 200 || ans.body["hours"] != nil || ans.body["away_message"] != "" || ans.body["end_out_of_hours"] != false {
		t.Errorf("patch hours null: %d %s, want always open", ans.status, ans.raw)
	}
}
