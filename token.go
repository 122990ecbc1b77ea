package helpline

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"strconv"
	"strings"
	"time"
)

// TokenKind says what a signed token authorises; a token of one kind is
// never accepted as another.
type TokenKind byte

// Token kinds.
const (
	ParticipantToken TokenKind = 'p' // CreateParticipantConnection
	ConnectionToken  TokenKind = 'c' // the other participant calls
	WebSocketToken   TokenKind = 'w' // one WebSocket URL
	UploadToken      TokenKind = 'u' // one attachment upload URL
	DownloadToken    TokenKind = 'd' // one attachment download URL
	PageToken        TokenKind = 't' // a GetTranscript NextToken
)

// Tokens signs and verifies opaque bearer tokens: the kind, an expiry and
// a subject, with an HMAC-SHA256 tag over them. Tokens are stateless; what
// they name (a participant, an attachment) is checked against the store by
// the caller.
type Tokens struct {
	key []byte
}

// NewTokens returns a signer keyed with key, which should be 32 random
// bytes shared by every node.
func NewTokens(key []byte) *Tokens { return &Tokens{key: key} }

var tokenEncoding = base64.RawURLEncoding

// Sign returns a token of kind for subject that expires at expires.
func (t *Tokens) Sign(kind TokenKind, subject string, expires time.Time) string {
	payload := string(kind) + strconv.FormatInt(expires.UnixMilli(), 36) + "." + subject
	return tokenEncoding.EncodeToString([]byte(payload)) + "." + tokenEncoding.EncodeToString(t.mac(payload))
}

// Verify returns the subject and expiry of a token of kind that is intact
// and not expired at now. Anything else is EFORBIDDEN.
func (t *Tokens) Verify(kind TokenKind, token string, now time.Time) (subject string, expires time.Time, err error) {
	denied := &Error{Code: EFORBIDDEN, Message: "Invalid or expired token."}
	enc, tag, ok := strings.Cut(token, ".")
	if !ok {
		return "", time.Time{}, denied
	}
	raw, err1 := tokenEncoding.DecodeString(enc)
	gotMAC, err2 := tokenEncoding.DecodeString(tag)
	if err1 != nil || err2 != nil || !hmac.Equal(gotMAC, t.mac(string(raw))) {
		return "", time.Time{}, denied
	}
	payload := string(raw)
	if len(payload) < 2 || TokenKind(payload[0]) != kind {
		return "", time.Time{}, denied
	}
	exp, subject, ok := strings.Cut(payload[1:], ".")
	ms, err := strconv.ParseInt(exp, 36, 64)
	if !ok || err != nil {
		return "", time.Time{}, denied
	}
	expires = time.UnixMilli(ms).UTC()
	if !now.Before(expires) {
		return "", time.Time{}, denied
	}
	return subject, expires, nil
}

func (t *Tokens) mac(payload string) []byte {
	h := hmac.New(sha256.New, t.key)
	h.Write([]byte(payload))
	return h.Sum(nil)[:20]
}

// TokenExpiry returns the expiry that token carries, without verifying it.
// It lets a transport tell a client when a token it has just been issued
// stops working; it must never be used to authorise anything.
func TokenExpiry(token string) (time.Time, bool) {
	enc, _, ok := strings.Cut(token, ".")
	if !ok {
		return time.Time{}, false
	}
	raw, err := tokenEncoding.DecodeString(enc)
	if err != nil || len(raw) < 2 {
		return time.Time{}, false
	}
	exp, _, ok := strings.Cut(string(raw[1:]), ".")
	ms, err := strconv.ParseInt(exp, 36, 64)
	if !ok || err != nil {
		return time.Time{}, false
	}
	return time.UnixMilli(ms).UTC(), true
}
