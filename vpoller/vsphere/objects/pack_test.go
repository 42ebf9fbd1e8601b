package objects

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/vmware/govmomi/simulator"
	"github.com/vmware/govmomi/vim25"
	"github.com/vmware/govmomi/vim25/methods"
	"github.com/vmware/govmomi/vim25/soap"
	"github.com/vmware/govmomi/vim25/types"
)

// TestLimitsFor pins the pack sizes per setting, agent kind and version
// (the sources are in docs/vsphere.md).
func TestLimitsFor(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		setting              int
		set, vcenter         bool
		version              string
		realtime, historical int
	}{
		{0, false, true, "8.0.3", 1000, 256},  // unset, 6.5 and later: 256 for historical
		{0, false, true, "6.5.0", 1000, 256},  //
		{0, false, true, "6.7.0", 1000, 256},  //
		{0, false, true, "6.0.0", 1000, 64},   // unset, 5.5 U2 and 6.0: 64
		{0, false, true, "5.5.0", 1000, 64},   //
		{0, false, true, "", 1000, 64},        // version unknown: the smaller default
		{0, false, false, "8.0.3", 1000, 256}, // ESXi: no vpxd setting
		{-1, true, true, "6.0.0", 1000, 1000}, // -1: no limit, capped
		{0, true, true, "8.0.3", 1000, 1000},  // 0: no limit, capped
		{100, true, true, "8.0.3", 100, 100},  // set: honoured for both
		{64, true, true, "8.0.3", 64, 64},     //
		{5000, true, true, "8.0.3", 1000, 1000},
	} {
		got := limitsFor(tc.setting, tc.set, tc.vcenter, tc.version)
		if got != (packLimits{tc.realtime, tc.historical}) {
			t.Errorf("limitsFor(%d, set %v, vCenter %v, %q) = %+v, want realtime %d, historical %d",
				tc.setting, tc.set, tc.vcenter, tc.version, got, tc.realtime, tc.historical)
		}
	}
}

// refusingPerfManager is the simulator's PerformanceManager refusing a
// QueryPerf of more than limit metric ids with the fault vCenter sends
// when a query exceeds config.vpxd.stats.maxQueryMetrics. A fake for a
// fault the simulator cannot produce: it enforces no such limit.
type refusingPerfManager struct {
	*simulator.PerformanceManager
	limit int
}

func (p *refusingPerfManager) QueryPerf(ctx *simulator.Context, req *types.QueryPerf) soap.HasFault {
	n := 0
	for _, s := range req.QuerySpec {
		n += len(s.MetricId)
	}
	if n > p.limit {
		return &methods.QueryPerfBody{Fault_: simulator.Fault(
			"This operation is restricted by the administrator - 'vpxd.stats.maxQueryMetrics'. Contact your system administrator.",
			&types.RestrictedByAdministrator{Details: "vpxd.stats.maxQueryMetrics"})}
	}
	return p.PerformanceManager.QueryPerf(ctx, req)
}

// packSetup adjusts the simulated vCenter: its version, and a QueryPerf
// size it refuses above (0: none).
func packSetup(version string, refuseAbove int) func(*simulator.Model) {
	return func(m *simulator.Model) {
		si := m.Map().Get(vim25.ServiceInstance).(*simulator.ServiceInstance)
		if version != "" {
			si.Content.About.Version = version
			si.Content.About.ApiVersion = version[:3]
		}
		if refuseAbove > 0 {
			pm := m.Map().Get(*si.Content.PerfManager).(*simulator.PerformanceManager)
			m.Map().Put(&refusingPerfManager{PerformanceManager: pm, limit: refuseAbove})
		}
	}
}

