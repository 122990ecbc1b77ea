package helpline

import (
	"context"
	"net/mail"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"time"
)

// ResourceWidget is the Resource of ENOTFOUND for an instance with no
// saved widget settings.
const ResourceWidget = "WIDGET"

// WidgetSettings are an instance's customer chat widget: how it looks,
// which sites may embed it, how it identifies customers and what it asks
// before a chat. An instance that has saved none uses DefaultWidgetSettings.
type WidgetSettings struct {
	InstanceID string `json:"instance_id"`
	// FlowID is the flow the widget's chats start in; empty means the
	// instance's first flow.
	FlowID   string `json:"flow_id,omitempty"`
	Title    string `json:"title"`
	Greeting string `json:"greeting,omitempty"`
	// Primary and OnPrimary are CSS colours #rrggbb: the launcher and
	// header, and the text on them.
	Primary   string `json:"primary"`
	OnPrimary string `json:"on_primary"`
	// Position is WidgetLeft or WidgetRight: the corner of the launcher.
	Position string `json:"position"`
	// AllowedOrigins are the sites (scheme://host[:port], the port may be
	// *) that may frame the chat window and start chats from it, besides
	// Helpline's own origin.
	AllowedOrigins []string `json:"allowed_origins"`
	// Secret signs identity tokens (JWT, HS256); empty means the widget
	// accepts none. It never leaves the server but once, when rotated.
	Secret  string          `json:"secret,omitempty"`
	PreChat PreChatSettings `json:"pre_chat"`
	// AwayMessage is shown, with the offline form, while the flow is
	// outside its business hours.
	AwayMessage string    `json:"away_message,omitempty"`
	UpdatedAt   time.Time `json:"updated_at"`
}

// Widget launcher positions.
const (
	WidgetLeft  = "left"
	WidgetRight = "right"
)

// PreChatSettings is the form a customer fills in before a chat starts.
type PreChatSettings struct {
	Enabled bool           `json:"enabled"`
	Fields  []PreChatField `json:"fields"`
}

// PreChatField is one field of the pre-chat form. The fields named "name"
// and "email" give the customer's display name and email; the others are
// stored as contact attributes under their names.
type PreChatField struct {
	Name     string `json:"name"`
	Label    string `json:"label"`
	Type     string `json:"type"` // text, email or tel
	Required bool   `json:"required,omitempty"`
}

// DefaultWidgetSettings returns the settings of an instance that has
// saved none. The default instance (defaultInstance) may also be embedded
// by pages served from localhost and 127.0.0.1, on any port, so that a
// local demo page works out of the box.
func DefaultWidgetSettings(instanceID string, defaultInstance bool) *WidgetSettings {
	ws := &WidgetSettings{
		InstanceID:     instanceID,
		Title:          "Chat with us",
		Greeting:       "Hi! How can we help?",
		Primary:        "#1f5fbf",
		OnPrimary:      "#ffffff",
		Position:       WidgetRight,
		AllowedOrigins: []string{},
		PreChat: PreChatSettings{Fields: []PreChatField{
			{Name: "name", Label: "Name", Type: "text"},
			{Name: "email", Label: "Email", Type: "email"},
		}},
		AwayMessage: "We are away right now. Leave us a message and we will answer by email.",
	}
	if defaultInstance {
		ws.AllowedOrigins = []string{"http://localhost:*", "http://127.0.0.1:*"}
	}
	return ws
}

var (
	colourPattern    = regexp.MustCompile(`^#[0-9a-fA-F]{6}$`)
	fieldNamePattern = regexp.MustCompile(`^[a-z][a-z0-9_]{0,31}$`)
)

// Widget settings limits.
const (
	maxWidgetText    = 1000
	maxWidgetOrigins = 50
	maxPreChatFields = 10
)

