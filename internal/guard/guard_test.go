package guard

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"strings"
	"sync/atomic"
	"testing"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func TestRun(t *testing.T) {
	var buf bytes.Buffer
	log := slog.New(slog.NewTextHandler(&buf, nil))
	if err := Run(log, "quiet", func() {}); err != nil {
		t.Fatalf("no panic: %v", err)
	}
	for range 3 {
		err := Run(log, "boom", func() { panic("bad reply") })
		var pe *PanicError
		if !errors.As(err, &pe) || pe.What != "boom" || pe.Value != "bad reply" || !strings.Contains(pe.Stack, "guard_test.go") {
			t.Fatalf("error %#v", err)
		}
	}
	// Logged once (with its stack) for three panics at one place.
	if n := strings.Count(buf.String(), "recovered from a panic"); n != 1 {
		t.Fatalf("%d log lines:\n%s", n, buf.String())
	}
	if !strings.Contains(buf.String(), "where=boom") || !strings.Contains(buf.String(), "guard_test.go") {
		t.Fatalf("log %s", buf.String())
	}
}

// A loop that panics runs again; one that returns ends Loop; a cancelled
// context ends it during the pause.
func TestLoop(t *testing.T) {
	var runs atomic.Int32
	Loop(context.Background(), nil, "once", func(context.Context) {
		if runs.Add(1) == 1 {
			panic("first run")
		}
	})
	if runs.Load() != 2 {
		t.Fatalf("%d runs, want 2 (a panic, then a clean return)", runs.Load())
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		Loop(ctx, nil, "always", func(context.Context) { cancel(); panic("again") })
	}()
	<-done
}
