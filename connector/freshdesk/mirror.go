package freshdesk

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"html"
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/helplinehq/helpline"
)

// Refs keys the connector returns.
const (
	RefTicketID    = "ticket_id"
	RefRequesterID = "requester_id"
	// RefInstanceID is the contact's instance, which ending the chat
	// from a webhook needs.
	RefInstanceID = "instance_id"
)

// Mirror delivers a batch into the contact's ticket.
//
// The first delivery finds the customer's Freshdesk contact by email or
// creates it, and creates the ticket (source 7, chat) with the batch's
// lines as its description. Each later call posts the lines in order,
// each run of consecutive lines of one kind as one conversation: the
// customer's as an incoming public note in the customer's name (or a
// public reply, with customer_lines: reply), the agents' as a public
// reply, the bot's, the system's and the join/leave/end events as a
// private note. When that is more conversations than the account's
// ticket write budget has left now, the mirror is behind and gathers
// the customer's and agents' lines between two private notes into one
// reply and at most one incoming note (see gather). When the chat ends
// the ticket takes the configured status.
//
// Freshdesk has no idempotency key, so every description and
// conversation ends with a marker line "— helpline <contact> seq <a>-<b>
// #<mac>", the mac an HMAC under the installation's marker key. After an
// uncertain outcome (Attempt > 0) the connector reads what landed before
// sending again: without a ticket reference it looks through the
// requester's chat tickets created since the chat started for the one
// whose description carries the contact's marker (the requester's
// ticket list is read straight from the database, where a search would
// lag behind its index and a custom field would need setting up by an
// admin); with one it reads the ticket's conversations and leaves out
// the ranges whose marker is there. A marker counts only as the last
// line of the text and with a valid mac, so nothing a customer types can
// make the connector skip lines.
func (c *Connector) Mirror(ctx context.Context, b *helpline.MirrorBatch) (helpline.MirrorResult, error) {
	refs := make(map[string]string, len(b.Refs)+3)
	for k, v := range b.Refs {
		refs[k] = v
	}
	refs[RefInstanceID] = b.Contact.InstanceID
	lines, endSeq := c.lines(b)
	ended := endSeq > 0
	if len(lines) == 0 {
		return helpline.MirrorResult{Delivered: len(b.Items), Refs: refs}, nil
	}
	if refs[RefTicketID] == "" {
		requesterID, err := c.requester(ctx, b)
		if err != nil {
			return helpline.MirrorResult{}, err
		}
		refs[RefRequesterID] = id(requesterID)
		through := int64(-1)
		if b.Attempt > 0 {
			ticketID, last, err := c.findTicket(ctx, requesterID, b)
			if err != nil {
				return helpline.MirrorResult{Refs: refs}, err
			}
			if ticketID != 0 {
				refs[RefTicketID], through = id(ticketID), last
			}
		}
		if refs[RefTicketID] == "" {
			ticketID, err := c.createTicket(ctx, b, requesterID, lines, ended)
			if err != nil {
				return helpline.MirrorResult{Refs: refs}, err
			}
			refs[RefTicketID] = id(ticketID)
			return helpline.MirrorResult{Delivered: len(b.Items), Refs: refs}, nil
		}
		lines = after(lines, through)
	} else if b.Attempt > 0 {
		landed, err := c.landed(ctx, refs[RefTicketID], b.Contact.ID)
		if err != nil {
			return helpline.MirrorResult{Refs: refs}, err
		}
		lines = unsent(lines, landed)
	}
	ticketID := refs[RefTicketID]
	posts := runs(lines)
	if len(posts) > 1 && float64(len(posts)) > c.api.writes.Available() {
		// Behind the ticket write budget: fewer, larger conversations.
		posts = gather(lines)
	}
	for _, p := range posts {
		if err := c.post(ctx, ticketID, refs[RefRequesterID], b.Contact.ID, p); err != nil {
			// Each run landed whole or not at all (or its marker tells
			// on a retry): the runs before this one are delivered.
			return helpline.MirrorResult{Delivered: countBefore(b.Items, p.lines[0].seq), Refs: refs}, err
		}
	}
	if ended && c.set.StatusOnEnd != "none" {
		in := map[string]int{"status": statusByName[c.set.StatusOnEnd]}
		if _, err := c.api.do(ctx, http.MethodPut, "/tickets/"+ticketID, in, nil); err != nil {
			// The chat's end is its last item: keep it for the retry,
			// which finds its note by the marker and sets the status.
			return helpline.MirrorResult{Delivered: countBefore(b.Items, endSeq), Refs: refs}, err
		}
	}
	return helpline.MirrorResult{Delivered: len(b.Items), Refs: refs}, nil
}

