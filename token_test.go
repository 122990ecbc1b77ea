package helpline_test

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
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

// The tag is HMAC-SHA256 (truncated to 20 bytes) as crypto/hmac computes
// it, for short, block-sized and long keys; and a valid token is verified
// with one allocation, its subject.
func TestTokenTagIsHMAC(t *testing.T) {
	expires := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	for _, key := range []string{"k", strings.Repeat("b", 64), strings.Repeat("long key ", 20)} {
		tok := helpline.NewTokens([]byte(key)).Sign(helpline.ConnectionToken, "participant-1", expires)
		enc, tag, _ := strings.Cut(tok, ".")
		payload, _ := base64.RawURLEncoding.DecodeString(enc)
		h := hmac.New(sha256.New, []byte(key))
		h.Write(payload)
		if want := base64.RawURLEncoding.EncodeToString(h.Sum(nil)[:20]); tag != want {
			t.Errorf("key of %d bytes: tag %s, want %s", len(key), tag, want)
		}
	}
	tokens := helpline.NewTokens([]byte("0123456789abcdef0123456789abcdef"))
	tok := tokens.Sign(helpline.ConnectionToken, "0d6f8a52-7c1e-4b8e-9a41-2f0c3d5e6a7b", expires)
	allocs := testing.AllocsPerRun(100, func() {
		if _, _, err := tokens.Verify(helpline.ConnectionToken, tok, expires.Add(-time.Minute)); err != nil {
			t.Fatal(err)
		}
	})
	if allocs > 1 {
		t.Errorf("Verify allocates %.0f times, want at most 1", allocs)
	}
}
