package bot_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"path/filepath"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/helplinehq/helpline"
	"github.com/helplinehq/helpline/bot"
	"github.com/helplinehq/helpline/chat"
	"github.com/helplinehq/helpline/clocktest"
	"github.com/helplinehq/helpline/inmem"
	"github.com/helplinehq/helpline/sqlite"
)

// botFunc is a Bot made of a function.
type botFunc func(ctx context.Context, t *bot.Turn) (*bot.Response, error)

func (f botFunc) Turn(ctx context.Context, t *bot.Turn) (*bot.Response, error) { return f(ctx, t) }

// echo answers each message with "you said: <text>" and counts its turns
// in its state (State.LowConfidence stands in for a counter).
var echo = botFunc(func(_ context.Context, t *bot.Turn) (*bot.Response, error) {
	st := t.State
	st.LowConfidence++
	return &bot.Response{Replies: []bot.Reply{bot.Text("you said: " + t.Item.Content)}, State: st}, nil
})

// runnerEnv is the real engine over SQLite and the in-process bus, with a
// fake clock.
type runnerEnv struct {
	store  *sqlite.DB
	bus    *inmem.Bus
	engine *chat.Service
	clock  *clocktest.Clock
}

func newRunnerEnv(t *testing.T) *runnerEnv {
	t.Helper()
	db, err := sqlite.Open(filepath.Join(t.TempDir(), "helpline.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	inst := &helpline.Instance{ID: "inst-1", Name: "Shop", Flows: []helpline.Flow{{ID: "shop", Name: "Shop", Bot: "shop"}}}
	if err := db.SaveInstance(context.Background(), inst); err != nil {
		t.Fatal(err)
	}
	e := &runnerEnv{store: db, bus: inmem.NewBus(), clock: clocktest.New(time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC))}
	t.Cleanup(func() { e.bus.Close() })
	e.engine = chat.New(chat.Config{Store: db, Bus: e.bus, Tokens: helpline.NewTokens(make([]byte, 32)), Now: e.clock.Now})
	return e
}

func (e *runnerEnv) runner(b bot.Bot) *bot.Runner {
	return bot.NewRunner(bot.RunnerConfig{Store: e.store, Bus: e.bus, Engine: e.engine,
		Bots: map[string]bot.Bot{"shop": b}, ErrorQueues: map[string]string{"shop": "support"}, Now: e.clock.Now})
}

// start starts a chat in the bot's flow and returns the customer's session.
func (e *runnerEnv) start(t *testing.T) *helpline.Session {
	t.Helper()
	ctx := context.Background()
	started, err := e.engine.StartChat(ctx, helpline.StartChatInput{InstanceID: "inst-1", ContactFlowID: "shop",
		DisplayName: "Ada", CustomerID: "cust-7"})
	if err != nil {
		t.Fatal(err)
	}
	s, err := e.engine.Authenticate(ctx, helpline.ParticipantToken, started.ParticipantToken)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func (e *runnerEnv) say(t *testing.T, s *helpline.Session, text string) *helpline.Item {
	t.Helper()
	it, err := e.engine.SendMessage(context.Background(), s, helpline.ContentPlain, text, "")
	if err != nil {
		t.Fatal(err)
	}
	return it
}

// items returns the contact's stored items of the given content type and
// role ("" for any).
func (e *runnerEnv) items(t *testing.T, contactID, contentType, role string) []*helpline.Item {
	t.Helper()
	all, err := e.store.FindItems(context.Background(), contactID, helpline.ItemQuery{})
	if err != nil {
		t.Fatal(err)
	}
	var out []*helpline.Item
	for _, it := range all {
		if it.ContentType == contentType && (role == "" || it.Role == role) {
			out = append(out, it)
		}
	}
	return out
}

func (e *runnerEnv) botLines(t *testing.T, contactID string) []string {
	var out []string
	for _, it := range e.items(t, contactID, helpline.ContentPlain, helpline.RoleBot) {
		out = append(out, it.Content)
	}
	return out
}

// state returns the runner's stored state of the contact.
func (e *runnerEnv) state(contactID string) (*bot.RunnerState, error) {
	raw, err := e.store.FindBotState(context.Background(), contactID)
	if err != nil {
		return nil, err
	}
	var st bot.RunnerState
	return &st, json.Unmarshal(raw, &st)
}

func (e *runnerEnv) contact(t *testing.T, id string) *helpline.Contact {
	t.Helper()
	c, err := e.store.FindContactByID(context.Background(), id)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// A chat of a flow with a bot starts owned by the bot, with one
// transition item; a customer message gets one reply, taken once however
// often the turns are asked for.
func TestRunnerOneReply(t *testing.T) {
	e := newRunnerEnv(t)
	s := e.start(t)
	c := e.contact(t, s.Contact.ID)
	if c.Owner != "bot:shop" || len(e.items(t, c.ID, helpline.EventOwnerChanged, "")) != 1 {
		t.Fatalf("new chat owned by %q with %d transition items, want bot:shop and 1",
			c.Owner, len(e.items(t, c.ID, helpline.EventOwnerChanged, "")))
	}
	r := e.runner(echo)
	ctx := context.Background()
	r.TakeTurns(ctx, c.ID) // nothing said yet: nothing to answer
	e.say(t, s, "hello")
	r.TakeTurns(ctx, c.ID)
	r.TakeTurns(ctx, c.ID)
	if got := e.botLines(t, c.ID); len(got) != 1 || got[0] != "you said: hello" {
		t.Fatalf("bot lines %q, want one reply", got)
	}
	st, err := e.state(c.ID)
	if err != nil || st.State.LowConfidence != 1 || st.Bot != "shop" {
		t.Errorf("stored state %+v, %v; want one turn of bot shop", st, err)
	}
	if _, ok := e.contact(t, c.ID).Attributes["helpline_bot"]; ok {
		t.Error("the runner's state is among the contact's attributes")
	}
	if len(e.items(t, c.ID, helpline.EventParticipantJoined, helpline.RoleBot)) != 1 {
		t.Error("the bot did not join the chat exactly once")
	}
}

// Two messages sent before the runner looks get two turns, in order, and
// the bot's state carries from the first to the second.
func TestRunnerTwoMessagesInOrder(t *testing.T) {
	e := newRunnerEnv(t)
	s := e.start(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	sub, err := e.bus.Subscribe(ctx, helpline.ContactSubject(s.Contact.ID))
	if err != nil {
		t.Fatal(err)
	}
	defer sub.Close()
	var mu sync.Mutex
	var seen []int
	counting := botFunc(func(ctx context.Context, t *bot.Turn) (*bot.Response, error) {
		mu.Lock()
		seen = append(seen, t.State.LowConfidence)
		mu.Unlock()
		return echo(ctx, t)
	})
	e.say(t, s, "one")
	e.say(t, s, "two")
	done := make(chan error, 1)
	go func() { done <- e.runner(counting).Run(ctx) }()
	waitFor(t, sub, func(it *helpline.Item) bool { return it.Role == helpline.RoleBot && it.Content == "you said: two" })
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if got := e.botLines(t, s.Contact.ID); strings.Join(got, "|") != "you said: one|you said: two" {
		t.Errorf("bot lines %q, want the two replies in order", got)
	}
	if len(seen) != 2 || seen[0] != 0 || seen[1] != 1 {
		t.Errorf("turns saw states %v, want 0 then 1", seen)
	}
}

// waitFor reads the subscription until an item satisfies ok, failing
// after 10 s.
func waitFor(t *testing.T, sub helpline.Subscription, ok func(*helpline.Item) bool) {
	t.Helper()
	deadline := time.After(10 * time.Second)
	for {
		select {
		case ev := <-sub.Events():
			if ev.Kind == helpline.EventItem && ok(ev.Item) {
				return
			}
		case <-deadline:
			t.Fatal("the awaited item never came")
		}
	}
}

// A bot whose contact is taken from it during its turn has its replies
// refused: nothing stored, and no later turn.
func TestRunnerOwnerChangedMidTurn(t *testing.T) {
	e := newRunnerEnv(t)
	s := e.start(t)
	ctx := context.Background()
	taken := botFunc(func(ctx context.Context, t *bot.Turn) (*bot.Response, error) {
		if _, _, err := e.engine.ChangeOwner(ctx, helpline.OwnerChange{ContactID: t.Contact.ID, From: t.Contact.Owner,
			Version: t.Contact.Version, To: "agent:ada", Reason: "transfer", Actor: "agent:ada"}); err != nil {
			return nil, err
		}
		return &bot.Response{Replies: []bot.Reply{bot.Text("too late")}, Attributes: map[string]string{"x": "y"}}, nil
	})
	r := e.runner(taken)
	e.say(t, s, "hello")
	r.TakeTurns(ctx, s.Contact.ID)
	e.say(t, s, "anyone?")
	r.TakeTurns(ctx, s.Contact.ID)
	if got := e.botLines(t, s.Contact.ID); len(got) != 0 {
		t.Errorf("bot lines %q after the owner changed, want none", got)
	}
	if c := e.contact(t, s.Contact.ID); c.Owner != "agent:ada" || c.Attributes["x"] != "" {
		t.Errorf("contact owner %q attributes %v, want agent:ada and no bot attribute", c.Owner, c.Attributes)
	}
}

// A handoff moves the contact to the queue with one transition item,
// tells the customer, records the context in a handoff item, and the
// bot is silent afterwards.
func TestRunnerHandoff(t *testing.T) {
	e := newRunnerEnv(t)
	s := e.start(t)
	ctx := context.Background()
	handing := botFunc(func(_ context.Context, t *bot.Turn) (*bot.Response, error) {
		st := t.State
		if strings.Contains(t.Item.Content, "order") {
			st.Intent, st.OrderNumber = "order_status", "10023"
			return &bot.Response{Replies: []bot.Reply{bot.Text("Which email?")}, State: st}, nil
		}
		st.Intent, st.Email = "return_refund", "ada@example.com"
		return &bot.Response{State: st, Handoff: &bot.Handoff{Queue: "support", Reason: bot.ReasonRefundLimit, Summary: "Refund of $300 for order 10023."}}, nil
	})
	r := e.runner(handing)
	first := e.say(t, s, "where is my order")
	r.TakeTurns(ctx, s.Contact.ID)
	e.say(t, s, "I want $300 back")
	r.TakeTurns(ctx, s.Contact.ID)
	e.say(t, s, "hello?")
	r.TakeTurns(ctx, s.Contact.ID)

	c := e.contact(t, s.Contact.ID)
	if c.Owner != "queue:support" {
		t.Fatalf("owner %q, want queue:support", c.Owner)
	}
	if n := len(e.items(t, c.ID, helpline.EventOwnerChanged, "")); n != 2 {
		t.Errorf("%d transition items, want 2 (to the bot, to the queue)", n)
	}
	if got := e.botLines(t, c.ID); strings.Join(got, "|") != "Which email?|"+bot.ConnectingMessage {
		t.Errorf("bot lines %q, want the question and the connecting message, nothing after", got)
	}
	hs := e.items(t, c.ID, helpline.EventHandoff, "")
	if len(hs) != 1 {
		t.Fatalf("%d handoff items, want 1", len(hs))
	}
	var h helpline.HandoffContext
	if err := json.Unmarshal([]byte(hs[0].Content), &h); err != nil {
		t.Fatal(err)
	}
	lines := e.items(t, c.ID, helpline.ContentPlain, helpline.RoleBot)
	if h.Bot != "bot:shop" || h.Queue != "support" || h.Reason != bot.ReasonRefundLimit || h.Summary != "Refund of $300 for order 10023." ||
		strings.Join(h.Intents, ",") != "order_status,return_refund" ||
		h.Entities[bot.EntityOrderNumber] != "10023" || h.Entities[bot.EntityEmail] != "ada@example.com" ||
		h.Customer != (helpline.HandoffCustomer{ID: "cust-7", Name: "Ada", Email: "ada@example.com"}) ||
		h.FirstSeq != first.Seq || h.LastSeq != lines[len(lines)-1].Seq {
		t.Errorf("handoff context %+v, want the bot, queue, reason, summary, intents, entities, customer and Seq range %d-%d",
			h, first.Seq, lines[len(lines)-1].Seq)
	}
	owners := e.items(t, c.ID, helpline.EventOwnerChanged, "")
	if hs[0].Seq != owners[len(owners)-1].Seq+1 {
		t.Errorf("handoff item at Seq %d, want right after the owner change (%d)", hs[0].Seq, owners[len(owners)-1].Seq)
	}
	if got := c.Attributes[helpline.BotSummaryAttribute]; got != h.Summary {
		t.Errorf("attribute %s %q, want the handoff's summary", helpline.BotSummaryAttribute, got)
	}
	if line, ok := helpline.TranscriptLine(hs[0], "", ""); !ok || !strings.Contains(line, "Refund of $300") {
		t.Errorf("transcript line %q, %v; want the summary", line, ok)
	}
	if left := e.items(t, c.ID, helpline.EventParticipantLeft, helpline.RoleBot); len(left) != 1 || left[0].Seq != hs[0].Seq+1 {
		t.Errorf("bot leave items %v, want one right after the handoff item (Seq %d)", left, hs[0].Seq+1)
	}
}

// The bot leaves the chat at its handoff, so that the customer and the
// agent are its only participants; handed the chat back, it joins anew
// (a new participant) and answers, and leaves again at its next handoff.
func TestRunnerLeavesAtHandoffAndRejoins(t *testing.T) {
	e := newRunnerEnv(t)
	s := e.start(t)
	ctx := context.Background()
	r := e.runner(botFunc(func(_ context.Context, t *bot.Turn) (*bot.Response, error) {
		if strings.Contains(t.Item.Content, "human") {
			return &bot.Response{State: t.State, Handoff: &bot.Handoff{Queue: "support", Reason: bot.ReasonRequested}}, nil
		}
		return &bot.Response{Replies: []bot.Reply{bot.Text("you said: " + t.Item.Content)}, State: t.State}, nil
	}))
	present := func() map[string]int {
		t.Helper()
		ps, err := e.store.FindParticipants(ctx, s.Contact.ID)
		if err != nil {
			t.Fatal(err)
		}
		n := map[string]int{}
		for _, p := range ps {
			if !p.Left() {
				n[p.Role]++
			}
		}
		return n
	}
	e.say(t, s, "hello")
	r.TakeTurns(ctx, s.Contact.ID)
	if got := present(); got[helpline.RoleBot] != 1 {
		t.Fatalf("participants present %v, want the bot seated", got)
	}
	e.say(t, s, "a human please")
	r.TakeTurns(ctx, s.Contact.ID)
	c := e.contact(t, s.Contact.ID)
	if _, _, err := e.engine.ChangeOwner(ctx, helpline.OwnerChange{ContactID: c.ID, From: c.Owner, Version: c.Version,
		To: "agent:ada", Reason: "offer", Actor: "agent:ada"}); err != nil {
		t.Fatal(err)
	}
	if got, want := present(), map[string]int{helpline.RoleCustomer: 1, helpline.RoleAgent: 1}; !reflect.DeepEqual(got, want) {
		t.Errorf("participants present with the agent %v, want %v", got, want)
	}
	if _, err := e.engine.HandBack(ctx, "inst-1", c.ID, "agent:ada"); err != nil {
		t.Fatal(err)
	}
	e.say(t, s, "again")
	r.TakeTurns(ctx, c.ID)
	if got, want := present(), map[string]int{helpline.RoleCustomer: 1, helpline.RoleBot: 1}; !reflect.DeepEqual(got, want) {
		t.Errorf("participants present after the handback %v, want %v", got, want)
	}
	if got := strings.Join(e.botLines(t, c.ID), "|"); !strings.HasSuffix(got, "you said: again") {
		t.Errorf("bot lines %q, want the answer after the handback", got)
	}
	e.say(t, s, "human again")
	r.TakeTurns(ctx, c.ID)
	joined := e.items(t, c.ID, helpline.EventParticipantJoined, helpline.RoleBot)
	left := e.items(t, c.ID, helpline.EventParticipantLeft, helpline.RoleBot)
	if len(joined) != 2 || len(left) != 2 || joined[0].ParticipantID == joined[1].ParticipantID {
		t.Errorf("bot joined %d times and left %d times, want twice each as two participants", len(joined), len(left))
	}
	if got := present(); got[helpline.RoleBot] != 0 {
		t.Errorf("participants present after the second handoff %v, want no bot", got)
	}
}

// A bot that fails or panics hands the contact off with reason
// bot_error to its error queue.
func TestRunnerBotError(t *testing.T) {
	for name, b := range map[string]bot.Bot{
		"error": botFunc(func(context.Context, *bot.Turn) (*bot.Response, error) { return nil, errors.New("down") }),
		"panic": botFunc(func(context.Context, *bot.Turn) (*bot.Response, error) { panic("boom") }),
		"nil":   botFunc(func(context.Context, *bot.Turn) (*bot.Response, error) { return nil, nil }),
	} {
		t.Run(name, func(t *testing.T) {
			e := newRunnerEnv(t)
			s := e.start(t)
			e.say(t, s, "hello")
			e.runner(b).TakeTurns(context.Background(), s.Contact.ID)
			c := e.contact(t, s.Contact.ID)
			hs := e.items(t, c.ID, helpline.EventHandoff, "")
			if c.Owner != "queue:support" || len(hs) != 1 || !strings.Contains(hs[0].Content, `"reason":"bot_error"`) {
				t.Errorf("owner %q, handoff items %v; want queue:support and one bot_error handoff", c.Owner, hs)
			}
			if got := e.botLines(t, c.ID); len(got) != 1 || got[0] != bot.ErrorMessage {
				t.Errorf("bot lines %q, want the apology", got)
			}
		})
	}
}

// A handoff that names no queue (an outside bot without a queue
// setting) goes to the bot's flow queue.
func TestRunnerHandoffToTheFlowsQueue(t *testing.T) {
	e := newRunnerEnv(t)
	s := e.start(t)
	e.say(t, s, "a person please")
	e.runner(botFunc(func(_ context.Context, t *bot.Turn) (*bot.Response, error) {
		return &bot.Response{State: t.State, Handoff: &bot.Handoff{Reason: bot.ReasonBotHandoff, Summary: "Wants a person."}}, nil
	})).TakeTurns(context.Background(), s.Contact.ID)
	c := e.contact(t, s.Contact.ID)
	hs := e.items(t, c.ID, helpline.EventHandoff, "")
	if c.Owner != "queue:support" || len(hs) != 1 || !strings.Contains(hs[0].Content, `"queue":"support"`) {
		t.Errorf("owner %q, handoff items %v; want queue:support and one handoff to it", c.Owner, hs)
	}
}

// A customer message stored while no runner runs gets exactly one answer
// once one starts; a later runner answers nothing again, and a turn
// repeated because its state was lost (a crash between the replies and
// the state) sends nothing twice.
func TestRunnerCrash(t *testing.T) {
	e := newRunnerEnv(t)
	s := e.start(t)
	e.say(t, s, "are you there?") // stored; no runner is running
	ctx, cancel := context.WithCancel(context.Background())
	sub, err := e.bus.Subscribe(ctx, helpline.ContactSubject(s.Contact.ID))
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- e.runner(echo).Run(ctx) }()
	waitFor(t, sub, func(it *helpline.Item) bool { return it.Role == helpline.RoleBot && it.Type == helpline.ItemMessage })
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	again := e.runner(echo)
	again.TakeTurns(context.Background(), s.Contact.ID)
	if got := e.botLines(t, s.Contact.ID); len(got) != 1 {
		t.Fatalf("bot lines %q after a restart, want exactly one answer", got)
	}
	// Lose the state: the turn is taken again, its reply is not.
	if err := e.store.SaveBotState(context.Background(), s.Contact.ID, nil); err != nil {
		t.Fatal(err)
	}
	again.TakeTurns(context.Background(), s.Contact.ID)
	if got := e.botLines(t, s.Contact.ID); len(got) != 1 {
		t.Errorf("bot lines %q after a repeated turn, want still one", got)
	}
}

// An agent hands the contact back: the agent leaves, a handback item
// follows the owner change, and the bot answers only what the customer
// says after it, with a fresh memory.
func TestRunnerAfterHandback(t *testing.T) {
	e := newRunnerEnv(t)
	s := e.start(t)
	ctx := context.Background()
	r := e.runner(echo)
	e.say(t, s, "hello")
	r.TakeTurns(ctx, s.Contact.ID)
	c := e.contact(t, s.Contact.ID)
	if _, _, err := e.engine.ChangeOwner(ctx, helpline.OwnerChange{ContactID: c.ID, From: c.Owner, Version: c.Version,
		To: "agent:ada", Reason: "transfer", Actor: "agent:ada"}); err != nil {
		t.Fatal(err)
	}
	e.say(t, s, "for the agent")
	r.TakeTurns(ctx, c.ID)

	back, err := e.engine.HandBack(ctx, "inst-1", c.ID, "agent:ada")
	if err != nil {
		t.Fatalf("HandBack: %v", err)
	}
	if back.Owner != "bot:shop" {
		t.Errorf("owner %q after the handback, want bot:shop", back.Owner)
	}
	_, err = e.engine.HandBack(ctx, "inst-1", c.ID, "agent:ada")
	if helpline.ErrorCode(err) != helpline.ECONFLICT {
		t.Errorf("handing back a bot's contact: %v, want conflict", err)
	}
	e.say(t, s, "again")
	r.TakeTurns(ctx, c.ID)

	if got := strings.Join(e.botLines(t, c.ID), "|"); got != "you said: hello|you said: again" {
		t.Errorf("bot lines %q, want the answers to the first and the last message only", got)
	}
	st, err := e.state(c.ID)
	if err != nil {
		t.Fatal(err)
	}
	if st.State.LowConfidence != 1 {
		t.Errorf("the bot's counter is %d after the handback, want 1 (a fresh memory)", st.State.LowConfidence)
	}
	owners := e.items(t, c.ID, helpline.EventOwnerChanged, "")
	hb := e.items(t, c.ID, helpline.EventHandback, "")
	if len(hb) != 1 || hb[0].Seq < owners[len(owners)-1].Seq {
		t.Fatalf("handback items %v, want one after the last owner change", hb)
	}
	if line, _ := helpline.TranscriptLine(hb[0], "", ""); !strings.HasSuffix(line, "ada handed the chat back to the bot") {
		t.Errorf("transcript line %q", line)
	}
	left := e.items(t, c.ID, helpline.EventParticipantLeft, helpline.RoleAgent)
	if len(left) != 1 || left[0].Seq < owners[len(owners)-1].Seq || left[0].Seq > hb[0].Seq {
		t.Errorf("agent leave items %v, want one between the owner change and the handback item", left)
	}
}

// An agent takes the contact while the bot's many replies are being
// stored: every reply is before the owner change or refused, never after
// it, and an agent's session that lost the contact is refused the same
// way.
func TestRunnerRepliesRaceOwnerChange(t *testing.T) {
	for round := range 10 {
		e := newRunnerEnv(t)
		s := e.start(t)
		ctx := context.Background()
		many := botFunc(func(_ context.Context, t *bot.Turn) (*bot.Response, error) {
			var replies []bot.Reply
			for i := range 8 {
				replies = append(replies, bot.Text(fmt.Sprintf("reply %d", i)))
			}
			return &bot.Response{Replies: replies}, nil
		})
		r := e.runner(many)
		e.say(t, s, "hello")
		c := e.contact(t, s.Contact.ID)
		var wg sync.WaitGroup
		var change *helpline.Item
		var err error
		wg.Go(func() { r.TakeTurns(ctx, c.ID) })
		wg.Go(func() {
			_, change, err = e.engine.ChangeOwner(ctx, helpline.OwnerChange{ContactID: c.ID, From: c.Owner,
				Version: c.Version, To: "agent:ada", Reason: "transfer", Actor: "agent:ada"})
		})
		wg.Wait()
		if err != nil {
			t.Fatal(err)
		}
		for _, it := range e.items(t, c.ID, helpline.ContentPlain, helpline.RoleBot) {
			if it.Seq > change.Seq {
				t.Errorf("round %d: %q at Seq %d, after the owner change at %d", round, it.Content, it.Seq, change.Seq)
			}
		}
	}
}

// An agent's session speaks for the agent: once the contact moved on, a
// message sent with it is ECONFLICT and stored nowhere.
func TestAgentSessionRefusedAfterOwnerChange(t *testing.T) {
	e := newRunnerEnv(t)
	s := e.start(t)
	ctx := context.Background()
	c := e.contact(t, s.Contact.ID)
	c, _, err := e.engine.ChangeOwner(ctx, helpline.OwnerChange{ContactID: c.ID, From: c.Owner, Version: c.Version,
		To: "agent:ada", Reason: "transfer", Actor: "agent:ada"})
	if err != nil {
		t.Fatal(err)
	}
	ada, err := e.engine.AgentSession(ctx, "inst-1", c.ID, "ada")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.engine.SendMessage(ctx, ada, helpline.ContentPlain, "hello from Ada", ""); err != nil {
		t.Fatal(err)
	}
	if _, _, err := e.engine.ChangeOwner(ctx, helpline.OwnerChange{ContactID: c.ID, From: c.Owner, Version: c.Version,
		To: "queue:support", Reason: "transfer", Actor: "agent:ada"}); err != nil {
		t.Fatal(err)
	}
	_, err = e.engine.SendMessage(ctx, ada, helpline.ContentPlain, "still me?", "")
	if helpline.ErrorCode(err) != helpline.ECONFLICT {
		t.Errorf("the old agent's message: %v, want ECONFLICT", err)
	}
	for _, it := range e.items(t, c.ID, helpline.ContentPlain, "") {
		if it.Content == "still me?" {
			t.Error("the old agent's message was stored")
		}
	}
}

// More customer messages wait than one read of the latest items holds:
// each gets one turn, in order, and each turn is given the recent items
// right before its own.
func TestRunnerManyPending(t *testing.T) {
	e := newRunnerEnv(t)
	s := e.start(t)
	var mu sync.Mutex
	var bad []string
	checking := botFunc(func(ctx context.Context, t *bot.Turn) (*bot.Response, error) {
		mu.Lock()
		defer mu.Unlock()
		if n := len(t.Recent); n == 0 || n > 30 || t.Recent[n-1].Seq != t.Item.Seq-1 || t.Recent[0].Seq != max(1, t.Item.Seq-30) {
			bad = append(bad, fmt.Sprintf("item %d got %d recent items", t.Item.Seq, n))
		}
		return echo(ctx, t)
	})
	const n = 45
	for i := range n {
		e.say(t, s, fmt.Sprint(i))
	}
	r := e.runner(checking)
	r.TakeTurns(context.Background(), s.Contact.ID)
	r.TakeTurns(context.Background(), s.Contact.ID)
	lines := e.botLines(t, s.Contact.ID)
	if len(lines) != n || lines[0] != "you said: 0" || lines[n-1] != fmt.Sprintf("you said: %d", n-1) {
		t.Errorf("%d bot lines (%q … ), want %d, in order", len(lines), lines[:min(3, len(lines))], n)
	}
	if len(bad) > 0 {
		t.Errorf("recent items: %v", bad[:min(5, len(bad))])
	}
	// One more, now within the window.
	e.say(t, s, "last")
	r.TakeTurns(context.Background(), s.Contact.ID)
	if lines := e.botLines(t, s.Contact.ID); len(lines) != n+1 || lines[n] != "you said: last" || len(bad) > 0 {
		t.Errorf("after one more: %d lines, last %q, recent %v", len(lines), lines[len(lines)-1], bad)
	}
}
