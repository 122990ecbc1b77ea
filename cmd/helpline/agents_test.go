package main

import (
	"bytes"
	"context"
	"strings"
	"testing"
)

// helpline runs the command with args on the data directory dir and
// returns its output and error.
func helplineCmd(t *testing.T, dir string, args ...string) (string, error) {
	t.Helper()
	var out, errOut bytes.Buffer
	args = append(args, "-data", dir)
	err := run(context.Background(), args, &out, &errOut)
	return out.String() + errOut.String(), err
}

func TestAgentsAndQueuesCommands(t *testing.T) {
	dir := t.TempDir()
	mustRun := func(args ...string) string {
		t.Helper()
		out, err := helplineCmd(t, dir, args...)
		if err != nil {
			t.Fatalf("helpline %s: %v\n%s", strings.Join(args, " "), err, out)
		}
		return out
	}
	mustRun("queues", "add", "-id", "sales", "-routing", "round_robin", "-accept-within", "20s")
	if out := mustRun("queues", "list"); !strings.Contains(out, "sales") || !strings.Contains(out, "round_robin") || !strings.Contains(out, "20s") {
		t.Errorf("queues list:\n%s", out)
	}
	mustRun("queues", "add", "-id", "web", "-hours", "mon-fri 09:00-18:00,sat 10:00-13:00", "-time-zone", "Europe/Paris",
		"-holidays", "2025-12-25", "-away-message", "We open at nine.")
	mustRun("queues", "add", "-id", "night", "-hours", "sun 20:00-24:00", "-end-out-of-hours")
	out := mustRun("queues", "list")
	for _, want := range []string{
		"Europe/Paris mon 09:00-18:00,tue 09:00-18:00,wed 09:00-18:00,thu 09:00-18:00,fri 09:00-18:00,sat 10:00-13:00; closed 2025-12-25",
		`wait: "We open at nine."`, "UTC sun 20:00-24:00", "end", "always",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("queues list lacks %q:\n%s", want, out)
		}
	}
	t.Setenv("HELPLINE_AGENT_PASSWORD", "correct horse")
	mustRun("agents", "add", "-email", "Ada.L@example.com", "-queues", "sales", "-capacity", "5", "-role", "supervisor")
	out = mustRun("agents", "list")
	if !strings.Contains(out, "Ada-L") || !strings.Contains(out, "ada.l@example.com") || !strings.Contains(out, "supervisor") ||
		!strings.Contains(out, "5") || !strings.Contains(out, "true") {
		t.Errorf("agents list:\n%s", out)
	}
	mustRun("agents", "passwd", "-id", "Ada-L")
	mustRun("agents", "disable", "-id", "Ada-L")
	if out := mustRun("agents", "list"); !strings.Contains(out, "false") {
		t.Errorf("agents list after disable:\n%s", out)
	}

	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"agents", "add", "-email", "bob@example.com", "-capacity", "11"}, "capacity 11"},
		{[]string{"agents", "add", "-email", "ADA.L@example.com", "-id", "other"}, "already has the email"},
		{[]string{"agents", "add", "-email", "nope"}, "not an email"},
		{[]string{"agents", "passwd", "-id", "nobody"}, "agent nobody not found"},
		{[]string{"queues", "add", "-id", "x", "-routing", "random"}, "routing"},
		{[]string{"queues", "add", "-id", "x", "-hours", "weekdays 09:00-17:00"}, "is not written"},
		{[]string{"queues", "add", "-id", "x", "-hours", "mon 17:00-09:00"}, "from before to"},
		{[]string{"queues", "add", "-id", "x", "-hours", "mon 09:00-17:00", "-time-zone", "Mars/Olympus"}, "Unknown time zone"},
		{[]string{"queues", "add", "-id", "x", "-hours", "mon 09:00-17:00", "-holidays", "christmas"}, "Holiday"},
		{[]string{"queues", "add", "-id", "x", "-away-message", "closed"}, "need hours"},
		{[]string{"queues", "add", "-id", "x", "-end-out-of-hours"}, "need hours"},
		{[]string{"queues", "add", "-id", "x", "-time-zone", "Europe/Paris"}, "need -hours"},
	} {
		out, err := helplineCmd(t, dir, tc.args...)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("helpline %s: %v (%s), want an error saying %q", strings.Join(tc.args, " "), err, out, tc.want)
		}
	}
	if out := mustRun("queues", "list"); strings.Contains("\n"+out, "\nx ") {
		t.Errorf("a refused queue was saved:\n%s", out)
	}
	t.Setenv("HELPLINE_AGENT_PASSWORD", "short")
	if _, err := helplineCmd(t, dir, "agents", "passwd", "-id", "Ada-L"); err == nil || !strings.Contains(err.Error(), "password") {
		t.Errorf("passwd with a short password: %v, want refused", err)
	}
}
