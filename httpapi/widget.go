package httpapi

import (
	"context"
	"log/slog"
	"mime"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/helplinehq/helpline"
	"github.com/helplinehq/helpline/connectapi"
)

// The widget API: what the customer chat widget's window (served at
// /widget/ on Helpline's own origin) calls. It needs no credentials.
//
//	GET  /api/widget/{instanceId}/settings   what the window shows: title, greeting, colours,
//	                                         position, pre-chat form, away state and message
//	POST /api/widget/{instanceId}/start      {"name","email","fields","context","identity_token","client_token"}
//	                                         200 {"contact_id","participant_id","participant_token"}
//	POST /api/widget/{instanceId}/offline    {"name","email","message","fields","identity_token","client_token"}
//	                                         201 {"contact_id"}: a contact holding the message, ended at once
//	GET  /api/widget/{instanceId}/availability
//	                                         200 {"available","agents_online","in_hours"}: whether a chat
//	                                         started now would reach a person (the Watson service desk's
//	                                         areAnyAgentsOnline)
//
// {instanceId} "default" names the node's default instance unless an
// instance has that id. Start, offline and availability are refused with
// 403 forbidden unless the request's Origin is Helpline's own (PublicURL's,
// or the request's host) or one of the instance's allowed origins, and with
// 429 throttled (Retry-After) past the per-address rate.
//
// CORS: the endpoints answer an allowed origin's requests with
// Access-Control-Allow-Origin naming it, and its preflights (OPTIONS) with
// 204 and the methods and headers they use, so that a page of an allowed
// origin (the Watson service desk, /servicedesk.js, runs on the company's
// own pages) may call them; a preflight from any other origin is 403
// forbidden, without CORS headers, and the browser sends nothing.
//
// Start's context holds what the chat was escalated with (the Watson
// service desk sends session_history_key, topic and
// message_to_human_agent): each entry becomes a contact attribute of its
// name, which must be lower-case letters, digits and _ (up to 32), not
// starting with helpline_ nor naming a pre-chat field, name or email; at
// most 20 entries of at most 4096 bytes. They are what the page sent,
// unverified, like the typed fields. Start goes through
// the engine's StartChat, as Connect's StartChatContact does, in the
// widget's flow (WidgetSettings.FlowID, else the instance's first): its
// bot, queue and business hours apply alike; the participant token it
// answers is the one CreateParticipantConnection takes.
//
// The customer's identity: an identity_token (a JWT signed HS256 with the
// widget's secret, claims sub or external_id, email, name, iat, exp;
// issued at most 10 minutes before and not after now, give or take
// IdentitySkew) is verified, and its claims stored on the contact as
// attributes helpline_identity_verified=true, helpline_identity_external_id,
// helpline_identity_email, helpline_identity_name, email, with the
// customer id the external id and the display name the name. A token that
// does not verify is 401 unauthorized, and no chat starts. Without one,
// what the customer typed is stored with helpline_identity_verified=false.
// The other pre-chat fields are contact attributes under their names.

// DefaultWidgetRate is how often one client address may start chats or
// leave offline messages: a burst of 10, then one every 6 s.
var DefaultWidgetRate = connectapi.Rate{Rate: 1.0 / 6, Burst: 10}

// DefaultIdentitySkew is how far an identity token's iat may be ahead of
// the server's clock, and its exp behind it.
const DefaultIdentitySkew = time.Minute

// WidgetConfig configures the widget API.
type WidgetConfig struct {
	Widgets  helpline.WidgetStore
	Contacts helpline.ContactService
	// DefaultInstance is what the instance id "default" names.
	DefaultInstance string
	// PublicURL's origin is Helpline's own, besides the request's host.
	PublicURL string
	// PerAddress limits start and offline requests per client address,
	// each its own bucket; zero means DefaultWidgetRate.
	PerAddress connectapi.Rate
	// DisableRateLimit turns PerAddress off (load tests).
	DisableRateLimit bool
	// Routing and Presence answer the availability endpoint: the agents
	// of the widget flow's queue and the presence routing acts on
	// (helpline.AgentFeed's PresenceStatus). Without them it answers 404.
	Routing  RoutingReader
	Presence func(helpline.Presence) string
	// IdentitySkew defaults to DefaultIdentitySkew.
	IdentitySkew time.Duration
	Logger       *slog.Logger
	// Now defaults to helpline.Now.
	Now func() time.Time
}

