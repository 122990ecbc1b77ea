// Package kustomer is the Kustomer connector (kind "kustomer"): it
// mirrors each contact's transcript into one Kustomer conversation, as
// chat messages on its timeline and notes, takes agents' replies back
// into the chat through a signed outbound webhook, and ends the chat when
// an agent sets the conversation done.
package kustomer

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
	"regexp"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/helplinehq/helpline"
	"github.com/helplinehq/helpline/connector/internal/inbound"
	"github.com/helplinehq/helpline/connector/internal/outbound"
	"github.com/helplinehq/helpline/connector/internal/setup"
)

func init() {
	helpline.RegisterConnectorKind("kustomer", func(cfg helpline.ConnectorConfig) (helpline.Connector, error) {
		return New(cfg)
	})
}

// Settings are the connector's configuration section.
type Settings struct {
	// BaseURL is the API's address, e.g. https://acme.api.kustomerapp.com;
	// it defaults to https://{org}.api.kustomerapp.com.
	BaseURL string `yaml:"base_url"`
	Org     string `yaml:"org"`
	// APIKeyEnv names the environment variable holding the API key.
	APIKeyEnv string `yaml:"api_key_env"`
	// WebhookSecretEnv names the environment variable holding the
	// outbound webhook's token (its signing secret); without it the
	// inbound endpoint refuses every request.
	WebhookSecretEnv string `yaml:"webhook_secret_env"`
	// App is the app name Helpline's messages carry (default
	// "helpline"); replies carrying it are Helpline's own and never come
	// back into the chat.
	App string `yaml:"app"`
	// StatusOnEnd is the conversation status set when the chat ends:
	// done (default), open, snoozed, or "none" to leave it.
	StatusOnEnd string `yaml:"status_on_end"`
	// EndChatOnDone ends the chat for the customer when an agent sets its
	// conversation done in Kustomer.
	EndChatOnDone bool `yaml:"end_chat_on_done"`
	// AttachmentLink, when set, is a link template for chat files, with
	// {id} and {name} replaced; a file's line then carries its link.
	AttachmentLink string `yaml:"attachment_link"`
	// SessionHistoryAttribute is the conversation's custom attribute set
	// when a bot hands the contact to a person, for an Insight Card to
	// read (default watsonAssistantSessionHistoryStr, the one Watson
	// Assistant's Kustomer integration sets). It is a single-line text
	// attribute, so its name ends in Str and its value is at most 1,024
	// characters.
	SessionHistoryAttribute string `yaml:"session_history_attribute"`
	// TranscriptURL, when set, is a link template with {contact} replaced
	// by the contact id: the attribute's value for a contact without a
	// session_history_key attribute. Without it the value is the
	// handoff's summary.
	TranscriptURL string `yaml:"transcript_url"`
	// BatchSize is the most chat items mirrored in one call (default 100).
	BatchSize int `yaml:"batch_size"`
	// RequestsPerMinute is the org-wide request rate to stay under. Zero
	// follows the org's x-ratelimit-limit header, starting from 300, the
	// lowest plan's budget.
	RequestsPerMinute int `yaml:"requests_per_minute"`
	// TimeoutSeconds bounds each API request (default 30).
	TimeoutSeconds int `yaml:"timeout_seconds"`
}

// Connector is a configured Kustomer connector. It implements
// helpline.Mirrorer and helpline.InboundConnector.
type Connector struct {
	name   string
	set    Settings
	api    *client
	secret string
	chat   helpline.Intake
	pairs  helpline.MirrorStore
	log    *slog.Logger
	now    func() time.Time

	// pace keeps each Kustomer customer's creation budget (customerBurst,
	// customerEvery).
	pace *outbound.Pacer
	// guard admits each webhook event once, remembering the event ids
	// accepted in the store under "webhook:" and the connector's name.
	guard *inbound.Guard

	mu    sync.Mutex        // guards users
	users map[string]string // Kustomer user id → name, for replies
}

var (
	_ helpline.Mirrorer         = (*Connector)(nil)
	_ helpline.InboundConnector = (*Connector)(nil)
	_ helpline.Provisioner      = (*Connector)(nil)
	_ helpline.Batcher          = (*Connector)(nil)
)

const (
	defaultRequestsPerMinute = 300 // Professional (legacy), the lowest plan
	defaultBatchSize         = 100
	defaultApp               = "helpline"
)

var appRE = regexp.MustCompile(`^[a-z0-9][a-z0-9-]{0,62}$`)

// defaultSessionHistoryAttribute is the conversation attribute Watson
// Assistant's Kustomer integration writes its session history key into.
const defaultSessionHistoryAttribute = "watsonAssistantSessionHistoryStr"

