package vsphere

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/vmware/govmomi/find"
	govobj "github.com/vmware/govmomi/object"
	govsession "github.com/vmware/govmomi/session"
	"github.com/vmware/govmomi/simulator"
	"github.com/vmware/govmomi/vim25/mo"
	"github.com/vmware/govmomi/vim25/types"

	"github.com/vpoller/zabbix-vpoller/vpoller"
	"github.com/vpoller/zabbix-vpoller/vpoller/vsphere/objects"
)

// powerState asks vm.get for a VM's runtime.powerState.
func powerState(t testing.TB, s *Service, vm string) string {
	t.Helper()
	r := exec(t, s, vpoller.Request{Method: "vm.get", Name: vm, Properties: []string{"runtime.powerState"}})
	if r.Success != 0 {
		t.Fatalf("vm.get %s: %s", vm, r.Encode(vpoller.Python))
	}
	v, _ := r.Result.([]any)[0].(vpoller.Object).Get("runtime.powerState")
	return fmt.Sprint(v)
}

func powerOff(t testing.TB, c *govobj.VirtualMachine) time.Time {
	t.Helper()
	task, err := c.PowerOff(context.Background())
	if err == nil {
		err = task.Wait(context.Background())
	}
	if err != nil {
		t.Fatal(err)
	}
	return time.Now()
}

// TestMirrorFollowsPowerOff: a VM powered off through the vSphere API (by
// another user) is reported powered off, answered from the mirror (no
// RetrievePropertiesEx). The wait for it is bounded at 10 s, room for
// a loaded machine; the time it took is logged.
func TestMirrorFollowsPowerOff(t *testing.T) {
	t.Parallel()
	s := newSim(t, Options{})
	a := agent(t, s)
	const vm = "DC0_C0_RP0_VM1"
	if got := powerState(t, s, vm); got != "poweredOn" {
		t.Fatalf("before: %s", got)
	}
	c := admin(t, a)
	before := s.Stats()
	changed := powerOff(t, govobj.NewVirtualMachine(c.Client, lookup(t, a, objects.VM, vm)))
	eventually(t, 10*time.Second, "poweredOff in vm.get", func() bool { return powerState(t, s, vm) == "poweredOff" })
	t.Logf("power off seen %v after the task completed", time.Since(changed).Round(time.Millisecond))
	if _, by := calls(before, s.Stats()); by["RetrievePropertiesEx"] != 0 {
		t.Errorf("reads went to vCenter: %v", by)
	}
	// The change also shows in discovery with the property.
	r := exec(t, s, vpoller.Request{Method: "vm.discover", Properties: []string{"runtime.powerState"}})
	for _, x := range r.Result.([]any) {
		o := x.(vpoller.Object)
		n, _ := o.Get("name")
		ps, _ := o.Get("runtime.powerState")
		if want := map[bool]string{true: "poweredOff", false: "poweredOn"}[n == vm]; ps != want {
			t.Errorf("vm.discover: %s is %v, want %s", n, ps, want)
		}
	}
}

