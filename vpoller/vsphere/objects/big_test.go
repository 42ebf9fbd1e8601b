package objects

import (
	"context"
	"crypto/tls"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net"
	"os"
	"slices"
	"sort"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/vmware/govmomi"
	"github.com/vmware/govmomi/property"
	"github.com/vmware/govmomi/simulator"
	"github.com/vmware/govmomi/view"
	"github.com/vmware/govmomi/vim25"
	"github.com/vmware/govmomi/vim25/methods"
	"github.com/vmware/govmomi/vim25/soap"
	"github.com/vmware/govmomi/vim25/types"

	"github.com/vpoller/zabbix-vpoller/vpoller/vsphere/session"
)

// The tests of this file run on simulated vCenters of thousands of VMs
// and take minutes: they run with VPOLLER_BIG=1 (VPOLLER_BIG_VMS sets
// the size, 10,000 by default). TestBigFreshness also reads
// VPOLLER_BIG_SAME (1: a second plain collector with the mirror's whole
// filter), VPOLLER_BIG_ROUNDS (6), VPOLLER_BIG_BURST (the mirror's poll
// burst; 1 is the one-poll-a-second schedule of before) and
// VPOLLER_BIG_DEBUG (1: the mirror's debug log on stderr).

func bigVMs(t testing.TB) int {
	t.Helper()
	if os.Getenv("VPOLLER_BIG") == "" {
		t.Skip("set VPOLLER_BIG=1 to run the 10,000-VM tests")
	}
	n := 10000
	if s := os.Getenv("VPOLLER_BIG_VMS"); s != "" {
		var err error
		if n, err = strconv.Atoi(s); err != nil || n < 1 {
			t.Fatalf("VPOLLER_BIG_VMS=%q", s)
		}
	}
	return n
}

// bigSim is a simulated vCenter of n powered-on VMs in one cluster of
// n/50 hosts, served over HTTPS and reached by sessions as a real vCenter
// is (the session room's embedded simulator has a fixed size).
type bigSim struct {
	model  *simulator.Model
	server *simulator.Server
	cfg    session.Config
	vms    []types.ManagedObjectReference // sorted by name
	names  map[types.ManagedObjectReference]string
}

