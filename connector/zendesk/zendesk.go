// Package zendesk is the Zendesk Support connector (kind "zendesk"): it
// mirrors each contact's transcript into one ticket, takes agents' public
// replies back into the chat through a signed trigger webhook, and offers
// bots the ticket actions of helpline.TicketDesk.
package zendesk

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/helplinehq/helpline"
	"github.com/helplinehq/helpline/connector/internal/inbound"
	"github.com/helplinehq/helpline/connector/internal/outbound"
	"github.com/helplinehq/helpline/connector/internal/setup"
)

func init() {
	helpline.RegisterConnectorKind("zendesk", func(cfg helpline.ConnectorConfig) (helpline.Connector, error) {
		return New(cfg)
	})
}

// Settings are the connector's configuration section.
type Settings struct {
	// BaseURL is the account's address, e.g. https://acme.zendesk.com;
	// it defaults to https://{subdomain}.zendesk.com.
	BaseURL   string `yaml:"base_url"`
	Subdomain string `yaml:"subdomain"`
	// Email is the integration user's; the API token is read from the
	// environment variable TokenEnv.
	Email    string `yaml:"email"`
	TokenEnv string `yaml:"token_env"`
	// WebhookSecretEnv names the environment variable holding the signing
	// secret of the webhook that sends agent replies; without it the
	// inbound endpoint refuses every request.
	WebhookSecretEnv string `yaml:"webhook_secret_env"`
	// StatusOnEnd is the ticket status set when the chat ends: solved
	// (default), open, pending, hold, or "none" to leave it.
	StatusOnEnd string `yaml:"status_on_end"`
	// BatchSize is the most chat items mirrored in one call (default 100).
	BatchSize int `yaml:"batch_size"`
	// RequestsPerMinute is the account-wide request rate to stay under.
	// Zero follows the account's X-Rate-Limit header, starting from 200,
	// the lowest plan limit (Team).
	RequestsPerMinute int `yaml:"requests_per_minute"`
	// UpdatesPerMinute is the account-wide Update Ticket rate to stay
	// under (default 100, Zendesk's limit for that endpoint).
	UpdatesPerMinute int `yaml:"updates_per_minute"`
	// TicketTags are set on each ticket when it is created.
	TicketTags []string `yaml:"ticket_tags"`
	// GroupID, when set, is the group new tickets are assigned to.
	GroupID int64 `yaml:"group_id"`
	// TimeoutSeconds bounds each API request (default 30), a file
	// upload included.
	TimeoutSeconds int `yaml:"timeout_seconds"`
	// MaxUploadMB is the largest chat attachment uploaded into the
	// ticket, 1 to 50 (default 50, Zendesk's limit per file); a larger
	// one is mirrored by name with a note.
	MaxUploadMB int `yaml:"max_upload_mb"`
}

// Connector is a configured Zendesk Support connector. It implements
// helpline.Mirrorer, helpline.InboundConnector and helpline.TicketDesk.
type Connector struct {
	name   string
	set    Settings
	api    *client
	secret string
	chat   helpline.Intake
	pairs  helpline.MirrorStore
	open   func(ctx context.Context, id string) (*helpline.Attachment, io.ReadCloser, error)
	log    *slog.Logger
	now    func() time.Time

	// slots are the account update budget reserved for tickets' next
	// updates (reserveUpdates).
	slots *updateSlots
	// creating counts the ticket creations under way (maxCreating).
	creating atomic.Int64

	// guard admits each webhook delivery once, remembering the
	// signatures accepted in the store under replayScope(name).
	guard *inbound.Guard
}

var (
	_ helpline.Mirrorer         = (*Connector)(nil)
	_ helpline.InboundConnector = (*Connector)(nil)
	_ helpline.TicketDesk       = (*Connector)(nil)
	_ helpline.Provisioner      = (*Connector)(nil)
	_ helpline.Batcher          = (*Connector)(nil)
)

// Default limits, from Zendesk's documented rate limits.
const (
	defaultRequestsPerMinute = 200 // Team plan, the lowest
	defaultUpdatesPerMinute  = 100 // Update Ticket, per account
	defaultBatchSize         = 100
	maxUploadMB              = 50 // per file
)

