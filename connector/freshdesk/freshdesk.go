// Package freshdesk is the Freshdesk connector (kind "freshdesk"): it
// mirrors each contact's transcript into one Freshdesk ticket, takes
// agents' public replies back into the chat through an automation rule's
// webhook, and ends the chat when an agent resolves the ticket, if so
// configured.
package freshdesk

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/helplinehq/helpline"
	"github.com/helplinehq/helpline/connector/internal/outbound"
	"github.com/helplinehq/helpline/connector/internal/setup"
)

func init() {
	helpline.RegisterConnectorKind("freshdesk", func(cfg helpline.ConnectorConfig) (helpline.Connector, error) {
		return New(cfg)
	})
}

// Settings are the connector's configuration section.
type Settings struct {
	// BaseURL is the account's address, e.g. https://acme.freshdesk.com;
	// it defaults to https://{domain}.freshdesk.com.
	BaseURL string `yaml:"base_url"`
	Domain  string `yaml:"domain"`
	// APIKeyEnv names the environment variable holding the API key of
	// the agent Helpline acts as.
	APIKeyEnv string `yaml:"api_key_env"`
	// WebhookSecretEnv names the environment variable holding the secret
	// the automation rule's webhook sends in X-Helpline-Secret; without
	// it the inbound endpoint refuses every request.
	WebhookSecretEnv string `yaml:"webhook_secret_env"`
	// CustomerLines says how the customer's lines after the first
	// delivery land: "note" (default), incoming public notes shown as
	// the customer's, or "reply", public replies, which Freshdesk also
	// emails to the customer.
	CustomerLines string `yaml:"customer_lines"`
	// StatusOnEnd is the ticket status set when the chat ends: resolved
	// (default), closed, pending, open, or "none" to leave it.
	StatusOnEnd string `yaml:"status_on_end"`
	// EndChatOnResolve ends the chat for the customer when an agent
	// resolves or closes the ticket (the webhook must fire on it).
	EndChatOnResolve bool `yaml:"end_chat_on_resolve"`
	// Priority of new tickets, 1 (low, default) to 4 (urgent).
	Priority int `yaml:"priority"`
	// TicketTags are set on each ticket when it is created.
	TicketTags []string `yaml:"ticket_tags"`
	// GroupID, when set, is the group new tickets are assigned to.
	GroupID int64 `yaml:"group_id"`
	// BatchSize is the most chat items mirrored in one call (default 100).
	BatchSize int `yaml:"batch_size"`
	// RequestsPerMinute is the account-wide request rate to stay under.
	// Zero follows the account's X-RateLimit-Total header, starting from
	// 50, the lowest limit (a trial account).
	RequestsPerMinute int `yaml:"requests_per_minute"`
	// TimeoutSeconds bounds each API request (default 30).
	TimeoutSeconds int `yaml:"timeout_seconds"`
}

// Connector is a configured Freshdesk connector. It implements
// helpline.Mirrorer and helpline.InboundConnector.
type Connector struct {
	name   string
	set    Settings
	api    *client
	secret string
	chat   helpline.Intake
	pairs  helpline.MirrorStore
	// replay remembers the conversations and resolutions the webhook
	// acted on, in the store, to tell a replay from news.
	replay helpline.ReplayGuard
	log    *slog.Logger
	now    func() time.Time
	// markerKey signs the markers Helpline leaves in tickets; see marker.
	markerKey []byte

	agentsMu sync.Mutex       // guards agents
	agents   map[int64]string // agent names by user id, read once
}

var (
	_ helpline.Mirrorer         = (*Connector)(nil)
	_ helpline.InboundConnector = (*Connector)(nil)
	_ helpline.Provisioner      = (*Connector)(nil)
	_ helpline.Batcher          = (*Connector)(nil)
)

// Defaults, from Freshdesk's documented rate limits.
const (
	defaultRequestsPerMinute = 50 // a trial account, the lowest limit
	defaultBatchSize         = 100
)

// ticketWriteShare is the part of the account's per-minute budget that
// Freshdesk gives the Ticket Create and Ticket Update endpoints each:
// 80 of 200 (Growth), 160 of 400 (Pro), 280 of 700 (Enterprise).
const ticketWriteShare = 0.4

// Ticket statuses and sources (Freshdesk's integer enums).
const (
	statusOpen     = 2
	statusPending  = 3
	statusResolved = 4
	statusClosed   = 5
	sourceChat     = 7
)

