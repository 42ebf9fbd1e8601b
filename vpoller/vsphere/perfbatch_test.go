package vsphere

import (
	"context"
	"reflect"
	"sync"
	"testing"
	"time"

	"github.com/vmware/govmomi/simulator"
	"github.com/vmware/govmomi/vim25/types"

	"github.com/vpoller/zabbix-vpoller/vpoller"
)

// TestBatchedPerfGets sends concurrent host and VM perf gets (real-time
// interval, each with its own max-sample, so that each reply's length
// shows it got its own series) while the simulator answers QueryPerf
// slowly, with and without vCenter's config.vpxd.stats.maxQueryMetrics.
func TestBatchedPerfGets(t *testing.T) {
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
			s := newSim(t, Options{IndexRefresh: time.Hour})
			a, _ := s.Agent("sim")
			a.simSetup = func(m *simulator.Model) {
				m.DelayConfig.MethodDelay = map[string]int{"QueryPerf": 150}
				if tc.option != "" {
					m.Map().OptionManager().Setting = append(m.Map().OptionManager().Setting,
						&types.OptionValue{Key: optMaxQueryMetrics, Value: tc.option})
				}
			}
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

// TestPerfBatchSplitAndTake checks the reply split (per entity and
// counter, oldest first) and the choice of each call's queries (limit,
// each entity and counter once) on hand-made replies of QueryPerf's shape.
func TestPerfBatchSplitAndTake(t *testing.T) {
	vm := func(v string) types.ManagedObjectReference {
		return types.ManagedObjectReference{Type: "VirtualMachine", Value: v}
	}
	t0 := time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)
	info := func(n int) []types.PerfSampleInfo {
		var out []types.PerfSampleInfo
		for i := n - 1; i >= 0; i-- { // newest first, as vCenter may send them
			out = append(out, types.PerfSampleInfo{Timestamp: t0.Add(time.Duration(i) * 20 * time.Second), Interval: 20})
		}
		return out
	}
	res := []types.BasePerfEntityMetricBase{
		&types.PerfEntityMetric{PerfEntityMetricBase: types.PerfEntityMetricBase{Entity: vm("vm-1")}, SampleInfo: info(2),
			Value: []types.BasePerfMetricSeries{&types.PerfMetricIntSeries{PerfMetricSeries: types.PerfMetricSeries{Id: types.PerfMetricId{CounterId: 2}}, Value: []int64{21, 20}}}},
		&types.PerfEntityMetric{PerfEntityMetricBase: types.PerfEntityMetricBase{Entity: vm("vm-2")}, SampleInfo: info(1),
			Value: []types.BasePerfMetricSeries{&types.PerfMetricIntSeries{PerfMetricSeries: types.PerfMetricSeries{Id: types.PerfMetricId{CounterId: 2}}, Value: []int64{7}}}},
		&types.PerfEntityMetric{PerfEntityMetricBase: types.PerfEntityMetricBase{Entity: vm("vm-1")}, SampleInfo: info(1),
			Value: []types.BasePerfMetricSeries{&types.PerfMetricIntSeries{PerfMetricSeries: types.PerfMetricSeries{Id: types.PerfMetricId{CounterId: 6}}, Value: []int64{99}}}},
	}
	r1 := &perfRead{ref: vm("vm-1"), counter: 2, done: make(chan struct{})}
	r2 := &perfRead{ref: vm("vm-2"), counter: 2, done: make(chan struct{})}
	r3 := &perfRead{ref: vm("vm-1"), counter: 6, done: make(chan struct{})}
	r4 := &perfRead{ref: vm("vm-3"), counter: 2, done: make(chan struct{})}
	deliverPerf([]*perfRead{r1, r2, r3, r4}, res)
	want := map[*perfRead][]perfSample{
		r1: {{20, t0, 20}, {20, t0.Add(20 * time.Second), 21}},
		r2: {{20, t0, 7}},
		r3: {{20, t0, 99}},
		r4: nil,
	}
	for r, w := range want {
		if !reflect.DeepEqual(r.samples, w) || r.err != nil {
			t.Errorf("%s/%d: %+v %v, want %+v", r.ref.Value, r.counter, r.samples, r.err, w)
		}
	}

	b := &perfBatcher{limit: 2}
	dup := &perfRead{ref: vm("vm-1"), counter: 2, maxSample: 3}
	batch, rest := b.take("20", []*perfRead{r1, dup, r2, r3})
	if !reflect.DeepEqual(batch, []*perfRead{r1, r2}) || !reflect.DeepEqual(rest, []*perfRead{dup, r3}) {
		t.Errorf("take: batch %v rest %v", batch, rest)
	}
	for v, want := range map[any]int{"64": 64, int32(-1): -1, int64(8): 8} {
		if got, ok := optionInt(v); !ok || got != want {
			t.Errorf("optionInt(%v) = %d %v", v, got, ok)
		}
	}
	if _, ok := optionInt("lots"); ok {
		t.Error("optionInt accepted text")
	}
}
