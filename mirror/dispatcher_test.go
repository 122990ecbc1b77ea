package mirror_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/helplinehq/helpline"
	"github.com/helplinehq/helpline/clocktest"
	"github.com/helplinehq/helpline/connector/webhook"
	"github.com/helplinehq/helpline/connector/webhook/webhooktest"
	"github.com/helplinehq/helpline/inmem"
	"github.com/helplinehq/helpline/mirror"
	"github.com/helplinehq/helpline/sqlite"
)

const connector = "hooks"

type harness struct {
	t     *testing.T
	store *sqlite.DB
	bus   *inmem.Bus
	clock *clocktest.Clock
	recv  *webhooktest.Receiver
	conn  helpline.Mirrorer
	reg   *prometheus.Registry
	cfg   mirror.Config
}

func newHarness(t *testing.T) *harness {
	t.Helper()
	store, err := sqlite.Open(filepath.Join(t.TempDir(), "helpline.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store.Close() })
	if err := store.SaveInstance(context.Background(), &helpline.Instance{ID: "i1", Name: "i1"}); err != nil {
		t.Fatal(err)
	}
	h := &harness{t: t, store: store, bus: inmem.NewBus(), clock: clocktest.New(time.Date(2025, 3, 1, 10, 0, 0, 0, time.UTC))}
	t.Cleanup(func() { h.bus.Close() })
	h.recv = webhooktest.NewReceiver("hook-secret")
	h.recv.Now = h.clock.Now
	t.Cleanup(h.recv.Close)
	conn, err := webhook.New(helpline.ConnectorConfig{
		Name: connector,
		Decode: func(v any) error {
			*v.(*webhook.Settings) = webhook.Settings{URLs: []string{h.recv.URL}, SecretEnv: "HOOK_SECRET", Timeout: 2 * time.Second, BatchSize: 10}
			return nil
		},
		Getenv: func(string) string { return "hook-secret" },
	})
	if err != nil {
		t.Fatal(err)
	}
	h.conn = conn.(helpline.Mirrorer)
	if err := h.conn.(helpline.Provisioner).Provision(context.Background(), helpline.ConnectorNode{Now: h.clock.Now}); err != nil {
		t.Fatal(err)
	}
	h.reg = prometheus.NewRegistry()
	h.cfg = mirror.Config{
		Store:        store,
		Bus:          h.bus,
		Connectors:   []helpline.Mirrorer{h.conn},
		Owner:        "node-1",
		Logger:       slog.New(slog.NewTextHandler(io.Discard, nil)),
		Now:          h.clock.Now,
		PollInterval: 5 * time.Millisecond,
		Registerer:   h.reg,
		Jitter:       func() float64 { return 0.5 },
	}
	return h
}

// start runs a dispatcher until the test ends.
func (h *harness) start() {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- mirror.New(h.cfg).Run(ctx) }()
	h.t.Cleanup(func() {
		cancel()
		if err := <-done; err != context.Canceled {
			h.t.Errorf("Run returned %v", err)
		}
	})
}

// chat is a contact mirrored to the webhook.
type chat struct {
	contact  *helpline.Contact
	customer *helpline.Participant
}

func (h *harness) newChat() *chat {
	h.t.Helper()
	id := helpline.NewID()
	cust := &helpline.Participant{ID: helpline.NewID(), ContactID: id, Role: helpline.RoleCustomer, DisplayName: "Ada", CreatedAt: h.clock.Now()}
	nc := &helpline.NewContact{
		Contact: &helpline.Contact{
			ID: id, InstanceID: "i1", FlowID: "f1", InitialContactID: id, State: helpline.ContactActive,
			SupportedContentTypes: []string{helpline.ContentPlain}, CreatedAt: h.clock.Now(), ExpiresAt: h.clock.Now().Add(25 * time.Hour),
		},
		Customer: cust,
		Mirrors:  []string{connector},
	}
	if _, err := h.store.CreateContact(context.Background(), nc); err != nil {
		h.t.Fatal(err)
	}
	return &chat{contact: nc.Contact, customer: cust}
}

// say appends a message, as the engine does: store, then publish.
func (h *harness) say(c *chat, text, origin string) *helpline.Item {
	h.t.Helper()
	it := &helpline.Item{
		ContactID: c.contact.ID, ID: helpline.NewID(), Type: helpline.ItemMessage, ContentType: helpline.ContentPlain,
		Content: text, ParticipantID: c.customer.ID, DisplayName: "Ada", Role: helpline.RoleCustomer, Time: h.clock.Now(), Origin: origin,
	}
	if _, err := h.store.AppendItem(context.Background(), it); err != nil {
		h.t.Fatal(err)
	}
	h.bus.Publish(context.Background(), helpline.NewItemEvent(it))
	return it
}

func (h *harness) pair(c *chat) *helpline.MirrorPair {
	h.t.Helper()
	ps, err := h.store.FindMirrorPairs(context.Background(), helpline.MirrorPairFilter{Connector: connector, ContactID: c.contact.ID})
	if err != nil || len(ps) != 1 {
		h.t.Fatalf("pair of %s: %v, %v", c.contact.ID, ps, err)
	}
	return ps[0]
}

// eventually waits up to 10s for cond.
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(2 * time.Millisecond)
	}
}

