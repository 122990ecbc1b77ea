package zendesk

import (
	"fmt"
	"time"
)

// Per-ticket pacing: Zendesk allows 30 updates per ticket per 10 minutes.
// A bucket of ticketBurst refilled every ticketEvery lets at most
// ticketBurst + 10min/ticketEvery = 5 + 25 = 30 updates into any ten
// minutes, and lets a quiet ticket take a short burst at once.
const (
	ticketBurst = 5
	ticketEvery = 24 * time.Second
	// maxDeliveryUpdates is the most updates one Mirror call makes: the
	// requester's, the public comment and the internal note.
	maxDeliveryUpdates = 3
)

// RefUpdateBudget is the ref holding the ticket's update budget (budget).
const RefUpdateBudget = "update_budget"

// budget is a ticket's update budget, the bucket of ticketBurst and
// ticketEvery. It is kept in the pair's refs, which the dispatcher stores
// with the cursor, so that it holds across restarts and moves with the
// pair to whichever node delivers it next (one node at a time, under the
// pair's lease). A budget that is not known (a ticket made before it was
// kept) starts empty: any earlier writer paced by the same bucket, so an
// empty one from now on keeps the two together within it.
type budget struct {
	tokens float64   // left after the last update
	at     time.Time // of the last update; zero for a ticket never updated
	// charged says the last "update" is readBudget's charge for a try
	// that may have landed: the linger, which only spreads real updates,
	// does not follow it.
	charged bool
}

// refCharged marks refs whose budget holds the charge for the uncertain
// try that Attempt counts (readBudget); it goes once a delivery comes with
// Attempt 0.
const refCharged = "update_budget_charged"

// readBudget is the ticket's budget in refs at now; one not known yet
// starts empty at now, and is written into refs. After an attempt that
// may have landed unrecorded (attempt > 0) the budget is charged the most
// one delivery spends, at now: a process that died after its updates and
// before their record left them out of refs. The charge is not kept
// unless an update follows (keep), so a series of failed tries does not
// pile up debt; once kept it is not charged again while Attempt stays
// above zero (a Wait settles nothing, so every paced round of the same
// retry carries it). Consecutive deaths after updates may meet Zendesk's
// 429, which is retried after its Retry-After.
func readBudget(refs map[string]string, attempt int, now time.Time) budget {
	var u budget
	if attempt == 0 {
		delete(refs, refCharged)
	}
	if refs[RefTicketID] == "" {
		return u
	}
	var ms int64
	if _, err := fmt.Sscanf(refs[RefUpdateBudget], "%g@%d", &u.tokens, &ms); err != nil {
		u = budget{at: now}
		refs[RefUpdateBudget] = u.String()
		return u
	}
	u.at = time.UnixMilli(ms)
	if attempt > 0 && refs[refCharged] == "" {
		u = u.spend(maxDeliveryUpdates, now)
		u.charged = true
	}
	return u
}

// keep writes u into refs after it spent updates; a charge it carried is
// kept with it, and marked so that the same retry is not charged again.
func (u budget) keep(refs map[string]string, spent budget) {
	if u.charged {
		refs[refCharged] = "1"
	}
	refs[RefUpdateBudget] = spent.String()
}

// newBudget is a new ticket's: whole, for its creation spent none.
func newBudget(now time.Time) budget { return budget{tokens: ticketBurst, at: now} }

func (u budget) String() string { return fmt.Sprintf("%.3f@%d", u.tokens, u.at.UnixMilli()) }

// tokensAt is how many updates the budget holds at t.
func (u budget) tokensAt(t time.Time) float64 {
	if u.at.IsZero() {
		return ticketBurst
	}
	return min(ticketBurst, u.tokens+float64(t.Sub(u.at))/float64(ticketEvery))
}

// wait is how long after t the next update may go: once the budget holds
// an update, and, while the burst is partly spent, a linger after the
// last update that grows as the burst empties. Without it a quick
// exchange (a bot's questions and answers) spends the burst in seconds
// and a later note (the bot's handoff) waits a whole ticketEvery; with
// it the burst spreads over the first half minute or so. The linger
// lets the next update go once the time since the last one is at least
// ticketEvery·(burst − tokens)/burst, tokens counted then: after the
// last update left k, that is ticketEvery·(burst − k)/(burst + 1) after
// it — 4 s after a fresh ticket's first update, 7 s after the second.
func (u budget) wait(t time.Time) time.Duration {
	if u.at.IsZero() {
		return 0
	}
	d := float64(ticketEvery) * (1 - u.tokens)
	if !u.charged {
		d = max(d, float64(ticketEvery)*(ticketBurst-u.tokens)/(ticketBurst+1))
	}
	return max(0, u.at.Add(time.Duration(d)).Sub(t))
}

// spend takes n updates at t; the budget may go below zero (a charge for
// updates that may have been made), which makes the next wait longer.
func (u budget) spend(n int, t time.Time) budget {
	return budget{tokens: u.tokensAt(t) - float64(n), at: t}
}