// strAttrRE is a single-line text attribute's system name: camelCase
// ending in Str.
var strAttrRE = regexp.MustCompile(`^[a-z][A-Za-z0-9]*Str$`)

// New builds a connector from its configuration; every setting is
// checked here.
func New(cfg helpline.ConnectorConfig) (*Connector, error) {
	var s Settings
	sec, err := setup.Read("kustomer", cfg, &s)
	if err != nil {
		return nil, err
	}
	fail := func(format string, args ...any) (*Connector, error) { return nil, sec.Errorf(format, args...) }
	if s.BaseURL, err = sec.BaseURL(s.BaseURL, "org", s.Org, "https://%s.api.kustomerapp.com"); err != nil {
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
	if s.EndChatOnDone && secret == "" {
		return fail("end_chat_on_done needs webhook_secret_env: the end comes through the webhook")
	}
	if s.App == "" {
		s.App = defaultApp
	}
	if !appRE.MatchString(s.App) {
		return fail("app %q must be lower-case letters, digits and dashes", s.App)
	}
	switch s.StatusOnEnd {
	case "":
		s.StatusOnEnd = "done"
	case "done", "open", "snoozed", "none":
	default:
		return fail("status_on_end %q must be done, open, snoozed or none", s.StatusOnEnd)
	}
	if s.AttachmentLink != "" {
		if u, err := url.Parse(s.AttachmentLink); err != nil || (u.Scheme != "http" && u.Scheme != "https") || !strings.Contains(s.AttachmentLink, "{id}") {
			return fail("attachment_link %q must be an http(s) URL template holding {id}", s.AttachmentLink)
		}
	}
	if s.SessionHistoryAttribute == "" {
		s.SessionHistoryAttribute = defaultSessionHistoryAttribute
	}
	if !strAttrRE.MatchString(s.SessionHistoryAttribute) {
		return fail("session_history_attribute %q must be a conversation attribute's system name ending in Str, such as %s", s.SessionHistoryAttribute, defaultSessionHistoryAttribute)
	}
	if s.TranscriptURL != "" {
		if u, err := url.Parse(s.TranscriptURL); err != nil || (u.Scheme != "http" && u.Scheme != "https") || !strings.Contains(s.TranscriptURL, "{contact}") {
			return fail("transcript_url %q must be an http(s) URL template holding {contact}", s.TranscriptURL)
		}
	}
	if s.BatchSize < 0 || s.RequestsPerMinute < 0 || s.TimeoutSeconds < 0 {
		return fail("batch_size, requests_per_minute and timeout_seconds cannot be negative")
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
		pace:   outbound.NewPacer(customerBurst, customerEvery),
		users:  map[string]string{},
		api: &client{
			base: strings.TrimRight(s.BaseURL, "/") + "/v1",
			key:  key,
			http: outbound.NewClient(time.Duration(s.TimeoutSeconds)*time.Second, nil),
			// The limiter waits on real timers, so it reads the real
			// clock whatever the node's is.
			limit:  outbound.PerMinute(rpm, nil),
			follow: follow,
		},
	}
	c.api.policy = outbound.Policy{Now: c.now}
	c.guard = &inbound.Guard{Scope: "webhook:" + c.name, Window: webhookWindow, Now: c.now}
	return c, nil
}

// Provision takes what the connector needs of the node: the engine and
// the mirror pairs, to post agent replies into their chats and end them;
// the replay guard, to admit each webhook event once; the clock and the
// logger. With a webhook secret configured it refuses to run without an
// intake, mirror pairs or a replay guard.
func (c *Connector) Provision(ctx context.Context, node helpline.ConnectorNode) error {
	if c.secret != "" && (node.Replay == nil || node.Intake == nil || node.Mirrors == nil) {
		return fmt.Errorf("kustomer connector %q: webhook_secret_env is set but the node offers no replay guard, intake or mirror pairs for the webhook", c.name)
	}
	c.chat, c.pairs = node.Intake, node.Mirrors
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

// client calls the Kustomer API: a Bearer API key, JSON bodies, the org
// limiter applied before every request, outcomes judged by the
// connectors' outbound policy.
type client struct {
	base   string
	key    string
	http   *http.Client
	policy outbound.Policy
	// limit paces every request under the org's budget; with follow set
	// it tracks the x-ratelimit-limit header.
	limit  *outbound.Limiter
	follow bool
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
		return fmt.Sprintf("kustomer: %v", e.Err)
	}
	return fmt.Sprintf("kustomer: HTTP %d: %s", e.Status, e.Body)
}

func (e *apiError) Unwrap() error { return e.Err }

// do sends one request with in as its JSON body (nil for none) and
// decodes a 2xx answer into out (nil to discard). Other answers are
// *apiError, their body reduced to Kustomer's error messages.
func (cl *client) do(ctx context.Context, method, path string, in, out any) error {
	if err := cl.limit.Wait(ctx); err != nil {
		var me *helpline.MirrorError
		if errors.As(err, &me) {
			return &apiError{Err: me.Err, RetryAfter: me.RetryAfter}
		}
		return &apiError{Err: err}
	}
	var body io.Reader
	if in != nil {
		b, err := json.Marshal(in)
		if err != nil {
			return err
		}
		body = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, cl.base+path, body)
	if err != nil {
		return err
	}
	if in != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	req.Header.Set("Authorization", "Bearer "+cl.key)
	req.Header.Set("Accept", "application/json")
	resp, err := cl.http.Do(req)
	if err != nil {
		return &apiError{Err: err, Permanent: cl.policy.Classify(nil, err).Permanent}
	}
	defer resp.Body.Close()
	if cl.follow {
		if n, err := strconv.Atoi(resp.Header.Get("X-Ratelimit-Limit")); err == nil && n > 0 {
			cl.limit.SetPerMinute(n)
		}
	}
	cl.limit.Observe(resp.Header)
	raw, err := io.ReadAll(io.LimitReader(resp.Body, 8<<20))
	if err != nil {
		return &apiError{Err: err}
	}
	if me := cl.policy.Classify(resp, nil); me != nil {
		e := &apiError{Status: resp.StatusCode, Body: errorText(raw), Permanent: me.Permanent, RetryAfter: me.RetryAfter}
		if resp.StatusCode >= 300 && resp.StatusCode <= 399 {
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

// errorText reads both of Kustomer's error shapes,
// {"errors":[{"code","message"}]} and JSON:API's {"errors":[{"status",
// "code","title","detail"}]}, falling back to the raw body.
func errorText(raw []byte) string {
	var body struct {
		Errors []struct {
			Code    string `json:"code"`
			Message string `json:"message"`
			Title   string `json:"title"`
			Detail  string `json:"detail"`
		} `json:"errors"`
	}
	if json.Unmarshal(raw, &body) == nil && len(body.Errors) > 0 {
		var parts []string
		for _, e := range body.Errors {
			msg := strings.TrimSpace(strings.Join(nonEmpty(e.Message, e.Title, e.Detail), ": "))
			parts = append(parts, strings.TrimSpace(e.Code+" "+msg))
		}
		return strings.Join(parts, "; ")
	}
	s := strings.TrimSpace(string(raw))
	if len(s) > 500 {
		s = s[:500] + "…"
	}
	return s
}

func nonEmpty(ss ...string) []string {
	var out []string
	for _, s := range ss {
		if s != "" {
			out = append(out, s)
		}
	}
	return out
}

// mirrorError hands err to the dispatcher as the outbound policy
// classified it.
func mirrorError(err error) error {
	var e *apiError
	if !errors.As(err, &e) {
		return err
	}
	return &helpline.MirrorError{Permanent: e.Permanent, RetryAfter: e.RetryAfter, Err: err}
}

// notFound reports whether err is a 404 answer.
func notFound(err error) bool {
	var e *apiError
	return errors.As(err, &e) && e.Status == http.StatusNotFound
}

// resource is a JSON:API resource as Kustomer answers it.
type resource struct {
	Type          string          `json:"type"`
	ID            string          `json:"id"`
	Attributes    json.RawMessage `json:"attributes"`
	Relationships map[string]struct {
		Data struct {
			Type string `json:"type"`
			ID   string `json:"id"`
		} `json:"data"`
	} `json:"relationships"`
}

// related is the id of the resource's relationship name, or "".
func (r resource) related(name string) string { return r.Relationships[name].Data.ID }

type one struct {
	Data resource `json:"data"`
}

type list struct {
	Data  []resource `json:"data"`
	Links struct {
		Next *string `json:"next"`
	} `json:"links"`
}

// maxPages bounds the pages read of one list: 100 per page.
const maxPages = 50

// all reads every page of a list, at most maxPages of them.
func (cl *client) all(ctx context.Context, path string) ([]resource, error) {
	var out []resource
	for page := 1; page <= maxPages; page++ {
		var l list
		if err := cl.do(ctx, http.MethodGet, fmt.Sprintf("%s?page=%d&pageSize=100", path, page), nil, &l); err != nil {
			return nil, err
		}
		out = append(out, l.Data...)
		if l.Links.Next == nil || len(l.Data) == 0 {
			break
		}
	}
	return out, nil
}
