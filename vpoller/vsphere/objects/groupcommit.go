package objects

import (
	"context"
	"sync"
)

// groupCommit batches calls group-commit style, per key (one lane per
// key): a read finding its lane idle goes out at once, alone, in its
// caller's goroutine (no added latency when idle); reads arriving while a
// call of their lane is in flight queue up and leave together as soon as
// it returns, in a background goroutine (so that the caller whose call
// just returned is not held up).
type groupCommit[R comparable] struct {
	bg *background
	// send answers every read of batch (it must make each read's done
	// channel close).
	send func(ctx context.Context, key string, batch []R)
	// take splits the queue into the next call's reads and the rest.
	take func(key string, pending []R) (batch, rest []R)
	// abandon answers a read that will never be sent (agent closed).
	abandon func(r R, err error)

	mu    sync.Mutex
	lanes map[string]*gcLane[R]
	// queued holds, for each read waiting in a lane's queue, the end of
	// its wait on our own work (trackWait): it ends when the read leaves
	// with a call.
	queued map[R]func()
}

type gcLane[R any] struct {
	busy    bool // a call of this lane is in flight
	pending []R
}

// do submits r under key and waits until r is answered (done closes) or
// ctx ends; a read given up on is still sent, its answer dropped. A read
// that gives up while still queued (its call has not left: it waited on
// our own calls, not on vCenter) fails with a *WaitError; one whose call
// is in flight fails with ctx's error.
func (g *groupCommit[R]) do(ctx context.Context, key string, r R, done <-chan struct{}) error {
	g.mu.Lock()
	if g.lanes == nil {
		g.lanes = map[string]*gcLane[R]{}
		g.queued = map[R]func(){}
	}
	lane := g.lanes[key]
	if lane == nil {
		lane = &gcLane[R]{}
		g.lanes[key] = lane
	}
	if lane.busy {
		lane.pending = append(lane.pending, r)
		g.queued[r] = trackWait(ctx)
		g.mu.Unlock()
		select {
		case <-done:
			g.leave(r)
			return nil
		case <-ctx.Done():
			if g.leave(r) {
				return &WaitError{On: "a call queued behind another of its batch lane", Err: ctx.Err()}
			}
			return ctx.Err()
		}
	}
	lane.busy = true
	g.mu.Unlock()
	g.send(ctx, key, []R{r})
	g.next(key)
	return nil
}

// next starts the lane's queued reads as its next call, or marks it idle.
func (g *groupCommit[R]) next(key string) {
	g.mu.Lock()
	lane := g.lanes[key]
	if len(lane.pending) == 0 {
		lane.busy = false
		g.mu.Unlock()
		return
	}
	batch, rest := g.take(key, lane.pending)
	lane.pending = rest
	for _, r := range batch {
		g.leaveLocked(r)
	}
	g.mu.Unlock()
	if !g.bg.spawn(func(ctx context.Context) {
		g.send(ctx, key, batch)
		g.next(key)
	}) {
		for _, r := range batch {
			g.abandon(r, ErrClosed)
		}
		g.next(key)
	}
}

// leave ends r's wait in the queue; it reports whether r was still there.
func (g *groupCommit[R]) leave(r R) bool {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.leaveLocked(r)
}

func (g *groupCommit[R]) leaveLocked(r R) bool {
	end, ok := g.queued[r]
	if ok {
		delete(g.queued, r)
		end()
	}
	return ok
}

// takeFirst is a take that sends up to n queued reads in arrival order.
func takeFirst[R any](n int) func(string, []R) ([]R, []R) {
	return func(_ string, pending []R) ([]R, []R) {
		k := min(len(pending), n)
		return append([]R(nil), pending[:k]...), append([]R(nil), pending[k:]...)
	}
}
