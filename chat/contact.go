package chat

import (
	"context"
	"encoding/json"
	"time"

	"github.com/helplinehq/helpline"
)

// SystemDisplayName is the DisplayName of items the system sends: the
// flow's greeting, chat.ended and owner.changed.
const SystemDisplayName = helpline.SystemDisplayName

// StartChat creates a contact in the instance's flow with its customer and
// opening items, in this order: the customer's participant.joined event,
// the flow's greeting (a SYSTEM message) if the flow has one, and the
// initial message if one is given. It publishes them and returns a
// participant token that expires with the chat. The store creates a mirror
// pair for each of Config.Mirrors in the contact's transaction.
//
// The contact is created at Version 1 already owned, in the store's one
// transaction, with the owner.changed item (reason "flow") that records
// it after its opening items: by the flow's bot (bot:<id>) when the flow
// names one; otherwise by the flow's queue when at least one enabled
// agent of the instance serves it; else by nobody, as before agents
// existed. A crash can leave no chat that was meant for a queue or bot
// owned by nobody. When the flow has business hours and the chat starts
// outside them, the flow's away message follows the greeting, and the
// chat ends at once (reason CONTACT_FLOW_DISCONNECT), owned by nobody, if
// the flow says so, or else waits. A flow without hours of its own whose
// chat enters its queue follows the queue's hours, away message and
// end_out_of_hours alike.
//
// It is idempotent on (InstanceID, ClientToken): a retry returns the stored
// contact and customer with a valid token and writes nothing. Errors:
// EINVALID for any field outside the model's limits, ENOTFOUND (Resource
// INSTANCE or CONTACT_FLOW, or CONTACT for an unknown RelatedContactID),
// EQUOTA when the instance has Limits.MaxActiveChats active chats.
func (s *Service) StartChat(ctx context.Context, in helpline.StartChatInput) (*helpline.ChatStarted, error) {
	if err := checkStartChat(&in); err != nil {
		return nil, err
	}
	inst, err := s.store.FindInstanceByID(ctx, in.InstanceID)
	if err != nil {
		return nil, err
	}
	flow := inst.FindFlow(in.ContactFlowID)
	if flow == nil {
		return nil, helpline.NotFound(helpline.ResourceContactFlow, in.ContactFlowID)
	}
	if in.RelatedContactID != "" {
		if _, err := s.FindContact(ctx, in.InstanceID, in.RelatedContactID); err != nil {
			return nil, err
		}
	}
	duration := in.ChatDuration
	if duration == 0 {
		duration = s.limits.DefaultChatDuration
	}
	supported := in.SupportedContentTypes
	if len(supported) == 0 {
		supported = []string{helpline.ContentPlain}
	}

	// Who will own the contact is read before now is stamped: the stamp
	// is when it enters its queue, and routing serves the queue in the
	// order of those stamps, so the time from the stamp to the commit
	// that makes the entry visible is kept to the write's.
	owner, err := s.flowOwner(ctx, in.InstanceID, flow)
	if err != nil {
		return nil, err
	}
	hours, away, endOut := flow.Hours, flow.AwayMessage, flow.EndOutOfHours
	if hours == nil && owner == helpline.OwnerQueue+":"+flow.Queue {
		// A flow without hours of its own follows its queue's.
		q, err := s.store.FindQueueByID(ctx, in.InstanceID, flow.Queue)
		if err == nil {
			hours, away, endOut = q.Hours, q.AwayMessage, q.EndOutOfHours
		} else if helpline.ErrorCode(err) != helpline.ENOTFOUND {
			return nil, err
		}
	}

	now := s.now()
	id := helpline.NewID()
	c := &helpline.Contact{
		ID:                    id,
		InstanceID:            in.InstanceID,
		FlowID:                in.ContactFlowID,
		InitialContactID:      id,
		RelatedContactID:      in.RelatedContactID,
		CustomerID:            in.CustomerID,
		State:                 helpline.ContactActive,
		Attributes:            in.Attributes,
		SupportedContentTypes: supported,
		ClientToken:           in.ClientToken,
		CreatedAt:             now,
		ExpiresAt:             now.Add(duration),
	}
	if c.Attributes == nil {
		c.Attributes = map[string]string{}
	}
	customer := &helpline.Participant{
		ID:          helpline.NewID(),
		ContactID:   id,
		Role:        helpline.RoleCustomer,
		DisplayName: in.DisplayName,
		CreatedAt:   now,
	}
	items := []*helpline.Item{participantEvent(customer, helpline.EventParticipantJoined, now)}
	if flow.Greeting != "" {
		items = append(items, systemMessage(id, flow.Greeting, now))
	}
	closed := hours != nil && !hours.IsOpen(now)
	if closed {
		if away == "" {
			away = DefaultAwayMessage
		}
		items = append(items, systemMessage(id, away, now))
	}
	if in.InitialMessage.ContentType != "" {
		items = append(items, &helpline.Item{
			ContactID: id, ID: helpline.NewID(), Type: helpline.ItemMessage,
			ContentType: in.InitialMessage.ContentType, Content: in.InitialMessage.Content,
			ParticipantID: customer.ID, DisplayName: customer.DisplayName, Role: customer.Role,
			Time: now,
		})
	}
	end := closed && endOut
	if !end {
		c.Owner = owner
	}
	var entered *helpline.Item
	if c.Owner != "" {
		ch := helpline.OwnerChange{ContactID: id, To: c.Owner, Reason: "flow", Actor: "flow:" + flow.ID, At: now}
		entered = ch.Item()
		items = append(items, entered)
	}
	nc := &helpline.NewContact{
		Contact: c, Customer: customer, Items: items,
		MaxActive: s.limits.MaxActiveChats, Mirrors: s.mirrors,
	}
	replayed, err := s.store.CreateContact(ctx, nc)
	if err != nil {
		return nil, err
	}
	if !replayed {
		s.publish(ctx, nc.Items...)
		if entered != nil {
			s.publishOwner(ctx, nc.Contact, "")
		}
		if end {
			if err := s.endContact(ctx, nc.Contact, helpline.EndFlowDisconnect); err != nil {
				return nil, err
			}
			if nc.Contact, err = s.store.FindContactByID(ctx, id); err != nil {
				return nil, err
			}
		}
	}
	return &helpline.ChatStarted{
		Contact:          nc.Contact,
		Participant:      nc.Customer,
		ParticipantToken: s.tokens.Sign(helpline.ParticipantToken, nc.Customer.ID, nc.Contact.ExpiresAt),
	}, nil
}

