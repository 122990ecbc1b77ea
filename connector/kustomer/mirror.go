package kustomer

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/helplinehq/helpline"
)

// Refs keys the connector returns.
const (
	RefCustomerID     = "customer_id"
	RefConversationID = "conversation_id"
	// RefInstanceID is the contact's instance, kept so that a webhook
	// that ends the conversation can stop the contact.
	RefInstanceID = "instance_id"
)

// Per-customer pacing: Kustomer allows 120 messages (and 120 notes) per
// customer per minute. A bucket of customerBurst refilled every
// customerEvery lets at most 10 + 60s/550ms = 119 creations into any
// minute. Messages and notes share the one budget, which keeps each under
// its own cap with room to spare.
const (
	customerBurst = 10
	customerEvery = 550 * time.Millisecond
)

// maxText bounds the text of one message or note: a note's body is at
// most 10,240 characters, and lines gathered into one post stop short of
// it.
const maxText = 10000

// Mirror delivers a batch into the contact's conversation.
//
// The first delivery finds the customer by external id (the contact's
// CustomerId, or "helpline:<contact id>"), then by email, and creates it
// if neither is there; then it creates the conversation with externalId
// = the contact id. On a retry (Attempt > 0) without a stored
// conversation it first looks the conversation up by that externalId, so
// a create whose answer was lost never makes a second one.
//
// Each customer, agent or bot message becomes a chat message on the
// conversation (channel chat, app = Settings.App, direction in for the
// customer and out otherwise, sentAt = the item's time) whose externalId
// names the chat and the items it holds, "helpline:<contact>:<first>-
// <last>". Joins, leaves, the end and system messages become notes,
// consecutive ones together, each ending with a footer naming its items.
// On a retry the conversation's messages and notes are read and items
// already there are not sent again: Kustomer is not documented to
// enforce unique message externalIds, so the connector checks.
//
// Creations are paced under the per-customer cap: when the batch needs
// more than the customer's budget (or than the org's request budget has
// left now), the mirror is behind and gathers each
// stretch of customer, agent and bot lines between two notes into at
// most two messages (see gather); when even that does not fit, Mirror
// delivers a prefix, or nothing and asks for a Wait.
// When the chat ends, the conversation's status becomes StatusOnEnd.
//
// A bot's handoff is a note like the other events, its summary in it;
// once the batch's posts are in, the conversation's
// SessionHistoryAttribute is set (see sessionHistory) for the agent's
// Insight Card. Setting it again is harmless, so a retry does.
func (c *Connector) Mirror(ctx context.Context, b *helpline.MirrorBatch) (helpline.MirrorResult, error) {
	refs := make(map[string]string, len(b.Refs)+3)
	for k, v := range b.Refs {
		refs[k] = v
	}
	lines, ended := c.lines(b)
	if len(lines) == 0 {
		return helpline.MirrorResult{Delivered: len(b.Items), Refs: refs}, nil
	}
	if refs[RefConversationID] == "" {
		customerID, convID, err := c.ensureConversation(ctx, b)
		if err != nil {
			return helpline.MirrorResult{}, mirrorError(err)
		}
		refs[RefCustomerID], refs[RefConversationID], refs[RefInstanceID] = customerID, convID, b.Contact.InstanceID
	}
	convID, key := refs[RefConversationID], refs[RefCustomerID]
	if b.Attempt > 0 {
		landed, err := c.landed(ctx, convID, b.Contact.ID)
		if err != nil {
			return helpline.MirrorResult{Refs: refs}, mirrorError(err)
		}
		lines = unsent(lines, landed)
	}
	delivered := len(b.Items)
	if len(lines) > 0 {
		now := c.now()
		posts := split(lines)
		if len(posts) > customerBurst || float64(len(posts)) > c.api.limit.Available() || c.pace.Take(key, len(posts), now) > 0 {
			// Behind the customer's budget or the org's: fewer, larger
			// messages.
			posts = gather(lines)
			if len(posts) > customerBurst {
				posts = posts[:customerBurst]
				last := posts[len(posts)-1].last()
				delivered = 0
				for delivered < len(b.Items) && b.Items[delivered].Seq <= last {
					delivered++
				}
				ended = false
			}
			if wait := c.pace.Take(key, len(posts), now); wait > 0 {
				return helpline.MirrorResult{Refs: refs, Wait: wait}, nil
			}
		}
		for _, p := range posts {
			if err := c.send(ctx, convID, b.Contact.ID, p); err != nil {
				// The landed check of the retry keeps what did land
				// from being sent twice.
				return helpline.MirrorResult{Refs: refs}, mirrorError(err)
			}
		}
	}
	if h, ok := lastHandoff(b.Items[:delivered], c.name); ok {
		// A PATCH sets the same value again on a retry, so the attribute
		// is written after the posts and every attempt writes it.
		custom := map[string]any{c.set.SessionHistoryAttribute: c.sessionHistory(b.Contact, h)}
		if err := c.api.do(ctx, http.MethodPatch, "/conversations/"+convID, map[string]any{"custom": custom}, nil); err != nil {
			return helpline.MirrorResult{Refs: refs}, mirrorError(err)
		}
	}
	if ended && c.set.StatusOnEnd != "none" {
		if err := c.api.do(ctx, http.MethodPatch, "/conversations/"+convID, map[string]string{"status": c.set.StatusOnEnd}, nil); err != nil {
			return helpline.MirrorResult{Refs: refs}, mirrorError(err)
		}
	}
	if ended {
		c.pace.Forget(key)
	}
	return helpline.MirrorResult{Delivered: delivered, Refs: refs, Wait: c.pace.Next(key, c.now())}, nil
}