// createVM creates a VM in the cluster's root pool through c.
func createVM(t testing.TB, c *govobj.Folder, pool *govobj.ResourcePool, name string) types.ManagedObjectReference {
	t.Helper()
	spec := types.VirtualMachineConfigSpec{Name: name, GuestId: string(types.VirtualMachineGuestOsIdentifierOtherGuest),
		Files: &types.VirtualMachineFileInfo{VmPathName: "[LocalDS_0]"}}
	task, err := c.CreateVM(context.Background(), spec, pool, nil)
	if err != nil {
		t.Fatal(err)
	}
	info, err := task.WaitForResult(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return info.Result.(types.ManagedObjectReference)
}

func discovered(t testing.TB, s *Service, name string) bool {
	t.Helper()
	for _, n := range names(t, exec(t, s, vpoller.Request{Method: "vm.discover"})) {
		if n == name {
			return true
		}
	}
	return false
}

// TestMirrorFollowsNewAndDestroyedVM: a VM created through the vSphere API
// is discovered (and found by vm.get); once destroyed, it is gone from
// discovery and vm.get says it cannot find it (each waited for at most
// 10 s, room for a loaded machine; the times are logged).
func TestMirrorFollowsNewAndDestroyedVM(t *testing.T) {
	t.Parallel()
	s := newSim(t, Options{})
	a := agent(t, s)
	c := admin(t, a)
	ctx := context.Background()
	finder := find.NewFinder(c.Client, true)
	dc, err := finder.DefaultDatacenter(ctx)
	if err != nil {
		t.Fatal(err)
	}
	finder.SetDatacenter(dc)
	folders, err := dc.Folders(ctx)
	if err != nil {
		t.Fatal(err)
	}
	pool, err := finder.ResourcePool(ctx, "DC0_C0/Resources")
	if err != nil {
		t.Fatal(err)
	}
	const name = "fresh-vm"
	if discovered(t, s, name) {
		t.Fatal("discovered before it exists")
	}
	ref := createVM(t, folders.VmFolder, pool, name)
	took := eventually(t, 10*time.Second, "new VM discovered", func() bool { return discovered(t, s, name) })
	t.Logf("new VM discovered after %v", took.Round(time.Millisecond))
	r := exec(t, s, vpoller.Request{Method: "vm.get", Name: name, Properties: []string{"runtime.powerState"}})
	if got := string(r.Encode(vpoller.Python)); got != `{"success": 0, "msg": "Successfully retrieved object properties", "result": [{"name": "fresh-vm", "runtime.powerState": "poweredOff"}]}` {
		t.Fatalf("vm.get of the new VM: %s", got)
	}
	// A change to an object that joined the view after the first sync
	// reaches the mirror as fast as one to an old object.
	vm := govobj.NewVirtualMachine(c.Client, ref)
	for _, step := range []struct {
		act  func(context.Context) (*govobj.Task, error)
		want string
	}{{vm.PowerOn, "poweredOn"}, {vm.PowerOff, "poweredOff"}} {
		task, err := step.act(ctx)
		if err == nil {
			err = task.Wait(ctx)
		}
		if err != nil {
			t.Fatal(err)
		}
		took = eventually(t, 5*time.Second, "new VM "+step.want, func() bool {
			r := exec(t, s, vpoller.Request{Method: "vm.get", Name: name, Properties: []string{"runtime.powerState"}})
			return r.Success == 0 && field(r.Result.([]any)[0], "runtime.powerState") == step.want
		})
		t.Logf("new VM %s after %v", step.want, took.Round(time.Millisecond))
	}
	task, err := vm.Destroy(ctx)
	if err == nil {
		err = task.Wait(ctx)
	}
	if err != nil {
		t.Fatal(err)
	}
	took = eventually(t, 10*time.Second, "destroyed VM gone", func() bool { return !discovered(t, s, name) })
	t.Logf("destroyed VM gone after %v", took.Round(time.Millisecond))
	r = exec(t, s, vpoller.Request{Method: "vm.get", Name: name, Properties: []string{"runtime.powerState"}})
	if got := string(r.Encode(vpoller.Python)); got != `{"success": 1, "msg": "Cannot find object fresh-vm"}` {
		t.Fatalf("vm.get of the destroyed VM: %s", got)
	}
}

// TestMirrorNeverServesStaleData changes a property while the mirror
// cannot follow: its session dropped by another user, or vCenter slow to
// report changes (every WaitForUpdatesEx held 4 s before it is looked
// at). Every reply must carry the new value once the change is older
// than the staleness bound: the mirror serves nothing older, and reads go
// to vCenter meanwhile.
func TestMirrorNeverServesStaleData(t *testing.T) {
	t.Parallel()
	const bound = 3 * time.Second
	for _, tc := range []struct {
		name  string
		setup func(*simulator.Model)
		drop  bool
	}{
		{"session dropped", nil, true},
		{"updates late", func(m *simulator.Model) { m.DelayConfig.MethodDelay = map[string]int{"WaitForUpdatesEx": 4000} }, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			var setup []func(*simulator.Model)
			if tc.setup != nil {
				setup = append(setup, tc.setup)
			}
			s := newSim(t, Options{Mirror: MirrorOptions{Wait: time.Second, MaxAge: bound}}, setup...)
			a := agent(t, s)
			const vm = "DC0_H0_VM1"
			if got := powerState(t, s, vm); got != "poweredOn" {
				t.Fatalf("before: %s", got)
			}
			c := admin(t, a)
			if tc.drop {
				vc, _ := a.Client(context.Background())
				ours, err := govsession.NewManager(vc).UserSession(context.Background())
				if err != nil {
					t.Fatal(err)
				}
				if err := c.SessionManager.TerminateSession(context.Background(), []string{ours.Key}); err != nil {
					t.Fatal(err)
				}
			}
			ref := lookup(t, a, objects.VM, vm)
			changed := powerOff(t, govobj.NewVirtualMachine(c.Client, ref))
			end := changed.Add(bound + 3*time.Second)
			var mu sync.Mutex
			var stale, fresh int
			for time.Now().Before(end) {
				asked := time.Now()
				got := powerState(t, s, vm)
				mu.Lock()
				if got == "poweredOn" {
					stale++
					if age := asked.Sub(changed); age > bound {
						t.Errorf("reply asked %v after the change still says poweredOn (bound %v)", age.Round(time.Millisecond), bound)
					}
				} else {
					fresh++
				}
				mu.Unlock()
				time.Sleep(50 * time.Millisecond)
			}
			st := s.Stats().Agents["sim"]
			t.Logf("%d replies with the old value (all within the bound), %d with the new; mirror %s, logins %d, mirror reads %d, vCenter reads %d",
				stale, fresh, st.Objects.Mirror.State, st.Session.Logins, st.Objects.Mirror.Served, st.Objects.Mirror.Direct)
			if tc.drop && st.Session.Logins != 2 {
				t.Errorf("logins %d, want 2", st.Session.Logins)
			}
		})
	}
}

