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
type groupCommit[R any] struct {
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
}

type gcLane[R any] struct {
	busy    bool // a call of this lane is in flight
	pending []R
}

// do submits r under key and waits until r is answered (done closes) or
// ctx ends; a read given up on is still sent, its answer dropped.
func (g *groupCommit[R]) do(ctx context.Context, key string, r R, done <-chan struct{}) error {
	g.mu.Lock()
	if g.lanes == nil {
		g.lanes = map[string]*gcLane[R]{}
	}
	lane := g.lanes[key]
	if lane == nil {
		lane = &gcLane[R]{}
		g.lanes[key] = lane
	}
	if lane.busy {
		lane.pending = append(lane.pending, r)
		g.mu.Unlock()
		select {
		case <-done:
			return nil
		case <-ctx.Done():
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

// takeFirst is a take that sends up to n queued reads in arrival order.
func takeFirst[R any](n int) func(string, []R) ([]R, []R) {
	return func(_ string, pending []R) ([]R, []R) {
		k := min(len(pending), n)
		return append([]R(nil), pending[:k]...), append([]R(nil), pending[k:]...)
	}
}
