package streamchattest

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"regexp"
	"slices"
	"strconv"
	"sync"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// Server is a fake of the few calls of Stream Chat's server-side REST API
// that the streamchat connector's join endpoint makes, as the official
// stream-chat npm client makes them (docs/stream-chat.md):
//
//   - POST /users {users: {<id>: {id, name, …custom}}} upserts users;
//   - POST /channels/{type}/{id}/query {data: {created_by_id, members,
//     …custom}, state} gets or creates a channel: the data is used only
//     when the channel is created;
//   - POST /channels/{type}/{id} {add_members: [ids]} adds members;
//   - PATCH /channels/{type}/{id} {set: {…custom}} sets custom fields.
//
// Every request must carry the query parameter api_key, the header
// stream-auth-type: jwt and an Authorization header holding a server
// token: an HS256 JWT with {"server": true} signed with the API secret.
// Errors are Stream's {code, message, StatusCode, duration, more_info}:
// 401 code 5 for authentication, 400 code 4 for input, 404 code 16 for a
// channel that does not exist, 429 code 9 with X-RateLimit-Limit,
// -Remaining and -Reset when the rate limit set by SetRateLimit is spent.
// Anything else it does not know (another path, method, or body field)
// is a 400 or 404 rather than silently accepted.
type Server struct {
	*httptest.Server
	APIKey string
	Secret string
	// Now is the fake's clock for its rate-limit windows; time.Now by
	// default.
	Now func() time.Time

	// mu guards everything below.
	mu       sync.Mutex
	users    map[string]map[string]any
	channels map[string]*Channel // by cid
	requests []string            // "METHOD path", in order
	limit    int                 // requests per minute window; 0 for none
	window   int64               // the current window's Unix minute
	used     int
	outage   int
}

// Channel is a channel as the fake holds it.
type Channel struct {
	Type, ID    string
	CreatedByID string
	Members     []string
	// Custom is the channel's custom data.
	Custom map[string]any
}

// NewRESTServer starts a fake of the Stream app with apiKey and secret.
func NewRESTServer(apiKey, secret string) *Server {
	s := &Server{APIKey: apiKey, Secret: secret, Now: time.Now, users: map[string]map[string]any{}, channels: map[string]*Channel{}}
	s.Server = httptest.NewServer(http.HandlerFunc(s.serve))
	return s
}

// SetRateLimit allows n requests per minute (Stream's limits are per
// minute, per endpoint; the fake counts all together) and answers the
// rest with 429; 0 lifts it.
func (s *Server) SetRateLimit(n int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.limit = n
}

// SetOutage makes every request fail with status (500, 503) until it is
// called with 0.
func (s *Server) SetOutage(status int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.outage = status
}

// User returns a copy of user id as stored, and whether it exists.
func (s *Server) User(id string) (map[string]any, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	u, ok := s.users[id]
	if !ok {
		return nil, false
	}
	out := map[string]any{}
	for k, v := range u {
		out[k] = v
	}
	return out, true
}

// Channel returns a copy of channel type:id, and whether it exists.
func (s *Server) Channel(typ, id string) (Channel, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	ch, ok := s.channels[typ+":"+id]
	if !ok {
		return Channel{}, false
	}
	c := *ch
	c.Members = slices.Clone(ch.Members)
	c.Custom = map[string]any{}
	for k, v := range ch.Custom {
		c.Custom[k] = v
	}
	return c, true
}

// AddChannel stores a channel as if it had been created before.
func (s *Server) AddChannel(ch Channel) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if ch.Custom == nil {
		ch.Custom = map[string]any{}
	}
	s.channels[ch.Type+":"+ch.ID] = &ch
}

// Requests returns "METHOD path" of every request that reached the fake.
func (s *Server) Requests() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.requests)
}

// Stream's error codes (its API error codes page).
const (
	codeInput        = 4
	codeAuth         = 5
	codeRateLimited  = 9
	codeDoesNotExist = 16
)

type apiError struct {
	status, code int
	message      string
}

var (
	channelPath = regexp.MustCompile(`^/channels/([A-Za-z0-9_-]+)/([A-Za-z0-9_!@-]+)(/query)?$`)
	// idRE is what Stream accepts as a user id: letters, digits, @ _ -.
	idRE = regexp.MustCompile(`^[A-Za-z0-9@_-]{1,255}$`)
)

