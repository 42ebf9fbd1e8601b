package flight

import (
	"context"
	"errors"
	"sync"
	"testing"

	"go.uber.org/goleak"

	"github.com/vpoller/zabbix-vpoller/internal/guard"
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
