// Package guard keeps a panic in one goroutine from ending the process: a
// worker, proxy or plugin that dies takes every vCenter (or the whole
// Zabbix agent) with it, for one bad reply or one bug on a rare path.
//
// Run turns a panic into an error (a *PanicError) and logs it, with its
// stack, once per place and minute however often it repeats. Loop keeps a
// long-lived loop alive: after a panic it runs it again, after a pause
// that grows while it keeps panicking.
package guard

import (
	"context"
	"fmt"
	"log/slog"
	"runtime/debug"
	"sync"
	"time"

	"github.com/vpoller/zabbix-vpoller/internal/lograte"
)

// PanicError is a panic recovered by Run.
type PanicError struct {
	What  string // where: the goroutine's name
	Value any    // what was passed to panic
	Stack string
}

func (e *PanicError) Error() string { return fmt.Sprintf("panic in %s: %v", e.What, e.Value) }

// logEvery bounds the log lines of one place that keeps panicking.
const logEvery = time.Minute

var (
	limitsMu sync.Mutex
	limits   = map[string]*lograte.Limiter{}
)

func limiter(what string) *lograte.Limiter {
	limitsMu.Lock()
	defer limitsMu.Unlock()
	l := limits[what]
	if l == nil {
		if len(limits) > 1024 {
			clear(limits) // names are ours and few; never grow without bound
		}
		l = lograte.New(logEvery)
		limits[what] = l
	}
	return l
}

// Run runs f and returns nil, or the panic f raised as a *PanicError,
// logged at ERROR with its stack (once per minute for the same what).
func Run(log *slog.Logger, what string, f func()) (err error) {
	defer func() {
		if r := recover(); r != nil {
			pe := &PanicError{What: what, Value: r, Stack: string(debug.Stack())}
			err = pe
			if log == nil {
				return
			}
			if l := limiter(what); l.Allow() {
				log.Error("recovered from a panic; the process goes on", "where", what, "panic", fmt.Sprint(r),
					"repeated", l.Suppressed(), "stack", pe.Stack)
			}
		}
	}()
	f()
	return nil
}

// Loop runs f until it returns or ctx ends. When f panics, the panic is
// logged (Run) and f runs again after a pause of one second, doubling up
// to 30 s while it keeps panicking within a minute of its last start.
func Loop(ctx context.Context, log *slog.Logger, what string, f func(ctx context.Context)) {
	pause := time.Second
	for ctx.Err() == nil {
		started := time.Now()
		if Run(log, what, func() { f(ctx) }) == nil {
			return
		}
		if time.Since(started) > time.Minute {
			pause = time.Second
		}
		t := time.NewTimer(pause)
		select {
		case <-ctx.Done():
			t.Stop()
			return
		case <-t.C:
		}
		pause = min(2*pause, 30*time.Second)
	}
}
