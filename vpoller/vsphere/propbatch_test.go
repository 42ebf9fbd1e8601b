package vsphere

import (
	"context"
	"fmt"
	"reflect"
	"sync"
	"testing"
	"time"

	govobject "github.com/vmware/govmomi/object"
	"github.com/vmware/govmomi/simulator"
	"github.com/vmware/govmomi/vim25"
	"github.com/vmware/govmomi/vim25/methods"
	"github.com/vmware/govmomi/vim25/types"

	"github.com/vpoller/zabbix-vpoller/vpoller"
)

// batchProps are VM properties that do not change while the test runs;
// "snapshot" is unset on the simulator's VMs.
var batchProps = []string{"runtime.powerState", "config.hardware.numCPU", "config.hardware.memoryMB",
	"summary.config.guestId", "config.uuid", "runtime.connectionState", "config.version", "snapshot"}

// TestBatchedGets sends many concurrent vm.get and host.get requests for
// different objects and properties while vCenter answers slowly (the
// simulator's per-method delay), one of them for a VM deleted after the
// index saw it. Each reply must hold exactly its own properties, name
// first, with the values govmomi reads directly; the deleted VM alone
// fails; and the requests share a handful of RetrievePropertiesEx calls.
// The "API 6.0" case hides reportMissingObjectsInResults, so the deleted
// VM faults the whole batched call and must be isolated.
func TestBatchedGets(t *testing.T) {
	for _, tc := range []struct {
		name, api string
		maxCalls  uint64
	}{
		{"current API", "", 3}, // the first request alone, then one batch (+1 for scheduling slack)
		{"API 6.0", "6.0", 4},  // + the batch sent again without the deleted VM
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := newSim(t, Options{IndexRefresh: time.Hour})
			a, _ := s.Agent("sim")
			a.simSetup = func(m *simulator.Model) {
				m.DelayConfig.MethodDelay = map[string]int{"RetrievePropertiesEx": 150}
				if tc.api != "" {
					si := m.Map().Get(vim25.ServiceInstance).(*simulator.ServiceInstance)
					si.Content.About.ApiVersion = tc.api
				}
			}
			testBatchedGets(t, s, a, tc.maxCalls)
		})
	}
}

func testBatchedGets(t *testing.T, s *Service, a *Agent, maxCalls uint64) {
	ctx := context.Background()
	if r := exec(t, s, vpoller.Request{Method: "vm.discover"}); r.Success != 0 {
		t.Fatal(string(r.Encode(vpoller.Python)))
	}
	vc, err := a.Client(ctx)
	if err != nil {
		t.Fatal(err)
	}
	// Delete one VM behind the index's back.
	const gone = "DC0_H0_VM1"
	goneRef, err := a.idx.lookup(ctx, kindVM, gone)
	if err != nil {
		t.Fatal(err)
	}
	vm := govobject.NewVirtualMachine(vc, goneRef)
	for _, op := range []func(context.Context) (*govobject.Task, error){vm.PowerOff, vm.Destroy} {
		task, err := op(ctx)
		if err == nil {
			err = task.Wait(ctx)
		}
		if err != nil {
			t.Fatal(err)
		}
	}

	vms := []string{"DC0_H0_VM0", "DC0_C0_RP0_VM0", "DC0_C0_RP0_VM1"}
	hosts := []string{"DC0_H0", "DC0_C0_H0", "DC0_C0_H1", "DC0_C0_H2"}
	var reqs []vpoller.Request
	for i := range 30 { // 30 distinct (VM, property pair) requests
		p := []string{batchProps[i%len(batchProps)], batchProps[(i/len(batchProps)+i+1)%len(batchProps)]}
		reqs = append(reqs, vpoller.Request{Method: "vm.get", Hostname: "sim", Name: vms[i%len(vms)], Properties: p})
	}
	reqs = append(reqs, vpoller.Request{Method: "vm.get", Hostname: "sim", Name: gone, Properties: batchProps[:1]})
	for i, h := range hosts {
		reqs = append(reqs, vpoller.Request{Method: "host.get", Hostname: "sim", Name: h,
			Properties: []string{"runtime.powerState", []string{"summary.hardware.numCpuCores", "hardware.memorySize"}[i%2]}})
	}

	before := s.Stats()
	replies := make([]*vpoller.Response, len(reqs))
	start := make(chan struct{})
	var wg sync.WaitGroup
	for i := range reqs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			replies[i] = s.Execute(ctx, &reqs[i])
		}()
	}
	close(start)
	wg.Wait()
	after := s.Stats()

	direct := directReads(t, vc, a, reqs, gone)
	for i, req := range reqs {
		got := string(replies[i].Encode(vpoller.Python))
		if req.Name == gone {
			if want := `{"success": 1, "msg": "Cannot find object ` + gone + `"}`; got != want {
				t.Errorf("deleted VM: got %s, want %s", got, want)
			}
			continue
		}
		want := string(vpoller.OK(msgRetrieved, []any{direct(req.Name, req.Properties)}).Encode(vpoller.Python))
		if got != want {
			t.Errorf("%s %s %v:\n got %s\nwant %s", req.Method, req.Name, req.Properties, got, want)
		}
	}
	calls := after.Calls["RetrievePropertiesEx"] - before.Calls["RetrievePropertiesEx"]
	t.Logf("%d concurrent gets (%d VM, %d host; all distinct) cost %d RetrievePropertiesEx", len(reqs), len(reqs)-len(hosts), len(hosts), calls)
	// Two lanes (VirtualMachine, HostSystem), each at most maxCalls.
	if calls > 2*maxCalls {
		t.Errorf("%d RetrievePropertiesEx for %d concurrent gets, want at most %d", calls, len(reqs), 2*maxCalls)
	}
}

