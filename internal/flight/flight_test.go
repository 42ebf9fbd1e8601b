package flight

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/vpoller/zabbix-vpoller/internal/guard"
	"github.com/vpoller/zabbix-vpoller/internal/testutil"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// joinCtx tells when a caller waits in Do: Do asks for Done only once it
// has joined the run.
type joinCtx struct {
	context.Context
	once   sync.Once
	joined chan struct{}
}

func newJoinCtx() *joinCtx {
	return &joinCtx{Context: context.Background(), joined: make(chan struct{})}
}

func (c *joinCtx) Done() <-chan struct{} {
	c.once.Do(func() { close(c.joined) })
	return c.Context.Done()
}

// Callers of one key share one run; each gets its value; a caller whose
// context ends returns at once while the run goes on for the others.
func TestDoShares(t *testing.T) {
	var g Group[int]
	release := make(chan struct{})
	started := make(chan struct{})
	runs := 0
	fn := func() (int, error) {
		runs++
		close(started)
		<-release
		return 42, nil
	}
	var wg sync.WaitGroup
	results := make([]Result[int], 3)
	wg.Go(func() { results[0] = g.Do(context.Background(), "k", "test", nil, fn) })
	<-started
	for i := 1; i < 3; i++ {
		jc := newJoinCtx()
		wg.Go(func() { results[i] = g.Do(jc, "k", "test", nil, fn) })
		<-jc.joined
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if r := g.Do(ctx, "k", "test", nil, fn); !errors.Is(r.Err, context.Canceled) {
		t.Fatalf("cancelled caller: %+v", r)
	}
	close(release)
	wg.Wait()
	if runs != 1 {
		t.Fatalf("%d runs", runs)
	}
	if !results[0].Ran || results[0].Val != 42 {
		t.Fatalf("first caller %+v", results[0])
	}
	for _, r := range results {
		if r.Val != 42 || r.Err != nil {
			t.Fatalf("result %+v", r)
		}
	}
}

// A panic in the shared work is every waiter's error; the process lives.
func TestDoPanic(t *testing.T) {
	var g Group[string]
	r := g.Do(context.Background(), "k", "login", nil, func() (string, error) { panic("nil ServiceContent") })
	var pe *guard.PanicError
	if !errors.As(r.Err, &pe) || pe.What != "login" || pe.Value != "nil ServiceContent" {
		t.Fatalf("result %+v", r)
	}
	// The key is free again.
	if r := g.Do(context.Background(), "k", "login", nil, func() (string, error) { return "ok", nil }); r.Val != "ok" || r.Err != nil {
		t.Fatalf("after the panic: %+v", r)
	}
}

// cancelJoinCtx is a joinCtx its test can cancel.
func newCancelJoinCtx() (*joinCtx, context.CancelFunc) {
	ctx, cancel := context.WithCancel(context.Background())
	return &joinCtx{Context: ctx, joined: make(chan struct{})}, cancel
}

// A waiter that joined a run and then gives up returns its own ctx.Err()
// while the run is still going; the run goes on, and the waiters still
// there get its value.
func TestWaiterGivesUpOthersGetValue(t *testing.T) {
	var g Group[string]
	release := make(chan struct{})
	started := make(chan struct{})
	var runs atomic.Int32
	fn := func() (string, error) {
		runs.Add(1)
		close(started)
		<-release
		return "snapshot", nil
	}
	var wg sync.WaitGroup
	stayed := make([]Result[string], 2)
	wg.Go(func() { stayed[0] = g.Do(context.Background(), "k", "test give up", nil, fn) })
	<-started
	jc := newJoinCtx()
	wg.Go(func() { stayed[1] = g.Do(jc, "k", "test give up", nil, fn) })
	<-jc.joined

	leaver, cancel := newCancelJoinCtx()
	left := make(chan Result[string], 1)
	go func() { left <- g.Do(leaver, "k", "test give up", nil, fn) }()
	<-leaver.joined
	cancel()
	r := <-left // the run is still blocked on release: only the cancel can end this wait
	if !r.GaveUp || !errors.Is(r.Err, context.Canceled) || r.Val != "" || r.Ran {
		t.Fatalf("the waiter that gave up: %+v", r)
	}

	close(release)
	wg.Wait()
	if n := runs.Load(); n != 1 {
		t.Fatalf("%d runs, want 1", n)
	}
	for i, r := range stayed {
		if r.Val != "snapshot" || r.Err != nil || r.GaveUp || !r.Shared {
			t.Fatalf("waiter %d: %+v", i, r)
		}
	}
	if !stayed[0].Ran || stayed[1].Ran {
		t.Fatalf("Ran: first %v, joiner %v; want true, false", stayed[0].Ran, stayed[1].Ran)
	}
}

var panicRuns atomic.Int32

// A panic in the shared work reaches every waiter as the same
// *guard.PanicError, and is logged once, with its stack.
func TestPanicReachesEveryWaiter(t *testing.T) {
	var buf testutil.Buffer
	log := slog.New(slog.NewTextHandler(&buf, nil))
	var g Group[int]
	// guard logs a place once a minute: a name of this run's own.
	what := fmt.Sprintf("test panic for every waiter, run %d", panicRuns.Add(1))
	release := make(chan struct{})
	started := make(chan struct{})
	fn := func() (int, error) {
		close(started)
		<-release
		panic(errors.New("ServiceContent without a SessionManager"))
	}
	const waiters = 4
	results := make([]Result[int], waiters)
	var wg sync.WaitGroup
	wg.Go(func() { results[0] = g.Do(context.Background(), "k", what, log, fn) })
	<-started
	for i := 1; i < waiters; i++ {
		jc := newJoinCtx()
		wg.Go(func() { results[i] = g.Do(jc, "k", what, log, fn) })
		<-jc.joined
	}
	close(release)
	wg.Wait()

	var first *guard.PanicError
	for i, r := range results {
		var pe *guard.PanicError
		if !errors.As(r.Err, &pe) || r.Val != 0 || r.GaveUp {
			t.Fatalf("waiter %d: %+v", i, r)
		}
		if pe.What != what || fmt.Sprint(pe.Value) != "ServiceContent without a SessionManager" ||
			!strings.Contains(pe.Stack, "flight_test.go") {
			t.Fatalf("waiter %d: what %q, value %v, stack:\n%s", i, pe.What, pe.Value, pe.Stack)
		}
		if first == nil {
			first = pe
		} else if pe != first {
			t.Fatalf("waiter %d got another error than waiter 0: %p, %p", i, pe, first)
		}
	}
	out := buf.String()
	if n := strings.Count(out, "recovered from a panic"); n != 1 {
		t.Fatalf("%d log lines for one panic shared by %d waiters:\n%s", n, waiters, out)
	}
	if !strings.Contains(out, `where="`+what+`"`) || !strings.Contains(out, "flight_test.go") {
		t.Fatalf("log without the place or the stack:\n%s", out)
	}
}

// A caller that gave up may wait again on its place in the run (the
// plugin's first caller does, briefly, past its deadline) and then gets
// the run's result, and gets it again on a further Wait.
func TestWaitAgainAfterGivingUp(t *testing.T) {
	var g Group[int]
	release := make(chan struct{})
	started := make(chan struct{})
	call := g.Start("k", "test wait again", nil, func() (int, error) {
		close(started)
		<-release
		return 7, nil
	})
	<-started
	if !call.Ran() {
		t.Fatal("the caller whose fn runs: Ran false")
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if r := call.Wait(ctx); !r.GaveUp || !errors.Is(r.Err, context.Canceled) || !r.Ran {
		t.Fatalf("first wait: %+v", r)
	}
	close(release)
	for i := range 2 {
		if r := call.Wait(context.Background()); r.Val != 7 || r.Err != nil || r.GaveUp || !r.Ran {
			t.Fatalf("wait %d after the run: %+v", i, r)
		}
	}
}

// Detached work keeps the caller's values, not its cancellation, and has
// a deadline of its own.
func TestDetached(t *testing.T) {
	type key struct{}
	ctx, cancel := context.WithCancel(context.WithValue(context.Background(), key{}, "agent vc1"))
	cancel()
	fn := Detached(ctx, time.Hour, func(ctx context.Context) (string, error) {
		if err := ctx.Err(); err != nil {
			return "", err
		}
		d, ok := ctx.Deadline()
		if !ok || time.Until(d) < 59*time.Minute {
			return "", fmt.Errorf("deadline %v %v", d, ok)
		}
		v, _ := ctx.Value(key{}).(string)
		return v, nil
	})
	if v, err := fn(); v != "agent vc1" || err != nil {
		t.Fatalf("detached work: %q %v", v, err)
	}
}
