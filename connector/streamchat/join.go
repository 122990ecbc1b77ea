package streamchat

import (
	"bytes"
	"context"
	"crypto/subtle"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/mail"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode"

	"github.com/golang-jwt/jwt/v5"
	"golang.org/x/time/rate"

	"github.com/helplinehq/helpline"
	"github.com/helplinehq/helpline/connector/internal/outbound"
)

// JoinSettings configure the optional join endpoint, POST /join, which
// stands in for the backend of Stream's support-chat tutorial: the front
// end posts a username (and optionally names and an email) and gets back
// a Stream user token for a channel shared with the admin.
type JoinSettings struct {
	Enabled bool `yaml:"enabled"`
	// ChannelType is the Stream channel type (default "messaging").
	ChannelType string `yaml:"channel_type"`
	// ChannelIDTemplate makes the channel id; "{user_id}" is replaced by
	// the username (default "support-{user_id}").
	ChannelIDTemplate string `yaml:"channel_id_template"`
	// AdminUserID is the Stream user who creates the channel and answers
	// in it; it must exist in the Stream app. Required.
	AdminUserID string `yaml:"admin_user_id"`
	// StreamBaseURL is Stream's API (default
	// https://chat.stream-io-api.com).
	StreamBaseURL string `yaml:"stream_base_url"`
	// LeadConnector names a connector that finds or creates the customer's
	// CRM lead (a zendesksell connector) when the customer gives an email;
	// LeadField is the channel custom field that then holds the lead's id
	// (default "sell_lead_id"). Name the field in channel_attributes and
	// in the Sell connector's lead_attribute, and the chat goes to it.
	LeadConnector string `yaml:"lead_connector"`
	LeadField     string `yaml:"lead_field"`
	// AllowedOrigins are the browser origins (scheme://host[:port]) that
	// may call join; a request with another Origin is refused with 403.
	AllowedOrigins []string `yaml:"allowed_origins"`
	// KeyEnv, when set, names an environment variable holding a shared
	// key that callers must send in X-Helpline-Join-Key.
	KeyEnv string `yaml:"key_env"`
	// RequestsPerMinute is how many joins one client address may make per
	// minute (default 10).
	RequestsPerMinute int `yaml:"requests_per_minute"`
}

// Join defaults and limits.
const (
	defaultStreamBaseURL     = "https://chat.stream-io-api.com"
	defaultChannelType       = "messaging"
	defaultChannelIDTemplate = "support-{user_id}"
	defaultLeadField         = "sell_lead_id"
	defaultJoinsPerMinute    = 10
	maxJoinBody              = 4 << 10
	maxNameRunes             = 100
	maxEmail                 = 254
	maxAddresses             = 10000 // client addresses the rate limiter remembers
	streamTimeout            = 10 * time.Second
)

var (
	// usernameRE is a username join accepts: a Stream user id (letters,
	// digits, @ _ -) without @, so it is also a valid channel id part.
	usernameRE  = regexp.MustCompile(`^[A-Za-z0-9_-]{1,64}$`)
	streamIDRE  = regexp.MustCompile(`^[A-Za-z0-9@_-]{1,255}$`)
	channelIDRE = regexp.MustCompile(`^[A-Za-z0-9_!-]{1,64}$`)
	typeRE      = regexp.MustCompile(`^[a-z0-9_-]{1,64}$`)
)

// joiner serves the join endpoint.
type joiner struct {
	channelType, idTemplate, admin, leadConn, leadField string
	base                                                string
	apiKey                                              string
	secret                                              []byte
	serverToken                                         string
	origins                                             map[string]bool
	key                                                 []byte
	perMinute                                           int
	http                                                *http.Client
	leads                                               helpline.LeadFinder

	mu    sync.Mutex // guards addrs
	addrs map[string]*rate.Limiter
}

