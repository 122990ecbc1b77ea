package app

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/helplinehq/helpline"
	"github.com/helplinehq/helpline/chat"
	"github.com/helplinehq/helpline/routing"
)

// RoutingConfig tunes the routing of waiting chats to agents.
type RoutingConfig struct {
	// PresenceGrace is how long an agent without a live connection keeps
	// the status it set before routing counts it offline (default 60s).
	PresenceGrace Duration `yaml:"presence_grace"`
	// PositionStep is how far a waiting customer's place in the queue
	// moves before they are told it again (default 1: every move).
	PositionStep int `yaml:"position_step"`
}

func (rc RoutingConfig) grace() time.Duration {
	if rc.PresenceGrace <= 0 {
		return routing.DefaultGrace
	}
	return rc.PresenceGrace.std()
}

// routingBackstop is the longest the loop sleeps: it catches what lost
// bus events and other nodes' decisions left undone.
const routingBackstop = time.Second

// Customer notices of the queue.
const (
	positionNotice = "You are number %d in the queue."
	nobodyNotice   = "Nobody is available to answer right now. Your chat stays in the queue, and an agent will answer as soon as one is online."
)

// router is the routing loop: it offers waiting contacts to agents,
// closes offers that ran out or lost their agent, returns absent agents'
// chats to their queues, and tells waiting customers their place.
//
// Each round reads every instance's routing snapshot, decides
// (routing.Decide) and applies the plan through the store. Several nodes
// may each run the loop on one store: every step is a compare-and-swap
// or a capacity check in the store's transaction (CreateOffer on the
// contact's owner and version, AcceptOffer and ChangeOwner on the
// owner's version, capacity wherever load rises), so a plan applied twice
// assigns no chat twice and overloads no agent; the step that loses
// fails with ECONFLICT or EQUOTA, which means someone else acted, and the
// next round decides again. Customer notices are idempotent on a client
// token naming the queue stay and the position, so nodes tell a customer
// each thing once.
type router struct {
	store  helpline.Store
	bus    helpline.Bus
	engine *chat.Service
	now    func() time.Time
	grace  time.Duration
	step   int
	log    *slog.Logger

	// told is what each waiting contact was told, by contact id. Only the
	// goroutine running rounds uses it.
	told map[string]*notice
	// status is each agent's presence as routing acted on it at the last
	// round, by instance and agent id; only the goroutine running rounds
	// uses it.
	status map[agentKey]string
}

type agentKey struct{ instance, agent string }

// notice is what a contact waiting in a queue since version was told.
type notice struct {
	version  int64
	position int
	nobody   bool
}

func newRouter(store helpline.Store, bus helpline.Bus, engine *chat.Service, now func() time.Time, rc RoutingConfig, log *slog.Logger) *router {
	step := rc.PositionStep
	if step <= 0 {
		step = 1
	}
	if now == nil {
		now = helpline.Now
	}
	return &router{store: store, bus: bus, engine: engine, now: now, grace: rc.grace(), step: step, log: log,
		told: map[string]*notice{}, status: map[agentKey]string{}}
}

// Run runs rounds until ctx is done: one at once, then one whenever an
// event may allow a new offer (wakes), the earliest deadline a round
// found is reached, or routingBackstop has passed. Events that
// arrive during a round are taken together by the next one.
func (r *router) Run(ctx context.Context) error {
	contacts, err := r.bus.Subscribe(ctx, helpline.AllContacts)
	if err != nil {
		return err
	}
	defer contacts.Close()
	agents, err := r.bus.Subscribe(ctx, helpline.AllAgents)
	if err != nil {
		return err
	}
	defer agents.Close()
	timer := time.NewTimer(0)
	defer timer.Stop()
	for {
		next := r.round(ctx)
		wait := routingBackstop
		if !next.IsZero() {
			wait = min(wait, max(next.Sub(r.now()), 0))
		}
		timer.Reset(wait)
		if !r.sleep(ctx, timer, contacts, agents) {
			return nil
		}
		timer.Stop()
	}
}