// contents returns the contents of c's messages the receiver got, once per
// delivery id, in arrival order.
func (h *harness) contents(c *chat) []string {
	var out []string
	for _, d := range h.recv.Unique() {
		if d.ContactID == c.contact.ID && d.Type == helpline.ItemMessage {
			out = append(out, d.Content)
		}
	}
	return out
}

func lines(prefix string, n int) []string {
	var out []string
	for i := range n {
		out = append(out, fmt.Sprintf("%s %d", prefix, i))
	}
	return out
}

func TestOrderAndExactlyOnce(t *testing.T) {
	h := newHarness(t)
	h.start()
	const chats, msgs = 20, 30
	cs := make([]*chat, chats)
	for i := range cs {
		cs[i] = h.newChat()
	}
	var wg sync.WaitGroup
	for _, c := range cs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for _, l := range lines("line", msgs) {
				h.say(c, l, "")
			}
		}()
	}
	wg.Wait()
	eventually(t, "every message", func() bool { return len(h.recv.Unique()) == chats*msgs })
	h.checkOnceInOrder(cs, msgs)
	eventually(t, "cursors at the end", func() bool {
		for _, c := range cs {
			if p := h.pair(c); p.Cursor != p.LastSeq || p.LeaseOwner != "" {
				return false
			}
		}
		return true
	})
	if n := metric(t, h.reg, "helpline_mirror_items_total"); n != chats*msgs {
		t.Errorf("helpline_mirror_items_total = %v, want %d", n, chats*msgs)
	}
}

// metric sums a gathered counter or gauge family's series.
func metric(t *testing.T, reg *prometheus.Registry, name string) float64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	sum := 0.0
	for _, mf := range mfs {
		if mf.GetName() == name {
			for _, m := range mf.GetMetric() {
				sum += m.GetCounter().GetValue() + m.GetGauge().GetValue()
			}
		}
	}
	return sum
}

