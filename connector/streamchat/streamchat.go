// Package streamchat takes chats that run on Stream Chat into Helpline:
// an inbound endpoint for Stream's push webhook turns each Stream channel
// into a Helpline contact and its messages into the contact's items, so
// the transcript is mirrored through the same connectors as any chat.
//
// It is a source, not a mirror target: it is no helpline.Mirrorer, so
// the node opens no mirror pairs for it.
//
// The webhook is served at POST /webhook (under /connectors/{name}/). A
// request must carry X-Signature, the hex HMAC-SHA256 of the raw body
// keyed by the app's API secret, else it is refused with 401 and changes
// nothing. Stream retries failed calls and may deliver an event more than
// once; every effect is idempotent: the contact on the channel's cid, each
// message on its Stream message id. The facts relied on, with sources, are
// in docs/stream-chat.md.
package streamchat

import (
	"bytes"
	"compress/gzip"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"github.com/helplinehq/helpline"
)

func init() { helpline.RegisterConnectorKind("streamchat", New) }

// Settings are the connector's configuration section.
type Settings struct {
	// APIKey is the Stream app's API key; when set, requests whose
	// X-Api-Key differs are refused.
	APIKey string `yaml:"api_key"`
	// SecretEnv names the environment variable holding the app's API
	// secret, which signs the webhook.
	SecretEnv string `yaml:"secret_env"`
	// InstanceID and ContactFlowID are where Stream channels' contacts
	// start. Both default to "default": the instance Helpline creates on
	// first start (unless a configured instance has that id) and its
	// first flow (unless the instance has a flow of that id). Provision
	// refuses an instance or flow that does not exist.
	InstanceID    string `yaml:"instance_id"`
	ContactFlowID string `yaml:"contact_flow_id"`
	// ChannelAttributes names custom fields of the Stream channel (its
	// custom data) that are copied into contact attributes of the same
	// name, such as the id of the Sell lead the channel belongs to.
	ChannelAttributes []string `yaml:"channel_attributes"`
	// AgentRoles are the Stream user roles whose messages are AGENT
	// messages (default admin and moderator); AgentUserIDs names agents
	// one by one. Everyone else speaks as the customer.
	AgentRoles   []string `yaml:"agent_roles"`
	AgentUserIDs []string `yaml:"agent_user_ids"`
	// Join, when enabled, serves POST /join for a front end that would
	// otherwise need its own backend (see JoinSettings).
	Join *JoinSettings `yaml:"join"`
}

// Limits: a webhook body, compressed or not; and Helpline's display
// name and customer id lengths, which Stream's names and ids may exceed.
const (
	maxBody        = 1 << 20
	maxDisplayName = 256
	maxCustomerID  = 128
)

// chatDuration is how long a Stream channel's contact stays open: the
// longest Connect allows (7 days), as Stream channels have no end.
const chatDuration = 7 * 24 * time.Hour

// Connector is a Stream Chat source.
type Connector struct {
	name         string
	apiKey       string
	secret       []byte
	instanceID   string
	flowID       string
	agentRoles   map[string]bool
	agentUserIDs map[string]bool
	channelAttrs []string
	chat         helpline.Intake
	log          *slog.Logger
	now          func() time.Time
	join         *joiner // nil unless join is enabled
}

var (
	_ helpline.InboundConnector = (*Connector)(nil)
	_ helpline.Provisioner      = (*Connector)(nil)
)