// setMaxQueryMetrics sets vCenter's setting as an administrator does
// (UpdateOptions), before anything reads it.
func setMaxQueryMetrics(t *testing.T, s simStore, value any) {
	t.Helper()
	vc, err := s.sess.Client(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	_, err = methods.UpdateOptions(context.Background(), vc, &types.UpdateOptions{This: *vc.ServiceContent.Setting,
		ChangedValue: []types.BaseOptionValue{&types.OptionValue{Key: optMaxQueryMetrics, Value: value}}})
	if err != nil {
		t.Fatal(err)
	}
}

// sweepSeries puts n series of the kind's entities into a lane of
// interval (instances make up the count: the simulator answers any), all
// due and none fetched yet; the lane's round loop is not started, so
// that only the rounds the test makes call vCenter.
func sweepSeries(t *testing.T, s simStore, k *Kind, counter string, interval int32, n int) *lane {
	t.Helper()
	ctx := context.Background()
	items, err := s.List(ctx, k)
	if err != nil || len(items) == 0 {
		t.Fatalf("%s: %d %v", k.Name, len(items), err)
	}
	id, ok, err := s.Catalog().CounterID(ctx, counter)
	if err != nil || !ok {
		t.Fatalf("%s: %v", counter, err)
	}
	l := &lane{interval: interval, period: time.Duration(interval) * time.Second, series: map[seriesKey]*series{}}
	now := time.Now()
	for i := range n {
		se := &series{}
		se.ask(now, 1)
		l.series[seriesKey{items[i%len(items)].Ref, id, fmt.Sprintf("instance-%d", i)}] = se
	}
	s.sweep.mu.Lock()
	s.sweep.lanes[interval] = l
	s.sweep.mu.Unlock()
	return l
}

// round runs one sweep round of l and returns the QueryPerf calls it
// made, checking that every series got its samples.
func round(t *testing.T, s simStore, l *lane) int {
	t.Helper()
	before := s.sess.Stats().Calls["QueryPerf"]
	for _, se := range l.series {
		se.fetchedAt = time.Time{}
	}
	if !s.sweep.round(context.Background(), l) {
		t.Fatal("the lane ended")
	}
	n := s.sess.Stats().Calls["QueryPerf"] - before
	s.sweep.mu.Lock()
	defer s.sweep.mu.Unlock()
	for k, se := range l.series {
		if se.fetchedAt.IsZero() || len(se.samples) != 1 || se.inflight != nil {
			t.Fatalf("series %v not fetched: %+v", k, se)
		}
	}
	if l.lastCalls != int(n) || l.lastFetched != len(l.series) {
		t.Errorf("lane stats: %d calls for %d series, SOAP counted %d", l.lastCalls, l.lastFetched, n)
	}
	return int(n)
}

// TestSweepPackSize: a sweep round of N series makes ceil(N/pack)
// QueryPerf calls on the simulator (N = pack + 1: one more series than a
// pack holds takes a second call), for realtime series (VMs, 20 s) and
// historical ones (datastores, 300 s), with vCenter's setting unset (the
// version's defaults), set, and set to -1 (no limit: capped at 1,000).
func TestSweepPackSize(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name     string
		version  string // "" leaves the simulator's (6.5.0)
		setting  any    // nil: unset
		kind     *Kind
		counter  string
		interval int32
		series   int
		pack     int
	}{
		{"realtime, unset", "", nil, VM, "cpu.usage.percent.average", 20, 1001, 1000},
		{"historical, unset, 6.5", "", nil, Datastore, "disk.used.kiloBytes.latest", 300, 257, 256},
		{"historical, unset, 8.0", "8.0.3", nil, Datastore, "disk.used.kiloBytes.latest", 300, 257, 256},
		{"historical, unset, 6.0", "6.0.0", nil, Datastore, "disk.used.kiloBytes.latest", 300, 65, 64},
		{"realtime, unset, 6.0", "6.0.0", nil, VM, "cpu.usage.percent.average", 20, 1001, 1000},
		{"realtime, set 100", "", "100", VM, "cpu.usage.percent.average", 20, 101, 100},
		{"historical, set 100", "", int32(100), Datastore, "disk.used.kiloBytes.latest", 300, 101, 100},
		{"historical, set -1", "", "-1", Datastore, "disk.used.kiloBytes.latest", 300, 1001, 1000},
		{"historical, set 0", "6.0.0", "0", Datastore, "disk.used.kiloBytes.latest", 300, 1001, 1000},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := newSimStore(t, Options{}, packSetup(tc.version, 0))
			if tc.setting != nil {
				setMaxQueryMetrics(t, s, tc.setting)
			}
			l := sweepSeries(t, s, tc.kind, tc.counter, tc.interval, tc.series)
			want := (tc.series + tc.pack - 1) / tc.pack
			if n := round(t, s, l); n != want {
				t.Fatalf("%d series: %d QueryPerf, want ceil(%d/%d) = %d", tc.series, n, tc.series, tc.pack, want)
			}
			if got := s.sweep.perfQ.packSize(context.Background(), tc.interval); got != tc.pack {
				t.Fatalf("pack size %d, want %d", got, tc.pack)
			}
		})
	}
}

