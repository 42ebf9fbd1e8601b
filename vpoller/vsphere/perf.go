package vsphere

import (
	"context"
	"fmt"

	"github.com/vmware/govmomi/vim25/methods"
	"github.com/vmware/govmomi/vim25/types"

	"github.com/vpoller/zabbix-vpoller/vpoller"
	"github.com/vpoller/zabbix-vpoller/vpoller/vsphere/objects"
)

// Messages of the performance family (the original's).
const (
	msgPerfInfo      = "Successfully retrieved performance metrics info"
	msgPerfIntervals = "Successfully retrieved performance historical intervals"
	msgPerfMetrics   = "Successfully retrieved performance metrics"
	msgUnknownPerf   = "Unknown performance counter requested"
)

// perfMetricInfo (perf.metric.info) lists the counter catalogue: every
// PerfCounterInfo as a data object, plus "counterName", the
// "<group>.<name>.<unit>.<rollup>" name that *.perf.metric.get takes
// (ours: the original left users to assemble it).
func perfMetricInfo(ctx context.Context, a *Agent, req *vpoller.Request) *vpoller.Response {
	counters, _, names, err := a.store.Catalog().Reload(ctx)
	if err != nil {
		return fail(req, err)
	}
	out := make([]any, 0, len(counters))
	for i := range counters {
		obj, _ := toValue(counters[i]).(vpoller.Object)
		obj = append(obj, vpoller.Field{Key: "counterName", Value: names[counters[i].Key]})
		out = append(out, obj)
	}
	return vpoller.OK(msgPerfInfo, out)
}

// perfIntervalInfo (perf.interval.info) lists the historical intervals.
func perfIntervalInfo(ctx context.Context, a *Agent, req *vpoller.Request) *vpoller.Response {
	_, intervals, _, err := a.store.Catalog().Reload(ctx)
	if err != nil {
		return fail(req, err)
	}
	out := make([]any, 0, len(intervals))
	for _, iv := range intervals {
		out = append(out, vpoller.Object{
			{Key: "enabled", Value: iv.Enabled},
			{Key: "key", Value: int64(iv.Key)},
			{Key: "length", Value: int64(iv.Length)},
			{Key: "level", Value: int64(iv.Level)},
			{Key: "name", Value: iv.Name},
			{Key: "samplingPeriod", Value: int64(iv.SamplingPeriod)},
		})
	}
	return vpoller.OK(msgPerfIntervals, out)
}

// perfIntervalID chooses the QueryPerf interval: the named historical
// interval's sampling period, else the entity's real-time refresh rate.
// Entities without real-time statistics (datacenters, clusters,
// datastores) need a named interval.
func perfIntervalID(ctx context.Context, a *Agent, ref types.ManagedObjectReference, req *vpoller.Request, entityName func() (any, error)) (int32, *vpoller.Response) {
	sum, err := a.store.Catalog().Summary(ctx, ref)
	if err != nil {
		return 0, fail(req, err)
	}
	if req.PerfInterval == "" {
		if !sum.CurrentSupported {
			n, err := entityName()
			if err != nil {
				return 0, fail(req, err)
			}
			return 0, vpoller.Fail(fmt.Sprintf("No historical performance interval provided for entity %v", n))
		}
		return sum.RefreshRate, nil
	}
	iv, ok, err := a.store.Catalog().Interval(ctx, req.PerfInterval)
	if err != nil {
		return 0, fail(req, err)
	}
	if !ok {
		return 0, vpoller.Fail(fmt.Sprintf("Historical interval %s does not exists", req.PerfInterval))
	}
	return iv.SamplingPeriod, nil
}

// perfReady checks that a host or VM can deliver performance data, with
// the original's messages; it also yields the entity's name.
func perfReady(ctx context.Context, a *Agent, k *objects.Kind, ref types.ManagedObjectReference, req *vpoller.Request) (any, *vpoller.Response) {
	if k != objects.Host && k != objects.VM {
		return nil, nil // no state to check; the name is looked up only if needed
	}
	pv, err := a.store.Get(ctx, ref, req.Name, []string{pathName, "runtime.powerState", "runtime.connectionState"})
	if err != nil {
		return nil, failColon(req, err)
	}
	who := "Host"
	if k == objects.VM {
		who = "VM"
	}
	if ps := fmt.Sprint(toValue(pv["runtime.powerState"])); ps != "poweredOn" {
		return nil, vpoller.Fail(who + " is not powered on, cannot get performance metrics")
	}
	if cs := fmt.Sprint(toValue(pv["runtime.connectionState"])); cs != "connected" {
		return nil, vpoller.Fail(who + " is not connected, cannot get performance metrics")
	}
	return toValue(pv[pathName]), nil
}

