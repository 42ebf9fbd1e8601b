package objects

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/vmware/govmomi/vim25/types"

	"github.com/vpoller/zabbix-vpoller/internal/testutil"
)

// TestSeriesIsDue pins the pacing: a series is fetched in the round
// before its client is expected back, never twice within half a sample
// period, every round while its pace is unknown, and at its own pace when
// its client is late.
func TestSeriesIsDue(t *testing.T) {
	t.Parallel()
	const p = 20 * time.Second
	t0 := time.Unix(10000, 0)
	for _, tc := range []struct {
		name      string
		s         series
		at        time.Duration // round time after t0
		wantDue   bool
		fetchedAt time.Duration
	}{
		{"unknown pace", series{askedAt: t0}, 20 * time.Second, true, 0},
		{"unknown pace, just fetched", series{askedAt: t0}, 20 * time.Second, false, 15 * time.Second},
		{"every 60 s: round at +20", series{askedAt: t0, gap: time.Minute}, 20 * time.Second, false, 0},
		{"every 60 s: round at +34", series{askedAt: t0, gap: time.Minute}, 34 * time.Second, false, 0},
		{"every 60 s: round at +35", series{askedAt: t0, gap: time.Minute}, 35 * time.Second, true, 0},
		{"every 60 s: round at +55", series{askedAt: t0, gap: time.Minute}, 55 * time.Second, true, 0},
		{"every 60 s: round at +55, fetched at +36", series{askedAt: t0, gap: time.Minute}, 55 * time.Second, false, 36 * time.Second},
		{"every 10 s: every round", series{askedAt: t0.Add(10 * time.Second), gap: 10 * time.Second}, 20 * time.Second, true, 0},
		{"every 10 s: fetched half a period ago", series{askedAt: t0.Add(15 * time.Second), gap: 10 * time.Second}, 20 * time.Second, false, 11 * time.Second},
		{"every 60 s, asks stray 5 s: round at +29", series{askedAt: t0, gap: time.Minute, jitter: 5 * time.Second}, 29 * time.Second, false, 0},
		{"every 60 s, asks stray 5 s: round at +30", series{askedAt: t0, gap: time.Minute, jitter: 5 * time.Second}, 30 * time.Second, true, 0},
		{"every 60 s, asks stray 30 s: slack capped", series{askedAt: t0, gap: time.Minute, jitter: 30 * time.Second}, 29 * time.Second, false, 0},
		{"late client, fetched a gap ago", series{askedAt: t0, gap: time.Minute}, 90 * time.Second, true, 20 * time.Second},
		{"late client, fetched recently", series{askedAt: t0, gap: time.Minute}, 90 * time.Second, false, 50 * time.Second},
	} {
		s := tc.s
		s.fetchedAt = t0.Add(tc.fetchedAt)
		if got := s.isDue(t0.Add(tc.at), p); got != tc.wantDue {
			t.Errorf("%s: due %v, want %v", tc.name, got, tc.wantDue)
		}
	}
}

func TestSeriesAsk(t *testing.T) {
	t.Parallel()
	t0 := time.Unix(10000, 0)
	var s series
	s.ask(t0, 1)
	s.ask(t0.Add(300*time.Millisecond), 3) // the same poll: no gap
	if s.gap != 0 || s.maxSample != 3 || !s.askedAt.Equal(t0) {
		t.Fatalf("after two asks within a second: %+v", s)
	}
	s.ask(t0.Add(time.Minute), 1)
	if s.gap != time.Minute || s.maxSample != 3 {
		t.Fatalf("after a minute: %+v", s)
	}
	s.ask(t0.Add(2*time.Minute+4*time.Second), 1) // 64 s: smoothed
	if s.gap != 61*time.Second || s.jitter != time.Second {
		t.Fatalf("gap %v, jitter %v after a 64 s one, want 61 s and 1 s", s.gap, s.jitter)
	}
	if got := s.fresh(20 * time.Second); got != 30*time.Second {
		t.Errorf("fresh %v with little jitter, want 1.5 periods", got)
	}
	s.jitter = 8 * time.Second
	if got := s.fresh(20 * time.Second); got != 40*time.Second {
		t.Errorf("fresh %v with much jitter, want 2 periods", got)
	}
	s.ask(t0.Add(7*time.Minute+4*time.Second), 1) // 5 min: a new pace
	if s.gap != 5*time.Minute {
		t.Fatalf("gap %v after a 5 min one, want 5 min", s.gap)
	}
}