func TestOutageThenRecovery(t *testing.T) {
	h := newHarness(t)
	h.recv.Fail(webhooktest.Failure{Count: -1, Status: 503})
	h.start()
	c := h.newChat()
	for _, l := range lines("down", 5) {
		h.say(c, l, "")
	}
	eventually(t, "a failed attempt", func() bool { return h.pair(c).Attempts >= 1 })
	p := h.pair(c)
	// Attempt 1 waits half (the jitter) of the 1s base.
	if p.State != helpline.MirrorActive || p.Cursor != 0 || !p.NextAttempt.Equal(h.clock.Now().Add(500*time.Millisecond)) || !strings.Contains(p.LastError, "503") {
		t.Fatalf("after a 503: %+v", p)
	}
	// More attempts back off further; no time passes, so none is due.
	h.clock.Advance(time.Second)
	eventually(t, "a second failed attempt", func() bool { return h.pair(c).Attempts >= 2 })
	if p := h.pair(c); !p.NextAttempt.Equal(h.clock.Now().Add(time.Second)) {
		t.Errorf("attempt 2 due at %v, want now+1s (%v)", p.NextAttempt, h.clock.Now())
	}
	h.recv.Fail(webhooktest.Failure{})
	for _, l := range lines("later", 3) {
		h.say(c, l, "")
	}
	h.clock.Advance(time.Minute)
	want := append(lines("down", 5), lines("later", 3)...)
	eventually(t, "delivery after the outage", func() bool { return len(h.contents(c)) == len(want) })
	if got := h.contents(c); strings.Join(got, "|") != strings.Join(want, "|") {
		t.Errorf("got %v, want %v", got, want)
	}
	for _, d := range h.recv.Deliveries() {
		if d.Attempt < 3 {
			t.Errorf("delivery %s came with attempt %d, after two failures", d.ID, d.Attempt)
			break
		}
	}
	eventually(t, "attempts reset", func() bool { p := h.pair(c); return p.Attempts == 0 && p.LastError == "" })
}

func TestRetryAfterIsHonoured(t *testing.T) {
	h := newHarness(t)
	h.recv.Fail(webhooktest.Failure{Count: 1, Status: 429, RetryAfter: "120"})
	h.start()
	c := h.newChat()
	h.say(c, "hello", "")
	eventually(t, "the 429", func() bool { return h.pair(c).Attempts == 1 })
	if p := h.pair(c); !p.NextAttempt.Equal(h.clock.Now().Add(120 * time.Second)) {
		t.Fatalf("next attempt at %v, want now+120s", p.NextAttempt)
	}
	h.clock.Advance(119 * time.Second)
	h.say(c, "still there?", "")
	h.clock.Advance(time.Second)
	eventually(t, "delivery after Retry-After", func() bool { return len(h.contents(c)) == 2 })
	if n := metric(t, h.reg, "helpline_mirror_retries_total"); n != 1 {
		t.Errorf("retries = %v, want 1", n)
	}
}

func TestPermanentFailureParksUntilResumed(t *testing.T) {
	h := newHarness(t)
	h.recv.Fail(webhooktest.Failure{Count: -1, Status: 410})
	h.start()
	c := h.newChat()
	h.say(c, "one", "")
	h.say(c, "two", "")
	eventually(t, "the pair parked", func() bool { return h.pair(c).State == helpline.MirrorParked })
	if p := h.pair(c); !strings.Contains(p.LastError, "410") || p.Cursor != 0 {
		t.Fatalf("parked pair: %+v", p)
	}
	if n := metric(t, h.reg, "helpline_mirror_parked_pairs"); n != 1 {
		t.Errorf("parked pairs gauge = %v, want 1", n)
	}
	// A parked pair stays parked as items come.
	h.say(c, "three", "")
	h.recv.Fail(webhooktest.Failure{})
	h.clock.Advance(time.Hour)
	if n, err := h.store.ResumeMirrorPairs(context.Background(), connector, c.contact.ID, h.clock.Now()); err != nil || n != 1 {
		t.Fatalf("resume: %d, %v", n, err)
	}
	eventually(t, "delivery after resume", func() bool { return len(h.contents(c)) == 3 })
	if got := h.contents(c); strings.Join(got, "|") != "one|two|three" {
		t.Errorf("got %v", got)
	}
}

func TestExpiredLeaseOfACrashedWorkerIsTakenOver(t *testing.T) {
	h := newHarness(t)
	c := h.newChat()
	h.say(c, "before the crash", "")
	// Another node claimed the pair and died.
	if ps, err := h.store.ClaimMirrorPairs(context.Background(), connector, c.contact.ID, "dead-node", h.clock.Now(), 30*time.Second, 1); err != nil || len(ps) != 1 {
		t.Fatalf("claim: %v %v", ps, err)
	}
	h.start()
	h.say(c, "after the crash", "")
	h.clock.Advance(29 * time.Second)
	h.say(c, "nearly there", "")
	if got := h.contents(c); len(got) != 0 {
		t.Fatalf("delivered %v while another node held the lease", got)
	}
	h.clock.Advance(time.Second)
	eventually(t, "delivery after the lease ran out", func() bool { return len(h.contents(c)) == 3 })
	// The dead node may have sent the items: they come as a retry, which
	// the connector checks (the webhook says attempt 2).
	if d := h.recv.Deliveries()[0]; d.Content != "before the crash" || d.Attempt != 2 {
		t.Errorf("first delivery after a takeover: %q attempt %d, want attempt 2", d.Content, d.Attempt)
	}
}

