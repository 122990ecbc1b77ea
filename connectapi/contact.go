package connectapi

import (
	"encoding/json"
	"net/http"
	"strconv"
	"time"

	"github.com/helplinehq/helpline"
)

// contactHandler runs one contact operation. It decodes the request, calls
// authorize with the InstanceId it names (which verifies the signature
// against that instance's keys and applies the rate limit), then validates
// and executes it.
type contactHandler func(r *http.Request, body []byte, authorize func(instanceID string) error) (any, error)

// contactOp wraps a contact operation with SigV4 verification, the body
// limit, rate limiting and the contact API's error table.
func (s *server) contactOp(op string, h contactHandler) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		fail := func(err error) {
			if helpline.ErrorCode(err) == helpline.ETHROTTLED && op == "StartChatContact" {
				err = &apiError{status: http.StatusTooManyRequests, name: "TooManyRequestsException", message: helpline.ErrorMessage(err)}
			}
			s.writeError(w, r, contactErrors, err)
		}
		sr, err := s.parseSigned(r)
		if err != nil {
			fail(err)
			return
		}
		body, err := readBody(r)
		if err != nil {
			fail(err)
			return
		}
		authorize := func(instanceID string) error {
			if instanceID == "" {
				return helpline.Errorf(helpline.EINVALID, "InstanceId is required.")
			}
			if err := s.verify(r.Context(), r, body, sr, instanceID); err != nil {
				return err
			}
			if !s.limits.allow(instanceID, "", op, s.now()) {
				return helpline.Errorf(helpline.ETHROTTLED, "Rate exceeded for %s.", op)
			}
			return nil
		}
		out, err := h(r, body, authorize)
		if err != nil {
			fail(err)
			return
		}
		writeJSON(w, out)
	}
}

// startChatContactRequest is StartChatContact's body (connect model).
type startChatContactRequest struct {
	InstanceId         string
	ContactFlowId      string
	Attributes         map[string]string
	ParticipantDetails *struct{ DisplayName string }
	// ParticipantConfiguration is validated and otherwise ignored:
	// Helpline bots answer with complete messages.
	ParticipantConfiguration *struct{ ResponseMode string }
	InitialMessage           *struct{ ContentType, Content string }
	ClientToken              *string
	ChatDurationInMinutes    *int64
	// SupportedMessagingContentTypes is nil when absent.
	SupportedMessagingContentTypes []string
	PersistentChat                 *struct {
		RehydrationType string
		SourceContactId *string
	}
	RelatedContactId *string
	// SegmentAttributes are accepted and ignored; only their names are
	// checked.
	SegmentAttributes map[string]json.RawMessage
	CustomerId        *string
	// DisconnectOnCustomerExit ["AGENT"] is what Helpline always does: the
	// contact ends when the customer leaves.
	DisconnectOnCustomerExit []string
}

func decodeStartChatContact(body []byte) (*startChatContactRequest, error) {
	var req startChatContactRequest
	return &req, decodeJSON(body, &req)
}

