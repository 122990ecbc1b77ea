package chat

import (
	"cmp"
	"context"
	"log/slog"
	"math"
	"slices"
	"sync"
	"time"

	"github.com/helplinehq/helpline"
)

// Watch delivers to sink the session's contact's stored items with Seq
// above from, in Seq order and each exactly once, first from the store and
// then as they are published; ephemeral items (typing) are delivered as
// they arrive. The sink ends (End is called once, after the last Deliver):
//
//   - after the contact's chat.ended item;
//   - after the participant's own participant.left item, followed by a
//     synthetic (unstored) chat.ended item, so that clients close;
//   - when Deliver returns false;
//   - when Run returns.
//
// stop detaches the sink without calling End; no Deliver starts after stop
// returns. Deliver is called with the engine's fan-out lock held: it must
// not block nor call stop. End may call stop. ctx bounds only the call.
func (s *Service) Watch(ctx context.Context, sess *helpline.Session, from int64, sink helpline.Sink) (stop func(), err error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	return s.hub.watch(sess.Contact.ID, sess.Participant.ID, max(from, 0), sink), nil
}

// Tuning of the catch-up reads.
const (
	refillBatch       = 500
	maxRefills        = 8 // concurrent catch-up reads
	refillReadTimeout = 30 * time.Second
)

// hub fans items out to the sinks watching each contact. It holds no
// goroutine per sink or per contact: the dispatcher delivers live items,
// and a short-lived goroutine per room catches sinks up from the store
// when they fall behind (a Seq gap, a lost bus event, a new sink).
type hub struct {
	items itemFinder
	// now stamps the synthetic chat.ended item.
	now func() time.Time
	log *slog.Logger
	// sem bounds concurrent catch-up reads.
	sem chan struct{}

	// mu guards rooms, every room and every watcher in them, and ends.
	mu    sync.Mutex
	rooms map[string]*room
	// ends are the sinks to End once mu is released, so that End may call
	// back into the hub.
	ends []helpline.Sink
}

// room is the set of sinks watching one contact.
type room struct {
	contactID string
	watchers  []*watcher
	// refilling is set while a catch-up goroutine runs; dirty asks it for
	// one more pass.
	refilling, dirty bool
	// early holds, in Seq order, items that arrived before one a watcher
	// still needs; gapTimer sends the room to the store if that one does
	// not follow within gapWait.
	early    []*helpline.Item
	gapTimer *time.Timer
}

type watcher struct {
	room          *room
	sink          helpline.Sink
	participantID string
	// last is the Seq of the last stored item delivered.
	last int64
	done bool
}

// itemFinder is what the hub reads from the store: the items it catches
// sinks up with.
type itemFinder interface {
	FindItems(ctx context.Context, contactID string, q helpline.ItemQuery) ([]*helpline.Item, error)
}

func newHub(items itemFinder, now func() time.Time, log *slog.Logger) *hub {
	return &hub{items: items, now: now, log: log, sem: make(chan struct{}, maxRefills), rooms: make(map[string]*room)}
}

// unlock releases mu and then ends the sinks dropped meanwhile.
func (h *hub) unlock() {
	ends := h.ends
	h.ends = nil
	h.mu.Unlock()
	for _, sink := range ends {
		sink.End()
	}
}

func (h *hub) watch(contactID, participantID string, from int64, sink helpline.Sink) func() {
	h.mu.Lock()
	defer h.unlock()
	r := h.rooms[contactID]
	if r == nil {
		r = &room{contactID: contactID}
		h.rooms[contactID] = r
	}
	w := &watcher{room: r, sink: sink, participantID: participantID, last: from}
	r.watchers = append(r.watchers, w)
	h.refillLocked(r)
	return func() {
		h.mu.Lock()
		defer h.unlock()
		if w.done {
			return
		}
		w.done = true
		for i, o := range r.watchers {
			if o == w {
				h.removeLocked(r, i)
				break
			}
		}
	}
}

// dispatch fans one bus item out to the sinks of its contact.
//
// Items of one contact may arrive out of Seq order: two participants'
// messages committed together are published by two goroutines. An item
// that arrives before one a watcher still needs is held for up to gapWait
// (at most maxEarly of them per contact) rather than sending the room to
// the store at once: the missing item is almost always on its way. If it
// has not come by then, or too many wait, the room catches up from the
// store, which also covers an event the bus lost.
func (h *hub) dispatch(it *helpline.Item) {
	h.mu.Lock()
	defer h.unlock()
	r := h.rooms[it.ContactID]
	if r == nil {
		return
	}
	if !h.deliverLiveLocked(r, it) {
		h.drainEarlyLocked(r)
		return
	}
	if len(r.early) >= maxEarly {
		r.early = nil
		h.refillLocked(r)
		return
	}
	i, found := slices.BinarySearchFunc(r.early, it.Seq, func(e *helpline.Item, seq int64) int { return cmp.Compare(e.Seq, seq) })
	if !found {
		r.early = slices.Insert(r.early, i, it)
	}
	if r.gapTimer == nil {
		r.gapTimer = time.AfterFunc(gapWait, func() { h.gapExpired(r) })
	} else if len(r.early) == 1 {
		r.gapTimer.Reset(gapWait)
	}
}

