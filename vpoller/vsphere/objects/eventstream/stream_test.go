package eventstream

import (
	"context"
	"errors"
	"math"
	"sync/atomic"
	"testing"

	"github.com/vmware/govmomi/vim25"

	"github.com/vpoller/zabbix-vpoller/vpoller/vsphere/objects"
	"github.com/vpoller/zabbix-vpoller/vpoller/vsphere/session"
)

// simSession is a session to an embedded simulator (vpx model).
func simSession(t *testing.T) *session.Session {
	t.Helper()
	cfg, err := session.Config{Name: "sim", Simulator: true}.WithDefaults()
	if err != nil {
		t.Fatal(err)
	}
	sess := session.New(cfg, session.Options{})
	t.Cleanup(sess.Close)
	return sess
}

// TestStreamCloseDestroysCollector: requests share the one collector;
// Close destroys it, and a request after Close is refused.
func TestStreamCloseDestroysCollector(t *testing.T) {
	t.Parallel()
	sess := simSession(t)
	s := New(sess, Options{})
	for range 2 {
		rows, err := s.Get(t.Context(), nil, math.MinInt64, 1)
		if err != nil || len(rows) != 1 || rows[0].Key == 0 || rows[0].Type == "" {
			t.Fatalf("newest event: %+v, %v", rows, err)
		}
	}
	if n := sess.Stats().Calls["CreateCollectorForEvents"]; n != 1 {
		t.Fatalf("%d collectors for two requests, want one", n)
	}
	s.Close()
	if n := sess.Stats().Calls["DestroyCollector"]; n != 1 {
		t.Fatalf("DestroyCollector %d times on Close, want 1", n)
	}
	if _, err := s.Get(t.Context(), nil, math.MinInt64, 1); !errors.Is(err, objects.ErrClosed) {
		t.Fatalf("after Close: %v, want ErrClosed", err)
	}
}

// stuckSession is a session whose login waits for release, then fails.
type stuckSession struct {
	started, release chan struct{}
	calls            atomic.Int64
	ctxErr           error // the drain's context's error when released
}

var errDown = errors.New("vCenter down")

func (s *stuckSession) Client(ctx context.Context) (*vim25.Client, error) {
	if s.calls.Add(1) == 1 {
		close(s.started)
	}
	<-s.release
	s.ctxErr = ctx.Err()
	return nil, errDown
}
func (s *stuckSession) Generation() uint64       { return 1 }
func (s *stuckSession) Connected() *vim25.Client { return nil }

// TestStreamWaiterGivesUp: the request whose arrival started a drain
// gives up: it returns its own context's error at once, while the drain
// goes on, uncancelled, for a request that waits for it and gets its
// result.
func TestStreamWaiterGivesUp(t *testing.T) {
	t.Parallel()
	sess := &stuckSession{started: make(chan struct{}), release: make(chan struct{})}
	s := New(sess, Options{})
	first, cancel := context.WithCancel(t.Context())
	firstErr := make(chan error, 1)
	go func() {
		_, err := s.Get(first, nil, math.MinInt64, 1)
		firstErr <- err
	}()
	<-sess.started
	// (if it comes after the drain, it drains again, and fails alike)
	otherErr := make(chan error, 1)
	go func() {
		_, err := s.Get(t.Context(), nil, math.MinInt64, 1)
		otherErr <- err
	}()
	cancel()
	if err := <-firstErr; !errors.Is(err, context.Canceled) {
		t.Fatalf("the request that gave up: %v, want context.Canceled", err)
	}
	close(sess.release)
	if err := <-otherErr; !errors.Is(err, errDown) {
		t.Errorf("the request that waited: %v, want the drain's error", err)
	}
	if sess.ctxErr != nil {
		t.Errorf("the drain's context ended with %v: the request that gave up cancelled it", sess.ctxErr)
	}
}