// maxStr is the most characters a Str custom attribute holds.
const maxStr = 1024

// lastHandoff returns the context of the last bot handoff among items,
// leaving out those of origin.
func lastHandoff(items []*helpline.Item, origin string) (h helpline.HandoffContext, ok bool) {
	for _, it := range items {
		if it.Stored() && it.Origin != origin && it.Type == helpline.ItemEvent && it.ContentType == helpline.EventHandoff {
			var next helpline.HandoffContext
			if json.Unmarshal([]byte(it.Content), &next) == nil {
				h, ok = next, true
			}
		}
	}
	return h, ok
}

// sessionHistory is the value of the session history attribute for a
// handoff: the contact's session_history_key attribute (a Watson
// Assistant session, as its agent app loads it) when it has one that
// fits, else the link to the contact's transcript from TranscriptURL,
// else the handoff's summary, cut to fit.
func (c *Connector) sessionHistory(contact *helpline.Contact, h helpline.HandoffContext) string {
	if key := contact.Attributes["session_history_key"]; key != "" && utf8.RuneCountInString(key) <= maxStr {
		return key
	}
	if c.set.TranscriptURL != "" {
		return strings.ReplaceAll(c.set.TranscriptURL, "{contact}", url.PathEscape(contact.ID))
	}
	if r := []rune(h.Summary); len(r) > maxStr {
		return string(r[:maxStr-1]) + "…"
	}
	return h.Summary
}

// line is one transcript line bound for the conversation.
type line struct {
	seq  int64
	note bool   // system context: a note, not a message
	dir  string // a message's direction: in (customer) or out
	// text is the line on its own, as a message carries it; full is the
	// stamped transcript line, as gathered posts carry it.
	text, full string
	author     string
	at         time.Time
}