func newJoiner(s *JoinSettings, apiKey string, secret []byte, getenv func(string) string, channelAttrs []string) (*joiner, error) {
	j := &joiner{
		channelType: cmpOr(s.ChannelType, defaultChannelType), idTemplate: cmpOr(s.ChannelIDTemplate, defaultChannelIDTemplate),
		admin: s.AdminUserID, leadConn: s.LeadConnector, leadField: cmpOr(s.LeadField, defaultLeadField),
		base: strings.TrimSuffix(cmpOr(s.StreamBaseURL, defaultStreamBaseURL), "/"), apiKey: apiKey, secret: secret,
		origins: map[string]bool{}, perMinute: s.RequestsPerMinute, addrs: map[string]*rate.Limiter{},
		http: outbound.NewClient(streamTimeout, nil),
	}
	switch {
	case apiKey == "":
		return nil, fmt.Errorf("join: api_key is required (join returns it to the front end and calls Stream with it)")
	case !streamIDRE.MatchString(s.AdminUserID):
		return nil, fmt.Errorf("join: admin_user_id %q is not a Stream user id (the admin who creates the channels and answers in them)", s.AdminUserID)
	case !typeRE.MatchString(j.channelType):
		return nil, fmt.Errorf("join: channel_type %q is not a Stream channel type", j.channelType)
	case !strings.Contains(j.idTemplate, "{user_id}") || !channelIDRE.MatchString(strings.ReplaceAll(j.idTemplate, "{user_id}", "u")):
		return nil, fmt.Errorf("join: channel_id_template %q must hold {user_id} and otherwise only letters, digits, _ ! -", j.idTemplate)
	case j.perMinute < 0:
		return nil, fmt.Errorf("join: requests_per_minute must be positive")
	case j.leadConn != "" && !slices.Contains(channelAttrs, j.leadField):
		return nil, fmt.Errorf("join: lead_field %q must be listed in channel_attributes, or the chat never learns its lead", j.leadField)
	}
	if j.perMinute == 0 {
		j.perMinute = defaultJoinsPerMinute
	}
	if u, err := url.Parse(j.base); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("join: stream_base_url %q is not an http(s) URL", j.base)
	}
	for _, o := range s.AllowedOrigins {
		u, err := url.Parse(o)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.Path != "" || u.RawQuery != "" {
			return nil, fmt.Errorf("join: allowed_origins: %q is not an origin (scheme://host[:port])", o)
		}
		j.origins[o] = true
	}
	if s.KeyEnv != "" {
		if j.key = []byte(getenv(s.KeyEnv)); len(j.key) == 0 {
			return nil, fmt.Errorf("join: environment variable %s (key_env) is empty", s.KeyEnv)
		}
	}
	var err error
	// Stream's server token, as its server SDKs make it (JWTServerToken
	// in stream-chat): HS256, {"server": true}, no iat or exp.
	if j.serverToken, err = jwt.NewWithClaims(jwt.SigningMethodHS256, jwt.MapClaims{"server": true}).SignedString(secret); err != nil {
		return nil, err
	}
	return j, nil
}

func cmpOr(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

// provision looks up the lead connector.
func (j *joiner) provision(node helpline.ConnectorNode) error {
	if j.leadConn == "" {
		return nil
	}
	var c helpline.Connector
	if node.Connector != nil {
		c = node.Connector(j.leadConn)
	}
	lf, ok := c.(helpline.LeadFinder)
	if !ok {
		return fmt.Errorf("join: lead_connector %q is no connector that finds leads (a zendesksell connector)", j.leadConn)
	}
	j.leads = lf
	return nil
}

// UserToken is the token Stream's server SDKs give a user
// (createToken(userID) in stream-chat): HS256, {"user_id": id}, no iat or
// exp, signed with the API secret.
func UserToken(secret []byte, userID string) (string, error) {
	return jwt.NewWithClaims(jwt.SigningMethodHS256, jwt.MapClaims{"user_id": userID}).SignedString(secret)
}

type joinRequest struct {
	Username  string `json:"username"`
	FirstName string `json:"first_name"`
	LastName  string `json:"last_name"`
	Email     string `json:"email"`
}

type joinError struct {
	status int
	msg    string
}

// serveJoin is POST /join. Statuses: 200 with {user, token, api_key,
// channel, lead_id}; 204 for a CORS preflight; 400 for a body that is not
// one JSON object of the known fields; 401 for a missing or wrong
// X-Helpline-Join-Key; 403 for an Origin not allowed; 405; 413 for a body
// over 4 KiB; 422 for a field that breaks its rule; 429 (Retry-After) for
// an address over its rate; 502 when Stream or the CRM refuses; 503
// (Retry-After) when Stream rate-limits us.
func (c *Connector) serveJoin(w http.ResponseWriter, r *http.Request) {
	j := c.join
	if origin := r.Header.Get("Origin"); origin != "" {
		if !j.origins[origin] {
			http.Error(w, "origin not allowed", http.StatusForbidden)
			return
		}
		w.Header().Set("Access-Control-Allow-Origin", origin)
		w.Header().Add("Vary", "Origin")
	}
	if r.Method == http.MethodOptions && r.Header.Get("Access-Control-Request-Method") != "" {
		w.Header().Set("Access-Control-Allow-Methods", "POST")
		w.Header().Set("Access-Control-Allow-Headers", "Content-Type, X-Helpline-Join-Key")
		w.Header().Set("Access-Control-Max-Age", "600")
		w.WriteHeader(http.StatusNoContent)
		return
	}
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", "POST, OPTIONS")
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return
	}
	if j.key != nil && subtle.ConstantTimeCompare([]byte(r.Header.Get("X-Helpline-Join-Key")), j.key) != 1 {
		http.Error(w, "missing or wrong X-Helpline-Join-Key", http.StatusUnauthorized)
		return
	}
	if wait, ok := j.admit(r.RemoteAddr, c.now()); !ok {
		w.Header().Set("Retry-After", strconv.Itoa(int(wait/time.Second)+1))
		http.Error(w, "too many joins from this address", http.StatusTooManyRequests)
		return
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, maxJoinBody+1))
	if err != nil {
		http.Error(w, "cannot read body", http.StatusBadRequest)
		return
	}
	if len(body) > maxJoinBody {
		http.Error(w, "body too large", http.StatusRequestEntityTooLarge)
		return
	}
	var in joinRequest
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&in); err != nil || dec.More() {
		http.Error(w, "body must be one JSON object with username and optionally first_name, last_name, email", http.StatusBadRequest)
		return
	}
	if msg := in.check(); msg != "" {
		http.Error(w, msg, http.StatusUnprocessableEntity)
		return
	}
	out, je := c.doJoin(r.Context(), &in)
	if je != nil {
		if je.status == http.StatusServiceUnavailable {
			w.Header().Set("Retry-After", "60")
		}
		http.Error(w, je.msg, je.status)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	json.NewEncoder(w).Encode(out)
}