// Check returns EINVALID, naming the field, unless ws is valid.
func (ws *WidgetSettings) Check() error {
	switch {
	case ws.InstanceID == "":
		return Errorf(EINVALID, "The widget settings need an instance.")
	case strings.TrimSpace(ws.Title) == "" || len(ws.Title) > 100:
		return Errorf(EINVALID, "title must be 1 to 100 characters.")
	case len(ws.Greeting) > maxWidgetText:
		return Errorf(EINVALID, "greeting must be at most %d characters.", maxWidgetText)
	case len(ws.AwayMessage) > maxWidgetText:
		return Errorf(EINVALID, "awayMessage must be at most %d characters.", maxWidgetText)
	case !colourPattern.MatchString(ws.Primary):
		return Errorf(EINVALID, "primary must be a colour #rrggbb.")
	case !colourPattern.MatchString(ws.OnPrimary):
		return Errorf(EINVALID, "onPrimary must be a colour #rrggbb.")
	case ws.Position != WidgetLeft && ws.Position != WidgetRight:
		return Errorf(EINVALID, "position must be left or right.")
	case len(ws.AllowedOrigins) > maxWidgetOrigins:
		return Errorf(EINVALID, "allowedOrigins holds at most %d origins.", maxWidgetOrigins)
	case len(ws.PreChat.Fields) > maxPreChatFields:
		return Errorf(EINVALID, "preChat.fields holds at most %d fields.", maxPreChatFields)
	case len(ws.FlowID) > 500:
		return Errorf(EINVALID, "flowId is too long.")
	}
	for _, o := range ws.AllowedOrigins {
		if err := CheckOrigin(o); err != nil {
			return err
		}
	}
	seen := map[string]bool{}
	for _, f := range ws.PreChat.Fields {
		switch {
		case !fieldNamePattern.MatchString(f.Name) || strings.HasPrefix(f.Name, "helpline_"):
			return Errorf(EINVALID, "Pre-chat field name %q must be lower-case letters, digits and _ (up to 32), not starting with helpline_.", f.Name)
		case seen[f.Name]:
			return Errorf(EINVALID, "Pre-chat field %q appears twice.", f.Name)
		case strings.TrimSpace(f.Label) == "" || len(f.Label) > 100:
			return Errorf(EINVALID, "Pre-chat field %q needs a label of 1 to 100 characters.", f.Name)
		case f.Type != "text" && f.Type != "email" && f.Type != "tel":
			return Errorf(EINVALID, "Pre-chat field %q: type must be text, email or tel.", f.Name)
		}
		seen[f.Name] = true
	}
	return nil
}

// CheckOrigin returns EINVALID unless o is an origin as a browser sends
// it, scheme://host[:port] with scheme http or https and nothing after,
// or such an origin with port * (any port).
func CheckOrigin(o string) error {
	bad := Errorf(EINVALID, "Origin %q must be scheme://host[:port] (http or https, no path).", o)
	scheme, rest, ok := strings.Cut(o, "://")
	if !ok || (scheme != "http" && scheme != "https") || rest == "" || strings.ContainsAny(rest, "/?#@ \\") {
		return bad
	}
	host, port := rest, ""
	if i := strings.LastIndexByte(rest, ':'); i >= 0 && !strings.HasSuffix(rest, "]") {
		host, port = rest[:i], rest[i+1:]
		if port != "*" {
			if n, err := strconv.Atoi(port); err != nil || n < 1 || n > 65535 || strconv.Itoa(n) != port {
				return bad
			}
		}
	}
	u, err := url.Parse(scheme + "://" + host)
	if err != nil || u.Hostname() == "" || host != strings.ToLower(host) || strings.Contains(host, "*") {
		return bad
	}
	return nil
}

// AllowsOrigin reports whether origin (as a browser sent it) is one of
// ws.AllowedOrigins, a port * matching any port.
func (ws *WidgetSettings) AllowsOrigin(origin string) bool {
	for _, o := range ws.AllowedOrigins {
		if o == origin {
			return true
		}
		if base, ok := strings.CutSuffix(o, ":*"); ok {
			if rest, ok := strings.CutPrefix(origin, base); ok {
				if port, ok := strings.CutPrefix(rest, ":"); ok {
					if _, err := strconv.Atoi(port); err == nil {
						return true
					}
				} else if rest == "" {
					return true
				}
			}
		}
	}
	return false
}

// FindField returns the field named name, or nil.
func (p *PreChatSettings) FindField(name string) *PreChatField {
	for i := range p.Fields {
		if p.Fields[i].Name == name {
			return &p.Fields[i]
		}
	}
	return nil
}

// ValidEmail reports whether s is a bare email address.
func ValidEmail(s string) bool {
	a, err := mail.ParseAddress(s)
	return err == nil && a.Address == s
}

// WidgetStore keeps widget settings; Store includes it.
type WidgetStore interface {
	// SaveWidgetSettings creates or replaces the widget settings of
	// ws.InstanceID, as given (the caller checks them).
	SaveWidgetSettings(ctx context.Context, ws *WidgetSettings) error
	// FindWidgetSettings returns the saved settings of the instance, or
	// ENOTFOUND (Resource WIDGET) when it has saved none.
	FindWidgetSettings(ctx context.Context, instanceID string) (*WidgetSettings, error)
}
