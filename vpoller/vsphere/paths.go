package vsphere

import (
	"cmp"
	"context"
	"slices"
	"strings"

	"github.com/vmware/govmomi/vim25/types"

	"github.com/vpoller/zabbix-vpoller/vpoller"
	"github.com/vpoller/zabbix-vpoller/vpoller/vsphere/objects"
)

// Storage paths of ESXi hosts (ours: the original has none). A host
// reaches each LUN over one or more paths (HBA, target, LUN); the
// multipathing plug-in keeps each in a state: active (in use), standby
// (ready for a failover), disabled (switched off by an administrator),
// dead (lost: a cable, a switch port, an array controller) or unknown.
// A dead path is a redundancy already gone; a LUN whose paths change
// has failed over.
//
// host.path.discover reads two properties of the HostSystem through the
// store, so that after the first read they are served from the mirror
// (no vCenter call for a warm read):
//
//   - config.storageDevice.multipathInfo: the LUNs and their paths;
//   - config.storageDevice.scsiLun: the LUNs' canonical names (the
//     instance of host.lun.discover and of the host's disk.* counters).
//
// The simulator's hosts have two LUNs of one active path each;
// paths_test.go gives a host several paths in every state, server-side.

const pathMultipath = "config.storageDevice.multipathInfo"

// Path states as HostMultipathInfoPath reports them; anything else
// counts as unknown.
var pathStates = []string{"active", "standby", "disabled", "dead", "unknown"}

// propAs returns a property value of type T whether the mirror holds it
// as a value or a direct read as a pointer; nil when it is neither.
func propAs[T any](v any) *T {
	switch x := v.(type) {
	case T:
		return &x
	case *T:
		return x
	}
	return nil
}

// pathState is the state of one path: State (vSphere 4.1 and later) or,
// when unset, the older PathState, normalised to pathStates.
func pathState(p types.HostMultipathInfoPath) string {
	s := strings.ToLower(cmp.Or(p.State, p.PathState))
	if slices.Contains(pathStates, s) {
		return s
	}
	return "unknown"
}

// hostPathDiscover (host.path.discover): the host's LUNs with their path
// counts, LLD style, sorted by lun:
//
//	[{"lun": canonical name ("naa.6000...", "mpx.vmhba0:C0:T0:L0"),
//	  "displayName", "policy": the path selection policy ("VMW_PSP_RR"),
//	  "paths": the number of paths, "active", "standby", "disabled",
//	  "dead", "unknown": the number in each state (they add up to paths),
//	  "states": "name=state" of each path, sorted by path name, joined by
//	  ", " (a change of it is a failover or a path gone or added)}]
//
// A LUN the host's scsiLun list does not name keeps its multipath id as
// lun. A host without multipath information (disconnected): [].
func hostPathDiscover(ctx context.Context, a *Agent, req *vpoller.Request) *vpoller.Response {
	ref, err := a.store.Lookup(ctx, objects.Host, req.Name)
	if err != nil {
		return fail(req, err)
	}
	pv, err := a.store.Get(ctx, ref, req.Name, []string{pathMultipath, pathScsiLuns})
	if err != nil {
		return fail(req, err)
	}
	lunByKey := map[string]*types.ScsiLun{}
	for _, b := range scsiLunsOf(pv[pathScsiLuns]) {
		if b == nil {
			continue
		}
		if l := b.GetScsiLun(); l != nil {
			lunByKey[l.Key] = l
		}
	}
	var luns []types.HostMultipathInfoLogicalUnit
	if mp := propAs[types.HostMultipathInfo](pv[pathMultipath]); mp != nil {
		luns = slices.Clone(mp.Lun)
	}
	type row struct {
		name string
		obj  vpoller.Object
	}
	rows := make([]row, 0, len(luns))
	for _, l := range luns {
		name, display := l.Id, ""
		if s := lunByKey[l.Lun]; s != nil {
			name, display = cmp.Or(s.CanonicalName, l.Id), s.DisplayName
		}
		policy := ""
		if l.Policy != nil {
			if p := l.Policy.GetHostMultipathInfoLogicalUnitPolicy(); p != nil {
				policy = p.Policy
			}
		}
		count := map[string]int64{}
		paths := slices.Clone(l.Path)
		slices.SortFunc(paths, func(x, y types.HostMultipathInfoPath) int { return compareInstances(x.Name, y.Name) })
		states := make([]string, 0, len(paths))
		for _, p := range paths {
			s := pathState(p)
			count[s]++
			states = append(states, p.Name+"="+s)
		}
		obj := vpoller.Object{
			{Key: "lun", Value: name},
			{Key: "displayName", Value: display},
			{Key: "policy", Value: policy},
			{Key: "paths", Value: int64(len(paths))},
		}
		for _, s := range pathStates {
			obj = append(obj, vpoller.Field{Key: s, Value: count[s]})
		}
		obj = append(obj, vpoller.Field{Key: "states", Value: strings.Join(states, ", ")})
		rows = append(rows, row{name: name, obj: obj})
	}
	slices.SortFunc(rows, func(x, y row) int { return compareInstances(x.name, y.name) })
	out := make([]any, 0, len(rows))
	for _, r := range rows {
		out = append(out, r.obj)
	}
	return vpoller.OK(msgDiscovered, out)
}
