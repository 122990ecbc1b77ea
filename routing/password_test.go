package routing_test

import (
	"strings"
	"testing"

	"github.com/helplinehq/helpline"
	"github.com/helplinehq/helpline/routing"
)

func TestPassword(t *testing.T) {
	h, err := routing.HashPassword("correct horse")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(h, "$argon2id$v=19$m=19456,t=2,p=1$") {
		t.Errorf("hash %q is not Argon2id with the baseline parameters", h)
	}
	if !routing.CheckPassword(h, "correct horse") {
		t.Error("the password does not match its hash")
	}
	for _, wrong := range []string{"correct horsf", "", "correct horse "} {
		if routing.CheckPassword(h, wrong) {
			t.Errorf("%q matches the hash of another password", wrong)
		}
	}
	if h2, _ := routing.HashPassword("correct horse"); h2 == h {
		t.Error("two hashes of one password are equal: no salt")
	}
	for _, bad := range []string{"", "plain", "$argon2id$v=19$m=0,t=2,p=1$c2FsdA$a2V5", strings.Replace(h, "argon2id", "argon2i", 1)} {
		if routing.CheckPassword(bad, "correct horse") {
			t.Errorf("malformed hash %q matches", bad)
		}
	}
	for _, p := range []string{"short", strings.Repeat("x", routing.MaxPasswordLength+1)} {
		if _, err := routing.HashPassword(p); helpline.ErrorCode(err) != helpline.EINVALID {
			t.Errorf("HashPassword of %d bytes: %v, want EINVALID", len(p), err)
		}
	}
}