// startBigSim builds the model's infrastructure, then creates and powers
// on the VMs through the simulator's own API, 32 at a time, in process
// (the model creates its VMs one after another, each task waited for on
// a 20 ms tick: 7 minutes for 10,000).
func startBigSim(t testing.TB, n int) *bigSim {
	t.Helper()
	start := time.Now()
	m := simulator.VPX()
	m.Host, m.ClusterHost, m.Machine = 0, max(4, n/50), 0
	if err := m.Create(); err != nil {
		t.Fatal(err)
	}
	vc, err := vim25.NewClient(context.Background(), m.Service)
	if err != nil {
		t.Fatal(err)
	}
	var folder, pool types.ManagedObjectReference
	for _, o := range m.Map().All("Folder") {
		if f := o.(*simulator.Folder); f.Name == "vm" {
			folder = f.Self
		}
	}
	for _, o := range m.Map().All("ResourcePool") {
		if rp := o.(*simulator.ResourcePool); rp.Parent.Type == "ClusterComputeResource" {
			pool = rp.Self
		}
	}
	// wait returns a task's result once it is done.
	wait := func(ref types.ManagedObjectReference) (result any) {
		task := m.Map().Get(ref).(*simulator.Task)
		task.Wait()
		m.Map().WithLock(&simulator.Context{}, task, func() { result = task.Info.Result })
		return result
	}
	ctx := context.Background()
	var wg sync.WaitGroup
	var mu sync.Mutex
	var firstErr error
	sem := make(chan struct{}, 32)
	for i := range n {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			name := fmt.Sprintf("BIG_VM%05d", i)
			spec := types.VirtualMachineConfigSpec{Name: name, GuestId: string(types.VirtualMachineGuestOsIdentifierOtherGuest),
				Files: &types.VirtualMachineFileInfo{VmPathName: "[LocalDS_0]"}}
			res, err := methods.CreateVM_Task(ctx, vc, &types.CreateVM_Task{This: folder, Config: spec, Pool: pool})
			if err == nil {
				if ref, ok := wait(res.Returnval).(types.ManagedObjectReference); ok {
					var pres *types.PowerOnVM_TaskResponse
					if pres, err = methods.PowerOnVM_Task(ctx, vc, &types.PowerOnVM_Task{This: ref}); err == nil {
						wait(pres.Returnval)
					}
				} else {
					err = fmt.Errorf("%s not created", name)
				}
			}
			if err != nil {
				mu.Lock()
				firstErr = err
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	if firstErr != nil {
		t.Fatal(firstErr)
	}
	m.Service.TLS = new(tls.Config)
	s := m.Service.NewServer()
	t.Cleanup(func() { s.Close(); m.Remove() })
	host, port, _ := net.SplitHostPort(s.URL.Host)
	p, _ := strconv.Atoi(port)
	pw, _ := s.URL.User.Password()
	cfg, err := session.Config{Name: "big", Host: host, Port: p, Username: s.URL.User.Username(), Password: pw,
		Thumbprint: soap.ThumbprintSHA256(s.Certificate())}.WithDefaults()
	if err != nil {
		t.Fatal(err)
	}
	b := &bigSim{model: m, server: s, cfg: cfg, names: map[types.ManagedObjectReference]string{}}
	for _, o := range m.Map().All("VirtualMachine") {
		vm := o.(*simulator.VirtualMachine)
		b.vms = append(b.vms, vm.Self)
		b.names[vm.Self] = vm.Name
	}
	sort.Slice(b.vms, func(i, j int) bool { return b.names[b.vms[i]] < b.names[b.vms[j]] })
	t.Logf("simulator with %d VMs (%d hosts) ready in %v", len(b.vms), m.ClusterHost, time.Since(start).Round(time.Millisecond))
	return b
}

// store is a Store on a new session to the simulator.
func (b *bigSim) store(t testing.TB, opts Options) (*Store, *session.Session) {
	t.Helper()
	sess := session.New(b.cfg, session.Options{})
	st, err := New(sess, opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close(); sess.Close() })
	return st, sess
}

// client is a plain govmomi client of the simulator with a session of
// its own.
func (b *bigSim) client(t testing.TB) *govmomi.Client {
	t.Helper()
	u := *b.server.URL
	c, err := govmomi.NewClient(context.Background(), &u, true)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Logout(context.Background()) })
	return c
}

// plainWatch is a plain govmomi property collector on its own session,
// with the same filter as the mirror's (or only VMs' runtime.powerState
// when tiny): it tells when the simulator reports a VM's power state.
type plainWatch struct {
	mu   sync.Mutex
	seen map[types.ManagedObjectReference]chan string
}