// Holding early items.
const (
	gapWait  = 20 * time.Millisecond
	maxEarly = 32
)

// deliverLiveLocked delivers it to the watchers of r that need it next
// and reports whether a watcher is still missing an item before it.
func (h *hub) deliverLiveLocked(r *room, it *helpline.Item) (gap bool) {
	// Backwards, so that removing watcher i (swap with the last) skips none.
	for i := len(r.watchers) - 1; i >= 0; i-- {
		w := r.watchers[i]
		switch {
		case !it.Stored(), it.Seq == w.last+1:
			h.deliverLocked(r, i, it)
		case it.Seq > w.last+1:
			gap = true
		}
	}
	return gap
}

// drainEarlyLocked delivers the held items that have become next in line
// and forgets those every watcher has had.
func (h *hub) drainEarlyLocked(r *room) {
	if len(r.early) == 0 {
		return
	}
	for _, it := range r.early {
		h.deliverLiveLocked(r, it)
	}
	low := int64(math.MaxInt64)
	for _, w := range r.watchers {
		low = min(low, w.last)
	}
	n := 0
	for n < len(r.early) && r.early[n].Seq <= low {
		r.early[n] = nil
		n++
	}
	r.early = r.early[n:]
	if len(r.early) == 0 {
		r.early = nil
		r.gapTimer.Stop()
	}
}

// gapExpired sends r to the store when items it holds are still waiting
// for an earlier one.
func (h *hub) gapExpired(r *room) {
	h.mu.Lock()
	defer h.unlock()
	if len(r.early) == 0 || h.rooms[r.contactID] != r {
		return
	}
	r.early = nil
	h.refillLocked(r)
}

// deliverLocked delivers it to watcher i of r and ends the watcher if the
// item ends its session or the sink cannot keep up.
func (h *hub) deliverLocked(r *room, i int, it *helpline.Item) {
	w := r.watchers[i]
	if it.Stored() {
		w.last = it.Seq
	}
	if !w.sink.Deliver(it) {
		h.dropLocked(r, i)
		return
	}
	switch {
	case it.Stored() && it.ContentType == helpline.EventChatEnded:
		h.dropLocked(r, i)
	case it.ContentType == helpline.EventParticipantLeft && it.ParticipantID == w.participantID:
		w.sink.Deliver(chatEnded(r.contactID, h.now()))
		h.dropLocked(r, i)
	}
}

// dropLocked removes watcher i of r and queues its End.
func (h *hub) dropLocked(r *room, i int) {
	w := r.watchers[i]
	w.done = true
	h.ends = append(h.ends, w.sink)
	h.removeLocked(r, i)
}

func (h *hub) removeLocked(r *room, i int) {
	last := len(r.watchers) - 1
	r.watchers[i] = r.watchers[last]
	r.watchers[last] = nil
	r.watchers = r.watchers[:last]
	if len(r.watchers) == 0 && h.rooms[r.contactID] == r {
		delete(h.rooms, r.contactID)
	}
}

// refillLocked makes sure a catch-up pass over r runs after this call.
func (h *hub) refillLocked(r *room) {
	if r.refilling {
		r.dirty = true
		return
	}
	r.refilling = true
	go h.refill(r)
}

// refillAll catches every room up from the store.
func (h *hub) refillAll() {
	h.mu.Lock()
	defer h.unlock()
	for _, r := range h.rooms {
		h.refillLocked(r)
	}
}

// refill reads r's items after its slowest watcher from the store and
// delivers each to the watchers that need it next, until a read reaches
// the end of the transcript with no new gap reported meanwhile. If the
// store fails, the room's sinks are dropped: their clients reconnect and
// resume from the transcript.
func (h *hub) refill(r *room) {
	h.sem <- struct{}{}
	defer func() { <-h.sem }()
	for {
		h.mu.Lock()
		r.dirty = false
		if len(r.watchers) == 0 {
			r.refilling = false
			h.unlock()
			return
		}
		from := r.watchers[0].last
		for _, w := range r.watchers[1:] {
			from = min(from, w.last)
		}
		h.mu.Unlock()

		ctx, cancel := context.WithTimeout(context.Background(), refillReadTimeout)
		items, err := h.items.FindItems(ctx, r.contactID, helpline.ItemQuery{From: from + 1, Limit: refillBatch})
		cancel()

		h.mu.Lock()
		if err != nil {
			h.log.Error("chat: catching up watchers", "contact", r.contactID, "err", err)
			for len(r.watchers) > 0 {
				h.dropLocked(r, len(r.watchers)-1)
			}
			r.refilling = false
			h.unlock()
			return
		}
		for _, it := range items {
			for i := len(r.watchers) - 1; i >= 0; i-- {
				if it.Seq == r.watchers[i].last+1 {
					h.deliverLocked(r, i, it)
				}
			}
		}
		h.drainEarlyLocked(r)
		if len(items) < refillBatch && !r.dirty {
			r.refilling = false
			h.unlock()
			return
		}
		h.unlock()
	}
}

// endAll ends every sink; Run calls it as it returns.
func (h *hub) endAll() {
	h.mu.Lock()
	defer h.unlock()
	for _, r := range h.rooms {
		for len(r.watchers) > 0 {
			h.dropLocked(r, len(r.watchers)-1)
		}
	}
}
