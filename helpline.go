// Package helpline holds Helpline's vocabulary: the domain types (instance,
// contact, participant, item), the error codes, and the interfaces that the
// engine, the stores, the buses and the transports meet at.
//
// It imports only the standard library. Concrete implementations live in
// sub-packages (sqlite, inmem, chat, connectapi, ...) and are wired together
// only by cmd/helpline.
package helpline

import (
	"crypto/rand"
	"encoding/hex"
	"time"
)

// TimeFormat is the wire form of every timestamp in the Connect APIs:
// UTC with milliseconds, e.g. 2019-11-08T02:41:28.172Z.
const TimeFormat = "2006-01-02T15:04:05.000Z"

// FormatTime renders t in TimeFormat.
func FormatTime(t time.Time) string { return t.UTC().Format(TimeFormat) }

// Now returns the current time truncated to milliseconds, the precision of
// every stored and transmitted timestamp.
func Now() time.Time { return time.Now().UTC().Truncate(time.Millisecond) }

// NewID returns a random RFC 4122 version 4 UUID, the form Connect uses for
// contact, participant, item and attachment ids.
func NewID() string {
	var b [16]byte
	if _, err := rand.Read(b[:]); err != nil {
		panic("helpline: crypto/rand failed: " + err.Error())
	}
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	var s [36]byte
	hex.Encode(s[0:8], b[0:4])
	s[8] = '-'
	hex.Encode(s[9:13], b[4:6])
	s[13] = '-'
	hex.Encode(s[14:18], b[6:8])
	s[18] = '-'
	hex.Encode(s[19:23], b[8:10])
	s[23] = '-'
	hex.Encode(s[24:], b[10:])
	return string(s[:])
}
