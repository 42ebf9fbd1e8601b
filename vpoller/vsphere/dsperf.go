package vsphere

import (
	"context"
	"fmt"
	"strings"
	"sync"

	"github.com/vmware/govmomi/vim25/types"

	"github.com/vpoller/zabbix-vpoller/vpoller"
	"github.com/vpoller/zabbix-vpoller/vpoller/vsphere/objects"
)

// pathDSHosts is a datastore's host mounts (DatastoreHostMount, keyed by
// host).
const pathDSHosts = "host"

// datastorePerfHostsGet (datastore.perf.hosts.get) is one datastore-level
// figure made of what the hosts report: vCenter keeps latency and IOPS of
// a datastore only per host (the datastore.* counters, instance the
// datastore's UUID). It takes the newest real-time sample of each
// connected, powered-on host that mounts the datastore and averages them
// for millisecond counters (a latency as a typical host sees it) or sums
// them (operations and throughput of all hosts together):
// [{"counterId", "instance", "hosts", "value"}], value null when no host
// had a sample. Each host's series joins the perf sweep, so a template
// polling it costs the packs' share of QueryPerf calls, not one per host.
func datastorePerfHostsGet(ctx context.Context, a *Agent, req *vpoller.Request) *vpoller.Response {
	if !strings.HasPrefix(req.CounterName, "datastore.") {
		return vpoller.Fail(fmt.Sprintf("Counter %s is not a host counter of the datastore group (datastore.*)", req.CounterName))
	}
	ref, err := a.store.Lookup(ctx, objects.Datastore, req.Name)
	if err != nil {
		return failColon(req, err)
	}
	pv, err := a.store.Get(ctx, ref, req.Name, []string{pathName, objects.PathURL, pathDSHosts})
	if err != nil {
		return failColon(req, err)
	}
	id, ok, err := a.store.Catalog().CounterID(ctx, req.CounterName)
	if err != nil {
		return fail(req, err)
	}
	if !ok {
		return vpoller.Fail(msgUnknownPerf)
	}
	url, _ := pv[objects.PathURL].(string)
	instance := datastoreUUID(url)
	hosts, err := perfReadyHosts(ctx, a, refsOf(pv[pathDSHosts]))
	if err != nil {
		return fail(req, err)
	}
	var (
		mu     sync.Mutex
		values []int64
		wg     sync.WaitGroup
	)
	// Together, so that the first queries of hosts not yet in the sweep
	// leave as one batched QueryPerf.
	for _, h := range hosts {
		wg.Go(func() {
			sum, err := a.store.Catalog().Summary(ctx, h)
			if err != nil {
				return
			}
			samples, err := queryPerf(ctx, a, h, id, instance, sum.RefreshRate, 1)
			if err != nil || len(samples) == 0 {
				return // a host without the series: no sample from it
			}
			mu.Lock()
			values = append(values, samples[len(samples)-1].Value)
			mu.Unlock()
		})
	}
	wg.Wait()
	if err := ctx.Err(); err != nil {
		return fail(req, err)
	}
	var value any
	if len(values) > 0 {
		var total int64
		for _, v := range values {
			total += v
		}
		value = total
		if strings.Contains(req.CounterName, ".millisecond.") {
			value = float64(total) / float64(len(values))
		}
	}
	return vpoller.OK(msgPerfMetrics, []any{vpoller.Object{
		{Key: "counterId", Value: req.CounterName},
		{Key: "instance", Value: instance},
		{Key: "hosts", Value: int64(len(values))},
		{Key: "value", Value: value},
	}})
}

// perfReadyHosts keeps the hosts that deliver performance data (powered
// on and connected), from the mirror.
func perfReadyHosts(ctx context.Context, a *Agent, refs []types.ManagedObjectReference) ([]types.ManagedObjectReference, error) {
	if len(refs) == 0 {
		return nil, nil
	}
	vals, err := a.store.GetMany(ctx, refs, []string{"runtime.powerState", "runtime.connectionState"})
	if err != nil {
		return nil, err
	}
	var out []types.ManagedObjectReference
	for _, r := range refs {
		v, ok := vals[r]
		if ok && fmt.Sprint(toValue(v["runtime.powerState"])) == "poweredOn" && fmt.Sprint(toValue(v["runtime.connectionState"])) == "connected" {
			out = append(out, r)
		}
	}
	return out, nil
}
