// Package storetest is the contract suite every helpline.Store must pass.
// A store's own tests call Run (and RunDurability when the store keeps
// data across restarts):
//
//	func TestStore(t *testing.T) {
//		storetest.Run(t, func(t *testing.T) helpline.Store {
//			s, err := sqlite.Open(filepath.Join(t.TempDir(), "helpline.db"))
//			if err != nil {
//				t.Fatal(err)
//			}
//			t.Cleanup(func() { s.Close() })
//			return s
//		})
//	}
//
// Each rule of the Store doc comments has its own subtest, so a failure
// names the rule that broke. Errors are checked by their helpline code.
package storetest

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/helplinehq/helpline"
)

// Run runs the contract suite. open must return a new, empty store for each
// call and close it when the test that asked for it ends (t.Cleanup).
func Run(t *testing.T, open func(t *testing.T) helpline.Store) {
	t.Run("Instance", func(t *testing.T) { testInstance(t, open) })
	t.Run("Secret", func(t *testing.T) { testSecret(t, open) })
	t.Run("CreateContact", func(t *testing.T) { testCreateContact(t, open) })
	t.Run("UpdateContactAttributes", func(t *testing.T) { testUpdateContactAttributes(t, open) })
	t.Run("UpdateCustomer", func(t *testing.T) { testUpdateCustomer(t, open) })
	t.Run("FindContactsToExpire", func(t *testing.T) { testFindContactsToExpire(t, open) })
	t.Run("EndContact", func(t *testing.T) { testEndContact(t, open) })
	t.Run("ChangeOwner", func(t *testing.T) { testChangeOwner(t, open) })
	t.Run("CreateOwned", func(t *testing.T) { testCreateOwned(t, open) })
	t.Run("Participant", func(t *testing.T) { testParticipant(t, open) })
	t.Run("AppendItem", func(t *testing.T) { testAppendItem(t, open) })
	t.Run("AppendOwnedItem", func(t *testing.T) { testAppendOwnedItem(t, open) })
	t.Run("FindItems", func(t *testing.T) { testFindItems(t, open) })
	t.Run("Attachment", func(t *testing.T) { testAttachment(t, open) })
	t.Run("CreateContactWithMirrors", func(t *testing.T) { testCreateContactWithMirrors(t, open) })
	t.Run("CreateMirrorPairsIdempotent", func(t *testing.T) { testCreateMirrorPairsIdempotent(t, open) })
	t.Run("ClaimOnlyDueActiveBehindFree", func(t *testing.T) { testClaimOnlyDueActiveBehindFree(t, open) })
	t.Run("ClaimLimitAndContact", func(t *testing.T) { testClaimLimitAndContact(t, open) })
	t.Run("ClaimBehindAfterCursor", func(t *testing.T) { testClaimBehindAfterCursor(t, open) })
	t.Run("ClaimRace", func(t *testing.T) { testClaimRace(t, open) })
	t.Run("ExpiredLease", func(t *testing.T) { testExpiredLease(t, open) })
	t.Run("Reclaimed", func(t *testing.T) { testReclaimed(t, open) })
	t.Run("ReleaseMirrorLeases", func(t *testing.T) { testReleaseMirrorLeases(t, open) })
	t.Run("SaveMirrorPair", func(t *testing.T) { testSaveMirrorPair(t, open) })
	t.Run("KeepLease", func(t *testing.T) { testKeepLease(t, open) })
	t.Run("ResumeMirrorPairs", func(t *testing.T) { testResumeMirrorPairs(t, open) })
	t.Run("FindMirrorPairs", func(t *testing.T) { testFindMirrorPairs(t, open) })
	t.Run("FindMirrorPairByRef", func(t *testing.T) { testFindMirrorPairByRef(t, open) })
	t.Run("ItemOrigin", func(t *testing.T) { testItemOrigin(t, open) })
	t.Run("RememberOnce", func(t *testing.T) { testRememberOnce(t, open) })
	t.Run("Agents", func(t *testing.T) { testAgents(t, open) })
	t.Run("QueuesAndPresence", func(t *testing.T) { testQueuesAndPresence(t, open) })
	t.Run("Offers", func(t *testing.T) { testOffers(t, open) })
	t.Run("AgentSnapshot", func(t *testing.T) { testAgentSnapshot(t, open) })
	t.Run("Sessions", func(t *testing.T) { testSessions(t, open) })
	t.Run("APITokens", func(t *testing.T) { testAPITokens(t, open) })
	t.Run("CannedResponses", func(t *testing.T) { testCannedResponses(t, open) })
	t.Run("FindBotContacts", func(t *testing.T) { testFindBotContacts(t, open) })
	t.Run("WidgetSettings", func(t *testing.T) { testWidgetSettings(t, open) })
	t.Run("BotState", func(t *testing.T) { testBotState(t, open) })
}