// TestSweepShrinksOnLimitFault: a vCenter that refuses a realtime
// QueryPerf of 1,000 metrics for its size (its limit applied where the
// documentation says it is not) gets the same series in calls of its
// historical default (256), in that round and the next; one that
// refuses those too gets half as many per call.
func TestSweepShrinksOnLimitFault(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		refuseAbove int
		first, next int // QueryPerf of the first round (refused ones included) and of the next
		pack        int
	}{
		{300, 1 + 4, 4, 256},       // 1000 refused; 256+256+256+232
		{200, 1 + 4 + 8, 8, 128},   // 1000 refused; 4 of 256 refused, each split in 2 of 128
		{2000, 1, 1, RealtimePack}, // nothing refused
	} {
		t.Run(fmt.Sprint("refuse above ", tc.refuseAbove), func(t *testing.T) {
			s := newSimStore(t, Options{}, packSetup("", tc.refuseAbove))
			l := sweepSeries(t, s, VM, "cpu.usage.percent.average", 20, 1000)
			if n := round(t, s, l); n != tc.first {
				t.Fatalf("first round: %d QueryPerf, want %d", n, tc.first)
			}
			if got := s.sweep.perfQ.packSize(context.Background(), 20); got != tc.pack {
				t.Fatalf("pack size after the round: %d, want %d", got, tc.pack)
			}
			if n := round(t, s, l); n != tc.next {
				t.Fatalf("next round: %d QueryPerf, want %d", n, tc.next)
			}
		})
	}
}

// TestPerfBatchShrinksOnLimitFault: the batched direct queries split the
// same way: every query of a refused call is answered.
func TestPerfBatchShrinksOnLimitFault(t *testing.T) {
	t.Parallel()
	s := newSimStore(t, Options{}, packSetup("", 100))
	ctx := context.Background()
	vms, err := s.List(ctx, VM)
	if err != nil {
		t.Fatal(err)
	}
	id, _, err := s.Catalog().CounterID(ctx, "cpu.usage.percent.average")
	if err != nil {
		t.Fatal(err)
	}
	b := s.sweep.perfQ
	b.packSize(ctx, 20)
	var batch []*perfRead
	for i := range 300 {
		batch = append(batch, &perfRead{ref: vms[i%len(vms)].Ref, counter: id, instance: fmt.Sprint("i", i), maxSample: 1, done: make(chan struct{})})
	}
	before := s.sess.Stats().Calls["QueryPerf"]
	b.send(ctx, "20", batch)
	for i, r := range batch {
		select {
		case <-r.done:
		default:
			t.Fatalf("query %d not answered", i)
		}
		if r.err != nil || len(r.samples) != 1 {
			t.Fatalf("query %d: %v %v", i, r.samples, r.err)
		}
	}
	// 300 refused: 256 and 44. 256 refused: 2 of 128. The first refused:
	// 2 of 64; the second, packed before that, goes as 2 of 64 too.
	if n := s.sess.Stats().Calls["QueryPerf"] - before; n != 1+1+1+2+1+2+1 {
		t.Fatalf("%d QueryPerf", n)
	}
	if got := b.packSize(ctx, 20); got != 64 {
		t.Fatalf("pack size %d, want 64", got)
	}
}

// FuzzPackLimits: whatever text vCenter holds in the setting and in its
// version, the pack sizes stay between 1 and 1,000, and an unset or
// unlimited setting never packs realtime queries smaller than
// historical ones.
func FuzzPackLimits(f *testing.F) {
	for _, s := range [][2]string{{"64", "6.0.0"}, {"-1", "8.0.3"}, {"0", ""}, {"", "6.5"}, {" 300 ", "x.y"}, {"99999999999999999999", "6"}} {
		f.Add(s[0], s[1], true)
	}
	f.Fuzz(func(t *testing.T, setting, version string, vcenter bool) {
		n, set := optionInt(setting)
		l := limitsFor(n, set, vcenter, version)
		for _, v := range []int{l.realtime, l.historical} {
			if v < 1 || v > maxPack {
				t.Fatalf("limitsFor(%q, %q) = %+v", setting, version, l)
			}
		}
		if (!set || n <= 0) && l.realtime < l.historical {
			t.Fatalf("limitsFor(%q, %q) = %+v: realtime below historical", setting, version, l)
		}
	})
}
