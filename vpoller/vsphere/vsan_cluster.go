package vsphere

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/vmware/govmomi/vim25/soap"
	"github.com/vmware/govmomi/vim25/types"
	"github.com/vmware/govmomi/vsan"
	vsanmethods "github.com/vmware/govmomi/vsan/methods"
	vsantypes "github.com/vmware/govmomi/vsan/types"

	"github.com/vpoller/zabbix-vpoller/vpoller"
	"github.com/vpoller/zabbix-vpoller/vpoller/vsphere/objects"
)

// vSAN clusters (ours): which clusters run vSAN comes from the mirror
// (configurationEx.vsanConfigInfo.enabled of each cluster); their health
// summary, capacity and resync backlog from vCenter's vSAN health service
// (the SOAP endpoint /vsanHealth):
//
//   - VsanVcClusterHealthSystem.VsanQueryVcClusterHealthSummary (cached
//     results: fetchFromCache, so that polling runs no health test),
//   - VsanSpaceReportSystem.VsanQuerySpaceUsage,
//   - VsanObjectSystem.QuerySyncingVsanObjectsSummary.
//
// One snapshot per agent holds every vSAN cluster's answers, reloaded when
// a request finds it older than vsanTTL: 3 calls per vSAN cluster per
// load, none for the hosts, VMs or items asking. A cluster without vSAN,
// and an endpoint without vSAN health (ESXi, a vCenter without vSAN), get
// a clear error.

const (
	vsanTTL = 60 * time.Second

	pathConfigurationEx = "configurationEx"

	msgVsan = "Successfully retrieved vSAN cluster"
)

// The vSAN health service's managed objects (their fixed ids on vCenter).
var (
	vsanHealthSystem = types.ManagedObjectReference{Type: "VsanVcClusterHealthSystem", Value: "vsan-cluster-health-system"}
	vsanSpaceSystem  = types.ManagedObjectReference{Type: "VsanSpaceReportSystem", Value: "vsan-cluster-space-report-system"}
	vsanObjectSystem = vsan.VsanQueryObjectIdentitiesInstance // VsanObjectSystem "vsan-cluster-object-system"
)

// vsanCluster is one vSAN cluster's answers (or the error reading them).
type vsanCluster struct {
	health, healthDesc              string
	total, free                     int64
	resyncBytes, resyncObjects, eta int64
	err                             error
}

// vsanSnapshot is one load of an agent's vSAN clusters.
type vsanSnapshot struct {
	clusters map[types.ManagedObjectReference]*vsanCluster // vSAN-enabled clusters only
	order    []types.ManagedObjectReference                // discovery order
}

// vsanEnabled reads a cluster's configurationEx.
func vsanEnabled(v any) bool {
	var ci *types.ClusterConfigInfoEx
	switch x := v.(type) {
	case *types.ClusterConfigInfoEx:
		ci = x
	case types.ClusterConfigInfoEx:
		ci = &x
	}
	return ci != nil && ci.VsanConfigInfo != nil && ci.VsanConfigInfo.Enabled != nil && *ci.VsanConfigInfo.Enabled
}

// vsanClusters returns the agent's vSAN snapshot, loading it when due.
func (a *Agent) vsanClusters(ctx context.Context) (*vsanSnapshot, error) {
	return a.data.vsan.Get(ctx)
}

func loadVsan(ctx context.Context, a *Agent) (*vsanSnapshot, error) {
	items, err := a.store.Discover(ctx, objects.Cluster, []string{pathName, pathConfigurationEx})
	if err != nil {
		return nil, err
	}
	snap := &vsanSnapshot{clusters: map[types.ManagedObjectReference]*vsanCluster{}}
	var rt soap.RoundTripper
	for _, it := range items {
		if !vsanEnabled(it.Values[pathConfigurationEx]) {
			continue
		}
		if rt == nil {
			if rt, err = a.sess.ServiceRoundTripper(ctx, vsan.Path, vsan.Namespace); err != nil {
				return nil, err
			}
		}
		c := &vsanCluster{}
		c.err = queryVsanCluster(ctx, rt, it.Ref, c)
		snap.clusters[it.Ref] = c
		snap.order = append(snap.order, it.Ref)
	}
	return snap, nil
}

