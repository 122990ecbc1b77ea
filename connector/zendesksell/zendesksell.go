// Package zendesksell mirrors chat transcripts into Zendesk Sell leads.
//
// Each contact is linked to one lead: the lead named by a contact
// attribute (lead_attribute), else the lead with the customer's email
// (contact attribute "email"), else a new lead made from the customer's
// name and email. The pair's Refs hold it as "lead_id".
//
// In the default "notes" mode every batch of items becomes one note on the
// lead (POST /v2/notes), which is append-only and cannot lose lines. In
// "description" mode the batch's lines are appended to the lead's
// description by reading and writing it back; Sell has no conditional
// update, so the connector serialises the writers of each lead (several
// contacts may share one lead) within the process.
//
// Every batch ends with a marker line
// "— helpline <contact> seq <a>-<b> #<mac>", the mac an HMAC under the
// installation's marker key (ConnectorNode.MarkerKey). After an
// uncertain outcome the connector looks for the marker of the batch's
// first item before writing again, so a batch lands once: in notes mode
// on the last line of each note, in description mode on a line of its
// own. It trusts a marker only when its mac checks out, and the lines of
// a chat are written so that none can read as a marker (continuation
// lines are indented), so nothing a customer types can make the
// connector skip a batch.
package zendesksell

import (
	"context"
	"fmt"
	"net/url"
	"strconv"
	"strings"
	"sync"

	"golang.org/x/time/rate"

	"github.com/helplinehq/helpline"
	"github.com/helplinehq/helpline/connector/internal/outbound"
)

func init() { helpline.RegisterConnectorKind("zendesksell", New) }

// Modes.
const (
	ModeNotes       = "notes"
	ModeDescription = "description"
)

// Settings are the connector's configuration section.
type Settings struct {
	// BaseURL defaults to https://api.getbase.com.
	BaseURL string `yaml:"base_url"`
	// TokenEnv names the environment variable holding the access token.
	TokenEnv string `yaml:"token_env"`
	// Mode is "notes" (default) or "description".
	Mode string `yaml:"mode"`
	// LeadAttribute, when set, names a contact attribute holding the id of
	// the lead to use.
	LeadAttribute string `yaml:"lead_attribute"`
	// BatchSize is the most items per note or description update
	// (default 100).
	BatchSize int `yaml:"batch_size"`
	// RequestsPerSecond paces all requests of the connector (default 9,
	// under Sell's 36,000 per hour per token).
	RequestsPerSecond float64 `yaml:"requests_per_second"`
}

// Defaults.
const (
	DefaultBaseURL           = "https://api.getbase.com"
	DefaultBatchSize         = 100
	DefaultRequestsPerSecond = 9
)

// Connector mirrors contacts into Sell leads. It is safe for concurrent
// use by the dispatcher's workers.
type Connector struct {
	name      string
	mode      string
	leadAttr  string
	batchSize int
	api       *client
	locks     keyedMutex
	// markerKey signs the markers; see marker.
	markerKey []byte
}

var (
	_ helpline.Mirrorer    = (*Connector)(nil)
	_ helpline.Provisioner = (*Connector)(nil)
	_ helpline.Batcher     = (*Connector)(nil)
)

// New builds a connector from its configuration; it is the
// "zendesksell" connector kind.
func New(cfg helpline.ConnectorConfig) (helpline.Connector, error) {
	var s Settings
	if err := cfg.Decode(&s); err != nil {
		return nil, fmt.Errorf("zendesksell connector %q: %w", cfg.Name, err)
	}
	bad := func(format string, args ...any) error {
		return fmt.Errorf("zendesksell connector %q: %s", cfg.Name, fmt.Sprintf(format, args...))
	}
	if s.BaseURL == "" {
		s.BaseURL = DefaultBaseURL
	}
	if u, err := url.Parse(s.BaseURL); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, bad("base_url %q is not an http(s) URL", s.BaseURL)
	}
	if s.TokenEnv == "" {
		return nil, bad("token_env is required (the environment variable holding the access token)")
	}
	token := cfg.Getenv(s.TokenEnv)
	if token == "" {
		return nil, bad("environment variable %s (token_env) is empty", s.TokenEnv)
	}
	switch s.Mode {
	case "":
		s.Mode = ModeNotes
	case ModeNotes, ModeDescription:
	default:
		return nil, bad("mode must be %q or %q, not %q", ModeNotes, ModeDescription, s.Mode)
	}
	if s.BatchSize == 0 {
		s.BatchSize = DefaultBatchSize
	} else if s.BatchSize < 1 {
		return nil, bad("batch_size must be positive")
	}
	if s.RequestsPerSecond == 0 {
		s.RequestsPerSecond = DefaultRequestsPerSecond
	} else if s.RequestsPerSecond < 0 {
		return nil, bad("requests_per_second must be positive")
	}
	return &Connector{
		name:      cfg.Name,
		mode:      s.Mode,
		leadAttr:  s.LeadAttribute,
		batchSize: s.BatchSize,
		api: &client{
			base:    strings.TrimSuffix(s.BaseURL, "/"),
			token:   token,
			http:    outbound.NewClient(defaultTimeout, nil),
			policy:  outbound.Policy{Now: helpline.Now},
			limiter: outbound.NewLimiter(rate.Limit(s.RequestsPerSecond), 1, nil),
		},
	}, nil
}