// WidgetAPI is the widget API's handler, to be mounted at /api/widget/.
type WidgetAPI struct {
	cfg     WidgetConfig
	log     *slog.Logger
	now     func() time.Time
	ownURL  string // PublicURL's origin, or empty
	limiter *addressLimiter
	mux     *http.ServeMux
}

// NewWidgetAPI returns the widget API.
func NewWidgetAPI(cfg WidgetConfig) *WidgetAPI {
	if cfg.PerAddress == (connectapi.Rate{}) {
		cfg.PerAddress = DefaultWidgetRate
	}
	if cfg.IdentitySkew <= 0 {
		cfg.IdentitySkew = DefaultIdentitySkew
	}
	wa := &WidgetAPI{cfg: cfg, log: cfg.Logger, now: cfg.Now, mux: http.NewServeMux()}
	if wa.log == nil {
		wa.log = slog.Default()
	}
	if wa.now == nil {
		wa.now = helpline.Now
	}
	if u, err := url.Parse(cfg.PublicURL); err == nil && u.Scheme != "" && u.Host != "" {
		wa.ownURL = u.Scheme + "://" + strings.ToLower(u.Host)
	}
	if !cfg.DisableRateLimit {
		wa.limiter = newAddressLimiter(cfg.PerAddress)
	}
	wa.mux.HandleFunc("GET /api/widget/{instance}/settings", wa.handle(wa.settings))
	wa.mux.HandleFunc("POST /api/widget/{instance}/start", wa.handle(wa.start))
	wa.mux.HandleFunc("POST /api/widget/{instance}/offline", wa.handle(wa.offline))
	wa.mux.HandleFunc("GET /api/widget/{instance}/availability", wa.handle(wa.availability))
	wa.mux.HandleFunc("OPTIONS /api/widget/{instance}/{op}", wa.handle(wa.preflight))
	wa.mux.HandleFunc("/", wa.handle(func(w http.ResponseWriter, r *http.Request) error {
		return helpline.Errorf(helpline.ENOTFOUND, "No such endpoint: %s %s.", r.Method, r.URL.Path)
	}))
	return wa
}

func (wa *WidgetAPI) ServeHTTP(w http.ResponseWriter, r *http.Request) { wa.mux.ServeHTTP(w, r) }

func (wa *WidgetAPI) handle(fn func(w http.ResponseWriter, r *http.Request) error) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if err := fn(w, r); err != nil {
			fail(wa.log, w, r, err)
		}
	}
}

// FrameAncestors returns the origins that may frame the widget window the
// request asks for (its ?instance=): the instance's allowed origins, in
// CSP source syntax. An unknown instance has none.
func (wa *WidgetAPI) FrameAncestors(r *http.Request) []string {
	id := r.URL.Query().Get("instance")
	if id == "" {
		id = "default"
	}
	_, ws, err := wa.find(r.Context(), id)
	if err != nil {
		if helpline.ErrorCode(err) != helpline.ENOTFOUND {
			wa.log.Error("reading widget settings for the frame", "instance", id, "err", err)
		}
		return nil
	}
	return ws.AllowedOrigins
}

// find returns the instance id names and its widget settings.
func (wa *WidgetAPI) find(ctx context.Context, id string) (*helpline.Instance, *helpline.WidgetSettings, error) {
	in, err := wa.cfg.Contacts.FindInstance(ctx, id)
	if helpline.ErrorCode(err) == helpline.ENOTFOUND && id == "default" && wa.cfg.DefaultInstance != "" {
		in, err = wa.cfg.Contacts.FindInstance(ctx, wa.cfg.DefaultInstance)
	}
	if err != nil {
		return nil, nil, err
	}
	ws, err := widgetSettings(ctx, wa.cfg.Widgets, in.ID, wa.cfg.DefaultInstance)
	return in, ws, err
}

// flow is the flow the widget's chats start in, or nil when the instance
// has none.
func flowOf(in *helpline.Instance, ws *helpline.WidgetSettings) *helpline.Flow {
	if f := in.FindFlow(ws.FlowID); f != nil {
		return f
	} else if len(in.Flows) > 0 {
		return &in.Flows[0]
	}
	return nil
}

