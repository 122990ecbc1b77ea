package chat_test

import (
	"context"
	"sync/atomic"
	"testing"
	"time"

	"github.com/helplinehq/helpline"
	"github.com/helplinehq/helpline/chat"
)

// TestLostEventsResetSessions runs a second engine (another node) on the
// same store whose bus subscription loses an agent's participant.left
// item. Once the engine notices the loss, its cached session of that agent
// must be gone: the agent's token is refused, as the store says it left.
func TestLostEventsResetSessions(t *testing.T) {
	e := newEnv(t)
	started, customer := e.start(t, helpline.StartChatInput{})
	added, err := e.svc.AddParticipant(ctx, helpline.AddParticipantInput{
		InstanceID: customer.Contact.InstanceID, ContactID: customer.Contact.ID, Role: helpline.RoleAgent, DisplayName: "Alex",
	})
	if err != nil {
		t.Fatal(err)
	}

	feed := &handFedSubscription{events: make(chan helpline.Event)}
	other := runEngine(t, chat.Config{Store: e.store, Bus: handFedBus{e.bus, feed}, Blobs: newBlobs(t), Tokens: testTokens, Now: e.clock.Now})
	if _, err := other.Authenticate(ctx, helpline.ParticipantToken, added.ParticipantToken); err != nil {
		t.Fatalf("Authenticate on the other engine: %v", err)
	}
	customerThere, err := other.Authenticate(ctx, helpline.ParticipantToken, started.ParticipantToken)
	if err != nil {
		t.Fatalf("Authenticate on the other engine: %v", err)
	}

	published, err := e.bus.Subscribe(ctx, helpline.AllContacts)
	if err != nil {
		t.Fatal(err)
	}
	defer published.Close()
	if err := e.svc.Disconnect(ctx, e.auth(t, helpline.ParticipantToken, added.ParticipantToken)); err != nil {
		t.Fatal(err)
	}
	if ev := nextEvent(t, published); ev.Item == nil || ev.Item.ContentType != helpline.EventParticipantLeft {
		t.Fatalf("first event after Disconnect = %+v, want the agent's participant.left", ev)
	}
	feed.lost.Add(1) // the other engine's subscription drops it

	e.send(t, customer, "anyone there?")
	feed.events <- nextEvent(t, published) // the engine notices the loss as it handles this one
	typing := &helpline.Item{ContactID: customer.Contact.ID, ID: helpline.NewID(), Type: helpline.ItemEvent, ContentType: helpline.EventTyping,
		ParticipantID: customer.Participant.ID, Role: helpline.RoleCustomer, Time: e.clock.Now()}
	feed.events <- helpline.NewItemEvent(typing) // taken only once the message is handled

	if _, err := other.Authenticate(ctx, helpline.ParticipantToken, added.ParticipantToken); helpline.ErrorCode(err) != helpline.EFORBIDDEN {
		t.Errorf("Authenticate of the agent who left, after lost events = %v, want EFORBIDDEN", err)
	}
	// Sessions already handed out keep working; the store has the customer
	// present, so its token is accepted again.
	if _, err := other.SendMessage(ctx, customerThere, helpline.ContentPlain, "still here", ""); err != nil {
		t.Errorf("SendMessage with a session taken before the reset: %v", err)
	}
	if _, err := other.Authenticate(ctx, helpline.ParticipantToken, started.ParticipantToken); err != nil {
		t.Errorf("Authenticate of the customer still present: %v", err)
	}
}

// runEngine starts an engine over cfg, runs it until the test ends and
// returns it once it has subscribed to the bus.
func runEngine(t *testing.T, cfg chat.Config) *chat.Service {
	t.Helper()
	svc := chat.New(cfg)
	runCtx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- svc.Run(runCtx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Run: %v", err)
		}
	})
	select {
	case <-svc.Ready():
	case err := <-done:
		t.Fatalf("Run: %v", err)
	}
	return svc
}

// handFedBus publishes to a real bus but gives every subscriber the one
// subscription the test feeds by hand, so that the test decides what is
// delivered and what is lost.
type handFedBus struct {
	helpline.Bus
	sub *handFedSubscription
}

func (b handFedBus) Subscribe(context.Context, helpline.Subject) (helpline.Subscription, error) {
	return b.sub, nil
}

// handFedSubscription is unbuffered: a send to events returns once the
// subscriber has taken the event, that is, once it has finished handling
// the one before.
type handFedSubscription struct {
	events chan helpline.Event
	lost   atomic.Uint64
}

func (s *handFedSubscription) Events() <-chan helpline.Event { return s.events }
func (s *handFedSubscription) Lost() uint64                  { return s.lost.Load() }
func (s *handFedSubscription) Close()                        {}

func nextEvent(t *testing.T, sub helpline.Subscription) helpline.Event {
	t.Helper()
	select {
	case ev := <-sub.Events():
		return ev
	case <-time.After(10 * time.Second):
		t.Fatal("no bus event within 10s")
	}
	panic("unreachable")
}
