package objects

import (
	"context"
	"fmt"
	"reflect"
	"sync"
	"testing"
	"time"

	"github.com/vmware/govmomi/simulator"
	"github.com/vmware/govmomi/vim25"
	"github.com/vmware/govmomi/vim25/types"
)

// TestBatchSplitsLargeQueues queues more reads than one batch may carry
// and checks that they all arrive, in several bounded calls.
func TestBatchSplitsLargeQueues(t *testing.T) {
	t.Parallel()
	s := newSimStore(t, Options{Mirror: MirrorOptions{Off: true}}, func(m *simulator.Model) {
		m.DelayConfig.MethodDelay = map[string]int{"RetrievePropertiesEx": 100}
	})
	ref, err := s.Lookup(context.Background(), VM, "DC0_H0_VM0")
	if err != nil {
		t.Fatal(err)
	}
	// The same VM read with 2*maxBatchObjects+1 different (some unknown)
	// paths: each read is its own; the unknown paths are simply unset on
	// the simulator (a real vCenter faults them: see TestBatchFaultIsolation).
	n := 2*maxBatchObjects + 1
	before := s.sess.Stats().Calls["RetrievePropertiesEx"]
	vals := make([]Values, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			vals[i], errs[i] = s.props.get(context.Background(), ref, []string{"runtime.powerState", fmt.Sprintf("x%d", i)})
		}()
	}
	wg.Wait()
	calls := s.sess.Stats().Calls["RetrievePropertiesEx"] - before
	for i := range n {
		if errs[i] != nil || !reflect.DeepEqual(vals[i], Values{"runtime.powerState": types.VirtualMachinePowerStatePoweredOn}) {
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
	t.Parallel()
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
	if r1.err != errGone || r3.err != errGone || r2.err != nil || !reflect.DeepEqual(r2.vals, Values{"name": "b", "runtime.powerState": "on"}) {
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
	t.Parallel()
	for v, want := range map[string]bool{"8.0.3.0": true, "6.5": true, "6.7.3": true, "7.0": true, "6.0": false, "5.5": false, "": false, "x": false} {
		vc := &vim25.Client{}
		vc.ServiceContent.About.ApiVersion = v
		if got := reportsMissingObjects(vc); got != want {
			t.Errorf("%q: %v, want %v", v, got, want)
		}
	}
}

// TestPerfBatchSplitAndTake checks the reply split (per entity and
// counter, oldest first) and the choice of each call's queries (limit,
// each entity and counter once) on hand-made replies of QueryPerf's shape.
func TestPerfBatchSplitAndTake(t *testing.T) {
	t.Parallel()
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
	want := map[*perfRead][]Sample{
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

	b := &perfBatcher{packs: map[int32]int{20: 2}}
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
