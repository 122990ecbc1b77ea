package bot_test

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/helplinehq/helpline"
	"github.com/helplinehq/helpline/bot"
)

// csatFlow is a flow of inst-1 with no bot that asks the CSAT question
// with a wait of a minute.
const csatFlow = "desk"

// csatChat starts a chat in a flow asking q (nil for a flow without CSAT),
// gives it to agent ada and has the agent close it; it returns the
// customer's session.
func (e *runnerEnv) csatChat(t *testing.T, q *helpline.CSAT, contentTypes ...string) *helpline.Session {
	t.Helper()
	ctx := context.Background()
	inst, err := e.store.FindInstanceByID(ctx, "inst-1")
	if err != nil {
		t.Fatal(err)
	}
	if inst.FindFlow(csatFlow) == nil {
		inst.Flows = append(inst.Flows, helpline.Flow{ID: csatFlow, Name: "Desk"})
	}
	inst.FindFlow(csatFlow).CSAT = q
	if err := e.store.SaveInstance(ctx, inst); err != nil {
		t.Fatal(err)
	}
	started, err := e.engine.StartChat(ctx, helpline.StartChatInput{InstanceID: "inst-1", ContactFlowID: csatFlow,
		DisplayName: "Ada", SupportedContentTypes: contentTypes})
	if err != nil {
		t.Fatal(err)
	}
	s, err := e.engine.Authenticate(ctx, helpline.ParticipantToken, started.ParticipantToken)
	if err != nil {
		t.Fatal(err)
	}
	c := e.contact(t, s.Contact.ID)
	if _, _, err := e.engine.ChangeOwner(ctx, helpline.OwnerChange{ContactID: c.ID, From: c.Owner, Version: c.Version,
		To: "agent:ada", Reason: "accept", Actor: "agent:ada"}); err != nil {
		t.Fatal(err)
	}
	if err := e.engine.CloseContact(ctx, "inst-1", c.ID); err != nil {
		t.Fatal(err)
	}
	return s
}

var interactive = []string{helpline.ContentPlain, helpline.ContentInteractive, helpline.ContentInteractiveResponse}

// sayAs sends a message of the given content type as the customer.
func (e *runnerEnv) sayAs(t *testing.T, s *helpline.Session, contentType, content string) {
	t.Helper()
	if _, err := e.engine.SendMessage(context.Background(), s, contentType, content, ""); err != nil {
		t.Fatal(err)
	}
}

// transcript is the contact's items after the owner change to the CSAT
// owner (included), one word each: owner, left, joined, question, retry,
// customer, csat, thanks, ended.
func (e *runnerEnv) csatTranscript(t *testing.T, contactID string) string {
	t.Helper()
	var words []string
	on := false
	all, err := e.store.FindItems(context.Background(), contactID, helpline.ItemQuery{})
	if err != nil {
		t.Fatal(err)
	}
	for _, it := range all {
		if it.ContentType == helpline.EventOwnerChanged && strings.Contains(it.Content, `"to":"bot:csat"`) {
			on = true
		}
		if !on {
			continue
		}
		switch {
		case it.ContentType == helpline.EventOwnerChanged:
			words = append(words, "owner")
		case it.ContentType == helpline.EventParticipantLeft:
			words = append(words, "left:"+strings.ToLower(it.Role))
		case it.ContentType == helpline.EventParticipantJoined:
			words = append(words, "joined:"+strings.ToLower(it.Role))
		case it.ContentType == helpline.EventChatEnded:
			words = append(words, "ended")
		case it.ContentType == helpline.EventCSAT:
			words = append(words, "csat:"+it.Content)
		case it.Role == helpline.RoleCustomer:
			words = append(words, "customer")
		case it.Role == helpline.RoleBot && strings.Contains(it.Content, bot.CSATRetryMessage):
			words = append(words, "retry")
		case it.Role == helpline.RoleBot && (it.ContentType == helpline.ContentInteractive || strings.Contains(it.Content, "Rate us")):
			words = append(words, "question")
		case it.Role == helpline.RoleBot:
			words = append(words, "bot:"+it.Content)
		}
	}
	return strings.Join(words, " ")
}

