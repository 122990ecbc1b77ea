package chat

import (
	"context"
	"sync"

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
// waits.
type snapshots struct {
	store helpline.RoutingStore

	mu      sync.Mutex // guards the fields below
	running map[string]bool
	next    map[string]*snapshotRead // by instance: the read that starts next
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

func newSnapshots(store helpline.RoutingStore) *snapshots {
	return &snapshots{store: store, running: map[string]bool{}, next: map[string]*snapshotRead{}}
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

// startLocked starts the waiting read of instanceID; s.mu is held. The
// read does not depend on any one caller's context: others share it.
func (s *snapshots) startLocked(instanceID string) {
	r := s.next[instanceID]
	delete(s.next, instanceID)
	s.running[instanceID] = true
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
