package httpapi

import (
	"sync"
	"time"
)

// maxThrottleKeys caps the keys a throttle remembers, so that logins with
// ever new emails or addresses cannot grow it without bound; past it,
// spells that have ended are forgotten, and while it is still full new
// keys are not counted.
const maxThrottleKeys = 100_000

// throttle counts failures per key in spells: a spell starts at a key's
// first failure and lasts spell; once limit failures fall in one, the key
// is refused until the spell ends. It is a node's own memory: nodes
// sharing a store each count their own failures.
type throttle struct {
	limit int
	spell time.Duration

	mu    sync.Mutex // guards fails
	fails map[string]*failSpell
}

type failSpell struct {
	n     int
	start time.Time
}

func newThrottle(limit int, spell time.Duration) *throttle {
	return &throttle{limit: limit, spell: spell, fails: map[string]*failSpell{}}
}

// wait returns how long key is still refused at now; zero if it is not.
func (t *throttle) wait(key string, now time.Time) time.Duration {
	t.mu.Lock()
	defer t.mu.Unlock()
	f := t.fails[key]
	if f == nil || f.n < t.limit {
		return 0
	}
	return max(0, f.start.Add(t.spell).Sub(now))
}

// fail counts a failure of key at now.
func (t *throttle) fail(key string, now time.Time) {
	t.mu.Lock()
	defer t.mu.Unlock()
	f := t.fails[key]
	if f != nil && now.Before(f.start.Add(t.spell)) {
		f.n++
		return
	}
	if f == nil && len(t.fails) >= maxThrottleKeys {
		for k, old := range t.fails {
			if !now.Before(old.start.Add(t.spell)) {
				delete(t.fails, k)
			}
		}
		if len(t.fails) >= maxThrottleKeys {
			return
		}
	}
	t.fails[key] = &failSpell{n: 1, start: now}
}

// reset forgets key's failures.
func (t *throttle) reset(key string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	delete(t.fails, key)
}