// A node restarted with its owner id releases the leases its killed
// predecessor held: delivery resumes at once, without waiting for them to
// run out, as a retry; another node's lease is left alone.
func TestRestartReleasesItsOwnLeases(t *testing.T) {
	h := newHarness(t)
	mine, theirs := h.newChat(), h.newChat()
	h.say(mine, "sent before the kill", "")
	h.say(theirs, "held by a live node", "")
	ctx := context.Background()
	for _, c := range []struct {
		chat  *chat
		owner string
	}{{mine, h.cfg.Owner}, {theirs, "node-2"}} {
		if ps, err := h.store.ClaimMirrorPairs(ctx, connector, c.chat.contact.ID, c.owner, h.clock.Now(), 30*time.Second, 1); err != nil || len(ps) != 1 {
			t.Fatalf("claim by %s: %v %v", c.owner, ps, err)
		}
	}
	h.say(mine, "not sent yet", "")
	h.say(theirs, "waits for node-2", "")
	h.start()
	eventually(t, "delivery without the lease running out", func() bool { return len(h.contents(mine)) == 2 })
	if got := h.contents(mine); strings.Join(got, "|") != "sent before the kill|not sent yet" {
		t.Errorf("got %v", got)
	}
	for _, d := range h.recv.Deliveries() {
		if d.ContactID != mine.contact.ID {
			t.Fatalf("delivered %q while node-2 holds its pair", d.Content)
		}
		if d.Attempt != 2 {
			t.Errorf("%q came with attempt %d, want 2 (a retry of what the killed process may have sent)", d.Content, d.Attempt)
		}
	}
	eventually(t, "the pair saved", func() bool { p := h.pair(mine); return p.LeaseOwner == "" && p.Attempts == 0 })
	// Once saved, new items are first attempts again.
	h.say(mine, "later", "")
	eventually(t, "a later delivery", func() bool { return len(h.contents(mine)) == 3 })
	if d := h.recv.Deliveries()[2]; d.Attempt != 1 {
		t.Errorf("a delivery after the save came with attempt %d, want 1", d.Attempt)
	}
	h.clock.Advance(30 * time.Second)
	eventually(t, "node-2's pair after its lease", func() bool { return len(h.contents(theirs)) == 2 })
}

func TestOwnOriginSkippedAndDone(t *testing.T) {
	h := newHarness(t)
	h.start()
	c := h.newChat()
	h.say(c, "from the customer", "")
	h.say(c, "typed in the helpdesk", connector)
	h.say(c, "typed elsewhere", "other")
	// The end is stored, not published: the poll finds it.
	end := &helpline.Item{
		ContactID: c.contact.ID, ID: helpline.NewID(), Type: helpline.ItemEvent, ContentType: helpline.EventChatEnded,
		Role: helpline.RoleSystem, Time: h.clock.Now(),
	}
	ended, err := h.store.EndContact(context.Background(), c.contact.ID, helpline.EndAPI, h.clock.Now(), []*helpline.Item{end})
	if err != nil || !ended {
		t.Fatal(ended, err)
	}
	eventually(t, "the pair done", func() bool { return h.pair(c).State == helpline.MirrorDone })
	if got := h.contents(c); strings.Join(got, "|") != "from the customer|typed elsewhere" {
		t.Errorf("got %v", got)
	}
}

// claimCounter counts the claims of one contact's pair.
type claimCounter struct {
	mirror.Store
	mu     sync.Mutex
	claims map[string]int
}

