package zendesk_test

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/helplinehq/helpline"
	"github.com/helplinehq/helpline/connector/zendesk"
	"github.com/helplinehq/helpline/connector/zendesk/zendesktest"
)

// pairDriver delivers one chat as the dispatcher does: after each line,
// and again once a Wait has passed, the items after the cursor with the
// refs the last call returned.
type pairDriver struct {
	t         *testing.T
	f         *fixture
	conn      *zendesk.Connector
	log       *chatLog
	refs      map[string]string
	cursor    int64
	attempt   int
	notBefore time.Time
	said      map[string]time.Time // each line's words, when said
	landed    map[string]time.Time // each line's words, when first in the ticket
}

func newPairDriver(t *testing.T, f *fixture, contactID string) *pairDriver {
	return &pairDriver{t: t, f: f, conn: f.conn, log: newChatLog(contactID), said: map[string]time.Time{}, landed: map[string]time.Time{}}
}

func (d *pairDriver) say(pid, text string) {
	d.log.Say(pid, text)
	d.said[text] = d.f.clock.Now()
	d.deliver()
}

func (d *pairDriver) deliver() {
	if d.f.clock.Now().Before(d.notBefore) || d.cursor == int64(len(d.log.Items)) {
		return
	}
	b := d.log.Batch(d.cursor, d.refs, d.attempt)
	res, err := d.conn.Mirror(ctx, b)
	if res.Refs != nil {
		d.refs = res.Refs
	}
	d.cursor += int64(res.Delivered)
	d.notBefore = d.f.clock.Now().Add(res.Wait)
	// Attempt counts as the dispatcher's does: a failure adds one (after
	// a landed prefix, from zero), a Wait settles nothing, and only a
	// whole delivery clears it.
	switch {
	case err != nil:
		if res.Delivered > 0 {
			d.attempt = 0
		}
		d.attempt++
		d.notBefore = d.f.clock.Now().Add(time.Second)
	case res.Delivered == len(b.Items):
		d.attempt = 0
	}
	for _, tk := range d.f.fake.Tickets() {
		for _, c := range tk.Comments {
			for text := range d.said {
				if _, ok := d.landed[text]; !ok && strings.Contains(c.Body, ": "+text+"\n") {
					d.landed[text] = d.f.clock.Now()
				}
			}
		}
	}
}

// run advances the clock a second at a time for total, delivering.
func (d *pairDriver) run(total time.Duration) {
	for end := d.f.clock.Now().Add(total); d.f.clock.Now().Before(end); {
		d.f.clock.Advance(time.Second)
		d.deliver()
	}
}

// longestWait is the longest a line waited to land; every line must have.
func (d *pairDriver) longestWait() time.Duration {
	var most time.Duration
	for text, at := range d.said {
		got, ok := d.landed[text]
		if !ok {
			d.t.Fatalf("%q never landed", text)
		}
		most = max(most, got.Sub(at))
	}
	return most
}

// A quick exchange with the bot, a question and its answer every two
// seconds for ten seconds, each delivery a public comment and a note,
// then the bot's handoff note at 25 s: the ticket's burst of five updates
// is spread over the exchange rather than spent in its first seconds, so
// that neither the last lines nor the note wait for whole 24 s refills
// (a delivery of a public comment and a note needs two), and Zendesk
// refuses nothing.
func TestMirrorSpreadsTicketBurst(t *testing.T) {
	f := newFixture(t, zendesktest.Options{}, zendesk.Settings{}, helpline.ConnectorNode{})
	d := newPairDriver(t, f, "contact-quick")
	for i := range 5 {
		d.say("p-cust", fmt.Sprintf("question %d", i))
		d.run(time.Second)
		d.say("p-bot", fmt.Sprintf("answer %d", i))
		d.run(time.Second)
	}
	d.run(15 * time.Second)
	d.say("p-bot", "handing you over to a person")
	d.run(2 * time.Minute)
	if most := d.longestWait(); most > 15*time.Second {
		t.Errorf("a line waited %s to land, want at most 15 s", most)
	}
	if st := f.fake.Stats(); st.TooMany != 0 {
		t.Errorf("the fake answered %d 429s", st.TooMany)
	}
}

