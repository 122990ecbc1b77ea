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
	"time"

	"golang.org/x/time/rate"

	"github.com/helplinehq/helpline"
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
// helpline.Connector, helpline.InboundConnector and helpline.TicketDesk.
type Connector struct {
	name   string
	set    Settings
	api    *client
	secret string
	chat   helpline.ChatService
	pairs  helpline.MirrorStore
	open   func(ctx context.Context, id string) (*helpline.Attachment, io.ReadCloser, error)
	log    *slog.Logger
	now    func() time.Time

	pace *ticketPacer

	// replay remembers the webhook signatures accepted, in the store,
	// under the scope replayScope(name).
	replay helpline.ReplayGuard
}

var (
	_ helpline.InboundConnector = (*Connector)(nil)
	_ helpline.TicketDesk       = (*Connector)(nil)
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
	if cfg.Decode != nil {
		if err := cfg.Decode(&s); err != nil {
			return nil, fmt.Errorf("zendesk connector %q: %w", cfg.Name, err)
		}
	}
	fail := func(format string, args ...any) (*Connector, error) {
		return nil, fmt.Errorf("zendesk connector %q: "+format, append([]any{cfg.Name}, args...)...)
	}
	if cfg.Name == "" {
		return fail("a name is required")
	}
	if s.BaseURL == "" {
		if s.Subdomain == "" {
			return fail("set subdomain or base_url")
		}
		s.BaseURL = "https://" + s.Subdomain + ".zendesk.com"
	}
	if u, err := url.Parse(s.BaseURL); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return fail("base_url %q is not an http(s) URL", s.BaseURL)
	}
	if s.Email == "" || !strings.Contains(s.Email, "@") {
		return fail("email must be the integration user's address")
	}
	if s.TokenEnv == "" {
		return fail("token_env must name the environment variable holding the API token")
	}
	getenv := cfg.Getenv
	if getenv == nil {
		getenv = func(string) string { return "" }
	}
	token := getenv(s.TokenEnv)
	if token == "" {
		return fail("environment variable %s (token_env) is empty", s.TokenEnv)
	}
	var secret string
	if s.WebhookSecretEnv != "" {
		if secret = getenv(s.WebhookSecretEnv); secret == "" {
			return fail("environment variable %s (webhook_secret_env) is empty", s.WebhookSecretEnv)
		}
		if cfg.Replay == nil {
			return fail("webhook_secret_env is set but the node offers no replay guard to refuse replayed webhooks")
		}
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
		chat:   cfg.Chat,
		pairs:  cfg.Mirrors,
		open:   cfg.OpenAttachment,
		log:    cfg.Logger,
		now:    cfg.Now,
		pace:   newTicketPacer(),
		replay: cfg.Replay,
		api: &client{
			base:    strings.TrimRight(s.BaseURL, "/") + "/api/v2",
			user:    s.Email + "/token",
			token:   token,
			http:    &http.Client{Timeout: time.Duration(s.TimeoutSeconds) * time.Second},
			limit:   rate.NewLimiter(perMinute(rpm), burstOf(rpm)),
			updates: rate.NewLimiter(perMinute(s.UpdatesPerMinute), burstOf(s.UpdatesPerMinute)),
			follow:  follow,
		},
	}
	if c.log == nil {
		c.log = slog.Default()
	}
	if c.now == nil {
		c.now = helpline.Now
	}
	return c, nil
}

// Name is the connector's configured name.
func (c *Connector) Name() string { return c.name }

// BatchSize is the most items the dispatcher hands Mirror at once.
func (c *Connector) BatchSize() int { return c.set.BatchSize }

// perMinute is a limiter rate of n per minute, kept 10% under n: Zendesk
// counts in fixed one-minute windows, and a token bucket's rate plus its
// burst must fit in any one of them (90% + 5% of n), with room for clock
// skew against the helpdesk's window.
func perMinute(n int) rate.Limit { return rate.Limit(float64(n) * 0.90 / 60) }

// burstOf allows a short burst of a twentieth of a minute's budget.
func burstOf(n int) int { return max(1, n/20) }

// client calls the Zendesk API: basic auth with an API token, JSON bodies,
// the account limiters applied before every request.
type client struct {
	base        string
	user, token string
	http        *http.Client
	// limit paces every request and updates paces ticket updates, both
	// account-wide. With follow set, limit tracks the X-Rate-Limit header.
	limit, updates *rate.Limiter
	follow         bool
}

// apiError is a non-2xx answer, or a failure to get one.
type apiError struct {
	Status     int // 0 when no answer came
	Body       string
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
		return "", &apiError{Status: http.StatusCreated, Body: "upload answer without a token"}
	}
	return out.Upload.Token, nil
}

// send sends one request with size bytes of body (nil for none) and
// decodes a 2xx JSON answer into out (nil to discard). Other answers are
// *apiError.
func (cl *client) send(ctx context.Context, method, path string, header http.Header, body io.Reader, size int64, out any) error {
	if err := waitFor(ctx, cl.limit); err != nil {
		return err
	}
	if method == http.MethodPut && strings.HasPrefix(path, "/tickets/") {
		if err := waitFor(ctx, cl.updates); err != nil {
			return err
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
		return &apiError{Err: err}
	}
	defer resp.Body.Close()
	cl.followLimit(resp.Header)
	raw, err := io.ReadAll(io.LimitReader(resp.Body, 8<<20))
	if err != nil {
		return &apiError{Err: err}
	}
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		e := &apiError{Status: resp.StatusCode, Body: strings.TrimSpace(string(raw))}
		if len(e.Body) > 500 {
			e.Body = e.Body[:500] + "…"
		}
		if secs, err := strconv.Atoi(resp.Header.Get("Retry-After")); err == nil && secs >= 0 {
			e.RetryAfter = time.Duration(secs) * time.Second
		}
		return e
	}
	if out == nil {
		return nil
	}
	if err := json.Unmarshal(raw, out); err != nil {
		return &apiError{Status: resp.StatusCode, Body: "undecodable answer", Err: err}
	}
	return nil
}

// waitFor takes a token of lim, or fails retryably at once when the wait
// would outlast ctx, saying how long it would have been.
func waitFor(ctx context.Context, lim *rate.Limiter) error {
	r := lim.Reserve()
	d := r.Delay()
	if dl, ok := ctx.Deadline(); ok && time.Until(dl) < d {
		r.Cancel()
		return &apiError{Err: errors.New("account rate limit reached locally"), RetryAfter: d}
	}
	if d == 0 {
		return nil
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		r.Cancel()
		return &apiError{Err: ctx.Err()}
	}
}

// followLimit adopts the account's own limit from X-Rate-Limit.
func (cl *client) followLimit(h http.Header) {
	if !cl.follow {
		return
	}
	n, err := strconv.Atoi(h.Get("X-Rate-Limit"))
	if err != nil || n <= 0 || perMinute(n) == cl.limit.Limit() {
		return
	}
	cl.limit.SetLimit(perMinute(n))
	cl.limit.SetBurst(burstOf(n))
}

// mirrorError classifies err for the dispatcher: 429 and 409 retry after
// the time the helpdesk names, 5xx and transport failures retry, other
// 4xx park the pair with the answer as the reason.
func mirrorError(err error) error {
	var e *apiError
	if !errors.As(err, &e) {
		return err
	}
	switch {
	case e.Status == 0, e.Status == http.StatusTooManyRequests, e.Status == http.StatusConflict, e.Status >= 500:
		return &helpline.MirrorError{RetryAfter: e.RetryAfter, Err: err}
	default:
		return &helpline.MirrorError{Permanent: true, Err: err}
	}
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
