package objects

import (
	"context"
	"sync/atomic"
)

// WaitError is a read that gave up while it waited on the agent's own
// work, not on vCenter: queued behind another call of its batch lane.
// vCenter may be perfectly healthy and merely busy with our earlier
// calls, so a worker's circuit breaker must not count it as vCenter being
// unreachable (vsphere.Unreachable reports false for it), whereas a call
// to vCenter that timed out is counted.
type WaitError struct {
	// On says what the read waited for.
	On string
	// Err is why it stopped waiting (its context's error).
	Err error
}

func (e *WaitError) Error() string { return "gave up waiting for " + e.On + ": " + e.Err.Error() }

// Unwrap returns the context's error.
func (e *WaitError) Unwrap() error { return e.Err }

// Tracker follows one execution's reads: whether any of them is waiting
// on the agent's own work right now. The execution's context carries it
// (WithTracker); an execution shared by several requests runs detached
// from their contexts, so a request that gives up on it asks the tracker
// whether its time went to vCenter or to a queue of ours.
type Tracker struct{ waiting atomic.Int64 }

type trackerKey struct{}

// WithTracker returns ctx carrying a new Tracker, and the Tracker.
func WithTracker(ctx context.Context) (context.Context, *Tracker) {
	t := new(Tracker)
	return context.WithValue(ctx, trackerKey{}, t), t
}

// Waiting reports whether a read of the execution is waiting on the
// agent's own work (and none is known to be waiting on vCenter).
func (t *Tracker) Waiting() bool { return t != nil && t.waiting.Load() > 0 }

// trackWait marks, on ctx's Tracker if any, a read that starts waiting on
// our own work; the returned func marks the end of that wait.
func trackWait(ctx context.Context) func() {
	t, _ := ctx.Value(trackerKey{}).(*Tracker)
	if t == nil {
		return func() {}
	}
	t.waiting.Add(1)
	var once atomic.Bool
	return func() {
		if once.CompareAndSwap(false, true) {
			t.waiting.Add(-1)
		}
	}
}
