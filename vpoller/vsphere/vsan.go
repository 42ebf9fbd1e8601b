package vsphere

import (
	"context"
	"fmt"

	"github.com/vmware/govmomi/vim25/methods"
	"github.com/vmware/govmomi/vim25/types"

	"github.com/vpoller/zabbix-vpoller/vpoller"
	"github.com/vpoller/zabbix-vpoller/vpoller/vsphere/objects"
)

// vsanHealthGet (vsan.health.get) asks a host's vSAN system for its
// cluster membership status: [{"name": host, "uuid", "nodeUuid", "health"}].
// A host without a vSAN system, or one whose vSAN system does not answer
// (the simulator has none), gets a clear error naming the host.
func vsanHealthGet(ctx context.Context, a *Agent, req *vpoller.Request) *vpoller.Response {
	ref, err := a.store.Lookup(ctx, objects.Host, req.Name)
	if err != nil {
		return fail(req, err)
	}
	pv, err := a.store.Get(ctx, ref, req.Name, []string{pathName, "configManager.vsanSystem"})
	if err != nil {
		return fail(req, err)
	}
	vs, ok := pv["configManager.vsanSystem"].(types.ManagedObjectReference)
	if !ok {
		return vpoller.Fail(fmt.Sprintf("Host %s has no vSAN system", req.Name))
	}
	vc, err := a.Client(ctx)
	if err != nil {
		return fail(req, err)
	}
	res, err := methods.QueryHostStatus(ctx, vc, &types.QueryHostStatus{This: vs})
	if err != nil {
		return vpoller.Fail(fmt.Sprintf("Cannot query vSAN status of host %s: %v", req.Name, err))
	}
	st := res.Returnval
	return vpoller.OK("Successfully retrieved properties", []any{vpoller.Object{
		{Key: pathName, Value: toValue(pv[pathName])},
		{Key: "uuid", Value: st.Uuid},
		{Key: "nodeUuid", Value: st.NodeUuid},
		{Key: "health", Value: st.Health},
	}})
}