// DefaultAwayMessage is what a customer who starts a chat outside its
// flow's business hours is told when the flow sets no away message.
const DefaultAwayMessage = "We are closed right now. Leave us a message and we will answer as soon as we are open."

// flowOwner returns who owns a new contact of the flow: its bot, else its
// queue provided an enabled agent of the instance serves it, else nobody
// ("").
func (s *Service) flowOwner(ctx context.Context, instanceID string, flow *helpline.Flow) (string, error) {
	switch {
	case flow.Bot != "":
		return helpline.OwnerBot + ":" + flow.Bot, nil
	case flow.Queue == "":
		return "", nil
	}
	served, err := s.served.check(ctx, instanceID, flow.Queue)
	if err != nil || !served {
		return "", err
	}
	return helpline.OwnerQueue + ":" + flow.Queue, nil
}

func checkStartChat(in *helpline.StartChatInput) error {
	if err := checkLen("InstanceId", in.InstanceID, 1, maxInstanceID); err != nil {
		return err
	}
	if err := checkLen("ContactFlowId", in.ContactFlowID, 1, maxContactFlowID); err != nil {
		return err
	}
	if err := checkLen("DisplayName", in.DisplayName, 1, maxDisplayName); err != nil {
		return err
	}
	if err := checkLen("ClientToken", in.ClientToken, 0, maxClientToken); err != nil {
		return err
	}
	if err := checkLen("CustomerId", in.CustomerID, 0, maxCustomerID); err != nil {
		return err
	}
	if err := checkLen("RelatedContactId", in.RelatedContactID, 0, maxContactID); err != nil {
		return err
	}
	if err := checkAttributes(in.Attributes); err != nil {
		return err
	}
	if d := in.ChatDuration; d != 0 && (d < minChatMinutes*time.Minute || d > maxChatMinutes*time.Minute) {
		return invalid("ChatDurationInMinutes must be %d to %d.", minChatMinutes, maxChatMinutes)
	}
	if len(in.SupportedContentTypes) > 0 {
		seen := map[string]bool{}
		var types []string
		for _, t := range in.SupportedContentTypes {
			if !supportableTypes[t] {
				return invalid("SupportedMessagingContentTypes: %q is not supported.", t)
			}
			if !seen[t] {
				seen[t] = true
				types = append(types, t)
			}
		}
		if !seen[helpline.ContentPlain] {
			return invalid("SupportedMessagingContentTypes must include text/plain.")
		}
		in.SupportedContentTypes = types
	}
	im := in.InitialMessage
	if im.ContentType == "" && im.Content != "" {
		return invalid("InitialMessage.ContentType is required.")
	}
	if im.ContentType != "" {
		if _, ok := messageTypes[im.ContentType]; !ok || im.ContentType == helpline.ContentInteractive {
			return invalid("InitialMessage.ContentType %q is not supported.", im.ContentType)
		}
		if !contains(in.SupportedContentTypes, im.ContentType) && im.ContentType != helpline.ContentPlain {
			return invalid("InitialMessage.ContentType %q is not in SupportedMessagingContentTypes.", im.ContentType)
		}
		if im.Content == "" {
			return invalid("InitialMessage.Content is required.")
		}
		if len(im.Content) > maxInitialContent {
			return invalid("InitialMessage.Content exceeds %d bytes.", maxInitialContent)
		}
	}
	return nil
}

