package vsphere

import (
	"context"
	"sync"
	"testing"

	"github.com/vmware/govmomi/simulator"
	"github.com/vmware/govmomi/vim25/types"

	"github.com/vpoller/zabbix-vpoller/vpoller"
)

// TestBatchedPerfGets sends concurrent host and VM perf gets (real-time
// interval, each with its own max-sample, so that each reply's length
// shows it got its own series) while the simulator answers QueryPerf
// slowly, with and without vCenter's config.vpxd.stats.maxQueryMetrics.
func TestBatchedPerfGets(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name     string
		option   string // "" = setting absent
		min, max uint64 // QueryPerf calls
	}{
		{"no limit", "", 2, 3},                       // the first query alone, then one batch
		{"limit -1", "-1", 2, 3},                     // -1 means no limit
		{"maxQueryMetrics 2", "2", 1 + 3, 1 + 3 + 2}, // 6 queued queries: at least 3 calls of 2
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := newSim(t, direct, func(m *simulator.Model) {
				m.DelayConfig.MethodDelay = map[string]int{"QueryPerf": 150}
				if tc.option != "" {
					m.Map().OptionManager().Setting = append(m.Map().OptionManager().Setting,
						&types.OptionValue{Key: "config.vpxd.stats.maxQueryMetrics", Value: tc.option})
				}
			})
			var reqs []vpoller.Request
			for i, h := range []string{"DC0_H0", "DC0_C0_H0", "DC0_C0_H1", "DC0_C0_H2"} {
				reqs = append(reqs, vpoller.Request{Method: "host.perf.metric.get", Hostname: "sim", Name: h,
					CounterName: "cpu.usage.percent.average", MaxSample: i + 1})
			}
			for i, v := range []string{"DC0_H0_VM0", "DC0_C0_RP0_VM0", "DC0_C0_RP0_VM1"} {
				reqs = append(reqs, vpoller.Request{Method: "vm.perf.metric.get", Hostname: "sim", Name: v,
					CounterName: "cpu.usage.percent.average", MaxSample: 5 + i})
			}
			// Warm up: session, index, counter catalogue, provider summaries.
			for _, r := range reqs {
				r.MaxSample = 1
				samples(t, exec(t, s, r), r.CounterName, 1)
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
					replies[i] = s.Execute(context.Background(), &reqs[i])
				}()
			}
			close(start)
			wg.Wait()
			after := s.Stats()
			for i, r := range reqs {
				for _, o := range samples(t, replies[i], r.CounterName, r.MaxSample) {
					if iv, _ := o.Get("interval"); iv != int64(20) {
						t.Errorf("%s: interval %v", r.Name, iv)
					}
				}
			}
			calls := after.Calls["QueryPerf"] - before.Calls["QueryPerf"]
			t.Logf("%d concurrent perf gets: %d QueryPerf, %d RetrievePropertiesEx, %d calls in all", len(reqs), calls,
				after.Calls["RetrievePropertiesEx"]-before.Calls["RetrievePropertiesEx"], after.SOAPCalls-before.SOAPCalls)
			if calls < tc.min || calls > tc.max {
				t.Errorf("%d QueryPerf calls, want %d..%d", calls, tc.min, tc.max)
			}
			if q := after.Calls["QueryOptions"]; q != 1 {
				t.Errorf("maxQueryMetrics read %d times, want once", q)
			}
		})
	}
}