func (s *claimCounter) ClaimMirrorPairs(ctx context.Context, conn, contactID, owner string, now time.Time, lease time.Duration, limit int) ([]*helpline.MirrorPair, error) {
	if contactID != "" {
		s.mu.Lock()
		s.claims[contactID]++
		s.mu.Unlock()
	}
	return s.Store.ClaimMirrorPairs(ctx, conn, contactID, owner, now, lease, limit)
}

func (s *claimCounter) count(c *chat) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.claims[c.contact.ID]
}

// A busy contact's pair stays with the node that delivered it: its next
// items go out without a claim, and the lease is released once the
// contact has been idle for Linger, or when Run returns.
func TestLeaseKeptWhileBusy(t *testing.T) {
	h := newHarness(t)
	counter := &claimCounter{Store: h.store, claims: map[string]int{}}
	h.cfg.Store = counter
	h.cfg.Linger = time.Hour // at most a third of the lease
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- mirror.New(h.cfg).Run(ctx) }()
	stopped := false
	defer func() {
		if !stopped {
			cancel()
			<-done
		}
	}()

	c := h.newChat()
	h.say(c, "one", "")
	eventually(t, "the first delivery", func() bool { return len(h.contents(c)) == 1 })
	eventually(t, "the cursor saved, the lease kept", func() bool {
		p := h.pair(c)
		return p.Cursor == p.LastSeq && p.LeaseOwner == h.cfg.Owner && p.LeaseUntil.Equal(h.clock.Now().Add(mirror.DefaultLease))
	})
	claims := counter.count(c)
	for _, l := range lines("more", 5) {
		h.say(c, l, "")
		n := len(h.contents(c))
		eventually(t, l, func() bool { return len(h.contents(c)) == n+1 })
	}
	if got := strings.Join(h.contents(c), "|"); got != "one|more 0|more 1|more 2|more 3|more 4" {
		t.Errorf("got %s", got)
	}
	if n := counter.count(c); n != claims {
		t.Errorf("%d claims of the held pair, want none", n-claims)
	}
	// Another node cannot take it meanwhile.
	h.say(c, "last", "")
	eventually(t, "the last delivery", func() bool { return len(h.contents(c)) == 7 })
	if ps, err := h.store.ClaimMirrorPairs(ctx, connector, "", "node-2", h.clock.Now(), time.Minute, 10); err != nil || len(ps) != 0 {
		t.Errorf("node-2 claimed %v, %v while node-1 keeps the lease", ps, err)
	}

	// Run releases it as it returns: the pair is free, and a claim of
	// what comes later is a plain one.
	cancel()
	stopped = true
	if err := <-done; err != context.Canceled {
		t.Errorf("Run returned %v", err)
	}
	if p := h.pair(c); p.LeaseOwner != "" || p.Cursor != p.LastSeq {
		t.Errorf("pair after Run returned %+v, want released at the end", p)
	}
	h.say(c, "after the stop", "")
	if ps, err := h.store.ClaimMirrorPairs(context.Background(), connector, "", "node-2", h.clock.Now(), time.Minute, 10); err != nil || len(ps) != 1 || ps[0].Reclaimed {
		t.Errorf("node-2's claim after the stop: %v, %v; want the pair, not reclaimed", ps, err)
	}
}

// An idle contact's pair is released after Linger.
func TestLeaseReleasedAfterLinger(t *testing.T) {
	h := newHarness(t)
	h.cfg.Linger = 20 * time.Millisecond
	h.start()
	c := h.newChat()
	h.say(c, "one", "")
	eventually(t, "the delivery", func() bool { return len(h.contents(c)) == 1 })
	eventually(t, "the lease released", func() bool { p := h.pair(c); return p.LeaseOwner == "" && p.Cursor == p.LastSeq })
	h.say(c, "two", "")
	eventually(t, "a delivery after the release", func() bool { return len(h.contents(c)) == 2 })
}

// slowConnector's every delivery lasts until its deadline, as with a
// helpdesk that answers only just in time; it counts the deliveries of
// each contact, and any two of one contact at once.
type slowConnector struct {
	mu        sync.Mutex
	busy      map[string]bool
	delivered map[string]int
	overlaps  int
}

