package main

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
)

// On a data directory without agents the banner prints the command that
// creates the first admin; the command, run as printed, makes an admin
// who logs in, and the next start prints it no more.
func TestServeFirstAgentBanner(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "helpline data") // a path the command must quote
	t.Setenv("HELPLINE_AGENT_PASSWORD", "")
	s := startServe(t, "--data", dir)
	if !strings.HasPrefix(s.banner["Agents"], "none yet") {
		t.Fatalf("banner of a fresh data directory: %q, want the agents line\n%s", s.banner["Agents"], strings.Join(s.lines, "\n"))
	}
	var command string
	for i, l := range s.lines {
		if strings.HasPrefix(strings.TrimSpace(l), "Agents:") && i+1 < len(s.lines) {
			command = strings.TrimSpace(s.lines[i+1])
		}
	}
	s.shutdown(t)

	// Run it as a shell would: VAR='value' helpline args…
	words := shellWords(t, command)
	env, value, _ := strings.Cut(words[0], "=")
	if env != "HELPLINE_AGENT_PASSWORD" || words[1] != "helpline" {
		t.Fatalf("command %q: want HELPLINE_AGENT_PASSWORD=… helpline …", command)
	}
	t.Setenv(env, value)
	var out, errOut bytes.Buffer
	if err := run(context.Background(), words[2:], &out, &errOut); err != nil {
		t.Fatalf("%s: %v\n%s%s", command, err, out.String(), errOut.String())
	}

	s = startServe(t, "--data", dir)
	if _, ok := s.banner["Agents"]; ok {
		t.Errorf("banner once an agent exists still has %q", s.banner["Agents"])
	}
	body, _ := json.Marshal(map[string]string{"email": "you@example.com", "password": value})
	res, err := http.Post(s.url()+"/api/agent/login", "application/json", bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	var me struct{ Role string }
	json.NewDecoder(res.Body).Decode(&me)
	if res.StatusCode != 200 || me.Role != "admin" {
		t.Errorf("login as the admin the banner's command made: %d, role %q", res.StatusCode, me.Role)
	}
	if strings.Contains(s.logs.String(), value) {
		t.Error("the log holds the password")
	}
}

// shellWords splits a command line into words as a POSIX shell does for
// plain words and single quotes, all the banner uses.
func shellWords(t *testing.T, line string) []string {
	t.Helper()
	var words []string
	var w strings.Builder
	inWord, quoted := false, false
	for _, r := range line {
		switch {
		case quoted && r == '\'':
			quoted = false
		case quoted:
			w.WriteRune(r)
		case r == '\'':
			quoted, inWord = true, true
		case r == ' ':
			if inWord {
				words = append(words, w.String())
				w.Reset()
				inWord = false
			}
		case strings.ContainsRune(`"\$`+"`", r):
			t.Fatalf("command %q has %q, which this test does not parse", line, r)
		default:
			w.WriteRune(r)
			inWord = true
		}
	}
	if quoted {
		t.Fatalf("command %q: unterminated quote", line)
	}
	if inWord {
		words = append(words, w.String())
	}
	return words
}