// check says what is wrong with the request, or "".
func (in *joinRequest) check() string {
	switch {
	case !usernameRE.MatchString(in.Username):
		return "username is required: 1 to 64 letters, digits, _ or -"
	case !plainName(in.FirstName):
		return fmt.Sprintf("first_name: at most %d characters, no control characters", maxNameRunes)
	case !plainName(in.LastName):
		return fmt.Sprintf("last_name: at most %d characters, no control characters", maxNameRunes)
	case in.Email != "":
		a, err := mail.ParseAddress(in.Email)
		if len(in.Email) > maxEmail || err != nil || a.Name != "" || a.Address != in.Email {
			return "email is not an email address"
		}
	}
	return ""
}

func plainName(s string) bool {
	if len([]rune(s)) > maxNameRunes {
		return false
	}
	return !strings.ContainsFunc(s, unicode.IsControl)
}

// admit takes a token from addr's limiter; when none is left it returns
// how long until one is.
func (j *joiner) admit(remote string, now time.Time) (time.Duration, bool) {
	host, _, err := net.SplitHostPort(remote)
	if err != nil {
		host = remote
	}
	j.mu.Lock()
	defer j.mu.Unlock()
	l := j.addrs[host]
	if l == nil {
		if len(j.addrs) >= maxAddresses {
			// Forget the addresses whose allowance is whole again: they
			// are as if never seen.
			for a, al := range j.addrs {
				if al.TokensAt(now) >= float64(al.Burst()) {
					delete(j.addrs, a)
				}
			}
			if len(j.addrs) >= maxAddresses {
				return time.Minute, false
			}
		}
		l = rate.NewLimiter(rate.Every(time.Minute/time.Duration(j.perMinute)), j.perMinute)
		j.addrs[host] = l
	}
	if l.AllowN(now, 1) {
		return 0, true
	}
	res := l.ReserveN(now, 1)
	wait := res.DelayFrom(now)
	res.CancelAt(now)
	return wait, false
}

type joinResponse struct {
	User    joinUser          `json:"user"`
	Token   string            `json:"token"`
	APIKey  string            `json:"api_key"`
	Channel map[string]string `json:"channel"`
	LeadID  string            `json:"lead_id,omitempty"`
}

type joinUser struct {
	ID   string `json:"id"`
	Name string `json:"name"`
}