func (c *slowConnector) Name() string { return connector }

func (c *slowConnector) Mirror(ctx context.Context, b *helpline.MirrorBatch) (helpline.MirrorResult, error) {
	id := b.Contact.ID
	c.mu.Lock()
	if c.busy[id] {
		c.overlaps++
	}
	c.busy[id] = true
	c.mu.Unlock()
	<-ctx.Done()
	c.mu.Lock()
	c.busy[id] = false
	c.delivered[id] += len(b.Items)
	c.mu.Unlock()
	return helpline.MirrorResult{Delivered: len(b.Items)}, nil
}

// More pairs are due than there are workers, and every delivery takes as
// long as it may: a pair waiting for a worker must not be delivered on a
// lease too short for it, or its lease runs out mid-delivery and the
// pair is delivered twice at once.
func TestNoDeliveryOutlivesItsLease(t *testing.T) {
	h := newHarness(t)
	slow := &slowConnector{busy: map[string]bool{}, delivered: map[string]int{}}
	h.cfg.Connectors = []helpline.Mirrorer{slow}
	h.cfg.Now = time.Now
	h.cfg.Workers = 1
	h.cfg.Lease = 600 * time.Millisecond
	h.cfg.Linger = -1
	// The items are stored before the dispatcher runs: only its poller
	// finds them.
	var chats []*chat
	for range 4 {
		c := h.newChat()
		h.say(c, "hello", "")
		chats = append(chats, c)
	}
	h.start()
	deadline := time.Now().Add(30 * time.Second)
	for _, c := range chats {
		for p := h.pair(c); p.Cursor != p.LastSeq || p.LeaseOwner != ""; p = h.pair(c) {
			if time.Now().After(deadline) {
				t.Fatalf("pair %s not delivered: %+v", c.contact.ID, p)
			}
			time.Sleep(10 * time.Millisecond)
		}
	}
	// A second delivery of a pair would come after its first.
	time.Sleep(2 * h.cfg.Lease)
	slow.mu.Lock()
	defer slow.mu.Unlock()
	if slow.overlaps > 0 {
		t.Errorf("%d deliveries overlapped another of the same contact", slow.overlaps)
	}
	for _, c := range chats {
		if n := slow.delivered[c.contact.ID]; n != 1 {
			t.Errorf("contact %s: its one item was delivered %d times", c.contact.ID, n)
		}
	}
}

// ownerClaims counts, per owner, the claims of one contact's pair that
// got it.
type ownerClaims struct {
	*claimCounter
	won map[string]int // guarded by claimCounter.mu
}

func (s *ownerClaims) ClaimMirrorPairs(ctx context.Context, conn, contactID, owner string, now time.Time, lease time.Duration, limit int) ([]*helpline.MirrorPair, error) {
	ps, err := s.claimCounter.ClaimMirrorPairs(ctx, conn, contactID, owner, now, lease, limit)
	if contactID != "" && len(ps) > 0 {
		s.mu.Lock()
		s.won[owner]++
		s.mu.Unlock()
	}
	return ps, err
}

// startSecond runs a second node's dispatcher, node-2, on the harness's
// store and bus with cfg's settings, until the test ends.
func (h *harness) startSecond(cfg mirror.Config) {
	cfg.Owner, cfg.Registerer = "node-2", prometheus.NewRegistry()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- mirror.New(cfg).Run(ctx) }()
	h.t.Cleanup(func() { cancel(); <-done })
}