// directReads reads every object of reqs (but skip) with all their paths
// in one plain RetrievePropertiesEx per type, and returns a function
// building the reply object a get should give: name first, then the
// requested paths in order, unset ones left out.
func directReads(t *testing.T, vc *vim25.Client, a *Agent, reqs []vpoller.Request, skip string) func(name string, paths []string) vpoller.Object {
	t.Helper()
	refs := map[string]types.ManagedObjectReference{}
	spec := types.PropertyFilterSpec{}
	pathsOf := map[string][]string{}
	for _, r := range reqs {
		if r.Name == skip {
			continue
		}
		k := kindVM
		if r.Method == "host.get" {
			k = kindHost
		}
		ref, err := a.idx.lookup(context.Background(), k, r.Name)
		if err != nil {
			t.Fatal(err)
		}
		if _, ok := refs[r.Name]; !ok {
			spec.ObjectSet = append(spec.ObjectSet, types.ObjectSpec{Obj: ref})
		}
		refs[r.Name] = ref
		pathsOf[ref.Type] = append(pathsOf[ref.Type], r.Properties...)
	}
	for typ, paths := range pathsOf {
		spec.PropSet = append(spec.PropSet, types.PropertySpec{Type: typ, PathSet: append([]string{"name"}, paths...)})
	}
	res, err := methods.RetrievePropertiesEx(context.Background(), vc, &types.RetrievePropertiesEx{
		This: vc.ServiceContent.PropertyCollector, SpecSet: []types.PropertyFilterSpec{spec}})
	if err != nil || res.Returnval == nil || len(res.Returnval.Objects) != len(refs) {
		t.Fatalf("direct read: %v %+v", err, res)
	}
	vals := map[types.ManagedObjectReference]map[string]any{}
	for _, o := range res.Returnval.Objects {
		vals[o.Obj] = map[string]any{}
		for _, p := range o.PropSet {
			vals[o.Obj][p.Name] = p.Val
		}
	}
	return func(name string, paths []string) vpoller.Object {
		v := vals[refs[name]]
		obj := vpoller.Object{{Key: "name", Value: toValue(v["name"])}}
		for _, p := range paths {
			if x, ok := v[p]; ok && p != "name" {
				obj = append(obj, vpoller.Field{Key: p, Value: toValue(x)})
			}
		}
		return obj
	}
}

