// Package connectapi serves Helpline's chats over the Amazon Connect wire
// protocols, so that the official clients (amazon-connect-chatjs, the AWS
// SDKs' connect and connectparticipant clients) work against it unchanged:
//
//   - the Connect contact operations (StartChatContact, CreateParticipant,
//     StopContact, DescribeContact, Get/UpdateContactAttributes), signed with
//     AWS Signature Version 4 (service "connect") by an instance's keys;
//   - every operation of the Connect Participant Service, authorised by the
//     participant or connection token in X-Amz-Bearer;
//   - the upload and download URLs that the attachment operations hand out;
//   - the participant WebSocket (topics aws/subscribe, aws/heartbeat,
//     aws/ping, aws/chat).
//
// It talks to the engine only through the root interfaces that Engine
// gathers.
package connectapi

import (
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/helplinehq/helpline"
)

// Engine is what the handler needs of the chat engine: the contact
// operations for the signed Connect API, the participant operations for
// the Participant Service and the attachment URLs, and the feed for the
// participant WebSocket. Package chat's Service is one.
type Engine interface {
	helpline.ContactService
	helpline.ParticipantService
	helpline.Feed
}

// Config configures the handler New returns.
type Config struct {
	// Service is the engine. Required.
	Service Engine
	// Logger receives internal errors and socket events; nil means
	// slog.Default().
	Logger *slog.Logger
	// Now is the clock used for SigV4 date checks, rate limits and socket
	// deadlines; nil means helpline.Now.
	Now func() time.Time
	// PublicURL, e.g. https://chat.example.com, is the address clients
	// reach the server at. When set, WebSocket URLs are wss:// (ws:// for an
	// http PublicURL) on its host, and attachment URLs start with it,
	// including any path (a server mounted under a path prefix must strip
	// it before this handler, e.g. with http.StripPrefix). When empty the
	// URLs are derived from each request, see CreateParticipantConnection.
	PublicURL string
	// Region is the only region accepted in SigV4 credential scopes; empty
	// accepts any region.
	Region string
	// MaxClockSkew is how far X-Amz-Date may be from Now before a signed
	// request is refused with RequestExpired; zero means 15 minutes, the
	// window AWS applies.
	MaxClockSkew time.Duration
	// Limits are the request rates per instance and per participant and
	// the open WebSockets per participant; the zero value means
	// DefaultRateLimits() and DefaultSocketsPerParticipant. Refusals are
	// 429 ThrottlingException (TooManyRequestsException for
	// StartChatContact).
	Limits RateLimits
	// AllowedOrigins, when not empty, lists the browser origins (e.g.
	// https://shop.example.com) that may open WebSockets and read responses
	// cross-origin. Empty allows every origin: the participant API is
	// authorised by bearer tokens, never by cookies, so a foreign page
	// gains nothing it does not already hold.
	AllowedOrigins []string
	// SocketIdleTimeout closes a WebSocket that has sent no frame for this
	// long; zero means 60 s. chatjs sends a heartbeat every 10 s.
	SocketIdleTimeout time.Duration
	// MinUploadRate, in bytes per second, is the slowest an attachment
	// upload may arrive: the upload URL sets the connection's read
	// deadline to UploadGrace plus the body's Content-Length at this rate
	// (a body of unknown length is allowed the time of the largest, 20 MB),
	// replacing any deadline set before. A body cut off by it is refused
	// with 400. Zero means 64 KiB/s, which allows 20 MB 320 s plus grace;
	// negative sets no deadline.
	MinUploadRate int64
	// UploadGrace is the part of an upload's deadline that does not depend
	// on its size; zero means 30 s.
	UploadGrace time.Duration
	// Draining, once closed, says the node is stopping: open WebSockets
	// are closed with code 1012 (service restart) once their queued
	// frames are written, which clients answer by reconnecting, to
	// another node; new ones are refused with 503 and Retry-After. The
	// rest of the API goes on serving. Nil never drains.
	Draining <-chan struct{}
}

// maxJSONBody limits a JSON request body. JSON operations carry at most a
// 16,384-character message plus 32,768 bytes of attributes; 128 KiB leaves
// room for JSON escaping of both. Uploads are limited by
// helpline.MaxAttachmentSize.
const maxJSONBody = 128 << 10

// server holds the handler's configuration; its methods are the
// operations. It is safe for concurrent use.
type server struct {
	svc            Engine
	log            *slog.Logger
	now            func() time.Time
	publicURL      *url.URL
	region         string
	maxSkew        time.Duration
	limits         *limiter
	allowedOrigins map[string]bool
	sockets        *socketConfig
	minUploadRate  int64
	uploadGrace    time.Duration
}

