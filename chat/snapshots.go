package chat

import (
	"context"
	"sync"
	"time"

	"github.com/helplinehq/helpline"
)

// snapshots coalesces reads of an instance's routing snapshot. Every
// agent console of a queue rereads its waiting counts on an owner change
// in that queue, so hundreds of consoles ask at once; they share reads
// instead of each reading the whole snapshot.
//
// A caller always gets a snapshot read after its call began (never one
// already under way), so no change it was told about is missing from it:
// callers that arrive while a read runs share the next read, which starts
// when the running one ends. At most one read per instance runs, and one
// waits. With every set, a read also starts no sooner than every after the
// previous one of the instance started: callers within that time share
// one read, so that the reads of an instance cost at most one a period
// however many consoles ask and however often.
type snapshots struct {
	store helpline.RoutingStore
	every time.Duration
	// afterFunc runs f after d (time.AfterFunc; tests replace it).
	afterFunc func(d time.Duration, f func())

	mu      sync.Mutex               // guards the fields below
	running map[string]bool          // a read runs, or waits for its time
	next    map[string]*snapshotRead // by instance: the read that starts next
	started map[string]time.Time     // when the last read of the instance started
}

// snapshotRead is one read of an instance's snapshot and its result,
// shared by every caller that waits for it; done is closed once it is
// set. Callers must not modify the snapshot.
type snapshotRead struct {
	done    chan struct{}
	waiters int // callers sharing it, counted under snapshots.mu
	snap    *helpline.RoutingSnapshot
	err     error
}

// waiting returns how many callers wait for the next read of instanceID.
func (s *snapshots) waiting(instanceID string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	if r := s.next[instanceID]; r != nil {
		return r.waiters
	}
	return 0
}

// newSnapshots returns reads of store's snapshots, at most one per every
// and instance (0: as soon as the running one ends).
func newSnapshots(store helpline.RoutingStore, every time.Duration) *snapshots {
	return &snapshots{store: store, every: every, afterFunc: func(d time.Duration, f func()) { time.AfterFunc(d, f) },
		running: map[string]bool{}, next: map[string]*snapshotRead{}, started: map[string]time.Time{}}
}

// get returns a snapshot of instanceID read after get was called.
func (s *snapshots) get(ctx context.Context, instanceID string) (*helpline.RoutingSnapshot, error) {
	s.mu.Lock()
	r := s.next[instanceID]
	if r == nil {
		r = &snapshotRead{done: make(chan struct{})}
		s.next[instanceID] = r
	}
	r.waiters++
	if !s.running[instanceID] {
		s.startLocked(instanceID)
	}
	s.mu.Unlock()
	select {
	case <-r.done:
		return r.snap, r.err
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// startLocked starts the waiting read of instanceID, at once or, with
// every set, once every has passed since the last one started; s.mu is
// held. Callers that arrive before it starts share it.
func (s *snapshots) startLocked(instanceID string) {
	s.running[instanceID] = true
	if wait := s.every - time.Since(s.started[instanceID]); s.every > 0 && wait > 0 {
		s.afterFunc(wait, func() {
			s.mu.Lock()
			defer s.mu.Unlock()
			s.readLocked(instanceID)
		})
		return
	}
	s.readLocked(instanceID)
}

// readLocked runs the waiting read of instanceID; s.mu is held. The read
// does not depend on any one caller's context: others share it.
func (s *snapshots) readLocked(instanceID string) {
	r := s.next[instanceID]
	delete(s.next, instanceID)
	s.started[instanceID] = time.Now()
	go func() {
		r.snap, r.err = s.store.RoutingSnapshot(context.Background(), instanceID)
		close(r.done)
		s.mu.Lock()
		defer s.mu.Unlock()
		s.running[instanceID] = false
		if s.next[instanceID] != nil {
			s.startLocked(instanceID)
		}
	}()
}