// publicWidgetJSON is what the window needs: no secret, no origins.
type publicWidgetJSON struct {
	InstanceID  string                   `json:"instance_id"`
	Title       string                   `json:"title"`
	Greeting    string                   `json:"greeting"`
	Primary     string                   `json:"primary"`
	OnPrimary   string                   `json:"on_primary"`
	Position    string                   `json:"position"`
	PreChat     helpline.PreChatSettings `json:"pre_chat"`
	Away        bool                     `json:"away"`
	AwayMessage string                   `json:"away_message"`
	// Identity says the widget verifies identity tokens.
	Identity bool `json:"identity"`
}

func (wa *WidgetAPI) settings(w http.ResponseWriter, r *http.Request) error {
	in, ws, err := wa.find(r.Context(), r.PathValue("instance"))
	if err != nil {
		return err
	}
	wa.allowCORS(w, r, ws)
	out := publicWidgetJSON{InstanceID: in.ID, Title: ws.Title, Greeting: ws.Greeting, Primary: ws.Primary,
		OnPrimary: ws.OnPrimary, Position: ws.Position, PreChat: ws.PreChat, AwayMessage: ws.AwayMessage,
		Identity: ws.Secret != ""}
	if out.PreChat.Fields == nil {
		out.PreChat.Fields = []helpline.PreChatField{}
	}
	if f := flowOf(in, ws); f != nil && f.Hours != nil {
		out.Away = !f.Hours.IsOpen(wa.now())
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}

// customerInput is what the start and offline forms carry.
type customerInput struct {
	Name          string            `json:"name"`
	Email         string            `json:"email"`
	Fields        map[string]string `json:"fields"`
	IdentityToken string            `json:"identity_token"`
	ClientToken   string            `json:"client_token"`
}

// open runs the checks start and offline share: those of authorise,
// then the JSON body into v.
func (wa *WidgetAPI) open(w http.ResponseWriter, r *http.Request, op string, v any) (*helpline.Instance, *helpline.WidgetSettings, error) {
	in, ws, err := wa.authorise(w, r, op)
	if err != nil {
		return nil, nil, err
	}
	if mt, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type")); mt != "application/json" {
		return nil, nil, helpline.Errorf(helpline.EINVALID, "The request body must be application/json.")
	}
	return in, ws, decode(r, v)
}

// authorise runs the checks of the endpoints that act: the rate per
// address (op's own bucket), the instance and the Origin. An allowed
// origin is told so in CORS headers, on errors after this too.
func (wa *WidgetAPI) authorise(w http.ResponseWriter, r *http.Request, op string) (*helpline.Instance, *helpline.WidgetSettings, error) {
	if wa.limiter != nil {
		if wait := wa.limiter.take(op+"\x00"+clientAddress(r), wa.now()); wait > 0 {
			return nil, nil, &retryError{err: helpline.Errorf(helpline.ETHROTTLED, "Too many requests from your address; try again in %d seconds.", seconds(wait)), after: wait}
		}
	}
	in, ws, err := wa.find(r.Context(), r.PathValue("instance"))
	if err != nil {
		return nil, nil, err
	}
	if origin := r.Header.Get("Origin"); !wa.ownOrigin(r, origin) && !ws.AllowsOrigin(origin) {
		return nil, nil, helpline.Errorf(helpline.EFORBIDDEN, "Chats may not be started from origin %q.", origin)
	}
	wa.allowCORS(w, r, ws)
	return in, ws, nil
}

// CORS values of the widget API: what the endpoints take.
const (
	widgetCORSMethods = "GET, POST"
	widgetCORSHeaders = "content-type"
)

// allowCORS names the request's Origin in Access-Control-Allow-Origin
// when it is one of the instance's allowed origins. Helpline's own
// origin needs none.
func (wa *WidgetAPI) allowCORS(w http.ResponseWriter, r *http.Request, ws *helpline.WidgetSettings) {
	h := w.Header()
	h.Add("Vary", "Origin")
	if origin := r.Header.Get("Origin"); origin != "" && ws.AllowsOrigin(origin) {
		h.Set("Access-Control-Allow-Origin", origin)
		h.Set("Access-Control-Expose-Headers", "retry-after")
	}
}