// New builds a connector from its configuration; every setting is
// checked here.
func New(cfg helpline.ConnectorConfig) (*Connector, error) {
	var s Settings
	sec, err := setup.Read("zendesk", cfg, &s)
	if err != nil {
		return nil, err
	}
	fail := func(format string, args ...any) (*Connector, error) { return nil, sec.Errorf(format, args...) }
	if s.BaseURL, err = sec.BaseURL(s.BaseURL, "subdomain", s.Subdomain, "https://%s.zendesk.com"); err != nil {
		return nil, err
	}
	if s.Email == "" || !strings.Contains(s.Email, "@") {
		return fail("email must be the integration user's address")
	}
	token, err := sec.Secret("token_env", s.TokenEnv, "the API token")
	if err != nil {
		return nil, err
	}
	secret, err := sec.OptionalSecret("webhook_secret_env", s.WebhookSecretEnv)
	if err != nil {
		return nil, err
	}
	switch s.StatusOnEnd {
	case "":
		s.StatusOnEnd = "solved"
	case "solved", "open", "pending", "hold", "none":
	default:
		return fail("status_on_end %q must be solved, open, pending, hold or none", s.StatusOnEnd)
	}
	if s.BatchSize < 0 || s.RequestsPerMinute < 0 || s.UpdatesPerMinute < 0 || s.TimeoutSeconds < 0 || s.GroupID < 0 {
		return fail("batch_size, requests_per_minute, updates_per_minute, timeout_seconds and group_id cannot be negative")
	}
	if s.MaxUploadMB < 0 || s.MaxUploadMB > maxUploadMB {
		return fail("max_upload_mb must be 1 to %d, Zendesk's limit per file", maxUploadMB)
	}
	if s.MaxUploadMB == 0 {
		s.MaxUploadMB = maxUploadMB
	}
	if s.BatchSize == 0 {
		s.BatchSize = defaultBatchSize
	}
	if s.UpdatesPerMinute == 0 {
		s.UpdatesPerMinute = defaultUpdatesPerMinute
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
		slots:  &updateSlots{at: map[string]slot{}},
		api: &client{
			base:  strings.TrimRight(s.BaseURL, "/") + "/api/v2",
			user:  s.Email + "/token",
			token: token,
			http:  outbound.NewClient(time.Duration(s.TimeoutSeconds)*time.Second, nil),
			// The limiters wait on real timers, so they read the real
			// clock whatever the node's is.
			limit:   outbound.PerMinute(rpm, nil),
			updates: outbound.PerMinute(s.UpdatesPerMinute, nil),
			follow:  follow,
		},
	}
	c.api.policy = outbound.Policy{Retryable: retryableStatuses, Now: c.now}
	c.guard = &inbound.Guard{Scope: replayScope(c.name), Window: webhookWindow, Now: c.now}
	return c, nil
}

// Provision takes what the connector needs of the node: the engine and
// the mirror pairs, to post agent replies into their chats; the replay
// guard, to admit each webhook once; attachment files, to upload them;
// the clock and the logger. With a webhook secret configured it refuses
// to run without an intake or a replay guard.
func (c *Connector) Provision(ctx context.Context, node helpline.ConnectorNode) error {
	switch {
	case c.secret != "" && node.Replay == nil:
		return fmt.Errorf("zendesk connector %q: webhook_secret_env is set but the node offers no replay guard to refuse replayed webhooks", c.name)
	case c.secret != "" && node.Intake == nil:
		return fmt.Errorf("zendesk connector %q: webhook_secret_env is set but the node offers no intake to post agent replies into", c.name)
	}
	c.chat, c.pairs, c.open = node.Intake, node.Mirrors, node.OpenAttachment
	if node.Logger != nil {
		c.log = node.Logger
	}
	if node.Now != nil {
		c.now = node.Now
	}
	c.api.policy.Now = c.now
	c.guard.Replay, c.guard.Now = node.Replay, c.now
	return nil
}

// Name is the connector's configured name.
func (c *Connector) Name() string { return c.name }

// BatchSize is the most items the dispatcher hands Mirror at once.
func (c *Connector) BatchSize() int { return c.set.BatchSize }

// retryableStatuses are the 4xx statuses the connector retries besides
// 408 and 429. Zendesk answers 409 Conflict to an update that collides
// with another update of the same ticket (its documented "safe update"
// protection against ticket update collisions): nothing landed, and the
// ticket takes updates again once the other one is done, so the chat is
// tried again rather than parked over a race.
var retryableStatuses = []int{http.StatusConflict}

// client calls the Zendesk API: basic auth with an API token, JSON bodies,
// the account limiters applied before every request, outcomes judged by
// the connectors' outbound policy.
type client struct {
	base        string
	user, token string
	http        *http.Client
	policy      outbound.Policy
	// limit paces every request and updates paces ticket updates, both
	// account-wide. With follow set, limit tracks the X-Rate-Limit header.
	limit, updates *outbound.Limiter
	follow         bool
}

// apiError is a non-2xx answer, or a failure to get one, classified by
// the outbound policy.
type apiError struct {
	Status     int // 0 when no answer came
	Body       string
	Permanent  bool
	RetryAfter time.Duration
	Err        error // transport error when Status is 0
}

func (e *apiError) Error() string {
	if e.Status == 0 {
		return fmt.Sprintf("zendesk: %v", e.Err)
	}
	return fmt.Sprintf("zendesk: HTTP %d: %s", e.Status, e.Body)
}

func (e *apiError) Unwrap() error { return e.Err }

// do sends one request with in as its JSON body (nil for none) and decodes
// a 2xx answer into out (nil to discard). Other answers are *apiError.
func (cl *client) do(ctx context.Context, method, path string, header http.Header, in, out any) error {
	if in == nil {
		return cl.send(ctx, method, path, header, nil, 0, out)
	}
	b, err := json.Marshal(in)
	if err != nil {
		return err
	}
	h := header.Clone()
	if h == nil {
		h = http.Header{}
	}
	h.Set("Content-Type", "application/json")
	return cl.send(ctx, method, path, h, bytes.NewReader(b), int64(len(b)), out)
}