func (req *startChatContactRequest) validate() error {
	var c check
	c.required("InstanceId", req.InstanceId, 1, 100)
	c.required("ContactFlowId", req.ContactFlowId, 1, 500)
	checkAttributes(&c, req.Attributes)
	if req.ParticipantDetails == nil {
		c.fail("ParticipantDetails is required.")
	} else {
		c.required("ParticipantDetails.DisplayName", req.ParticipantDetails.DisplayName, 1, 256)
	}
	if pc := req.ParticipantConfiguration; pc != nil {
		c.oneOf("ParticipantConfiguration.ResponseMode", pc.ResponseMode, "INCREMENTAL", "COMPLETE")
	}
	if m := req.InitialMessage; m != nil {
		c.required("InitialMessage.ContentType", m.ContentType, 1, 100)
		c.required("InitialMessage.Content", m.Content, 1, 16384)
	}
	c.optional("ClientToken", req.ClientToken, 0, 500)
	c.between("ChatDurationInMinutes", req.ChatDurationInMinutes, 60, 10080)
	for _, t := range req.SupportedMessagingContentTypes {
		c.length("SupportedMessagingContentTypes member", t, 1, 100)
	}
	if req.PersistentChat != nil {
		c.oneOf("PersistentChat.RehydrationType", req.PersistentChat.RehydrationType, "ENTIRE_PAST_SESSION", "FROM_SEGMENT")
		c.optional("PersistentChat.SourceContactId", req.PersistentChat.SourceContactId, 1, 256)
		if req.RelatedContactId != nil {
			c.fail("RelatedContactId cannot be combined with PersistentChat.")
		}
		c.fail("PersistentChat is not supported.")
	}
	c.optional("RelatedContactId", req.RelatedContactId, 1, 256)
	for name := range req.SegmentAttributes {
		c.length("SegmentAttributes key", name, 1, 128)
	}
	c.optional("CustomerId", req.CustomerId, 1, 128)
	if req.DisconnectOnCustomerExit != nil {
		if len(req.DisconnectOnCustomerExit) != 1 {
			c.fail("DisconnectOnCustomerExit must have exactly 1 member.")
		}
		for _, p := range req.DisconnectOnCustomerExit {
			if p != "AGENT" {
				c.fail("DisconnectOnCustomerExit members must be AGENT.")
			}
		}
	}
	return c.err
}

// checkAttributes applies the model's limits to contact attributes: names
// 1..32767 characters, values up to 32767, 32,768 UTF-8 bytes in all.
func checkAttributes(c *check, attrs map[string]string) {
	total := 0
	for k, v := range attrs {
		c.length("Attributes key", k, 1, 32767)
		c.length("Attributes value", v, 0, 32767)
		total += len(k) + len(v)
	}
	if total > 32768 {
		c.fail("Attributes exceed 32,768 bytes in total.")
	}
}

func (s *server) startChatContact(r *http.Request, body []byte, authorize func(string) error) (any, error) {
	req, err := readContactBody(body, decodeStartChatContact, authorize)
	if err != nil {
		return nil, err
	}
	in := helpline.StartChatInput{
		InstanceID:            req.InstanceId,
		ContactFlowID:         req.ContactFlowId,
		DisplayName:           req.ParticipantDetails.DisplayName,
		Attributes:            req.Attributes,
		ClientToken:           deref(req.ClientToken),
		SupportedContentTypes: req.SupportedMessagingContentTypes,
		CustomerID:            deref(req.CustomerId),
		RelatedContactID:      deref(req.RelatedContactId),
	}
	if m := req.InitialMessage; m != nil {
		in.InitialMessage.ContentType, in.InitialMessage.Content = m.ContentType, m.Content
	}
	if d := req.ChatDurationInMinutes; d != nil {
		in.ChatDuration = time.Duration(*d) * time.Minute
	}
	out, err := s.svc.StartChat(r.Context(), in)
	if err != nil {
		return nil, err
	}
	return struct{ ContactId, ParticipantId, ParticipantToken string }{
		out.Contact.ID, out.Participant.ID, out.ParticipantToken,
	}, nil
}

// createParticipantRequest is CreateParticipant's body. ParticipantRole
// CUSTOM_BOT is what Connect allows; AGENT is a Helpline extension that
// lets an outside agent desk join a chat as a human agent.
type createParticipantRequest struct {
	InstanceId         string
	ContactId          string
	ClientToken        *string
	ParticipantDetails *struct {
		ParticipantRole string
		DisplayName     *string
		// ParticipantCapabilities (video, screen sharing) is accepted
		// and ignored: Helpline chats are text only.
		ParticipantCapabilities json.RawMessage
	}
}

func decodeCreateParticipant(body []byte) (*createParticipantRequest, error) {
	var req createParticipantRequest
	return &req, decodeJSON(body, &req)
}