// An agent closes a chat of a flow with CSAT: the chat moves to bot:csat
// (one owner change) and the agent leaves; the customer is asked with a
// quick reply of 1 to 5, answers with a tap (an interactive response),
// and the rating is kept as the attribute csat and a csat EVENT before
// the thanks and the end, whose reason is the agent's close. Asking again
// changes nothing.
func TestCSATAnswered(t *testing.T) {
	e := newRunnerEnv(t)
	r := e.runner(echo)
	ctx := context.Background()
	s := e.csatChat(t, &helpline.CSAT{Question: "Rate us?", Thanks: "Thanks!", Wait: time.Minute}, interactive...)
	c := e.contact(t, s.Contact.ID)
	if c.Owner != helpline.OwnerCSAT || c.Ended() {
		t.Fatalf("closed chat owned by %q, ended %v; want bot:csat and still active", c.Owner, c.Ended())
	}
	r.TakeTurns(ctx, c.ID)
	r.TakeTurns(ctx, c.ID)
	qs := e.items(t, c.ID, helpline.ContentInteractive, helpline.RoleBot)
	if len(qs) != 1 {
		t.Fatalf("%d questions, want one", len(qs))
	}
	var msg struct {
		TemplateType string
		Data         struct {
			Content struct {
				Title    string
				Elements []struct{ Title string }
			}
		}
	}
	if err := json.Unmarshal([]byte(qs[0].Content), &msg); err != nil || msg.TemplateType != "QuickReply" ||
		msg.Data.Content.Title != "Rate us?" || len(msg.Data.Content.Elements) != 5 || msg.Data.Content.Elements[4].Title != "5" {
		t.Fatalf("question %s (%v), want a QuickReply of 1 to 5 titled Rate us?", qs[0].Content, err)
	}
	e.sayAs(t, s, helpline.ContentInteractiveResponse, `{"templateType":"QuickReply","data":{"content":{"title":"4"}}}`)
	r.TakeTurns(ctx, c.ID)
	r.TakeTurns(ctx, c.ID)
	c = e.contact(t, c.ID)
	if !c.Ended() || c.EndReason != helpline.EndAgentDisconnect || c.Attributes[helpline.CSATAttribute] != "4" {
		t.Errorf("after the answer: ended %v (%s), csat %q; want ended by the agent's close with csat 4",
			c.Ended(), c.EndReason, c.Attributes[helpline.CSATAttribute])
	}
	want := `owner left:agent joined:custom_bot question customer csat:{"rating":4,"owner":"agent:ada"} bot:Thanks! left:custom_bot left:customer ended`
	if got := e.csatTranscript(t, c.ID); got != want {
		t.Errorf("transcript\n %s\nwant\n %s", got, want)
	}
}

// Answers that are no rating ("7", words, "4 stars", "0")
// get the question again, at most three times; a typed digit then rates.
func TestCSATBadAnswers(t *testing.T) {
	e := newRunnerEnv(t)
	r := e.runner(echo)
	ctx := context.Background()
	s := e.csatChat(t, &helpline.CSAT{Question: "Rate us?", Wait: time.Minute}, interactive...)
	r.TakeTurns(ctx, s.Contact.ID)
	for _, a := range []string{"7", "it was great", "4 stars", "0"} {
		e.sayAs(t, s, helpline.ContentPlain, a)
		r.TakeTurns(ctx, s.Contact.ID)
	}
	if c := e.contact(t, s.Contact.ID); c.Ended() || c.Attributes[helpline.CSATAttribute] != "" {
		t.Fatalf("after bad answers: ended %v, csat %q; want waiting, no rating", c.Ended(), c.Attributes[helpline.CSATAttribute])
	}
	e.sayAs(t, s, helpline.ContentPlain, " 2 ")
	r.TakeTurns(ctx, s.Contact.ID)
	c := e.contact(t, s.Contact.ID)
	want := `owner left:agent joined:custom_bot question customer retry customer retry customer retry customer customer csat:{"rating":2,"owner":"agent:ada"} bot:` +
		helpline.DefaultCSATThanks + ` left:custom_bot left:customer ended`
	if got := e.csatTranscript(t, c.ID); got != want || c.Attributes[helpline.CSATAttribute] != "2" {
		t.Errorf("transcript\n %s\nwant\n %s\ncsat %q, want 2", got, want, c.Attributes[helpline.CSATAttribute])
	}
}

