package storetest

import (
	"context"
	"testing"
	"time"

	"github.com/helplinehq/helpline"
)

func testSessions(t *testing.T, open func(t *testing.T) helpline.Store) {
	ctx := context.Background()
	s, _ := routingSetup(t, open)
	sess := &helpline.AgentSession{ID: helpline.SecretHash("secret-1"), InstanceID: "i1", AgentID: "ada",
		CreatedAt: at(0), SeenAt: at(0), ExpiresAt: at(time.Hour)}
	if err := s.CreateSession(ctx, sess); err != nil {
		t.Fatalf("CreateSession: %v", err)
	}
	got, err := s.FindSession(ctx, sess.ID)
	if err != nil || got.AgentID != "ada" || got.InstanceID != "i1" || !got.CreatedAt.Equal(at(0)) || !got.ExpiresAt.Equal(at(time.Hour)) {
		t.Fatalf("FindSession = %+v, %v", got, err)
	}
	if err := s.CreateSession(ctx, sess); helpline.ErrorCode(err) != helpline.ECONFLICT {
		t.Errorf("CreateSession with an id in use: %v, want conflict", err)
	}
	for _, bad := range []*helpline.AgentSession{
		{InstanceID: "i1", AgentID: "ada"},
		{ID: "x", AgentID: "ada"},
	} {
		if err := s.CreateSession(ctx, bad); helpline.ErrorCode(err) != helpline.EINVALID {
			t.Errorf("CreateSession(%+v): %v, want invalid", bad, err)
		}
	}
	if err := s.CreateSession(ctx, &helpline.AgentSession{ID: "y", InstanceID: "i1", AgentID: "nobody", CreatedAt: at(0), ExpiresAt: at(time.Hour)}); helpline.ErrorCode(err) != helpline.ENOTFOUND {
		t.Errorf("CreateSession for an unknown agent: %v, want not_found", err)
	}

	// TouchSession only moves SeenAt forward.
	if err := s.TouchSession(ctx, sess.ID, at(10*time.Minute)); err != nil {
		t.Fatalf("TouchSession: %v", err)
	}
	if err := s.TouchSession(ctx, sess.ID, at(5*time.Minute)); err != nil {
		t.Fatalf("TouchSession earlier: %v", err)
	}
	if got, _ := s.FindSession(ctx, sess.ID); !got.SeenAt.Equal(at(10 * time.Minute)) {
		t.Errorf("SeenAt = %v, want the later touch %v", got.SeenAt, at(10*time.Minute))
	}
	if err := s.TouchSession(ctx, "nope", at(0)); helpline.ErrorCode(err) != helpline.ENOTFOUND {
		t.Errorf("TouchSession unknown: %v, want not_found", err)
	}

	// A new session prunes the sessions expired at its creation.
	later := &helpline.AgentSession{ID: helpline.SecretHash("secret-2"), InstanceID: "i1", AgentID: "bob",
		CreatedAt: at(time.Hour), SeenAt: at(time.Hour), ExpiresAt: at(2 * time.Hour)}
	if err := s.CreateSession(ctx, later); err != nil {
		t.Fatal(err)
	}
	if _, err := s.FindSession(ctx, sess.ID); helpline.ErrorCode(err) != helpline.ENOTFOUND {
		t.Errorf("session expired when another was created: %v, want not_found", err)
	}

	// DeleteSession deletes, and deleting again is no error.
	for i := 0; i < 2; i++ {
		if err := s.DeleteSession(ctx, later.ID); err != nil {
			t.Errorf("DeleteSession #%d: %v", i+1, err)
		}
	}
	if _, err := s.FindSession(ctx, later.ID); helpline.ErrorCode(err) != helpline.ENOTFOUND {
		t.Errorf("deleted session: %v, want not_found", err)
	}

	// DeleteAgentSessions ends one agent's sessions of one instance, all
	// but the one named.
	if err := s.SaveInstance(ctx, &helpline.Instance{ID: "i2", Name: "i2"}); err != nil {
		t.Fatal(err)
	}
	if err := s.CreateAgent(ctx, &helpline.Agent{InstanceID: "i2", ID: "ada", Email: "ada@example.com", Enabled: true, CreatedAt: base}); err != nil {
		t.Fatal(err)
	}
	sessionOf := func(secret, instance, agent string) string {
		t.Helper()
		ss := &helpline.AgentSession{ID: helpline.SecretHash(secret), InstanceID: instance, AgentID: agent,
			CreatedAt: at(time.Hour), SeenAt: at(time.Hour), ExpiresAt: at(3 * time.Hour)}
		if err := s.CreateSession(ctx, ss); err != nil {
			t.Fatal(err)
		}
		return ss.ID
	}
	ada1, ada2, ada3 := sessionOf("ada-1", "i1", "ada"), sessionOf("ada-2", "i1", "ada"), sessionOf("ada-3", "i1", "ada")
	bob, adaI2 := sessionOf("bob-1", "i1", "bob"), sessionOf("ada-i2", "i2", "ada")
	if err := s.DeleteAgentSessions(ctx, "i1", "ada", ada2); err != nil {
		t.Fatalf("DeleteAgentSessions: %v", err)
	}
	for id, want := range map[string]bool{ada1: false, ada2: true, ada3: false, bob: true, adaI2: true} {
		if _, err := s.FindSession(ctx, id); (err == nil) != want {
			t.Errorf("after DeleteAgentSessions(i1, ada, but one): session found = %v (%v), want %v", err == nil, err, want)
		}
	}
	if err := s.DeleteAgentSessions(ctx, "i1", "ada", ""); err != nil {
		t.Fatal(err)
	} else if _, err := s.FindSession(ctx, ada2); helpline.ErrorCode(err) != helpline.ENOTFOUND {
		t.Errorf("DeleteAgentSessions without an exception left %v", err)
	}
	if err := s.DeleteAgentSessions(ctx, "i1", "nobody", ""); err != nil {
		t.Errorf("DeleteAgentSessions of an agent without sessions: %v", err)
	}
}