func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}

// participantEvent returns a participant.joined or participant.left item of p.
func participantEvent(p *helpline.Participant, contentType string, at time.Time) *helpline.Item {
	return &helpline.Item{
		ContactID: p.ContactID, ID: helpline.NewID(), Type: helpline.ItemEvent, ContentType: contentType,
		ParticipantID: p.ID, DisplayName: p.DisplayName, Role: p.Role, Time: at,
	}
}

// chatEnded returns a chat.ended item of the contact.
func chatEnded(contactID string, at time.Time) *helpline.Item {
	return &helpline.Item{
		ContactID: contactID, ID: helpline.NewID(), Type: helpline.ItemEvent, ContentType: helpline.EventChatEnded,
		ParticipantID: helpline.SystemParticipantID(contactID), DisplayName: SystemDisplayName, Role: helpline.RoleSystem, Time: at,
	}
}

// AddParticipant adds a bot (CUSTOM_BOT) or, as a Helpline extension, an
// agent (AGENT) to an active contact, stores and publishes its
// participant.joined item, and returns its participant token, which
// expires with the chat. An empty DisplayName defaults to the role.
//
// It is idempotent on (ContactID, ClientToken). Errors: EINVALID,
// ENOTFOUND (Resource CONTACT, also when the contact belongs to another
// instance), ECONFLICT when the contact has ended.
func (s *Service) AddParticipant(ctx context.Context, in helpline.AddParticipantInput) (*helpline.ParticipantAdded, error) {
	if in.Role != helpline.RoleBot && in.Role != helpline.RoleAgent {
		return nil, invalid("ParticipantRole must be CUSTOM_BOT or AGENT.")
	}
	if in.DisplayName == "" {
		in.DisplayName = in.Role
	}
	if err := checkLen("DisplayName", in.DisplayName, 1, maxDisplayName); err != nil {
		return nil, err
	}
	if err := checkLen("ClientToken", in.ClientToken, 0, maxClientToken); err != nil {
		return nil, err
	}
	c, err := s.FindContact(ctx, in.InstanceID, in.ContactID)
	if err != nil {
		return nil, err
	}
	if c.Ended() {
		return nil, helpline.Errorf(helpline.ECONFLICT, "Contact %s has ended.", c.ID)
	}
	now := s.now()
	p := &helpline.Participant{
		ID: helpline.NewID(), ContactID: c.ID, Role: in.Role, DisplayName: in.DisplayName,
		ClientToken: in.ClientToken, CreatedAt: now,
	}
	joined := participantEvent(p, helpline.EventParticipantJoined, now)
	replayed, err := s.store.CreateParticipant(ctx, p, []*helpline.Item{joined})
	if err != nil {
		return nil, err
	}
	if !replayed {
		s.publish(ctx, joined)
	}
	return &helpline.ParticipantAdded{
		Participant:      p,
		ParticipantToken: s.tokens.Sign(helpline.ParticipantToken, p.ID, c.ExpiresAt),
		Expiry:           c.ExpiresAt,
	}, nil
}