// queryVsanCluster fills c with the health service's three answers.
func queryVsanCluster(ctx context.Context, rt soap.RoundTripper, ref types.ManagedObjectReference, c *vsanCluster) error {
	yes := true
	h, err := vsanmethods.VsanQueryVcClusterHealthSummary(ctx, rt, &vsantypes.VsanQueryVcClusterHealthSummary{
		This: vsanHealthSystem, Cluster: &ref, FetchFromCache: &yes, Fields: []string{"overallHealth", "overallHealthDescription"}})
	if err != nil {
		return fmt.Errorf("health summary: %w", err)
	}
	c.health, c.healthDesc = h.Returnval.OverallHealth, h.Returnval.OverallHealthDescription
	sp, err := vsanmethods.VsanQuerySpaceUsage(ctx, rt, &vsantypes.VsanQuerySpaceUsage{This: vsanSpaceSystem, Cluster: ref})
	if err != nil {
		return fmt.Errorf("space usage: %w", err)
	}
	c.total, c.free = sp.Returnval.TotalCapacityB, sp.Returnval.FreeCapacityB
	sy, err := vsanmethods.QuerySyncingVsanObjectsSummary(ctx, rt, &vsantypes.QuerySyncingVsanObjectsSummary{This: vsanObjectSystem, Cluster: ref})
	if err != nil {
		return fmt.Errorf("resync summary: %w", err)
	}
	c.resyncBytes, c.resyncObjects, c.eta = sy.Returnval.TotalBytesToSync, sy.Returnval.TotalObjectsToSync, sy.Returnval.TotalRecoveryETA
	return nil
}

// failVsan is fail for the vSAN cluster methods.
func failVsan(req *vpoller.Request, err error) *vpoller.Response {
	var le *LookupError
	var ce *ConnectError
	if errors.As(err, &le) || errors.As(err, &ce) {
		return fail(req, err)
	}
	return &vpoller.Response{Success: 1, Msg: "Cannot retrieve vSAN clusters: " + err.Error(), Cause: err}
}

// vsanClusterDiscover (vsan.cluster.discover): the clusters running vSAN,
// [{"name", "moref"}]. Cost: none from the mirror; the snapshot's load
// when due.
func vsanClusterDiscover(ctx context.Context, a *Agent, req *vpoller.Request) *vpoller.Response {
	items, err := a.store.Discover(ctx, objects.Cluster, []string{pathName, pathConfigurationEx})
	if err != nil {
		return failVsan(req, err)
	}
	out := []any{}
	for _, it := range items {
		if vsanEnabled(it.Values[pathConfigurationEx]) {
			out = append(out, vpoller.Object{{Key: pathName, Value: toValue(it.Values[pathName])}, {Key: "moref", Value: it.Ref.Value}})
		}
	}
	return vpoller.OK("Successfully discovered objects", out)
}

// vsanClusterGet (vsan.cluster.get): one vSAN cluster, [{"name",
// "health", "healthDescription", "totalCapacity", "freeCapacity",
// "usedCapacity", "resyncBytes", "resyncObjects", "resyncETA"}]
// (capacities and bytes in bytes, the ETA in seconds).
func vsanClusterGet(ctx context.Context, a *Agent, req *vpoller.Request) *vpoller.Response {
	ref, err := a.store.Lookup(ctx, objects.Cluster, req.Name)
	if err != nil {
		return fail(req, err)
	}
	pv, err := a.store.Get(ctx, ref, req.Name, []string{pathName, pathConfigurationEx})
	if err != nil {
		return fail(req, err)
	}
	if !vsanEnabled(pv[pathConfigurationEx]) {
		return vpoller.Fail(fmt.Sprintf("vSAN is not enabled on cluster %s", req.Name))
	}
	snap, err := a.vsanClusters(ctx)
	if err != nil {
		return failVsan(req, err)
	}
	c, ok := snap.clusters[ref]
	if !ok { // enabled since the snapshot was taken
		return vpoller.Fail(fmt.Sprintf("vSAN of cluster %s is not known yet, try again in %v", req.Name, vsanTTL))
	}
	if c.err != nil {
		return &vpoller.Response{Success: 1, Msg: fmt.Sprintf("Cannot query vSAN of cluster %s: %v", req.Name, c.err), Cause: c.err}
	}
	return vpoller.OK(msgVsan, []any{vpoller.Object{
		{Key: pathName, Value: toValue(pv[pathName])},
		{Key: "health", Value: c.health},
		{Key: "healthDescription", Value: c.healthDesc},
		{Key: "totalCapacity", Value: c.total},
		{Key: "freeCapacity", Value: c.free},
		{Key: "usedCapacity", Value: c.total - c.free},
		{Key: "resyncBytes", Value: c.resyncBytes},
		{Key: "resyncObjects", Value: c.resyncObjects},
		{Key: "resyncETA", Value: c.eta},
	}})
}
