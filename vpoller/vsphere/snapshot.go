package vsphere

import (
	"context"

	"github.com/vmware/govmomi/vim25/types"

	"github.com/vpoller/zabbix-vpoller/vpoller"
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
	ref, err := a.idx.lookup(ctx, kindVM, req.Name)
	if err != nil {
		return failColon(req, err)
	}
	pv, err := a.retrieveOne(ctx, ref, req.Name, []string{"snapshot.rootSnapshotList"})
	if err != nil {
		return failColon(req, err)
	}
	var roots []types.VirtualMachineSnapshotTree
	switch v := pv["snapshot.rootSnapshotList"].(type) {
	case types.ArrayOfVirtualMachineSnapshotTree:
		roots = v.VirtualMachineSnapshotTree
	case []types.VirtualMachineSnapshotTree:
		roots = v
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