// Kinds of line, each landing as its own kind of conversation.
const (
	kindCustomer = iota // an incoming note or a reply
	kindAgent           // a public reply
	kindPrivate         // a private note: bot, system, events
)

// line is one rendered transcript line.
type line struct {
	seq  int64
	kind int
	text string
}

// lines renders the batch's items that belong in the ticket and returns
// the Seq of the chat's end among them, 0 when the chat goes on. Items of this connector's origin (replies typed
// in Freshdesk), typing, receipts and other events are left out.
func (c *Connector) lines(b *helpline.MirrorBatch) ([]line, int64) {
	var out []line
	var ended int64
	for _, it := range b.Items {
		if !it.Stored() || it.Origin == c.name {
			continue
		}
		name, role := b.Author(it)
		text, ok := helpline.TranscriptLine(it, name, role)
		if !ok {
			continue
		}
		l := line{seq: it.Seq, kind: kindPrivate, text: text}
		if it.Type != helpline.ItemEvent {
			switch role {
			case helpline.RoleCustomer:
				l.kind = kindCustomer
			case helpline.RoleAgent:
				l.kind = kindAgent
			}
		}
		if it.ContentType == helpline.EventChatEnded {
			ended = it.Seq
		}
		out = append(out, l)
	}
	return out, ended
}

// run is the lines of one conversation and the kind it goes as.
type run struct {
	kind  int
	lines []line
}

// runs splits lines into runs of consecutive lines of one kind.
func runs(lines []line) []run {
	var out []run
	for i, l := range lines {
		if i == 0 || l.kind != lines[i-1].kind {
			out = append(out, run{kind: l.kind})
		}
		out[len(out)-1].lines = append(out[len(out)-1].lines, l)
	}
	return out
}

// gather splits lines into as few conversations as keep what each
// says true, for a mirror behind the account's ticket write budget,
// where one conversation per run would fall further behind a chat whose
// customer and agent take turns (each turn its own write).
//
// The bot's, the system's and the events' lines stay private notes of
// their own: gathered into a public conversation they would show the
// customer (in the portal, or by email) what the ticket keeps from them.
// Each stretch of customer and agent lines between them becomes at most
// two conversations: everything through the agent's last line is one
// public reply, as an agent answered — Freshdesk counts the response
// (first response time, the ticket's status) and emails the exchange to
// the customer, who reads their own lines quoted above the answer — and
// the customer's lines after it one incoming note in the customer's
// name, so a ticket whose customer has the last word reads as awaiting
// an agent. Every line keeps its "[time] Name (role):" stamp, so the
// reader sees who said what, and its marker names the range it holds.
// With customer_lines: reply the stretch is one reply either way.
func gather(lines []line) []run {
	var out []run
	for i := 0; i < len(lines); {
		j := i + 1
		private := lines[i].kind == kindPrivate
		for j < len(lines) && (lines[j].kind == kindPrivate) == private {
			j++
		}
		stretch := lines[i:j]
		i = j
		if private {
			out = append(out, run{kindPrivate, stretch})
			continue
		}
		answered := 0 // lines through the agent's last
		for k, l := range stretch {
			if l.kind == kindAgent {
				answered = k + 1
			}
		}
		if answered > 0 {
			out = append(out, run{kindAgent, stretch[:answered]})
		}
		if answered < len(stretch) {
			out = append(out, run{kindCustomer, stretch[answered:]})
		}
	}
	return out
}