// New builds a connector from its configuration; it is the "streamchat"
// connector kind.
func New(cfg helpline.ConnectorConfig) (helpline.Connector, error) {
	var s Settings
	if err := cfg.Decode(&s); err != nil {
		return nil, fmt.Errorf("streamchat connector %q: %w", cfg.Name, err)
	}
	bad := func(format string, args ...any) error {
		return fmt.Errorf("streamchat connector %q: %s", cfg.Name, fmt.Sprintf(format, args...))
	}
	switch {
	case s.SecretEnv == "":
		return nil, bad("secret_env is required (the environment variable holding the Stream API secret)")
	case cfg.Getenv(s.SecretEnv) == "":
		return nil, bad("environment variable %s (secret_env) is empty", s.SecretEnv)
	}
	if s.InstanceID == "" {
		s.InstanceID = defaultName
	}
	if s.ContactFlowID == "" {
		s.ContactFlowID = defaultName
	}
	for _, name := range s.ChannelAttributes {
		if name == "" || strings.ContainsAny(name, " \t\n") {
			return nil, bad("channel_attributes: %q is not an attribute name", name)
		}
	}
	if s.AgentRoles == nil {
		s.AgentRoles = []string{"admin", "moderator"}
	}
	c := &Connector{
		name:         cfg.Name,
		apiKey:       s.APIKey,
		secret:       []byte(cfg.Getenv(s.SecretEnv)),
		instanceID:   s.InstanceID,
		flowID:       s.ContactFlowID,
		agentRoles:   set(s.AgentRoles),
		agentUserIDs: set(s.AgentUserIDs),
		channelAttrs: s.ChannelAttributes,
		log:          slog.Default(),
		now:          time.Now,
	}
	if s.Join != nil && s.Join.Enabled {
		j, err := newJoiner(s.Join, s.APIKey, c.secret, cfg.Getenv, s.ChannelAttributes)
		if err != nil {
			return nil, bad("%v", err)
		}
		c.join = j
	}
	return c, nil
}

// defaultName names the default instance, and an instance's first flow,
// in the settings.
const defaultName = "default"

// Provision takes the engine to start chats and post messages into,
// without which it refuses to run, and the node's logger. It resolves
// instance_id and contact_flow_id and refuses to run, naming the key,
// when either names nothing: every webhook would fail, and Stream would
// drop its messages after three tries.
func (c *Connector) Provision(ctx context.Context, node helpline.ConnectorNode) error {
	if node.Intake == nil {
		return fmt.Errorf("streamchat connector %q: no chat service to post into", c.name)
	}
	c.chat = node.Intake
	if node.Logger != nil {
		c.log = node.Logger
	}
	if node.Now != nil {
		c.now = node.Now
	}
	if c.join != nil {
		if err := c.join.provision(node); err != nil {
			return fmt.Errorf("streamchat connector %q: %w", c.name, err)
		}
	}
	in, err := c.chat.FindInstance(ctx, c.instanceID)
	if helpline.ErrorCode(err) == helpline.ENOTFOUND && c.instanceID == defaultName && node.DefaultInstanceID != "" {
		in, err = c.chat.FindInstance(ctx, node.DefaultInstanceID)
	}
	if helpline.ErrorCode(err) == helpline.ENOTFOUND {
		return fmt.Errorf("streamchat connector %q: instance_id %q: no such instance (write \"default\" for the one Helpline created, or the id of one under instances:)", c.name, c.instanceID)
	} else if err != nil {
		return fmt.Errorf("streamchat connector %q: instance_id %q: %w", c.name, c.instanceID, err)
	}
	flow := in.FindFlow(c.flowID)
	if flow == nil && c.flowID == defaultName && len(in.Flows) > 0 {
		flow = &in.Flows[0]
	}
	if flow == nil {
		return fmt.Errorf("streamchat connector %q: contact_flow_id %q: instance %s has no such flow (write \"default\" for its first flow)", c.name, c.flowID, c.instanceID)
	}
	c.instanceID, c.flowID = in.ID, flow.ID
	return nil
}

func set(list []string) map[string]bool {
	m := map[string]bool{}
	for _, s := range list {
		m[s] = true
	}
	return m
}

// Name returns the configured name.
func (c *Connector) Name() string { return c.name }

// user is a Stream user as webhook events carry it; custom fields sit
// beside the standard ones.
type user struct {
	ID    string `json:"id"`
	Name  string `json:"name"`
	Role  string `json:"role"`
	Email string `json:"email"`
}

