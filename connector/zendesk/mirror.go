package zendesk

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"math"
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/helplinehq/helpline"
)

// Refs keys the connector returns.
const (
	RefTicketID    = "ticket_id"
	RefRequesterID = "requester_id"
)

// Refs keys of the lines already in the ticket beyond the cursor: the
// highest Seq that landed in a public comment and in an internal note,
// when a call sent one of the two and left the other for later.
const (
	refPublicThrough = "public_through"
	refNoteThrough   = "note_through"
	// refRequesterThrough is the Seq of the last customer.updated event
	// whose requester update landed.
	refRequesterThrough = "requester_through"
)

// Mirror delivers a batch into the contact's ticket.
//
// The first delivery creates or updates the requester from the customer
// and creates the ticket, once: Idempotency-Key is derived from the
// contact id and external_id is the contact id (on a retry without a
// ticket reference the ticket is first looked up by external_id). Each
// later call makes at most two ticket updates: one public comment with
// the customer's and agents' lines and one internal note with the bot's,
// the system's and the join/leave events, each line stamped with its time,
// author and role, and each comment ending with a footer naming the chat
// and the item range it holds. On a retry (Attempt > 0) the ticket's
// latest comments are read and ranges whose footer is already there are
// not sent again. When the chat ends, the last update also sets the
// configured status.
//
// An attachment's files are uploaded (POST /uploads) just before the
// comment holding its line and referenced by their upload tokens in the
// comment's uploads, so they land with it, once. A retried upload only
// leaves an unused token, which Zendesk drops when it expires. A file
// over MaxUploadMB, gone from the file store, or refused by Zendesk
// (413, 422: too large, or a file type the account does not allow) is
// mirrored by name with a note saying why; without an OpenAttachment in
// the configuration files are mirrored by name only.
//
// Updates of one ticket are paced under Zendesk's 30 per 10 minutes by
// the ticket's budget, kept in the refs (budget); the account's updates
// a minute are shared by the tickets in the order their lines came
// (reserveUpdates). When the ticket has no update left, or its turn has
// not come, Mirror sends nothing more and asks for a Wait: everything that
// arrives meanwhile goes into the next update. A call that sent one of
// its two comments and not the other delivers the items before the
// other's first line, and keeps in the refs how far the sent one went,
// so that its lines are not sent again.
func (c *Connector) Mirror(ctx context.Context, b *helpline.MirrorBatch) (helpline.MirrorResult, error) {
	refs := make(map[string]string, len(b.Refs)+4)
	for k, v := range b.Refs {
		refs[k] = v
	}
	bud := readBudget(refs, b.Attempt, c.now())
	requester := refs[RefTicketID] != "" && customerUpdated(b.Items) > seqRef(refs, refRequesterThrough)
	lines, ended := c.lines(b)
	lines = after(lines, seqRef(refs, refPublicThrough), seqRef(refs, refNoteThrough))
	if len(lines) == 0 && !requester {
		return helpline.MirrorResult{Delivered: len(b.Items), Refs: refs}, nil
	}
	if refs[RefTicketID] == "" && b.Attempt > 0 {
		// An earlier attempt may have created the ticket.
		t, err := c.findTicket(ctx, b.Contact.ID)
		if err != nil {
			return helpline.MirrorResult{}, mirrorError(err)
		}
		if t != nil {
			refs[RefTicketID], refs[RefRequesterID] = id(t.ID), id(t.RequesterID)
			bud = readBudget(refs, b.Attempt, c.now())
		}
	}
	if refs[RefTicketID] != "" && b.Attempt > 0 && len(lines) > 0 {
		landed, err := c.landed(ctx, refs[RefTicketID], b.Contact.ID)
		if err != nil {
			return helpline.MirrorResult{Refs: refs}, mirrorError(err)
		}
		lines = unsent(lines, landed)
	}
	var comments []comment
	if refs[RefTicketID] == "" {
		// The ticket is created with the batch's first comment: Zendesk
		// counts a creation against no ticket's updates, nor against the
		// account's updates a minute.
		if c.creating.Add(1) > maxCreating {
			c.creating.Add(-1)
			return helpline.MirrorResult{Refs: refs, Wait: creatingWait}, nil
		}
		defer c.creating.Add(-1)
		requesterID, err := c.upsertRequester(ctx, b)
		if err != nil {
			return helpline.MirrorResult{}, mirrorError(err)
		}
		refs[RefRequesterID] = requesterID
		comments = group(b.Contact.ID, lines, requesterID)
		ticketID, err := c.createTicket(ctx, b, requesterID, comments[0], ended && len(comments) == 1)
		if err != nil {
			return helpline.MirrorResult{}, mirrorError(err)
		}
		refs[RefTicketID] = ticketID
		bud = newBudget(c.now())
		refs[RefUpdateBudget] = bud.String()
		comments[0].landed(refs)
		comments = comments[1:]
	} else if len(lines) > 0 {
		comments = group(b.Contact.ID, lines, refs[RefRequesterID])
	}
	ticketID := refs[RefTicketID]
	updates := len(comments)
	if requester {
		updates++
	}
	if updates == 0 {
		return helpline.MirrorResult{Delivered: len(b.Items), Refs: refs}, nil
	}
	// pending is where the items not yet in the ticket begin.
	pending := func(unsent []comment, requester bool) int64 {
		first := int64(math.MaxInt64)
		for _, cm := range unsent {
			first = min(first, cm.lines[0].seq)
		}
		if requester {
			first = min(first, customerUpdated(b.Items))
		}
		return first
	}
	now := c.now()
	if wait := bud.wait(now); wait > 0 {
		return partial(b, refs, pending(comments, requester), wait), nil
	}
	n := min(updates, max(1, int(bud.tokensAt(now))))
	reserved, wait := c.reserveUpdates(ctx, ticketID, n)
	if wait > 0 {
		return partial(b, refs, pending(comments, requester), wait), nil
	}
	if reserved > 0 {
		// A slot kept for fewer updates than there are now (a note
		// came beside the public lines): the rest take a slot of their
		// own rather than queue here.
		n = reserved
	}
	ctx = withReserved(ctx, reserved)
	// The budget is spent before the updates are sent, so that a failed
	// call's refs count what may have landed.
	spent := bud.spend(n, c.now())
	bud.keep(refs, spent)
	bud = spent
	if requester {
		if err := c.updateRequester(ctx, b, refs); err != nil {
			return partial(b, refs, pending(comments, true), 0), mirrorError(err)
		}
		refs[refRequesterThrough] = strconv.FormatInt(customerUpdated(b.Items), 10)
		n--
	}
	for i, cm := range comments[:n] {
		uploads, err := c.attach(ctx, cm.lines)
		if err != nil {
			return partial(b, refs, pending(comments[i:], false), 0), mirrorError(err)
		}
		upd := ticketUpdate{Comment: &commentOut{Body: cm.body(), Public: cm.public, AuthorID: cm.authorID, Uploads: uploads}}
		if ended && i == len(comments)-1 && c.set.StatusOnEnd != "none" {
			upd.Status = c.set.StatusOnEnd
		}
		if err := c.api.do(ctx, http.MethodPut, "/tickets/"+ticketID, nil, ticketEnvelope{upd}, nil); err != nil {
			// Updates land whole: the comments sent before this one
			// are kept, and the footers stop this one from being sent
			// twice should it have landed after all.
			return partial(b, refs, pending(comments[i:], false), 0), mirrorError(err)
		}
		cm.landed(refs)
	}
	if n < len(comments) {
		return partial(b, refs, pending(comments[n:], false), bud.wait(c.now())), nil
	}
	if ended {
		c.slots.take(ticketID)
	}
	return helpline.MirrorResult{Delivered: len(b.Items), Refs: refs, Wait: bud.wait(c.now())}, nil
}