// base is the suite's reference time: UTC, whole milliseconds.
var base = time.Date(2024, 5, 1, 12, 0, 0, 123_000_000, time.UTC)

func at(d time.Duration) time.Time { return base.Add(d) }

// newContact returns an active contact of instanceID, with its customer and
// a participant-joined item, ready for CreateContact.
func newContact(instanceID string) *helpline.NewContact {
	id := helpline.NewID()
	customer := &helpline.Participant{
		ID: helpline.NewID(), ContactID: id, Role: helpline.RoleCustomer, DisplayName: "Customer", CreatedAt: base,
	}
	return &helpline.NewContact{
		Contact: &helpline.Contact{
			ID:                    id,
			InstanceID:            instanceID,
			FlowID:                "flow-1",
			InitialContactID:      id,
			CustomerID:            "customer-42",
			State:                 helpline.ContactActive,
			Attributes:            map[string]string{"orderId": "A-1"},
			SupportedContentTypes: []string{helpline.ContentPlain, helpline.ContentMarkdown},
			CreatedAt:             base,
			ExpiresAt:             at(25 * time.Hour),
		},
		Customer: customer,
		Items:    []*helpline.Item{event(customer, helpline.EventParticipantJoined, base)},
	}
}

// event returns an EVENT item sent by p.
func event(p *helpline.Participant, contentType string, t time.Time) *helpline.Item {
	return &helpline.Item{
		ContactID: p.ContactID, ID: helpline.NewID(), Type: helpline.ItemEvent, ContentType: contentType,
		ParticipantID: p.ID, DisplayName: p.DisplayName, Role: p.Role, Time: t,
	}
}

// message returns a text MESSAGE item sent by p.
func message(p *helpline.Participant, content, clientToken string, t time.Time) *helpline.Item {
	return &helpline.Item{
		ContactID: p.ContactID, ID: helpline.NewID(), Type: helpline.ItemMessage, ContentType: helpline.ContentPlain,
		Content: content, ParticipantID: p.ID, DisplayName: p.DisplayName, Role: p.Role, Time: t,
		ClientToken: clientToken,
	}
}

// newAgent returns an agent of contactID, ready for CreateParticipant.
func newAgent(contactID, clientToken string) *helpline.Participant {
	return &helpline.Participant{
		ID: helpline.NewID(), ContactID: contactID, Role: helpline.RoleAgent, DisplayName: "Agent",
		ClientToken: clientToken, CreatedAt: at(time.Minute),
	}
}

func mustCreateContact(t *testing.T, s helpline.Store, nc *helpline.NewContact) {
	t.Helper()
	if replayed, err := s.CreateContact(context.Background(), nc); err != nil {
		t.Fatalf("CreateContact: %v", err)
	} else if replayed {
		t.Fatal("CreateContact of a new contact: replayed = true")
	}
}

func mustAppend(t *testing.T, s helpline.Store, it *helpline.Item) {
	t.Helper()
	if replayed, err := s.AppendItem(context.Background(), it); err != nil {
		t.Fatalf("AppendItem: %v", err)
	} else if replayed {
		t.Fatal("AppendItem of a new item: replayed = true")
	}
}

func mustFindContact(t *testing.T, s helpline.Store, id string) *helpline.Contact {
	t.Helper()
	c, err := s.FindContactByID(context.Background(), id)
	if err != nil {
		t.Fatalf("FindContactByID(%s): %v", id, err)
	}
	return c
}

func mustFindItems(t *testing.T, s helpline.Store, contactID string, q helpline.ItemQuery) []*helpline.Item {
	t.Helper()
	items, err := s.FindItems(context.Background(), contactID, q)
	if err != nil {
		t.Fatalf("FindItems(%+v): %v", q, err)
	}
	return items
}

// wantCode fails the test unless err carries code.
func wantCode(t *testing.T, what string, err error, code string) {
	t.Helper()
	if got := helpline.ErrorCode(err); got != code {
		t.Fatalf("%s: error %v (code %q), want code %q", what, err, got, code)
	}
}

