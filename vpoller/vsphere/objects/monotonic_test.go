package objects

import (
	"context"
	"fmt"
	"os"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/vmware/govmomi"
	govobj "github.com/vmware/govmomi/object"
	"github.com/vmware/govmomi/vim25/methods"
	"github.com/vmware/govmomi/vim25/types"
)

// answer is a WaitForUpdatesEx answer a generation received.
type answer struct {
	g   *generation
	set *types.UpdateSet
}

// gate holds one call of a test hook until the test releases it: the
// test arms it (optionally for calls that match), waits until a call
// reached it, does what must happen meanwhile, and releases it.
type gate[A any] struct {
	mu      sync.Mutex
	armed   bool
	match   func(A) bool
	hold    bool
	reached chan struct{}
	release chan struct{}
	closed  chan struct{} // closed at cleanup: nothing is held any more
}

func newGate[A any](t *testing.T) *gate[A] {
	g := &gate[A]{closed: make(chan struct{})}
	t.Cleanup(func() { close(g.closed) }) // before the store closes (cleanups run last first)
	return g
}

// arm makes the next matching call signal reached and, when hold, wait
// for release.
func (g *gate[A]) arm(hold bool, match func(A) bool) (reached, release chan struct{}) {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.armed, g.hold, g.match = true, hold, match
	g.reached, g.release = make(chan struct{}), make(chan struct{})
	return g.reached, g.release
}

func (g *gate[A]) hook(a A) {
	g.mu.Lock()
	if !g.armed || g.match != nil && !g.match(a) {
		g.mu.Unlock()
		return
	}
	g.armed = false
	reached, release, hold := g.reached, g.release, g.hold
	g.mu.Unlock()
	close(reached)
	if hold {
		select {
		case <-release:
		case <-g.closed:
		}
	}
}

// within waits for ch, failing the test after a generous bound.
func within(t *testing.T, ch <-chan struct{}, what string) {
	t.Helper()
	select {
	case <-ch:
	case <-time.After(20 * time.Second):
		t.Fatalf("%s: not within 20 s", what)
	}
}