// FindInstance returns an instance, or ENOTFOUND (Resource INSTANCE).
func (s *Service) FindInstance(ctx context.Context, id string) (*helpline.Instance, error) {
	return s.store.FindInstanceByID(ctx, id)
}

// FindContact returns a contact of the instance. A contact of another
// instance is ENOTFOUND (Resource CONTACT), as an unknown one is.
func (s *Service) FindContact(ctx context.Context, instanceID, contactID string) (*helpline.Contact, error) {
	c, err := s.store.FindContactByID(ctx, contactID)
	if err != nil {
		return nil, err
	}
	if c.InstanceID != instanceID {
		return nil, helpline.NotFound(helpline.ResourceContact, contactID)
	}
	return c, nil
}

// UpdateContactAttributes merges attrs into the contact's attributes; it
// works on ended contacts too. A change on an active contact is recorded
// as a customer.updated item, as UpdateCustomer's. Errors: EINVALID (names or size, see
// StartChat), ENOTFOUND.
func (s *Service) UpdateContactAttributes(ctx context.Context, instanceID, contactID string, attrs map[string]string) (*helpline.Contact, error) {
	if err := checkAttributes(attrs); err != nil {
		return nil, err
	}
	c, err := s.FindContact(ctx, instanceID, contactID)
	if err != nil {
		return nil, err
	}
	// The customer's identity may arrive this way after the chat started
	// (an email the bot collected): connectors see it as a
	// customer.updated item.
	return s.updateCustomer(ctx, c, helpline.CustomerUpdate{Attributes: attrs})
}

// StopContact ends a contact with reason API. Stopping an ended contact is
// not an error. Errors: ENOTFOUND.
func (s *Service) StopContact(ctx context.Context, instanceID, contactID string) error {
	c, err := s.FindContact(ctx, instanceID, contactID)
	if err != nil {
		return err
	}
	return s.endContact(ctx, c, helpline.EndAPI)
}

// ExpireDue ends, with reason EXPIRED, every active chat whose duration ran
// out by now, and returns how many it ended. Run calls it periodically.
func (s *Service) ExpireDue(ctx context.Context) (int, error) {
	const batch = 100
	ended := 0
	for {
		due, err := s.store.FindContactsToExpire(ctx, s.now(), batch)
		if err != nil {
			return ended, err
		}
		for _, c := range due {
			if err := s.endContact(ctx, c, helpline.EndExpired); err != nil {
				return ended, err
			}
			ended++
		}
		if len(due) < batch {
			return ended, nil
		}
	}
}

// Disconnect makes the session's participant leave. When the customer
// leaves, the contact ends (reason CUSTOMER_DISCONNECT); when an agent or
// bot leaves, only its participant.left item is stored and the chat goes
// on. Disconnecting twice is not an error.
func (s *Service) Disconnect(ctx context.Context, sess *helpline.Session) error {
	p := sess.Participant
	if p.Role == helpline.RoleCustomer {
		return s.endContact(ctx, sess.Contact, helpline.EndCustomerDisconnect)
	}
	left := participantEvent(p, helpline.EventParticipantLeft, s.now())
	ok, err := s.store.LeaveParticipant(ctx, p.ID, left.Time, []*helpline.Item{left})
	if err != nil {
		return err
	}
	s.sessions.forgetParticipant(p.ID)
	if ok {
		s.publish(ctx, left)
	}
	return nil
}