func (s *Server) serve(w http.ResponseWriter, r *http.Request) {
	start := s.Now()
	s.mu.Lock()
	s.requests = append(s.requests, r.Method+" "+r.URL.Path)
	limit, outage := s.limit, s.outage
	var reset int64
	remaining := 0
	limited := false
	if limit > 0 {
		minute := start.Unix() / 60
		if minute != s.window {
			s.window, s.used = minute, 0
		}
		s.used++
		limited = s.used > limit
		remaining = max(0, limit-s.used)
		reset = (minute + 1) * 60
	}
	s.mu.Unlock()
	if limit > 0 {
		w.Header().Set("X-RateLimit-Limit", strconv.Itoa(limit))
		w.Header().Set("X-RateLimit-Remaining", strconv.Itoa(remaining))
		w.Header().Set("X-RateLimit-Reset", strconv.FormatInt(reset, 10))
	}
	var e *apiError
	var out any
	switch {
	case outage != 0:
		e = &apiError{outage, -1, "switched outage"}
	case r.URL.Query().Get("api_key") != s.APIKey:
		e = &apiError{401, codeAuth, "api_key not valid"}
	case r.Header.Get("stream-auth-type") != "jwt":
		e = &apiError{401, codeAuth, "stream-auth-type must be jwt"}
	case !s.serverToken(r.Header.Get("Authorization")):
		e = &apiError{401, codeAuth, "Authorization is not a server token signed with the API secret"}
	case limited:
		e = &apiError{429, codeRateLimited, "Too many requests, check response headers for more information."}
	default:
		out, e = s.route(r)
	}
	w.Header().Set("Content-Type", "application/json")
	duration := fmt.Sprintf("%.2fms", float64(s.Now().Sub(start).Microseconds())/1000)
	if e != nil {
		w.WriteHeader(e.status)
		json.NewEncoder(w).Encode(map[string]any{"code": e.code, "message": e.message, "StatusCode": e.status,
			"duration": duration, "more_info": "https://getstream.io/chat/docs/api_errors_response"})
		return
	}
	m := out.(map[string]any)
	m["duration"] = duration
	json.NewEncoder(w).Encode(m)
}

// serverToken reports whether auth is an HS256 JWT with "server": true
// signed with the secret.
func (s *Server) serverToken(auth string) bool {
	tok, err := jwt.Parse(auth, func(*jwt.Token) (any, error) { return []byte(s.Secret), nil },
		jwt.WithValidMethods([]string{"HS256"}))
	if err != nil {
		return false
	}
	claims, _ := tok.Claims.(jwt.MapClaims)
	return claims["server"] == true
}