func testAPITokens(t *testing.T, open func(t *testing.T) helpline.Store) {
	ctx := context.Background()
	s, _ := routingSetup(t, open)
	if err := s.SaveInstance(ctx, &helpline.Instance{ID: "i2", Name: "i2"}); err != nil {
		t.Fatal(err)
	}
	tok, secret, err := helpline.NewAPIToken("i1", helpline.AgentRoleAdmin, "deploy bot", "cli", at(0))
	if err != nil {
		t.Fatal(err)
	}
	if err := s.CreateAPIToken(ctx, tok); err != nil {
		t.Fatalf("CreateAPIToken: %v", err)
	}
	got, err := s.FindAPITokenByHash(ctx, helpline.SecretHash(secret))
	if err != nil || got.ID != tok.ID || got.Role != helpline.AgentRoleAdmin || got.Name != "deploy bot" || got.CreatedBy != "cli" ||
		!got.CreatedAt.Equal(at(0)) || !got.RevokedAt.IsZero() {
		t.Fatalf("FindAPITokenByHash = %+v, %v", got, err)
	}
	if _, err := s.FindAPITokenByHash(ctx, helpline.SecretHash("other")); helpline.ErrorCode(err) != helpline.ENOTFOUND {
		t.Errorf("unknown hash: %v, want not_found", err)
	}
	if err := s.CreateAPIToken(ctx, tok); helpline.ErrorCode(err) != helpline.ECONFLICT {
		t.Errorf("token created twice: %v, want conflict", err)
	}
	for _, bad := range []*helpline.APIToken{
		{ID: "b1", Hash: "h1", InstanceID: "i1", Role: "root"},
		{ID: "b2", Hash: "h2", Role: helpline.AgentRoleAgent},
		{InstanceID: "i1", Role: helpline.AgentRoleAgent},
	} {
		if err := s.CreateAPIToken(ctx, bad); helpline.ErrorCode(err) != helpline.EINVALID {
			t.Errorf("CreateAPIToken(%+v): %v, want invalid", bad, err)
		}
	}
	if err := s.CreateAPIToken(ctx, &helpline.APIToken{ID: "b3", Hash: "h3", InstanceID: "nope", Role: helpline.AgentRoleAgent}); helpline.ErrorCode(err) != helpline.ENOTFOUND {
		t.Errorf("token of an unknown instance: %v, want not_found", err)
	}

	second, _, _ := helpline.NewAPIToken("i1", helpline.AgentRoleAgent, "", "agent:ada", at(time.Minute))
	other, _, _ := helpline.NewAPIToken("i2", helpline.AgentRoleAgent, "", "cli", at(0))
	for _, x := range []*helpline.APIToken{second, other} {
		if err := s.CreateAPIToken(ctx, x); err != nil {
			t.Fatal(err)
		}
	}
	list, err := s.FindAPITokens(ctx, "i1")
	if err != nil || len(list) != 2 || list[0].ID != tok.ID || list[1].ID != second.ID {
		t.Fatalf("FindAPITokens(i1) = %v, %v; want the two of i1, oldest first", list, err)
	}

	// Revoking: another instance's token is not found; a second revoke
	// keeps the first time.
	if err := s.RevokeAPIToken(ctx, "i2", tok.ID, at(time.Hour)); helpline.ErrorCode(err) != helpline.ENOTFOUND {
		t.Errorf("revoke through another instance: %v, want not_found", err)
	}
	if err := s.RevokeAPIToken(ctx, "i1", tok.ID, at(time.Hour)); err != nil {
		t.Fatalf("RevokeAPIToken: %v", err)
	}
	if err := s.RevokeAPIToken(ctx, "i1", tok.ID, at(2*time.Hour)); err != nil {
		t.Fatalf("RevokeAPIToken again: %v", err)
	}
	if got, _ := s.FindAPITokenByHash(ctx, tok.Hash); !got.RevokedAt.Equal(at(time.Hour)) {
		t.Errorf("RevokedAt = %v, want the first revocation %v", got.RevokedAt, at(time.Hour))
	}
	if err := s.RevokeAPIToken(ctx, "i1", "nope", at(0)); helpline.ErrorCode(err) != helpline.ENOTFOUND {
		t.Errorf("revoke unknown: %v, want not_found", err)
	}
}