// post sends one run as one conversation.
func (c *Connector) post(ctx context.Context, ticketID, requesterID, contactID string, r run) error {
	body := c.body(contactID, r.lines)
	path := "/tickets/" + ticketID + "/notes"
	var in any
	switch kind := r.kind; {
	case kind == kindAgent, kind == kindCustomer && c.set.CustomerLines == "reply":
		path = "/tickets/" + ticketID + "/reply"
		in = replyOut{Body: body}
	case kind == kindCustomer:
		// An incoming public note in the requester's name reads as the
		// customer's own words in the ticket. That a contact's id is
		// taken as a note's user_id is unverified; the fake allows it
		// only on incoming notes.
		n := noteOut{Body: body, Private: false, Incoming: true}
		if rid, err := strconv.ParseInt(requesterID, 10, 64); err == nil {
			n.UserID = rid
		}
		in = n
	default:
		// Whether notes default to private is unverified, so private is
		// always sent.
		in = noteOut{Body: body, Private: true}
	}
	_, err := c.api.do(ctx, http.MethodPost, path, in, nil)
	return err
}

// body renders lines as HTML, one block per line, the marker last.
func (c *Connector) body(contactID string, lines []line) string {
	var b strings.Builder
	for _, l := range lines {
		b.WriteString("<div>" + strings.ReplaceAll(html.EscapeString(l.text), "\n", "<br>") + "</div>")
	}
	b.WriteString("<div>" + c.marker(contactID, lines[0].seq, lines[len(lines)-1].seq) + "</div>")
	return b.String()
}

// marker is the line that ends every description and conversation
// Helpline writes: "— helpline <contact> seq <a>-<b> #<mac>", where mac
// is the first 16 hex digits of HMAC-SHA256, under the installation's
// marker key, of the connector's name, the contact id and the range.
// Without the key nobody can write a marker the connector accepts,
// whatever the chat says.
func (c *Connector) marker(contactID string, first, last int64) string {
	return "— helpline " + contactID + " seq " + strconv.FormatInt(first, 10) + "-" + strconv.FormatInt(last, 10) +
		" #" + c.markerMAC(contactID, first, last)
}

func (c *Connector) markerMAC(contactID string, first, last int64) string {
	m := hmac.New(sha256.New, c.markerKey)
	m.Write([]byte("freshdesk marker\x00" + c.name + "\x00" + contactID + "\x00" +
		strconv.FormatInt(first, 10) + "\x00" + strconv.FormatInt(last, 10)))
	return hex.EncodeToString(m.Sum(nil))[:16]
}

// markerRE matches a whole marker line.
var markerRE = regexp.MustCompile(`^— helpline (\S+) seq (\d+)-(\d+) #([0-9a-f]{16})$`)

// span is the item range of a description or conversation that landed.
type span struct{ first, last int64 }

// readMarker returns the range of the marker that ends text, when it
// is one of contactID's with a valid mac; ok is false otherwise. text is
// the plain text Freshdesk renders of the HTML (body_text,
// description_text); a marker anywhere but on the last line, where
// Helpline always puts its own, is not one.
func (c *Connector) readMarker(text, contactID string) (s span, ok bool) {
	text = strings.TrimRight(text, " \t\r\n")
	last := strings.TrimSpace(text[strings.LastIndexByte(text, '\n')+1:])
	m := markerRE.FindStringSubmatch(last)
	if m == nil || (contactID != "" && m[1] != contactID) {
		return span{}, false
	}
	first, err1 := strconv.ParseInt(m[2], 10, 64)
	end, err2 := strconv.ParseInt(m[3], 10, 64)
	if err1 != nil || err2 != nil || end < first || !hmac.Equal([]byte(m[4]), []byte(c.markerMAC(m[1], first, end))) {
		return span{}, false
	}
	return span{first, end}, true
}