// TestBatchSplitsLargeQueues queues more reads than one batch may carry
// and checks that they all arrive, in several bounded calls.
func TestBatchSplitsLargeQueues(t *testing.T) {
	s := newSim(t, Options{IndexRefresh: time.Hour})
	a, _ := s.Agent("sim")
	a.simSetup = func(m *simulator.Model) {
		m.DelayConfig.MethodDelay = map[string]int{"RetrievePropertiesEx": 100}
	}
	exec(t, s, vpoller.Request{Method: "about"})
	ref, err := a.idx.lookup(context.Background(), kindVM, "DC0_H0_VM0")
	if err != nil {
		t.Fatal(err)
	}
	// The same VM read with 2*maxBatchObjects+1 different (some unknown)
	// paths: each read is its own; the unknown paths are simply unset on
	// the simulator (a real vCenter faults them: see TestBatchFaultIsolation).
	n := 2*maxBatchObjects + 1
	before := s.Stats().Calls["RetrievePropertiesEx"]
	vals := make([]propValues, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			vals[i], errs[i] = a.props.get(context.Background(), ref, []string{"runtime.powerState", fmt.Sprintf("x%d", i)})
		}()
	}
	wg.Wait()
	calls := s.Stats().Calls["RetrievePropertiesEx"] - before
	for i := range n {
		if errs[i] != nil || !reflect.DeepEqual(vals[i], propValues{"runtime.powerState": types.VirtualMachinePowerStatePoweredOn}) {
			t.Fatalf("read %d: %v %v", i, vals[i], errs[i])
		}
	}
	// At least 1 + ceil((n-1)/max) calls; more only if reads arrived late.
	if minCalls := uint64(1 + (n-1+maxBatchObjects-1)/maxBatchObjects); calls < minCalls || calls > minCalls+3 {
		t.Errorf("%d reads cost %d calls, want %d..%d", n, calls, minCalls, minCalls+3)
	}
	t.Logf("%d concurrent reads of one VM: %d RetrievePropertiesEx", n, calls)
}

// TestBatchFaultIsolation checks the fault handling of a batched call
// with the faults a real vCenter raises for the whole call: an unknown
// property (InvalidProperty) and a deleted object on an API without
// reportMissingObjectsInResults (ManagedObjectNotFound). The simulator
// reports unknown properties per object instead, so this test feeds
// concerns with the fault values themselves: a fake for a fault the
// simulator cannot produce.
func TestBatchFaultIsolation(t *testing.T) {
	vm := func(v string) types.ManagedObjectReference {
		return types.ManagedObjectReference{Type: "VirtualMachine", Value: v}
	}
	r1 := &propRead{ref: vm("vm-1"), paths: []string{"name", "runtime.powerStat"}}
	r2 := &propRead{ref: vm("vm-2"), paths: []string{"name", "runtime.powerState"}}
	for _, tc := range []struct {
		fault        any
		want1, want2 bool
	}{
		{&types.InvalidProperty{Name: "runtime.powerStat"}, true, false},
		{types.InvalidProperty{Name: "runtime.powerState"}, false, true},
		{&types.ManagedObjectNotFound{Obj: vm("vm-2")}, false, true},
		{types.ManagedObjectNotFound{Obj: vm("vm-3")}, false, false},
		{&types.NotAuthenticated{}, false, false},
	} {
		if got1, got2 := concerns(tc.fault, r1), concerns(tc.fault, r2); got1 != tc.want1 || got2 != tc.want2 {
			t.Errorf("%T %+v: concerns %v %v, want %v %v", tc.fault, tc.fault, got1, got2, tc.want1, tc.want2)
		}
	}
	// deliver: per-read paths, a missing object, an object reported missing.
	r3 := &propRead{ref: vm("vm-3"), paths: []string{"name"}}
	batch := []*propRead{r1, r2, r3}
	for _, r := range batch {
		r.done = make(chan struct{})
	}
	deliver(batch, []types.ObjectContent{
		{Obj: vm("vm-2"), PropSet: []types.DynamicProperty{{Name: "name", Val: "b"}, {Name: "runtime.powerState", Val: "on"}, {Name: "other", Val: 1}}},
		{Obj: vm("vm-1"), MissingSet: []types.MissingProperty{{Fault: types.LocalizedMethodFault{Fault: &types.ManagedObjectNotFound{Obj: vm("vm-1")}}}}},
	})
	if r1.err != errGone || r3.err != errGone || r2.err != nil || !reflect.DeepEqual(r2.vals, propValues{"name": "b", "runtime.powerState": "on"}) {
		t.Errorf("deliver: r1 %v, r2 %v %v, r3 %v", r1.err, r2.vals, r2.err, r3.err)
	}
	for _, r := range batch {
		select {
		case <-r.done:
		default:
			t.Errorf("%s not answered", r.ref.Value)
		}
	}
}

// TestReportsMissingObjects checks the API version gate.
func TestReportsMissingObjects(t *testing.T) {
	for v, want := range map[string]bool{"8.0.3.0": true, "6.5": true, "6.7.3": true, "7.0": true, "6.0": false, "5.5": false, "": false, "x": false} {
		a := &Agent{vc: &vim25.Client{}}
		a.vc.ServiceContent.About.ApiVersion = v
		if got := a.reportsMissingObjects(); got != want {
			t.Errorf("%q: %v, want %v", v, got, want)
		}
	}
}
