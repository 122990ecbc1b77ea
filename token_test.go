package helpline_test

import (
	"strings"
	"testing"
	"time"

	"github.com/helplinehq/helpline"
)

func TestTokens(t *testing.T) {
	now := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	tokens := helpline.NewTokens([]byte("0123456789abcdef0123456789abcdef"))
	tok := tokens.Sign(helpline.ConnectionToken, "participant-1", now.Add(time.Hour))

	subject, expires, err := tokens.Verify(helpline.ConnectionToken, tok, now)
	if err != nil || subject != "participant-1" || !expires.Equal(now.Add(time.Hour)) {
		t.Fatalf("Verify = %q, %v, %v", subject, expires, err)
	}

	other := helpline.NewTokens([]byte("another key, another key, 32 by"))
	refused := map[string]struct {
		kind  helpline.TokenKind
		token string
		now   time.Time
		by    *helpline.Tokens
	}{
		"other kind":     {helpline.ParticipantToken, tok, now, tokens},
		"expired":        {helpline.ConnectionToken, tok, now.Add(time.Hour), tokens},
		"other key":      {helpline.ConnectionToken, tok, now, other},
		"tampered":       {helpline.ConnectionToken, "x" + tok[1:], now, tokens},
		"truncated tag":  {helpline.ConnectionToken, tok[:len(tok)-2], now, tokens},
		"no tag":         {helpline.ConnectionToken, strings.Split(tok, ".")[0], now, tokens},
		"empty":          {helpline.ConnectionToken, "", now, tokens},
		"garbage":        {helpline.ConnectionToken, "..!!", now, tokens},
		"swapped parts":  {helpline.ConnectionToken, strings.Split(tok, ".")[1] + "." + strings.Split(tok, ".")[0], now, tokens},
		"empty subject+": {helpline.ConnectionToken, tokens.Sign(helpline.ConnectionToken, "", now.Add(-time.Second)), now, tokens},
	}
	for name, c := range refused {
		if _, _, err := c.by.Verify(c.kind, c.token, c.now); helpline.ErrorCode(err) != helpline.EFORBIDDEN {
			t.Errorf("%s: err = %v, want %s", name, err, helpline.EFORBIDDEN)
		}
	}
}

func TestNewID(t *testing.T) {
	seen := map[string]bool{}
	for range 1000 {
		id := helpline.NewID()
		if len(id) != 36 || id[14] != '4' || !strings.ContainsRune("89ab", rune(id[19])) || seen[id] {
			t.Fatalf("bad or repeated UUID %q", id)
		}
		seen[id] = true
	}
}