// maxCreating is the most tickets created at once; a delivery that would
// create one more comes back after creatingWait. Many chats starting
// together make creations (two requests each) queue for the account's
// request budget, and each holds a dispatcher worker while it waits: with
// every worker so held, the deliveries whose update slots come due find
// none, come back late and lose their slots. The account budget, not the
// number of creations in flight, bounds how fast tickets are made, so a
// few at once make them as fast.
const (
	maxCreating  = 16
	creatingWait = time.Second
)

// partial is the result of a call that left the items from Seq first on
// (at least some of them) out of the ticket: the items before first are
// delivered. Lines of the comments sent that come after first are marked
// in the refs (comment.landed).
func partial(b *helpline.MirrorBatch, refs map[string]string, first int64, wait time.Duration) helpline.MirrorResult {
	n := 0
	for n < len(b.Items) && b.Items[n].Seq < first {
		n++
	}
	return helpline.MirrorResult{Delivered: n, Refs: refs, Wait: wait}
}

// landed marks in refs how far the comment's kind has landed.
func (cm comment) landed(refs map[string]string) {
	key := refNoteThrough
	if cm.public {
		key = refPublicThrough
	}
	refs[key] = strconv.FormatInt(cm.lines[len(cm.lines)-1].seq, 10)
}

// seqRef reads a Seq kept in refs; 0 when there is none.
func seqRef(refs map[string]string, key string) int64 {
	n, _ := strconv.ParseInt(refs[key], 10, 64)
	return n
}

