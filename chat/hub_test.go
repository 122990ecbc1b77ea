package chat_test

import (
	"fmt"
	"sync"
	"testing"

	"github.com/helplinehq/helpline"
)

func TestWatchStoredThenLive(t *testing.T) {
	e := newEnv(t)
	_, customer := e.start(t, helpline.StartChatInput{InitialMessage: struct{ ContentType, Content string }{helpline.ContentPlain, "hi"}})
	agent := e.addAgent(t, customer.Contact, helpline.RoleAgent)
	e.send(t, agent, "hello")

	fromStart, fromMiddle := newSink(0), newSink(0)
	if _, err := e.svc.Watch(ctx, customer, 0, fromStart); err != nil {
		t.Fatal(err)
	}
	if _, err := e.svc.Watch(ctx, agent, 2, fromMiddle); err != nil {
		t.Fatal(err)
	}
	e.send(t, customer, "live")
	checkSeqs(t, storedSeqs(fromStart.waitN(t, 5)), 0, 5)
	got := fromMiddle.waitN(t, 3)
	checkSeqs(t, storedSeqs(got), 2, 5)
	if got[2].Content != "live" {
		t.Errorf("last item = %+v", got[2])
	}
}

// TestWatchConcurrentSenders checks exactly-once, in-order delivery while
// many participants send at once and sinks join midway.
func TestWatchConcurrentSenders(t *testing.T) {
	e := newEnv(t)
	_, customer := e.start(t, helpline.StartChatInput{})
	senders := []*helpline.Session{customer}
	for range 3 {
		senders = append(senders, e.addAgent(t, customer.Contact, helpline.RoleBot))
	}
	early := newSink(0)
	if _, err := e.svc.Watch(ctx, customer, 0, early); err != nil {
		t.Fatal(err)
	}
	const perSender = 100
	var wg sync.WaitGroup
	for i, sess := range senders {
		for g := range 2 {
			wg.Go(func() {
				for n := range perSender / 2 {
					if _, err := e.svc.SendMessage(ctx, sess, helpline.ContentPlain, fmt.Sprintf("%d-%d-%d", i, g, n), ""); err != nil {
						t.Errorf("SendMessage: %v", err)
						return
					}
				}
			})
		}
	}
	late := newSink(0)
	if _, err := e.svc.Watch(ctx, senders[1], 2, late); err != nil {
		t.Fatal(err)
	}
	wg.Wait()
	total := int64(4 + len(senders)*perSender) // 4 joined items
	checkSeqs(t, storedSeqs(early.waitN(t, int(total))), 0, total)
	checkSeqs(t, storedSeqs(late.waitN(t, int(total-2))), 2, total)
}

// TestWatchGap stores items behind the bus's back: the next published item
// shows a gap and the sink is caught up from the store.
func TestWatchGap(t *testing.T) {
	e := newEnv(t)
	_, customer := e.start(t, helpline.StartChatInput{})
	s := newSink(0)
	if _, err := e.svc.Watch(ctx, customer, 1, s); err != nil {
		t.Fatal(err)
	}
	for n := range 3 {
		it := e.customerMessage(customer, fmt.Sprint("unpublished ", n))
		if _, err := e.store.AppendItem(ctx, it); err != nil {
			t.Fatal(err)
		}
	}
	e.send(t, customer, "published")
	got := s.waitN(t, 4)
	checkSeqs(t, storedSeqs(got), 1, 5)
	if got[0].Content != "unpublished 0" || got[3].Content != "published" {
		t.Errorf("contents = %q ... %q", got[0].Content, got[3].Content)
	}
}

// TestWatchOutOfOrder publishes two stored items in reverse Seq order, as
// two goroutines that committed them together may: the later one waits for
// the earlier, both arrive in order, and nothing is read from the store.
func TestWatchOutOfOrder(t *testing.T) {
	reads := &countingReads{}
	e := newEnv(t, withStoreReads(reads))
	_, customer := e.start(t, helpline.StartChatInput{})
	s := newSink(0)
	if _, err := e.svc.Watch(ctx, customer, customer.Contact.LastSeq, s); err != nil {
		t.Fatal(err)
	}
	e.send(t, customer, "first")
	s.waitN(t, 1)
	before := reads.n.Load()

	var items []*helpline.Item
	for n := range 2 {
		it := e.customerMessage(customer, fmt.Sprint("together ", n))
		if _, err := e.store.AppendItem(ctx, it); err != nil {
			t.Fatal(err)
		}
		items = append(items, it)
	}
	for _, it := range []*helpline.Item{items[1], items[0]} {
		if err := e.bus.Publish(ctx, helpline.NewItemEvent(it)); err != nil {
			t.Fatal(err)
		}
	}
	got := s.waitN(t, 3)
	if got[1].Content != "together 0" || got[2].Content != "together 1" {
		t.Errorf("contents = %q, %q; want together 0, together 1", got[1].Content, got[2].Content)
	}
	if n := reads.n.Load() - before; n != 0 {
		t.Errorf("%d catch-up reads for items that arrived out of order; want 0", n)
	}
}