// Two nodes share the bus and the store: each item wakes the dispatcher
// of one node only, which claims the pair; the other does not claim it
// too.
func TestOneNodeClaimsEachItem(t *testing.T) {
	h := newHarness(t)
	counter := &ownerClaims{claimCounter: &claimCounter{Store: h.store, claims: map[string]int{}}, won: map[string]int{}}
	h.cfg.Store = counter
	h.cfg.Linger = -1              // every delivery releases its lease: each item needs a claim
	h.cfg.PollInterval = time.Hour // no scan claims the pair
	h.start()
	h.startSecond(h.cfg)

	c := h.newChat()
	const n = 8
	for i, l := range lines("line", n) {
		h.say(c, l, "")
		eventually(t, l+" delivered and its lease released", func() bool {
			p := h.pair(c)
			return len(h.contents(c)) == i+1 && p.Cursor == p.LastSeq && p.LeaseOwner == ""
		})
	}
	if got, want := strings.Join(h.contents(c), "|"), strings.Join(lines("line", n), "|"); got != want {
		t.Errorf("delivered %s, want %s", got, want)
	}
	// The first item may be claimed by the scan at the start instead.
	if got := counter.count(c); got > n {
		t.Errorf("%d claims of the pair for %d items, want at most one each", got, n)
	}
	counter.mu.Lock()
	defer counter.mu.Unlock()
	if counter.won["node-1"] == 0 || counter.won["node-2"] == 0 {
		t.Errorf("claims won per node: %v, want both nodes to deliver", counter.won)
	}
}

// Two nodes keep busy contacts' leases between deliveries: the items whose
// wake-up goes to the node that does not hold the pair are delivered by
// the one that does, without waiting for a scan. Every item is delivered
// once, in order.
func TestTwoNodesDeliverHeldPairs(t *testing.T) {
	h := newHarness(t)
	h.cfg.Linger = time.Hour       // at most a third of the lease
	h.cfg.PollInterval = time.Hour // no scan finds what a wake-up missed
	h.start()
	h.startSecond(h.cfg)
	const chats, msgs = 4, 10
	cs := make([]*chat, chats)
	for i := range cs {
		cs[i] = h.newChat()
	}
	// A round's items are published once the previous round's are
	// delivered: the pairs are then held, idle, between rounds.
	for i, l := range lines("line", msgs) {
		for _, c := range cs {
			h.say(c, l, "")
		}
		eventually(t, l+" of every chat", func() bool { return len(h.recv.Unique()) == chats*(i+1) })
	}
	h.checkOnceInOrder(cs, msgs)
}

// checkOnceInOrder checks that the webhook got each of the chats' msgs
// lines ("line 0", ...) once, without failures, and in order.
func (h *harness) checkOnceInOrder(cs []*chat, msgs int) {
	h.t.Helper()
	if all := h.recv.Deliveries(); len(all) != len(cs)*msgs {
		h.t.Errorf("%d deliveries for %d items: duplicates without failures", len(all), len(cs)*msgs)
	}
	want := strings.Join(lines("line", msgs), "|")
	for _, c := range cs {
		if got := strings.Join(h.contents(c), "|"); got != want {
			h.t.Errorf("contact %s got\n%s\nwant\n%s", c.contact.ID, got, want)
		}
	}
}

// gateConnector's deliveries wait for a release, or for their context;
// started says a delivery has begun.
type gateConnector struct {
	started chan *helpline.MirrorBatch
	release chan struct{}
}

func (c *gateConnector) Name() string { return connector }

func (c *gateConnector) Mirror(ctx context.Context, b *helpline.MirrorBatch) (helpline.MirrorResult, error) {
	c.started <- b
	select {
	case <-c.release:
		return helpline.MirrorResult{Delivered: len(b.Items)}, nil
	case <-ctx.Done():
		return helpline.MirrorResult{}, ctx.Err()
	}
}

