package app

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// The shipped defaults decode; a file that is missing, has an unknown
// field or fails the intents' check is refused with its name.
func TestLoadBotFiles(t *testing.T) {
	if _, err := NewClassifier(""); err != nil {
		t.Fatal(err)
	}
	p, err := LoadPolicies("")
	if err != nil || p.Handoff.Queue == "" || p.Answers["return_refund"] == "" {
		t.Fatalf("default policies %+v, %v", p, err)
	}
	dir := t.TempDir()
	unknown := filepath.Join(dir, "policies.yaml")
	os.WriteFile(unknown, []byte("handof:\n  queue: x\n"), 0o600)
	if _, err := LoadPolicies(unknown); err == nil || !strings.Contains(err.Error(), "policies.yaml") {
		t.Errorf("unknown field: %v", err)
	}
	one := filepath.Join(dir, "intents.yaml")
	os.WriteFile(one, []byte("intents:\n  - name: a\n    examples: [x]\n"), 0o600)
	if _, err := LoadIntents(one); err == nil {
		t.Error("a single intent was accepted")
	}
	if _, err := LoadIntents(filepath.Join(dir, "missing.yaml")); err == nil {
		t.Error("a missing file was accepted")
	}
}
