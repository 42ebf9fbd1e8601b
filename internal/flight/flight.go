// Package flight runs a piece of work once for every caller that asks for
// it while it runs (a login, a snapshot load, a vCenter read or a whole
// vPoller request that many Zabbix items share), and lets each caller wait
// for it with its own cancellation. It is the one place this is written.
//
// It is singleflight with what every use here needs and singleflight does
// not give: a typed result; a caller that gives up returning at once while
// the work goes on for the others; and a panic in the shared work becoming
// that work's error for every waiter (a *guard.PanicError, logged once with
// its stack) instead of a re-panic in a goroutine nobody guards, which ends
// the process (the worker, or the Zabbix agent the plugin runs in).
package flight

import (
	"context"
	"log/slog"
	"time"

	"golang.org/x/sync/singleflight"

	"github.com/vpoller/zabbix-vpoller/internal/guard"
)

// Group runs work by key, once at a time per key. The zero value is ready.
type Group[T any] struct {
	g singleflight.Group
}

// Result is what a caller gets: the value or error of the shared work, or
// the caller's own ctx.Err() when it gave up first.
type Result[T any] struct {
	Val T
	Err error
	// Shared tells that the run's result went to more than one caller.
	Shared bool
	// Ran tells the caller whose fn ran (it started the work).
	Ran bool
	// GaveUp tells that the caller's context ended before the run did:
	// Err is ctx.Err() and the run goes on for the others.
	GaveUp bool
}

// Call is one caller's place in a run, started or joined by Start. It is
// for one goroutine, the caller's.
type Call[T any] struct {
	ch      <-chan singleflight.Result
	started chan struct{} // closed when this caller's fn runs: it started the run
	res     *Result[T]    // the run's result, once received
}

// Do runs fn for key unless a run of key is in progress, and waits for
// that run's result or for ctx to end (then it returns ctx.Err() with
// GaveUp set; the run goes on for the others). fn must bound itself: it
// does not see ctx, so that one caller giving up does not fail the others
// (Detached makes one from a function of a context). A panic in fn
// becomes a *guard.PanicError for every caller, logged by guard.Run on
// log with its stack, once a minute per what (log nil: not logged).
func (g *Group[T]) Do(ctx context.Context, key, what string, log *slog.Logger, fn func() (T, error)) Result[T] {
	return g.Start(key, what, log, fn).Wait(ctx)
}

// Start is Do without the wait: it starts or joins the run of key and
// returns the caller's place in it, for a caller that waits more than once
// (the plugin's first caller gives the run it started a little more time
// than its own deadline).
func (g *Group[T]) Start(key, what string, log *slog.Logger, fn func() (T, error)) *Call[T] {
	c := &Call[T]{started: make(chan struct{})}
	c.ch = g.g.DoChan(key, func() (any, error) {
		close(c.started)
		var v T
		var err error
		if perr := guard.Run(log, what, func() { v, err = fn() }); perr != nil {
			var zero T
			return zero, perr
		}
		return v, err
	})
	return c
}

// Detached makes fn into the work of a run that outlives its callers: it
// runs fn with a context that keeps ctx's values but not its cancellation
// (the caller that started the run may give up, the others still wait),
// bounded by timeout instead.
func Detached[T any](ctx context.Context, timeout time.Duration, fn func(context.Context) (T, error)) func() (T, error) {
	return func() (T, error) {
		dctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), timeout)
		defer cancel()
		return fn(dctx)
	}
}

// Ran tells whether this caller's fn runs or ran: it started the run.
func (c *Call[T]) Ran() bool {
	select {
	case <-c.started:
		return true
	default:
		return false
	}
}

// Wait waits for the run's result or for ctx to end, whichever is first.
// After a wait that gave up, the caller may wait again (with another
// context); once it has the result, Wait returns it again at once.
func (c *Call[T]) Wait(ctx context.Context) Result[T] {
	if c.res != nil {
		return *c.res
	}
	select {
	case r := <-c.ch:
		v, _ := r.Val.(T)
		c.res = &Result[T]{Val: v, Err: r.Err, Shared: r.Shared, Ran: c.Ran()}
		return *c.res
	case <-ctx.Done():
		return Result[T]{Err: ctx.Err(), Ran: c.Ran(), GaveUp: true}
	}
}
