package chat

import (
	"context"

	"github.com/helplinehq/helpline"
)

// PostExternalMessage appends a message that came in through connector
// in.Origin and publishes it, so that the customer's socket sees it at
// once. The item's Origin is in.Origin, which keeps that connector from
// mirroring it back.
//
// With Role AGENT the author is an agent participant named AuthorName,
// added (with its participant.joined item) on first use and the same one
// afterwards: AddParticipant's ClientToken is Origin+":"+AuthorName. With
// Role CUSTOMER the author is the contact's customer. ContentType and
// Content follow SendMessage's rules, except that the contact's supported
// content types are not checked (the outside system decided the format).
//
// It is idempotent on (ContactID, Origin, ExternalID): the item's
// ClientToken is Origin+":"+ExternalID, and a retry returns the stored item
// and publishes nothing, even after the contact ended. Errors: EINVALID,
// ENOTFOUND (Resource CONTACT), EFORBIDDEN if the contact has ended.
func (s *Service) PostExternalMessage(ctx context.Context, in helpline.ExternalMessage) (*helpline.Item, error) {
	if err := checkExternalMessage(in); err != nil {
		return nil, err
	}
	c, err := s.store.FindContactByID(ctx, in.ContactID)
	if err != nil {
		return nil, err
	}
	author, err := s.externalAuthor(ctx, c, in)
	if err != nil {
		return nil, err
	}
	sess := &helpline.Session{Participant: author, Contact: c}
	it := s.newItem(sess, helpline.ItemMessage, in.ContentType, in.Origin+":"+in.ExternalID)
	it.Content = in.Content
	it.Origin = in.Origin
	return s.append(ctx, it)
}

func checkExternalMessage(in helpline.ExternalMessage) error {
	if in.ContactID == "" {
		return invalid("ContactID is required.")
	}
	if in.Origin == "" {
		return invalid("Origin is required.")
	}
	if err := checkLen("ExternalID", in.ExternalID, 1, maxClientToken-chars(in.Origin)-1); err != nil {
		return err
	}
	switch in.Role {
	case helpline.RoleAgent:
		if err := checkLen("AuthorName", in.AuthorName, 1, maxDisplayName); err != nil {
			return err
		}
		if chars(in.Origin)+1+chars(in.AuthorName) > maxClientToken {
			return invalid("Origin and AuthorName are too long.")
		}
	case helpline.RoleCustomer:
	default:
		return invalid("Role must be AGENT or CUSTOMER.")
	}
	max, ok := messageTypes[in.ContentType]
	if !ok {
		return invalid("ContentType %q is not supported.", in.ContentType)
	}
	if err := checkLen("Content", in.Content, 1, max); err != nil {
		return invalid("Content must be 1 to %d characters for %s.", max, in.ContentType)
	}
	return nil
}

// externalAuthor returns the participant an external message is posted as.
// A retry of a message whose agent joined before the contact ended finds
// that agent again, so the retry is answered from the store.
func (s *Service) externalAuthor(ctx context.Context, c *helpline.Contact, in helpline.ExternalMessage) (*helpline.Participant, error) {
	ps, err := s.store.FindParticipants(ctx, c.ID)
	if err != nil {
		return nil, err
	}
	agentToken := in.Origin + ":" + in.AuthorName
	for _, p := range ps {
		if in.Role == helpline.RoleCustomer && p.Role == helpline.RoleCustomer ||
			in.Role == helpline.RoleAgent && p.Role == helpline.RoleAgent && p.ClientToken == agentToken {
			return p, nil
		}
	}
	if in.Role == helpline.RoleCustomer {
		return nil, helpline.Errorf(helpline.EINTERNAL, "chat: contact %s has no customer", c.ID)
	}
	if c.Ended() {
		return nil, &helpline.Error{Code: helpline.EFORBIDDEN, Message: "The chat has ended."}
	}
	added, err := s.AddParticipant(ctx, helpline.AddParticipantInput{
		InstanceID: c.InstanceID, ContactID: c.ID, Role: helpline.RoleAgent,
		DisplayName: in.AuthorName, ClientToken: agentToken,
	})
	if helpline.ErrorCode(err) == helpline.ECONFLICT {
		return nil, &helpline.Error{Code: helpline.EFORBIDDEN, Message: "The chat has ended."}
	} else if err != nil {
		return nil, err
	}
	return added.Participant, nil
}