type attachment struct {
	Type     string `json:"type"`
	Title    string `json:"title"`
	AssetURL string `json:"asset_url"`
	ImageURL string `json:"image_url"`
	Fallback string `json:"fallback"`
}

type message struct {
	ID          string       `json:"id"`
	Text        string       `json:"text"`
	Type        string       `json:"type"`
	User        *user        `json:"user"`
	Attachments []attachment `json:"attachments"`
}

// channel is a Stream channel as events carry it; its custom data sits
// beside the standard fields.
type channel map[string]any

type member struct {
	UserID string `json:"user_id"`
	User   *user  `json:"user"`
}

// event is the part of a Stream webhook event the connector reads.
type event struct {
	Type        string   `json:"type"`
	CID         string   `json:"cid"`
	ChannelType string   `json:"channel_type"`
	ChannelID   string   `json:"channel_id"`
	Message     *message `json:"message"`
	User        *user    `json:"user"`
	Member      *member  `json:"member"`
	Members     []member `json:"members"`
	Channel     channel  `json:"channel"`
}

// ServeHTTP takes Stream's webhook at POST /webhook. Statuses: 401 for a
// missing or wrong signature or API key, 400 for a body that is not an
// event, 200 once the event is applied or when it needs nothing (unknown
// types included); engine failures map to 422 (invalid, not retried by
// Stream), 404 (the instance or flow is gone: a configuration error no
// retry cures, said in the body), 409 (the contact has ended), 429 and
// 500 (retried by Stream).
func (c *Connector) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.URL.Path == "/join" && c.join != nil {
		c.serveJoin(w, r)
		return
	}
	if r.URL.Path != "/webhook" {
		http.NotFound(w, r)
		return
	}
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", http.MethodPost)
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, maxBody+1))
	if err != nil {
		http.Error(w, "cannot read body", http.StatusBadRequest)
		return
	}
	if len(body) > maxBody {
		http.Error(w, "body too large", http.StatusRequestEntityTooLarge)
		return
	}
	// Stream may gzip the body; the signature is over the uncompressed
	// bytes.
	if body, err = ungzip(body); err != nil {
		http.Error(w, "bad gzip body", http.StatusBadRequest)
		return
	}
	if c.apiKey != "" && r.Header.Get("X-Api-Key") != c.apiKey {
		http.Error(w, "unknown X-Api-Key", http.StatusUnauthorized)
		return
	}
	if !c.verify(body, r.Header.Get("X-Signature")) {
		http.Error(w, "missing or invalid X-Signature", http.StatusUnauthorized)
		return
	}
	var ev event
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber() // a channel's numeric custom field (a lead id) keeps its digits
	if err := dec.Decode(&ev); err != nil || ev.Type == "" {
		http.Error(w, "body is not a Stream event", http.StatusBadRequest)
		return
	}
	if err := c.apply(r.Context(), &ev); err != nil {
		status := httpStatus(err)
		if status == http.StatusInternalServerError {
			// The node's logger already names the connector.
			c.log.Error("streamchat: applying event", "type", ev.Type, "cid", ev.CID, "err", err)
		} else if status == http.StatusNotFound {
			c.log.Warn("streamchat: refusing event", "type", ev.Type, "cid", ev.CID, "err", err)
		}
		msg := helpline.ErrorMessage(err)
		if status == http.StatusNotFound {
			msg = fmt.Sprintf("%s (this connector starts chats in instance_id %q, contact_flow_id %q)", msg, c.instanceID, c.flowID)
		}
		http.Error(w, msg, status)
		return
	}
	w.WriteHeader(http.StatusOK)
}

func ungzip(body []byte) ([]byte, error) {
	if len(body) < 2 || body[0] != 0x1f || body[1] != 0x8b {
		return body, nil
	}
	zr, err := gzip.NewReader(bytes.NewReader(body))
	if err != nil {
		return nil, err
	}
	out, err := io.ReadAll(io.LimitReader(zr, maxBody+1))
	if err != nil {
		return nil, err
	}
	if len(out) > maxBody {
		return nil, errors.New("inflated body too large")
	}
	return out, nil
}

