package objects

import (
	"context"
	"fmt"
	"log/slog"
	"sort"
	"strconv"
	"strings"
	"sync"

	"github.com/vmware/govmomi/vim25"
	"github.com/vmware/govmomi/vim25/methods"
	"github.com/vmware/govmomi/vim25/soap"
	"github.com/vmware/govmomi/vim25/types"
)

// QueryPerf pack sizes: the metric ids (summed over its specs) one
// QueryPerf carries. docs/vsphere.md ("QueryPerf pack size") gives the
// sources.
const (
	// maxPack caps every QueryPerf, also when vCenter's limit is off
	// (config.vpxd.stats.maxQueryMetrics -1 or 0) or set higher: what
	// Zabbix's VMware collector packs in those cases.
	maxPack = 1000
	// RealtimePack packs realtime queries (a host's or VM's refresh rate,
	// 20 s) when the setting is unset: vCenter's limit bounds queries of
	// its statistics database (historical intervals); realtime statistics
	// come from the hosts' memory, and Zabbix's collector packs 1,000 of
	// them per call whatever the setting says. Exported for the
	// benchmarks' floors.
	RealtimePack = maxPack
	// HistoricalPack is vCenter's own limit on historical queries when
	// the setting is unset, from 6.5 on; historicalPackOld that of 5.5 U2
	// and 6.0 (VMware KB 2107096).
	HistoricalPack    = 256
	historicalPackOld = 64
)

// optMaxQueryMetrics is the vCenter setting that limits the metrics of
// one historical performance query (-1 or 0: no limit; absent: the
// version's default).
const optMaxQueryMetrics = "config.vpxd.stats.maxQueryMetrics"

// packLimits are an agent's pack sizes, read once (one QueryOptions).
type packLimits struct {
	realtime, historical int
}

// limitsFor derives the pack sizes from the setting (set: its value, ok
// false: absent or unreadable), the agent's kind and its version.
func limitsFor(setting int, set, vcenter bool, version string) packLimits {
	switch {
	case set && setting <= 0: // -1 or 0: no limit
		return packLimits{maxPack, maxPack}
	case set:
		n := min(setting, maxPack)
		return packLimits{n, n}
	case !vcenter: // ESXi: no vpxd and no such setting
		return packLimits{RealtimePack, HistoricalPack}
	case versionBefore(version, 6, 5):
		return packLimits{RealtimePack, historicalPackOld}
	}
	return packLimits{RealtimePack, HistoricalPack}
}

// versionBefore tells whether a version ("6.0.0", "8.0.3") is below
// major.minor; an unreadable one counts as old (the smaller default is
// the safe one).
func versionBefore(version string, major, minor int) bool {
	f := strings.SplitN(version, ".", 3)
	ma, err := strconv.Atoi(f[0])
	if err != nil {
		return true
	}
	mi := 0
	if len(f) > 1 {
		mi, _ = strconv.Atoi(f[1])
	}
	return ma < major || ma == major && mi < minor
}

// perfBatcher batches concurrent single-counter performance queries with
// the same interval into one QueryPerf with one spec per query
// (groupCommit, one lane per interval). Within one call each (entity,
// counter) appears once, so that every series answers exactly one query;
// a query clashing with a queued one waits for the next call.
type perfBatcher struct {
	c    Client
	log  *slog.Logger
	perf *Catalog
	gc   groupCommit[*perfRead]

	limitMu sync.Mutex
	limits  *packLimits    // nil until read from the agent
	packs   map[int32]int  // per interval: its pack size
	shrunk  map[int32]bool // intervals whose pack a fault lowered
}

// perfRead is one caller's query: the newest maxSample samples of one
// counter instance of one entity.
type perfRead struct {
	ref       types.ManagedObjectReference
	counter   int32
	instance  string
	maxSample int32
	done      chan struct{}
	samples   []Sample
	err       error
}

func newPerfBatcher(c Client, log *slog.Logger, perf *Catalog, bg *background) *perfBatcher {
	b := &perfBatcher{c: c, log: log, perf: perf}
	b.gc = groupCommit[*perfRead]{bg: bg, send: b.send, take: b.take,
		abandon: func(r *perfRead, err error) { r.err = err; close(r.done) }}
	return b
}

// query runs one query, batched with concurrent ones of the same interval.
func (b *perfBatcher) query(ctx context.Context, r *perfRead, interval int32) ([]Sample, error) {
	r.done = make(chan struct{})
	b.packSize(ctx, interval) // read before queuing: take must not block
	if err := b.gc.do(ctx, strconv.Itoa(int(interval)), r, r.done); err != nil {
		return nil, err
	}
	return r.samples, r.err
}

