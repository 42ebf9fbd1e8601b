package objects

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"reflect"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/vmware/govmomi/vim25/types"
)

// since is the SOAP calls by method made after before.
func since(before, after map[string]uint64) map[string]uint64 {
	out := map[string]uint64{}
	for m, n := range after {
		if d := n - before[m]; d > 0 {
			out[m] = d
		}
	}
	return out
}

// ourGoroutines lists the goroutines running the store's own background
// work (mirror, poll, sweep, batchers).
func ourGoroutines() []string {
	buf := make([]byte, 4<<20)
	buf = buf[:runtime.Stack(buf, true)]
	var out []string
	for _, g := range strings.Split(string(buf), "\n\n") {
		for _, f := range []string{"objects.(*mirror)", "objects.(*sweep)", "objects.(*groupCommit", "objects.(*background)", "objects.(*coldIndex)"} {
			if strings.Contains(g, f) {
				out = append(out, g)
				break
			}
		}
	}
	return out
}

// closedClean closes s and checks that no collector or view is left in
// vCenter and no goroutine of the store's is left.
func closedClean(t *testing.T, s simStore) {
	t.Helper()
	s.Close()
	c := s.sess.Stats().Calls
	if c["CreatePropertyCollector"] != c["DestroyPropertyCollector"] || c["CreateContainerView"] != c["DestroyView"] {
		t.Errorf("after Close: collectors created %d, destroyed %d; views created %d, destroyed %d",
			c["CreatePropertyCollector"], c["DestroyPropertyCollector"], c["CreateContainerView"], c["DestroyView"])
	}
	if g := ourGoroutines(); len(g) > 0 {
		t.Errorf("after Close, %d goroutines of the store remain:\n%s", len(g), strings.Join(g, "\n\n"))
	}
}

func waitSynced(t *testing.T, s simStore) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if err := s.WaitSynced(ctx); err != nil {
		t.Fatal(err)
	}
}

// reads does a lookup, a get, a get of many and a discovery, and checks
// their values.
func reads(t *testing.T, s simStore) {
	t.Helper()
	ctx := context.Background()
	ref, err := s.Lookup(ctx, VM, "DC0_H0_VM0")
	if err != nil || ref.Type != "VirtualMachine" {
		t.Fatalf("lookup: %v %v", ref, err)
	}
	v, err := s.Get(ctx, ref, "DC0_H0_VM0", []string{PathName, "runtime.powerState"})
	if err != nil || !reflect.DeepEqual(fmt.Sprint(v), "map[name:DC0_H0_VM0 runtime.powerState:poweredOn]") {
		t.Fatalf("get: %v %v", v, err)
	}
	many, err := s.GetMany(ctx, []types.ManagedObjectReference{ref}, []string{PathName})
	if err != nil || len(many) != 1 || many[ref][PathName] != "DC0_H0_VM0" {
		t.Fatalf("get many: %v %v", many, err)
	}
	items, err := s.Discover(ctx, VM, []string{PathName, "runtime.powerState"})
	if err != nil || len(items) != 4 {
		t.Fatalf("discover: %d items, %v", len(items), err)
	}
	for _, it := range items {
		if fmt.Sprint(it.Values["runtime.powerState"]) != "poweredOn" || !strings.HasPrefix(fmt.Sprint(it.Values[PathName]), "DC0_") {
			t.Errorf("discover: %v", it.Values)
		}
	}
}

// perfTwice asks the same real-time series twice and returns the
// QueryPerf calls they cost.
func perfTwice(t *testing.T, s simStore) uint64 {
	t.Helper()
	ctx := context.Background()
	host, err := s.Lookup(ctx, Host, "DC0_H0")
	if err != nil {
		t.Fatal(err)
	}
	counter, _, err := s.Catalog().CounterID(ctx, "cpu.usage.percent.average")
	if err != nil {
		t.Fatal(err)
	}
	before := s.sess.Stats().Calls["QueryPerf"]
	for range 2 {
		samples, err := s.Perf(ctx, PerfQuery{Ref: host, Counter: counter, Interval: 20, MaxSample: 2})
		if err != nil || len(samples) != 2 {
			t.Fatalf("perf: %v %v", samples, err)
		}
	}
	return s.sess.Stats().Calls["QueryPerf"] - before
}