func (c *Connector) verify(body []byte, signature string) bool {
	got, err := hex.DecodeString(signature)
	if err != nil || len(got) != sha256.Size {
		return false
	}
	mac := hmac.New(sha256.New, c.secret)
	mac.Write(body)
	return hmac.Equal(mac.Sum(nil), got)
}

func httpStatus(err error) int {
	switch helpline.ErrorCode(err) {
	case helpline.EINVALID:
		return http.StatusUnprocessableEntity
	case helpline.ENOTFOUND:
		return http.StatusNotFound
	case helpline.ECONFLICT, helpline.EFORBIDDEN:
		return http.StatusConflict
	case helpline.EQUOTA, helpline.ETHROTTLED:
		return http.StatusTooManyRequests
	}
	return http.StatusInternalServerError
}

// apply carries out one event:
//   - message.new: the channel's contact (started on first use) gets the
//     message, as AGENT or CUSTOMER by the author's role and id;
//   - channel.created, channel.updated, member.added: the contact is
//     started, so it exists with the customer's name before the first
//     message;
//   - channel.deleted: the contact is stopped;
//   - anything else (edits, deletions, reactions, truncation, reads) is
//     ignored: the transcript is append-only and keeps what was said.
func (c *Connector) apply(ctx context.Context, ev *event) error {
	switch ev.Type {
	case "message.new":
		m := ev.Message
		if m == nil || m.User == nil || m.ID == "" {
			return helpline.Errorf(helpline.EINVALID, "message.new without a message, its id or its user")
		}
		// System, ephemeral and error messages are not the participants'
		// words (and ephemeral ones are not stored by Stream).
		if m.Type != "" && m.Type != "regular" && m.Type != "reply" {
			return nil
		}
		content := messageContent(m)
		if content == "" {
			return nil
		}
		contact, err := c.contact(ctx, ev)
		if err != nil {
			return err
		}
		role := helpline.RoleCustomer
		if c.isAgent(m.User) {
			role = helpline.RoleAgent
		}
		_, err = c.chat.PostExternalMessage(ctx, helpline.ExternalMessage{
			ContactID: contact.ID, Origin: c.name, Role: role, AuthorName: displayName(m.User),
			ExternalID: m.ID, ContentType: helpline.ContentPlain, Content: content,
		})
		return err
	case "channel.created", "channel.updated", "member.added":
		_, err := c.contact(ctx, ev)
		return err
	case "channel.deleted":
		contact, err := c.contact(ctx, ev)
		if err != nil {
			return err
		}
		return c.chat.StopContact(ctx, c.instanceID, contact.ID)
	}
	return nil
}

// contact starts, or finds again, the contact of the event's channel: it
// is idempotent on the instance and the client token "stream:"+cid.
//
// A channel may be created before its customer joins (the admin creates
// it, then adds the customer), so the contact may start as "Stream user"
// and learn who the customer is from a later event. When an event names
// the customer, or carries channel attributes, the contact is updated
// (UpdateCustomer, which changes nothing when nothing is new). The
// customer is the first non-agent user the contact learned of: another
// user of the channel does not take the contact over.
func (c *Connector) contact(ctx context.Context, ev *event) (*helpline.Contact, error) {
	cid := ev.CID
	if cid == "" && ev.ChannelType != "" && ev.ChannelID != "" {
		cid = ev.ChannelType + ":" + ev.ChannelID
	}
	if cid == "" {
		return nil, helpline.Errorf(helpline.EINVALID, "event %s names no channel", ev.Type)
	}
	customer := c.customer(ev)
	in := helpline.StartChatInput{
		InstanceID:    c.instanceID,
		ContactFlowID: c.flowID,
		DisplayName:   placeholderName,
		ClientToken:   "stream:" + cid,
		ChatDuration:  chatDuration,
		Attributes:    c.channelAttributes(ev.Channel),
	}
	in.Attributes["stream_cid"] = cid
	if customer != nil {
		in.DisplayName = displayName(customer)
		if len(customer.ID) <= maxCustomerID {
			in.CustomerID = customer.ID
		}
		for k, v := range customerAttributes(customer) {
			in.Attributes[k] = v
		}
	}
	started, err := c.chat.StartChat(ctx, in)
	if err != nil {
		return nil, err
	}
	contact := started.Contact
	u := helpline.CustomerUpdate{ContactID: contact.ID, Attributes: c.channelAttributes(ev.Channel)}
	if customer != nil {
		if id := contact.Attributes["stream_user_id"]; id == "" || id == customer.ID {
			u.DisplayName = displayName(customer)
			for k, v := range customerAttributes(customer) {
				u.Attributes[k] = v
			}
		}
	}
	if !changes(contact, started.Participant, u) {
		return contact, nil
	}
	return c.chat.UpdateCustomer(ctx, u)
}

