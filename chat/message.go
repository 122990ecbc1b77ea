package chat

import (
	"context"
	"encoding/json"

	"github.com/helplinehq/helpline"
)

// SendMessage stores a message of the session's participant and publishes
// it (the sender receives it too). contentType must be one SendMessage
// allows (text/plain, text/markdown, application/json, interactive.response;
// interactive for agents and bots, a Helpline extension) and one the
// contact supports; Content must be 1..1024 characters for text/plain and
// text/markdown, 1..12000 for application/json, 1..12288 for
// interactive.response and 1..16384 for interactive. Errors: EINVALID;
// EFORBIDDEN if the chat ended meanwhile; ECONFLICT if the session speaks
// for an owner (Session.Owner) and the contact's owner is another, which
// the store checks in the append's own transaction.
//
// It is idempotent on (participant, clientToken): a retry returns the
// stored item and publishes nothing.
func (s *Service) SendMessage(ctx context.Context, sess *helpline.Session, contentType, content, clientToken string) (*helpline.Item, error) {
	max, ok := messageTypes[contentType]
	if !ok || (contentType == helpline.ContentInteractive && sess.Participant.Role == helpline.RoleCustomer) {
		return nil, invalid("ContentType %q is not supported.", contentType)
	}
	if !sess.Contact.Supports(contentType) {
		return nil, invalid("ContentType %q is not supported by this chat.", contentType)
	}
	if err := checkLen("Content", content, 1, max); err != nil {
		return nil, invalid("Content must be 1 to %d characters for %s.", max, contentType)
	}
	if err := checkLen("ClientToken", clientToken, 0, maxClientToken); err != nil {
		return nil, err
	}
	it := s.newItem(sess, helpline.ItemMessage, contentType, clientToken)
	it.Content = content
	return s.appendAs(ctx, sess, it)
}

// appendAs stores it as append does, and, when the session speaks for an
// owner (Session.Owner), only while the contact's owner is that owner,
// checked in the append's own transaction: ECONFLICT otherwise.
func (s *Service) appendAs(ctx context.Context, sess *helpline.Session, it *helpline.Item) (*helpline.Item, error) {
	if sess.Owner == "" {
		return s.append(ctx, it)
	}
	replayed, err := s.store.AppendOwnedItem(ctx, it, sess.Owner)
	if cerr := s.ownerConflict(ctx, sess, it, err); cerr != nil {
		return nil, cerr
	}
	return s.stored(ctx, it, replayed, err)
}

// ownerConflict tells the two ECONFLICTs of an owner-checked write apart:
// owned by another is ECONFLICT, returned; ended is EFORBIDDEN, as for any
// sender, left to stored with every other outcome (nil returned).
func (s *Service) ownerConflict(ctx context.Context, sess *helpline.Session, it *helpline.Item, err error) error {
	if sess.Owner == "" || helpline.ErrorCode(err) != helpline.ECONFLICT {
		return nil
	}
	if c, ferr := s.store.FindContactByID(ctx, it.ContactID); ferr == nil && !c.Ended() {
		return helpline.Errorf(helpline.ECONFLICT, "Contact %s is no longer owned by %s.", it.ContactID, sess.Owner)
	}
	return nil
}

// SendEvent handles the events a participant may send:
//
//   - typing is published to the contact's watchers (ephemeral, Seq 0) and
//     never stored; retries are not deduplicated, a repeated typing
//     indicator being harmless.
//   - message.read and message.delivered need Content {"messageId": id}
//     naming a MESSAGE item of the contact (EINVALID otherwise), and are
//     stored and published as a MESSAGEMETADATA item whose receipt names
//     the sender as recipient. With more than two participants present
//     they are ECONFLICT, as they are when the session speaks for an
//     owner that no longer owns the contact (see SendMessage).
//     Idempotent on (participant, clientToken).
//   - connection.acknowledged is retired (EINVALID), as is any other type.
func (s *Service) SendEvent(ctx context.Context, sess *helpline.Session, contentType, content, clientToken string) (*helpline.Item, error) {
	if err := checkLen("Content", content, 0, maxContent); err != nil {
		return nil, err
	}
	if err := checkLen("ClientToken", clientToken, 0, maxClientToken); err != nil {
		return nil, err
	}
	switch contentType {
	case helpline.EventTyping:
		it := s.newItem(sess, helpline.ItemEvent, contentType, "")
		s.publish(ctx, it)
		return it, nil
	case helpline.EventMessageRead, helpline.EventMessageDelivered:
		return s.sendReceipt(ctx, sess, contentType, content, clientToken)
	case helpline.EventPrefix + "connection.acknowledged":
		return nil, invalid("ContentType %q is no longer supported; use ConnectParticipant.", contentType)
	}
	return nil, invalid("ContentType %q is not supported.", contentType)
}

