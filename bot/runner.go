package bot

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/helplinehq/helpline"
)

// RunnerState is what the runner keeps of one contact between turns, as
// JSON in the store (Store.SaveBotState), out of the contact's
// attributes. It is saved after a turn's replies, which are idempotent,
// so a crash between the two repeats the turn and sends nothing twice.
type RunnerState struct {
	Bot string `json:"bot"`
	// FirstSeq is the Seq of the first customer item the bot took a turn
	// on; LastSeq the last one. A turn for an item at or below LastSeq is
	// not taken again.
	FirstSeq int64 `json:"first_seq"`
	LastSeq  int64 `json:"last_seq"`
	// Intents are the intents the bot understood, in the order it first
	// did.
	Intents []string `json:"intents,omitempty"`
	State   State    `json:"state"`
}

// Reasons the runner itself hands off for.
const (
	// ReasonBotError: the bot's Turn failed or panicked.
	ReasonBotError = "bot_error"
)

// Messages the runner sends on its own.
const (
	// ConnectingMessage tells the customer of a handoff when the bot's
	// own replies do not.
	ConnectingMessage = "I'm connecting you to a person now."
	// ErrorMessage tells the customer of a handoff after a bot error.
	ErrorMessage = "Sorry, something went wrong on my side. I'm connecting you to a person."
)

// recentItems is how many items before the customer's a Turn gets.
const recentItems = 30

// RunnerConfig is what NewRunner needs; Store, Bus, Engine and Bots are
// required.
type RunnerConfig struct {
	Store  helpline.Store
	Bus    helpline.Bus
	Engine helpline.BotEngine
	// Bots are the bots by id: a contact owned by bot:<id> is Bots[id]'s.
	Bots map[string]Bot
	// ErrorQueues are, by bot id, the queues a contact goes to when its
	// bot fails or hands off without naming a queue; a bot without one
	// uses helpline.DefaultQueueID.
	ErrorQueues map[string]string
	// DisplayName is the bot participant's name (default "Bot").
	DisplayName string
	// Now defaults to helpline.Now.
	Now func() time.Time
	// Logger defaults to slog.Default().
	Logger *slog.Logger
}

// Runner drives the bots: while a bot owns a contact (Owner bot:<id>),
// each stored customer MESSAGE or ATTACHMENT gets one Turn, one at a time
// per contact and in Seq order, and the runner applies the Response as
// the contact's CUSTOM_BOT participant.
//
// The store is the record and the bus only wakes the runner: on start
// and whenever the subscription lost events it reads every bot-owned
// contact and takes the turns it missed, so that a customer item stored
// before a crash gets exactly one turn after the restart. Replies are
// idempotent (ClientToken bot:<contact>:<seq>:<n>), so a turn repeated
// after a crash between its replies and its state sends nothing twice.
type Runner struct {
	cfg RunnerConfig
	log *slog.Logger

	// mu guards busy, timers and stopped: a contact is in busy while a
	// worker serves it, and busy[id] is true when it was woken again
	// meanwhile; timers wake the contacts waiting for a CSAT answer at
	// their deadlines; stopped is set when Run is ending, so that no
	// worker starts after it waited for the last.
	mu      sync.Mutex
	busy    map[string]bool
	timers  map[string]*time.Timer
	stopped bool
	wg      sync.WaitGroup
}

// NewRunner returns a runner of cfg's bots.
func NewRunner(cfg RunnerConfig) *Runner {
	if cfg.DisplayName == "" {
		cfg.DisplayName = "Bot"
	}
	if cfg.Now == nil {
		cfg.Now = helpline.Now
	}
	r := &Runner{cfg: cfg, log: cfg.Logger, busy: map[string]bool{}, timers: map[string]*time.Timer{}}
	if r.log == nil {
		r.log = slog.Default()
	}
	return r
}

