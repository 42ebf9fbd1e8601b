package objects

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/vpoller/zabbix-vpoller/internal/guard"

	"github.com/vpoller/zabbix-vpoller/internal/testutil"
)

// counted is a load that counts its calls and returns the count.
func counted(n *atomic.Int64) func(context.Context, time.Time) (int64, error) {
	return func(context.Context, time.Time) (int64, error) { return n.Add(1), nil }
}

// TestSnapshotTTL: a load serves until it is TTL old on the snapshot's
// clock, then the next request loads again; a value's stamp is when its
// load started.
func TestSnapshotTTL(t *testing.T) {
	t.Parallel()
	clk := testutil.NewClock(time.Unix(1e9, 0))
	var loads atomic.Int64
	var starts []time.Time
	s := NewSnapshot(SnapshotOptions{What: "the thing", TTL: time.Minute, Now: clk.Now},
		func(ctx context.Context, start time.Time) (int64, error) {
			starts = append(starts, start)
			return loads.Add(1), nil
		})
	for _, step := range []struct {
		advance time.Duration
		want    int64 // the value served: the number of loads so far
	}{
		{0, 1},
		{time.Minute - time.Nanosecond, 1}, // just within the TTL
		{time.Nanosecond, 2},               // at the TTL: a new load
		{30 * time.Second, 2},
		{30 * time.Second, 3},
	} {
		clk.Add(step.advance)
		v, err := s.Get(context.Background())
		if err != nil || v != step.want {
			t.Fatalf("at %s: %d, %v; want %d", clk.Now().Format(time.RFC3339Nano), v, err, step.want)
		}
	}
	t0 := time.Unix(1e9, 0)
	if want := []time.Time{t0, t0.Add(time.Minute), t0.Add(2 * time.Minute)}; fmt.Sprint(starts) != fmt.Sprint(want) {
		t.Errorf("load starts %v, want %v", starts, want)
	}
}

// TestSnapshotSharedLoad: requests that find the snapshot due while a
// load runs wait for that load: 16 requests, one load, one value.
func TestSnapshotSharedLoad(t *testing.T) {
	t.Parallel()
	var loads atomic.Int64
	started, release := make(chan struct{}), make(chan struct{})
	s := NewSnapshot(SnapshotOptions{What: "the thing", TTL: time.Hour}, func(ctx context.Context, _ time.Time) (int64, error) {
		close(started)
		<-release
		return loads.Add(1), nil
	})
	const n = 16
	got := make([]int64, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	wg.Go(func() { got[0], errs[0] = s.Get(context.Background()) })
	<-started // the others find the load running
	for i := 1; i < n; i++ {
		wg.Go(func() { got[i], errs[i] = s.Get(context.Background()) })
	}
	close(release)
	wg.Wait()
	for i := range n {
		if got[i] != 1 || errs[i] != nil {
			t.Errorf("request %d: %d, %v; want the one load's 1", i, got[i], errs[i])
		}
	}
	if l := loads.Load(); l != 1 {
		t.Errorf("%d loads for %d requests, want 1", l, n)
	}
}

// TestSnapshotWaiterGivesUp: the request that started the load gives up;
// it returns its context's error at once, while the load goes on, on a
// context of its own (not cancelled, bounded by Timeout), for a request
// that joined it.
func TestSnapshotWaiterGivesUp(t *testing.T) {
	t.Parallel()
	started, release := make(chan struct{}), make(chan struct{})
	var loadCtxErr error
	var loadDeadline bool
	s := NewSnapshot(SnapshotOptions{What: "the thing", TTL: time.Hour, Timeout: time.Hour},
		func(ctx context.Context, _ time.Time) (string, error) {
			close(started)
			<-release
			loadCtxErr = ctx.Err()
			_, loadDeadline = ctx.Deadline()
			return "value", nil
		})
	first, cancel := context.WithCancel(context.Background())
	firstErr := make(chan error, 1)
	go func() {
		_, err := s.Get(first)
		firstErr <- err
	}()
	<-started
	other := make(chan string, 1)
	go func() {
		v, err := s.Get(context.Background())
		other <- fmt.Sprint(v, " ", err)
	}()
	cancel()
	if err := <-firstErr; !errors.Is(err, context.Canceled) {
		t.Fatalf("the request that gave up: %v, want context.Canceled", err)
	}
	close(release)
	if got := <-other; got != "value <nil>" {
		t.Errorf("the other request: %q, want the load's value", got)
	}
	if loadCtxErr != nil || !loadDeadline {
		t.Errorf("the load's context: err %v, deadline %v; want alive and bounded", loadCtxErr, loadDeadline)
	}
}

// TestSnapshotLoadTimeout: a load that does not end by itself ends at
// Timeout with the context's error.
func TestSnapshotLoadTimeout(t *testing.T) {
	t.Parallel()
	s := NewSnapshot(SnapshotOptions{What: "the thing", TTL: time.Hour, Timeout: time.Millisecond},
		func(ctx context.Context, _ time.Time) (int, error) {
			<-ctx.Done()
			return 0, ctx.Err()
		})
	if _, err := s.Get(context.Background()); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("err %v, want the load's deadline", err)
	}
}

