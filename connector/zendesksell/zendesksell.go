// Package zendesksell mirrors chat transcripts into Zendesk Sell leads.
//
// Each contact is linked to one lead: the configured lead (lead_id), else
// the lead named by a contact attribute (lead_attribute), else the lead
// with the customer's email (contact attribute "email"), else a new lead
// made from the customer's name and email. The pair's Refs hold it as
// "lead_id". A lead the connector created for a customer it knew no email
// of is provisional: when the contact later learns who the customer is (a
// customer.updated item), the lead is resolved again — renamed and given
// the email when no other lead has it, else left for the customer's lead,
// which then gets a line pointing at the lines written before. Such a
// lead is created with a signed line in its description
// ("— helpline lead of <contact> #<mac>"); before creating one the
// connector lists the leads of that name and adopts the one with the
// contact's line, so a create whose answer was lost leaves no spare lead.
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
	"time"

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
	// LeadID, when set, is the one lead every contact is written to.
	LeadID int64 `yaml:"lead_id"`
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
	leadID    int64
	leadAttr  string
	batchSize int
	api       *client
	// locks serialises, within the process, the holders of one lead or
	// email, unless the node gave nodeLocks, which does it across the
	// nodes sharing the store.
	locks     keyedMutex
	nodeLocks helpline.KeyLocker
	// markerKey signs the markers; see marker.
	markerKey []byte
}