func (b *bigSim) watchPlain(t testing.TB, ctx context.Context, paths map[string][]string) *plainWatch {
	t.Helper()
	c := b.client(t)
	v, err := view.NewManager(c.Client).CreateContainerView(ctx, c.ServiceContent.RootFolder, sortedKeys(paths), true)
	if err != nil {
		t.Fatal(err)
	}
	pc, err := property.DefaultCollector(c.Client).Create(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := pc.CreateFilter(ctx, types.CreateFilter{Spec: filterSpec(v.Reference(), paths)}); err != nil {
		t.Fatal(err)
	}
	w := &plainWatch{seen: map[types.ManagedObjectReference]chan string{}}
	wctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	synced := make(chan struct{})
	go func() {
		defer close(done)
		first := true
		_ = pc.WaitForUpdatesEx(wctx, &property.WaitOptions{}, func(ous []types.ObjectUpdate) bool {
			for _, ou := range ous {
				for _, ch := range ou.ChangeSet {
					if ch.Name == "runtime.powerState" {
						w.mu.Lock()
						if c := w.seen[ou.Obj]; c != nil {
							select {
							case c <- fmt.Sprint(ch.Val):
							default:
							}
						}
						w.mu.Unlock()
					}
				}
			}
			if first {
				first = false
				close(synced)
			}
			return false
		})
	}()
	t.Cleanup(func() {
		cancel()
		<-done
		_ = pc.Destroy(context.Background())
	})
	<-synced
	return w
}

// expect returns a channel that receives ref's power states as reported.
func (w *plainWatch) expect(ref types.ManagedObjectReference) chan string {
	w.mu.Lock()
	defer w.mu.Unlock()
	c := make(chan string, 16)
	w.seen[ref] = c
	return c
}

func sortedKeys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// powerTask powers ref off (on when on) through c and returns when the
// task is done.
func (b *bigSim) powerTask(t testing.TB, c *govmomi.Client, ref types.ManagedObjectReference, on bool) {
	t.Helper()
	ctx := context.Background()
	var task types.ManagedObjectReference
	if on {
		res, err := methods.PowerOnVM_Task(ctx, c.Client, &types.PowerOnVM_Task{This: ref})
		if err != nil {
			t.Fatal(err)
		}
		task = res.Returnval
	} else {
		res, err := methods.PowerOffVM_Task(ctx, c.Client, &types.PowerOffVM_Task{This: ref})
		if err != nil {
			t.Fatal(err)
		}
		task = res.Returnval
	}
	b.model.Map().Get(task).(*simulator.Task).Wait()
}

// awaited is the power state change a freshness round waits for.
type awaited struct {
	ref  types.ManagedObjectReference
	want string
	at   chan time.Time // when the mirror applied it
}

// TestBigFreshness measures, side by side in one run, how long after a
// power task completed the simulator reports the change to a plain
// govmomi collector (runtime.powerState of every VM; with
// VPOLLER_BIG_SAME=1 also one with the mirror's whole filter), when the
// mirror applied it, and when Store.Get returns it. Our share is
// Store.Get's time minus the plain collector's; of it, the part after
// the update reached the mirror is our code's.
func TestBigFreshness(t *testing.T) {
	n := bigVMs(t)
	b := startBigSim(t, n)
	opts := Options{}
	if os.Getenv("VPOLLER_BIG_DEBUG") != "" {
		opts.Logger = slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	st, _ := b.store(t, opts)
	if s := os.Getenv("VPOLLER_BIG_BURST"); s != "" { // 1: the polls of before, one per second at most
		st.mirror.burst, _ = strconv.Atoi(s)
	}
	var cur atomic.Pointer[awaited]
	st.mirror.applied = func(g *generation) {
		a := cur.Load()
		if a == nil {
			return
		}
		st.mirror.mu.RLock()
		o := g.inv.byRef[a.ref]
		got := o != nil && fmt.Sprint(o.vals["runtime.powerState"]) == a.want
		st.mirror.mu.RUnlock()
		if got && cur.CompareAndSwap(a, nil) {
			a.at <- time.Now()
		}
	}
	ctx := context.Background()
	start := time.Now()
	st.SetRole(RoleOwner)
	if err := st.WaitSynced(ctx); err != nil {
		t.Fatal(err)
	}
	t.Logf("mirror synced in %v (%d WaitForUpdatesEx)", time.Since(start).Round(time.Millisecond), st.Stats().Mirror.FirstSyncCalls)
	plain := b.watchPlain(t, ctx, map[string][]string{"VirtualMachine": {"runtime.powerState"}})
	var same *plainWatch
	if os.Getenv("VPOLLER_BIG_SAME") != "" {
		paths, _ := st.watch.snapshot()
		same = b.watchPlain(t, ctx, paths)
	}
	admin := b.client(t)
	rounds := 6
	if s := os.Getenv("VPOLLER_BIG_ROUNDS"); s != "" {
		rounds, _ = strconv.Atoi(s)
	}
	var sims, sames, delivered, gets []time.Duration
	for i := -1; i < rounds; i++ { // round -1 warms up
		ref := b.vms[((i+1)/2*7919)%len(b.vms)]
		on := i%2 == 0 // off, then on again
		want := map[bool]string{true: "poweredOn", false: "poweredOff"}[on]
		seen := plain.expect(ref)
		var seenSame chan string
		if same != nil {
			seenSame = same.expect(ref)
		}
		a := &awaited{ref: ref, want: want, at: make(chan time.Time, 1)}
		cur.Store(a)
		b.powerTask(t, admin, ref, on)
		done := time.Now()
		arrival := func(ch chan string) time.Duration {
			timeout := time.After(10 * time.Minute)
			for {
				select {
				case v := <-ch:
					if v == want {
						return time.Since(done)
					}
				case <-timeout:
					t.Fatalf("round %d: %s not reported", i, want)
				}
			}
		}
		var sim, simSame, applied, got time.Duration
		var wg sync.WaitGroup
		wg.Add(1)
		go func() { defer wg.Done(); sim = arrival(seen) }()
		if seenSame != nil {
			wg.Add(1)
			go func() { defer wg.Done(); simSame = arrival(seenSame) }()
		}
		select {
		case at := <-a.at:
			applied = at.Sub(done)
		case <-time.After(10 * time.Minute):
			t.Fatalf("round %d: the mirror never applied %s", i, want)
		}
		for {
			v, err := st.Get(ctx, ref, "", []string{"runtime.powerState"})
			if err != nil {
				t.Fatal(err)
			}
			if fmt.Sprint(v["runtime.powerState"]) == want {
				got = time.Since(done)
				break
			}
			if time.Since(done)-applied > 10*time.Second {
				t.Fatalf("round %d: the mirror applied %s but Store.Get returns %v", i, want, v)
			}
		}
		wg.Wait()
		ms := func(d time.Duration) time.Duration { return d.Round(time.Millisecond) }
		t.Logf("round %d %s: plain collector %v, same filter %v, applied by the mirror %v, Store.Get %v", i, want,
			ms(sim), ms(simSame), ms(applied), ms(got))
		if i >= 0 {
			sims, sames, delivered, gets = append(sims, sim), append(sames, simSame), append(delivered, applied), append(gets, got)
		}
	}
	mean := func(ds []time.Duration) time.Duration {
		var sum time.Duration
		for _, d := range ds {
			sum += d
		}
		return (sum / time.Duration(len(ds))).Round(time.Millisecond)
	}
	worst := func(ds []time.Duration) time.Duration { return slices.Max(ds).Round(time.Millisecond) }
	var share, code []time.Duration
	for i := range gets {
		share, code = append(share, gets[i]-sims[i]), append(code, gets[i]-delivered[i])
	}
	t.Logf("%d VMs, %d rounds, mean (worst): plain collector %v (%v), same filter %v (%v), mirror applied %v (%v), Store.Get %v (%v); "+
		"our share %v (%v), of which after the update reached us %v (%v)", n, rounds, mean(sims), worst(sims), mean(sames), worst(sames),
		mean(delivered), worst(delivered), mean(gets), worst(gets), mean(share), worst(share), mean(code), worst(code))
}

// TestBigColdStore: a worker takes over a vCenter of n VMs under load. At
// the instant the store becomes owner, 32 clients start asking vm.get's
// reads (a lookup and two watched properties of a random VM, each with
// the worker's 9 s request timeout) and keep asking until the mirror has
// synced. Every request must succeed, the first one long
// before the mirror synced (100 more per client are asked of the synced
// mirror). It also measures, on sessions of their own,
// the two ways to answer lookups before the first sync: the cold index
// (one RetrievePropertiesEx of the index paths through a container
// view, what the store does) and a first mirror generation watching only
// the index paths.
func TestBigColdStore(t *testing.T) {
	n := bigVMs(t)
	b := startBigSim(t, n)
	ctx := context.Background()
	name := b.names[b.vms[n/2]]

	// The cold index: a passive store's first lookup.
	idx, sess := b.store(t, Options{})
	idx.SetRole(RolePassive)
	start := time.Now()
	if _, err := idx.Lookup(ctx, VM, name); err != nil {
		t.Fatal(err)
	}
	t.Logf("cold index: first lookup after %v, calls %v", time.Since(start).Round(time.Millisecond), sess.Stats().Calls)
	idx.Close()

	// A first generation of the index paths only.
	{
		sess := session.New(b.cfg, session.Options{})
		t.Cleanup(sess.Close)
		log := slog.New(slog.DiscardHandler)
		mo, _ := MirrorOptions{}.withDefaults()
		m := newMirror(sess, log, newWatchSet(log, mo.MaxPaths, mo.PathExpiry, false), mo, time.Now)
		start := time.Now()
		g, err := m.build(ctx)
		if err == nil {
			err = m.catchUp(ctx, g)
		}
		if err != nil {
			t.Fatal(err)
		}
		o, err := g.inv.find(VM, name)
		if err != nil {
			t.Fatal(err)
		}
		t.Logf("index-only generation: %s found after %v (%d WaitForUpdatesEx), calls %v", o.ref.Value,
			time.Since(start).Round(time.Millisecond), g.pages, sess.Stats().Calls)
		m.destroy(g)
	}

	st, sess := b.store(t, Options{})
	const clients = 32
	var answered, failed atomic.Int64
	var firstAt atomic.Int64 // ns after start
	var mu sync.Mutex
	var errs []string
	stop := make(chan struct{})
	var target atomic.Int64 // once the mirror synced: stop when this many are answered
	enough := make(chan struct{})
	var once sync.Once
	var wg sync.WaitGroup
	start = time.Now()
	st.SetRole(RoleOwner)
	for c := range clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r := rand.New(rand.NewPCG(uint64(c), 7))
			for {
				select {
				case <-stop:
					return
				default:
				}
				name := b.names[b.vms[r.IntN(len(b.vms))]]
				rctx, cancel := context.WithTimeout(ctx, 9*time.Second)
				ref, err := st.Lookup(rctx, VM, name)
				var v Values
				if err == nil {
					v, err = st.Get(rctx, ref, name, []string{"runtime.powerState", "summary.config.numCpu"})
				}
				cancel()
				if err == nil && fmt.Sprint(v["runtime.powerState"]) != "poweredOn" {
					err = fmt.Errorf("%s: %v", name, v)
				}
				if err != nil {
					failed.Add(1)
					mu.Lock()
					if len(errs) < 5 {
						errs = append(errs, err.Error())
					}
					mu.Unlock()
					continue
				}
				if k := answered.Add(1); target.Load() > 0 && k >= target.Load() {
					once.Do(func() { close(enough) })
				}
				firstAt.CompareAndSwap(0, int64(time.Since(start)))
			}
		}()
	}
	if err := st.WaitSynced(ctx); err != nil {
		t.Fatal(err)
	}
	synced := time.Since(start)
	coldAnswered, coldCalls := answered.Load(), sess.Stats().Calls
	target.Store(coldAnswered + 100*clients) // the load goes on against the synced mirror
	select {
	case <-enough:
	case <-time.After(5 * time.Minute):
		t.Error("the synced mirror did not answer 100 requests per client within 5 minutes")
	}
	close(stop)
	wg.Wait()
	ms := st.Stats().Mirror
	t.Logf("cold owner store, %d VMs, %d clients: first answer after %v, mirror synced after %v (%d WaitForUpdatesEx); "+
		"%d requests answered before it synced, %d in all, %d failed; calls until synced %v; index reads %d, reads from the mirror %d, from vCenter %d",
		n, clients, time.Duration(firstAt.Load()).Round(time.Millisecond), synced.Round(time.Millisecond), ms.FirstSyncCalls,
		coldAnswered, answered.Load(), failed.Load(), coldCalls, ms.IndexReads, ms.Served, ms.Direct)
	if failed.Load() != 0 {
		t.Errorf("%d requests failed, e.g. %v", failed.Load(), errs)
	}
	if first := time.Duration(firstAt.Load()); first == 0 || first >= synced {
		t.Errorf("first answer after %v, mirror synced after %v: reads waited for the mirror", first, synced)
	}
}