// sleep waits for a reason to run a round, then takes the events already
// waiting (at most drainMax), which that one round covers. It returns
// false when ctx is done or a subscription closed.
func (r *router) sleep(ctx context.Context, timer *time.Timer, contacts, agents helpline.Subscription) bool {
	for woken := false; !woken; {
		select {
		case <-ctx.Done():
			return false
		case <-timer.C:
			woken = true
		case ev, ok := <-contacts.Events():
			if !ok {
				return false
			}
			woken = wakes(ev)
		case ev, ok := <-agents.Events():
			if !ok {
				return false
			}
			woken = wakes(ev)
		}
	}
	for range drainMax {
		select {
		case _, ok := <-contacts.Events():
			if !ok {
				return false
			}
		case _, ok := <-agents.Events():
			if !ok {
				return false
			}
		default:
			return true
		}
	}
	return true
}

// drainMax bounds how many waiting events one round takes.
const drainMax = 1024

// wakes reports whether ev may let routing offer a chat it could not
// offer before, or must withdraw an offer: a contact entered a queue, left
// an agent (who has room again) or ended; an agent's presence changed or
// it was signed out (disabled); an offer was declined, expired or
// withdrawn; or the bus lost events that may have said so (a round reads
// everything from the store). A new pending offer (this or another node's
// round made it), an accepted one and a contact going from a queue to an
// agent make no new offer possible, and waking on them would cost every
// chat several rounds; the places of customers still waiting behind such
// a contact are told at the next round, within routingBackstop.
func wakes(ev helpline.Event) bool {
	switch ev.Kind {
	case helpline.EventOwner:
		return ev.Owner != nil && (strings.HasPrefix(ev.Owner.Owner, helpline.OwnerQueue+":") ||
			strings.HasPrefix(ev.Owner.From, helpline.OwnerAgent+":"))
	case helpline.EventOffer:
		return ev.Offer != nil && ev.Offer.State != helpline.OfferPending && ev.Offer.State != helpline.OfferAccepted
	case helpline.EventItem:
		return ev.Item != nil && ev.Item.ContentType == helpline.EventChatEnded
	}
	return ev.Kind == helpline.EventPresence || ev.Kind == helpline.EventSignedOut || ev.Kind == helpline.EventGap
}

// round routes every instance once and returns the earliest time a
// decision could change by the clock alone (zero if none).
func (r *router) round(ctx context.Context) time.Time {
	instances, err := r.store.FindInstances(ctx)
	if err != nil {
		if ctx.Err() == nil {
			r.log.Error("routing: reading instances", "err", err)
		}
		return time.Time{}
	}
	var next time.Time
	waiting := map[string]bool{}
	for _, in := range instances {
		t, err := r.route(ctx, in.ID, waiting)
		if err != nil {
			if ctx.Err() == nil {
				r.log.Error("routing", "instance", in.ID, "err", err)
			}
			continue
		}
		if !t.IsZero() && (next.IsZero() || t.Before(next)) {
			next = t
		}
	}
	for id := range r.told {
		if !waiting[id] {
			delete(r.told, id)
		}
	}
	return next
}

// route applies one decision on the instance and tells its waiting
// customers their place; it adds them to waiting.
func (r *router) route(ctx context.Context, instanceID string, waiting map[string]bool) (time.Time, error) {
	snap, err := r.store.RoutingSnapshot(ctx, instanceID)
	if err != nil {
		return time.Time{}, err
	}
	if len(snap.Waiting) == 0 && len(snap.Offers) == 0 && len(snap.Agents) == 0 {
		return time.Time{}, nil
	}
	now := r.now().UTC().Truncate(time.Millisecond)
	r.announceLapses(ctx, instanceID, snap, now)
	plan := routing.Decide(snap, now, r.grace)
	for _, c := range plan.Close {
		if err := r.store.CloseOffer(ctx, c.Offer.ID, c.State, now); err != nil {
			if !raced(err) {
				return time.Time{}, err
			}
			continue
		}
		closed := *c.Offer
		closed.State, closed.DecidedAt = c.State, now
		r.publishOffer(ctx, &closed)
	}
	for _, ch := range plan.Requeue {
		if _, _, err := r.engine.ChangeOwner(ctx, *ch); err != nil && !raced(err) {
			return time.Time{}, err
		}
	}
	offered := map[string]bool{}
	for _, o := range snap.Offers {
		if o.State == helpline.OfferPending && now.Before(o.ExpiresAt) {
			offered[o.ContactID] = true
		}
	}
	for _, no := range plan.Offers {
		o := no.Offer
		if err := r.store.CreateOffer(ctx, o); err != nil {
			if !raced(err) {
				return time.Time{}, err
			}
			continue
		}
		offered[o.ContactID] = true
		r.publishOffer(ctx, o)
		if no.AutoAccept {
			// AcceptOffer publishes the offer's new state itself.
			if _, _, err := r.engine.AcceptOffer(ctx, o.ID); err != nil && !raced(err) {
				return time.Time{}, err
			}
		}
	}
	r.tell(ctx, snap, now, offered, waiting)
	return routing.Next(snap, now, r.grace), nil
}

