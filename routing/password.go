package routing

import (
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"fmt"
	"strings"

	"golang.org/x/crypto/argon2"

	"github.com/helplinehq/helpline"
)

// Agents' passwords are hashed with Argon2id, the first choice of the
// OWASP password storage guidance and the winner of the Password Hashing
// Competition: memory-hard, so that guessing on graphics cards costs
// memory as well as time, and without bcrypt's silent cut of passwords at
// 72 bytes. The parameters are OWASP's baseline (19 MiB, 2 passes, 1
// thread), which keeps a login to some tens of milliseconds on a small
// node; they are stored in each hash, so they can be raised later without
// invalidating old hashes.
const (
	argonMemory  = 19 * 1024 // KiB
	argonTime    = 2
	argonThreads = 1
	argonKeyLen  = 32
	saltLen      = 16
	// MinPasswordLength and MaxPasswordLength bound agents' passwords.
	MinPasswordLength = 8
	MaxPasswordLength = 1024
)

// HashPassword returns the encoded Argon2id hash of password, in the PHC
// string format ($argon2id$v=19$m=…,t=…,p=…$salt$hash). It returns
// EINVALID for a password shorter than MinPasswordLength or longer than
// MaxPasswordLength bytes.
func HashPassword(password string) (string, error) {
	if len(password) < MinPasswordLength || len(password) > MaxPasswordLength {
		return "", helpline.Errorf(helpline.EINVALID, "A password has %d to %d characters.", MinPasswordLength, MaxPasswordLength)
	}
	salt := make([]byte, saltLen)
	if _, err := rand.Read(salt); err != nil {
		return "", err
	}
	key := argon2.IDKey([]byte(password), salt, argonTime, argonMemory, argonThreads, argonKeyLen)
	b64 := base64.RawStdEncoding
	return fmt.Sprintf("$argon2id$v=%d$m=%d,t=%d,p=%d$%s$%s", argon2.Version, argonMemory, argonTime, argonThreads,
		b64.EncodeToString(salt), b64.EncodeToString(key)), nil
}

// CheckPassword reports whether password matches the encoded hash, in
// constant time. A malformed or empty hash matches nothing.
func CheckPassword(hash, password string) bool {
	parts := strings.Split(hash, "$")
	if len(parts) != 6 || parts[1] != "argon2id" || len(password) > MaxPasswordLength {
		return false
	}
	var version int
	var memory, passes uint32
	var threads uint8
	if _, err := fmt.Sscanf(parts[2], "v=%d", &version); err != nil || version != argon2.Version {
		return false
	}
	if _, err := fmt.Sscanf(parts[3], "m=%d,t=%d,p=%d", &memory, &passes, &threads); err != nil ||
		memory == 0 || memory > 1<<20 || passes == 0 || passes > 16 || threads == 0 {
		return false
	}
	b64 := base64.RawStdEncoding
	salt, err1 := b64.DecodeString(parts[4])
	key, err2 := b64.DecodeString(parts[5])
	if err1 != nil || err2 != nil || len(key) == 0 || len(key) > 64 {
		return false
	}
	got := argon2.IDKey([]byte(password), salt, passes, memory, threads, uint32(len(key)))
	return subtle.ConstantTimeCompare(got, key) == 1
}
