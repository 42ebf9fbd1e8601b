package objects

import (
	"context"
	"fmt"
	"log/slog"
	"sort"
	"strconv"
	"sync"

	"github.com/vmware/govmomi/vim25/methods"
	"github.com/vmware/govmomi/vim25/soap"
	"github.com/vmware/govmomi/vim25/types"
)

// maxPerfBatch bounds the metrics of one QueryPerf when vCenter does not
// set config.vpxd.stats.maxQueryMetrics: vCenter's own default is 64.
const maxPerfBatch = 64

// optMaxQueryMetrics is the vCenter setting that limits the metrics of
// one performance query (-1 or absent: no limit).
const optMaxQueryMetrics = "config.vpxd.stats.maxQueryMetrics"

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
	limit   int // specs per call; 0 until read from vCenter
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
	b.maxSpecs(ctx) // read before queuing: take must not block
	if err := b.gc.do(ctx, strconv.Itoa(int(interval)), r, r.done); err != nil {
		return nil, err
	}
	return r.samples, r.err
}

// maxSpecs is the number of metrics one QueryPerf may carry: vCenter's
// config.vpxd.stats.maxQueryMetrics when positive, else maxPerfBatch,
// read once per agent (one QueryOptions call).
func (b *perfBatcher) maxSpecs(ctx context.Context) int {
	b.limitMu.Lock()
	defer b.limitMu.Unlock()
	if b.limit > 0 {
		return b.limit
	}
	vc, err := b.c.Client(ctx)
	if err != nil {
		return maxPerfBatch // not cached: the query will fail anyway
	}
	b.limit = maxPerfBatch
	if vc.ServiceContent.Setting == nil { // ESXi has no settings
		return b.limit
	}
	res, err := methods.QueryOptions(ctx, vc, &types.QueryOptions{This: *vc.ServiceContent.Setting, Name: optMaxQueryMetrics})
	if err != nil { // InvalidName: the setting is absent, so no limit
		b.log.Debug("reading vCenter setting failed; using the default perf batch bound",
			"setting", optMaxQueryMetrics, "error", err)
		return b.limit
	}
	for _, o := range res.Returnval {
		if n, ok := optionInt(o.GetOptionValue().Value); ok && n > 0 {
			b.limit = n
		}
	}
	return b.limit
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
		n, err := strconv.Atoi(v)
		return n, err == nil
	}
	return 0, false
}

// take picks the next call's queries: arrival order, at most maxSpecs,
// each (entity, counter) once; the others stay queued.
func (b *perfBatcher) take(_ string, pending []*perfRead) (batch, rest []*perfRead) {
	b.limitMu.Lock()
	limit := b.limit
	b.limitMu.Unlock()
	if limit <= 0 {
		limit = maxPerfBatch
	}
	type key struct {
		ref     types.ManagedObjectReference
		counter int32
	}
	seen := map[key]bool{}
	for _, r := range pending {
		k := key{r.ref, r.counter}
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
// meanwhile) fails only its queries and the rest go again; any other
// fault of a multi-query call makes each query go alone.
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