// Provision takes the installation's marker key, without which it
// refuses to run, and the node's clock.
func (c *Connector) Provision(ctx context.Context, node helpline.ConnectorNode) error {
	if len(node.MarkerKey) == 0 {
		return fmt.Errorf("zendesksell connector %q: the node gave no marker key to sign the batches' markers with", c.name)
	}
	c.markerKey = node.MarkerKey
	if node.Now != nil {
		c.api.policy.Now = node.Now
	}
	return nil
}

// Name returns the configured name.
func (c *Connector) Name() string { return c.name }

// BatchSize is the most items the dispatcher hands over at once.
func (c *Connector) BatchSize() int { return c.batchSize }

// RefLeadID is the Refs key of the contact's lead id.
const RefLeadID = "lead_id"

// Mirror writes b's items to the contact's lead, as one note or one
// description update. It delivers all the items or none. Errors: Sell's
// 429 and 5xx are retryable; other 4xx (a lead that does not exist, a
// refused field) are permanent.
func (c *Connector) Mirror(ctx context.Context, b *helpline.MirrorBatch) (helpline.MirrorResult, error) {
	leadID, err := c.lead(ctx, b)
	if err != nil {
		return helpline.MirrorResult{}, err
	}
	res := helpline.MirrorResult{Refs: map[string]string{RefLeadID: strconv.FormatInt(leadID, 10)}}
	lines := render(b)
	if len(b.Items) == 0 || len(lines) == 0 {
		res.Delivered = len(b.Items)
		return res, nil
	}
	first, last := b.Items[0].Seq, b.Items[len(b.Items)-1].Seq
	text := strings.Join(lines, "\n") + "\n" + c.marker(b.Contact.ID, first, last)
	if c.mode == ModeDescription {
		res.Delivered, err = c.appendDescription(ctx, b, leadID, text)
	} else {
		res.Delivered, err = c.addNote(ctx, b, leadID, text)
	}
	return res, err
}

func (c *Connector) addNote(ctx context.Context, b *helpline.MirrorBatch, leadID int64, text string) (int, error) {
	if b.Attempt > 0 {
		// Helpline's notes end with their marker; a marker anywhere else
		// in a note is not one of Helpline's.
		landed := int64(-1)
		err := c.api.eachNote(ctx, leadID, func(n note) bool {
			landed = c.landedThrough(lastLine(n.Content), b.Contact.ID, b.Items[0].Seq)
			return landed < 0
		})
		if err != nil {
			return 0, err
		}
		if landed >= 0 {
			return countThrough(b.Items, landed), nil
		}
	}
	if err := c.api.createNote(ctx, leadID, text); err != nil {
		return 0, err
	}
	return len(b.Items), nil
}