// TestValuesNeverGoBack drives a VM's power state through a store while
// the mirror is disturbed in each of the ways that used to serve a state
// older than one already served, in a fixed order (the test hooks hold
// the mirror at the point where it matters, so every round is the same):
//
//   - poll: the generation's update poll fails (its property collector
//     is destroyed from outside), reads go to vCenter, and the power task
//     completes while the next generation has read its initial pages;
//   - paths: a path joins, and the power task completes while the new
//     generation has read its initial pages and the old one serves;
//   - role: owner to passive to owner, the task completing while the new
//     mirror has read its initial pages;
//   - overlay: a direct read returns the new state while the
//     generation's poll has received but not applied it;
//   - straddle: a direct read that saw the old state returns after the
//     mirror served the new one;
//   - catch-up: the task completes while a new generation's catch-up
//     wait has been answered but not applied;
//   - halt: a direct read that saw the old state settles after owner to
//     passive to owner, once the new mirror's catch-up began.
//
// Every read is compared with the last one served: the power state never
// returns to an earlier value after a later one was served. The scenarios
// in turn, twice: with an odd number of them, each runs once powering the
// VM on and once powering it off (every round is the same, so more rounds
// add time, not cases; VPOLLER_MONOTONIC_ROUNDS sets another number).
func TestValuesNeverGoBack(t *testing.T) {
	t.Parallel()
	rounds := -1 // twice the scenarios, below
	if v := os.Getenv("VPOLLER_MONOTONIC_ROUNDS"); v != "" {
		rounds, _ = strconv.Atoi(v)
	}
	s := newSimStore(t, Options{Mirror: MirrorOptions{Wait: time.Second}}, nil)
	m := s.mirror
	m.joinDelay, m.retryDelay = 10*time.Millisecond, 10*time.Millisecond
	built, installed, applied := newGate[*generation](t), newGate[*generation](t), newGate[*generation](t)
	received := newGate[answer](t)
	settling := newGate[types.ManagedObjectReference](t)
	m.built, m.installed, m.applied = built.hook, installed.hook, applied.hook
	m.received = func(g *generation, set *types.UpdateSet) { received.hook(answer{g, set}) }
	s.settling = settling.hook

	ctx := context.Background()
	s.SetRole(RoleOwner)
	waitSynced(t, s)
	const name = "DC0_H0_VM0"
	vm, err := s.Lookup(ctx, VM, name)
	if err != nil {
		t.Fatal(err)
	}
	sim := s.sess.Simulator()
	admin, err := govmomi.NewClient(ctx, sim.URL(), true)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = admin.Logout(context.Background()) })

	state := func(k int) string { return map[bool]string{true: "poweredOn", false: "poweredOff"}[k%2 == 0] }
	ops, last := 0, 0 // power tasks done; the task whose state was served last
	round, scenario := 0, ""
	check := func(v Values, err error, how string) {
		t.Helper()
		if err != nil {
			t.Fatalf("round %d (%s): %s: %v", round, scenario, how, err)
		}
		switch got := fmt.Sprint(v["runtime.powerState"]); {
		case got == state(last):
		case got == state(ops) && last < ops:
			last = ops
		default:
			t.Fatalf("round %d (%s): %s returned %s after %s (task %d) was served; %d tasks done",
				round, scenario, how, got, state(last), last, ops)
		}
	}
	power := []string{"runtime.powerState"}
	mirrorRead := func(how string) { t.Helper(); v, err := s.Get(ctx, vm, name, power); check(v, err, how) }
	directRead := func(how string) { t.Helper(); v, err := s.Read(ctx, vm, name, power); check(v, err, how) }
	task := func() {
		t.Helper()
		v := govobj.NewVirtualMachine(admin.Client, vm)
		var tk *govobj.Task
		var err error
		if ops%2 == 0 {
			tk, err = v.PowerOff(ctx)
		} else {
			tk, err = v.PowerOn(ctx)
		}
		if err == nil {
			err = tk.Wait(ctx)
		}
		if err != nil {
			t.Fatalf("round %d: power task: %v", round, err)
		}
		ops++
	}
	// appliedState arms a signal for when g (nil: any generation) has
	// applied want; appliedNew for the state of the next task.
	appliedState := func(g *generation, want string) chan struct{} {
		reached, _ := applied.arm(false, func(x *generation) bool {
			m.mu.RLock()
			defer m.mu.RUnlock()
			o := x.inv.byRef[vm]
			return (g == nil || x == g) && o != nil && fmt.Sprint(o.vals["runtime.powerState"]) == want
		})
		return reached
	}
	appliedNew := func(g *generation) chan struct{} { return appliedState(g, state(ops+1)) }
	serving := func() *generation {
		m.mu.RLock()
		defer m.mu.RUnlock()
		return m.serving
	}
	// Paths that join the mirror, one per round that needs a new one.
	joining := []string{"config.hardware.numCPU", "config.hardware.memoryMB", "config.version", "config.guestId", "config.name",
		"config.template", "summary.config.name", "summary.config.template", "summary.overallStatus", "guest.guestId",
		"summary.config.vmPathName", "summary.config.memoryReservation", "summary.config.cpuReservation",
		"summary.config.numEthernetCards", "summary.config.numVirtualDisks", "summary.config.guestId",
		"summary.runtime.maxCpuUsage", "runtime.maxMemoryUsage", "guest.toolsStatus", "guest.toolsVersion"}
	joined := 0
	join := func() string {
		t.Helper()
		if joined == len(joining) {
			t.Fatalf("round %d: no path left to join", round)
		}
		joined++
		return joining[joined-1]
	}

	scenarios := []struct {
		name string
		run  func()
	}{
		{"poll", func() {
			reached, release := built.arm(true, nil)
			done, _ := installed.arm(false, nil)
			// Its WaitForUpdatesEx fails. (Not pc.Destroy: that forgets the
			// collector's reference, which the poll reads.)
			g := serving()
			if _, err := methods.DestroyPropertyCollector(ctx, g.vc, &types.DestroyPropertyCollector{This: g.pc.Reference()}); err != nil {
				t.Fatal(err)
			}
			within(t, reached, "next generation built")
			task()
			directRead("direct read after the task")
			mirrorRead("read while the mirror resyncs")
			close(release)
			within(t, done, "next generation installed")
			mirrorRead("read of the new generation")
		}},
		{"paths", func() {
			reached, release := built.arm(true, nil)
			done, _ := installed.arm(false, nil)
			v, err := s.Get(ctx, vm, name, []string{"runtime.powerState", join()})
			check(v, err, "read of a path that joins")
			within(t, reached, "generation with the new path built")
			old := serving()
			seen := appliedNew(old)
			task()
			within(t, seen, "the old generation applied the task")
			mirrorRead("read of the old generation")
			close(release)
			within(t, done, "generation with the new path installed")
			mirrorRead("read of the new generation")
		}},
		{"role", func() {
			s.SetRole(RolePassive)
			mirrorRead("read in the passive role")
			reached, release := built.arm(true, nil)
			done, _ := installed.arm(false, nil)
			s.SetRole(RoleOwner)
			within(t, reached, "owner's mirror built")
			task()
			mirrorRead("read while the owner's mirror syncs")
			close(release)
			within(t, done, "owner's mirror installed")
			mirrorRead("read of the owner's mirror")
		}},
		{"overlay", func() {
			g := serving()
			want := state(ops + 1)
			reached, release := received.arm(true, func(a answer) bool {
				if a.g != g || serving() != g || a.set == nil {
					return false
				}
				for _, fs := range a.set.FilterSet {
					for _, ou := range fs.ObjectSet {
						for _, c := range ou.ChangeSet {
							if ou.Obj == vm && c.Name == "runtime.powerState" && fmt.Sprint(c.Val) == want {
								return true
							}
						}
					}
				}
				return false
			})
			seen := appliedNew(g)
			task()
			within(t, reached, "the poll received the task's change")
			directRead("direct read while the poll holds the change")
			mirrorRead("read of the generation that has not applied it")
			close(release)
			within(t, seen, "the generation applied the change")
			mirrorRead("read after the change was applied")
		}},
		{"straddle", func() {
			reached, release := settling.arm(true, func(r types.ManagedObjectReference) bool { return r == vm })
			before := last
			type reply struct {
				v   Values
				err error
			}
			answered := make(chan reply, 1)
			go func() {
				v, err := s.Read(ctx, vm, name, power)
				answered <- reply{v, err}
			}()
			within(t, reached, "direct read returned")
			seen := appliedNew(serving())
			task()
			within(t, seen, "the mirror applied the task")
			mirrorRead("read of the mirror while a direct read is held")
			close(release)
			a := <-answered
			// It began before the mirror read: it may carry either state
			// that was current when it began or later.
			if got := fmt.Sprint(a.v["runtime.powerState"]); a.err != nil || got != state(before) && got != state(ops) {
				t.Fatalf("round %d: held direct read: %v %v", round, a.v, a.err)
			}
			mirrorRead("read after the held direct read settled")
		}},
	}
	scenarios = append(scenarios, struct {
		name string
		run  func()
	}{"catch-up", func() {
		// The new generation's catch-up wait has been answered, but not
		// applied, when the task completes: the old generation must not
		// serve the change (it was stopped before the catch-up began), or
		// the new one would then serve the state before it.
		reached, release := built.arm(true, nil)
		done, _ := installed.arm(false, nil)
		v, err := s.Get(ctx, vm, name, []string{"runtime.powerState", join()})
		check(v, err, "read of a path that joins")
		within(t, reached, "generation with the new path built")
		old := serving() // the new one is not installed yet
		caught, hold := received.arm(true, func(a answer) bool { return a.g != old })
		close(release)
		within(t, caught, "the new generation's catch-up answered")
		task()
		for i := 0; ; i++ {
			seen := appliedState(nil, state(ops))
			v, err := s.Get(ctx, vm, name, power)
			check(v, err, "read while the new generation catches up")
			if last == ops {
				break
			}
			if i == 10 {
				t.Fatalf("round %d: the new state was never served", round)
			}
			within(t, seen, "a generation applied the task")
		}
		close(hold)
		within(t, done, "generation with the new path installed")
		mirrorRead("read of the new generation")
	}})
	scenarios = append(scenarios, struct {
		name string
		run  func()
	}{"halt", func() {
		// A direct read that saw the old state settles after owner to
		// passive to owner, once the new mirror's catch-up wait began: it
		// must not be filed, or the new mirror would serve it.
		held, releaseRead := settling.arm(true, func(r types.ManagedObjectReference) bool { return r == vm })
		answered := make(chan error, 1)
		go func() {
			_, err := s.Read(ctx, vm, name, power)
			answered <- err
		}()
		within(t, held, "direct read returned")
		seen := appliedNew(serving())
		task()
		within(t, seen, "the mirror applied the task")
		mirrorRead("read of the mirror while a direct read is held")
		s.SetRole(RolePassive)
		reached, release := built.arm(true, nil)
		s.SetRole(RoleOwner)
		within(t, reached, "owner's mirror built")
		caught, hold := received.arm(true, nil)
		close(release)
		within(t, caught, "owner's mirror catch-up answered")
		close(releaseRead)
		if err := <-answered; err != nil {
			t.Fatalf("round %d: held direct read: %v", round, err)
		}
		done, _ := installed.arm(false, nil)
		close(hold)
		within(t, done, "owner's mirror installed")
		mirrorRead("read of the owner's mirror")
	}})
	mirrorRead("first read")
	if rounds < 0 {
		// Each round flips the power state: with an odd number of
		// scenarios, two passes run each one in both directions.
		rounds = 2 * len(scenarios)
		if len(scenarios)%2 == 0 {
			rounds = 4 * len(scenarios) // the last two passes shifted by one scenario
		}
	}
	for round = 0; round < rounds; round++ {
		sc := scenarios[(round+round/(2*len(scenarios)))%len(scenarios)]
		scenario = sc.name
		sc.run()
	}
	if ops != rounds {
		t.Fatalf("%d tasks in %d rounds", ops, rounds)
	}
	st := s.Stats().Mirror
	t.Logf("%d rounds, %d power tasks: mirror syncs %d, reads from the mirror %d, from vCenter %d", rounds, ops, st.Syncs, st.Served, st.Direct)
}