func (s *Server) route(r *http.Request) (any, *apiError) {
	var body map[string]json.RawMessage
	if err := json.NewDecoder(r.Body).Decode(&body); err != nil {
		return nil, &apiError{400, codeInput, "request body is not a JSON object"}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if r.URL.Path == "/users" && r.Method == http.MethodPost {
		return s.upsertUsers(body)
	}
	m := channelPath.FindStringSubmatch(r.URL.Path)
	switch {
	case m == nil:
		return nil, &apiError{404, codeDoesNotExist, "the fake does not know " + r.Method + " " + r.URL.Path}
	case m[3] == "/query" && r.Method == http.MethodPost:
		return s.queryChannel(m[1], m[2], body)
	case m[3] == "" && r.Method == http.MethodPost:
		return s.updateChannel(m[1], m[2], body)
	case m[3] == "" && r.Method == http.MethodPatch:
		return s.partialUpdate(m[1], m[2], body)
	}
	return nil, &apiError{404, codeDoesNotExist, "the fake does not know " + r.Method + " " + r.URL.Path}
}

// only refuses a body with a field outside known.
func only(body map[string]json.RawMessage, known ...string) *apiError {
	for k := range body {
		if !slices.Contains(known, k) {
			return &apiError{400, codeInput, "the fake does not know the field " + k}
		}
	}
	return nil
}

func (s *Server) upsertUsers(body map[string]json.RawMessage) (any, *apiError) {
	if e := only(body, "users"); e != nil {
		return nil, e
	}
	var users map[string]map[string]any
	if err := json.Unmarshal(body["users"], &users); err != nil || len(users) == 0 {
		return nil, &apiError{400, codeInput, "users must be an object of users by id"}
	}
	out := map[string]any{}
	for id, u := range users {
		if u["id"] != id || !idRE.MatchString(id) {
			return nil, &apiError{400, codeInput, fmt.Sprintf("user %q: id must match its key and hold only letters, digits, @, _ and -", id)}
		}
		u["role"] = "user"
		s.users[id] = u
		out[id] = u
	}
	return map[string]any{"users": out}, nil
}

func (s *Server) channelJSON(ch *Channel) map[string]any {
	members := []any{}
	for _, id := range ch.Members {
		members = append(members, map[string]any{"user_id": id, "user": s.users[id]})
	}
	c := map[string]any{}
	for k, v := range ch.Custom {
		c[k] = v
	}
	c["id"], c["type"], c["cid"] = ch.ID, ch.Type, ch.Type+":"+ch.ID
	c["created_by"], c["member_count"] = s.users[ch.CreatedByID], len(ch.Members)
	return map[string]any{"channel": c, "members": members}
}

// reserved are channel data fields that are not custom data.
var reserved = []string{"created_by_id", "created_by", "members", "id", "type", "cid"}

func (s *Server) queryChannel(typ, id string, body map[string]json.RawMessage) (any, *apiError) {
	if e := only(body, "data", "state", "watch", "presence"); e != nil {
		return nil, e
	}
	ch := s.channels[typ+":"+id]
	if ch != nil {
		out := s.channelJSON(ch)
		out["messages"] = []any{}
		return out, nil
	}
	var data map[string]json.RawMessage
	if raw, ok := body["data"]; ok {
		if err := json.Unmarshal(raw, &data); err != nil {
			return nil, &apiError{400, codeInput, "data must be an object"}
		}
	}
	ch = &Channel{Type: typ, ID: id, Custom: map[string]any{}}
	if err := json.Unmarshal(data["created_by_id"], &ch.CreatedByID); err != nil || s.users[ch.CreatedByID] == nil {
		// A server-side token has no user; Stream needs to know who creates.
		return nil, &apiError{400, codeInput, "either data.created_by or data.created_by_id must be provided when using server side auth"}
	}
	if raw, ok := data["members"]; ok {
		if err := json.Unmarshal(raw, &ch.Members); err != nil {
			return nil, &apiError{400, codeInput, "data.members must be a list of user ids"}
		}
	}
	for _, m := range ch.Members {
		if s.users[m] == nil {
			return nil, &apiError{400, codeInput, fmt.Sprintf("the following users are specified in channel.members but don't exist: %s", m)}
		}
	}
	for k, raw := range data {
		if !slices.Contains(reserved, k) {
			var v any
			json.Unmarshal(raw, &v)
			ch.Custom[k] = v
		}
	}
	s.channels[ch.Type+":"+ch.ID] = ch
	out := s.channelJSON(ch)
	out["messages"] = []any{}
	return out, nil
}

func (s *Server) updateChannel(typ, id string, body map[string]json.RawMessage) (any, *apiError) {
	if e := only(body, "add_members"); e != nil {
		return nil, e
	}
	ch := s.channels[typ+":"+id]
	if ch == nil {
		return nil, &apiError{404, codeDoesNotExist, fmt.Sprintf("channel %q does not exist", typ+":"+id)}
	}
	var add []string
	if err := json.Unmarshal(body["add_members"], &add); err != nil || len(add) == 0 {
		return nil, &apiError{400, codeInput, "add_members must be a list of user ids"}
	}
	for _, m := range add {
		if s.users[m] == nil {
			return nil, &apiError{400, codeInput, "user " + m + " does not exist"}
		}
		if !slices.Contains(ch.Members, m) {
			ch.Members = append(ch.Members, m)
		}
	}
	return s.channelJSON(ch), nil
}

func (s *Server) partialUpdate(typ, id string, body map[string]json.RawMessage) (any, *apiError) {
	if e := only(body, "set"); e != nil {
		return nil, e
	}
	ch := s.channels[typ+":"+id]
	if ch == nil {
		return nil, &apiError{404, codeDoesNotExist, fmt.Sprintf("channel %q does not exist", typ+":"+id)}
	}
	var set map[string]any
	if err := json.Unmarshal(body["set"], &set); err != nil || len(set) == 0 {
		return nil, &apiError{400, codeInput, "set must be an object of fields"}
	}
	for k, v := range set {
		if slices.Contains(reserved, k) {
			return nil, &apiError{400, codeInput, "the fake does not set " + k}
		}
		ch.Custom[k] = v
	}
	return s.channelJSON(ch), nil
}

// AddUser stores a user as if the app had created it (the admin who
// answers the chats).
func (s *Server) AddUser(id, name string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.users[id] = map[string]any{"id": id, "name": name, "role": "admin"}
}