// TestRoles: what each role costs vCenter on the simulator. An owner or
// standby syncs its mirror before any read and then answers reads with
// no call; a passive store never creates a collector or waits for
// updates, and pays for each read: one index read (container view,
// RetrievePropertiesEx, destroy) for the lookup, one call per get. The
// sweep keeps a series asked twice (one QueryPerf) except in standby
// (two). Every role closes clean.
func TestRoles(t *testing.T) {
	// Not parallel: closedClean counts the store goroutines of the whole
	// process.
	for _, tc := range []struct {
		role      Role
		preSync   bool              // the mirror syncs with no read
		readCalls map[string]uint64 // what reads cost (WaitForUpdatesEx aside for mirrored roles)
		perfCalls uint64
		series    int
		state     string
	}{
		{RoleAuto, false, nil, 1, 1, "current"},
		{RoleOwner, true, map[string]uint64{}, 1, 1, "current"},
		{RoleStandby, true, map[string]uint64{}, 2, 0, "current"},
		{RolePassive, false, map[string]uint64{"RetrieveServiceContent": 1, "Login": 1, "CreateContainerView": 2, "DestroyView": 2, "RetrievePropertiesEx": 4}, 1, 1, "passive"},
	} {
		t.Run(tc.role.String(), func(t *testing.T) {
			s := newSimStore(t, Options{}, nil)
			if tc.role != RoleAuto {
				s.SetRole(tc.role)
			}
			if s.Role() != tc.role {
				t.Fatalf("role %v", s.Role())
			}
			if tc.preSync {
				waitSynced(t, s)
				c := s.sess.Stats().Calls
				if c["CreatePropertyCollector"] != 1 || c["CreateFilter"] != 1 || c["WaitForUpdatesEx"] < 2 || c["RetrievePropertiesEx"] != 0 {
					t.Errorf("sync before any read: %v", c)
				}
			} else if n := s.sess.Stats().SOAPCalls; n != 0 {
				t.Errorf("%d calls before any read", n)
			}
			if tc.role == RoleAuto {
				reads(t, s) // the first use starts the mirror
				waitSynced(t, s)
			}
			before := s.sess.Stats().Calls
			reads(t, s)
			got := since(before, s.sess.Stats().Calls)
			if tc.role != RolePassive {
				delete(got, "WaitForUpdatesEx")
			}
			if tc.readCalls != nil && !reflect.DeepEqual(got, tc.readCalls) {
				t.Errorf("reads cost %v, want %v", got, tc.readCalls)
			}
			if tc.role == RoleAuto && (got["RetrievePropertiesEx"] != 0 || got["CreatePropertyCollector"] != 0) {
				t.Errorf("reads of a synced mirror cost %v", got)
			}
			if n := perfTwice(t, s); n != tc.perfCalls {
				t.Errorf("two asks of a series cost %d QueryPerf, want %d", n, tc.perfCalls)
			}
			st := s.Stats()
			if st.Sweep.Series != tc.series || st.Mirror.State != tc.state || st.Role != tc.role {
				t.Errorf("stats: role %v, mirror %s, %d series; want %v, %s, %d", st.Role, st.Mirror.State, st.Sweep.Series, tc.role, tc.state, tc.series)
			}
			if tc.role == RolePassive {
				c := s.sess.Stats().Calls
				if c["WaitForUpdatesEx"]+c["CreatePropertyCollector"]+c["CreateFilter"] != 0 {
					t.Errorf("a passive store made mirror calls: %v", c)
				}
				ctx, cancel := context.WithTimeout(context.Background(), time.Second)
				defer cancel()
				if err := s.WaitSynced(ctx); !errors.Is(err, ErrNoMirror) {
					t.Errorf("WaitSynced in the passive role: %v", err)
				}
			}
			closedClean(t, s)
		})
	}
}

