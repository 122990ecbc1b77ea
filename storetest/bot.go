package storetest

import (
	"context"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/helplinehq/helpline"
)

// FindBotContacts lists the active contacts a bot owns, oldest first:
// not those of a queue or of nobody, nor an ended one.
func testFindBotContacts(t *testing.T, open func(t *testing.T) helpline.Store) {
	ctx := context.Background()
	s := open(t)
	var bots []string
	for i, owner := range []string{"bot:shop", "queue:support", "", "bot:faq", "bot:shop"} {
		nc := newContact("i1")
		nc.Contact.Owner = owner
		nc.Contact.CreatedAt = at(time.Duration(i) * time.Second)
		mustCreateContact(t, s, nc)
		if owner == "bot:shop" && i == 4 {
			if _, err := s.EndContact(ctx, nc.Contact.ID, helpline.EndAPI, at(time.Minute), nil); err != nil {
				t.Fatal(err)
			}
			continue
		}
		if strings.HasPrefix(owner, "bot:") {
			bots = append(bots, nc.Contact.ID)
		}
	}
	got, err := s.FindBotContacts(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, c := range got {
		ids = append(ids, c.ID)
	}
	if !slices.Equal(ids, bots) {
		t.Errorf("FindBotContacts = %v, want the active bot-owned contacts oldest first %v", ids, bots)
	}
}