// preflight answers a CORS preflight: 204 with the methods and headers
// the endpoints take for an allowed origin, 403 for any other. It reads
// the instance but spends no rate: browsers cache the answer (Max-Age)
// and send the request itself, which does.
func (wa *WidgetAPI) preflight(w http.ResponseWriter, r *http.Request) error {
	_, ws, err := wa.find(r.Context(), r.PathValue("instance"))
	if err != nil {
		return err
	}
	origin := r.Header.Get("Origin")
	if !ws.AllowsOrigin(origin) {
		return helpline.Errorf(helpline.EFORBIDDEN, "Origin %q may not call this widget.", origin)
	}
	wa.allowCORS(w, r, ws)
	h := w.Header()
	h.Set("Access-Control-Allow-Methods", widgetCORSMethods)
	h.Set("Access-Control-Allow-Headers", widgetCORSHeaders)
	h.Set("Access-Control-Max-Age", "600")
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// ownOrigin reports whether origin is Helpline's own: PublicURL's, or
// that of the host the request was sent to.
func (wa *WidgetAPI) ownOrigin(r *http.Request, origin string) bool {
	if origin == "" {
		return false
	} else if wa.ownURL != "" && origin == wa.ownURL {
		return true
	}
	scheme := "http"
	if r.TLS != nil {
		scheme = "https"
	}
	return origin == scheme+"://"+strings.ToLower(r.Host)
}

func (wa *WidgetAPI) start(w http.ResponseWriter, r *http.Request) error {
	var body struct {
		customerInput
		Context map[string]string `json:"context"`
	}
	in, ws, err := wa.open(w, r, "start", &body)
	if err != nil {
		return err
	}
	cust, err := wa.customer(ws, &body.customerInput, ws.PreChat.Enabled)
	if err != nil {
		return err
	}
	if err := addContext(cust.attrs, ws, body.Context); err != nil {
		return err
	}
	f := flowOf(in, ws)
	if f == nil {
		return helpline.Errorf(helpline.ECONFLICT, "The instance has no flow to start chats in.")
	}
	out, err := wa.cfg.Contacts.StartChat(r.Context(), helpline.StartChatInput{
		InstanceID: in.ID, ContactFlowID: f.ID, DisplayName: cust.name, Attributes: cust.attrs,
		ClientToken: body.ClientToken, CustomerID: cust.id,
		SupportedContentTypes: []string{helpline.ContentPlain, helpline.ContentMarkdown,
			helpline.ContentInteractive, helpline.ContentInteractiveResponse},
	})
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, map[string]string{
		"contact_id": out.Contact.ID, "participant_id": out.Participant.ID, "participant_token": out.ParticipantToken,
	})
	return nil
}

// maxOfflineMessage caps an offline message, as Connect caps a chat message.
const maxOfflineMessage = 16384

func (wa *WidgetAPI) offline(w http.ResponseWriter, r *http.Request) error {
	var body struct {
		customerInput
		Message string `json:"message"`
	}
	in, ws, err := wa.open(w, r, "offline", &body)
	if err != nil {
		return err
	}
	cust, err := wa.customer(ws, &body.customerInput, ws.PreChat.Enabled)
	if err != nil {
		return err
	}
	switch {
	case cust.email == "":
		return helpline.Errorf(helpline.EINVALID, "email is required: it is where the answer goes.")
	case strings.TrimSpace(body.Message) == "" || len(body.Message) > maxOfflineMessage:
		return helpline.Errorf(helpline.EINVALID, "message must be 1 to %d characters.", maxOfflineMessage)
	}
	f := flowOf(in, ws)
	if f == nil {
		return helpline.Errorf(helpline.ECONFLICT, "The instance has no flow to take messages in.")
	}
	cust.attrs["helpline_offline"] = "true"
	start := helpline.StartChatInput{InstanceID: in.ID, ContactFlowID: f.ID, DisplayName: cust.name,
		Attributes: cust.attrs, ClientToken: body.ClientToken, CustomerID: cust.id}
	start.InitialMessage.ContentType, start.InitialMessage.Content = helpline.ContentPlain, body.Message
	out, err := wa.cfg.Contacts.StartChat(r.Context(), start)
	if err != nil {
		return err
	}
	if err := wa.cfg.Contacts.StopContact(r.Context(), in.ID, out.Contact.ID); err != nil {
		return err
	}
	writeJSON(w, http.StatusCreated, map[string]string{"contact_id": out.Contact.ID})
	return nil
}

// Limits of what a customer types, and of a start's context.
const (
	maxCustomerName  = 256
	maxCustomerField = 1024
	maxContext       = 20
	maxContextValue  = 4096
)

// contextName is what a context entry's name must match.
var contextName = regexp.MustCompile(`^[a-z][a-z0-9_]{0,31}$`)

