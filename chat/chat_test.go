package chat_test

import (
	"context"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/helplinehq/helpline"
	"github.com/helplinehq/helpline/chat"
	"github.com/helplinehq/helpline/clocktest"
	"github.com/helplinehq/helpline/inmem"
	"github.com/helplinehq/helpline/sqlite"
)

// env is an engine wired to a real SQLite store and in-process bus, with
// Run running.
type env struct {
	svc   *chat.Service
	store helpline.Store
	bus   *inmem.Bus
	clock *clocktest.Clock
	inst  *helpline.Instance
}

type envOption func(*chat.Config, *[]inmem.Option)

func withLimits(l chat.Limits) envOption {
	return func(c *chat.Config, _ *[]inmem.Option) { c.Limits = l }
}

// countingReads counts the engine's reads of a contact's items.
type countingReads struct{ n atomic.Int64 }

type readCounter struct {
	helpline.Store
	reads *countingReads
}

func (r readCounter) FindItems(ctx context.Context, contactID string, q helpline.ItemQuery) ([]*helpline.Item, error) {
	r.reads.n.Add(1)
	return r.Store.FindItems(ctx, contactID, q)
}

func withStoreReads(c *countingReads) envOption {
	return func(cfg *chat.Config, _ *[]inmem.Option) { cfg.Store = readCounter{cfg.Store, c} }
}

func withBusBuffers(perContact, all int) envOption {
	return func(_ *chat.Config, o *[]inmem.Option) { *o = append(*o, inmem.WithBuffers(perContact, all)) }
}

func newEnv(t testing.TB, opts ...envOption) *env {
	t.Helper()
	db, err := sqlite.Open(filepath.Join(t.TempDir(), "helpline.db"))
	if err != nil {
		t.Fatal(err)
	}
	e := &env{store: db, clock: clocktest.New(time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC))}
	e.inst = &helpline.Instance{
		ID:   "inst-1",
		Name: "Shop",
		Flows: []helpline.Flow{
			{ID: "flow-greet", Name: "Greeting", Greeting: "Hello! How can we help?"},
			{ID: "flow-plain", Name: "Plain"},
		},
	}
	if err := db.SaveInstance(context.Background(), e.inst); err != nil {
		t.Fatal(err)
	}
	cfg := chat.Config{
		Store:  db,
		Blobs:  newBlobs(t),
		Tokens: testTokens,
		Now:    e.clock.Now,
	}
	var busOpts []inmem.Option
	for _, o := range opts {
		o(&cfg, &busOpts)
	}
	e.bus = inmem.NewBus(busOpts...)
	cfg.Bus = e.bus
	e.svc = chat.New(cfg)

	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- e.svc.Run(ctx) }()
	select {
	case <-e.svc.Ready():
	case err := <-done:
		t.Fatalf("Run: %v", err)
	}
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Run: %v", err)
		}
		e.bus.Close()
		db.Close()
	})
	return e
}

var ctx = context.Background()

// testTokens signs and verifies every engine's tokens in these tests.
var testTokens = helpline.NewTokens([]byte("0123456789abcdef0123456789abcdef"))

// start starts a chat in flow-plain (no greeting) and returns the
// customer's session.
func (e *env) start(t testing.TB, in helpline.StartChatInput) (*helpline.ChatStarted, *helpline.Session) {
	t.Helper()
	if in.InstanceID == "" {
		in.InstanceID = e.inst.ID
	}
	if in.ContactFlowID == "" {
		in.ContactFlowID = "flow-plain"
	}
	if in.DisplayName == "" {
		in.DisplayName = "Casey"
	}
	started, err := e.svc.StartChat(ctx, in)
	if err != nil {
		t.Fatalf("StartChat: %v", err)
	}
	return started, e.auth(t, helpline.ParticipantToken, started.ParticipantToken)
}

func (e *env) auth(t testing.TB, kind helpline.TokenKind, token string) *helpline.Session {
	t.Helper()
	sess, err := e.svc.Authenticate(ctx, kind, token)
	if err != nil {
		t.Fatalf("Authenticate: %v", err)
	}
	return sess
}