// Run takes the bots' turns until ctx is done; it returns nil then, after
// the turns under way have finished, or an error if the bus subscription
// fails.
func (r *Runner) Run(ctx context.Context) error {
	sub, err := r.cfg.Bus.Subscribe(ctx, helpline.AllContacts)
	if err != nil {
		if ctx.Err() != nil {
			return nil
		}
		return err
	}
	defer sub.Close()
	r.mu.Lock()
	r.stopped = false
	r.mu.Unlock()
	defer r.wg.Wait()
	defer r.stop()
	r.catchUp(ctx)
	var lost uint64
	for {
		select {
		case <-ctx.Done():
			return nil
		case ev, ok := <-sub.Events():
			if !ok {
				if ctx.Err() != nil {
					return nil
				}
				return helpline.Errorf(helpline.EINTERNAL, "bot: bus subscription closed")
			}
			switch {
			case ev.Kind == helpline.EventItem && customerTurn(ev.Item):
				r.wake(ctx, ev.Item.ContactID)
			case ev.Kind == helpline.EventOwner && ev.Owner != nil && strings.HasPrefix(ev.Owner.Owner, helpline.OwnerBot+":"):
				// A contact given to a bot may hold customer items
				// from before.
				r.wake(ctx, ev.Subject.ContactID())
			}
			if l := sub.Lost(); l != lost {
				r.log.Warn("bot: bus events lost; catching up from the store", "lost", l-lost)
				lost = l
				r.catchUp(ctx)
			}
		}
	}
}

// customerTurn reports whether it is an item a bot takes a turn on: a
// stored customer message or attachment.
func customerTurn(it *helpline.Item) bool {
	return it != nil && it.Stored() && it.Role == helpline.RoleCustomer &&
		(it.Type == helpline.ItemMessage || it.Type == helpline.ItemAttachment)
}

// catchUp wakes every bot-owned contact, so that turns missed while the
// runner was down or deaf are taken.
func (r *Runner) catchUp(ctx context.Context) {
	cs, err := r.cfg.Store.FindBotContacts(ctx)
	if err != nil {
		if ctx.Err() == nil {
			r.log.Error("bot: finding bot-owned contacts", "err", err)
		}
		return
	}
	for _, c := range cs {
		r.wake(ctx, c.ID)
	}
}

