package connectapi

import (
	"net/http"
	"net/url"
	"time"

	"github.com/helplinehq/helpline"
)

// participantHandler runs one Participant Service operation for an
// authenticated session; body is the raw JSON body (nil for GET).
type participantHandler func(r *http.Request, sess *helpline.Session, body []byte) (any, error)

// participantOp wraps an operation with bearer-token authentication (kind
// says which token it takes), the participant's and the instance's rate
// limits (see RateLimits), the body limit and the
// participant error table. Authorization headers are ignored: the SDKs
// sign participant calls with whatever credentials they hold, and the
// token alone authorises.
func (s *server) participantOp(op string, kind helpline.TokenKind, h participantHandler) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		out, err := s.runParticipantOp(op, kind, h, r)
		if err != nil {
			s.writeError(w, r, participantErrors, err)
			return
		}
		writeJSON(w, out)
	}
}

func (s *server) runParticipantOp(op string, kind helpline.TokenKind, h participantHandler, r *http.Request) (any, error) {
	token := r.Header.Get("X-Amz-Bearer")
	if token == "" {
		return nil, helpline.Errorf(helpline.EFORBIDDEN, "The X-Amz-Bearer header is required.")
	}
	var c check
	c.length("X-Amz-Bearer", token, 1, 1000)
	if c.err != nil {
		return nil, c.err
	}
	sess, err := s.svc.Authenticate(r.Context(), kind, token)
	if err != nil {
		return nil, err
	}
	if !s.limits.allow(sess.Contact.InstanceID, sess.Participant.ID, op, s.now()) {
		return nil, helpline.Errorf(helpline.ETHROTTLED, "Rate exceeded for %s.", op)
	}
	var body []byte
	if r.Method == http.MethodPost {
		if body, err = readBody(r); err != nil {
			return nil, err
		}
	}
	return h(r, sess, body)
}

// Connection types of CreateParticipantConnection.
const (
	connectionWebSocket   = "WEBSOCKET"
	connectionCredentials = "CONNECTION_CREDENTIALS"
	connectionWebRTC      = "WEBRTC_CONNECTION"
)

type createParticipantConnectionRequest struct {
	// Type is nil when absent; present, it needs at least one member.
	Type               []string
	ConnectParticipant *bool
}

func decodeCreateParticipantConnection(body []byte) (*createParticipantConnectionRequest, error) {
	var req createParticipantConnectionRequest
	if err := decodeJSON(body, &req); err != nil {
		return nil, err
	}
	var c check
	if req.Type != nil && len(req.Type) == 0 {
		c.fail("Type must have at least 1 member.")
	}
	for _, t := range req.Type {
		c.oneOf("Type", t, connectionWebSocket, connectionCredentials, connectionWebRTC)
		if t == "" {
			c.fail("Type members must not be empty.")
		}
		if t == connectionWebRTC {
			c.fail("WEBRTC_CONNECTION is not supported: Helpline chats are text only.")
		}
	}
	return &req, c.err
}

type websocketInfo struct{ Url, ConnectionExpiry string }
type connectionCredentialsInfo struct{ ConnectionToken, Expiry string }

// createParticipantConnection issues a fresh connection each call; chatjs
// calls it on every socket refresh for the participant's lifetime. The
// response holds each requested object with all of its members (chatjs
// reads them without checks); with no Type it is {}.
//
// The WebSocket URL is <base>/participant/ws?token=<token>, where base is
// wss://<PublicURL host> (ws:// for an http PublicURL); without PublicURL
// it is ws://127.0.0.1:<port> for a plain-HTTP request that arrived on an
// IPv4 loopback address (chatjs accepts only wss:// and ws://127.0.0.1:
// URLs), wss://<Host> over TLS and ws://<Host> otherwise.
func (s *server) createParticipantConnection(r *http.Request, sess *helpline.Session, body []byte) (any, error) {
	req, err := decodeCreateParticipantConnection(body)
	if err != nil {
		return nil, err
	}
	conn, err := s.svc.CreateConnection(r.Context(), sess, req.ConnectParticipant != nil && *req.ConnectParticipant)
	if err != nil {
		return nil, err
	}
	var out struct {
		Websocket             *websocketInfo             `json:",omitempty"`
		ConnectionCredentials *connectionCredentialsInfo `json:",omitempty"`
	}
	for _, t := range req.Type {
		switch t {
		case connectionWebSocket:
			out.Websocket = &websocketInfo{
				Url:              s.socketBaseURL(r) + "/participant/ws?token=" + url.QueryEscape(conn.WebSocketToken),
				ConnectionExpiry: helpline.FormatTime(conn.WebSocketExpiry),
			}
		case connectionCredentials:
			out.ConnectionCredentials = &connectionCredentialsInfo{conn.ConnectionToken, helpline.FormatTime(conn.ConnectionExpiry)}
		}
	}
	return out, nil
}