// A dispatcher told to stop gracefully lets the delivery in flight finish,
// saves it and releases the pair; once its grace is over, it cancels the
// delivery, and the pair comes back as uncertain.
func TestGracefulStop(t *testing.T) {
	for _, finish := range []bool{true, false} {
		t.Run(fmt.Sprintf("finish=%v", finish), func(t *testing.T) {
			h := newHarness(t)
			gate := &gateConnector{started: make(chan *helpline.MirrorBatch, 1), release: make(chan struct{})}
			h.cfg.Connectors = []helpline.Mirrorer{gate}
			ctx, stop := context.WithCancel(context.Background())
			grace, endGrace := context.WithCancel(context.Background())
			defer stop()
			defer endGrace()
			done := make(chan error, 1)
			go func() { done <- mirror.New(h.cfg).RunGraceful(ctx, grace) }()
			c := h.newChat()
			h.say(c, "one", "")
			select {
			case <-gate.started:
			case <-time.After(10 * time.Second):
				t.Fatal("no delivery started")
			}
			stop()
			select {
			case err := <-done:
				t.Fatalf("RunGraceful returned %v with a delivery in flight and its grace running", err)
			case <-time.After(50 * time.Millisecond):
			}
			if finish {
				close(gate.release)
			} else {
				endGrace()
			}
			if err := <-done; err != context.Canceled {
				t.Errorf("RunGraceful returned %v", err)
			}
			p := h.pair(c)
			if p.LeaseOwner != "" {
				t.Errorf("lease of %s kept after the stop", p.LeaseOwner)
			}
			ps, err := h.store.ClaimMirrorPairs(context.Background(), connector, "", "node-2", h.clock.Now().Add(time.Hour), time.Minute, 10)
			if finish {
				if p.Cursor != p.LastSeq || p.Attempts != 0 || err != nil || len(ps) != 0 {
					t.Errorf("after a finished delivery: pair %+v, claim %v %v; want it caught up and nothing to claim", p, ps, err)
				}
			} else if p.Cursor != 0 || p.Attempts < 1 || err != nil || len(ps) != 1 {
				t.Errorf("after a cancelled delivery: pair %+v, claim %v %v; want it behind, to be checked (attempt ≥ 1) by the next holder", p, ps, err)
			}
		})
	}
}

// pacedConnector paces deliveries as a connector with a per-object limit
// does (Zendesk's updates per ticket): it delivers the first item of a
// batch and asks to wait partWait before the rest, and asks to wait
// wholeWait after a batch it delivered whole.
type pacedConnector struct {
	helpline.Mirrorer
	partWait, wholeWait time.Duration
}

func (c *pacedConnector) Mirror(ctx context.Context, b *helpline.MirrorBatch) (helpline.MirrorResult, error) {
	whole := len(b.Items) == 1
	b.Items = b.Items[:1]
	res, err := c.Mirrorer.Mirror(ctx, b)
	if err != nil || res.Delivered < 1 {
		return res, err
	}
	if whole {
		return helpline.MirrorResult{Delivered: 1, Wait: c.wholeWait}, nil
	}
	return helpline.MirrorResult{Delivered: 1, Wait: c.partWait}, nil
}

// A pair that goes away with a Wait is delivered once the wait has
// passed, whether items came during the wait (their wake-ups find nothing
// due) or none came after it (the chat went quiet): nothing but the poll
// wakes it then.
func TestWaitingPairIsDeliveredWhenDue(t *testing.T) {
	h := newHarness(t)
	h.cfg.Connectors = []helpline.Mirrorer{&pacedConnector{Mirrorer: h.conn, partWait: 30 * time.Second, wholeWait: 10 * time.Second}}
	h.start()
	c := h.newChat()
	waiting := func(until time.Time) func() bool {
		return func() bool { p := h.pair(c); return p.LeaseOwner == "" && p.NextAttempt.Equal(until) }
	}
	h.say(c, "one", "")
	eventually(t, "the first line, then a wait", waiting(h.clock.Now().Add(10*time.Second)))
	h.say(c, "two", "")
	h.say(c, "three", "")
	time.Sleep(50 * time.Millisecond) // the wake-ups come and go
	if got := h.contents(c); len(got) != 1 {
		t.Fatalf("delivered %v during the wait, want only the first line", got)
	}
	h.clock.Advance(10 * time.Second)
	eventually(t, "the second line, then a wait", waiting(h.clock.Now().Add(30*time.Second)))
	h.clock.Advance(30 * time.Second)
	eventually(t, "the third line with no item to wake it", func() bool { return len(h.contents(c)) == 3 })
	if got := h.contents(c); strings.Join(got, "|") != "one|two|three" {
		t.Errorf("delivered %v, want one, two, three once each in order", got)
	}
}
