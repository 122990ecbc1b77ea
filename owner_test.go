package helpline_test

import (
	"encoding/json"
	"maps"
	"strings"
	"testing"
	"time"

	"github.com/helplinehq/helpline"
)

func TestCheckOwner(t *testing.T) {
	for _, owner := range []string{"", "bot:default", "queue:billing", "agent:ada", "agent:a:b"} {
		if err := helpline.CheckOwner(owner); err != nil {
			t.Errorf("CheckOwner(%q) = %v, want nil", owner, err)
		}
	}
	for _, owner := range []string{"bot", "bot:", ":x", "robot:x", "Agent:ada", " agent:ada", "agent:" + strings.Repeat("a", 300)} {
		if code := helpline.ErrorCode(helpline.CheckOwner(owner)); code != helpline.EINVALID {
			t.Errorf("CheckOwner(%q) code %q, want %q", owner, code, helpline.EINVALID)
		}
	}
}

func TestOwnerChangeCheck(t *testing.T) {
	valid := helpline.OwnerChange{ContactID: "c", From: "bot:default", Version: 1, To: "queue:billing"}
	if err := valid.Check(); err != nil {
		t.Errorf("Check(%+v) = %v, want nil", valid, err)
	}
	for _, ch := range []helpline.OwnerChange{
		{From: "bot:default", To: ""},            // only the end clears the owner
		{From: "bot:default", To: "bot:default"}, // no change
		{From: "robot:x", To: "bot:default"},     // From is no owner
		{From: "bot:default", To: "queue"},       // To is no owner
	} {
		if code := helpline.ErrorCode(ch.Check()); code != helpline.EINVALID {
			t.Errorf("Check(%+v) code %q, want %q", ch, code, helpline.EINVALID)
		}
	}
}

func TestOwnerChangeItem(t *testing.T) {
	at := time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)
	ch := helpline.OwnerChange{ContactID: "c1", From: "bot:default", Version: 3, To: "agent:ada", Reason: "handoff", Actor: "bot:default", At: at}
	it := ch.Item()
	if it.ContactID != "c1" || it.ID == "" || it.Type != helpline.ItemEvent || it.ContentType != helpline.EventOwnerChanged ||
		it.ParticipantID != helpline.SystemParticipantID("c1") || it.Role != helpline.RoleSystem ||
		it.DisplayName != helpline.SystemDisplayName || !it.Time.Equal(at) || it.Seq != 0 {
		t.Errorf("Item() = %+v", *it)
	}
	var got map[string]string
	if err := json.Unmarshal([]byte(it.Content), &got); err != nil {
		t.Fatalf("content %q: %v", it.Content, err)
	}
	want := map[string]string{"from": "bot:default", "to": "agent:ada", "reason": "handoff", "actor": "bot:default"}
	if !maps.Equal(got, want) {
		t.Errorf("content %v, want %v", got, want)
	}
	if other := ch.Item(); other.ID == it.ID {
		t.Error("two items share an id")
	}
}