func (req *createParticipantRequest) validate() error {
	var c check
	c.required("InstanceId", req.InstanceId, 1, 100)
	c.required("ContactId", req.ContactId, 1, 256)
	c.optional("ClientToken", req.ClientToken, 0, 500)
	if d := req.ParticipantDetails; d == nil {
		c.fail("ParticipantDetails is required.")
	} else {
		if d.ParticipantRole == "" {
			c.fail("ParticipantDetails.ParticipantRole is required.")
		}
		c.oneOf("ParticipantDetails.ParticipantRole", d.ParticipantRole, helpline.RoleBot, helpline.RoleAgent)
		c.optional("ParticipantDetails.DisplayName", d.DisplayName, 1, 256)
	}
	return c.err
}

func (s *server) createParticipant(r *http.Request, body []byte, authorize func(string) error) (any, error) {
	req, err := readContactBody(body, decodeCreateParticipant, authorize)
	if err != nil {
		return nil, err
	}
	out, err := s.svc.AddParticipant(r.Context(), helpline.AddParticipantInput{
		InstanceID:  req.InstanceId,
		ContactID:   req.ContactId,
		Role:        req.ParticipantDetails.ParticipantRole,
		DisplayName: deref(req.ParticipantDetails.DisplayName),
		ClientToken: deref(req.ClientToken),
	})
	if err != nil {
		return nil, err
	}
	type credentials struct{ ParticipantToken, Expiry string }
	return struct {
		ParticipantId          string
		ParticipantCredentials credentials
	}{out.Participant.ID, credentials{out.ParticipantToken, helpline.FormatTime(out.Expiry)}}, nil
}

// stopContactRequest is StopContact's body. DisconnectReason is accepted
// and not recorded: the contact's reason is API.
type stopContactRequest struct {
	ContactId        string
	InstanceId       string
	DisconnectReason *struct{ Code string }
}

func decodeStopContact(body []byte) (*stopContactRequest, error) {
	var req stopContactRequest
	return &req, decodeJSON(body, &req)
}

func (req *stopContactRequest) validate() error {
	var c check
	c.required("InstanceId", req.InstanceId, 1, 100)
	c.required("ContactId", req.ContactId, 1, 256)
	return c.err
}

func (s *server) stopContact(r *http.Request, body []byte, authorize func(string) error) (any, error) {
	req, err := readContactBody(body, decodeStopContact, authorize)
	if err != nil {
		return nil, err
	}
	if err := s.svc.StopContact(r.Context(), req.InstanceId, req.ContactId); err != nil {
		return nil, err
	}
	return struct{}{}, nil
}

// epochSeconds renders a time as the contact API's rest-json timestamps
// are: a JSON number of seconds since the epoch, with milliseconds (the
// connect model gives its timestamps no format, so the SDKs expect
// epoch-seconds; the participant API uses ISO strings instead).
type epochSeconds time.Time

func (t epochSeconds) MarshalJSON() ([]byte, error) {
	return strconv.AppendFloat(nil, float64(time.Time(t).UnixMilli())/1000, 'f', 3, 64), nil
}

// wireContact holds the Contact members that apply to a Helpline chat.
type wireContact struct {
	Id                  string
	InitialContactId    string
	RelatedContactId    string `json:",omitempty"`
	InitiationMethod    string
	Channel             string
	InitiationTimestamp epochSeconds
	// ConnectedToSystemTimestamp is when the chat started: chats are
	// connected from creation.
	ConnectedToSystemTimestamp epochSeconds
	DisconnectTimestamp        *epochSeconds `json:",omitempty"`
	DisconnectReason           string        `json:",omitempty"`
	CustomerId                 string        `json:",omitempty"`
	Attributes                 map[string]string
}