// TestWatchIgnoresOtherKinds publishes on a contact's subject events of
// kinds the engine does not handle, one of them carrying an item: sinks get
// only the transcript's items.
func TestWatchIgnoresOtherKinds(t *testing.T) {
	e := newEnv(t)
	_, customer := e.start(t, helpline.StartChatInput{})
	s := newSink(0)
	if _, err := e.svc.Watch(ctx, customer, customer.Contact.LastSeq, s); err != nil {
		t.Fatal(err)
	}
	subject := helpline.ContactSubject(customer.Contact.ID)
	typing := &helpline.Item{ContactID: customer.Contact.ID, ID: helpline.NewID(), Type: helpline.ItemEvent, ContentType: helpline.EventTyping,
		ParticipantID: customer.Participant.ID, Role: helpline.RoleCustomer, Time: e.clock.Now()}
	for _, ev := range []helpline.Event{
		{Kind: helpline.EventOwner, Subject: subject, Owner: &helpline.Ownership{Owner: "agent:a1", Version: 2}},
		{Kind: "chat_test.unknown", Subject: subject, Item: typing},
	} {
		if err := e.bus.Publish(ctx, ev); err != nil {
			t.Fatal(err)
		}
	}
	e.send(t, customer, "hello") // published after them, so handled after them
	if got := s.waitN(t, 1); len(got) != 1 || got[0].Content != "hello" {
		t.Errorf("sink got %d items (%v), want only the message", len(got), contentTypes(got))
	}
}

// TestWatchLostEvents gives the engine a bus buffer of one event, so that
// bursts overflow it; the sinks still get everything, in order, once.
func TestWatchLostEvents(t *testing.T) {
	e := newEnv(t, withBusBuffers(1, 1))
	_, customer := e.start(t, helpline.StartChatInput{})
	var sinks []*sink
	var sessions []*helpline.Session
	for range 3 {
		_, sess := e.start(t, helpline.StartChatInput{})
		s := newSink(0)
		if _, err := e.svc.Watch(ctx, sess, 0, s); err != nil {
			t.Fatal(err)
		}
		sinks, sessions = append(sinks, s), append(sessions, sess)
	}
	var wg sync.WaitGroup
	for _, sess := range append(sessions, customer) {
		wg.Go(func() {
			for range 100 {
				if _, err := e.svc.SendMessage(ctx, sess, helpline.ContentPlain, "burst", ""); err != nil {
					t.Errorf("SendMessage: %v", err)
					return
				}
			}
		})
	}
	wg.Wait()
	for _, s := range sinks {
		checkSeqs(t, storedSeqs(s.waitN(t, 101)), 0, 101)
	}
}

func TestWatchEndsOnChatEnd(t *testing.T) {
	e := newEnv(t)
	_, customer := e.start(t, helpline.StartChatInput{})
	agent := e.addAgent(t, customer.Contact, helpline.RoleAgent)
	cs, as := newSink(0), newSink(0)
	for _, w := range []struct {
		sess *helpline.Session
		sink *sink
	}{{customer, cs}, {agent, as}} {
		if _, err := e.svc.Watch(ctx, w.sess, 0, w.sink); err != nil {
			t.Fatal(err)
		}
	}
	e.send(t, customer, "bye")
	if err := e.svc.StopContact(ctx, e.inst.ID, customer.Contact.ID); err != nil {
		t.Fatal(err)
	}
	// The agent sees everything up to chat.ended; the customer's sink ends
	// at its own participant.left with a synthetic chat.ended.
	got := as.waitEnd(t)
	wantTypes := []string{helpline.EventParticipantJoined, helpline.EventParticipantJoined, helpline.ContentPlain,
		helpline.EventParticipantLeft}
	if types := contentTypes(got); !equal(types, append(wantTypes, helpline.EventChatEnded)) {
		t.Errorf("agent's sink got %v", types)
	}
	got = cs.waitEnd(t)
	if types := contentTypes(got); !equal(types, append(wantTypes, helpline.EventParticipantLeft, helpline.EventChatEnded)) {
		t.Errorf("customer's sink got %v", types)
	}
	if last := got[len(got)-1]; last.Stored() || last.ContactID != customer.Contact.ID || last.Role != helpline.RoleSystem || last.ID == "" {
		t.Errorf("synthetic chat.ended = %+v", last)
	}
	// A watcher that comes late replays the transcript and ends too.
	late := newSink(0)
	if _, err := e.svc.Watch(ctx, customer, 0, late); err != nil {
		t.Fatal(err)
	}
	if types := contentTypes(late.waitEnd(t)); len(types) != 6 || types[5] != helpline.EventChatEnded {
		t.Errorf("late sink got %v", types)
	}
	if _, ends := cs.snapshot(); ends != 1 {
		t.Errorf("customer's sink ended %d times", ends)
	}
}