// packSize is the number of metric ids one QueryPerf of interval may
// carry: realtime or historical (Catalog.Historical), by the agent's
// limits (limitsFor), lowered by faults (shrink). The agent's setting is
// read once (one QueryOptions call); each interval's size is kept.
func (b *perfBatcher) packSize(ctx context.Context, interval int32) int {
	b.limitMu.Lock()
	defer b.limitMu.Unlock()
	if n, ok := b.packs[interval]; ok {
		return n
	}
	vc, err := b.c.Client(ctx)
	if err != nil {
		return historicalPackOld // not kept: the query will fail anyway
	}
	limits := b.limits
	if limits == nil {
		l, known := b.readLimits(ctx, vc)
		if !known { // not kept: read again by the next query
			return min(l.realtime, l.historical)
		}
		b.limits, limits = &l, &l
	}
	historical, err := b.perf.Historical(ctx, interval)
	if err != nil {
		return historicalPackOld // not kept: the catalogue will be read again
	}
	n := limits.realtime
	if historical {
		n = limits.historical
	}
	if b.packs == nil {
		b.packs = map[int32]int{}
	}
	b.packs[interval] = n
	return n
}

// readLimits reads config.vpxd.stats.maxQueryMetrics (vCenter only).
// known is false when the read failed without an answer from vCenter (no
// connection, ctx ended): the limits are then the version's defaults and
// must not be kept. A fault (InvalidName: the setting is absent; no
// permission to read it) is an answer: the version's defaults apply.
func (b *perfBatcher) readLimits(ctx context.Context, vc *vim25.Client) (limits packLimits, known bool) {
	about := vc.ServiceContent.About
	vcenter := about.ApiType == "VirtualCenter" && vc.ServiceContent.Setting != nil
	setting, set := 0, false
	if vcenter {
		res, err := methods.QueryOptions(ctx, vc, &types.QueryOptions{This: *vc.ServiceContent.Setting, Name: optMaxQueryMetrics})
		if err != nil && !soap.IsSoapFault(err) {
			return limitsFor(0, false, vcenter, about.Version), false
		}
		if err != nil { // InvalidName: the setting is absent
			b.log.Debug("vCenter setting not read; using the version's default QueryPerf pack sizes",
				"setting", optMaxQueryMetrics, "version", about.Version, "error", err)
		}
		if err == nil {
			for _, o := range res.Returnval {
				if ov := o.GetOptionValue(); ov.Key == optMaxQueryMetrics {
					setting, set = optionInt(ov.Value)
				}
			}
		}
	}
	l := limitsFor(setting, set, vcenter, about.Version)
	b.log.Debug("QueryPerf pack sizes", "realtime", l.realtime, "historical", l.historical,
		"setting", optMaxQueryMetrics, "value", setting, "set", set, "version", about.Version)
	return l, true
}

// shrink lowers interval's pack size after a QueryPerf of n metric ids
// failed with a fault naming vCenter's limit: to the version's historical
// default the first time, then by half each time, never below 1. A call
// larger than the current size (packed before an earlier shrink) only
// goes again at that size. It returns the size to split the call into,
// and false when n is 1 (nothing to split).
func (b *perfBatcher) shrink(interval int32, n int) (int, bool) {
	b.limitMu.Lock()
	defer b.limitMu.Unlock()
	if n <= 1 {
		return 1, false
	}
	cur, ok := b.packs[interval]
	if ok && cur < n {
		return cur, true
	}
	next := max(n/2, 1)
	if !b.shrunk[interval] {
		def := HistoricalPack
		if b.limits != nil {
			def = b.limits.historical
		}
		if def < n {
			next = def
		}
	}
	if b.packs == nil {
		b.packs = map[int32]int{}
	}
	if b.shrunk == nil {
		b.shrunk = map[int32]bool{}
	}
	b.packs[interval], b.shrunk[interval] = next, true
	b.log.Warn("vCenter refused a QueryPerf for its size; packing fewer metrics per call",
		"interval", interval, "metrics", n, "pack", next)
	return next, true
}

// limitFault tells whether err is vCenter refusing a query for its size:
// "This operation is restricted by the administrator -
// 'vpxd.stats.maxQueryMetrics'".
func limitFault(err error) bool {
	return soap.IsSoapFault(err) && strings.Contains(err.Error(), "maxQueryMetrics")
}

// optionInt reads an OptionValue holding an integer or its text.
func optionInt(v any) (int, bool) {
	switch v := v.(type) {
	case int32:
		return int(v), true
	case int64:
		return int(v), true
	case int:
		return v, true
	case string:
		n, err := strconv.Atoi(strings.TrimSpace(v))
		return n, err == nil
	}
	return 0, false
}

