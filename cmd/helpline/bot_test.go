package main

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// helpline bot classify prints one JSON object per input line, blank and
// invalid lines included, in input order.
func TestBotClassify(t *testing.T) {
	old := stdin
	t.Cleanup(func() { stdin = old })
	stdin = strings.NewReader("where is my order #884421? my email is ada@example.com\n\nrefund $250\n\xff\xfe\ni want to talk to a human")
	var out, errOut bytes.Buffer
	if err := run(context.Background(), []string{"bot", "classify"}, &out, &errOut); err != nil {
		t.Fatalf("%v: %s", err, errOut.String())
	}
	lines := strings.Split(strings.TrimSuffix(out.String(), "\n"), "\n")
	want := []struct {
		intent   string
		entities string
	}{
		{"order_status", `{"email":"ada@example.com","order_number":"884421"}`},
		{"fallback", `{}`},
		{"return_refund", `{"amount":"250"}`},
		{"fallback", `{}`},
		{"human_agent", `{}`},
	}
	if len(lines) != len(want) {
		t.Fatalf("%d lines, want %d:\n%s", len(lines), len(want), out.String())
	}
	for i, line := range lines {
		var r struct {
			Text       *string
			Intent     string
			Confidence *float64
			Entities   json.RawMessage
		}
		if err := json.Unmarshal([]byte(line), &r); err != nil {
			t.Fatalf("line %d %q: %v", i+1, line, err)
		}
		if r.Text == nil || r.Confidence == nil || r.Intent != want[i].intent || string(r.Entities) != want[i].entities {
			t.Errorf("line %d: %s, want intent %s and entities %s", i+1, line, want[i].intent, want[i].entities)
		}
	}
}

// A replaced intents file is used; a broken one is refused with its name.
func TestBotClassifyIntentsFile(t *testing.T) {
	old := stdin
	t.Cleanup(func() { stdin = old })
	dir := t.TempDir()
	good := filepath.Join(dir, "intents.yaml")
	os.WriteFile(good, []byte("threshold: 0.3\nintents:\n  - name: yes\n    examples: [yes, sure, ok]\n  - name: no\n    examples: [no, nope, never]\n"), 0o600)
	stdin = strings.NewReader("nope\n")
	var out, errOut bytes.Buffer
	if err := run(context.Background(), []string{"bot", "classify", "-intents", good}, &out, &errOut); err != nil {
		t.Fatalf("%v: %s", err, errOut.String())
	}
	if !strings.Contains(out.String(), `"intent":"no"`) {
		t.Errorf("output %s, want intent no", out.String())
	}
	bad := filepath.Join(dir, "bad.yaml")
	os.WriteFile(bad, []byte("intents:\n  - name: yes\n    phrases: [yes]\n"), 0o600)
	err := run(context.Background(), []string{"bot", "classify", "-intents", bad}, &out, &errOut)
	if err == nil || !strings.Contains(err.Error(), "bad.yaml") {
		t.Errorf("broken intents file: %v", err)
	}
	if err := run(context.Background(), []string{"bot"}, &out, &errOut); err == nil {
		t.Error("bot without a subcommand did not fail")
	}
}
