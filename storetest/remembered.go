package storetest

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/helplinehq/helpline"
)

func testRememberOnce(t *testing.T, open func(t *testing.T) helpline.Store) {
	ctx := context.Background()
	remember := func(t *testing.T, s helpline.Store, scope, key string, now, until time.Time) bool {
		t.Helper()
		first, err := s.RememberOnce(ctx, scope, key, now, until)
		if err != nil {
			t.Fatalf("RememberOnce(%q, %q): %v", scope, key, err)
		}
		return first
	}
	t.Run("FirstThenSeen", func(t *testing.T) {
		s := open(t)
		if !remember(t, s, "hook", "sig-1", base, at(time.Minute)) {
			t.Fatal("first call: first = false, want true")
		}
		if remember(t, s, "hook", "sig-1", at(30*time.Second), at(time.Minute)) {
			t.Fatal("second call before expiry: first = true, want false")
		}
		if !remember(t, s, "hook", "sig-2", at(30*time.Second), at(time.Minute)) {
			t.Fatal("another key: first = false, want true")
		}
	})
	t.Run("Expiry", func(t *testing.T) {
		s := open(t)
		remember(t, s, "hook", "sig", base, at(time.Minute))
		if remember(t, s, "hook", "sig", at(time.Minute-time.Millisecond), at(2*time.Minute)) {
			t.Fatal("a millisecond before until: first = true, want false")
		}
		if !remember(t, s, "hook", "sig", at(time.Minute), at(2*time.Minute)) {
			t.Fatal("at until: first = false, want true (the entry expired)")
		}
		if remember(t, s, "hook", "sig", at(90*time.Second), at(3*time.Minute)) {
			t.Fatal("after re-remembering: first = true, want false until the new until")
		}
	})
	t.Run("ScopesAreIndependent", func(t *testing.T) {
		s := open(t)
		if !remember(t, s, "zendesk", "sig", base, at(time.Minute)) || !remember(t, s, "kustomer", "sig", base, at(time.Minute)) {
			t.Fatal("one key in two scopes: want first = true in each")
		}
		if remember(t, s, "zendesk", "sig", base, at(time.Minute)) || remember(t, s, "kustomer", "sig", base, at(time.Minute)) {
			t.Fatal("second sighting in each scope: want first = false")
		}
	})
	t.Run("Forget", func(t *testing.T) {
		s := open(t)
		remember(t, s, "hook", "sig", base, at(time.Minute))
		remember(t, s, "other", "sig", base, at(time.Minute))
		if err := s.Forget(ctx, "hook", "sig"); err != nil {
			t.Fatal(err)
		}
		if err := s.Forget(ctx, "hook", "never-seen"); err != nil {
			t.Fatalf("Forget of an unknown key: %v", err)
		}
		if !remember(t, s, "hook", "sig", base, at(time.Minute)) {
			t.Fatal("after Forget: first = false, want true")
		}
		if remember(t, s, "other", "sig", base, at(time.Minute)) {
			t.Fatal("Forget in one scope forgot the key in another")
		}
	})
	t.Run("ConcurrentCallersOneFirst", func(t *testing.T) {
		s := open(t)
		const callers = 50
		var wg sync.WaitGroup
		firsts := make(chan bool, callers)
		for i := 0; i < callers; i++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				first, err := s.RememberOnce(ctx, "hook", "same", base, at(time.Minute))
				if err != nil {
					t.Error(err)
				}
				firsts <- first
			}()
		}
		wg.Wait()
		close(firsts)
		n := 0
		for f := range firsts {
			if f {
				n++
			}
		}
		if n != 1 {
			t.Fatalf("%d of %d concurrent callers got first = true, want exactly 1", n, callers)
		}
	})
}