// take picks the next call's queries: arrival order, at most the
// interval's pack size, each (entity, counter) once; the others stay
// queued.
func (b *perfBatcher) take(key string, pending []*perfRead) (batch, rest []*perfRead) {
	interval, _ := strconv.Atoi(key)
	b.limitMu.Lock()
	limit, ok := b.packs[int32(interval)]
	b.limitMu.Unlock()
	if !ok || limit <= 0 {
		limit = historicalPackOld
	}
	type key2 struct {
		ref     types.ManagedObjectReference
		counter int32
	}
	seen := map[key2]bool{}
	for _, r := range pending {
		k := key2{r.ref, r.counter}
		if len(batch) < limit && !seen[k] {
			seen[k] = true
			batch = append(batch, r)
		} else {
			rest = append(rest, r)
		}
	}
	return batch, rest
}

// send answers every query of batch. A fault naming one entity (deleted
// meanwhile) fails only its queries and the rest go again; a fault
// naming vCenter's size limit shrinks the interval's pack size and the
// batch goes again in calls of that size; any other fault of a
// multi-query call makes each query go alone.
func (b *perfBatcher) send(ctx context.Context, key string, batch []*perfRead) {
	interval, _ := strconv.Atoi(key)
	for len(batch) > 0 {
		res, err := b.call(ctx, int32(interval), batch)
		if err == nil {
			deliverPerf(batch, res)
			return
		}
		if len(batch) == 1 || !soap.IsSoapFault(err) {
			for _, r := range batch {
				r.err = fmt.Errorf("query performance data of %s: %w", r.ref.Value, err)
				close(r.done)
			}
			return
		}
		if limitFault(err) { // too many metrics for vCenter: smaller calls, now and later
			size, _ := b.shrink(int32(interval), len(batch))
			for len(batch) > 0 {
				k := min(size, len(batch))
				b.send(ctx, key, batch[:k])
				batch = batch[k:]
			}
			return
		}
		var rest []*perfRead
		for _, r := range batch {
			if nf, ok := soap.ToSoapFault(err).VimFault().(*types.ManagedObjectNotFound); ok && nf.Obj == r.ref {
				r.err = fmt.Errorf("query performance data of %s: %w", r.ref.Value, err)
				close(r.done)
			} else {
				rest = append(rest, r)
			}
		}
		if len(rest) == len(batch) {
			for _, r := range batch {
				b.send(ctx, key, []*perfRead{r})
			}
			return
		}
		batch = rest
	}
}

func (b *perfBatcher) call(ctx context.Context, interval int32, batch []*perfRead) ([]types.BasePerfEntityMetricBase, error) {
	pm, err := b.perf.PerfManager(ctx)
	if err != nil {
		return nil, err
	}
	vc, err := b.c.Client(ctx)
	if err != nil {
		return nil, err
	}
	q := &types.QueryPerf{This: pm}
	for _, r := range batch {
		q.QuerySpec = append(q.QuerySpec, types.PerfQuerySpec{Entity: r.ref, MaxSample: r.maxSample, IntervalId: interval,
			MetricId: []types.PerfMetricId{{CounterId: r.counter, Instance: r.instance}}})
	}
	res, err := methods.QueryPerf(ctx, vc, q)
	if err != nil {
		return nil, err
	}
	return res.Returnval, nil
}

// deliverPerf splits a QueryPerf reply: each query gets the samples of
// the first series of its counter among its entity's results, oldest
// first (no series: no samples, as vCenter answers for idle counters).
func deliverPerf(batch []*perfRead, res []types.BasePerfEntityMetricBase) {
	for _, r := range batch {
		r.samples = samplesOf(res, r.ref, r.counter, r.instance)
		close(r.done)
	}
}

func samplesOf(res []types.BasePerfEntityMetricBase, ref types.ManagedObjectReference, counter int32, instance string) []Sample {
	var out []Sample
	for _, base := range res {
		em, ok := base.(*types.PerfEntityMetric)
		if !ok || em == nil || em.Entity != ref {
			continue
		}
		for _, series := range em.Value {
			is, ok := series.(*types.PerfMetricIntSeries)
			if !ok || is == nil || is.Id.CounterId != counter || instance != "*" && is.Id.Instance != instance {
				continue
			}
			for i, v := range is.Value {
				if i >= len(em.SampleInfo) {
					break
				}
				out = append(out, Sample{Interval: em.SampleInfo[i].Interval, At: em.SampleInfo[i].Timestamp, Value: v})
			}
			sort.SliceStable(out, func(i, j int) bool { return out[i].At.Before(out[j].At) })
			return out
		}
	}
	return out
}
