package vsphere

import (
	"context"
	"testing"

	"github.com/vmware/govmomi/vim25/methods"
	"github.com/vmware/govmomi/vim25/types"

	"github.com/vpoller/zabbix-vpoller/vpoller"
	"github.com/vpoller/zabbix-vpoller/vpoller/vsphere/objects"
)

// BenchmarkVMGet compares our Execute(vm.get one property), answered by
// the property mirror, with a direct govmomi RetrievePropertiesEx of the
// same property of the same VM on the same simulator and session,
// reporting SOAP calls per operation.
func BenchmarkVMGet(b *testing.B) {
	s := newSim(b, Options{})
	req := vpoller.Request{Method: "vm.get", Hostname: "sim", Name: "DC0_C0_RP0_VM0", Properties: []string{"runtime.powerState"}}
	if r := s.Execute(context.Background(), &req); r.Success != 0 {
		b.Fatal(string(r.Encode(vpoller.Python)))
	}
	a, _ := s.Agent("sim")
	ref := lookup(b, a, objects.VM, req.Name)
	b.Run("vpoller", func(b *testing.B) {
		before := s.Stats().SOAPCalls
		for b.Loop() {
			if r := s.Execute(context.Background(), &req); r.Success != 0 {
				b.Fatal(string(r.Encode(vpoller.Python)))
			}
		}
		b.ReportMetric(float64(s.Stats().SOAPCalls-before)/float64(b.N), "calls/op")
	})
	b.Run("govmomi", func(b *testing.B) {
		vc, err := a.Client(context.Background())
		if err != nil {
			b.Fatal(err)
		}
		before := s.Stats().SOAPCalls
		for b.Loop() {
			_, err := methods.RetrievePropertiesEx(context.Background(), vc, &types.RetrievePropertiesEx{
				This: vc.ServiceContent.PropertyCollector,
				SpecSet: []types.PropertyFilterSpec{{ObjectSet: []types.ObjectSpec{{Obj: ref}},
					PropSet: []types.PropertySpec{{Type: "VirtualMachine", PathSet: []string{"name", "runtime.powerState"}}}}}})
			if err != nil {
				b.Fatal(err)
			}
		}
		b.ReportMetric(float64(s.Stats().SOAPCalls-before)/float64(b.N), "calls/op")
	})
}