// The ticket's update budget travels in the refs: a connector of a new
// process (a restart, or the node that takes the chat over) goes on from
// what the last one spent instead of starting with a whole burst, and
// Zendesk never answers the per-ticket 429 although the chat has kept
// the ticket at its limit for ten minutes.
func TestMirrorTicketBudgetOutlivesProcess(t *testing.T) {
	f := newFixture(t, zendesktest.Options{}, zendesk.Settings{}, helpline.ConnectorNode{})
	d := newPairDriver(t, f, "contact-long")
	for i := range 600 {
		d.say("p-cust", fmt.Sprintf("line %d", i))
		d.f.clock.Advance(time.Second)
	}
	if n := f.fake.Stats().TicketUpdates; n < 28 {
		t.Fatalf("%d updates in the first ten minutes, want the ticket kept at its limit (30)", n)
	}
	// Another process: the same configuration, nothing in memory.
	d.conn = f.build(t)
	for i := range 120 {
		d.say("p-cust", fmt.Sprintf("after %d", i))
		d.f.clock.Advance(time.Second)
	}
	d.run(2 * time.Minute)
	if st := f.fake.Stats(); st.TooMany != 0 {
		t.Errorf("the fake answered %d 429s; the new process spent budget the old one had spent", st.TooMany)
	}
	d.longestWait()
	all := strings.Join(commentBodies(f.fake.Tickets()[0]), "\n")
	for i := range 600 {
		if n := strings.Count(all, fmt.Sprintf("): line %d\n", i)); n != 1 {
			t.Fatalf("line %d is in the ticket %d times", i, n)
		}
	}
}

// A ticket update that failed with no answer may have landed: the retry
// charges the ticket's budget for it, once. The retry then goes on in
// paced rounds, each a Wait that settles nothing, so every round still
// carries Attempt 1; a round must not charge the same uncertain update
// again, or a chat that goes on talking has its ticket fall further and
// further behind, and its last lines wait minutes after the chat ends.
func TestMirrorUncertainUpdateChargedOnce(t *testing.T) {
	f := newFixture(t, zendesktest.Options{}, zendesk.Settings{}, helpline.ConnectorNode{})
	d := newPairDriver(t, f, "contact-uncertain")
	for i := range 3 {
		d.say("p-cust", fmt.Sprintf("question %d", i))
		d.run(time.Second)
		d.say("p-bot", fmt.Sprintf("answer %d", i))
		d.run(time.Second)
	}
	d.run(30 * time.Second)
	f.fake.SetOutage(true)
	d.say("p-cust", "is anyone there?")
	f.fake.SetOutage(false)
	if d.attempt != 1 {
		t.Fatalf("attempt %d after the outage, want 1", d.attempt)
	}
	for i := range 20 {
		d.say("p-cust", fmt.Sprintf("more %d", i))
		d.run(time.Second)
		d.say("p-bot", fmt.Sprintf("reply %d", i))
		d.run(2 * time.Second)
	}
	d.run(5 * time.Minute)
	// The one charge costs three refills (72 s); with the pacing of the
	// lines themselves no line waits more than four. Charged again each
	// round, lines waited over two and a half minutes.
	if most := d.longestWait(); most > 4*24*time.Second {
		t.Errorf("a line waited %s to land, want at most 96 s", most)
	}
	if st := f.fake.Stats(); st.TooMany != 0 {
		t.Errorf("the fake answered %d 429s", st.TooMany)
	}
	all := strings.Join(commentBodies(f.fake.Tickets()[0]), "\n")
	for text := range d.said {
		if n := strings.Count(all, ": "+text+"\n"); n != 1 {
			t.Errorf("%q is in the ticket %d times, want once", text, n)
		}
	}
}