// TestRoleSwitches: owner to passive removes the collector and the
// reads stop waiting for updates; passive to owner syncs a new mirror
// (cold); owner to standby keeps it and drops the sweep's series;
// standby to owner keeps the warm mirror.
func TestRoleSwitches(t *testing.T) {
	// Not parallel: closedClean counts the store goroutines of the whole
	// process.
	s := newSimStore(t, Options{}, nil)
	created := func() uint64 { return s.sess.Stats().Calls["CreatePropertyCollector"] }
	s.SetRole(RoleOwner)
	waitSynced(t, s)
	if perfTwice(t, s) != 1 || s.Stats().Sweep.Series != 1 {
		t.Fatal("owner: the sweep does not keep the series")
	}

	s.SetRole(RolePassive)
	s.SetRole(RolePassive) // idempotent
	s.mirror.runs.Wait()   // the halted run removed its collector
	c := s.sess.Stats().Calls
	if c["CreatePropertyCollector"] != 1 || c["DestroyPropertyCollector"] != 1 || c["DestroyView"] != c["CreateContainerView"] {
		t.Fatalf("owner -> passive: %v", c)
	}
	before := s.sess.Stats().Calls
	reads(t, s)
	if d := since(before, s.sess.Stats().Calls); d["WaitForUpdatesEx"] != 0 || d["CreatePropertyCollector"] != 0 || d["RetrievePropertiesEx"] == 0 {
		t.Errorf("passive reads: %v", d)
	}
	if st := s.Stats(); st.Mirror.State != "passive" || st.Mirror.Syncs != 1 {
		t.Errorf("passive: %+v", st.Mirror)
	}

	s.SetRole(RoleOwner)
	waitSynced(t, s)
	if created() != 2 || s.Stats().Mirror.Syncs != 2 {
		t.Errorf("passive -> owner: %d collectors created, %d syncs; want a new one", created(), s.Stats().Mirror.Syncs)
	}

	s.SetRole(RoleStandby)
	if st := s.Stats(); st.Sweep.Series != 0 || st.Mirror.State != "current" {
		t.Errorf("owner -> standby: %d series, mirror %s", st.Sweep.Series, st.Mirror.State)
	}
	s.SetRole(RoleOwner)
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	if err := s.WaitSynced(ctx); err != nil || created() != 2 {
		t.Errorf("standby -> owner: %v, %d collectors created; want the warm one kept", err, created())
	}
	before = s.sess.Stats().Calls
	reads(t, s)
	if d := since(before, s.sess.Stats().Calls); d["RetrievePropertiesEx"] != 0 {
		t.Errorf("owner after standby: reads cost %v", d)
	}
	s.SetRole(RoleAuto) // keeps what runs
	if st := s.Stats(); st.Mirror.State != "current" || st.Role != RoleAuto {
		t.Errorf("owner -> auto: %+v", st)
	}
	closedClean(t, s)
}

// TestSetRoleConcurrent: role changes from many goroutines, with reads
// going on, leave the role last set and the mirror it says; the halted
// mirrors leave no collector behind.
func TestSetRoleConcurrent(t *testing.T) {
	// Not parallel: closedClean counts the store goroutines of the whole
	// process.
	s := newSimStore(t, Options{}, nil)
	roles := []Role{RoleAuto, RoleOwner, RoleStandby, RolePassive}
	var wg sync.WaitGroup
	errs := make(chan error, 100)
	for w := range 4 {
		wg.Add(2)
		go func() {
			defer wg.Done()
			r := rand.New(rand.NewPCG(uint64(w), 1))
			for range 25 {
				s.SetRole(roles[r.IntN(len(roles))])
			}
		}()
		go func() {
			defer wg.Done()
			ctx := context.Background()
			for range 10 {
				ref, err := s.Lookup(ctx, VM, "DC0_C0_RP0_VM0")
				if err == nil {
					var v Values
					v, err = s.Get(ctx, ref, "DC0_C0_RP0_VM0", []string{"runtime.powerState"})
					if err == nil && fmt.Sprint(v["runtime.powerState"]) != "poweredOn" {
						err = fmt.Errorf("power state %v", v)
					}
				}
				if err != nil {
					errs <- err
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	s.SetRole(RoleOwner)
	waitSynced(t, s)
	s.SetRole(RolePassive)
	s.mirror.runs.Wait()
	c := s.sess.Stats().Calls
	if c["CreatePropertyCollector"] != c["DestroyPropertyCollector"] {
		t.Errorf("collectors created %d, destroyed %d", c["CreatePropertyCollector"], c["DestroyPropertyCollector"])
	}
	if s.Role() != RolePassive || s.Stats().Mirror.State != "passive" {
		t.Errorf("role %v, mirror %s", s.Role(), s.Stats().Mirror.State)
	}
	closedClean(t, s)
}

func TestRoleString(t *testing.T) {
	t.Parallel()
	for r, want := range map[Role]string{RoleAuto: "auto", RoleOwner: "owner", RoleStandby: "standby", RolePassive: "passive", Role(9): "Role(9)"} {
		if got := r.String(); got != want || r.Valid() != (want[0] != 'R') {
			t.Errorf("%d: %q valid %v, want %q", int(r), got, r.Valid(), want)
		}
	}
}