// addContext adds a start's context entries to attrs, as the package
// comment says; empty values are left out.
func addContext(attrs map[string]string, ws *helpline.WidgetSettings, ctx map[string]string) error {
	if len(ctx) > maxContext {
		return helpline.Errorf(helpline.EINVALID, "context holds at most %d entries.", maxContext)
	}
	for name, v := range ctx {
		switch {
		case !contextName.MatchString(name) || strings.HasPrefix(name, "helpline_"):
			return helpline.Errorf(helpline.EINVALID, "context.%s: names are lower-case letters, digits and _ (up to 32), not starting with helpline_.", name)
		case name == "name" || name == "email" || ws.PreChat.FindField(name) != nil:
			return helpline.Errorf(helpline.EINVALID, "context.%s names a pre-chat field; send it in fields.", name)
		case len(v) > maxContextValue || !utf8.ValidString(v):
			return helpline.Errorf(helpline.EINVALID, "context.%s must be UTF-8 text of at most %d bytes.", name, maxContextValue)
		}
		if v = strings.TrimSpace(v); v != "" {
			attrs[name] = v
		}
	}
	return nil
}

// customer is who a chat is with, from the form and the identity token.
type customer struct {
	id, name, email string
	attrs           map[string]string
}

// customer checks what the customer sent (the pre-chat form's rules when
// form is set, else only the lengths of what was sent) and verifies the
// identity token, if any.
func (wa *WidgetAPI) customer(ws *helpline.WidgetSettings, in *customerInput, form bool) (*customer, error) {
	c := &customer{name: strings.TrimSpace(in.Name), email: strings.TrimSpace(in.Email), attrs: map[string]string{}}
	switch {
	case len(c.name) > maxCustomerName:
		return nil, helpline.Errorf(helpline.EINVALID, "name must be at most %d characters.", maxCustomerName)
	case c.email != "" && (len(c.email) > maxCustomerName || !helpline.ValidEmail(c.email)):
		return nil, helpline.Errorf(helpline.EINVALID, "email is not an email address.")
	case len(in.ClientToken) > 500:
		return nil, helpline.Errorf(helpline.EINVALID, "client_token must be at most 500 characters.")
	}
	for name, v := range in.Fields {
		f := ws.PreChat.FindField(name)
		switch {
		case f == nil || name == "name" || name == "email":
			return nil, helpline.Errorf(helpline.EINVALID, "fields.%s is no field of the pre-chat form.", name)
		case len(v) > maxCustomerField:
			return nil, helpline.Errorf(helpline.EINVALID, "fields.%s must be at most %d characters.", name, maxCustomerField)
		case f.Type == "email" && v != "" && !helpline.ValidEmail(v):
			return nil, helpline.Errorf(helpline.EINVALID, "fields.%s is not an email address.", name)
		}
		if v = strings.TrimSpace(v); v != "" {
			c.attrs[name] = v
		}
	}
	if form {
		for _, f := range ws.PreChat.Fields {
			if !f.Required {
				continue
			}
			if v := map[string]string{"name": c.name, "email": c.email}[f.Name]; v == "" && c.attrs[f.Name] == "" {
				return nil, helpline.Errorf(helpline.EINVALID, "%s is required.", f.Label)
			}
		}
	}
	if in.IdentityToken != "" {
		id, err := verifyIdentity(in.IdentityToken, ws.Secret, wa.now(), wa.cfg.IdentitySkew)
		if err != nil {
			return nil, err
		}
		// What the token says wins; what was typed is kept apart, marked
		// as typed.
		if c.name != "" && c.name != id.Name {
			c.attrs["helpline_unverified_name"] = c.name
		}
		if c.email != "" && c.email != id.Email {
			c.attrs["helpline_unverified_email"] = c.email
		}
		c.id, c.email = id.ExternalID, id.Email
		if id.Name != "" {
			c.name = id.Name
		}
		c.attrs["helpline_identity_verified"] = "true"
		c.attrs["helpline_identity_external_id"] = id.ExternalID
		if id.Email != "" {
			c.attrs["helpline_identity_email"] = id.Email
		}
		if id.Name != "" {
			c.attrs["helpline_identity_name"] = id.Name
		}
	} else {
		c.attrs["helpline_identity_verified"] = "false"
	}
	if c.email != "" {
		c.attrs["email"] = c.email
	}
	if c.name == "" {
		c.name = "Customer"
	}
	return c, nil
}