// unsent drops the lines a landed conversation already holds.
func unsent(lines []line, landed []span) []line {
	var out []line
	for _, l := range lines {
		held := false
		for _, s := range landed {
			held = held || (s.first <= l.seq && l.seq <= s.last)
		}
		if !held {
			out = append(out, l)
		}
	}
	return out
}

// after keeps the lines after Seq through.
func after(lines []line, through int64) []line {
	var out []line
	for _, l := range lines {
		if l.seq > through {
			out = append(out, l)
		}
	}
	return out
}

// countBefore counts the items before Seq seq.
func countBefore(items []*helpline.Item, seq int64) int {
	n := 0
	for _, it := range items {
		if it.Seq < seq {
			n++
		}
	}
	return n
}

// landed returns the ranges of contactID's conversations in the ticket,
// reading every page.
func (c *Connector) landed(ctx context.Context, ticketID, contactID string) ([]span, error) {
	var out []span
	err := c.eachConversation(ctx, ticketID, func(cv conversationIn) {
		if s, ok := c.readMarker(cv.BodyText, contactID); ok {
			out = append(out, s)
		}
	})
	return out, err
}

// eachConversation calls f with the ticket's conversations, oldest
// first, following the Link header from page to page.
func (c *Connector) eachConversation(ctx context.Context, ticketID string, f func(conversationIn)) error {
	path := "/tickets/" + ticketID + "/conversations?per_page=100"
	for page := 1; ; page++ {
		var list []conversationIn
		h, err := c.api.do(ctx, http.MethodGet, path+"&page="+strconv.Itoa(page), nil, &list)
		if err != nil {
			return err
		}
		for _, cv := range list {
			f(cv)
		}
		if !strings.Contains(h.Get("Link"), `rel="next"`) || len(list) == 0 {
			return nil
		}
	}
}

// requester returns the id of the customer's Freshdesk contact, found by
// email or created. A chat that names no email gets a contact of its own
// at chat-<contact id>@helpline.invalid, a reserved domain no mail
// reaches, as a Freshdesk ticket needs a requester.
func (c *Connector) requester(ctx context.Context, b *helpline.MirrorBatch) (int64, error) {
	attrs := b.Contact.Attributes
	email := strings.TrimSpace(orDefault(attrs["email"], attrs["customerEmail"]))
	if email == "" {
		email = "chat-" + b.Contact.ID + "@helpline.invalid"
	}
	find := func() (int64, error) {
		var list []contactIn
		if _, err := c.api.do(ctx, http.MethodGet, "/contacts?"+url.Values{"email": {email}}.Encode(), nil, &list); err != nil {
			return 0, err
		}
		if len(list) == 0 {
			return 0, nil
		}
		return list[0].ID, nil
	}
	if id, err := find(); err != nil || id != 0 {
		return id, err
	}
	in := contactOut{Name: customerName(b), Email: email, Phone: orDefault(attrs["phone"], attrs["customerPhone"])}
	var created contactIn
	_, err := c.api.do(ctx, http.MethodPost, "/contacts", in, &created)
	if status(err) == http.StatusConflict {
		// Another chat of the customer, or an earlier try whose answer
		// was lost, created it meanwhile.
		id, ferr := find()
		if ferr != nil || id != 0 {
			return id, ferr
		}
	}
	return created.ID, err
}

func customerName(b *helpline.MirrorBatch) string {
	for _, p := range b.Participants {
		if p.Role == helpline.RoleCustomer && p.DisplayName != "" {
			return p.DisplayName
		}
	}
	for _, it := range b.Items {
		if it.Role == helpline.RoleCustomer && it.DisplayName != "" {
			return it.DisplayName
		}
	}
	return "Chat customer"
}