func (s *server) describeContact(r *http.Request, _ []byte, authorize func(string) error) (any, error) {
	instanceID, contactID := r.PathValue("InstanceId"), r.PathValue("ContactId")
	if err := authorize(instanceID); err != nil {
		return nil, err
	}
	var c check
	c.required("InstanceId", instanceID, 1, 100)
	c.required("ContactId", contactID, 1, 256)
	if c.err != nil {
		return nil, c.err
	}
	ct, err := s.svc.FindContact(r.Context(), instanceID, contactID)
	if err != nil {
		return nil, err
	}
	w := wireContact{
		Id:                         ct.ID,
		InitialContactId:           ct.InitialContactID,
		RelatedContactId:           ct.RelatedContactID,
		InitiationMethod:           "API",
		Channel:                    "CHAT",
		InitiationTimestamp:        epochSeconds(ct.CreatedAt),
		ConnectedToSystemTimestamp: epochSeconds(ct.CreatedAt),
		CustomerId:                 ct.CustomerID,
		Attributes:                 nonNilAttributes(ct.Attributes),
	}
	if ct.Ended() {
		ended := epochSeconds(ct.EndedAt)
		w.DisconnectTimestamp, w.DisconnectReason = &ended, ct.EndReason
	}
	return struct{ Contact wireContact }{w}, nil
}

func nonNilAttributes(m map[string]string) map[string]string {
	if m == nil {
		return map[string]string{}
	}
	return m
}

func (s *server) getContactAttributes(r *http.Request, _ []byte, authorize func(string) error) (any, error) {
	instanceID, contactID := r.PathValue("InstanceId"), r.PathValue("InitialContactId")
	if err := authorize(instanceID); err != nil {
		return nil, err
	}
	var c check
	c.required("InstanceId", instanceID, 1, 100)
	c.required("InitialContactId", contactID, 1, 256)
	if c.err != nil {
		return nil, c.err
	}
	ct, err := s.svc.FindContact(r.Context(), instanceID, contactID)
	if err != nil {
		return nil, err
	}
	return struct{ Attributes map[string]string }{nonNilAttributes(ct.Attributes)}, nil
}

// updateContactAttributesRequest is UpdateContactAttributes' body.
type updateContactAttributesRequest struct {
	InitialContactId string
	InstanceId       string
	Attributes       map[string]string
}

func decodeUpdateContactAttributes(body []byte) (*updateContactAttributesRequest, error) {
	var req updateContactAttributesRequest
	return &req, decodeJSON(body, &req)
}

func (req *updateContactAttributesRequest) validate() error {
	var c check
	c.required("InstanceId", req.InstanceId, 1, 100)
	c.required("InitialContactId", req.InitialContactId, 1, 256)
	if req.Attributes == nil {
		c.fail("Attributes is required.")
	}
	checkAttributes(&c, req.Attributes)
	return c.err
}

func (s *server) updateContactAttributes(r *http.Request, body []byte, authorize func(string) error) (any, error) {
	req, err := readContactBody(body, decodeUpdateContactAttributes, authorize)
	if err != nil {
		return nil, err
	}
	if _, err := s.svc.UpdateContactAttributes(r.Context(), req.InstanceId, req.InitialContactId, req.Attributes); err != nil {
		return nil, err
	}
	return struct{}{}, nil
}

// bodyRequest is the JSON body of a contact operation.
type bodyRequest interface {
	instance() string
	validate() error
}

func (r *startChatContactRequest) instance() string        { return r.InstanceId }
func (r *createParticipantRequest) instance() string       { return r.InstanceId }
func (r *stopContactRequest) instance() string             { return r.InstanceId }
func (r *updateContactAttributesRequest) instance() string { return r.InstanceId }

// readContactBody decodes a contact operation's body, has the key of the
// instance it names verify the signature, then validates it: a request
// signed by a stranger learns nothing about what it got wrong.
func readContactBody[R bodyRequest](body []byte, decode func([]byte) (R, error), authorize func(string) error) (R, error) {
	req, err := decode(body)
	if err != nil {
		return req, err
	} else if err := authorize(req.instance()); err != nil {
		return req, err
	}
	return req, req.validate()
}
