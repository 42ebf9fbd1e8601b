package vsphere

import (
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/vmware/govmomi/simulator"
	"github.com/vmware/govmomi/vim25/types"

	"github.com/vpoller/zabbix-vpoller/vpoller"
	"github.com/vpoller/zabbix-vpoller/vpoller/vsphere/objects"
)

// BenchmarkDataSnapshots measures what one polling interval of the
// snapshot-backed methods costs vCenter: every host's host.license.get
// and host.certificate.get, license.discover, appliance.health.get and
// vsan.cluster.get, with every snapshot due (its clock stepped past the
// TTLs before each interval), on the simulator's 4 hosts and with 32 more
// added. The SOAP and REST calls per interval are the same for both: 2
// for the licenses, 3 per vSAN cluster, 8 REST calls for the appliance;
// host certificates come from the mirror.
func BenchmarkDataSnapshots(b *testing.B) {
	for _, extra := range []int{0, 32} {
		b.Run(fmt.Sprintf("hosts=%d", 4+extra), func(b *testing.B) {
			s := newSim(b, Options{Sweep: SweepOptions{Off: true}}, simLicensesAndHealth(b), simHosts(b, extra))
			a := agent(b, s)
			eventually(b, 30*time.Second, "hosts in the mirror", func() bool {
				return len(names(b, exec(b, s, vpoller.Request{Method: "host.discover"}))) == 4+extra
			})
			var mu sync.Mutex
			now := time.Now()
			clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
			a.data.now = clock
			hosts := names(b, exec(b, s, vpoller.Request{Method: "host.discover"}))
			vsanID := lookup(b, a, objects.Cluster, simVsanCluster).Value
			interval := func() {
				for _, req := range []vpoller.Request{{Method: "license.discover"}, {Method: "appliance.health.get"},
					{Method: "vsan.cluster.get", Name: vsanID}} {
					if r := exec(b, s, req); r.Success != 0 {
						b.Fatalf("%s: %s", req.Method, r.Encode(vpoller.Python))
					}
				}
				for _, h := range hosts {
					for _, m := range []string{"host.license.get", "host.certificate.get"} {
						if r := exec(b, s, vpoller.Request{Method: m, Name: h}); r.Success != 0 {
							b.Fatalf("%s %s: %s", m, h, r.Encode(vpoller.Python))
						}
					}
				}
			}
			// Warm: the mirror's paths joined, the logins made.
			eventually(b, 30*time.Second, "warm intervals without mirror calls", func() bool {
				before := a.sess.Stats()
				interval()
				calls := soapCalls(before, a.sess.Stats())
				return calls["RetrievePropertiesEx"] <= 1 && len(calls) <= 5
			})
			before := a.sess.Stats()
			for b.Loop() {
				mu.Lock()
				now = now.Add(licenseTTL)
				mu.Unlock()
				interval()
			}
			after := a.sess.Stats()
			soap := 0.0
			for _, n := range soapCalls(before, after) {
				soap += float64(n)
			}
			b.ReportMetric(soap/float64(b.N), "soap-calls/interval")
			b.ReportMetric(float64(after.RESTCalls-before.RESTCalls)/float64(b.N), "rest-calls/interval")
			b.ReportMetric(float64(2*len(hosts)+3), "requests/interval")
		})
	}
}

// simHosts adds n standalone hosts to the simulator's datacenter before
// it serves (server-side; the license assignment manager gives each the
// evaluation license, as vCenter would).
func simHosts(t testing.TB, n int) func(*simulator.Model) {
	return func(m *simulator.Model) {
		dc := m.Map().Any("Datacenter").(*simulator.Datacenter)
		f := m.Map().Get(dc.HostFolder).(*simulator.Folder)
		for i := range n {
			if _, fault := simulator.CreateStandaloneHost(m.Service.Context, f, types.HostConnectSpec{HostName: fmt.Sprintf("bench-h%02d", i)}); fault != nil {
				t.Errorf("add host: %v", fault)
			}
		}
	}
}