// doJoin finds or creates the lead (when an email is given and a lead
// connector is configured), upserts the Stream user, gets or creates the
// channel with the user and the admin as members and the lead id in its
// custom data, and adds what an existing channel lacks. Every step is
// idempotent, so a front end may call join again on every visit.
func (c *Connector) doJoin(ctx context.Context, in *joinRequest) (*joinResponse, *joinError) {
	j := c.join
	name := strings.TrimSpace(strings.TrimSpace(in.FirstName) + " " + strings.TrimSpace(in.LastName))
	if name == "" {
		name = in.Username
	}
	var leadID string
	if j.leads != nil && in.Email != "" {
		id, err := j.leads.FindOrCreateLead(ctx, helpline.LeadCustomer{FirstName: in.FirstName, LastName: in.LastName, Email: in.Email})
		if err != nil {
			c.log.Warn("streamchat: join: finding the lead", "err", err)
			return nil, &joinError{http.StatusBadGateway, "the CRM did not take the customer; try again later"}
		}
		leadID = id
	}
	user := map[string]any{"id": in.Username, "name": name}
	for k, v := range map[string]string{"email": in.Email, "first_name": in.FirstName, "last_name": in.LastName} {
		if v != "" {
			user[k] = v
		}
	}
	if je := c.stream(ctx, http.MethodPost, "/users", map[string]any{"users": map[string]any{in.Username: user}}, nil); je != nil {
		return nil, je
	}
	channelID := strings.ReplaceAll(j.idTemplate, "{user_id}", in.Username)
	path := "/channels/" + j.channelType + "/" + channelID
	data := map[string]any{"created_by_id": j.admin, "members": []string{in.Username, j.admin}}
	if leadID != "" {
		data[j.leadField] = leadID
	}
	var got struct {
		Channel map[string]any `json:"channel"`
		Members []struct {
			UserID string `json:"user_id"`
		} `json:"members"`
	}
	if je := c.stream(ctx, http.MethodPost, path+"/query", map[string]any{"data": data, "state": true}, &got); je != nil {
		return nil, je
	}
	// An existing channel keeps its data: add what it lacks.
	var missing []string
	for _, id := range []string{in.Username, j.admin} {
		if !slices.ContainsFunc(got.Members, func(m struct {
			UserID string `json:"user_id"`
		}) bool {
			return m.UserID == id
		}) {
			missing = append(missing, id)
		}
	}
	if len(missing) > 0 {
		if je := c.stream(ctx, http.MethodPost, path, map[string]any{"add_members": missing}, nil); je != nil {
			return nil, je
		}
	}
	if leadID != "" && fmt.Sprint(got.Channel[j.leadField]) != leadID {
		if je := c.stream(ctx, http.MethodPatch, path, map[string]any{"set": map[string]any{j.leadField: leadID}}, nil); je != nil {
			return nil, je
		}
	}
	token, err := UserToken(j.secret, in.Username)
	if err != nil {
		c.log.Error("streamchat: join: signing the user token", "err", err)
		return nil, &joinError{http.StatusInternalServerError, "internal error"}
	}
	return &joinResponse{
		User: joinUser{ID: in.Username, Name: name}, Token: token, APIKey: j.apiKey, LeadID: leadID,
		Channel: map[string]string{"type": j.channelType, "id": channelID, "cid": j.channelType + ":" + channelID},
	}, nil
}

// stream calls Stream's server-side REST API as its server SDKs do: the
// api_key query parameter, the server token in Authorization and
// stream-auth-type: jwt. Stream's 429 becomes 503 for our caller; its
// other refusals and failures 502, logged with Stream's message.
func (c *Connector) stream(ctx context.Context, method, path string, body, out any) *joinError {
	j := c.join
	b, err := json.Marshal(body)
	if err != nil {
		return &joinError{http.StatusInternalServerError, "internal error"}
	}
	req, err := http.NewRequestWithContext(ctx, method, j.base+path+"?"+url.Values{"api_key": {j.apiKey}}.Encode(), bytes.NewReader(b))
	if err != nil {
		return &joinError{http.StatusInternalServerError, "internal error"}
	}
	req.Header.Set("Authorization", j.serverToken)
	req.Header.Set("stream-auth-type", "jwt")
	req.Header.Set("Content-Type", "application/json")
	resp, err := j.http.Do(req)
	if err != nil {
		c.log.Warn("streamchat: join: calling Stream", "method", method, "path", path, "err", err)
		return &joinError{http.StatusBadGateway, "Stream did not answer; try again later"}
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if resp.StatusCode/100 != 2 {
		var e struct {
			Code    int    `json:"code"`
			Message string `json:"message"`
		}
		json.Unmarshal(raw, &e)
		c.log.Warn("streamchat: join: Stream refused", "method", method, "path", path, "status", resp.StatusCode, "code", e.Code, "message", e.Message)
		if resp.StatusCode == http.StatusTooManyRequests {
			return &joinError{http.StatusServiceUnavailable, "Stream is busy; try again later"}
		}
		return &joinError{http.StatusBadGateway, "Stream refused the join"}
	}
	if out != nil {
		if err := json.Unmarshal(raw, out); err != nil {
			return &joinError{http.StatusBadGateway, "Stream's answer was not understood"}
		}
	}
	return nil
}