// createTicket creates the contact's ticket with lines as its
// description, in the configured status when the chat already ended.
func (c *Connector) createTicket(ctx context.Context, b *helpline.MirrorBatch, requesterID int64, lines []line, ended bool) (int64, error) {
	in := ticketOut{
		RequesterID: requesterID,
		Subject:     "Chat with " + customerName(b),
		Description: c.body(b.Contact.ID, lines),
		Status:      statusOpen,
		Priority:    c.set.Priority,
		Source:      sourceChat,
		Tags:        c.set.TicketTags,
		GroupID:     c.set.GroupID,
	}
	if in.Tags == nil {
		in.Tags = []string{}
	}
	if ended && c.set.StatusOnEnd != "none" {
		in.Status = statusByName[c.set.StatusOnEnd]
	}
	var created ticketIn
	if _, err := c.api.do(ctx, http.MethodPost, "/tickets", in, &created); err != nil {
		return 0, err
	}
	return created.ID, nil
}

// findTicket looks for the contact's ticket among the requester's
// recent chat tickets, by the marker that ends its description, and
// returns its id and the last Seq the description holds; 0 when there is
// none. The list leaves descriptions out, so each candidate created
// since the chat started (a minute's leeway for clocks) is read.
func (c *Connector) findTicket(ctx context.Context, requesterID int64, b *helpline.MirrorBatch) (int64, int64, error) {
	var list []ticketIn
	q := url.Values{"requester_id": {id(requesterID)}, "order_by": {"created_at"}, "order_type": {"desc"}, "per_page": {"100"}}
	if _, err := c.api.do(ctx, http.MethodGet, "/tickets?"+q.Encode(), nil, &list); err != nil {
		return 0, 0, err
	}
	since := b.Contact.CreatedAt.Add(-time.Minute)
	for _, t := range list {
		if t.Source != sourceChat || t.CreatedAt.Before(since) {
			continue
		}
		var full ticketIn
		if _, err := c.api.do(ctx, http.MethodGet, "/tickets/"+id(t.ID), nil, &full); err != nil {
			return 0, 0, err
		}
		if s, ok := c.readMarker(full.DescriptionText, b.Contact.ID); ok {
			return t.ID, s.last, nil
		}
	}
	return 0, 0, nil
}

func orDefault(s, def string) string {
	if s == "" {
		return def
	}
	return s
}

// id renders a Freshdesk id.
func id(n int64) string { return strconv.FormatInt(n, 10) }

// Wire shapes.

type contactOut struct {
	Name  string `json:"name"`
	Email string `json:"email"`
	Phone string `json:"phone,omitempty"`
}

type contactIn struct {
	ID    int64  `json:"id"`
	Name  string `json:"name"`
	Email string `json:"email"`
}

type ticketOut struct {
	RequesterID int64    `json:"requester_id"`
	Subject     string   `json:"subject"`
	Description string   `json:"description"`
	Status      int      `json:"status"`
	Priority    int      `json:"priority"`
	Source      int      `json:"source"`
	Tags        []string `json:"tags"`
	GroupID     int64    `json:"group_id,omitempty"`
}

type ticketIn struct {
	ID              int64     `json:"id"`
	Status          int       `json:"status"`
	Source          int       `json:"source"`
	RequesterID     int64     `json:"requester_id"`
	DescriptionText string    `json:"description_text"`
	CreatedAt       time.Time `json:"created_at"`
}

type noteOut struct {
	Body     string `json:"body"`
	Private  bool   `json:"private"`
	Incoming bool   `json:"incoming,omitempty"`
	UserID   int64  `json:"user_id,omitempty"`
}

type replyOut struct {
	Body string `json:"body"`
}

// conversationIn is a reply or note as Freshdesk lists it.
type conversationIn struct {
	ID       int64  `json:"id"`
	Body     string `json:"body"`
	BodyText string `json:"body_text"`
	Incoming bool   `json:"incoming"`
	Private  bool   `json:"private"`
	UserID   int64  `json:"user_id"`
	// CreatedAt is read by the ticket actions.
	CreatedAt time.Time `json:"created_at"`
}