// after drops the lines that landed in a comment of their kind beyond
// the cursor: public ones up to public, others up to note.
func after(lines []line, public, note int64) []line {
	var out []line
	for _, l := range lines {
		if l.public && l.seq > public || !l.public && l.seq > note {
			out = append(out, l)
		}
	}
	return out
}

// slotWait is the longest a delivery waits for its account update budget
// before going away with its place kept, and slotEarly how long before its
// slot it comes back (reserveUpdates). A delivery more than slotLate after
// its slot lets it go: spending it then would crowd the updates due then,
// and slotLate is within the account limiter's margin for latency jitter.
const (
	slotWait  = 3 * time.Second
	slotEarly = 2 * time.Second
	slotLate  = time.Second
)

// reserveUpdates takes the account's budget for n updates of ticketID. When
// the budget is spent for longer than slotWait, the ticket's place in the
// line is kept as a slot and the delivery goes away until slotEarly before
// it: it comes back with everything that arrived meanwhile, so each of
// Zendesk's scarce updates carries what was sent until just before it, not
// what there was when a worker began to wait. The dispatcher hands a pair
// over a little after its Wait, later still on a busy node: coming back
// early, the delivery waits the rest in process. A delivery that comes back
// more than slotLate after its slot lets it go and takes a new one, as a
// delivery without a slot does. It returns the updates reserved for the
// caller's sends (withReserved) or how long to wait.
func (c *Connector) reserveUpdates(ctx context.Context, ticketID string, n int) (reserved int, wait time.Duration) {
	if n == 0 {
		return 0, 0
	}
	now := c.now()
	s, ok := c.slots.take(ticketID)
	if !ok || s.at.Sub(now) < -slotLate {
		s = slot{at: now.Add(c.api.updates.Reserve(n)), n: n}
	}
	d := s.at.Sub(now)
	if d > slotWait {
		c.slots.put(ticketID, s)
		return 0, d - slotEarly
	}
	if d > 0 {
		t := time.NewTimer(d)
		defer t.Stop()
		select {
		case <-t.C:
		case <-ctx.Done():
			c.slots.put(ticketID, s)
			return 0, d
		}
	}
	return min(s.n, n), 0
}

// updateSlots holds the account update budget reserved for tickets.
type updateSlots struct {
	mu sync.Mutex // guards at
	at map[string]slot
}

// slot is budget for n updates from at on.
type slot struct {
	at time.Time
	n  int
}