// No answer within the wait: the chat ends, by the agent's close, with no
// rating; before the wait is over it does not.
func TestCSATTimeout(t *testing.T) {
	e := newRunnerEnv(t)
	r := e.runner(echo)
	ctx := context.Background()
	s := e.csatChat(t, &helpline.CSAT{Question: "Rate us?", Wait: time.Minute}, interactive...)
	r.TakeTurns(ctx, s.Contact.ID)
	e.clock.Advance(59 * time.Second)
	r.TakeTurns(ctx, s.Contact.ID)
	if c := e.contact(t, s.Contact.ID); c.Ended() {
		t.Fatal("ended before the wait was over")
	}
	e.clock.Advance(time.Second)
	r.TakeTurns(ctx, s.Contact.ID)
	c := e.contact(t, s.Contact.ID)
	if !c.Ended() || c.EndReason != helpline.EndAgentDisconnect || c.Attributes[helpline.CSATAttribute] != "" {
		t.Errorf("after the wait: ended %v (%s), csat %q; want ended by the agent's close, no rating", c.Ended(), c.EndReason, c.Attributes[helpline.CSATAttribute])
	}
	if got, want := e.csatTranscript(t, c.ID), "owner left:agent joined:custom_bot question left:custom_bot left:customer ended"; got != want {
		t.Errorf("transcript %s, want %s", got, want)
	}
	// A late answer, after the wait but before the runner looked, rates
	// nothing either.
	s2 := e.csatChat(t, &helpline.CSAT{Question: "Rate us?", Wait: time.Minute}, interactive...)
	r.TakeTurns(ctx, s2.Contact.ID)
	e.clock.Advance(2 * time.Minute)
	e.sayAs(t, s2, helpline.ContentPlain, "5")
	r.TakeTurns(ctx, s2.Contact.ID)
	if c := e.contact(t, s2.Contact.ID); !c.Ended() || c.Attributes[helpline.CSATAttribute] != "" || len(e.items(t, c.ID, helpline.EventCSAT, "")) != 0 {
		t.Errorf("a late answer: ended %v, csat %q", c.Ended(), c.Attributes[helpline.CSATAttribute])
	}
}

// An answer given within the wait counts when the runner looks only after
// it (it was down meanwhile): the chat is rated, thanked and ended.
func TestCSATAnsweredInTimeSeenLate(t *testing.T) {
	e := newRunnerEnv(t)
	r := e.runner(echo)
	ctx := context.Background()
	s := e.csatChat(t, &helpline.CSAT{Question: "Rate us?", Wait: time.Minute}, interactive...)
	r.TakeTurns(ctx, s.Contact.ID)
	e.clock.Advance(30 * time.Second)
	e.sayAs(t, s, helpline.ContentPlain, "3")
	e.clock.Advance(time.Minute)
	r.TakeTurns(ctx, s.Contact.ID)
	c := e.contact(t, s.Contact.ID)
	if !c.Ended() || c.Attributes[helpline.CSATAttribute] != "3" || len(e.items(t, c.ID, helpline.EventCSAT, "")) != 1 {
		t.Errorf("ended %v, csat %q; want rated 3 and ended", c.Ended(), c.Attributes[helpline.CSATAttribute])
	}
}

// A customer who leaves while asked ends the chat at once, as the
// customer's disconnect; the runner then does nothing.
func TestCSATCustomerLeaves(t *testing.T) {
	e := newRunnerEnv(t)
	r := e.runner(echo)
	ctx := context.Background()
	s := e.csatChat(t, &helpline.CSAT{Wait: time.Minute}, interactive...)
	r.TakeTurns(ctx, s.Contact.ID)
	if err := e.engine.Disconnect(ctx, s); err != nil {
		t.Fatal(err)
	}
	r.TakeTurns(ctx, s.Contact.ID)
	c := e.contact(t, s.Contact.ID)
	if !c.Ended() || c.EndReason != helpline.EndCustomerDisconnect {
		t.Errorf("ended %v (%s), want ended by the customer", c.Ended(), c.EndReason)
	}
	if got, want := e.csatTranscript(t, c.ID), "owner left:agent joined:custom_bot question left:custom_bot left:customer ended"; got != want {
		t.Errorf("transcript %s, want %s", got, want)
	}
}

