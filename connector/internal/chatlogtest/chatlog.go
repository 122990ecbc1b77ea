// Package chatlogtest builds the hand-made mirror batches that connector
// tests deliver: one contact with a customer, a bot and an agent, and its
// items numbered from 1, seven seconds apart.
package chatlogtest

import (
	"encoding/json"
	"fmt"
	"time"

	"github.com/helplinehq/helpline"
)

// Start is when a Log's contact starts.
var Start = time.Date(2025, 3, 1, 10, 42, 0, 0, time.UTC)

// Participant ids of a Log's contact.
const (
	Customer = "p-cust"  // Ada, CUSTOMER
	Bot      = "p-bot"   // Shopbot, CUSTOM_BOT
	Agent    = "p-agent" // Grace, AGENT
)

// Log is one contact's transcript as a test writes it.
type Log struct {
	Contact *helpline.Contact
	Parts   []*helpline.Participant
	Items   []*helpline.Item
	// At is the time of the newest item; the next comes seven seconds on.
	At time.Time
}

// New returns the log of an active contact of instance inst-1 whose
// customer's email attribute is ada@example.com.
func New(contactID string) *Log {
	return &Log{
		Contact: &helpline.Contact{ID: contactID, InstanceID: "inst-1", State: helpline.ContactActive, CreatedAt: Start,
			Attributes: map[string]string{"customerEmail": "ada@example.com"}},
		Parts: []*helpline.Participant{
			{ID: Customer, Role: helpline.RoleCustomer, DisplayName: "Ada"},
			{ID: Bot, Role: helpline.RoleBot, DisplayName: "Shopbot"},
			{ID: Agent, Role: helpline.RoleAgent, DisplayName: "Grace"},
		},
		At: Start,
	}
}

// Add appends an item by participant pid and returns it.
func (l *Log) Add(pid, typ, contentType, content string) *helpline.Item {
	l.At = l.At.Add(7 * time.Second)
	it := &helpline.Item{ContactID: l.Contact.ID, Seq: int64(len(l.Items) + 1), ID: fmt.Sprintf("item-%d", len(l.Items)+1),
		Type: typ, ContentType: contentType, Content: content, ParticipantID: pid, Time: l.At}
	for _, p := range l.Parts {
		if p.ID == pid {
			it.Role, it.DisplayName = p.Role, p.DisplayName
		}
	}
	l.Items = append(l.Items, it)
	return it
}

// Say appends a plain-text message by pid.
func (l *Log) Say(pid, text string) *helpline.Item {
	return l.Add(pid, helpline.ItemMessage, helpline.ContentPlain, text)
}

// Batch is the dispatcher's batch of the items after cursor.
func (l *Log) Batch(cursor int64, refs map[string]string, attempt int) *helpline.MirrorBatch {
	return &helpline.MirrorBatch{Contact: l.Contact, Participants: l.Parts, Items: l.Items[cursor:], Refs: refs, Attempt: attempt}
}

// HandOff appends a bot's handoff EVENT as the bot runner records it: a
// system item whose content is h as JSON.
func (l *Log) HandOff(h helpline.HandoffContext) *helpline.Item {
	content, _ := json.Marshal(h)
	it := l.Add(Customer, helpline.ItemEvent, helpline.EventHandoff, string(content))
	it.ParticipantID, it.Role, it.DisplayName = helpline.SystemParticipantID(l.Contact.ID), helpline.RoleSystem, helpline.SystemDisplayName
	return it
}
