package chat

import (
	"context"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/helplinehq/helpline"
)

// countingStore answers RoutingSnapshot with the number of the read, each
// read held until release lets it go.
type countingStore struct {
	helpline.RoutingStore
	reads   atomic.Int64
	release chan struct{}
}

func (s *countingStore) RoutingSnapshot(ctx context.Context, instanceID string) (*helpline.RoutingSnapshot, error) {
	n := s.reads.Add(1)
	<-s.release
	return &helpline.RoutingSnapshot{Agents: make([]*helpline.AgentState, n)}, nil
}

// releaseAll lets every read finish from now until the test ends.
func (s *countingStore) releaseAll(t *testing.T) {
	done := make(chan struct{})
	t.Cleanup(func() { close(done) })
	go func() {
		for {
			select {
			case s.release <- struct{}{}:
			case <-done:
				return
			}
		}
	}()
}

// Callers that arrive while a read runs share the next read, never the
// running one: 100 callers cost two reads, and each gets a read that
// began after its call.
func TestSnapshotsCoalesceFreshReads(t *testing.T) {
	st := &countingStore{release: make(chan struct{})}
	s := newSnapshots(st, 0)
	ctx := context.Background()

	first := make(chan *helpline.RoutingSnapshot)
	go func() {
		snap, _ := s.get(ctx, "i1")
		first <- snap
	}()
	for st.reads.Load() != 1 { // the first read is under way
	}
	var wg sync.WaitGroup
	got := make([]*helpline.RoutingSnapshot, 100)
	for i := range got {
		wg.Add(1)
		go func() {
			defer wg.Done()
			got[i], _ = s.get(ctx, "i1")
		}()
	}
	for s.waiting("i1") != len(got) { // all 100 wait for the next read
	}
	st.releaseAll(t)
	if snap := <-first; len(snap.Agents) != 1 {
		t.Errorf("the first caller got read %d, want 1", len(snap.Agents))
	}
	wg.Wait()
	for i, snap := range got {
		if len(snap.Agents) != 2 {
			t.Fatalf("caller %d got read %d, want 2: the one read that began after the callers arrived", i, len(snap.Agents))
		}
	}
	if n := st.reads.Load(); n != 2 {
		t.Errorf("%d reads for 101 callers, want 2", n)
	}
}

// With a period, callers that come within it after a read started share
// one read that starts when the period is over, not one each.
func TestSnapshotsReadOncePerPeriod(t *testing.T) {
	st := &countingStore{release: make(chan struct{})}
	s := newSnapshots(st, time.Hour)
	var (
		mu    sync.Mutex
		later []func()
		waits []time.Duration
	)
	s.afterFunc = func(d time.Duration, f func()) {
		mu.Lock()
		defer mu.Unlock()
		waits, later = append(waits, d), append(later, f)
	}
	ctx := context.Background()
	st.releaseAll(t)
	if snap, err := s.get(ctx, "i1"); err != nil || len(snap.Agents) != 1 {
		t.Fatalf("the first caller got %v, %v; want read 1 at once", snap, err)
	}
	var wg sync.WaitGroup
	got := make([]*helpline.RoutingSnapshot, 50)
	for i := range got {
		wg.Add(1)
		go func() {
			defer wg.Done()
			got[i], _ = s.get(ctx, "i1")
		}()
	}
	for s.waiting("i1") != len(got) {
		time.Sleep(time.Millisecond)
	}
	if n := st.reads.Load(); n != 1 {
		t.Fatalf("%d reads before the period ended, want 1", n)
	}
	mu.Lock()
	if len(later) != 1 || waits[0] <= 0 || waits[0] > time.Hour {
		t.Fatalf("%d reads put off, by %v; want one, by at most the period", len(later), waits)
	}
	start := later[0]
	mu.Unlock()
	start() // the period is over
	wg.Wait()
	for i, snap := range got {
		if len(snap.Agents) != 2 {
			t.Fatalf("caller %d got read %d, want 2", i, len(snap.Agents))
		}
	}
	if n := st.reads.Load(); n != 2 {
		t.Errorf("%d reads for 51 callers, want 2", n)
	}
}