func (u *updateSlots) take(ticketID string) (slot, bool) {
	u.mu.Lock()
	defer u.mu.Unlock()
	s, ok := u.at[ticketID]
	delete(u.at, ticketID)
	return s, ok
}

// put keeps s for ticketID. Slots of tickets that never came back (their
// chat moved to another node) are dropped once long past: their budget
// went unused.
func (u *updateSlots) put(ticketID string, s slot) {
	u.mu.Lock()
	defer u.mu.Unlock()
	if len(u.at) >= 10000 {
		for id, old := range u.at {
			if s.at.Sub(old.at) > time.Hour {
				delete(u.at, id)
			}
		}
	}
	u.at[ticketID] = s
}

type reservedKey struct{}

// withReserved marks ctx as holding the account budget of n ticket updates,
// which the next n update requests spend instead of waiting for theirs.
func withReserved(ctx context.Context, n int) context.Context {
	if n == 0 {
		return ctx
	}
	left := n
	return context.WithValue(ctx, reservedKey{}, &left)
}

// spendReserved spends one reserved update of ctx, if it has one left.
func spendReserved(ctx context.Context) bool {
	left, _ := ctx.Value(reservedKey{}).(*int)
	if left == nil || *left == 0 {
		return false
	}
	*left--
	return true
}

// line is one rendered transcript line.
type line struct {
	seq      int64
	public   bool // a customer's or agent's words, for the public comment
	customer bool
	text     string
	// files are an ATTACHMENT item's files, uploaded with the comment.
	files []helpline.AttachmentRef
}

// lines renders the batch's items that belong in the ticket and reports
// whether the chat ended. Items of this connector's origin (replies typed
// in Zendesk), typing, receipts and other events are left out.
func (c *Connector) lines(b *helpline.MirrorBatch) ([]line, bool) {
	var out []line
	ended := false
	for _, it := range b.Items {
		if !it.Stored() || it.Origin == c.name {
			continue
		}
		name, role := b.Author(it)
		text, ok := helpline.TranscriptLine(it, name, role)
		if !ok {
			continue
		}
		l := line{seq: it.Seq, text: text, files: it.Attachments}
		if it.Type != helpline.ItemEvent {
			l.public, l.customer = role == helpline.RoleCustomer || role == helpline.RoleAgent, role == helpline.RoleCustomer
		}
		ended = ended || it.ContentType == helpline.EventChatEnded
		out = append(out, l)
	}
	return out, ended
}

func orDefault(s, def string) string {
	if s == "" {
		return def
	}
	return s
}

// comment is one comment Mirror sends.
type comment struct {
	public   bool
	authorID *int64
	lines    []*line
	footer   string
}

// footerRE matches the footer that marks which items a comment holds.
var footerRE = regexp.MustCompile(`\(Helpline chat (\S+), items (\d+)-(\d+)\)\s*$`)

func (cm comment) body() string {
	var b strings.Builder
	for _, l := range cm.lines {
		b.WriteString(l.text + "\n")
	}
	return b.String() + "\n" + cm.footer
}

// group splits lines into the public comment and the internal note, in
// the order their first lines came. The public comment is the
// requester's own when only the customer speaks in it, the integration
// user's otherwise.
func group(contactID string, lines []line, requesterID string) []comment {
	var out []comment
	for _, public := range []bool{lines[0].public, !lines[0].public} {
		cm := comment{public: public}
		var first, last int64
		customerOnly := true
		for i, l := range lines {
			if l.public != public {
				continue
			}
			if first == 0 {
				first = l.seq
			}
			last = l.seq
			customerOnly = customerOnly && l.customer
			cm.lines = append(cm.lines, &lines[i])
		}
		if len(cm.lines) == 0 {
			continue
		}
		if public && customerOnly {
			if n, err := strconv.ParseInt(requesterID, 10, 64); err == nil {
				cm.authorID = &n
			}
		}
		cm.footer = fmt.Sprintf("(Helpline chat %s, items %d-%d)", contactID, first, last)
		out = append(out, cm)
	}
	return out
}

