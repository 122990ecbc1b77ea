// Package clocktest is a settable clock for tests: engines, connectors and
// fakes that take a Now func share one and move it on together.
package clocktest

import (
	"sync"
	"time"
)

// Clock is a clock that moves only when told. The zero value stands at
// the zero time; it is safe for concurrent use.
type Clock struct {
	mu sync.Mutex
	t  time.Time
}

// New returns a clock standing at t.
func New(t time.Time) *Clock { return &Clock{t: t} }

// Now returns the clock's time.
func (c *Clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

// Advance moves the clock on by d.
func (c *Clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}
