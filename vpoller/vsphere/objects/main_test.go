package objects

import (
	"context"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/vmware/govmomi/simulator"
	"github.com/vmware/govmomi/vim25"

	"github.com/vpoller/zabbix-vpoller/vpoller/vsphere/session"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m,
		// The simulator's per-session idle watchers end with the model's
		// context, which the simulator never cancels.
		goleak.IgnoreTopFunction("github.com/vmware/govmomi/simulator.SessionIdleWatch.func1"),
		goleak.IgnoreAnyFunction("net/http.(*persistConn).readLoop"),
		goleak.IgnoreAnyFunction("net/http.(*persistConn).writeLoop"),
	)
}

// simStore is a Store on a session to an embedded simulator (vpx model).
type simStore struct {
	*Store
	sess *session.Session
}

func newSimStore(t testing.TB, opts Options, setup func(*simulator.Model)) simStore {
	t.Helper()
	cfg, err := session.Config{Name: "sim", Simulator: true}.WithDefaults()
	if err != nil {
		t.Fatal(err)
	}
	sess := session.New(cfg, session.Options{SimulatorSetup: setup})
	st, err := New(sess, opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close(); sess.Close() })
	return simStore{st, sess}
}

func (s simStore) vc(t testing.TB) *vim25.Client {
	t.Helper()
	vc, err := s.sess.Client(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return vc
}

// eventually polls cond until it holds or d passes.
func eventually(t testing.TB, d time.Duration, what string, cond func() bool) time.Duration {
	t.Helper()
	start := time.Now()
	for {
		if cond() {
			return time.Since(start)
		}
		if time.Since(start) > d {
			t.Fatalf("%s: not within %v", what, d)
		}
		time.Sleep(10 * time.Millisecond)
	}
}