// attach uploads the files of lines and returns their upload tokens. A
// file that cannot go into the ticket gets a note on its line instead; a
// failure that may pass (the file store, a 429, a 5xx) is returned.
func (c *Connector) attach(ctx context.Context, lines []*line) ([]string, error) {
	if c.open == nil {
		return nil, nil
	}
	var tokens []string
	for _, l := range lines {
		for _, f := range l.files {
			tok, note, err := c.upload(ctx, f)
			if err != nil {
				return nil, err
			}
			if tok != "" {
				tokens = append(tokens, tok)
			} else {
				l.text += fmt.Sprintf(" (%s not attached: %s)", f.Name, note)
			}
		}
	}
	return tokens, nil
}

// upload uploads one file and returns its token, or a note saying why it
// stays out of the ticket.
func (c *Connector) upload(ctx context.Context, f helpline.AttachmentRef) (token, note string, err error) {
	a, r, err := c.open(ctx, f.ID)
	if helpline.ErrorCode(err) == helpline.ENOTFOUND {
		return "", "the file is no longer stored", nil
	} else if err != nil {
		return "", "", fmt.Errorf("zendesk: opening attachment %s: %w", f.ID, err)
	}
	defer r.Close()
	if limit := int64(c.set.MaxUploadMB) << 20; a.Size > limit {
		return "", fmt.Sprintf("%.1f MB is over the %d MB upload limit", float64(a.Size)/(1<<20), c.set.MaxUploadMB), nil
	}
	tok, err := c.api.upload(ctx, orDefault(f.Name, a.Name), orDefault(a.ContentType, "application/binary"), a.Size, r)
	var e *apiError
	if errors.As(err, &e) && (e.Status == http.StatusRequestEntityTooLarge || e.Status == http.StatusUnprocessableEntity) {
		return "", fmt.Sprintf("Zendesk refused the file (HTTP %d)", e.Status), nil
	}
	return tok, "", err
}

// span is the item range of a comment that landed, read from its footer.
type span struct {
	public      bool
	first, last int64
}

// unsent drops the lines a landed comment of their kind already holds.
func unsent(lines []line, landed []span) []line {
	var out []line
	for _, l := range lines {
		held := false
		for _, s := range landed {
			held = held || (s.public == l.public && s.first <= l.seq && l.seq <= s.last)
		}
		if !held {
			out = append(out, l)
		}
	}
	return out
}

// landed returns the item ranges of the contact's comments among the
// ticket's latest hundred. Only comments made through the API, as
// Helpline's are, count: the customer can add comments to their ticket
// (answering its email notification, on the help center) and end one
// with a footer of their own making, which must not stop lines from
// being sent. A chat line cannot forge one in Helpline's comments: the
// footer is trusted only at the very end of the body, where Helpline
// always puts its own.
func (c *Connector) landed(ctx context.Context, ticketID, contactID string) ([]span, error) {
	var page commentPage
	if err := c.api.do(ctx, http.MethodGet, "/tickets/"+ticketID+"/comments?sort=-created_at&page%5Bsize%5D=100", nil, nil, &page); err != nil {
		return nil, err
	}
	var out []span
	for _, cm := range page.Comments {
		if cm.Via.Channel != "api" {
			continue
		}
		if m := footerRE.FindStringSubmatch(cm.Body); m != nil && m[1] == contactID {
			first, _ := strconv.ParseInt(m[2], 10, 64)
			last, _ := strconv.ParseInt(m[3], 10, 64)
			out = append(out, span{public: cm.Public, first: first, last: last})
		}
	}
	return out, nil
}