// endContact ends c: it stores a participant.left item for every
// participant still present (the customer last) and then chat.ended, and
// publishes them. Ending an ended contact does nothing. A participant that
// joins while the contact ends is marked left by the store without an item
// of its own.
func (s *Service) endContact(ctx context.Context, c *helpline.Contact, reason string) error {
	if c.Ended() {
		return nil
	}
	ps, err := s.store.FindParticipants(ctx, c.ID)
	if err != nil {
		return err
	}
	now := s.now()
	var items, customers []*helpline.Item
	for _, p := range ps {
		if p.Left() {
			continue
		}
		left := participantEvent(p, helpline.EventParticipantLeft, now)
		if p.Role == helpline.RoleCustomer {
			customers = append(customers, left)
		} else {
			items = append(items, left)
		}
	}
	items = append(append(items, customers...), chatEnded(c.ID, now))
	ended, err := s.store.EndContact(ctx, c.ID, reason, now, items)
	if err != nil {
		return err
	}
	s.sessions.forgetContact(c.ID)
	if ended {
		s.publish(ctx, items...)
	}
	return nil
}

// UpdateCustomer records what a connector learned about the contact's
// customer after the contact started: the customer's new display name
// (when set) and attributes merged into the contact's. When that changed
// anything on an active contact, a customer.updated EVENT, by the
// customer under the new name, is stored and published with the change
// as its content, so that connectors re-read the customer in order with
// the lines around it. Errors: EINVALID, ENOTFOUND.
func (s *Service) UpdateCustomer(ctx context.Context, u helpline.CustomerUpdate) (*helpline.Contact, error) {
	if u.DisplayName != "" {
		if err := checkLen("DisplayName", u.DisplayName, 1, maxDisplayName); err != nil {
			return nil, err
		}
	}
	if err := checkAttributes(u.Attributes); err != nil {
		return nil, err
	}
	c, err := s.store.FindContactByID(ctx, u.ContactID)
	if err != nil {
		return nil, err
	}
	return s.updateCustomer(ctx, c, u)
}

// updateCustomer applies u to c and publishes its customer.updated item
// when one was stored.
func (s *Service) updateCustomer(ctx context.Context, c *helpline.Contact, u helpline.CustomerUpdate) (*helpline.Contact, error) {
	ps, err := s.store.FindParticipants(ctx, c.ID)
	if err != nil {
		return nil, err
	}
	var customer *helpline.Participant
	for _, p := range ps {
		if p.Role == helpline.RoleCustomer {
			customer = p
		}
	}
	if customer == nil {
		return nil, helpline.Errorf(helpline.EINTERNAL, "chat: contact %s has no customer", c.ID)
	}
	// The item names only what changes, read before the write; a racing
	// update may make it say a little more than its own share, never less.
	change := helpline.CustomerUpdate{Attributes: map[string]string{}}
	if u.DisplayName != "" && u.DisplayName != customer.DisplayName {
		change.DisplayName = u.DisplayName
	}
	for k, v := range u.Attributes {
		if old, ok := c.Attributes[k]; !ok || old != v {
			change.Attributes[k] = v
		}
	}
	if change.DisplayName == "" && len(change.Attributes) == 0 {
		return c, nil
	}
	content, err := json.Marshal(change)
	if err != nil {
		return nil, err
	}
	it := participantEvent(customer, helpline.EventCustomerUpdated, s.now())
	if u.DisplayName != "" {
		it.DisplayName = u.DisplayName
	}
	it.Content = string(content)
	updated, changed, err := s.store.UpdateCustomer(ctx, c.ID, u.DisplayName, u.Attributes, it)
	if err != nil {
		return nil, err
	}
	s.sessions.forgetContact(c.ID)
	if changed && it.Seq != 0 {
		s.publish(ctx, it)
	}
	return updated, nil
}
