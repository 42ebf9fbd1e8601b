// Package lograte keeps floods of identical warnings to one log line per
// period, with the count of those held back: a stalled vCenter or a
// hostile peer must be visible in the log without filling it.
package lograte

import (
	"sync"
	"time"
)

// Limiter lets one event through per period and counts the others, so
// that a flood of identical failures costs one log line per period with
// the number it stands for.
type Limiter struct {
	period time.Duration
	// now is the limiter's clock: time.Now, or a test's, which steps
	// past a period without waiting it out.
	now func() time.Time

	mu         sync.Mutex
	last       time.Time
	suppressed int64
	reported   int64
}

// New returns a limiter that allows one event per period.
func New(period time.Duration) *Limiter { return &Limiter{period: period, now: time.Now} }

// Allow reports whether this event may be logged; Suppressed then tells
// how many were not since the previous allowed one.
func (r *Limiter) Allow() bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	now := r.now()
	if !r.last.IsZero() && now.Sub(r.last) < r.period {
		r.suppressed++
		return false
	}
	r.last = now
	r.reported, r.suppressed = r.suppressed, 0
	return true
}

// Suppressed is the number of events held back before the last allowed one.
func (r *Limiter) Suppressed() int64 {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.reported
}