// findTicket looks the contact's ticket up by its external id, after an
// attempt that may have created it; nil when there is none.
func (c *Connector) findTicket(ctx context.Context, contactID string) (*ticketIn, error) {
	var res struct {
		Results []ticketIn `json:"results"`
	}
	q := url.Values{"query": {"type:ticket external_id:" + contactID}}
	if err := c.api.do(ctx, http.MethodGet, "/search.json?"+q.Encode(), nil, nil, &res); err != nil {
		return nil, err
	}
	if len(res.Results) == 0 {
		return nil, nil
	}
	return &res.Results[0], nil
}

// upsertRequester creates or updates the ticket's requester from the
// customer and returns the user's id.
func (c *Connector) upsertRequester(ctx context.Context, b *helpline.MirrorBatch) (string, error) {
	var user struct {
		User struct {
			ID int64 `json:"id"`
		} `json:"user"`
	}
	if err := c.api.do(ctx, http.MethodPost, "/users/create_or_update", nil, userEnvelope{customerOf(b)}, &user); err != nil {
		return "", err
	}
	return id(user.User.ID), nil
}

// createTicket creates the contact's ticket with first as its first
// comment, headed by when the chat started, and the end status when last
// is the chat's last comment. The Idempotency-Key is derived from the
// contact id, so two attempts never make two tickets: when an attempt's
// creation landed but the next one's search does not see it yet, the
// next one's comment differs and Zendesk answers IdempotentRequestError,
// which is retried until the search finds the ticket.
func (c *Connector) createTicket(ctx context.Context, b *helpline.MirrorBatch, requesterID string, first comment, last bool) (string, error) {
	uploads, err := c.attach(ctx, first.lines)
	if err != nil {
		return "", err
	}
	customer := customerOf(b)
	started := b.Contact.CreatedAt.UTC().Format("2006-01-02 15:04:05 UTC")
	requester, _ := strconv.ParseInt(requesterID, 10, 64)
	create := ticketUpdate{
		Subject: "Chat with " + customer.Name,
		Comment: &commentOut{Body: fmt.Sprintf("Chat %s with %s started at %s.\n\n", b.Contact.ID, customer.Name, started) + first.body(),
			Public: first.public, AuthorID: first.authorID, Uploads: uploads},
		RequesterID: requester,
		ExternalID:  b.Contact.ID,
		Tags:        c.set.TicketTags,
		GroupID:     c.set.GroupID,
	}
	if last && c.set.StatusOnEnd != "none" {
		create.Status = c.set.StatusOnEnd
	}
	var created struct {
		Ticket ticketIn `json:"ticket"`
	}
	key := sha256.Sum256([]byte("helpline:" + b.Contact.ID))
	h := http.Header{"Idempotency-Key": {"helpline-" + hex.EncodeToString(key[:20])}}
	err = c.api.do(ctx, http.MethodPost, "/tickets", h, ticketEnvelope{create}, &created)
	var e *apiError
	if errors.As(err, &e) && e.Status == http.StatusBadRequest && strings.Contains(e.Body, "IdempotentRequestError") {
		e.Permanent = false
		e.RetryAfter = max(e.RetryAfter, 5*time.Second)
	}
	if err != nil {
		return "", err
	}
	return id(created.Ticket.ID), nil
}

// customerUpdated is the Seq of the last customer.updated event in items
// (the customer's name or email became known after the ticket was made);
// 0 when there is none.
func customerUpdated(items []*helpline.Item) int64 {
	var seq int64
	for _, it := range items {
		if it.Type == helpline.ItemEvent && it.ContentType == helpline.EventCustomerUpdated {
			seq = it.Seq
		}
	}
	return seq
}

