package helpline_test

import (
	"encoding/json"
	"reflect"
	"testing"
	"time"

	"github.com/helplinehq/helpline"
)

// TestEventJSON checks that events survive encoding/json, as a bus across
// nodes sends them, and that a node decoding a kind it does not know keeps
// the kind and subject and skips the payload it has no field for.
func TestEventJSON(t *testing.T) {
	it := &helpline.Item{ContactID: "c1", Seq: 3, ID: "i3", Type: helpline.ItemMessage, ContentType: helpline.ContentPlain,
		Content: "hi", ParticipantID: "p1", DisplayName: "Pat", Role: helpline.RoleCustomer,
		Time: time.UnixMilli(1700000000000).UTC(), Metadata: &helpline.MessageMetadata{MessageID: "m1"}}
	for _, ev := range []helpline.Event{
		helpline.NewItemEvent(it),
		{Kind: helpline.EventOwner, Subject: helpline.ContactSubject("c1"), Owner: &helpline.Ownership{Owner: "queue:q1", Version: 4, From: "bot:b"}},
		{Kind: helpline.EventSignedOut, Subject: helpline.AgentSubject("ada"), SignedOut: &helpline.SignedOut{InstanceID: "i1"}},
		{Kind: helpline.EventPresence, Subject: helpline.AgentSubject("ada"), Presence: &helpline.Presence{
			Status: helpline.PresenceAway, StatusAt: time.UnixMilli(1700000000000).UTC()}},
		{Kind: helpline.EventOffer, Subject: helpline.AgentSubject("ada"), Offer: &helpline.Offer{
			ID: "o1", ContactID: "c1", QueueID: "q1", AgentID: "ada", ContactVersion: 2, State: helpline.OfferPending,
			CreatedAt: time.UnixMilli(1700000000000).UTC(), ExpiresAt: time.UnixMilli(1700000030000).UTC()}},
	} {
		b, err := json.Marshal(ev)
		if err != nil {
			t.Fatal(err)
		}
		var got helpline.Event
		if err := json.Unmarshal(b, &got); err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(got, ev) {
			t.Errorf("%s round trip:\n got %+v\nwant %+v", ev.Kind, got, ev)
		}
		if err := got.Validate(); err != nil {
			t.Errorf("%s after the round trip: %v", ev.Kind, err)
		}
	}

	var got helpline.Event
	if err := json.Unmarshal([]byte(`{"Kind":"survey.sent","Subject":"agent.a1","Survey":{"ContactID":"c1"}}`), &got); err != nil {
		t.Fatal(err)
	}
	if want := (helpline.Event{Kind: "survey.sent", Subject: helpline.AgentSubject("a1")}); !reflect.DeepEqual(got, want) {
		t.Errorf("event of an unknown kind decoded as %+v, want %+v", got, want)
	}
}

func TestSubject(t *testing.T) {
	for _, tc := range []struct {
		s         helpline.Subject
		valid     bool
		wildcard  helpline.Subject
		contactID string
	}{
		{helpline.ContactSubject("c1"), true, helpline.AllContacts, "c1"},
		{helpline.AgentSubject("a1"), true, helpline.AllAgents, ""},
		{helpline.AllContacts, true, helpline.AllContacts, ""},
		{helpline.AllAgents, true, helpline.AllAgents, ""},
		{helpline.ContactSubject("0b6e1f0c-9d3a-4e8b-a1f2-3c4d5e6f7a8b"), true, helpline.AllContacts, "0b6e1f0c-9d3a-4e8b-a1f2-3c4d5e6f7a8b"},
		{"", false, "", ""},
		{"c1", false, "", ""},
		{"queue.q1", false, "", ""},
		{"contact.", false, "", ""},
		{"contact.a.b", false, "", ""},
		{"contact.a b", false, "", ""},
		{"agent.>", false, "", ""},
	} {
		if got := tc.s.Valid(); got != tc.valid {
			t.Errorf("%q.Valid() = %v, want %v", tc.s, got, tc.valid)
		}
		if got := tc.s.Wildcard(); got != tc.wildcard {
			t.Errorf("%q.Wildcard() = %q, want %q", tc.s, got, tc.wildcard)
		}
		if got := tc.s.ContactID(); got != tc.contactID {
			t.Errorf("%q.ContactID() = %q, want %q", tc.s, got, tc.contactID)
		}
	}
}
