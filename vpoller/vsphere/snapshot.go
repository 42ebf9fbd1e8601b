package vsphere

import (
	"context"

	"github.com/vmware/govmomi/vim25/types"

	"github.com/vpoller/zabbix-vpoller/vpoller"
	"github.com/vpoller/zabbix-vpoller/vpoller/vsphere/objects"
)

// maxSnapshotDepth bounds the walk (vSphere allows 32 levels).
const maxSnapshotDepth = 64

// vmSnapshotGet (vm.snapshot.get) lists EVERY snapshot of a VM, depth
// first in tree order: [{"createTime", "description", "id", "name",
// "quiesced": "True"/"False", "state"}]. The original walked only the
// roots and their direct children; a chain of snapshots (each taken on
// top of the previous one) is a deep tree, so we walk all of it. No
// snapshots is an error, as in the original ("No snapshots found for:").
func vmSnapshotGet(ctx context.Context, a *Agent, req *vpoller.Request) *vpoller.Response {
	ref, err := a.store.Lookup(ctx, objects.VM, req.Name)
	if err != nil {
		return failColon(req, err)
	}
	// The whole "snapshot" property, which the mirror watches: it also
	// changes when the last snapshot goes, which its rootSnapshotList
	// alone does not always report.
	pv, err := a.store.Get(ctx, ref, req.Name, []string{"snapshot"})
	if err != nil {
		return failColon(req, err)
	}
	var roots []types.VirtualMachineSnapshotTree
	switch v := pv["snapshot"].(type) {
	case *types.VirtualMachineSnapshotInfo:
		if v != nil {
			roots = v.RootSnapshotList
		}
	case types.VirtualMachineSnapshotInfo:
		roots = v.RootSnapshotList
	}
	if len(roots) == 0 {
		return vpoller.Fail("No snapshots found for: " + req.Name)
	}
	var out []any
	var walk func([]types.VirtualMachineSnapshotTree, int)
	walk = func(list []types.VirtualMachineSnapshotTree, depth int) {
		if depth > maxSnapshotDepth {
			return
		}
		for _, s := range list {
			q := "False"
			if s.Quiesced {
				q = "True"
			}
			out = append(out, vpoller.Object{
				{Key: "createTime", Value: pyTime(s.CreateTime)},
				{Key: "description", Value: s.Description},
				{Key: "id", Value: int64(s.Id)},
				{Key: "name", Value: s.Name},
				{Key: "quiesced", Value: q},
				{Key: "state", Value: string(s.State)},
			})
			walk(s.ChildSnapshotList, depth+1)
		}
	}
	walk(roots, 0)
	return vpoller.OK("Successfully retrieved snapshots", out)
}