// announceLapses publishes the presence of each agent that the clock
// alone made offline since the last round: its last connection closed
// more than the grace ago, which no store write marks, so that the
// consoles watching it (and its own, if one is still open) show it at
// once. Every node's router may announce the same lapse; consoles push a
// presence only when it changed. The round that follows withdraws the
// agent's pending offers, whose chats keep their place in their queues.
func (r *router) announceLapses(ctx context.Context, instanceID string, snap *helpline.RoutingSnapshot, now time.Time) {
	for _, a := range snap.Agents {
		key := agentKey{instanceID, a.Agent.ID}
		st := routing.Status(a.Presence, now, r.grace)
		before, seen := r.status[key]
		r.status[key] = st
		if !seen || before == st || st != helpline.PresenceOffline || a.Presence.Status == helpline.PresenceOffline {
			continue // not a lapse: the write that changed it published it
		}
		p := a.Presence
		ev := helpline.Event{Kind: helpline.EventPresence, Subject: helpline.AgentSubject(a.Agent.ID), Presence: &p}
		if err := r.bus.Publish(context.WithoutCancel(ctx), ev); err != nil {
			r.log.Error("routing: publish presence", "agent", a.Agent.ID, "err", err)
		}
	}
}

// tell gives each customer waiting in the snapshot without an offer
// their place in their queue when it is new or has moved by the step,
// and, once per stay, that nobody who serves the queue is online.
func (r *router) tell(ctx context.Context, snap *helpline.RoutingSnapshot, now time.Time, offered, waiting map[string]bool) {
	online := map[string]bool{} // queues with an agent online
	for _, a := range snap.Agents {
		if a.Agent.Enabled && routing.Status(a.Presence, now, r.grace) == helpline.PresenceOnline {
			for _, q := range a.Agent.Queues {
				online[q] = true
			}
		}
	}
	position := map[string]int{}
	for _, w := range snap.Waiting {
		position[w.QueueID]++
		waiting[w.ContactID] = true
		if offered[w.ContactID] {
			continue
		}
		n := r.told[w.ContactID]
		if n == nil || n.version != w.Version {
			n = &notice{version: w.Version}
			r.told[w.ContactID] = n
		}
		pos := position[w.QueueID]
		if n.position == 0 || abs(n.position-pos) >= r.step {
			token := fmt.Sprintf("queue/%s/%d/position/%d", w.QueueID, w.Version, pos)
			if r.notify(ctx, w.ContactID, fmt.Sprintf(positionNotice, pos), token) {
				n.position = pos
			}
		}
		if !n.nobody && !online[w.QueueID] {
			n.nobody = r.notify(ctx, w.ContactID, nobodyNotice, fmt.Sprintf("queue/%s/%d/nobody", w.QueueID, w.Version))
		}
	}
}

// notify sends a notice and reports whether it was sent. A contact that
// ended meanwhile needs none.
func (r *router) notify(ctx context.Context, contactID, text, token string) bool {
	if _, err := r.engine.Notify(ctx, contactID, text, token); err != nil {
		if !raced(err) && ctx.Err() == nil {
			r.log.Error("routing: telling a customer", "contact", contactID, "err", err)
		}
		return false
	}
	return true
}

func (r *router) publishOffer(ctx context.Context, o *helpline.Offer) {
	ev := helpline.Event{Kind: helpline.EventOffer, Subject: helpline.AgentSubject(o.AgentID), Offer: o}
	if err := r.bus.Publish(context.WithoutCancel(ctx), ev); err != nil {
		r.log.Error("routing: publish offer", "offer", o.ID, "err", err)
	}
}

// raced reports whether err says that someone else acted first: the
// contact's owner or version moved on, the offer was decided, the agent
// filled up. The next round decides again.
func raced(err error) bool {
	code := helpline.ErrorCode(err)
	return code == helpline.ECONFLICT || code == helpline.EQUOTA
}

func abs(n int) int {
	if n < 0 {
		return -n
	}
	return n
}
