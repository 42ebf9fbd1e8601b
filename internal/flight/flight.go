// Package flight runs a piece of work once for every caller that asks for
// it while it runs (a login, a snapshot load, a vCenter read that many
// Zabbix items share), and lets each caller wait for it with its own
// cancellation. It is singleflight with the two things every use here
// needs and singleflight does not give: a typed result, and a panic in the
// shared work becoming that work's error for every waiter instead of a
// re-panic in a goroutine nobody guards, which ends the process.
package flight

import (
	"context"
	"log/slog"

	"golang.org/x/sync/singleflight"

	"github.com/vpoller/zabbix-vpoller/internal/guard"
)

// Group runs work by key, once at a time per key. The zero value is ready.
type Group[T any] struct {
	g singleflight.Group
}

// Result is what Do returns: the value or error of the shared work, and
// whether this caller shared a run another caller started.
type Result[T any] struct {
	Val    T
	Err    error
	Shared bool
	// Ran tells the caller whose fn ran (it started the work).
	Ran bool
}

// Do runs fn for key unless a run of key is in progress, and waits for
// that run's result or for ctx to end (then it returns ctx.Err(); the
// run goes on for the others). fn must bound itself: it does not see
// ctx, so that one caller giving up does not fail the others. A panic
// in fn becomes a *guard.PanicError for every caller, logged by
// guard.Run (with log nil, not logged).
func (g *Group[T]) Do(ctx context.Context, key string, what string, log *slog.Logger, fn func() (T, error)) Result[T] {
	ran := false
	ch := g.g.DoChan(key, func() (any, error) {
		ran = true
		var v T
		var err error
		if perr := guard.Run(log, what, func() { v, err = fn() }); perr != nil {
			return v, perr
		}
		return v, err
	})
	select {
	case r := <-ch:
		v, _ := r.Val.(T)
		return Result[T]{Val: v, Err: r.Err, Shared: r.Shared, Ran: ran}
	case <-ctx.Done():
		var zero T
		return Result[T]{Val: zero, Err: ctx.Err()}
	}
}