// TestSnapshotPanic: a panicking load is every waiter's error (a
// *guard.PanicError), not a crash; the next request loads again.
func TestSnapshotPanic(t *testing.T) {
	t.Parallel()
	var loads atomic.Int64
	s := NewSnapshot(SnapshotOptions{What: "the thing", TTL: time.Hour, FailBackoff: time.Hour},
		func(context.Context, time.Time) (int64, error) {
			if loads.Add(1) == 1 {
				panic("boom")
			}
			return 7, nil
		})
	_, err := s.Get(context.Background())
	var pe *guard.PanicError
	if !errors.As(err, &pe) || pe.Value != "boom" || pe.What != "loading the thing" {
		t.Fatalf("err %#v, want the panic as a *guard.PanicError", err)
	}
	if v, err := s.Get(context.Background()); v != 7 || err != nil || loads.Load() != 2 {
		t.Fatalf("after the panic: %d, %v after %d loads; want a new load's 7", v, err, loads.Load())
	}
}

// TestSnapshotFailedReload: a failed reload does not serve the value it
// would have replaced: within the backoff every request gets its error
// without a new attempt (20 requests, one load), after it the next
// request loads again and the new value serves. Without a backoff every
// request after a failure tries again.
func TestSnapshotFailedReload(t *testing.T) {
	t.Parallel()
	refused := errors.New("vAPI login refused")
	for _, tc := range []struct {
		name    string
		backoff time.Duration
		loads   int64 // after 20 requests that meet the failure
	}{
		{"backoff", 10 * time.Second, 2},
		{"no backoff", 0, 21},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			clk := testutil.NewClock(time.Unix(1e9, 0))
			var loads atomic.Int64
			var fail atomic.Bool
			s := NewSnapshot(SnapshotOptions{What: "the thing", TTL: time.Minute, FailBackoff: tc.backoff, Now: clk.Now},
				func(context.Context, time.Time) (int64, error) {
					n := loads.Add(1)
					if fail.Load() {
						return 0, refused
					}
					return n, nil
				})
			if v, err := s.Get(context.Background()); v != 1 || err != nil {
				t.Fatalf("first: %d, %v", v, err)
			}
			clk.Add(time.Minute) // due
			fail.Store(true)
			for range 20 {
				if v, err := s.Get(context.Background()); !errors.Is(err, refused) || v != 0 {
					t.Fatalf("during the failure: %d, %v; want the load's error, not the held value", v, err)
				}
			}
			if l := loads.Load(); l != tc.loads {
				t.Fatalf("%d loads, want %d", l, tc.loads)
			}
			fail.Store(false)
			clk.Add(tc.backoff - time.Nanosecond)
			if tc.backoff > 0 {
				if _, err := s.Get(context.Background()); !errors.Is(err, refused) || loads.Load() != tc.loads {
					t.Fatalf("just before the backoff's end: %v after %d loads, want the failure's error", err, loads.Load())
				}
			}
			clk.Add(time.Nanosecond)
			want := tc.loads + 1
			for range 3 {
				if v, err := s.Get(context.Background()); v != want || err != nil {
					t.Fatalf("after the failure: %d, %v; want the new load's %d", v, err, want)
				}
			}
		})
	}
}

// TestSnapshotGetSince: a request that needs a load begun after a moment
// gets one, shared with nobody older; a value that keeps starting too
// early (here a frozen clock) costs two loads, then an error.
func TestSnapshotGetSince(t *testing.T) {
	t.Parallel()
	clk := testutil.NewClock(time.Unix(1e9, 0))
	var loads atomic.Int64
	s := NewSnapshot(SnapshotOptions{What: "the tag catalogue", TTL: time.Hour, Now: clk.Now}, counted(&loads))
	t0 := clk.Now()
	for _, step := range []struct {
		advance   time.Duration
		notBefore time.Time
		want      int64
		err       string
	}{
		{0, time.Time{}, 1, ""},
		{0, t0, 1, ""},                            // loaded at t0: new enough
		{time.Second, t0.Add(time.Second), 2, ""}, // loaded before: again
		{0, t0.Add(2 * time.Second), 0, "the tag catalogue keeps changing"},
	} {
		clk.Add(step.advance)
		v, err := s.GetSince(context.Background(), step.notBefore)
		msg := ""
		if err != nil {
			msg = err.Error()
		}
		if v != step.want || msg != step.err {
			t.Fatalf("not before %s: %d, %v; want %d, %q", step.notBefore.Format(time.RFC3339), v, err, step.want, step.err)
		}
	}
	if l := loads.Load(); l != 4 {
		t.Errorf("%d loads, want 4 (one, one more, two that were too early)", l)
	}
}