// TestOverlayYieldsToANewerChange: a direct read files a property in the
// overlay while the generation's poll is waiting; a change that poll
// then brings is hidden behind that entry until the generation's asOf
// passes it, so the mirror makes its next wait return at once instead of
// after the long poll's 20 s.
func TestOverlayYieldsToANewerChange(t *testing.T) {
	t.Parallel()
	s := newSimStore(t, Options{}, nil) // the default 20 s long poll
	applied := newGate[*generation](t)
	s.mirror.applied = applied.hook
	ctx := context.Background()
	s.SetRole(RoleOwner)
	waitSynced(t, s)
	const name = "DC0_H0_VM0"
	vm, err := s.Lookup(ctx, VM, name)
	if err != nil {
		t.Fatal(err)
	}
	power := []string{"runtime.powerState"}
	if v, err := s.Read(ctx, vm, name, power); err != nil || fmt.Sprint(v["runtime.powerState"]) != "poweredOn" {
		t.Fatalf("direct read: %v %v", v, err)
	}
	changed, _ := applied.arm(false, func(g *generation) bool {
		s.mirror.mu.RLock()
		defer s.mirror.mu.RUnlock()
		return fmt.Sprint(g.inv.byRef[vm].vals["runtime.powerState"]) == "poweredOff"
	})
	admin, err := govmomi.NewClient(ctx, s.sess.Simulator().URL(), true)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = admin.Logout(ctx) }()
	task, err := govobj.NewVirtualMachine(admin.Client, vm).PowerOff(ctx)
	if err == nil {
		err = task.Wait(ctx)
	}
	if err != nil {
		t.Fatal(err)
	}
	within(t, changed, "the generation applied the power-off")
	confirmed, _ := applied.arm(false, nil)
	select {
	case <-confirmed:
	case <-time.After(10 * time.Second):
		t.Fatal("no wait applied within 10 s of the change: the change stays hidden behind the direct read until the long poll ends")
	}
	if v, err := s.Get(ctx, vm, name, power); err != nil || fmt.Sprint(v["runtime.powerState"]) != "poweredOff" {
		t.Errorf("mirror read after the confirming wait: %v %v", v, err)
	}
}