// placeholderName is the customer's name until an event names them.
const placeholderName = "Stream user"

// customerAttributes are the contact attributes a Stream user gives.
func customerAttributes(u *user) map[string]string {
	attrs := map[string]string{"stream_user_id": u.ID}
	if u.Email != "" {
		attrs["email"] = u.Email
	}
	return attrs
}

// channelAttributes copies the configured custom fields of the channel,
// strings and numbers, into attributes.
func (c *Connector) channelAttributes(ch channel) map[string]string {
	attrs := map[string]string{}
	for _, name := range c.channelAttrs {
		switch v := ch[name].(type) {
		case string:
			if v != "" {
				attrs[name] = v
			}
		case json.Number:
			attrs[name] = v.String()
		}
	}
	return attrs
}

// changes reports whether u would change the contact or its customer p
// (StartChat's participant: the stored one on a replay).
func changes(contact *helpline.Contact, p *helpline.Participant, u helpline.CustomerUpdate) bool {
	if u.DisplayName != "" && (p == nil || p.DisplayName != u.DisplayName) {
		return true
	}
	for k, v := range u.Attributes {
		if contact.Attributes[k] != v {
			return true
		}
	}
	return false
}

// customer is the first non-agent user the event names: the message's
// author, the event's user, the added member, then the members.
func (c *Connector) customer(ev *event) *user {
	candidates := []*user{ev.User}
	if ev.Message != nil {
		candidates = append([]*user{ev.Message.User}, candidates...)
	}
	if ev.Member != nil {
		candidates = append(candidates, ev.Member.User)
	}
	for _, m := range ev.Members {
		candidates = append(candidates, m.User)
	}
	for _, u := range candidates {
		if u != nil && u.ID != "" && !c.isAgent(u) {
			return u
		}
	}
	return nil
}

func (c *Connector) isAgent(u *user) bool { return c.agentRoles[u.Role] || c.agentUserIDs[u.ID] }

// displayName is the user's name, else id, cut to Helpline's limit.
func displayName(u *user) string {
	name := u.ID
	if strings.TrimSpace(u.Name) != "" {
		name = u.Name
	}
	if r := []rune(name); len(r) > maxDisplayName {
		name = string(r[:maxDisplayName])
	}
	return name
}

// messageContent is the message's text followed by a line per attachment:
// its title (or kind) and link.
func messageContent(m *message) string {
	lines := []string{}
	if strings.TrimSpace(m.Text) != "" {
		lines = append(lines, m.Text)
	}
	for _, a := range m.Attachments {
		name := a.Title
		if name == "" {
			name = a.Fallback
		}
		if name == "" {
			name = a.Type
		}
		link := a.AssetURL
		if link == "" {
			link = a.ImageURL
		}
		if link != "" {
			name += " " + link
		}
		lines = append(lines, "[attachment] "+name)
	}
	return strings.Join(lines, "\n")
}
