package vsphere

import (
	"context"
	"fmt"
	"os"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/vmware/govmomi"
	"github.com/vmware/govmomi/simulator"
	"github.com/vmware/govmomi/simulator/vpx"
	"github.com/vmware/govmomi/vim25/types"

	"github.com/vpoller/zabbix-vpoller/internal/testutil"
	"github.com/vpoller/zabbix-vpoller/vpoller"
	"github.com/vpoller/zabbix-vpoller/vpoller/vsphere/objects"
)

func TestMain(m *testing.M) {
	// Each test has its own simulator and mostly waits on it: 4 at once
	// keep 2 cores busy where GOMAXPROCS (2) leaves them half idle (8 at
	// once cost more CPU under -race than they saved in waiting).
	testutil.Parallel(4)
	simulatorHostDatastoreSamples()
	code := m.Run()
	if sharedSim.s != nil {
		_ = sharedSim.s.Close(context.Background())
	}
	if code == 0 {
		if err := goleak.Find(
			// The simulator's per-session idle watchers end with the model's
			// context, which the simulator never cancels.
			goleak.IgnoreTopFunction("github.com/vmware/govmomi/simulator.SessionIdleWatch.func1"),
			goleak.IgnoreAnyFunction("net/http.(*persistConn).readLoop"),
			goleak.IgnoreAnyFunction("net/http.(*persistConn).writeLoop"),
		); err != nil {
			fmt.Fprintln(os.Stderr, "goleak:", err)
			code = 1
		}
	}
	os.Exit(code)
}

// simulatorHostDatastoreSamples gives the simulator's hosts samples of
// their per-datastore counters (datastore.*: IOPS and latency), for which
// its data set has none (it then answers series without values). Set
// before any simulator starts: the data set is read by every simulator of
// the package.
func simulatorHostDatastoreSamples() {
	data := vpx.MetricData["HostSystem"]
	for _, c := range vpx.PerfCounter {
		if c.GroupInfo.GetElementDescription().Key != "datastore" {
			continue
		}
		if _, ok := data[c.Key]; ok {
			continue
		}
		switch c.NameInfo.GetElementDescription().Key {
		case "numberReadAveraged", "numberWriteAveraged":
			data[c.Key] = []int64{120, 340, 95, 410, 230}
		case "totalReadLatency", "totalWriteLatency":
			data[c.Key] = []int64{3, 7, 2, 12, 5}
		}
	}
}

// sharedSim is the Service of shared, made by the first test that asks.
var sharedSim struct {
	once sync.Once
	s    *Service
	err  error
}

// shared returns one Service (default Options, an agent "sim" on the vpx
// model) for the tests that only read: they share its simulator, login,
// mirror and catalogues instead of building their own, each of which
// costs about as much CPU under the race detector as a short test's
// requests. A test that uses it must not change the simulated inventory,
// the agent's state or the package's handlers, nor count calls or stats;
// those take newSim. TestMain closes it.
func shared(t testing.TB) *Service {
	t.Helper()
	sharedSim.once.Do(func() {
		sharedSim.s, sharedSim.err = NewService([]AgentConfig{{Name: "sim", Simulator: true, Timeout: simTimeout}}, Options{})
	})
	if sharedSim.err != nil {
		t.Fatal(sharedSim.err)
	}
	return sharedSim.s
}

// newSim returns a Service with one simulator agent "sim" (vpx model);
// setup, if given, shapes the simulator before it serves.
func newSim(t testing.TB, opts Options, setup ...func(*simulator.Model)) *Service {
	t.Helper()
	if len(setup) > 0 {
		opts.SimulatorSetup = func(_ string, m *simulator.Model) {
			for _, f := range setup {
				f(m)
			}
		}
	}
	s, err := NewService([]AgentConfig{{Name: "sim", Simulator: true, Timeout: simTimeout}}, opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		// Bounded: a simulator that deadlocked inside itself (govmomi's
		// simulator can, between a logout and a view update under heavy
		// concurrency) fails the test here, not the whole run by timeout.
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
		defer cancel()
		if err := s.Close(ctx); err != nil {
			t.Errorf("closing the simulated vCenter: %v", err)
		}
	})
	return s
}

// simTimeout is the per-call timeout of the tests' agents: a safety net
// for a hung call, not a figure under test (the tests of deadlines give
// their own). The default (8 s) is what a vCenter gets; a simulator under
// the race detector on a loaded 2-core machine, 4 tests at once beside
// other test binaries, has taken longer to answer a login.
const simTimeout = time.Minute

// direct is Options with the mirror and the sweep off: every read goes to
// vCenter (tests of the batchers and of coalescing).
var direct = Options{Mirror: MirrorOptions{Off: true}, Sweep: SweepOptions{Off: true}}

func exec(t testing.TB, s *Service, r vpoller.Request) *vpoller.Response {
	t.Helper()
	if r.Hostname == "" {
		r.Hostname = "sim"
	}
	return s.Execute(context.Background(), &r)
}

func names(t testing.TB, resp *vpoller.Response) []string {
	t.Helper()
	list, ok := resp.Result.([]any)
	if !ok {
		t.Fatalf("result is %T, not a list: %s", resp.Result, resp.Encode(vpoller.Python))
	}
	var out []string
	for _, x := range list {
		n, _ := x.(vpoller.Object).Get("name")
		s, _ := n.(string)
		out = append(out, s)
	}
	return out
}

// agent returns the service's agent "sim", connected and its mirror
// synced (requests do not wait for the mirror: tests of what it serves
// do).
func agent(t testing.TB, s *Service) *Agent {
	t.Helper()
	a, _ := s.Agent("sim")
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := a.store.WaitSynced(ctx); err != nil {
		t.Fatal(err)
	}
	if r := exec(t, s, vpoller.Request{Method: "vm.discover"}); r.Success != 0 {
		t.Fatal(string(r.Encode(vpoller.Python)))
	}
	return a
}

// lookup resolves a name through the agent's index.
func lookup(t testing.TB, a *Agent, k *objects.Kind, name string) types.ManagedObjectReference {
	t.Helper()
	ref, err := a.store.Lookup(context.Background(), k, name)
	if err != nil {
		t.Fatal(err)
	}
	return ref
}

// admin is a second client of the agent's simulated vCenter, with a
// session of its own: the tests change the inventory through it, as
// another vSphere user would.
func admin(t testing.TB, a *Agent) *govmomi.Client {
	t.Helper()
	ctx := context.Background()
	c, err := govmomi.NewClient(ctx, a.Simulator().URL(), true)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Logout(ctx) })
	return c
}

// notify reports a property change to the simulator's property
// collectors. The simulator changes some properties (a host's
// connectionState, alarm states) without telling its collectors, which
// vCenter always does; the tests that change those tell them, as vCenter
// would.
func notify(t testing.TB, a *Agent, ref types.ManagedObjectReference, path string, val any) {
	t.Helper()
	m := a.Simulator().Model()
	obj := m.Map().Get(ref)
	if obj == nil {
		t.Fatalf("%s not in the simulator", ref)
	}
	m.Map().AtomicUpdate(m.Service.Context, obj, []types.PropertyChange{{Name: path, Val: val}})
}

// eventually polls cond until it holds or d passes, and returns how long
// it took.
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
