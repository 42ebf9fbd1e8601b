package vsphere

import (
	"context"
	"sync"
	"testing"

	govobject "github.com/vmware/govmomi/object"
	"github.com/vmware/govmomi/simulator"
	"github.com/vmware/govmomi/vim25"
	"github.com/vmware/govmomi/vim25/methods"
	"github.com/vmware/govmomi/vim25/types"

	"github.com/vpoller/zabbix-vpoller/vpoller"
	"github.com/vpoller/zabbix-vpoller/vpoller/vsphere/objects"
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
	t.Parallel()
	for _, tc := range []struct {
		name, api string
		maxCalls  uint64
	}{
		{"current API", "", 3}, // the first request alone, then one batch (+1 for scheduling slack)
		{"API 6.0", "6.0", 4},  // + the batch sent again without the deleted VM
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := newSim(t, direct, func(m *simulator.Model) {
				m.DelayConfig.MethodDelay = map[string]int{"RetrievePropertiesEx": 150}
				if tc.api != "" {
					si := m.Map().Get(vim25.ServiceInstance).(*simulator.ServiceInstance)
					si.Content.About.ApiVersion = tc.api
				}
			})
			a, _ := s.Agent("sim")
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
	goneRef := lookup(t, a, objects.VM, gone)
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
		k := objects.VM
		if r.Method == "host.get" {
			k = objects.Host
		}
		ref := lookup(t, a, k, r.Name)
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