type sendMessageRequest struct {
	ContentType string
	Content     string
	ClientToken *string
}

func decodeSendMessage(body []byte) (*sendMessageRequest, error) {
	var req sendMessageRequest
	if err := decodeJSON(body, &req); err != nil {
		return nil, err
	}
	var c check
	c.required("ContentType", req.ContentType, 1, 100)
	c.required("Content", req.Content, 1, 16384)
	c.optional("ClientToken", req.ClientToken, 0, 500)
	return &req, c.err
}

// itemReceipt is SendMessage's and SendEvent's response.
type itemReceipt struct{ Id, AbsoluteTime string }

func (s *server) sendMessage(r *http.Request, sess *helpline.Session, body []byte) (any, error) {
	req, err := decodeSendMessage(body)
	if err != nil {
		return nil, err
	}
	it, err := s.svc.SendMessage(r.Context(), sess, req.ContentType, req.Content, deref(req.ClientToken))
	if err != nil {
		return nil, err
	}
	return itemReceipt{it.ID, helpline.FormatTime(it.Time)}, nil
}

type sendEventRequest struct {
	ContentType string
	// Content is optional; an empty string is taken as absent, the way a
	// typing event carries no content (the model's minimum is 1, but no
	// client means anything else by "").
	Content     string
	ClientToken *string
}

func decodeSendEvent(body []byte) (*sendEventRequest, error) {
	var req sendEventRequest
	if err := decodeJSON(body, &req); err != nil {
		return nil, err
	}
	var c check
	c.required("ContentType", req.ContentType, 1, 100)
	c.length("Content", req.Content, 0, 16384)
	c.optional("ClientToken", req.ClientToken, 0, 500)
	return &req, c.err
}

func (s *server) sendEvent(r *http.Request, sess *helpline.Session, body []byte) (any, error) {
	req, err := decodeSendEvent(body)
	if err != nil {
		return nil, err
	}
	it, err := s.svc.SendEvent(r.Context(), sess, req.ContentType, req.Content, deref(req.ClientToken))
	if err != nil {
		return nil, err
	}
	return itemReceipt{it.ID, helpline.FormatTime(it.Time)}, nil
}

type getTranscriptRequest struct {
	ContactId  *string
	MaxResults *int64
	// NextToken "" is taken as absent (the model's minimum is 1): a
	// client that stored an empty token means "first page".
	NextToken     string
	ScanDirection string
	SortOrder     string
	StartPosition *struct {
		Id           *string
		AbsoluteTime *string
		MostRecent   *int64
	}
}

// decodeGetTranscript decodes and validates a GetTranscript body. An empty
// StartPosition {} (chatjs always sends one) is no start position.
func decodeGetTranscript(body []byte) (helpline.TranscriptQuery, error) {
	var req getTranscriptRequest
	var q helpline.TranscriptQuery
	if err := decodeJSON(body, &req); err != nil {
		return q, err
	}
	var c check
	c.optional("ContactId", req.ContactId, 1, 256)
	c.between("MaxResults", req.MaxResults, 0, 100)
	c.length("NextToken", req.NextToken, 0, 1000)
	c.oneOf("ScanDirection", req.ScanDirection, "FORWARD", "BACKWARD")
	c.oneOf("SortOrder", req.SortOrder, "ASCENDING", "DESCENDING")
	q.ContactID = deref(req.ContactId)
	if req.MaxResults != nil {
		q.MaxResults = int(*req.MaxResults)
	}
	q.NextToken, q.ScanDirection, q.SortOrder = req.NextToken, req.ScanDirection, req.SortOrder
	if p := req.StartPosition; p != nil {
		set := 0
		if p.Id != nil {
			set++
			c.length("StartPosition.Id", *p.Id, 1, 256)
			q.StartID = *p.Id
		}
		if p.AbsoluteTime != nil {
			set++
			c.length("StartPosition.AbsoluteTime", *p.AbsoluteTime, 1, 100)
			t, err := time.Parse(time.RFC3339Nano, *p.AbsoluteTime)
			if err != nil {
				c.fail("StartPosition.AbsoluteTime must be an ISO 8601 time such as 2019-11-08T02:41:28.172Z.")
			}
			q.StartTime = t.UTC()
		}
		if p.MostRecent != nil {
			set++
			c.between("StartPosition.MostRecent", p.MostRecent, 0, 100)
			q.MostRecent = int(*p.MostRecent)
		}
		if set > 1 {
			c.fail("StartPosition takes only one of Id, AbsoluteTime and MostRecent.")
		}
	}
	return q, c.err
}