func TestWatchEndsWhenParticipantLeaves(t *testing.T) {
	e := newEnv(t)
	_, customer := e.start(t, helpline.StartChatInput{})
	bot := e.addAgent(t, customer.Contact, helpline.RoleBot)
	bs, cs := newSink(0), newSink(0)
	if _, err := e.svc.Watch(ctx, bot, 0, bs); err != nil {
		t.Fatal(err)
	}
	if _, err := e.svc.Watch(ctx, customer, 0, cs); err != nil {
		t.Fatal(err)
	}
	if err := e.svc.Disconnect(ctx, bot); err != nil {
		t.Fatal(err)
	}
	got := bs.waitEnd(t)
	want := []string{helpline.EventParticipantJoined, helpline.EventParticipantJoined, helpline.EventParticipantLeft, helpline.EventChatEnded}
	if !equal(contentTypes(got), want) {
		t.Errorf("bot's sink got %v, want %v", contentTypes(got), want)
	}
	// The customer's sink sees the bot leave and goes on.
	e.send(t, customer, "anyone?")
	got = cs.waitN(t, 4)
	if _, ends := cs.snapshot(); ends != 0 || got[2].ContentType != helpline.EventParticipantLeft || got[3].Content != "anyone?" {
		t.Errorf("customer's sink: %v, ends %d", contentTypes(got), ends)
	}
}

func TestWatchDropsSlowSink(t *testing.T) {
	e := newEnv(t)
	_, customer := e.start(t, helpline.StartChatInput{})
	slow, fine := newSink(2), newSink(0)
	for _, s := range []*sink{slow, fine} {
		if _, err := e.svc.Watch(ctx, customer, 0, s); err != nil {
			t.Fatal(err)
		}
	}
	for range 5 {
		e.send(t, customer, "m")
	}
	slow.waitEnd(t)
	checkSeqs(t, storedSeqs(fine.waitN(t, 6)), 0, 6)
	if items, ends := slow.snapshot(); len(items) != 2 || ends != 1 {
		t.Errorf("slow sink: %d items, %d ends", len(items), ends)
	}
}

func TestWatchStop(t *testing.T) {
	e := newEnv(t)
	_, customer := e.start(t, helpline.StartChatInput{})
	stopped, kept := newSink(0), newSink(0)
	stop, err := e.svc.Watch(ctx, customer, 0, stopped)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.svc.Watch(ctx, customer, 0, kept); err != nil {
		t.Fatal(err)
	}
	stopped.waitN(t, 1)
	stop()
	stop() // harmless
	e.send(t, customer, "after stop")
	kept.waitN(t, 2)
	if items, ends := stopped.snapshot(); len(items) != 1 || ends != 0 {
		t.Errorf("stopped sink: %d items, %d ends; want 1 item and no End", len(items), ends)
	}
}

func TestWatchTyping(t *testing.T) {
	e := newEnv(t)
	_, customer := e.start(t, helpline.StartChatInput{})
	agent := e.addAgent(t, customer.Contact, helpline.RoleAgent)
	s := newSink(0)
	if _, err := e.svc.Watch(ctx, customer, customer.Contact.LastSeq+1, s); err != nil {
		t.Fatal(err)
	}
	typing, err := e.svc.SendEvent(ctx, agent, helpline.EventTyping, "", "")
	if err != nil {
		t.Fatal(err)
	}
	got := s.waitN(t, 1)
	if got[0].ID != typing.ID || got[0].Role != helpline.RoleAgent || got[0].DisplayName != "Alex" {
		t.Errorf("typing delivered as %+v", got[0])
	}
}

// customerMessage is a message from the session's customer, not yet
// stored, for tests that store items behind the engine's back.
func (e *env) customerMessage(customer *helpline.Session, content string) *helpline.Item {
	return &helpline.Item{ContactID: customer.Contact.ID, ID: helpline.NewID(), Type: helpline.ItemMessage,
		ContentType: helpline.ContentPlain, Content: content, ParticipantID: customer.Participant.ID,
		DisplayName: "Casey", Role: helpline.RoleCustomer, Time: e.clock.Now()}
}