// updateRequester brings the ticket's requester up to date with the
// customer as the batch knows them (a name or email learned late): the
// user is created or updated by external id or email, and the ticket gets
// that user and a subject with the customer's name in one update, paced
// like the others (Mirror). Both calls are idempotent, so a retry repeats
// them harmlessly.
func (c *Connector) updateRequester(ctx context.Context, b *helpline.MirrorBatch, refs map[string]string) error {
	customer := customerOf(b)
	var user struct {
		User struct {
			ID int64 `json:"id"`
		} `json:"user"`
	}
	if err := c.api.do(ctx, http.MethodPost, "/users/create_or_update", nil, userEnvelope{customer}, &user); err != nil {
		return err
	}
	upd := ticketEnvelope{ticketUpdate{Subject: "Chat with " + customer.Name, RequesterID: user.User.ID}}
	if err := c.api.do(ctx, http.MethodPut, "/tickets/"+refs[RefTicketID], nil, upd, nil); err != nil {
		return err
	}
	refs[RefRequesterID] = id(user.User.ID)
	return nil
}

// customerOf is the requester made from the contact's customer. Email and
// phone come from the contact attributes "email" or "customerEmail" and
// "phone" or "customerPhone"; the name is the customer participant's, or
// failing that the one on the customer's items; external_id is the contact's CustomerID,
// or "helpline:<contact id>" when the chat names no customer.
func customerOf(b *helpline.MirrorBatch) userOut {
	var u userOut
	for _, p := range b.Participants {
		if p.Role == helpline.RoleCustomer && u.Name == "" {
			u.Name = p.DisplayName
		}
	}
	for _, it := range b.Items {
		if it.Role == helpline.RoleCustomer && u.Name == "" {
			u.Name = it.DisplayName
		}
	}
	u.Name = orDefault(u.Name, "Chat customer")
	attrs := b.Contact.Attributes
	u.Email = orDefault(attrs["email"], attrs["customerEmail"])
	u.Phone = orDefault(attrs["phone"], attrs["customerPhone"])
	u.ExternalID = orDefault(b.Contact.CustomerID, "helpline:"+b.Contact.ID)
	return u
}

// Wire shapes.

type ticketEnvelope struct {
	Ticket ticketUpdate `json:"ticket"`
}

type ticketUpdate struct {
	Subject     string      `json:"subject,omitempty"`
	Comment     *commentOut `json:"comment,omitempty"`
	RequesterID int64       `json:"requester_id,omitempty"`
	ExternalID  string      `json:"external_id,omitempty"`
	Status      string      `json:"status,omitempty"`
	AssigneeID  int64       `json:"assignee_id,omitempty"`
	GroupID     int64       `json:"group_id,omitempty"`
	Tags        []string    `json:"tags,omitempty"`
}

type commentOut struct {
	Body     string   `json:"body"`
	Public   bool     `json:"public"`
	AuthorID *int64   `json:"author_id,omitempty"`
	Uploads  []string `json:"uploads,omitempty"`
}

type userEnvelope struct {
	User userOut `json:"user"`
}

type userOut struct {
	Name       string `json:"name"`
	Email      string `json:"email,omitempty"`
	Phone      string `json:"phone,omitempty"`
	ExternalID string `json:"external_id,omitempty"`
}

// ticketIn is a ticket as Zendesk answers it.
type ticketIn struct {
	ID          int64     `json:"id"`
	URL         string    `json:"url"`
	Subject     string    `json:"subject"`
	Status      string    `json:"status"`
	RequesterID int64     `json:"requester_id"`
	AssigneeID  *int64    `json:"assignee_id"`
	GroupID     *int64    `json:"group_id"`
	Tags        []string  `json:"tags"`
	ExternalID  string    `json:"external_id"`
	UpdatedAt   time.Time `json:"updated_at"`
}

// commentIn is a comment as Zendesk answers it.
type commentIn struct {
	ID        int64     `json:"id"`
	Body      string    `json:"body"`
	PlainBody string    `json:"plain_body"`
	Public    bool      `json:"public"`
	AuthorID  int64     `json:"author_id"`
	CreatedAt time.Time `json:"created_at"`
	Via       struct {
		Channel string `json:"channel"`
	} `json:"via"`
}

type commentPage struct {
	Comments []commentIn `json:"comments"`
	Users    []struct {
		ID   int64  `json:"id"`
		Name string `json:"name"`
		Role string `json:"role"`
	} `json:"users"`
}
