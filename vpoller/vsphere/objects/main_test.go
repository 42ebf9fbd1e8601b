package objects

import (
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/vmware/govmomi/simulator"

	"github.com/vpoller/zabbix-vpoller/internal/testutil"
	"github.com/vpoller/zabbix-vpoller/vpoller/vsphere/session"
)

func TestMain(m *testing.M) {
	// Each test has its own simulator and mostly waits on it: 4 at once
	// keep 2 cores busy where GOMAXPROCS (2) leaves them half idle (8 at
	// once cost more CPU under -race than they saved in waiting).
	testutil.Parallel(4)
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
	// Per-call timeouts are a safety net here, not a figure under test
	// (the tests of deadlines give their own): a simulator under the race
	// detector on a loaded 2-core machine has taken longer than the
	// default 8 s to answer.
	cfg, err := session.Config{Name: "sim", Simulator: true, Timeout: time.Minute}.WithDefaults()
	if err != nil {
		t.Fatal(err)
	}
	if opts.Timeout == 0 {
		opts.Timeout = cfg.Timeout
	}
	sess := session.New(cfg, session.Options{SimulatorSetup: setup})
	st, err := New(sess, opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close(); sess.Close() })
	return simStore{st, sess}
}
