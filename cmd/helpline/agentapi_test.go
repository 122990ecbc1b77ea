package main

import (
	"encoding/json"
	"io"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
)

// The agent API end to end: an admin made with the CLI logs in to a
// running server, a token made with the CLI works until the CLI revokes
// it, and the access log holds no password, cookie or token.
func TestServeAgentAPI(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "data")
	const password = "a long admin password"
	t.Setenv("HELPLINE_AGENT_PASSWORD", password)
	t.Setenv("HELPLINE_API_TOKEN", "")
	if out, err := helplineCmd(t, dir, "agents", "add", "-email", "root@example.com", "-role", "admin"); err != nil {
		t.Fatalf("agents add: %v\n%s", err, out)
	}
	out, err := helplineCmd(t, dir, "tokens", "create", "-role", "admin", "-name", "ci")
	lines := strings.Split(strings.TrimSpace(out), "\n")
	cliToken := lines[len(lines)-1]
	if err != nil || !strings.HasPrefix(cliToken, "hlt_") {
		t.Fatalf("tokens create: %v\n%s", err, out)
	}
	tokenID := strings.Fields(lines[0])[1]
	if out, _ := helplineCmd(t, dir, "tokens", "list"); !strings.Contains(out, tokenID) || !strings.Contains(out, "ci") || strings.Contains(out, cliToken) {
		t.Errorf("tokens list:\n%s\nwant the token without its secret", out)
	}
	if _, err := helplineCmd(t, dir, "tokens", "create", "-role", "root"); err == nil || !strings.Contains(err.Error(), "root") {
		t.Errorf("tokens create -role root: %v, want an error naming the role", err)
	}

	s := startServe(t, "--data", dir)
	base := strings.TrimSuffix(s.url(), "/")
	call := func(method, path, body string, h map[string]string) (*http.Response, map[string]any) {
		t.Helper()
		req, _ := http.NewRequest(method, base+path, strings.NewReader(body))
		if body != "" {
			req.Header.Set("Content-Type", "application/json")
		}
		for k, v := range h {
			req.Header.Set(k, v)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		raw, _ := io.ReadAll(resp.Body)
		var m map[string]any
		json.Unmarshal(raw, &m)
		return resp, m
	}

	if resp, _ := call("POST", "/api/agent/login", `{"email":"root@example.com","password":"wrong password"}`, nil); resp.StatusCode != 401 {
		t.Errorf("wrong password: %d", resp.StatusCode)
	}
	resp, me := call("POST", "/api/agent/login", `{"email":"root@example.com","password":"`+password+`"}`, nil)
	var cookie *http.Cookie
	for _, c := range resp.Cookies() {
		if c.Name == "helpline_session" {
			cookie = c
		}
	}
	csrf, _ := me["csrf_token"].(string)
	if resp.StatusCode != 200 || cookie == nil || !cookie.HttpOnly || csrf == "" {
		t.Fatalf("login: %d %v cookie %v", resp.StatusCode, me, cookie)
	}
	session := map[string]string{"Cookie": cookie.Name + "=" + cookie.Value}
	if resp, _ := call("PUT", "/api/agent/presence", `{"status":"online"}`, session); resp.StatusCode != 403 {
		t.Errorf("presence without the CSRF token: %d, want 403", resp.StatusCode)
	}
	session["X-CSRF-Token"] = csrf
	if resp, body := call("PUT", "/api/agent/presence", `{"status":"online"}`, session); resp.StatusCode != 200 || body["status"] != "online" {
		t.Errorf("presence: %d %v", resp.StatusCode, body)
	}
	resp, created := call("POST", "/api/admin/tokens", `{"role":"agent","name":"bot"}`, session)
	apiToken, _ := created["secret"].(string)
	if resp.StatusCode != 201 || apiToken == "" {
		t.Fatalf("create token: %d %v", resp.StatusCode, created)
	}

	bearer := map[string]string{"Authorization": "Bearer " + cliToken}
	if resp, body := call("GET", "/api/admin/tokens", "", bearer); resp.StatusCode != 200 || len(body["tokens"].([]any)) != 2 {
		t.Errorf("list with the CLI's token: %d %v", resp.StatusCode, body)
	}
	// The operator API keeps its own token: none configured, it is off.
	if resp, _ := call("GET", "/admin/mirror/pairs", "", bearer); resp.StatusCode != 404 {
		t.Errorf("/admin with an agent API token: %d, want 404", resp.StatusCode)
	}
	if out, err := helplineCmd(t, dir, "tokens", "revoke", "-id", tokenID); err != nil {
		t.Fatalf("tokens revoke: %v\n%s", err, out)
	}
	if resp, _ := call("GET", "/api/agent/me", "", bearer); resp.StatusCode != 401 {
		t.Errorf("revoked token: %d, want 401", resp.StatusCode)
	}
	if resp, _ := call("POST", "/api/agent/logout", "", session); resp.StatusCode != 204 {
		t.Errorf("logout: %d", resp.StatusCode)
	}
	if resp, _ := call("GET", "/api/agent/me", "", session); resp.StatusCode != 401 {
		t.Errorf("after logout: %d, want 401", resp.StatusCode)
	}

	s.shutdown(t)
	logs := s.logs.String()
	if !strings.Contains(logs, "/api/agent/login") {
		t.Fatalf("the access log has no login request:\n%s", logs)
	}
	for name, secret := range map[string]string{"password": password, "wrong password": "wrong password", "session cookie": cookie.Value,
		"CSRF token": csrf, "CLI token": cliToken, "API token": apiToken} {
		if strings.Contains(logs, secret) {
			t.Errorf("the log contains the %s", name)
		}
	}
}