// wake makes sure a worker serves the contact after now: it starts one,
// or tells the running one to look again when it is done.
func (r *Runner) wake(ctx context.Context, contactID string) {
	if contactID == "" {
		return
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.stopped || ctx.Err() != nil {
		return
	}
	if _, ok := r.busy[contactID]; ok {
		r.busy[contactID] = true
		return
	}
	r.busy[contactID] = false
	r.wg.Go(func() {
		for {
			due := r.takeTurns(ctx, contactID)
			r.mu.Lock()
			again := r.busy[contactID]
			if !again || ctx.Err() != nil {
				delete(r.busy, contactID)
				r.remindAt(ctx, contactID, due)
				r.mu.Unlock()
				return
			}
			r.busy[contactID] = false
			r.mu.Unlock()
		}
	})
}

// remindAt wakes the contact at due, a CSAT deadline, unless due is zero
// or a reminder is already set; r.mu must be held.
func (r *Runner) remindAt(ctx context.Context, contactID string, due time.Time) {
	if due.IsZero() || r.timers[contactID] != nil || r.stopped {
		return
	}
	// The clock stamps milliseconds; a little more makes sure the
	// deadline has passed when the worker looks.
	wait := due.Sub(r.cfg.Now()) + 10*time.Millisecond
	r.timers[contactID] = time.AfterFunc(max(wait, 0), func() {
		r.mu.Lock()
		delete(r.timers, contactID)
		r.mu.Unlock()
		r.wake(ctx, contactID)
	})
}

// stop keeps workers from starting and drops the reminders, as Run ends.
func (r *Runner) stop() {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.stopped = true
	for id, t := range r.timers {
		t.Stop()
		delete(r.timers, id)
	}
}

// TakeTurns takes, now, the turns the contact is owed: one per customer
// item after the stored LastSeq, in Seq order, while a bot owns the
// contact — the items stored when it reads the transcript, once; Run
// calls it again for the items stored later, whose events wake it. Run
// calls it for every contact it is woken for, one call at a time per
// contact; a caller of its own must not call it for a contact Run may be
// serving.
//
// A contact owned by helpline.OwnerCSAT is asked its flow's CSAT
// question instead (see survey): TakeTurns asks it, takes the answer, or
// ends the contact once the wait is over by the runner's clock.
func (r *Runner) TakeTurns(ctx context.Context, contactID string) { r.takeTurns(ctx, contactID) }

// takeTurns is TakeTurns; it returns when the contact, waiting for a CSAT
// answer, is due to end unless it gets one, and zero otherwise.
func (r *Runner) takeTurns(ctx context.Context, contactID string) (due time.Time) {
	c, err := r.cfg.Store.FindContactByID(ctx, contactID)
	if err != nil {
		r.log.Error("bot: reading the contact", "contact", contactID, "err", err)
		return time.Time{}
	}
	if c.Owner == helpline.OwnerCSAT && !c.Ended() {
		return r.survey(ctx, c)
	}
	botID, ok := botOf(c)
	if !ok || c.Ended() {
		return time.Time{}
	}
	b := r.cfg.Bots[botID]
	if b == nil {
		r.log.Error("bot: the contact's bot is not configured", "contact", c.ID, "owner", c.Owner)
		return time.Time{}
	}
	st, err := r.stateOf(ctx, c, botID)
	if err != nil {
		r.log.Error("bot: reading the runner's state", "contact", c.ID, "err", err)
		return time.Time{}
	}
	pending, back, window, err := r.pendingItems(ctx, c, st.LastSeq)
	if err != nil {
		r.log.Error("bot: reading the transcript", "contact", c.ID, "err", err)
		return time.Time{}
	}
	if back > 0 {
		// An agent handed the contact back: what the customer said to
		// the agent was the agent's, and the bot starts a new part with
		// a fresh memory.
		st = &RunnerState{Bot: botID, LastSeq: back}
	}
	for i, it := range pending {
		if ctx.Err() != nil {
			return time.Time{}
		}
		if i > 0 {
			// The turn before may have set attributes the next one reads.
			if c, err = r.cfg.Store.FindContactByID(ctx, contactID); err != nil {
				r.log.Error("bot: reading the contact", "contact", contactID, "err", err)
				return time.Time{}
			}
		}
		// turn advances st as it goes.
		if !r.turn(ctx, c, botID, b, st, it, window) {
			return time.Time{}
		}
	}
	return time.Time{}
}

// botOf returns the bot id of a bot-owned contact.
func botOf(c *helpline.Contact) (string, bool) {
	kind, id, ok := strings.Cut(c.Owner, ":")
	return id, ok && kind == helpline.OwnerBot && id != ""
}

// stateOf returns the runner's state of the contact for botID, the zero
// state before the first turn.
func (r *Runner) stateOf(ctx context.Context, c *helpline.Contact, botID string) (*RunnerState, error) {
	raw, err := r.cfg.Store.FindBotState(ctx, c.ID)
	if err != nil {
		return nil, err
	}
	st := &RunnerState{}
	if len(raw) > 0 && json.Unmarshal(raw, st) != nil {
		st = &RunnerState{}
	}
	if st.Bot != "" && st.Bot != botID {
		// Another bot had the contact: the new one starts with its own
		// memory, and answers only what comes after the other's part.
		st = &RunnerState{LastSeq: st.LastSeq}
	}
	st.Bot = botID
	return st, nil
}

// pendingWindow is how many items past the recent ones a turn reads at
// once: the latest recentItems+pendingWindow items of a contact hold, in
// the common case, both the customer items the bot owes turns and the
// recent items each turn is given, so that one read serves both.
const pendingWindow = 10

// pendingItems returns the customer items after seq, up to c.LastSeq,
// that the bot owes a turn, in Seq order. When an agent handed the
// contact back to the bot after seq, they are those after the latest
// handback, and back is the Seq of that handback's owner change (0 when
// there was none). window, when not nil, is the run of the contact's
// latest items, oldest first, it read them from, which input may take the
// recent items from. Items stored after c was read are left to the next
// wake-up their events cause.
func (r *Runner) pendingItems(ctx context.Context, c *helpline.Contact, seq int64) (pending []*helpline.Item, back int64, window []*helpline.Item, err error) {
	if c.LastSeq <= seq {
		return nil, 0, nil, nil
	}
	const limit = recentItems + pendingWindow
	items, err := r.cfg.Store.FindItems(ctx, c.ID, helpline.ItemQuery{From: c.LastSeq, Backward: true, Limit: limit})
	if err != nil {
		return nil, 0, nil, err
	}
	slices.Reverse(items)
	if len(items) == limit && items[0].Seq > seq+1 {
		// More came since seq than the window holds: scan forward.
		items, window = nil, nil
		const page = 50
		for from := seq + 1; ; {
			got, err := r.cfg.Store.FindItems(ctx, c.ID, helpline.ItemQuery{From: from, Limit: page})
			if err != nil {
				return nil, 0, nil, err
			}
			items = append(items, got...)
			if len(got) < page {
				break
			}
			from = got[len(got)-1].Seq + 1
		}
	} else {
		window = items
	}
	for _, it := range items {
		switch {
		case it.Seq <= seq:
		case handback(it):
			pending, back = nil, it.Seq
		case customerTurn(it):
			pending = append(pending, it)
		}
	}
	return pending, back, window, nil
}

// handback reports whether it is the owner change of an agent handing
// the contact back to a bot. It is the transition item, stored with the
// change itself, and not the EventHandback that follows, so that a runner
// woken by the change never takes the agent's part for the bot's.
func handback(it *helpline.Item) bool {
	if it.Type != helpline.ItemEvent || it.ContentType != helpline.EventOwnerChanged {
		return false
	}
	var tr helpline.OwnerTransition
	return json.Unmarshal([]byte(it.Content), &tr) == nil && tr.Reason == helpline.ReasonHandback &&
		strings.HasPrefix(tr.To, helpline.OwnerBot+":")
}

// turn takes the bot's turn on it and applies the response; it reports
// whether the bot still owns the contact afterwards.
func (r *Runner) turn(ctx context.Context, c *helpline.Contact, botID string, b Bot, st *RunnerState, it *helpline.Item, window []*helpline.Item) bool {
	t, seated, err := r.input(ctx, c, st, it, window)
	if err != nil {
		r.log.Error("bot: preparing a turn", "contact", c.ID, "seq", it.Seq, "err", err)
		return false
	}
	resp, err := safeTurn(ctx, b, t)
	if err != nil {
		if ctx.Err() != nil {
			return false
		}
		r.log.Error("bot: the turn failed; handing off", "contact", c.ID, "bot", botID, "seq", it.Seq, "err", err)
		resp = &Response{Replies: []Reply{Text(ErrorMessage)}, State: st.State,
			Handoff: &Handoff{Reason: ReasonBotError, Summary: "The bot failed on the customer's message; please take over."}}
	}
	if st.FirstSeq == 0 {
		st.FirstSeq = it.Seq
	}
	st.LastSeq, st.State = it.Seq, resp.State
	if resp.State.Intent != "" && !slices.Contains(st.Intents, resp.State.Intent) {
		st.Intents = append(st.Intents, resp.State.Intent)
	}
	if resp.Handoff != nil && resp.Handoff.Queue == "" {
		// An outside bot leaves the queue to its flow.
		h := *resp.Handoff
		h.Queue = r.cfg.ErrorQueues[botID]
		if h.Queue == "" {
			h.Queue = helpline.DefaultQueueID
		}
		resp.Handoff = &h
	}
	owner := helpline.OwnerBot + ":" + botID
	a := &apply{r: r, owner: owner, contact: c, seq: it.Seq, lastSeq: it.Seq}
	if seated != nil {
		// The bot joined on an earlier turn: it speaks as that
		// participant without asking the engine to seat it again.
		a.session = &helpline.Session{Participant: seated, Contact: c, Owner: owner}
	}
	if !a.run(ctx, resp, st, t.Customer) {
		return false
	}
	return !resp.End && resp.Handoff == nil
}

// input builds the Turn for it, taking the recent items from window
// (the contact's items in a row, oldest first) when it holds them all,
// and returns the bot's participant when it is in the chat already.
func (r *Runner) input(ctx context.Context, c *helpline.Contact, st *RunnerState, it *helpline.Item, window []*helpline.Item) (*Turn, *helpline.Participant, error) {
	t := &Turn{Contact: c, State: st.State, Item: it,
		Customer: Customer{ID: c.CustomerID, Email: c.Attributes["customer_email"]}}
	if t.Customer.Email == "" {
		t.Customer.Email = c.Attributes["email"]
	}
	if recent, ok := recentIn(window, it.Seq); ok {
		t.Recent = recent
	} else if it.Seq > 1 {
		recent, err := r.cfg.Store.FindItems(ctx, c.ID, helpline.ItemQuery{From: it.Seq - 1, Backward: true, Limit: recentItems})
		if err != nil {
			return nil, nil, err
		}
		slices.Reverse(recent)
		t.Recent = recent
	}
	ps, err := r.cfg.Store.FindParticipants(ctx, c.ID)
	if err != nil {
		return nil, nil, err
	}
	var seated *helpline.Participant
	for _, p := range ps {
		switch {
		case p.Role == helpline.RoleCustomer:
			t.Customer.Name = p.DisplayName
		case p.Role == helpline.RoleBot && isBotToken(c, p.ClientToken) && !p.Left():
			seated = p
		}
	}
	return t, seated, nil
}

// recentIn returns the up to recentItems items before Seq seq from
// window, a run of consecutive items oldest first, and whether window
// holds them all: it starts at Seq 1 or early enough.
func recentIn(window []*helpline.Item, seq int64) ([]*helpline.Item, bool) {
	i, found := slices.BinarySearchFunc(window, seq, func(it *helpline.Item, seq int64) int { return cmp.Compare(it.Seq, seq) })
	if !found || i == 0 && seq > 1 {
		return nil, false
	}
	first := max(0, i-recentItems)
	if window[first].Seq != max(1, seq-recentItems) {
		return nil, false
	}
	return window[first:i:i], true
}

// turnTimeout bounds one turn: a bot that runs elsewhere may be slow or
// gone, and the customer must not wait on it for ever (the turn's error
// hands the chat to a person).
const turnTimeout = 30 * time.Second

// safeTurn runs b's turn within turnTimeout, turning a panic into an
// error.
func safeTurn(ctx context.Context, b Bot, t *Turn) (resp *Response, err error) {
	ctx, cancel := context.WithTimeout(ctx, turnTimeout)
	defer cancel()
	defer func() {
		if p := recover(); p != nil {
			resp, err = nil, fmt.Errorf("bot panicked: %v", p)
		}
	}()
	resp, err = b.Turn(ctx, t)
	if err == nil && resp == nil {
		err = errors.New("bot returned no response")
	}
	return resp, err
}

// apply is one Response being applied to a contact.
type apply struct {
	r       *Runner
	owner   string
	contact *helpline.Contact
	// seq is the customer item's; lastSeq the last item of the bot's
	// part so far.
	seq, lastSeq int64
	session      *helpline.Session
}

// run applies resp in order: attributes, replies, the runner's state,
// then the handoff or the end. It stops, silently, as soon as the bot no
// longer owns the contact, and reports whether it got to the end.
func (a *apply) run(ctx context.Context, resp *Response, st *RunnerState, cust Customer) bool {
	r, c := a.r, a.contact
	if len(resp.Attributes) > 0 {
		if !a.owns(ctx) {
			return false
		}
		if _, err := r.cfg.Engine.UpdateContactAttributes(ctx, c.InstanceID, c.ID, resp.Attributes); err != nil {
			r.log.Error("bot: setting attributes", "contact", c.ID, "err", err)
		}
	}
	replies := resp.Replies
	if resp.Handoff != nil && len(replies) == 0 {
		replies = []Reply{Text(ConnectingMessage)}
	}
	for n, rep := range replies {
		// The store refuses a reply once the bot no longer owns the
		// contact, in the append's own transaction.
		if err := a.send(ctx, n, rep); err != nil {
			switch helpline.ErrorCode(err) {
			case helpline.ECONFLICT:
				r.log.Info("bot: the owner changed mid-turn; replies refused", "contact", c.ID)
				return false
			case helpline.EFORBIDDEN:
				return false // the chat ended
			}
			r.log.Error("bot: sending a reply", "contact", c.ID, "seq", a.seq, "n", n, "err", err)
		}
	}
	if resp.Handoff == nil && !resp.End {
		return a.saveState(ctx, st)
	}
	if !a.owns(ctx) {
		return false
	}
	if resp.Handoff != nil {
		return a.handoff(ctx, resp.Handoff, st, cust)
	}
	if err := r.cfg.Engine.StopContact(ctx, c.InstanceID, c.ID); err != nil {
		r.log.Error("bot: ending the chat", "contact", c.ID, "err", err)
		return false
	}
	return true
}

// owns rereads the contact and reports whether the bot still owns it.
func (a *apply) owns(ctx context.Context) bool {
	c, err := a.r.cfg.Store.FindContactByID(ctx, a.contact.ID)
	if err != nil {
		a.r.log.Error("bot: rereading the contact", "contact", a.contact.ID, "err", err)
		return false
	}
	a.contact = c
	return c.Owner == a.owner && !c.Ended()
}

// send sends the n-th reply of the turn as the bot participant, joining
// the bot to the chat on first use.
func (a *apply) send(ctx context.Context, n int, rep Reply) error {
	c := a.contact
	if a.session == nil {
		var err error
		if a.session, err = a.r.botSession(ctx, c, a.owner); err != nil {
			return err
		}
	}
	a.session.Contact = c
	it, err := a.r.cfg.Engine.SendMessage(ctx, a.session, rep.ContentType, rep.Content, fmt.Sprintf("bot:%s:%d:%d", c.ID, a.seq, n))
	if err != nil {
		return err
	}
	a.lastSeq = max(a.lastSeq, it.Seq)
	return nil
}

// botToken is the ClientToken the bot first joins the contact with,
// once. The bot leaves at its handoff; when the contact comes back to it
// (a handback, the CSAT question) it joins anew with the token of the
// contact's version then, once per version.
func botToken(c *helpline.Contact) string { return "bot:" + c.ID }

func rejoinToken(c *helpline.Contact) string {
	return botToken(c) + ":" + strconv.FormatInt(c.Version, 10)
}

// isBotToken reports whether token is one the bot joins c with.
func isBotToken(c *helpline.Contact, token string) bool {
	return token == botToken(c) || strings.HasPrefix(token, botToken(c)+":")
}

// botSession joins the bot to the contact as its CUSTOM_BOT participant,
// once however often it is called for a version of the contact, and
// returns the participant's session, speaking for owner: its messages
// are stored only while owner owns the contact.
func (r *Runner) botSession(ctx context.Context, c *helpline.Contact, owner string) (*helpline.Session, error) {
	in := helpline.AddParticipantInput{InstanceID: c.InstanceID, ContactID: c.ID,
		Role: helpline.RoleBot, DisplayName: r.cfg.DisplayName, ClientToken: botToken(c)}
	added, err := r.cfg.Engine.AddParticipant(ctx, in)
	if err == nil && added.Participant.Left() {
		in.ClientToken = rejoinToken(c)
		added, err = r.cfg.Engine.AddParticipant(ctx, in)
	}
	if err != nil {
		return nil, err
	}
	return &helpline.Session{Participant: added.Participant, Contact: c, Owner: owner}, nil
}

// leave makes the bot's participant, if it joined, leave the chat: after
// a handoff the chat is the customer's and the agent's, and Connect's
// rule for receipts (no more than two participants present) holds for
// them.
func (a *apply) leave(ctx context.Context) {
	r, c := a.r, a.contact
	if a.session == nil {
		ps, err := r.cfg.Store.FindParticipants(ctx, c.ID)
		if err != nil {
			r.log.Error("bot: leaving the chat", "contact", c.ID, "err", err)
			return
		}
		for _, p := range ps {
			if p.Role == helpline.RoleBot && isBotToken(c, p.ClientToken) && !p.Left() {
				a.session = &helpline.Session{Participant: p, Contact: c}
			}
		}
	}
	if a.session == nil {
		return
	}
	if err := r.cfg.Engine.Disconnect(ctx, a.session); err != nil {
		r.log.Error("bot: leaving the chat", "contact", c.ID, "err", err)
	}
}

// saveState stores st as the contact's bot state.
func (a *apply) saveState(ctx context.Context, st *RunnerState) bool {
	raw, err := json.Marshal(st)
	if err == nil {
		err = a.r.cfg.Store.SaveBotState(ctx, a.contact.ID, raw)
	}
	if err != nil {
		a.r.log.Error("bot: saving the state", "contact", a.contact.ID, "err", err)
		return false
	}
	return true
}

// handoff moves the contact from the bot to the handoff's queue and
// appends the handoff EVENT with the context right after the change. A
// change that fails because the owner moved on is no error: someone
// else took the contact.
func (a *apply) handoff(ctx context.Context, h *Handoff, st *RunnerState, cust Customer) bool {
	r, c := a.r, a.contact
	to := helpline.OwnerQueue + ":" + h.Queue
	moved, _, err := r.cfg.Engine.ChangeOwner(ctx, helpline.OwnerChange{ContactID: c.ID, From: a.owner,
		Version: c.Version, To: to, Reason: "handoff", Actor: a.owner})
	if helpline.ErrorCode(err) == helpline.ECONFLICT {
		return false
	} else if err != nil {
		r.log.Error("bot: handing off", "contact", c.ID, "queue", h.Queue, "err", err)
		return false
	}
	a.contact = moved
	// The summary is an attribute too, for whoever reads the contact
	// rather than its transcript (the agent API's bot_summary).
	a.saveState(ctx, st)
	if _, err := r.cfg.Store.UpdateContactAttributes(ctx, c.ID, map[string]string{helpline.BotSummaryAttribute: h.Summary}); err != nil {
		r.log.Error("bot: keeping the handoff's summary", "contact", c.ID, "err", err)
	}
	entities := map[string]string{}
	if st.State.OrderNumber != "" {
		entities[EntityOrderNumber] = st.State.OrderNumber
	}
	if st.State.Email != "" {
		entities[EntityEmail] = st.State.Email
	}
	if cust.Email == "" {
		cust.Email = st.State.Email
	}
	content, _ := json.Marshal(helpline.HandoffContext{
		Bot: a.owner, Queue: h.Queue, Reason: h.Reason, Summary: h.Summary,
		Intents: st.Intents, Entities: entities,
		Customer: helpline.HandoffCustomer{ID: cust.ID, Name: cust.Name, Email: cust.Email},
		FirstSeq: st.FirstSeq, LastSeq: a.lastSeq,
	})
	it := &helpline.Item{ContactID: c.ID, ID: helpline.NewID(), Type: helpline.ItemEvent,
		ContentType: helpline.EventHandoff, Content: string(content),
		ParticipantID: helpline.SystemParticipantID(c.ID), DisplayName: helpline.SystemDisplayName,
		Role: helpline.RoleSystem, Time: r.now(), ClientToken: fmt.Sprintf("bot:%s:%d:handoff", c.ID, a.seq)}
	replayed, err := r.cfg.Store.AppendItem(ctx, it)
	if err != nil {
		r.log.Error("bot: recording the handoff", "contact", c.ID, "err", err)
		return true
	}
	if !replayed {
		if err := r.cfg.Bus.Publish(context.WithoutCancel(ctx), helpline.NewItemEvent(it)); err != nil {
			r.log.Error("bot: publishing the handoff", "contact", c.ID, "err", err)
		}
	}
	a.leave(ctx)
	return true
}

// now returns the clock's time in UTC, truncated to milliseconds as the
// engine stamps items.
func (r *Runner) now() time.Time { return r.cfg.Now().UTC().Truncate(time.Millisecond) }