// wantNotFound fails the test unless err is ENOTFOUND naming resource and id.
func wantNotFound(t *testing.T, what string, err error, resource, id string) {
	t.Helper()
	wantCode(t, what, err, helpline.ENOTFOUND)
	var e *helpline.Error
	errors.As(err, &e)
	if e.Resource != resource || e.ResourceID != id {
		t.Fatalf("%s: Resource %q ResourceID %q, want %q %q", what, e.Resource, e.ResourceID, resource, id)
	}
}

// The same* helpers compare a stored value with the one that was written.
// The stored one must carry every time in UTC; empty and nil collections
// are the same.

func sameContact(t *testing.T, got, want *helpline.Contact) {
	t.Helper()
	g, w := *got, *want
	w.CreatedAt, w.ExpiresAt, w.EndedAt = w.CreatedAt.UTC(), w.ExpiresAt.UTC(), w.EndedAt.UTC()
	for _, c := range []*helpline.Contact{&g, &w} {
		if len(c.Attributes) == 0 {
			c.Attributes = nil
		}
		if len(c.SupportedContentTypes) == 0 {
			c.SupportedContentTypes = nil
		}
	}
	if !reflect.DeepEqual(g, w) {
		t.Errorf("contact\n got %+v\nwant %+v", g, w)
	}
}

func sameParticipant(t *testing.T, got, want *helpline.Participant) {
	t.Helper()
	w := *want
	w.CreatedAt, w.ConnectedAt, w.LeftAt = w.CreatedAt.UTC(), w.ConnectedAt.UTC(), w.LeftAt.UTC()
	if !reflect.DeepEqual(*got, w) {
		t.Errorf("participant\n got %+v\nwant %+v", *got, w)
	}
}

func sameAttachment(t *testing.T, got, want *helpline.Attachment) {
	t.Helper()
	w := *want
	w.CreatedAt, w.UploadedAt = w.CreatedAt.UTC(), w.UploadedAt.UTC()
	if !reflect.DeepEqual(*got, w) {
		t.Errorf("attachment\n got %+v\nwant %+v", *got, w)
	}
}

func sameItems(t *testing.T, got, want []*helpline.Item) {
	t.Helper()
	if len(got) != len(want) {
		t.Errorf("%d items, want %d:\n got %s\nwant %s", len(got), len(want), formatItems(got), formatItems(want))
		return
	}
	for i := range got {
		sameItem(t, got[i], want[i])
	}
}

func sameItem(t *testing.T, got, want *helpline.Item) {
	t.Helper()
	g, w := normalItem(*got), normalItem(*want)
	w.Time = w.Time.UTC()
	if w.Metadata != nil {
		for i := range w.Metadata.Receipts {
			r := &w.Metadata.Receipts[i]
			r.DeliveredAt, r.ReadAt = r.DeliveredAt.UTC(), r.ReadAt.UTC()
		}
	}
	if !reflect.DeepEqual(g, w) {
		t.Errorf("item\n got %s\nwant %s", formatItem(&g), formatItem(&w))
	}
}

// normalItem returns a copy of it that shares nothing with it, with empty
// collections nil.
func normalItem(it helpline.Item) helpline.Item {
	if len(it.Attachments) == 0 {
		it.Attachments = nil
	} else {
		it.Attachments = append([]helpline.AttachmentRef(nil), it.Attachments...)
	}
	if it.Metadata != nil {
		m := *it.Metadata
		if len(m.Receipts) == 0 {
			m.Receipts = nil
		} else {
			m.Receipts = append([]helpline.Receipt(nil), m.Receipts...)
		}
		it.Metadata = &m
	}
	return it
}

func formatItem(it *helpline.Item) string {
	s := fmt.Sprintf("%+v", *it)
	if it.Metadata != nil {
		s += fmt.Sprintf(" Metadata=%+v", *it.Metadata)
	}
	return s
}

func formatItems(items []*helpline.Item) string {
	var b strings.Builder
	for _, it := range items {
		fmt.Fprintf(&b, "\n\t%s", formatItem(it))
	}
	return b.String()
}

// seqs returns the Seq of each item.
func seqs(items []*helpline.Item) []int64 {
	s := make([]int64, len(items))
	for i, it := range items {
		s[i] = it.Seq
	}
	return s
}