// perfMetricInfoOf (<kind>.perf.metric.info) lists the counters available
// for one entity: [{"counterId": "<counter name>", "instance": "..."}],
// from QueryAvailablePerfMetric at the real-time refresh rate (hosts, VMs)
// or the perf-interval's sampling period, else all historical ones.
// Counter ids missing from the catalogue are left out (they have no name
// a client could ask for).
func perfMetricInfoOf(k *objects.Kind) Handler {
	return func(ctx context.Context, a *Agent, req *vpoller.Request) *vpoller.Response {
		ref, err := a.store.Lookup(ctx, k, req.Name)
		if err != nil {
			return failColon(req, err)
		}
		sum, err := a.store.Catalog().Summary(ctx, ref)
		if err != nil {
			return fail(req, err)
		}
		var interval int32
		if req.PerfInterval != "" {
			iv, ok, err := a.store.Catalog().Interval(ctx, req.PerfInterval)
			if err != nil {
				return fail(req, err)
			}
			if !ok {
				return vpoller.Fail(fmt.Sprintf("Historical interval %s does not exists", req.PerfInterval))
			}
			interval = iv.SamplingPeriod
		} else if sum.CurrentSupported {
			interval = sum.RefreshRate
		}
		names, err := a.store.Catalog().CounterNames(ctx)
		if err != nil {
			return fail(req, err)
		}
		pm, err := a.store.Catalog().PerfManager(ctx)
		if err != nil {
			return fail(req, err)
		}
		vc, err := a.Client(ctx)
		if err != nil {
			return fail(req, err)
		}
		q := &types.QueryAvailablePerfMetric{This: pm, Entity: ref}
		if interval > 0 {
			q.IntervalId = interval
		}
		res, err := methods.QueryAvailablePerfMetric(ctx, vc, q)
		if err != nil {
			return fail(req, fmt.Errorf("query available perf metrics of %s: %w", req.Name, err))
		}
		out := make([]any, 0, len(res.Returnval))
		for _, m := range res.Returnval {
			n, ok := names[m.CounterId]
			if !ok {
				continue
			}
			out = append(out, vpoller.Object{{Key: "counterId", Value: n}, {Key: "instance", Value: m.Instance}})
		}
		// The original's message here is the samples' one, not "... info"
		// (its _entity_perf_metric_info).
		return vpoller.OK(msgPerfMetrics, out)
	}
}

// perfMetricGet (<kind>.perf.metric.get) returns the newest max-sample
// samples (default 1) of one counter and instance, oldest first:
// [{"interval", "timestamp", "counterId", "instance", "value"}]. The query
// is always bounded by MaxSample (an unbounded one returns everything the
// interval keeps).
func perfMetricGet(k *objects.Kind) Handler {
	return func(ctx context.Context, a *Agent, req *vpoller.Request) *vpoller.Response {
		ref, err := a.store.Lookup(ctx, k, req.Name)
		if err != nil {
			return failColon(req, err)
		}
		name, bad := perfReady(ctx, a, k, ref, req)
		if bad != nil {
			return bad
		}
		interval, bad := perfIntervalID(ctx, a, ref, req, func() (any, error) {
			if name != nil {
				return name, nil
			}
			return nameOf(ctx, a, ref)
		})
		if bad != nil {
			return bad
		}
		id, ok, err := a.store.Catalog().CounterID(ctx, req.CounterName)
		if err != nil {
			return fail(req, err)
		}
		if !ok {
			return vpoller.Fail(msgUnknownPerf)
		}
		samples, err := queryPerf(ctx, a, ref, id, req.Instance, interval, req.MaxSample)
		if err != nil {
			return fail(req, err)
		}
		out := make([]any, 0, len(samples))
		for _, s := range samples {
			out = append(out, vpoller.Object{
				{Key: "interval", Value: int64(s.Interval)},
				{Key: "timestamp", Value: pyTime(s.At)},
				{Key: "counterId", Value: req.CounterName},
				{Key: "instance", Value: req.Instance},
				{Key: "value", Value: s.Value},
			})
		}
		return vpoller.OK(msgPerfMetrics, out)
	}
}

// queryPerf asks the agent's perf sweep for the newest maxSample samples
// (default 1) of one counter instance, oldest first: from its latest
// round, or fetched directly (batched with concurrent queries) the first
// time, after which the series joins the sweep.
func queryPerf(ctx context.Context, a *Agent, ref types.ManagedObjectReference, counter int32, instance string, interval int32, maxSample int) ([]objects.Sample, error) {
	if maxSample <= 0 {
		maxSample = 1
	}
	return a.store.Perf(ctx, objects.PerfQuery{Ref: ref, Counter: counter, Instance: instance, Interval: interval, MaxSample: maxSample})
}
