package webhook

import (
	"time"

	"github.com/helplinehq/helpline"
)

// Payload is the JSON body of a webhook request: one item of a contact.
type Payload struct {
	DeliveryID string  `json:"delivery_id"`
	Connector  string  `json:"connector"`
	Contact    Contact `json:"contact"`
	Item       Item    `json:"item"`
}

// Contact is the item's contact as a payload carries it.
type Contact struct {
	ID         string            `json:"id"`
	InstanceID string            `json:"instance_id"`
	State      string            `json:"state"`
	CustomerID string            `json:"customer_id,omitempty"`
	Attributes map[string]string `json:"attributes,omitempty"`
	CreatedAt  time.Time         `json:"created_at"`
}

// Item is a transcript item as a payload carries it.
type Item struct {
	ID          string        `json:"id"`
	Seq         int64         `json:"seq"`
	Type        string        `json:"type"`
	ContentType string        `json:"content_type"`
	Content     string        `json:"content,omitempty"`
	Participant Participant   `json:"participant"`
	Time        time.Time     `json:"time"`
	Attachments []Attachment  `json:"attachments,omitempty"`
	Metadata    *ItemMetadata `json:"metadata,omitempty"`
	// Origin names the connector the item came in through, if any.
	Origin string `json:"origin,omitempty"`
}

// Participant is an item's author.
type Participant struct {
	ID          string `json:"id,omitempty"`
	Role        string `json:"role,omitempty"`
	DisplayName string `json:"display_name,omitempty"`
}

// Attachment is a file of an ATTACHMENT item.
type Attachment struct {
	ID          string `json:"id"`
	Name        string `json:"name"`
	ContentType string `json:"content_type"`
	Status      string `json:"status"`
}

// ItemMetadata is the receipt a MESSAGEMETADATA item carries.
type ItemMetadata struct {
	MessageID string    `json:"message_id"`
	Receipts  []Receipt `json:"receipts"`
}

// Receipt says one participant received or read a message.
type Receipt struct {
	ParticipantID string     `json:"participant_id"`
	DeliveredAt   *time.Time `json:"delivered_at,omitempty"`
	ReadAt        *time.Time `json:"read_at,omitempty"`
}

func newPayload(connector, deliveryID string, b *helpline.MirrorBatch, it *helpline.Item) *Payload {
	p := &Payload{
		DeliveryID: deliveryID,
		Connector:  connector,
		Contact: Contact{
			ID:         b.Contact.ID,
			InstanceID: b.Contact.InstanceID,
			State:      b.Contact.State,
			CustomerID: b.Contact.CustomerID,
			Attributes: b.Contact.Attributes,
			CreatedAt:  b.Contact.CreatedAt,
		},
		Item: Item{
			ID:          it.ID,
			Seq:         it.Seq,
			Type:        it.Type,
			ContentType: it.ContentType,
			Content:     it.Content,
			Participant: Participant{ID: it.ParticipantID, Role: it.Role, DisplayName: it.DisplayName},
			Time:        it.Time,
			Origin:      it.Origin,
		},
	}
	if it.DisplayName == "" {
		for _, pt := range b.Participants {
			if pt.ID == it.ParticipantID {
				p.Item.Participant.DisplayName = pt.DisplayName
			}
		}
	}
	for _, a := range it.Attachments {
		p.Item.Attachments = append(p.Item.Attachments, Attachment(a))
	}
	if m := it.Metadata; m != nil {
		p.Item.Metadata = &ItemMetadata{MessageID: m.MessageID, Receipts: []Receipt{}}
		for _, r := range m.Receipts {
			p.Item.Metadata.Receipts = append(p.Item.Metadata.Receipts, Receipt{
				ParticipantID: r.RecipientParticipantID,
				DeliveredAt:   optTime(r.DeliveredAt),
				ReadAt:        optTime(r.ReadAt),
			})
		}
	}
	return p
}

func optTime(t time.Time) *time.Time {
	if t.IsZero() {
		return nil
	}
	return &t
}