// TestMirrorJoinsRequestedPaths: a property outside the default set is
// read from vCenter on its first request, then joins the filter and is
// answered from the mirror, with the values a direct read gives; the
// per-type cap keeps a path out once reached (it is then read directly
// every time).
func TestMirrorJoinsRequestedPaths(t *testing.T) {
	t.Parallel()
	vmDefaults := 3 + 31 // index paths + default paths of VirtualMachine
	s := newSim(t, Options{Mirror: MirrorOptions{MaxPaths: vmDefaults + 1}})
	a := agent(t, s)
	get := func(p string) string {
		r := exec(t, s, vpoller.Request{Method: "vm.get", Name: "DC0_H0_VM0", Properties: []string{p}})
		if r.Success != 0 {
			t.Fatal(string(r.Encode(vpoller.Python)))
		}
		return string(r.Encode(vpoller.Python))
	}
	if got := s.Stats().Agents["sim"].Objects.Mirror.WatchedPaths["VirtualMachine"]; got != vmDefaults {
		t.Fatalf("%d VM paths watched at start, want %d", got, vmDefaults)
	}
	before := s.Stats()
	first := get("config.hardware.numCPU")
	if _, by := calls(before, s.Stats()); by["RetrievePropertiesEx"] != 1 {
		t.Fatalf("first read of a new path: %v, want 1 RetrievePropertiesEx", by)
	}
	eventually(t, 5*time.Second, "path joined", func() bool {
		return s.Stats().Agents["sim"].Objects.Mirror.WatchedPaths["VirtualMachine"] == vmDefaults+1
	})
	before = s.Stats()
	for range 5 {
		if got := get("config.hardware.numCPU"); got != first {
			t.Fatalf("from the mirror %s, from vCenter %s", got, first)
		}
	}
	if _, by := calls(before, s.Stats()); by["RetrievePropertiesEx"] != 0 {
		t.Errorf("reads of a joined path went to vCenter: %v", by)
	}
	// The cap is reached: another path stays a direct read.
	before = s.Stats()
	for range 3 {
		get("config.hardware.memoryMB")
	}
	time.Sleep(1500 * time.Millisecond) // a join would start a resync meanwhile
	get("config.hardware.memoryMB")
	if _, by := calls(before, s.Stats()); by["RetrievePropertiesEx"] != 4 || by["CreateFilter"] != 0 {
		t.Errorf("path beyond the cap: %v, want 4 RetrievePropertiesEx and no new filter", by)
	}
	_ = a
}

// TestDiscoverWithPropertiesUsesTheView: a discovery with properties the
// mirror does not watch is one RetrievePropertiesEx through a container
// view (checked on the simulator's side: one object spec, the view), not
// one object spec per object.
func TestDiscoverWithPropertiesUsesTheView(t *testing.T) {
	t.Parallel()
	var mu sync.Mutex
	var specs [][]types.ObjectSpec
	s := newSim(t, Options{}, func(m *simulator.Model) {
		m.Map().Handler = func(_ *simulator.Context, method *simulator.Method) (mo.Reference, types.BaseMethodFault) {
			if req, ok := method.Body.(*types.RetrievePropertiesEx); ok {
				mu.Lock()
				for _, set := range req.SpecSet {
					specs = append(specs, set.ObjectSet)
				}
				mu.Unlock()
			}
			return nil, nil
		}
	})
	agent(t, s)
	mu.Lock()
	specs = nil
	mu.Unlock()
	r := exec(t, s, vpoller.Request{Method: "vm.discover", Properties: []string{"config.hardware.memoryMB"}})
	if r.Success != 0 || len(r.Result.([]any)) != 4 {
		t.Fatal(string(r.Encode(vpoller.Python)))
	}
	mu.Lock()
	defer mu.Unlock()
	if len(specs) != 1 || len(specs[0]) != 1 || specs[0][0].Obj.Type != "ContainerView" {
		t.Fatalf("discovery sent %d RetrievePropertiesEx with object specs %+v; want one, over a container view", len(specs), specs)
	}
}