var (
	_ helpline.Mirrorer    = (*Connector)(nil)
	_ helpline.Provisioner = (*Connector)(nil)
	_ helpline.Batcher     = (*Connector)(nil)
	_ helpline.LeadFinder  = (*Connector)(nil)
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
	if s.LeadID < 0 {
		return nil, bad("lead_id must be a Sell lead id")
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
		leadID:    s.LeadID,
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
// refuses to run, the node's key locks and its clock.
func (c *Connector) Provision(ctx context.Context, node helpline.ConnectorNode) error {
	if len(node.MarkerKey) == 0 {
		return fmt.Errorf("zendesksell connector %q: the node gave no marker key to sign the batches' markers with", c.name)
	}
	c.markerKey = node.MarkerKey
	c.nodeLocks = node.Locks
	if node.Now != nil {
		c.api.policy.Now = node.Now
	}
	return nil
}

// Name returns the configured name.
func (c *Connector) Name() string { return c.name }

// BatchSize is the most items the dispatcher hands over at once.
func (c *Connector) BatchSize() int { return c.batchSize }

// Refs keys: the contact's lead id, and, for a lead the connector created
// without an email, the name it was created with (the lead is
// provisional while this is set).
const (
	RefLeadID          = "lead_id"
	RefProvisionalName = "provisional_name"
)

// maxDescription is the longest description the connector writes. Sell
// documents no limit for a lead's description; its product limits cap a
// paragraph custom field at 64,000 characters, and the connector assumes
// the description holds no more. A batch that would take the description
// past it goes into a note instead, after one pointer line.
const maxDescription = 64000

// overflowLine ends a description that has grown full; the lines that
// follow are in the lead's notes.
const overflowLine = "(Helpline: the description is full; later chat lines are in this lead's notes.)"

// Mirror writes b's items to the contact's lead, as one note or one
// description update. It delivers all the items or none. Errors: Sell's
// 429 and 5xx are retryable; other 4xx (a lead that does not exist, a
// refused field) are permanent.
func (c *Connector) Mirror(ctx context.Context, b *helpline.MirrorBatch) (helpline.MirrorResult, error) {
	if c.anonymousWithoutWords(b) {
		// Nothing said yet and nobody to look a lead up by (a Stream
		// channel created before its customer joined): wait for the
		// customer's identity or a first message rather than make a
		// lead for the join lines alone.
		return helpline.MirrorResult{Wait: identityWait}, nil
	}
	leadID, refs, pointer, err := c.lead(ctx, b)
	if err != nil {
		return helpline.MirrorResult{}, err
	}
	res := helpline.MirrorResult{Refs: refs}
	lines := render(b)
	if pointer != "" {
		lines = append([]string{pointer}, lines...)
	}
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
// text appended, holding the lead's lock so no other batch, of this
// node or, on a store several nodes share, of another, writes it in
// between.
func (c *Connector) appendDescription(ctx context.Context, b *helpline.MirrorBatch, leadID int64, text string) (int, error) {
	unlock, err := c.lock(ctx, "lead:"+strconv.FormatInt(leadID, 10))
	if err != nil {
		return 0, err
	}
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
	// Room is kept for the pointer line, so the full description stays
	// within the cap too. Once the pointer is there every later batch
	// goes into a note, even one that would fit in what is left: the
	// lines stay in order, the description's first, then the notes'.
	full := strings.HasSuffix(strings.TrimRight(l.Description, "\n"), overflowLine)
	if full || len([]rune(desc))+len("\n\n"+overflowLine) > maxDescription {
		// Full: the batch goes into a note, and the description says so
		// once, so that a reader of the lead knows where to look.
		if !full {
			if err := c.api.setDescription(ctx, leadID, strings.TrimRight(l.Description, "\n")+"\n\n"+overflowLine); err != nil {
				return 0, err
			}
		}
		return c.addNote(ctx, b, leadID, text)
	}
	if err := c.api.setDescription(ctx, leadID, desc); err != nil {
		return 0, err
	}
	return len(b.Items), nil
}

// lead returns the contact's lead id and the pair's refs: from Refs, the
// configured lead, the lead attribute, the customer's email, or a new
// lead. A provisional lead (created without an email) is resolved again
// when the customer's identity has changed since; pointer is then, when
// the contact moves to another lead, a line for the new lead saying where
// the earlier lines are.
func (c *Connector) lead(ctx context.Context, b *helpline.MirrorBatch) (id int64, refs map[string]string, pointer string, err error) {
	if v := b.Refs[RefLeadID]; v != "" {
		id, err := strconv.ParseInt(v, 10, 64)
		if err != nil {
			return 0, nil, "", &helpline.MirrorError{Permanent: true, Err: fmt.Errorf("stored lead id %q: %w", v, err)}
		}
		if b.Refs[RefProvisionalName] == "" || !identityChanged(b) {
			return id, b.Refs, "", nil
		}
		return c.resolveProvisional(ctx, b, id)
	}
	id, provisional, err := c.findLead(ctx, b)
	if err != nil {
		return 0, nil, "", err
	}
	refs = map[string]string{RefLeadID: strconv.FormatInt(id, 10)}
	if provisional != "" {
		refs[RefProvisionalName] = provisional
	}
	return id, refs, "", nil
}

// identityWait is how long a contact with neither an email nor a message
// waits before its items are looked at again.
const identityWait = 2 * time.Second

// anonymousWithoutWords reports whether b's contact has no lead yet,
// none named, no email, and b holds no message or attachment.
func (c *Connector) anonymousWithoutWords(b *helpline.MirrorBatch) bool {
	if b.Refs[RefLeadID] != "" || c.leadID != 0 || (c.leadAttr != "" && b.Contact.Attributes[c.leadAttr] != "") ||
		strings.TrimSpace(b.Contact.Attributes["email"]) != "" {
		return false
	}
	for _, it := range b.Items {
		if it.Type == helpline.ItemMessage || it.Type == helpline.ItemAttachment {
			return false
		}
	}
	return true
}

// identityChanged reports whether b carries a customer.updated item: the
// contact learned something about its customer.
func identityChanged(b *helpline.MirrorBatch) bool {
	for _, it := range b.Items {
		if it.Type == helpline.ItemEvent && it.ContentType == helpline.EventCustomerUpdated {
			return true
		}
	}
	return false
}

// resolveProvisional finds the lead for a contact whose provisional lead
// was created before its customer's email was known: the lead the
// configuration or the email now names, or, when there is none, the
// provisional lead itself, renamed and given the email. Lines written
// before stay where they are; a move to another lead leaves a pointer.
func (c *Connector) resolveProvisional(ctx context.Context, b *helpline.MirrorBatch, old int64) (int64, map[string]string, string, error) {
	refs := map[string]string{RefLeadID: strconv.FormatInt(old, 10)}
	email := strings.TrimSpace(b.Contact.Attributes["email"])
	name := customerName(b)
	if id, ok, err := c.namedLead(b); err != nil {
		return 0, nil, "", err
	} else if ok {
		return c.moveTo(id, old)
	}
	if email == "" {
		if cmpOr(strings.TrimSpace(name), "Chat customer") == b.Refs[RefProvisionalName] {
			return old, b.Refs, "", nil
		}
		// Still no email: the lead stays provisional, under the new name.
		if err := c.api.updateLead(ctx, old, newLead(name, "")); err != nil {
			return 0, nil, "", err
		}
		refs[RefProvisionalName] = cmpOr(strings.TrimSpace(name), "Chat customer")
		return old, refs, "", nil
	}
	unlock, err := c.lock(ctx, "email:"+strings.ToLower(email))
	if err != nil {
		return 0, nil, "", err
	}
	defer unlock()
	l, err := c.api.findLeadByEmail(ctx, email)
	if err != nil {
		return 0, nil, "", err
	}
	if l != nil && l.ID != old {
		return c.moveTo(l.ID, old)
	}
	if err := c.api.updateLead(ctx, old, newLead(name, email)); err != nil {
		return 0, nil, "", err
	}
	return old, refs, "", nil
}

// moveTo makes id the contact's lead, with a pointer to the lead that
// holds the earlier lines.
func (c *Connector) moveTo(id, old int64) (int64, map[string]string, string, error) {
	refs := map[string]string{RefLeadID: strconv.FormatInt(id, 10)}
	if id == old {
		return id, refs, "", nil
	}
	return id, refs, "Earlier lines of this chat are on lead " + strconv.FormatInt(old, 10) + ".", nil
}

// namedLead is the lead the configuration names for the contact: lead_id,
// else the lead attribute's value; ok is false when neither names one.
func (c *Connector) namedLead(b *helpline.MirrorBatch) (id int64, ok bool, err error) {
	if c.leadID != 0 {
		return c.leadID, true, nil
	}
	v := b.Contact.Attributes[c.leadAttr]
	if c.leadAttr == "" || v == "" {
		return 0, false, nil
	}
	id, err = strconv.ParseInt(strings.TrimSpace(v), 10, 64)
	if err != nil || id <= 0 {
		return 0, false, &helpline.MirrorError{Permanent: true, Err: fmt.Errorf("contact attribute %s = %q is not a Sell lead id", c.leadAttr, v)}
	}
	return id, true, nil
}

// findLead finds or creates the lead of a contact that has none yet;
// provisional is the name a lead created without an email was given.
func (c *Connector) findLead(ctx context.Context, b *helpline.MirrorBatch) (id int64, provisional string, err error) {
	if id, ok, err := c.namedLead(b); err != nil || ok {
		return id, "", err
	}
	email := strings.TrimSpace(b.Contact.Attributes["email"])
	name := customerName(b)
	if email == "" {
		// Without an email there is nothing to look a lead up by, and
		// Sell has no idempotent create: the lead is created with the
		// contact's signed line in its description, so that after a
		// create whose answer was lost the lead that landed is found
		// under the name it was given and adopted, not made twice.
		l := newLead(name, "")
		line := c.leadLine(b.Contact.ID)
		found, err := c.api.findLeadWithLine(ctx, l.FirstName, l.LastName, line)
		if err != nil {
			return 0, "", err
		}
		if found == nil {
			l.Description = line
			if found, err = c.api.createLead(ctx, l); err != nil {
				return 0, "", err
			}
		}
		return found.ID, cmpOr(strings.TrimSpace(name), "Chat customer"), nil
	}
	// Contacts of one customer may start at once: one finds or creates the
	// lead while the others wait, then find it.
	unlock, err := c.lock(ctx, "email:"+strings.ToLower(email))
	if err != nil {
		return 0, "", err
	}
	defer unlock()
	l, err := c.api.findLeadByEmail(ctx, email)
	if err != nil {
		return 0, "", err
	}
	if l == nil {
		if l, err = c.api.createLead(ctx, newLead(name, email)); err != nil {
			return 0, "", err
		}
	}
	return l.ID, "", nil
}

// FindOrCreateLead returns the id of the oldest lead with the customer's
// email, creating one from the customer's names when there is none. It
// holds the email's lock, so it and the mirroring of a contact of that
// email make one lead between them. Sell's 4xx answers are EINVALID, the
// others EINTERNAL; the message carries Sell's answer.
func (c *Connector) FindOrCreateLead(ctx context.Context, in helpline.LeadCustomer) (string, error) {
	email := strings.TrimSpace(in.Email)
	if email == "" {
		return "", helpline.Errorf(helpline.EINVALID, "a lead is found by email, and none was given")
	}
	unlock, err := c.lock(ctx, "email:"+strings.ToLower(email))
	if err != nil {
		return "", helpline.Errorf(helpline.EINTERNAL, "Zendesk Sell: %v", err)
	}
	defer unlock()
	l, err := c.api.findLeadByEmail(ctx, email)
	if err == nil && l == nil {
		nl := &lead{FirstName: strings.TrimSpace(in.FirstName), LastName: strings.TrimSpace(in.LastName), Email: email}
		if nl.LastName == "" {
			nl = newLead(nl.FirstName, email)
		}
		l, err = c.api.createLead(ctx, nl)
	}
	if err != nil {
		code := helpline.EINTERNAL
		if me, ok := err.(*helpline.MirrorError); ok && me.Permanent {
			code = helpline.EINVALID
		}
		return "", helpline.Errorf(code, "Zendesk Sell: %v", err)
	}
	return strconv.FormatInt(l.ID, 10), nil
}

func cmpOr(a, b string) string {
	if a != "" {
		return a
	}
	return b
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

// lock takes key's lock: across the nodes when the node gave key locks,
// else within the process. Keys are scoped by the connector's name.
func (c *Connector) lock(ctx context.Context, key string) (unlock func(), err error) {
	if c.nodeLocks != nil {
		return c.nodeLocks.LockKey(ctx, "zendesksell:"+c.name+":"+key)
	}
	return c.locks.lock(key), nil
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
