package helpline

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"strconv"
	"strings"
	"time"
	"unsafe"
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
	// ipad and opad are the HMAC key blocks: the key, padded to SHA-256's
	// block size, XORed with 0x36 and 0x5c (RFC 2104).
	ipad, opad [sha256.BlockSize]byte
}

// NewTokens returns a signer keyed with key, which should be 32 random
// bytes shared by every node.
func NewTokens(key []byte) *Tokens {
	if len(key) > sha256.BlockSize {
		sum := sha256.Sum256(key)
		key = sum[:]
	}
	t := &Tokens{}
	copy(t.ipad[:], key)
	copy(t.opad[:], key)
	for i := range t.ipad {
		t.ipad[i] ^= 0x36
		t.opad[i] ^= 0x5c
	}
	return t
}

var tokenEncoding = base64.RawURLEncoding

// tagLen is the length of a token's tag: HMAC-SHA256 truncated to 160 bits.
const tagLen = 20

// Sign returns a token of kind for subject that expires at expires.
func (t *Tokens) Sign(kind TokenKind, subject string, expires time.Time) string {
	payload := string(kind) + strconv.FormatInt(expires.UnixMilli(), 36) + "." + subject
	tag := t.mac([]byte(payload))
	return tokenEncoding.EncodeToString([]byte(payload)) + "." + tokenEncoding.EncodeToString(tag[:tagLen])
}

// Verify returns the subject and expiry of a token of kind that is intact
// and not expired at now. Anything else is EFORBIDDEN. It runs on every
// request of a participant: short tokens are decoded and checked in
// buffers on the stack, and the subject is its only allocation.
func (t *Tokens) Verify(kind TokenKind, token string, now time.Time) (subject string, expires time.Time, err error) {
	denied := func() (string, time.Time, error) {
		return "", time.Time{}, &Error{Code: EFORBIDDEN, Message: "Invalid or expired token."}
	}
	enc, tag, ok := strings.Cut(token, ".")
	if !ok || tokenEncoding.DecodedLen(len(tag)) != tagLen {
		return denied()
	}
	var gotTag [tagLen]byte
	if n, err := tokenEncoding.Decode(gotTag[:], stringBytes(tag)); err != nil || n != tagLen {
		return denied()
	}
	var buf [256]byte
	raw, err := tokenEncoding.AppendDecode(buf[:0], stringBytes(enc))
	if err != nil {
		return denied()
	}
	want := t.mac(raw)
	if !hmac.Equal(gotTag[:], want[:tagLen]) || len(raw) < 2 || TokenKind(raw[0]) != kind {
		return denied()
	}
	dot := bytes.IndexByte(raw, '.')
	if dot < 0 {
		return denied()
	}
	ms, err := strconv.ParseInt(string(raw[1:dot]), 36, 64)
	if err != nil {
		return denied()
	}
	expires = time.UnixMilli(ms).UTC()
	if !now.Before(expires) {
		return denied()
	}
	return string(raw[dot+1:]), expires, nil
}

// mac returns the HMAC-SHA256 of payload under t's key (RFC 2104), with
// its inner and outer messages in buffers on the stack for short payloads.
func (t *Tokens) mac(payload []byte) [sha256.Size]byte {
	var ibuf [sha256.BlockSize + 256]byte
	inner := append(append(ibuf[:0], t.ipad[:]...), payload...)
	isum := sha256.Sum256(inner)
	var obuf [sha256.BlockSize + sha256.Size]byte
	copy(obuf[:], t.opad[:])
	copy(obuf[sha256.BlockSize:], isum[:])
	return sha256.Sum256(obuf[:])
}

// stringBytes returns the bytes of s without copying them, for a decoder
// that only reads its input.
func stringBytes(s string) []byte { return unsafe.Slice(unsafe.StringData(s), len(s)) }

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
