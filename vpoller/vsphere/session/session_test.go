package session

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/vmware/govmomi"
	govsession "github.com/vmware/govmomi/session"
	"github.com/vmware/govmomi/simulator"
	"github.com/vmware/govmomi/vim25"
	"github.com/vmware/govmomi/vim25/methods"
	"github.com/vmware/govmomi/vim25/types"
)

// newSimSession is a session to an embedded simulator with the given
// per-call timeout: a generous one unless the test is about timeouts, as
// a first TLS connection on a loaded machine can take seconds.
func newSimSession(t *testing.T, timeout time.Duration, setup func(*simulator.Model)) *Session {
	t.Helper()
	cfg, err := Config{Name: "sim", Simulator: true, Timeout: timeout}.WithDefaults()
	if err != nil {
		t.Fatal(err)
	}
	s := New(cfg, Options{SimulatorSetup: setup})
	t.Cleanup(s.Close)
	return s
}

// TestReloginAfterSessionDropped: another user terminates our session on
// the simulated vCenter; the next call logs in again once and succeeds,
// and concurrent callers share that one login.
func TestReloginAfterSessionDropped(t *testing.T) {
	s := newSimSession(t, 10*time.Second, nil)
	ctx := context.Background()
	vc, err := s.Client(ctx)
	if err != nil {
		t.Fatal(err)
	}
	ours, err := govsession.NewManager(vc).UserSession(ctx)
	if err != nil || ours == nil {
		t.Fatalf("our session: %v %v", ours, err)
	}
	admin, err := govmomi.NewClient(ctx, s.Simulator().URL(), true)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = admin.Logout(ctx) }()
	if err := admin.SessionManager.TerminateSession(ctx, []string{ours.Key}); err != nil {
		t.Fatal(err)
	}
	gen := s.Generation()
	done := make(chan error, 4)
	for range 4 {
		go func() {
			_, err := methods.GetCurrentTime(ctx, vc)
			done <- err
		}()
	}
	for range 4 {
		if err := <-done; err != nil {
			t.Fatalf("call after the session was dropped: %v", err)
		}
	}
	if st := s.Stats(); st.Logins != 2 || s.Generation() != gen+1 {
		t.Fatalf("logins %d, generation %d -> %d: want one re-login", st.Logins, gen, s.Generation())
	}
	if st := s.Stats(); st.Calls["Login"] != 2 || st.Calls["CurrentTime"] < 4 {
		t.Errorf("calls by method %v", st.Calls)
	}
}

// TestLongPollOutlivesCallTimeout: a WaitForUpdatesEx whose MaxWaitSeconds
// exceeds the per-call timeout is not cut short; an ordinary call stuck
// longer than the timeout is.
func TestLongPollOutlivesCallTimeout(t *testing.T) {
	s := newSimSession(t, 2*time.Second, func(m *simulator.Model) {
		m.DelayConfig.MethodDelay = map[string]int{"CurrentTime": 3000}
	})
	ctx := context.Background()
	// The first TLS connection can take longer than the 2 s under test on
	// a loaded machine; a failed connect leaves nothing behind, so try
	// again (the calls below reuse the connection).
	var vc *vim25.Client
	var err error
	for try := 0; try < 5; try++ {
		if vc, err = s.Client(ctx); err == nil {
			break
		}
	}
	if err != nil {
		t.Fatal(err)
	}
	pc, err := methods.CreatePropertyCollector(ctx, vc, &types.CreatePropertyCollector{This: vc.ServiceContent.PropertyCollector})
	if err != nil {
		t.Fatal(err)
	}
	_, err = methods.CreateFilter(ctx, vc, &types.CreateFilter{This: pc.Returnval, Spec: types.PropertyFilterSpec{
		ObjectSet: []types.ObjectSpec{{Obj: vc.ServiceContent.RootFolder}},
		PropSet:   []types.PropertySpec{{Type: "Folder", PathSet: []string{"name"}}}}})
	if err != nil {
		t.Fatal(err)
	}
	first, err := methods.WaitForUpdatesEx(ctx, vc, &types.WaitForUpdatesEx{This: pc.Returnval})
	if err != nil || first.Returnval == nil {
		t.Fatalf("initial update: %v", err)
	}
	start := time.Now()
	res, err := methods.WaitForUpdatesEx(ctx, vc, &types.WaitForUpdatesEx{This: pc.Returnval, Version: first.Returnval.Version,
		Options: &types.WaitOptions{MaxWaitSeconds: types.NewInt32(3)}})
	if err != nil || res.Returnval != nil {
		t.Fatalf("long poll: %v %+v", err, res)
	}
	if d := time.Since(start); d < 3*time.Second {
		t.Fatalf("long poll returned after %v, before its 3 s", d)
	}
	// The simulator answers CurrentTime after 3 s: only the 2 s per-call
	// deadline can end it with DeadlineExceeded.
	start = time.Now()
	_, err = methods.GetCurrentTime(ctx, vc)
	if !errors.Is(err, context.DeadlineExceeded) || time.Since(start) < 2*time.Second {
		t.Fatalf("slow call: %v after %v, want the 2 s timeout", err, time.Since(start))
	}
	if got := longPollWait(&methods.WaitForUpdatesExBody{Req: &types.WaitForUpdatesEx{Options: &types.WaitOptions{MaxWaitSeconds: types.NewInt32(7)}}}); got != 7*time.Second {
		t.Errorf("longPollWait = %v", got)
	}
	if got := longPollWait(&methods.LoginBody{}); got != 0 {
		t.Errorf("longPollWait(Login) = %v", got)
	}
}

func TestClosedSession(t *testing.T) {
	s := newSimSession(t, 10*time.Second, nil)
	if _, err := s.Client(context.Background()); err != nil {
		t.Fatal(err)
	}
	s.Close()
	if _, err := s.Client(context.Background()); !errors.Is(err, ErrClosed) {
		t.Fatalf("after Close: %v", err)
	}
	if s.Connected() != nil || s.Simulator() != nil {
		t.Error("closed session still holds a client or simulator")
	}
}