// TestPack: the due series of a round go out in ceil(metrics/limit)
// calls, each entity's metrics together unless they straddle a call, with
// the entity's largest max-sample.
func TestPack(t *testing.T) {
	t.Parallel()
	var due []dueSeries
	for i := range 1000 {
		for _, c := range []int32{2, 6} {
			due = append(due, dueSeries{key: seriesKey{ref("VirtualMachine", fmt.Sprintf("vm-%04d", i)), c, ""}, maxSample: 1})
		}
	}
	calls := pack(due, 20, 64)
	if len(calls) != 32 {
		t.Fatalf("2000 series in %d calls, want 32", len(calls))
	}
	for i, c := range calls {
		n := 0
		for j, s := range c.specs {
			n += len(s.MetricId)
			if len(s.MetricId) != len(c.keys[j]) || s.IntervalId != 20 {
				t.Fatalf("call %d spec %d: %+v", i, j, s)
			}
		}
		if want := 64; i < 31 && n != want || i == 31 && n != 2000-31*64 {
			t.Errorf("call %d carries %d metrics", i, n)
		}
	}
	// An entity with 3 metrics and a limit of 2 spans two calls; the
	// spec asks for the entity's largest max-sample.
	odd := []dueSeries{
		{key: seriesKey{ref("HostSystem", "host-1"), 1, ""}, maxSample: 1},
		{key: seriesKey{ref("HostSystem", "host-1"), 2, "vmnic0"}, maxSample: 5},
		{key: seriesKey{ref("HostSystem", "host-1"), 3, ""}, maxSample: 2},
	}
	calls = pack(odd, 300, 2)
	if len(calls) != 2 || len(calls[0].specs[0].MetricId) != 2 || len(calls[1].specs[0].MetricId) != 1 ||
		calls[0].specs[0].MaxSample != 5 || calls[1].specs[0].MaxSample != 5 || calls[0].specs[0].MetricId[1].Instance != "vmnic0" {
		t.Errorf("odd pack: %+v", calls)
	}
}

// TestSweepFollowsTheClientsPace runs a sweep with a 1 s sample period on
// the simulator: 2 series of each of its 4 hosts and 4 VMs, asked all at
// once every 3 s. After the first ask (fetched directly, batched), every
// ask is answered from the sweep, which fetches the series once per 3 s
// (one QueryPerf of 16 metrics), not once per period. The test is the
// lane's ticker: it steps the sweep's clock one period and runs a round,
// so the schedule is exact and takes no wall time.
func TestSweepFollowsTheClientsPace(t *testing.T) {
	t.Parallel()
	s := newSimStore(t, Options{}, nil)
	ctx := context.Background()
	clk := testutil.NewClock(time.Now())
	s.sweep.now = clk.Now
	// The lane exists and counts as running before the first ask: no
	// ticker goroutine starts; tick below runs its rounds.
	l := &lane{interval: 1, period: time.Second, series: map[seriesKey]*series{}, running: true}
	s.sweep.mu.Lock()
	s.sweep.lanes[1] = l
	s.sweep.mu.Unlock()
	tick := func() {
		clk.Add(l.period)
		if !s.sweep.round(ctx, l) {
			t.Fatal("the lane ended with its series asked for")
		}
	}
	hosts, err := s.List(ctx, Host)
	if err != nil {
		t.Fatal(err)
	}
	vms, err := s.List(ctx, VM)
	if err != nil || len(hosts)+len(vms) != 8 {
		t.Fatalf("%d hosts, %d VMs: %v", len(hosts), len(vms), err)
	}
	items := append(hosts, vms...)
	var qs []PerfQuery
	for _, it := range items {
		for _, c := range []string{"cpu.usage.percent.average", "mem.usage.percent.average"} {
			id, ok, err := s.Catalog().CounterID(ctx, c)
			if err != nil || !ok {
				t.Fatal(c, err)
			}
			qs = append(qs, PerfQuery{Ref: it.Ref, Counter: id, Interval: 1, MaxSample: 1})
		}
	}
	askAll := func() {
		var wg sync.WaitGroup
		for _, q := range qs {
			wg.Add(1)
			go func() {
				defer wg.Done()
				got, err := s.Perf(ctx, q)
				if err != nil || len(got) != 1 || got[0].Interval != 1 {
					t.Errorf("%v: %v %v", q.Ref, got, err)
				}
			}()
		}
		wg.Wait()
	}
	askAll() // first ask: direct
	direct := s.sess.Stats().Calls["QueryPerf"]
	const asks = 4
	for range asks {
		for range 3 {
			tick()
		}
		askAll()
	}
	st := s.Stats().Sweep
	swept := s.sess.Stats().Calls["QueryPerf"] - direct
	t.Logf("first ask: %d QueryPerf; then %d asks of %d series: %d QueryPerf in %d rounds; hits %d, misses %d",
		direct, asks, len(qs), swept, st.Rounds, st.Hits, st.Misses)
	if st.Hits != uint64(asks*len(qs)) || st.Misses != uint64(len(qs)) {
		t.Errorf("hits %d, misses %d: want every ask after the first from the sweep", st.Hits, st.Misses)
	}
	// 12 s of 1 s periods: fetched at the pace asked, not 12 times: in
	// each of the 3 rounds before the second ask (the pace is not known
	// yet), then once before each later ask (2 s after the ask before it,
	// the round that leaves the fetch fresh at the next).
	if want := uint64(3 + asks - 1); swept != want {
		t.Errorf("%d QueryPerf over %d asks 3 s apart with a 1 s period; want %d", swept, asks, want)
	}
	if st.Series != len(qs) || st.LastRoundSeries != len(qs) || st.LastRoundCalls != 1 {
		t.Errorf("sweep stats %+v", st)
	}
}

