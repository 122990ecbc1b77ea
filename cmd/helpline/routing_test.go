package main

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/helplinehq/helpline"
	"github.com/helplinehq/helpline/sqlite"
)

// A chat started with the Connect API in the default flow waits in the
// default queue and is assigned once, to one of two online agents of the
// queue declared in the configuration: the customer's socket sees the
// agent join under its name.
func TestServeRoutesToAnAgent(t *testing.T) {
	dir := t.TempDir()
	data := filepath.Join(dir, "data")
	path := filepath.Join(dir, "helpline.yaml")
	if err := os.WriteFile(path, []byte(`
queues:
  - id: default
    auto_accept: true
agents:
  - { id: ada, name: Ada Lovelace, email: ada@example.com, queues: [default] }
  - { id: bo, name: Bo Diddley, email: bo@example.com, queues: [default] }
`), 0o600); err != nil {
		t.Fatal(err)
	}
	s := startServe(t, "--config", path, "--data", data)

	contactID, _, ws := startCustomer(t, s)
	// The agents come online once the customer's socket is open, so that
	// the assignment happens while the socket watches (an agent who
	// joined before it opened is in the transcript, not on the socket).
	// Presence is set through the store, as the agents' connections do.
	db, err := sqlite.Open(filepath.Join(data, "helpline.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	ctx := context.Background()
	instance := s.banner["Instance id"]
	for _, id := range []string{"ada", "bo"} {
		now := helpline.Now()
		if err := db.SetPresence(ctx, instance, id, helpline.PresenceOnline, now); err != nil {
			t.Fatal(err)
		}
		if err := db.TouchAgent(ctx, instance, id, now); err != nil {
			t.Fatal(err)
		}
	}

	var joined string
	for joined == "" {
		it := nextChatItem(t, ws)
		if it.ParticipantRole == helpline.RoleAgent && strings.HasSuffix(it.ContentType, "participant.joined") {
			joined = it.DisplayName
		}
	}
	if joined != "Ada Lovelace" && joined != "Bo Diddley" {
		t.Fatalf("%q joined, want one of the agents by name", joined)
	}

	c, err := db.FindContactByID(ctx, contactID)
	if err != nil {
		t.Fatal(err)
	}
	if want := map[string]string{"Ada Lovelace": "agent:ada", "Bo Diddley": "agent:bo"}[joined]; c.Owner != want {
		t.Errorf("owner %q, want %q", c.Owner, want)
	}
	// Another round or two pass; the chat stays assigned once.
	time.Sleep(1500 * time.Millisecond)
	items, err := db.FindItems(ctx, contactID, helpline.ItemQuery{})
	if err != nil {
		t.Fatal(err)
	}
	var changes, agents int
	for _, it := range items {
		if it.ContentType == helpline.EventOwnerChanged {
			changes++
		}
		if it.Role == helpline.RoleAgent {
			agents++
		}
	}
	if changes != 2 || agents != 1 {
		t.Errorf("%d owner changes and %d agent items, want the queue's and the agent's, and one join", changes, agents)
	}
}