var statusByName = map[string]int{"open": statusOpen, "pending": statusPending, "resolved": statusResolved, "closed": statusClosed}

// New builds a connector from its configuration; every setting is
// checked here.
func New(cfg helpline.ConnectorConfig) (*Connector, error) {
	var s Settings
	sec, err := setup.Read("freshdesk", cfg, &s)
	if err != nil {
		return nil, err
	}
	fail := func(format string, args ...any) (*Connector, error) { return nil, sec.Errorf(format, args...) }
	if s.BaseURL, err = sec.BaseURL(s.BaseURL, "domain", s.Domain, "https://%s.freshdesk.com"); err != nil {
		return nil, err
	}
	key, err := sec.Secret("api_key_env", s.APIKeyEnv, "the API key")
	if err != nil {
		return nil, err
	}
	secret, err := sec.OptionalSecret("webhook_secret_env", s.WebhookSecretEnv)
	if err != nil {
		return nil, err
	}
	switch s.CustomerLines {
	case "":
		s.CustomerLines = "note"
	case "note", "reply":
	default:
		return fail("customer_lines %q must be note or reply", s.CustomerLines)
	}
	switch s.StatusOnEnd {
	case "":
		s.StatusOnEnd = "resolved"
	case "resolved", "closed", "pending", "open", "none":
	default:
		return fail("status_on_end %q must be resolved, closed, pending, open or none", s.StatusOnEnd)
	}
	if s.Priority == 0 {
		s.Priority = 1
	} else if s.Priority < 1 || s.Priority > 4 {
		return fail("priority must be 1 (low) to 4 (urgent)")
	}
	if s.BatchSize < 0 || s.RequestsPerMinute < 0 || s.TimeoutSeconds < 0 || s.GroupID < 0 {
		return fail("batch_size, requests_per_minute, timeout_seconds and group_id cannot be negative")
	}
	if s.BatchSize == 0 {
		s.BatchSize = defaultBatchSize
	}
	if s.TimeoutSeconds == 0 {
		s.TimeoutSeconds = 30
	}
	rpm, follow := s.RequestsPerMinute, s.RequestsPerMinute == 0
	if follow {
		rpm = defaultRequestsPerMinute
	}
	c := &Connector{
		name:   cfg.Name,
		set:    s,
		secret: secret,
		log:    slog.Default(),
		now:    helpline.Now,
		agents: map[int64]string{},
		api: &client{
			base: strings.TrimRight(s.BaseURL, "/") + "/api/v2",
			key:  key,
			http: outbound.NewClient(time.Duration(s.TimeoutSeconds)*time.Second, nil),
			// The limiters wait on real timers, so they read the real
			// clock whatever the node's is.
			limit:  outbound.PerMinute(rpm, nil),
			writes: outbound.PerMinute(max(1, int(float64(rpm)*ticketWriteShare)), nil),
			follow: follow,
		},
	}
	c.api.policy = outbound.Policy{Now: c.now}
	return c, nil
}

// Provision takes the installation's marker key, without which it
// refuses to run; the engine and the mirror pairs, to post agent replies
// and end chats; the replay guard; the clock and the logger. With a
// webhook secret configured it refuses to run without an intake or a
// replay guard.
func (c *Connector) Provision(ctx context.Context, node helpline.ConnectorNode) error {
	switch {
	case len(node.MarkerKey) == 0:
		return fmt.Errorf("freshdesk connector %q: the node gave no marker key to sign the ticket markers with", c.name)
	case c.secret != "" && (node.Intake == nil || node.Mirrors == nil):
		return fmt.Errorf("freshdesk connector %q: webhook_secret_env is set but the node offers no intake to post agent replies into", c.name)
	case c.secret != "" && node.Replay == nil:
		return fmt.Errorf("freshdesk connector %q: webhook_secret_env is set but the node offers no replay guard to refuse replayed webhooks", c.name)
	}
	c.replay = node.Replay
	c.markerKey = node.MarkerKey
	c.chat, c.pairs = node.Intake, node.Mirrors
	if node.Logger != nil {
		c.log = node.Logger
	}
	if node.Now != nil {
		c.now = node.Now
	}
	c.api.policy.Now = c.now
	return nil
}

// Name is the connector's configured name.
func (c *Connector) Name() string { return c.name }

// BatchSize is the most items the dispatcher hands Mirror at once.
func (c *Connector) BatchSize() int { return c.set.BatchSize }