// lines renders the batch's items that belong in the conversation and
// reports whether the chat ended. Items of this connector's origin
// (replies typed in Kustomer), typing, receipts and other events are
// left out.
func (c *Connector) lines(b *helpline.MirrorBatch) ([]line, bool) {
	var out []line
	ended := false
	for _, it := range b.Items {
		if !it.Stored() || it.Origin == c.name {
			continue
		}
		name, role := b.Author(it)
		full, ok := helpline.TranscriptLine(it, name, role)
		if !ok {
			continue
		}
		l := line{seq: it.Seq, full: full, text: it.Content, author: name, at: it.Time}
		switch {
		case it.Type == helpline.ItemEvent || role == helpline.RoleSystem || role == "":
			l.note = true
		case role == helpline.RoleCustomer:
			l.dir = "in"
		default:
			l.dir = "out"
		}
		if it.Type == helpline.ItemAttachment {
			links := c.links(it)
			l.text, l.full = "Sent "+fileNames(it)+links, full+links
		}
		ended = ended || it.ContentType == helpline.EventChatEnded
		out = append(out, l)
	}
	return out, ended
}

// links is " (link, ...)" with a link to each of an attachment item's
// files when AttachmentLink is set, else "". Kustomer takes a message's
// files through an upload flow that is not part of its documented
// message API, so files are mirrored by name, and by link where the
// operator serves them.
func (c *Connector) links(it *helpline.Item) string {
	if c.set.AttachmentLink == "" || len(it.Attachments) == 0 {
		return ""
	}
	var out []string
	for _, a := range it.Attachments {
		out = append(out, strings.NewReplacer("{id}", url.PathEscape(a.ID), "{name}", url.PathEscape(a.Name)).Replace(c.set.AttachmentLink))
	}
	return " (" + strings.Join(out, ", ") + ")"
}

func fileNames(it *helpline.Item) string {
	var names []string
	for _, a := range it.Attachments {
		names = append(names, a.Name)
	}
	return strings.Join(names, ", ")
}

// post is one message or note Mirror creates.
type post struct {
	note  bool
	dir   string
	lines []line
}

func (p post) first() int64 { return p.lines[0].seq }
func (p post) last() int64  { return p.lines[len(p.lines)-1].seq }

// text is what the post says: one message's own text, or the stamped
// lines of a gathered post or a note.
func (p post) text() string {
	if len(p.lines) == 1 && !p.note {
		return p.lines[0].text
	}
	var b strings.Builder
	for i, l := range p.lines {
		if i > 0 {
			b.WriteString("\n")
		}
		b.WriteString(l.full)
	}
	return b.String()
}

// split makes the posts of lines, in order: consecutive note lines go
// into one note, no note growing past maxText; each message line is a
// message of its own.
func split(lines []line) []post {
	var out []post
	size := 0
	for _, l := range lines {
		if n := len(out); n > 0 {
			p := &out[n-1]
			if p.note && l.note && size+len(l.full)+1 <= maxText {
				p.lines = append(p.lines, l)
				size += len(l.full) + 1
				continue
			}
		}
		out = append(out, post{note: l.note, dir: l.dir, lines: []line{l}})
		size = len(l.full)
	}
	return out
}

// gather splits lines into as few posts as keep what each says true,
// for a mirror behind the customer's budget, where one message per run
// would fall further behind a chat whose customer and agent take turns
// (each turn its own message).
//
// Consecutive note lines stay notes, as split makes them. Each stretch
// of customer, agent and bot lines between notes becomes at most two
// messages: everything through the last line of an agent or the bot is
// one message of direction out, as an answer to what came before it,
// and the customer's lines after it one message of direction in, so a
// conversation whose customer has the last word reads as awaiting an
// agent. Every line of a gathered message keeps its "[time] Name
// (role):" stamp, so the reader sees who said what, and the message's
// externalId names the range it holds. A stretch too long for one
// message is cut short of maxText; a piece with no out line is a
// message of direction in.
func gather(lines []line) []post {
	var out []post
	for i := 0; i < len(lines); {
		j := i + 1
		for j < len(lines) && lines[j].note == lines[i].note {
			j++
		}
		stretch := lines[i:j]
		i = j
		if stretch[0].note {
			out = append(out, split(stretch)...)
			continue
		}
		answered := 0 // lines through the last out line
		for k, l := range stretch {
			if l.dir == "out" {
				answered = k + 1
			}
		}
		out = appendChunks(out, stretch[:answered])
		out = appendChunks(out, stretch[answered:])
	}
	return out
}