// TestSweepDropsGoneEntities: a series whose entity was destroyed leaves
// the sweep when vCenter says so; the others keep being fetched.
func TestSweepDropsGoneEntities(t *testing.T) {
	t.Parallel()
	c := perfCall{specs: []types.PerfQuerySpec{{Entity: ref("VirtualMachine", "vm-1")}, {Entity: ref("VirtualMachine", "vm-2")}},
		keys: [][]seriesKey{{{ref: ref("VirtualMachine", "vm-1")}}, {{ref: ref("VirtualMachine", "vm-2")}}}}
	if !c.drop(ref("VirtualMachine", "vm-1")) || len(c.specs) != 1 || c.specs[0].Entity.Value != "vm-2" || len(c.keys) != 1 {
		t.Fatalf("drop: %+v", c)
	}
	if c.drop(ref("VirtualMachine", "vm-9")) {
		t.Error("dropped an entity the call did not have")
	}
}

// TestSweepStaleAsks: asks finding their series' latest fetches too old
// (clients earlier than expected) fetch them directly in shared calls,
// and asks for series a round is fetching right now wait for it instead
// of fetching them again.
func TestSweepStaleAsks(t *testing.T) {
	t.Parallel()
	s := newSimStore(t, Options{}, nil)
	ctx := context.Background()
	hosts, err := s.List(ctx, Host)
	if err != nil {
		t.Fatal(err)
	}
	vms, err := s.List(ctx, VM)
	if err != nil {
		t.Fatal(err)
	}
	var qs []PerfQuery
	for _, it := range append(hosts, vms...) {
		for _, c := range []string{"cpu.usage.percent.average", "mem.usage.percent.average"} {
			id, _, err := s.Catalog().CounterID(ctx, c)
			if err != nil {
				t.Fatal(err)
			}
			qs = append(qs, PerfQuery{Ref: it.Ref, Counter: id, Interval: 20, MaxSample: 1})
		}
	}
	for _, q := range qs { // one after another: each fetched directly
		if _, err := s.Perf(ctx, q); err != nil {
			t.Fatal(err)
		}
	}
	burst := func() {
		var wg sync.WaitGroup
		for _, q := range qs {
			wg.Add(1)
			go func() {
				defer wg.Done()
				if got, err := s.Perf(ctx, q); err != nil || len(got) != 1 {
					t.Errorf("%v: %v %v", q.Ref, got, err)
				}
			}()
		}
		wg.Wait()
	}
	stale := func() {
		s.sweep.mu.Lock()
		for _, se := range s.sweep.lanes[20].series {
			se.fetchedAt = se.fetchedAt.Add(-time.Hour)
		}
		s.sweep.mu.Unlock()
	}

	stale()
	before := s.sess.Stats().Calls["QueryPerf"]
	burst()
	if n := s.sess.Stats().Calls["QueryPerf"] - before; n < 1 || n > 3 {
		t.Errorf("a burst of %d stale asks cost %d QueryPerf, want 1 to 3 (shared)", len(qs), n)
	}

	// A round has every series in flight: the asks wait for it.
	stale()
	s.sweep.mu.Lock()
	l := s.sweep.lanes[20]
	var due []dueSeries
	for k := range l.series {
		due = append(due, dueSeries{key: k, maxSample: 1})
	}
	calls := s.sweep.claimLocked(l, due, 64)
	s.sweep.mu.Unlock()
	before = s.sess.Stats().Calls["QueryPerf"]
	done := make(chan struct{})
	go func() { defer close(done); burst() }()
	time.Sleep(200 * time.Millisecond) // the asks are waiting
	if n := s.sweep.fetch(ctx, l, calls); n != 1 {
		t.Errorf("the round made %d calls", n)
	}
	<-done
	if n := s.sess.Stats().Calls["QueryPerf"] - before; n != 1 {
		t.Errorf("asks during a round fetching their series cost %d QueryPerf besides it, want none", n-1)
	}
}