// appendDescription reads the lead's description and writes it back with
// text appended, holding the lead's lock so no other batch of this
// process writes it in between.
func (c *Connector) appendDescription(ctx context.Context, b *helpline.MirrorBatch, leadID int64, text string) (int, error) {
	unlock := c.locks.lock("lead:" + strconv.FormatInt(leadID, 10))
	defer unlock()
	l, err := c.api.getLead(ctx, leadID)
	if err != nil {
		return 0, err
	}
	// The description is read anyway, so the marker check costs nothing
	// and is done on every attempt. Batches of several contacts follow
	// one another in it, so a marker is looked for on every line, which
	// it must fill alone.
	for _, line := range strings.Split(l.Description, "\n") {
		if landed := c.landedThrough(strings.TrimRight(line, " \t\r"), b.Contact.ID, b.Items[0].Seq); landed >= 0 {
			return countThrough(b.Items, landed), nil
		}
	}
	desc := text
	if l.Description != "" {
		desc = strings.TrimRight(l.Description, "\n") + "\n\n" + text
	}
	if err := c.api.setDescription(ctx, leadID, desc); err != nil {
		return 0, err
	}
	return len(b.Items), nil
}

// lead returns the contact's lead id: from Refs, the lead attribute, the
// customer's email, or a new lead.
func (c *Connector) lead(ctx context.Context, b *helpline.MirrorBatch) (int64, error) {
	if v := b.Refs[RefLeadID]; v != "" {
		id, err := strconv.ParseInt(v, 10, 64)
		if err != nil {
			return 0, &helpline.MirrorError{Permanent: true, Err: fmt.Errorf("stored lead id %q: %w", v, err)}
		}
		return id, nil
	}
	attrs := b.Contact.Attributes
	if c.leadAttr != "" && attrs[c.leadAttr] != "" {
		id, err := strconv.ParseInt(attrs[c.leadAttr], 10, 64)
		if err != nil || id <= 0 {
			return 0, &helpline.MirrorError{Permanent: true, Err: fmt.Errorf("contact attribute %s = %q is not a Sell lead id", c.leadAttr, attrs[c.leadAttr])}
		}
		return id, nil
	}
	email := strings.TrimSpace(attrs["email"])
	name := customerName(b)
	if email == "" {
		// Without an email there is nothing to look a lead up by; Sell
		// has no idempotent create, so a create whose outcome was lost
		// may leave a spare lead behind.
		l, err := c.api.createLead(ctx, newLead(name, ""))
		if err != nil {
			return 0, err
		}
		return l.ID, nil
	}
	// Contacts of one customer may start at once: one finds or creates the
	// lead while the others wait, then find it.
	unlock := c.locks.lock("email:" + strings.ToLower(email))
	defer unlock()
	l, err := c.api.findLeadByEmail(ctx, email)
	if err != nil {
		return 0, err
	}
	if l == nil {
		if l, err = c.api.createLead(ctx, newLead(name, email)); err != nil {
			return 0, err
		}
	}
	return l.ID, nil
}

// newLead splits a display name into Sell's first and last name; a lead
// needs a last name.
func newLead(name, email string) *lead {
	name = strings.TrimSpace(name)
	if name == "" {
		name = "Chat customer"
	}
	l := &lead{LastName: name, Email: email}
	if i := strings.LastIndex(name, " "); i > 0 {
		l.FirstName, l.LastName = name[:i], name[i+1:]
	}
	return l
}

func customerName(b *helpline.MirrorBatch) string {
	if n := b.Contact.Attributes["name"]; n != "" {
		return n
	}
	for _, p := range b.Participants {
		if p.Role == helpline.RoleCustomer {
			return p.DisplayName
		}
	}
	return ""
}

// countThrough counts the items up to and including Seq last.
func countThrough(items []*helpline.Item, last int64) int {
	n := 0
	for _, it := range items {
		if it.Seq <= last {
			n++
		}
	}
	return n
}

// keyedMutex serialises holders of the same key. Entries are removed when
// their last holder leaves, so it does not grow with the keys seen.
type keyedMutex struct {
	mu    sync.Mutex // guards locks
	locks map[string]*keyedEntry
}

type keyedEntry struct {
	mu   sync.Mutex
	refs int
}

func (k *keyedMutex) lock(key string) (unlock func()) {
	k.mu.Lock()
	if k.locks == nil {
		k.locks = map[string]*keyedEntry{}
	}
	e := k.locks[key]
	if e == nil {
		e = &keyedEntry{}
		k.locks[key] = e
	}
	e.refs++
	k.mu.Unlock()
	e.mu.Lock()
	return func() {
		e.mu.Unlock()
		k.mu.Lock()
		if e.refs--; e.refs == 0 {
			delete(k.locks, key)
		}
		k.mu.Unlock()
	}
}