func (s *Service) sendReceipt(ctx context.Context, sess *helpline.Session, contentType, content, clientToken string) (*helpline.Item, error) {
	var body struct {
		MessageID string `json:"messageId"`
	}
	if err := json.Unmarshal([]byte(content), &body); err != nil || body.MessageID == "" {
		return nil, invalid(`Content must be JSON of the form {"messageId": "..."}.`)
	}
	msg, err := s.store.FindItemByID(ctx, sess.Contact.ID, body.MessageID)
	if helpline.ErrorCode(err) == helpline.ENOTFOUND || err == nil && msg.Type != helpline.ItemMessage {
		return nil, invalid("Message %s is not a message of this chat.", body.MessageID)
	} else if err != nil {
		return nil, err
	}
	ps, err := s.store.FindParticipants(ctx, sess.Contact.ID)
	if err != nil {
		return nil, err
	}
	present := 0
	for _, p := range ps {
		if !p.Left() {
			present++
		}
	}
	if present > 2 {
		return nil, helpline.Errorf(helpline.ECONFLICT, "Receipts are not supported with more than two participants.")
	}
	it := s.newItem(sess, helpline.ItemMetadata, helpline.EventMessageMetadata, clientToken)
	receipt := helpline.Receipt{RecipientParticipantID: sess.Participant.ID}
	if contentType == helpline.EventMessageRead {
		receipt.ReadAt = it.Time
	} else {
		receipt.DeliveredAt = it.Time
	}
	it.Metadata = &helpline.MessageMetadata{MessageID: msg.ID, Receipts: []helpline.Receipt{receipt}}
	return s.appendAs(ctx, sess, it)
}

// newItem returns an item of the session's participant, stamped now.
func (s *Service) newItem(sess *helpline.Session, typ, contentType, clientToken string) *helpline.Item {
	p := sess.Participant
	return &helpline.Item{
		ContactID: sess.Contact.ID, ID: helpline.NewID(), Type: typ, ContentType: contentType,
		ParticipantID: p.ID, DisplayName: p.DisplayName, Role: p.Role, Time: s.now(), ClientToken: clientToken,
	}
}

// append stores it and publishes it unless it was a replay. A contact that
// ended meanwhile, or a sender who left, is EFORBIDDEN, as Authenticate
// would have said.
func (s *Service) append(ctx context.Context, it *helpline.Item) (*helpline.Item, error) {
	replayed, err := s.store.AppendItem(ctx, it)
	return s.stored(ctx, it, replayed, err)
}

// stored finishes a store write of it that returned replayed and err: a
// contact that ended meanwhile (ECONFLICT) is EFORBIDDEN, a sender who
// left (EFORBIDDEN) too, and a new item is published. Either refusal means
// the cached session missed an event, lost on the bus or not yet
// arrived from another node, so the session is dropped from the cache.
func (s *Service) stored(ctx context.Context, it *helpline.Item, replayed bool, err error) (*helpline.Item, error) {
	switch helpline.ErrorCode(err) {
	case "":
	case helpline.ECONFLICT:
		s.sessions.forgetContact(it.ContactID)
		return nil, &helpline.Error{Code: helpline.EFORBIDDEN, Message: "The chat has ended."}
	case helpline.EFORBIDDEN:
		s.sessions.forgetParticipant(it.ParticipantID)
		return nil, err
	default:
		return nil, err
	}
	if !replayed {
		s.publish(ctx, it)
	}
	return it, nil
}