// TestDirectReadNewerThanOverlayWhenOff: with the mirror off, a direct
// read of a path no mirror read serves answers what it read, even when
// the mirror changed the object's view while the read was in flight (a
// rename, which the lookup mirror follows): an earlier read's value of
// that path is older, never a better answer.
func TestDirectReadNewerThanOverlayWhenOff(t *testing.T) {
	t.Parallel()
	s := newSimStore(t, Options{Mirror: MirrorOptions{Off: true}}, nil)
	applied := newGate[*generation](t)
	settling := newGate[types.ManagedObjectReference](t)
	s.mirror.applied, s.settling = applied.hook, settling.hook
	ctx := context.Background()
	s.SetRole(RoleOwner)
	waitSynced(t, s)
	const name = "DC0_H0_VM0"
	vm, err := s.Lookup(ctx, VM, name)
	if err != nil {
		t.Fatal(err)
	}
	cpus := []string{"config.hardware.numCPU"}
	first, err := s.Read(ctx, vm, name, cpus)
	if err != nil {
		t.Fatal(err)
	}
	admin, err := govmomi.NewClient(ctx, s.sess.Simulator().URL(), true)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = admin.Logout(ctx) }()
	v := govobj.NewVirtualMachine(admin.Client, vm)
	want := first["config.hardware.numCPU"].(int32) + 3
	task, err := v.Reconfigure(ctx, types.VirtualMachineConfigSpec{NumCPUs: want})
	if err == nil {
		err = task.Wait(ctx)
	}
	if err != nil {
		t.Fatal(err)
	}
	held, release := settling.arm(true, func(r types.ManagedObjectReference) bool { return r == vm })
	type result struct {
		v   Values
		err error
	}
	answered := make(chan result, 1)
	go func() {
		v, err := s.Read(ctx, vm, name, cpus)
		answered <- result{v, err}
	}()
	within(t, held, "second direct read returned")
	const renamed = "DC0_H0_VM0_renamed"
	seen, _ := applied.arm(false, func(g *generation) bool {
		s.mirror.mu.RLock()
		defer s.mirror.mu.RUnlock()
		return fmt.Sprint(g.inv.byRef[vm].vals[PathName]) == renamed
	})
	task, err = v.Rename(ctx, renamed)
	if err == nil {
		err = task.Wait(ctx)
	}
	if err != nil {
		t.Fatal(err)
	}
	within(t, seen, "the mirror applied the rename")
	close(release)
	r := <-answered
	if r.err != nil || r.v["config.hardware.numCPU"] != want {
		t.Fatalf("second read: %v %v, want numCPU %d (the first read had %v)", r.v, r.err, want, first["config.hardware.numCPU"])
	}
}