// appendChunks appends lines to out as messages of at most maxText
// characters each: of direction out when one holds an out line, else in.
func appendChunks(out []post, lines []line) []post {
	for len(lines) > 0 {
		n, size := 1, len(lines[0].full)
		for n < len(lines) && size+len(lines[n].full)+1 <= maxText {
			size += len(lines[n].full) + 1
			n++
		}
		p := post{dir: "in", lines: lines[:n:n]}
		for _, l := range p.lines {
			if l.dir == "out" {
				p.dir = "out"
			}
		}
		out = append(out, p)
		lines = lines[n:]
	}
	return out
}

// author is who a message is in the name of: the first of its lines of
// its direction.
func (p post) author() string {
	for _, l := range p.lines {
		if l.dir == p.dir {
			return l.author
		}
	}
	return p.lines[0].author
}

// footerRE matches the footer that marks which items a note holds.
var footerRE = regexp.MustCompile(`\(Helpline chat (\S+), items (\d+)-(\d+)\)\s*$`)

// externalID names the items a message holds; spanRE reads it back.
func externalID(contactID string, first, last int64) string {
	return fmt.Sprintf("helpline:%s:%d-%d", contactID, first, last)
}

var spanRE = regexp.MustCompile(`^helpline:(.+):(\d+)-(\d+)$`)

// send creates one post on the conversation.
func (c *Connector) send(ctx context.Context, convID, contactID string, p post) error {
	text := p.text()
	if p.note {
		body := text + fmt.Sprintf("\n\n(Helpline chat %s, items %d-%d)", contactID, p.first(), p.last())
		return c.api.do(ctx, http.MethodPost, "/conversations/"+convID+"/notes", map[string]string{"body": body}, nil)
	}
	// The request field for a message's full text is not documented:
	// Kustomer's events carry it as preview, so preview holds it (cut to
	// previewMax) and meta.body holds it whole.
	preview := text
	if r := []rune(preview); len(r) > previewMax {
		preview = string(r[:previewMax-1]) + "…"
	}
	msg := messageOut{
		Channel:    "chat",
		App:        c.set.App,
		Direction:  p.dir,
		Preview:    preview,
		Meta:       map[string]string{"body": text, "author": p.author()},
		ExternalID: externalID(contactID, p.first(), p.last()),
		SentAt:     p.lines[0].at.UTC().Format(time.RFC3339Nano),
	}
	return c.api.do(ctx, http.MethodPost, "/conversations/"+convID+"/messages", msg, nil)
}

// previewMax is the most characters put in a message's preview.
const previewMax = 1000

type messageOut struct {
	Channel    string            `json:"channel"`
	App        string            `json:"app"`
	Direction  string            `json:"direction"`
	Preview    string            `json:"preview"`
	Meta       map[string]string `json:"meta"`
	ExternalID string            `json:"externalId"`
	SentAt     string            `json:"sentAt"`
}

// span is the item range of a post that landed.
type span struct {
	note        bool
	first, last int64
}

// landed returns the item ranges of the contact's posts already on the
// conversation: messages of Helpline's app by their externalId, notes by
// their footer.
func (c *Connector) landed(ctx context.Context, convID, contactID string) ([]span, error) {
	msgs, err := c.api.all(ctx, "/conversations/"+convID+"/messages")
	if err != nil {
		return nil, err
	}
	var out []span
	for _, m := range msgs {
		a := messageAttrs(m)
		if sp := spanRE.FindStringSubmatch(a.ExternalID); sp != nil && a.App == c.set.App && sp[1] == contactID {
			out = append(out, span{first: atoi(sp[2]), last: atoi(sp[3])})
		}
	}
	notes, err := c.api.all(ctx, "/conversations/"+convID+"/notes")
	if err != nil {
		return nil, err
	}
	for _, n := range notes {
		var a struct {
			Body string `json:"body"`
		}
		unmarshal(n.Attributes, &a)
		if sp := footerRE.FindStringSubmatch(a.Body); sp != nil && sp[1] == contactID {
			out = append(out, span{note: true, first: atoi(sp[2]), last: atoi(sp[3])})
		}
	}
	return out, nil
}

