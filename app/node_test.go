package app

import (
	"context"
	"errors"
	"slices"
	"sync"
	"testing"
)

// recorder notes the parts of a group as they stop.
type recorder struct {
	mu      sync.Mutex // guards stopped
	stopped []string
}

// part runs until its context is done, or fails at once with fail.
func (r *recorder) part(name string, fail error) component {
	return component{name, func(ctx context.Context) error {
		if fail == nil {
			<-ctx.Done()
		}
		r.mu.Lock()
		r.stopped = append(r.stopped, name)
		r.mu.Unlock()
		if fail != nil {
			return fail
		}
		return ctx.Err()
	}}
}

// The parts stop in the reverse of the order they started in, each after
// the ones started later have returned: the HTTP servers before the
// dispatcher, the dispatcher before the engine.
func TestRunGroupStopsInReverseOrder(t *testing.T) {
	var r recorder
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		done <- runGroup(ctx, quiet(), []component{r.part("engine", nil), r.part("dispatcher", nil), r.part("http", nil)})
	}()
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("runGroup = %v, want nil after its context ended", err)
	}
	if want := []string{"http", "dispatcher", "engine"}; !slices.Equal(r.stopped, want) {
		t.Fatalf("stopped %q, want %q", r.stopped, want)
	}
}

// A part that fails stops the group, which returns its error.
func TestRunGroupStopsWhenAPartFails(t *testing.T) {
	var r recorder
	boom := errors.New("listener closed")
	err := runGroup(context.Background(), quiet(), []component{r.part("engine", nil), r.part("http", boom)})
	if !errors.Is(err, boom) {
		t.Fatalf("runGroup = %v, want the failing part's error", err)
	}
	if want := []string{"http", "engine"}; !slices.Equal(r.stopped, want) {
		t.Fatalf("stopped %q, want %q", r.stopped, want)
	}
}
