package chat

import (
	"context"
	"sync"
	"time"

	"github.com/helplinehq/helpline"
)

// servedFor is how long a queue found served by an enabled agent counts
// as served without reading the agents again.
const servedFor = time.Second

// servedQueues answers whether an enabled agent of an instance serves a
// queue, which decides whether a new chat of a flow enters the flow's
// queue. Reading every agent of the instance for every new chat costs as
// much as the rest of the start together when hundreds of agents serve
// it, so a queue found served stays served for servedFor (wall time: it
// bounds a cost, it is not a deadline of the product). A queue found
// unserved is read again every time, so that the first agent to serve a
// queue is heeded at once; the last one leaving it is heeded within
// servedFor.
type servedQueues struct {
	store helpline.RoutingStore
	now   func() time.Time

	mu    sync.Mutex           // guards until
	until map[string]time.Time // instance/queue → served until
}

func newServedQueues(store helpline.RoutingStore) *servedQueues {
	return &servedQueues{store: store, now: time.Now, until: map[string]time.Time{}}
}

// check reports whether an enabled agent of instanceID serves queueID.
func (sq *servedQueues) check(ctx context.Context, instanceID, queueID string) (bool, error) {
	key := instanceID + "/" + queueID
	sq.mu.Lock()
	fresh := sq.now().Before(sq.until[key])
	sq.mu.Unlock()
	if fresh {
		return true, nil
	}
	agents, err := sq.store.FindAgents(ctx, instanceID)
	if err != nil {
		return false, err
	}
	for _, a := range agents {
		if a.Enabled && a.Serves(queueID) {
			sq.mu.Lock()
			defer sq.mu.Unlock()
			sq.until[key] = sq.now().Add(servedFor)
			return true, nil
		}
	}
	return false, nil
}