// New returns the Amazon Connect compatible HTTP handler for cfg. It
// panics if cfg.Service is nil or cfg.PublicURL is not an absolute http or
// https URL: both are programming errors.
//
// Routes (paths as the official clients build them):
//
//	PUT  /contact/chat                          StartChatContact (SigV4)
//	POST /contact/create-participant            CreateParticipant (SigV4)
//	POST /contact/stop                          StopContact (SigV4)
//	GET  /contacts/{InstanceId}/{ContactId}     DescribeContact (SigV4)
//	GET  /contact/attributes/{InstanceId}/{InitialContactId}  GetContactAttributes (SigV4)
//	POST /contact/attributes                    UpdateContactAttributes (SigV4)
//	POST /participant/...                       the Participant Service operations (X-Amz-Bearer)
//	GET  /participant/views/{ViewToken}         DescribeView
//	GET  /participant/ws?token=...              the participant WebSocket
//	PUT  /attachments/upload/{token}            attachment upload URL
//	GET  /attachments/download/{token}          attachment download URL
//
// Every response carries x-amzn-RequestId (the one LogRequests assigned,
// or a new one) and CORS headers; OPTIONS requests are answered as CORS
// preflights. Errors are JSON bodies {"__type":...,"Message":...} with the
// same name in X-Amzn-ErrorType, as the AWS SDKs parse them.
func New(cfg Config) http.Handler {
	if cfg.Service == nil {
		panic("connectapi: Config.Service is nil")
	}
	s := &server{
		svc:     cfg.Service,
		log:     cfg.Logger,
		now:     cfg.Now,
		region:  cfg.Region,
		maxSkew: cfg.MaxClockSkew,

		minUploadRate: cfg.MinUploadRate,
		uploadGrace:   cfg.UploadGrace,
	}
	if s.log == nil {
		s.log = slog.Default()
	}
	if s.now == nil {
		s.now = helpline.Now
	}
	if s.maxSkew == 0 {
		s.maxSkew = 15 * time.Minute
	}
	if s.minUploadRate == 0 {
		s.minUploadRate = 64 << 10
	}
	if s.uploadGrace <= 0 {
		s.uploadGrace = 30 * time.Second
	}
	if cfg.PublicURL != "" {
		u, err := url.Parse(cfg.PublicURL)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			panic("connectapi: Config.PublicURL must be an absolute http or https URL: " + cfg.PublicURL)
		}
		u.Path = strings.TrimSuffix(u.Path, "/")
		s.publicURL = u
	}
	if len(cfg.AllowedOrigins) > 0 {
		s.allowedOrigins = make(map[string]bool)
		for _, o := range cfg.AllowedOrigins {
			s.allowedOrigins[strings.ToLower(strings.TrimSuffix(o, "/"))] = true
		}
	}
	s.limits = newLimiter(cfg.Limits)
	s.sockets = newSocketConfig(s, cfg.SocketIdleTimeout, cfg.Draining)

	mux := http.NewServeMux()
	mux.HandleFunc("PUT /contact/chat", s.contactOp("StartChatContact", s.startChatContact))
	mux.HandleFunc("POST /contact/create-participant", s.contactOp("CreateParticipant", s.createParticipant))
	mux.HandleFunc("POST /contact/stop", s.contactOp("StopContact", s.stopContact))
	mux.HandleFunc("GET /contacts/{InstanceId}/{ContactId}", s.contactOp("DescribeContact", s.describeContact))
	mux.HandleFunc("GET /contact/attributes/{InstanceId}/{InitialContactId}", s.contactOp("GetContactAttributes", s.getContactAttributes))
	mux.HandleFunc("POST /contact/attributes", s.contactOp("UpdateContactAttributes", s.updateContactAttributes))

	mux.HandleFunc("POST /participant/connection", s.participantOp("CreateParticipantConnection", helpline.ParticipantToken, s.createParticipantConnection))
	mux.HandleFunc("POST /participant/message", s.participantOp("SendMessage", helpline.ConnectionToken, s.sendMessage))
	mux.HandleFunc("POST /participant/event", s.participantOp("SendEvent", helpline.ConnectionToken, s.sendEvent))
	mux.HandleFunc("POST /participant/transcript", s.participantOp("GetTranscript", helpline.ConnectionToken, s.getTranscript))
	mux.HandleFunc("POST /participant/disconnect", s.participantOp("DisconnectParticipant", helpline.ConnectionToken, s.disconnectParticipant))
	mux.HandleFunc("POST /participant/start-attachment-upload", s.participantOp("StartAttachmentUpload", helpline.ConnectionToken, s.startAttachmentUpload))
	mux.HandleFunc("POST /participant/complete-attachment-upload", s.participantOp("CompleteAttachmentUpload", helpline.ConnectionToken, s.completeAttachmentUpload))
	mux.HandleFunc("POST /participant/attachment", s.participantOp("GetAttachment", helpline.ConnectionToken, s.getAttachment))
	mux.HandleFunc("GET /participant/views/{ViewToken}", s.participantOp("DescribeView", helpline.ConnectionToken, s.describeView))
	mux.HandleFunc("POST /participant/authentication-url", s.participantOp("GetAuthenticationUrl", helpline.ConnectionToken, s.getAuthenticationURL))
	mux.HandleFunc("POST /participant/cancel-authentication", s.participantOp("CancelParticipantAuthentication", helpline.ConnectionToken, s.cancelParticipantAuthentication))
	mux.HandleFunc("GET /participant/ws", s.serveSocket)

	mux.HandleFunc("PUT /attachments/upload/{token}", s.uploadAttachment)
	mux.HandleFunc("GET /attachments/download/{token}", s.downloadAttachment)
	// Anything else, a wrong method on a known path included, is an
	// unknown operation, answered in the AWS error format.
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		s.writeError(w, r, participantErrors, &apiError{
			status: http.StatusNotFound, name: "UnknownOperationException",
			message: "No operation matches " + r.Method + " " + r.URL.Path + ".",
		})
	})

	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if w.Header().Get(requestIDHeader) == "" {
			w.Header().Set(requestIDHeader, helpline.NewID())
		}
		s.setCORS(w, r)
		if r.Method == http.MethodOptions {
			w.WriteHeader(http.StatusNoContent)
			return
		}
		mux.ServeHTTP(w, r)
	})
}

// baseURL is the scheme and host (and PublicURL path) that URLs handed to
// clients start with.
func (s *server) baseURL(r *http.Request) string {
	if s.publicURL != nil {
		return s.publicURL.String()
	}
	scheme := "http"
	if r.TLS != nil {
		scheme = "https"
	}
	return scheme + "://" + r.Host
}