// addAgent adds an agent to the customer's contact and returns its session.
func (e *env) addAgent(t *testing.T, c *helpline.Contact, role string) *helpline.Session {
	t.Helper()
	added, err := e.svc.AddParticipant(ctx, helpline.AddParticipantInput{InstanceID: c.InstanceID, ContactID: c.ID, Role: role, DisplayName: "Alex"})
	if err != nil {
		t.Fatalf("AddParticipant: %v", err)
	}
	return e.auth(t, helpline.ParticipantToken, added.ParticipantToken)
}

func (e *env) send(t *testing.T, sess *helpline.Session, content string) *helpline.Item {
	t.Helper()
	it, err := e.svc.SendMessage(ctx, sess, helpline.ContentPlain, content, "")
	if err != nil {
		t.Fatalf("SendMessage: %v", err)
	}
	return it
}

// items returns every stored item of the contact in Seq order.
func (e *env) items(t *testing.T, contactID string) []*helpline.Item {
	t.Helper()
	items, err := e.store.FindItems(ctx, contactID, helpline.ItemQuery{})
	if err != nil {
		t.Fatal(err)
	}
	return items
}

func wantCode(t *testing.T, err error, code string) {
	t.Helper()
	if got := helpline.ErrorCode(err); got != code {
		t.Fatalf("error = %v (code %q), want code %q", err, got, code)
	}
}

// contentTypes lists the ContentType of each item.
func contentTypes(items []*helpline.Item) []string {
	var out []string
	for _, it := range items {
		out = append(out, it.ContentType)
	}
	return out
}

func equal[T comparable](a, b []T) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// sink records what the engine delivers. With capacity > 0, Deliver refuses
// items beyond it.
type sink struct {
	capacity int

	mu     sync.Mutex
	items  []*helpline.Item
	ends   int
	notify chan struct{} // signalled on every change
}

func newSink(capacity int) *sink { return &sink{capacity: capacity, notify: make(chan struct{}, 1)} }

func (s *sink) Deliver(it *helpline.Item) bool {
	s.mu.Lock()
	defer s.signal()
	defer s.mu.Unlock()
	if s.capacity > 0 && len(s.items) >= s.capacity {
		return false
	}
	s.items = append(s.items, it)
	return true
}

func (s *sink) End() {
	s.mu.Lock()
	defer s.signal()
	defer s.mu.Unlock()
	s.ends++
}

func (s *sink) signal() {
	select {
	case s.notify <- struct{}{}:
	default:
	}
}

func (s *sink) snapshot() ([]*helpline.Item, int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]*helpline.Item(nil), s.items...), s.ends
}

// wait waits until cond holds for what the sink received.
func (s *sink) wait(t *testing.T, what string, cond func(items []*helpline.Item, ends int) bool) []*helpline.Item {
	t.Helper()
	deadline := time.After(10 * time.Second)
	for {
		items, ends := s.snapshot()
		if cond(items, ends) {
			return items
		}
		select {
		case <-s.notify:
		case <-deadline:
			t.Fatalf("timed out waiting for %s; sink has %d items (%v), %d ends", what, len(items), contentTypes(items), ends)
		}
	}
}

func (s *sink) waitN(t *testing.T, n int) []*helpline.Item {
	t.Helper()
	return s.wait(t, "items", func(items []*helpline.Item, _ int) bool { return len(items) >= n })
}

func (s *sink) waitEnd(t *testing.T) []*helpline.Item {
	t.Helper()
	return s.wait(t, "End", func(_ []*helpline.Item, ends int) bool { return ends > 0 })
}

// storedSeqs returns the Seqs of the stored items among items.
func storedSeqs(items []*helpline.Item) []int64 {
	var seqs []int64
	for _, it := range items {
		if it.Stored() {
			seqs = append(seqs, it.Seq)
		}
	}
	return seqs
}

// checkSeqs fails unless seqs are exactly from+1, from+2, ..., to.
func checkSeqs(t *testing.T, seqs []int64, from, to int64) {
	t.Helper()
	if int64(len(seqs)) != to-from {
		t.Fatalf("got %d stored items, want %d (%d..%d)", len(seqs), to-from, from+1, to)
	}
	for i, seq := range seqs {
		if seq != from+1+int64(i) {
			t.Fatalf("item %d has Seq %d, want %d", i, seq, from+1+int64(i))
		}
	}
}
