package httpapi_test

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/helplinehq/helpline"
)

// Canned responses: every principal of the instance reads them, only its
// admins change them, and another instance's are out of reach.
func TestCannedAuthorisation(t *testing.T) {
	e, adminTok, agentTok, supTok := newAdminEnv(t, nil)
	root, sue, ada, eve := e.login("root"), e.login("sue"), e.login("ada"), e.login("eve")
	ctx := context.Background()
	seed := &helpline.CannedResponse{InstanceID: "i1", ID: "seed", Shortcut: "seed", Text: "Seeded", CreatedAt: e.clock.Now(), UpdatedAt: e.clock.Now()}
	if err := e.store.CreateCannedResponse(ctx, seed, 0); err != nil {
		t.Fatal(err)
	}
	who := []struct {
		name                     string
		c                        creds
		list, create, patch, del int // del deletes an unknown id
	}{
		{"nobody", creds{}, 401, 401, 401, 401},
		{"agent", ada, 200, 403, 403, 403},
		{"agent token", creds{bearer: agentTok}, 200, 403, 403, 403},
		{"supervisor", sue, 200, 403, 403, 403},
		{"supervisor token", creds{bearer: supTok}, 200, 403, 403, 403},
		{"admin without CSRF", creds{cookie: root.cookie}, 200, 403, 403, 403},
		// Another instance's admin creates in its own instance only.
		{"another instance's admin", eve, 200, 201, 404, 404},
		{"admin", root, 200, 201, 200, 404},
		{"admin token", creds{bearer: adminTok}, 200, 201, 200, 404},
	}
	for i, w := range who {
		list := e.do("GET", "/api/agent/canned", "", w.c)
		if list.status != w.list {
			t.Errorf("%s lists: %d %s, want %d", w.name, list.status, list.raw, w.list)
		}
		if w.list == 200 && strings.Contains(list.raw, `"shortcut":"seed"`) != (w.name != "another instance's admin") {
			t.Errorf("%s's list: %s", w.name, list.raw)
		}
		for _, req := range []struct {
			method, path, body string
			want               int
		}{
			{"POST", "/api/admin/canned", fmt.Sprintf(`{"shortcut":"s%d","text":"by %s"}`, i, w.name), w.create},
			{"PATCH", "/api/admin/canned/seed", `{"text":"Changed by ` + w.name + `"}`, w.patch},
			{"DELETE", "/api/admin/canned/nope", "", w.del},
		} {
			if ans := e.do(req.method, req.path, req.body, w.c); ans.status != req.want {
				t.Errorf("%s: %s %s: %d %s, want %d", w.name, req.method, req.path, ans.status, ans.raw, req.want)
			}
		}
	}
	// Only the admins' changes happened.
	list, _ := e.store.FindCannedResponses(ctx, "i1")
	got := map[string]string{}
	for _, c := range list {
		got[c.Shortcut] = c.Text
	}
	want := map[string]string{"seed": "Changed by admin token", "s7": "by admin", "s8": "by admin token"}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("i1's canned responses = %v, want %v", got, want)
	}
	if other, _ := e.store.FindCannedResponses(ctx, "i2"); len(other) != 1 || other[0].Text != "by another instance's admin" {
		t.Errorf("i2's canned responses = %+v, want the one its admin made", other)
	}
}

func TestCannedLifecycleAndBadInput(t *testing.T) {
	e, adminTok, _, _ := newAdminEnv(t, nil)
	tok := creds{bearer: adminTok}
	ans := e.do("POST", "/api/admin/canned", `{"shortcut":" /Refund ","text":"  We have refunded your order.  "}`, tok)
	if ans.status != 201 || ans.body["shortcut"] != "refund" || ans.body["text"] != "We have refunded your order." || ans.body["id"] == "" {
		t.Fatalf("create: %d %s", ans.status, ans.raw)
	}
	id := ans.body["id"].(string)
	long := strings.Repeat("x", helpline.MaxCannedText+1)
	for _, tc := range []struct {
		method, path, body string
		status             int
		code               string
	}{
		{"POST", "/api/admin/canned", `{"shortcut":"refund","text":"again"}`, 409, "conflict"},
		{"POST", "/api/admin/canned", `{"shortcut":"has space","text":"x"}`, 400, "invalid"},
		{"POST", "/api/admin/canned", `{"shortcut":"","text":"x"}`, 400, "invalid"},
		{"POST", "/api/admin/canned", `{"shortcut":"` + strings.Repeat("a", helpline.MaxCannedShortcut+1) + `","text":"x"}`, 400, "invalid"},
		{"POST", "/api/admin/canned", `{"shortcut":"ok","text":"   "}`, 400, "invalid"},
		{"POST", "/api/admin/canned", `{"shortcut":"ok","text":"` + long + `"}`, 400, "invalid"},
		{"POST", "/api/admin/canned", `{"shortcut":"ok"}`, 400, "invalid"},
		{"POST", "/api/admin/canned", `{"shortcut":"ok","text":"x","extra":1}`, 400, "invalid"},
		{"POST", "/api/admin/canned", `{"shortcut":"ok",`, 400, "invalid"},
		{"POST", "/api/admin/canned", `{"shortcut":"ok","text":"` + strings.Repeat("y", 70<<10) + `"}`, 413, "too_large"},
		{"PATCH", "/api/admin/canned/" + id, `{"shortcut":"BAD!"}`, 400, "invalid"},
		{"PATCH", "/api/admin/canned/nope", `{"text":"x"}`, 404, "not_found"},
		{"DELETE", "/api/admin/canned/nope", "", 404, "not_found"},
	} {
		if ans := e.do(tc.method, tc.path, tc.body, tok); ans.status != tc.status || ans.code() != tc.code {
			t.Errorf("%s %s %.60s: %d %.200s, want %d %s", tc.method, tc.path, tc.body, ans.status, ans.raw, tc.status, tc.code)
		}
	}
	if ans := e.do("PATCH", "/api/admin/canned/"+id, `{"text":"Refunded."}`, tok); ans.status != 200 || ans.body["shortcut"] != "refund" || ans.body["text"] != "Refunded." {
		t.Errorf("patch the text: %d %s", ans.status, ans.raw)
	}
	list := e.do("GET", "/api/agent/canned", "", e.login("ada"))
	if items, _ := list.body["canned"].([]any); list.status != 200 || len(items) != 1 || items[0].(map[string]any)["text"] != "Refunded." {
		t.Errorf("after the bad requests: %d %s, want the one canned response, patched", list.status, list.raw)
	}
	if ans := e.do("DELETE", "/api/admin/canned/"+id, "", tok); ans.status != http.StatusNoContent {
		t.Errorf("delete: %d %s", ans.status, ans.raw)
	}
	if list := e.do("GET", "/api/agent/canned", "", tok); list.raw != "{\"canned\":[]}\n" {
		t.Errorf("after delete: %s", list.raw)
	}
}