// upload sends a file of size bytes to POST /uploads and returns the
// upload token a comment references it by.
func (cl *client) upload(ctx context.Context, name, contentType string, size int64, r io.Reader) (string, error) {
	var out struct {
		Upload struct {
			Token string `json:"token"`
		} `json:"upload"`
	}
	h := http.Header{"Content-Type": {contentType}}
	if err := cl.send(ctx, http.MethodPost, "/uploads?"+url.Values{"filename": {name}}.Encode(), h, r, size, &out); err != nil {
		return "", err
	}
	if out.Upload.Token == "" {
		return "", &apiError{Status: http.StatusCreated, Body: "upload answer without a token", Permanent: true}
	}
	return out.Upload.Token, nil
}

// send sends one request with size bytes of body (nil for none) and
// decodes a 2xx JSON answer into out (nil to discard). Other answers are
// *apiError.
func (cl *client) send(ctx context.Context, method, path string, header http.Header, body io.Reader, size int64, out any) error {
	if err := cl.limit.Wait(ctx); err != nil {
		return limited(err)
	}
	if method == http.MethodPut && strings.HasPrefix(path, "/tickets/") && !spendReserved(ctx) {
		if err := cl.updates.Wait(ctx); err != nil {
			return limited(err)
		}
	}
	req, err := http.NewRequestWithContext(ctx, method, cl.base+path, body)
	if err != nil {
		return err
	}
	req.ContentLength = size
	for k, v := range header {
		req.Header[k] = v
	}
	req.SetBasicAuth(cl.user, cl.token)
	req.Header.Set("Accept", "application/json")
	resp, err := cl.http.Do(req)
	if err != nil {
		return &apiError{Err: err, Permanent: cl.policy.Classify(nil, err).Permanent}
	}
	defer resp.Body.Close()
	cl.followLimit(resp.Header)
	cl.limit.Observe(resp.Header)
	raw, err := io.ReadAll(io.LimitReader(resp.Body, 8<<20))
	if err != nil {
		return &apiError{Err: err}
	}
	if me := cl.policy.Classify(resp, nil); me != nil {
		e := &apiError{Status: resp.StatusCode, Body: strings.TrimSpace(string(raw)), Permanent: me.Permanent, RetryAfter: me.RetryAfter}
		if len(e.Body) > 500 {
			e.Body = e.Body[:500] + "…"
		}
		if resp.StatusCode >= 300 && resp.StatusCode <= 399 {
			// The body of a redirect says nothing; where it points does.
			e.Body = fmt.Sprintf("redirected to %q; redirects are not followed, check base_url", resp.Header.Get("Location"))
		}
		return e
	}
	if out == nil {
		return nil
	}
	if err := json.Unmarshal(raw, out); err != nil {
		return &apiError{Status: resp.StatusCode, Body: "undecodable answer", Permanent: true, Err: err}
	}
	return nil
}

// limited is the failure of a limiter wait: the local account limit, or
// the end of ctx; retryable.
func limited(err error) error {
	var me *helpline.MirrorError
	if errors.As(err, &me) {
		return &apiError{Err: me.Err, RetryAfter: me.RetryAfter}
	}
	return &apiError{Err: err}
}

// followLimit adopts the account's own limit from X-Rate-Limit.
func (cl *client) followLimit(h http.Header) {
	if !cl.follow {
		return
	}
	if n, err := strconv.Atoi(h.Get("X-Rate-Limit")); err == nil && n > 0 {
		cl.limit.SetPerMinute(n)
	}
}

// mirrorError hands err to the dispatcher as the outbound policy
// classified it: 408, 409 (retryableStatuses), 429, 5xx and transport
// failures retry after the time the helpdesk names; redirects and other
// 4xx park the pair with the answer as the reason.
func mirrorError(err error) error {
	var e *apiError
	if !errors.As(err, &e) {
		return err
	}
	return &helpline.MirrorError{Permanent: e.Permanent, RetryAfter: e.RetryAfter, Err: err}
}

// deskError maps err to the helpline error codes TicketDesk returns.
func deskError(err error) error {
	var e *apiError
	if !errors.As(err, &e) {
		return err
	}
	switch e.Status {
	case http.StatusNotFound:
		return &helpline.Error{Code: helpline.ENOTFOUND, Message: "The Zendesk ticket or user was not found."}
	case http.StatusUnprocessableEntity:
		return helpline.Errorf(helpline.EINVALID, "Zendesk refused the change: %s", e.Body)
	case http.StatusTooManyRequests:
		return helpline.Errorf(helpline.ETHROTTLED, "Zendesk's rate limit was reached; retry after %s.", e.RetryAfter)
	}
	return fmt.Errorf("%w: %v", helpline.Errorf(helpline.EINTERNAL, "Zendesk request failed."), err)
}

// id renders a Zendesk id.
func id(n int64) string { return strconv.FormatInt(n, 10) }