// A flow without CSAT ends the chat at the agent's close; closing a chat
// that is being asked ends it now.
func TestCSATOffAndClosedAgain(t *testing.T) {
	e := newRunnerEnv(t)
	ctx := context.Background()
	s := e.csatChat(t, nil, interactive...)
	if c := e.contact(t, s.Contact.ID); !c.Ended() || c.EndReason != helpline.EndAgentDisconnect || len(e.items(t, c.ID, helpline.ContentInteractive, "")) != 0 {
		t.Errorf("a flow without CSAT: ended %v (%s), want ended at the close with no question", c.Ended(), c.EndReason)
	}
	s = e.csatChat(t, &helpline.CSAT{Wait: time.Minute}, interactive...)
	if err := e.engine.CloseContact(ctx, "inst-1", s.Contact.ID); err != nil {
		t.Fatal(err)
	}
	if c := e.contact(t, s.Contact.ID); !c.Ended() || c.EndReason != helpline.EndAgentDisconnect {
		t.Errorf("closed again while asked: ended %v (%s), want ended now", c.Ended(), c.EndReason)
	}
}

// A chat whose customer's client takes no interactive messages is asked
// in text, with a hint, and a typed digit rates it.
func TestCSATPlainText(t *testing.T) {
	e := newRunnerEnv(t)
	r := e.runner(echo)
	ctx := context.Background()
	s := e.csatChat(t, &helpline.CSAT{Question: "Rate us?", Wait: time.Minute})
	r.TakeTurns(ctx, s.Contact.ID)
	if got := e.botLines(t, s.Contact.ID); len(got) != 1 || got[0] != "Rate us? Please answer with a number from 1 to 5." {
		t.Fatalf("bot lines %q, want the question with the hint", got)
	}
	e.sayAs(t, s, helpline.ContentPlain, "5")
	r.TakeTurns(ctx, s.Contact.ID)
	if c := e.contact(t, s.Contact.ID); c.Attributes[helpline.CSATAttribute] != "5" || !c.Ended() {
		t.Errorf("csat %q, ended %v; want 5 and ended", c.Attributes[helpline.CSATAttribute], c.Ended())
	}
}

// The runner keeps nothing of a survey in memory: a contact closed while
// no runner ran is asked when one starts, and ends at its deadline with
// the runner's own reminder, which fires after the wait and ends the
// chat once the runner's clock says the deadline has passed.
func TestCSATAfterRestart(t *testing.T) {
	e := newRunnerEnv(t)
	s := e.csatChat(t, &helpline.CSAT{Question: "Rate us?", Wait: 200 * time.Millisecond}, interactive...)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	sub, err := e.bus.Subscribe(ctx, helpline.ContactSubject(s.Contact.ID))
	if err != nil {
		t.Fatal(err)
	}
	defer sub.Close()
	r := bot.NewRunner(bot.RunnerConfig{Store: e.store, Bus: e.bus, Engine: e.engine, Bots: map[string]bot.Bot{}, Now: e.clock.Now})
	done := make(chan error, 1)
	go func() { done <- r.Run(ctx) }()
	waitFor(t, sub, func(it *helpline.Item) bool { return it.ContentType == helpline.ContentInteractive })
	if c := e.contact(t, s.Contact.ID); c.Ended() {
		t.Fatal("ended before the runner's clock passed the deadline")
	}
	e.clock.Advance(time.Second)
	waitFor(t, sub, func(it *helpline.Item) bool { return it.ContentType == helpline.EventChatEnded })
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	c := e.contact(t, s.Contact.ID)
	if c.EndReason != helpline.EndAgentDisconnect || c.Attributes[helpline.CSATAttribute] != "" {
		t.Errorf("ended with %s, csat %q; want the agent's close and no rating", c.EndReason, c.Attributes[helpline.CSATAttribute])
	}
	if got, want := e.csatTranscript(t, c.ID), "owner left:agent joined:custom_bot question left:custom_bot left:customer ended"; got != want {
		t.Errorf("transcript %s, want %s", got, want)
	}
}