func atoi(s string) int64 {
	n, _ := strconv.ParseInt(s, 10, 64)
	return n
}

// unsent drops the lines a landed post of their kind already holds.
func unsent(lines []line, landed []span) []line {
	var out []line
	for _, l := range lines {
		held := false
		for _, s := range landed {
			held = held || (s.note == l.note && s.first <= l.seq && l.seq <= s.last)
		}
		if !held {
			out = append(out, l)
		}
	}
	return out
}

// ensureConversation returns the contact's customer and conversation,
// finding or creating each.
func (c *Connector) ensureConversation(ctx context.Context, b *helpline.MirrorBatch) (customerID, convID string, err error) {
	if b.Attempt > 0 {
		// The path mirrors the documented customer lookups; Kustomer
		// documents looking conversations up by externalId in its
		// custom-channel guide.
		var found one
		err := c.api.do(ctx, http.MethodGet, "/conversations/externalId="+url.PathEscape(b.Contact.ID), nil, &found)
		if err == nil && found.Data.ID != "" {
			return found.Data.related("customer"), found.Data.ID, nil
		} else if err != nil && !notFound(err) {
			return "", "", err
		}
	}
	if customerID, err = c.ensureCustomer(ctx, b); err != nil {
		return "", "", err
	}
	name := customerName(b)
	var created one
	err = c.api.do(ctx, http.MethodPost, "/conversations", map[string]string{
		"customer":   customerID,
		"name":       "Chat with " + name,
		"status":     "open",
		"externalId": b.Contact.ID,
	}, &created)
	if err != nil {
		return "", "", err
	}
	return customerID, created.Data.ID, nil
}

// ensureCustomer finds the contact's customer by external id, then by
// email, or creates it. A create refused as a duplicate (one whose
// answer was lost landed) is looked up again.
func (c *Connector) ensureCustomer(ctx context.Context, b *helpline.MirrorBatch) (string, error) {
	ext := orDefault(b.Contact.CustomerID, "helpline:"+b.Contact.ID)
	email := orDefault(b.Contact.Attributes["email"], b.Contact.Attributes["customerEmail"])
	find := func() (string, error) {
		paths := []string{"/customers/externalId=" + url.PathEscape(ext)}
		if email != "" {
			paths = append(paths, "/customers/email="+url.PathEscape(email))
		}
		for _, p := range paths {
			var found one
			err := c.api.do(ctx, http.MethodGet, p, nil, &found)
			if err == nil && found.Data.ID != "" {
				return found.Data.ID, nil
			} else if err != nil && !notFound(err) {
				return "", err
			}
		}
		return "", nil
	}
	if id, err := find(); id != "" || err != nil {
		return id, err
	}
	in := map[string]any{"name": customerName(b), "externalId": ext}
	if email != "" {
		in["emails"] = []map[string]string{{"email": email}}
	}
	var created one
	err := c.api.do(ctx, http.MethodPost, "/customers", in, &created)
	if e, ok := err.(*apiError); ok && e.Status == http.StatusConflict {
		if id, ferr := find(); id != "" || ferr != nil {
			return id, ferr
		}
	}
	if err != nil {
		return "", err
	}
	return created.Data.ID, nil
}

// customerName is the customer participant's name, or the one on the
// customer's items, or "Chat customer".
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

func orDefault(s, def string) string {
	if s == "" {
		return def
	}
	return s
}