// client calls the Freshdesk API: basic auth with the API key as user
// and "X" as password, JSON bodies, the account limiters applied before
// every request, outcomes judged by the connectors' outbound policy.
type client struct {
	base   string
	key    string
	http   *http.Client
	policy outbound.Policy
	// limit paces every request and writes the ticket creates, notes,
	// replies and updates (ticketWrite), all account-wide. With follow set both track
	// the X-RateLimit-Total header.
	limit, writes *outbound.Limiter
	follow        bool
}

// do sends one request with in as its JSON body (nil for none) and
// decodes a 2xx answer into out (nil to discard). Failures are
// *helpline.MirrorError as the outbound policy classifies them, with
// Freshdesk's error description as the reason; the answer's header is
// returned for pagination.
func (cl *client) do(ctx context.Context, method, path string, in, out any) (http.Header, error) {
	if err := cl.limit.Wait(ctx); err != nil {
		return nil, err
	}
	if ticketWrite(method, path) {
		if err := cl.writes.Wait(ctx); err != nil {
			return nil, err
		}
	}
	var body io.Reader
	if in != nil {
		b, err := json.Marshal(in)
		if err != nil {
			return nil, err
		}
		body = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, cl.base+path, body)
	if err != nil {
		return nil, err
	}
	req.SetBasicAuth(cl.key, "X")
	req.Header.Set("Accept", "application/json")
	if in != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := cl.http.Do(req)
	if err != nil {
		return nil, cl.policy.Classify(nil, fmt.Errorf("freshdesk %s %s: %w", method, path, err))
	}
	defer resp.Body.Close()
	cl.followLimit(resp.Header)
	cl.limit.Observe(resp.Header)
	raw, err := io.ReadAll(io.LimitReader(resp.Body, 8<<20))
	if err != nil {
		return nil, cl.policy.Classify(nil, fmt.Errorf("freshdesk %s %s: reading the answer: %w", method, path, err))
	}
	if me := cl.policy.Classify(resp, nil); me != nil {
		me.Err = fmt.Errorf("freshdesk %s %s: %w%s", method, path, me.Err, describeError(raw))
		return resp.Header, me
	}
	if out == nil {
		return resp.Header, nil
	}
	if err := json.Unmarshal(raw, out); err != nil {
		return resp.Header, &helpline.MirrorError{Permanent: true, Err: fmt.Errorf("freshdesk %s %s: undecodable answer: %w", method, path, err)}
	}
	return resp.Header, nil
}

// ticketWrite reports whether a request counts against Freshdesk's
// Ticket Create and Ticket Update budgets: a ticket's create or update,
// and the notes and replies added to it. Contacts count only against the
// account's budget.
func ticketWrite(method, path string) bool {
	return method != http.MethodGet && strings.HasPrefix(path, "/tickets")
}

// followLimit adopts the account's own limit from X-RateLimit-Total.
func (cl *client) followLimit(h http.Header) {
	if !cl.follow {
		return
	}
	if n, err := strconv.Atoi(h.Get("X-RateLimit-Total")); err == nil && n > 0 {
		cl.limit.SetPerMinute(n)
		cl.writes.SetPerMinute(max(1, int(float64(n)*ticketWriteShare)))
	}
}

// describeError renders Freshdesk's error envelope, e.g.
// `: Validation failed (email: invalid_value "It should be a valid email")`.
func describeError(raw []byte) string {
	var env struct {
		Description string `json:"description"`
		Errors      []struct {
			Field   string `json:"field"`
			Message string `json:"message"`
			Code    string `json:"code"`
		} `json:"errors"`
	}
	if json.Unmarshal(raw, &env) != nil || (env.Description == "" && len(env.Errors) == 0) {
		s := strings.TrimSpace(string(raw))
		if len(s) > 200 {
			s = s[:200] + "…"
		}
		if s == "" {
			return ""
		}
		return ": " + s
	}
	var parts []string
	for _, e := range env.Errors {
		parts = append(parts, strings.TrimSpace(fmt.Sprintf("%s: %s %q", e.Field, e.Code, e.Message)))
	}
	out := ": " + env.Description
	if len(parts) > 0 {
		out += " (" + strings.Join(parts, "; ") + ")"
	}
	return out
}

// status is the HTTP status a failure of do carries, 0 for none.
func status(err error) int {
	var se *outbound.StatusError
	if errors.As(err, &se) {
		return se.Status
	}
	return 0
}