func (s *server) getTranscript(r *http.Request, sess *helpline.Session, body []byte) (any, error) {
	q, err := decodeGetTranscript(body)
	if err != nil {
		return nil, err
	}
	page, err := s.svc.Transcript(r.Context(), sess, q)
	if err != nil {
		return nil, err
	}
	out := struct {
		InitialContactId string
		Transcript       []wireItem
		// NextToken is omitted on the last page: the Go paginator
		// stops only on a nil token.
		NextToken string `json:",omitempty"`
	}{page.InitialContactID, make([]wireItem, 0, len(page.Items)), page.NextToken}
	for _, it := range page.Items {
		if helpline.IsHelplineEvent(it) {
			continue // an internal record, not for Connect clients
		}
		out.Transcript = append(out.Transcript, toWireItem(it, page.InitialContactID))
	}
	return out, nil
}

type disconnectParticipantRequest struct{ ClientToken *string }

func decodeDisconnectParticipant(body []byte) (*disconnectParticipantRequest, error) {
	var req disconnectParticipantRequest
	if err := decodeJSON(body, &req); err != nil {
		return nil, err
	}
	var c check
	c.optional("ClientToken", req.ClientToken, 0, 500)
	return &req, c.err
}

// disconnectParticipant makes the participant leave; the engine then
// pushes chat.ended to the participant's sockets, which chatjs v4+ waits
// for. Disconnecting twice is not an error.
func (s *server) disconnectParticipant(r *http.Request, sess *helpline.Session, body []byte) (any, error) {
	if _, err := decodeDisconnectParticipant(body); err != nil {
		return nil, err
	}
	if err := s.svc.Disconnect(r.Context(), sess); err != nil {
		return nil, err
	}
	return struct{}{}, nil
}

// describeView always answers ResourceNotFoundException: Helpline has no
// step-by-step guide views.
func (s *server) describeView(r *http.Request, _ *helpline.Session, _ []byte) (any, error) {
	token := r.PathValue("ViewToken")
	var c check
	c.required("ViewToken", token, 1, 1000)
	if c.err != nil {
		return nil, c.err
	}
	return nil, &helpline.Error{Code: helpline.ENOTFOUND, Message: "No view matches the view token."}
}

type authenticationRequest struct {
	SessionId   string
	RedirectUri *string
}

// decodeAuthentication decodes GetAuthenticationUrl (redirect true) and
// CancelParticipantAuthentication bodies.
func decodeAuthentication(body []byte, redirect bool) (*authenticationRequest, error) {
	var req authenticationRequest
	if err := decodeJSON(body, &req); err != nil {
		return nil, err
	}
	var c check
	c.required("SessionId", req.SessionId, 36, 36)
	if redirect {
		if req.RedirectUri == nil {
			c.fail("RedirectUri is required.")
		}
		c.optional("RedirectUri", req.RedirectUri, 1, 1024)
	}
	return &req, c.err
}

// errNoAuthentication answers the customer-authentication operations.
// Helpline flows have no Authenticate Customer block, so no contact ever
// has an authentication in progress; that is a ValidationException, as
// for a SessionId that names no pending authentication.
var errNoAuthentication = helpline.Errorf(helpline.EINVALID, "No customer authentication is in progress for this contact.")

func (s *server) getAuthenticationURL(_ *http.Request, _ *helpline.Session, body []byte) (any, error) {
	if _, err := decodeAuthentication(body, true); err != nil {
		return nil, err
	}
	return nil, errNoAuthentication
}

func (s *server) cancelParticipantAuthentication(_ *http.Request, _ *helpline.Session, body []byte) (any, error) {
	if _, err := decodeAuthentication(body, false); err != nil {
		return nil, err
	}
	return nil, errNoAuthentication
}
