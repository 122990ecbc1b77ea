package connectapi

import (
	"time"

	"github.com/helplinehq/helpline"
)

// wireItem is a transcript item as GetTranscript returns it and as the
// WebSocket pushes it (JSON-encoded again inside an aws/chat frame). Empty
// members are omitted: the model's lengths start at 1, and chatjs expects
// no Content on typing and chat.ended items.
//
// InitialContactId is not in the model's Item; chatjs drops pushed items
// that lack it (or ContactId), and the SDKs ignore it in transcripts.
type wireItem struct {
	AbsoluteTime     string           `json:"AbsoluteTime"`
	Content          string           `json:"Content,omitempty"`
	ContentType      string           `json:"ContentType"`
	Id               string           `json:"Id"`
	Type             string           `json:"Type"`
	ParticipantId    string           `json:"ParticipantId,omitempty"`
	DisplayName      string           `json:"DisplayName,omitempty"`
	ParticipantRole  string           `json:"ParticipantRole,omitempty"`
	Attachments      []wireAttachment `json:"Attachments,omitempty"`
	MessageMetadata  *wireMetadata    `json:"MessageMetadata,omitempty"`
	InitialContactId string           `json:"InitialContactId,omitempty"`
	ContactId        string           `json:"ContactId,omitempty"`
}

type wireAttachment struct {
	ContentType    string `json:"ContentType"`
	AttachmentId   string `json:"AttachmentId"`
	AttachmentName string `json:"AttachmentName"`
	Status         string `json:"Status"`
}

type wireMetadata struct {
	MessageId string        `json:"MessageId"`
	Receipts  []wireReceipt `json:"Receipts"`
}

type wireReceipt struct {
	DeliveredTimestamp     string `json:"DeliveredTimestamp,omitempty"`
	ReadTimestamp          string `json:"ReadTimestamp,omitempty"`
	RecipientParticipantId string `json:"RecipientParticipantId"`
}

// toWireItem renders it; initialContactID is the first contact of its
// chain.
func toWireItem(it *helpline.Item, initialContactID string) wireItem {
	w := wireItem{
		AbsoluteTime:     helpline.FormatTime(it.Time),
		Content:          it.Content,
		ContentType:      it.ContentType,
		Id:               it.ID,
		Type:             it.Type,
		ParticipantId:    it.ParticipantID,
		DisplayName:      it.DisplayName,
		ParticipantRole:  it.Role,
		InitialContactId: initialContactID,
		ContactId:        it.ContactID,
	}
	if w.InitialContactId == "" {
		w.InitialContactId = it.ContactID
	}
	for _, a := range it.Attachments {
		w.Attachments = append(w.Attachments, wireAttachment{
			ContentType: a.ContentType, AttachmentId: a.ID, AttachmentName: a.Name, Status: a.Status,
		})
	}
	if m := it.Metadata; m != nil {
		w.MessageMetadata = &wireMetadata{MessageId: m.MessageID, Receipts: []wireReceipt{}}
		for _, r := range m.Receipts {
			w.MessageMetadata.Receipts = append(w.MessageMetadata.Receipts, wireReceipt{
				DeliveredTimestamp:     formatOptionalTime(r.DeliveredAt),
				ReadTimestamp:          formatOptionalTime(r.ReadAt),
				RecipientParticipantId: r.RecipientParticipantID,
			})
		}
	}
	return w
}

func formatOptionalTime(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return helpline.FormatTime(t)
}
