package vsphere

import (
	"context"
	"fmt"
	"slices"

	"github.com/vmware/govmomi/vim25/types"

	"github.com/vpoller/zabbix-vpoller/vpoller/vsphere/objects"
)

// Pseudo-properties of the *.discover methods: names a discovery request
// may list among its properties like vSphere property paths, answered by
// the worker instead of vCenter (no managed entity has a property of these
// names). They give Zabbix discovery what it needs to key hosts by a
// stable id and to group them, in the same one request:
//
//   - moref: the object's managed object id ("vm-42", "host-21",
//     "datastore-15"): stable across renames, accepted as the name of
//     every *.get method.
//   - datacenter: the name of the datacenter holding the object ("" for a
//     datacenter itself).
//   - cluster: the name of the cluster (ClusterComputeResource) of a host,
//     of the host running a VM, or owning a resource pool; "" when there is
//     none (standalone hosts, datastores and the other kinds).
//   - hostMaintenance: "true" when the ESXi host running a VM (a host:
//     the host itself) is in maintenance mode, "false" when not, "" for
//     the other kinds. The VM template reads it to see its hypervisor's
//     maintenance (Zabbix 8.0's vmware.vm.hv.maintenance); runtime.host and
//     runtime.inMaintenanceMode are watched, so it costs nothing.
//   - tags: the object's vSphere tags as "<category>:<tag>" sorted by
//     category, then tag, joined by ", " ("Env:prod, Owner:alice"); ""
//     when it has none. Templates filter or group discovered objects by
//     tag with it without a <kind>.tag.get per object.
//
// moref costs nothing; datacenter follows the parent chain (VMs in a vApp:
// parentVApp) and cluster the host/owner reference, one property request
// per level for all objects together, mostly served by the mirror. tags
// answers from the agent's tag attachments snapshot and catalogue
// (package tagging), reloaded only when due, so it costs no per-object call. When
// the tags cannot be read (an ESXi agent has no tagging service, vCenter
// refuses the vAPI login) the discovery still answers, every object with
// tags "", and the agent logs why at most once per tagWarnEvery: tags are
// an extra, and losing the whole discovery for them would delete
// Zabbix's discovered objects.
const (
	pseudoMoref      = "moref"
	pseudoDatacenter = "datacenter"
	pseudoCluster    = "cluster"
	pseudoTags       = "tags"
	pseudoHostMaint  = "hostMaintenance"
)

// maxDepth bounds the parent walk (nested folders and vApps).
const maxDepth = 32

func isPseudo(p string) bool {
	return p == pseudoMoref || p == pseudoDatacenter || p == pseudoCluster || p == pseudoTags || p == pseudoHostMaint
}

// splitPseudo separates the pseudo-properties of paths from the vSphere
// property paths.
func splitPseudo(paths []string) (real, pseudo []string) {
	for _, p := range paths {
		if isPseudo(p) {
			pseudo = append(pseudo, p)
		} else {
			real = append(real, p)
		}
	}
	return real, pseudo
}

// withPseudo adds the values of the pseudo-properties to a copy of every
// item's values (the mirror's maps are shared).
func withPseudo(ctx context.Context, a *Agent, items []objects.Item, pseudo []string) ([]objects.Item, error) {
	if len(pseudo) == 0 || len(items) == 0 {
		return items, nil
	}
	refs := make([]types.ManagedObjectReference, len(items))
	for i, it := range items {
		refs[i] = it.Ref
	}
	extra := map[string]map[types.ManagedObjectReference]string{}
	for _, p := range pseudo {
		var err error
		switch p {
		case pseudoDatacenter:
			extra[p], err = datacenterNames(ctx, a, refs)
		case pseudoCluster:
			extra[p], err = clusterNames(ctx, a, refs)
		case pseudoTags:
			extra[p], err = tagStrings(ctx, a, refs)
		case pseudoHostMaint:
			extra[p], err = hostMaintenance(ctx, a, refs)
		}
		if err != nil {
			return nil, fmt.Errorf("%s of the discovered objects: %w", p, err)
		}
	}
	out := make([]objects.Item, len(items))
	for i, it := range items {
		v := make(objects.Values, len(it.Values)+len(pseudo))
		for k, x := range it.Values {
			v[k] = x
		}
		for _, p := range pseudo {
			if p == pseudoMoref {
				v[p] = it.Ref.Value
			} else {
				v[p] = extra[p][it.Ref]
			}
		}
		out[i] = objects.Item{Ref: it.Ref, Values: v}
	}
	return out, nil
}

// follow reads, for every ref, the first reference found among the paths
// pathsOf gives its type (no paths: no reference), one request per type.
func follow(ctx context.Context, a *Agent, refs []types.ManagedObjectReference, pathsOf func(typ string) []string) (map[types.ManagedObjectReference]types.ManagedObjectReference, error) {
	byType := map[string][]types.ManagedObjectReference{}
	var order []string
	seen := map[types.ManagedObjectReference]bool{}
	for _, r := range refs {
		if seen[r] || len(pathsOf(r.Type)) == 0 {
			continue
		}
		seen[r] = true
		if byType[r.Type] == nil {
			order = append(order, r.Type)
		}
		byType[r.Type] = append(byType[r.Type], r)
	}
	out := map[types.ManagedObjectReference]types.ManagedObjectReference{}
	for _, typ := range order {
		paths := pathsOf(typ)
		vals, err := a.store.GetMany(ctx, byType[typ], paths)
		if err != nil {
			return nil, err
		}
		for r, v := range vals {
			for _, p := range paths {
				if to := refsOf(v[p]); len(to) > 0 {
					out[r] = to[0]
					break
				}
			}
		}
	}
	return out, nil
}

// namesOf reads the names of refs.
func namesOf(ctx context.Context, a *Agent, refs map[types.ManagedObjectReference]types.ManagedObjectReference) (map[types.ManagedObjectReference]string, error) {
	var list []types.ManagedObjectReference
	seen := map[types.ManagedObjectReference]bool{}
	for _, to := range refs {
		if !seen[to] {
			seen[to] = true
			list = append(list, to)
		}
	}
	out := map[types.ManagedObjectReference]string{}
	if len(list) == 0 {
		return out, nil
	}
	vals, err := a.store.GetMany(ctx, list, []string{pathName})
	if err != nil {
		return nil, err
	}
	for from, to := range refs {
		if n, ok := vals[to][pathName].(string); ok {
			out[from] = n
		}
	}
	return out, nil
}

// datacenterNames names the datacenter of each ref by walking up the
// parent chain.
func datacenterNames(ctx context.Context, a *Agent, refs []types.ManagedObjectReference) (map[types.ManagedObjectReference]string, error) {
	parentPaths := func(typ string) []string {
		switch typ {
		case "Datacenter":
			return nil
		case "VirtualMachine":
			return []string{"parent", "parentVApp"}
		}
		return []string{"parent"}
	}
	at := map[types.ManagedObjectReference]types.ManagedObjectReference{} // object -> current ancestor
	for _, r := range refs {
		if r.Type != "Datacenter" {
			at[r] = r
		}
	}
	parent := map[types.ManagedObjectReference]types.ManagedObjectReference{}
	known := map[types.ManagedObjectReference]bool{}
	dc := map[types.ManagedObjectReference]types.ManagedObjectReference{}
	for depth := 0; depth < maxDepth && len(at) > 0; depth++ {
		var need []types.ManagedObjectReference
		for _, cur := range at {
			if !known[cur] {
				known[cur] = true
				need = append(need, cur)
			}
		}
		got, err := follow(ctx, a, need, parentPaths)
		if err != nil {
			return nil, err
		}
		for r, p := range got {
			parent[r] = p
		}
		for obj, cur := range at {
			p, ok := parent[cur]
			switch {
			case !ok:
				delete(at, obj) // top of the tree without a datacenter
			case p.Type == "Datacenter":
				dc[obj] = p
				delete(at, obj)
			default:
				at[obj] = p
			}
		}
	}
	return namesOf(ctx, a, dc)
}

// clusterNames names the cluster of hosts (their parent), VMs (their
// host's parent) and resource pools (their owner).
func clusterNames(ctx context.Context, a *Agent, refs []types.ManagedObjectReference) (map[types.ManagedObjectReference]string, error) {
	// Each object's host (or itself, for hosts and pools) ...
	via, next, err := viaHost(ctx, a, refs, "HostSystem", "ResourcePool")
	if err != nil {
		return nil, err
	}
	// ... and its compute resource.
	owner, err := follow(ctx, a, next, func(typ string) []string {
		switch typ {
		case "HostSystem":
			return []string{"parent"}
		case "ResourcePool":
			return []string{"owner"}
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	cluster := map[types.ManagedObjectReference]types.ManagedObjectReference{}
	for r, v := range via {
		if c, ok := owner[v]; ok && c.Type == "ClusterComputeResource" {
			cluster[r] = c
		}
	}
	return namesOf(ctx, a, cluster)
}

// hostMaintenance tells, for VMs (through runtime.host) and hosts, whether
// the host is in maintenance mode: "true" or "false"; objects of other
// kinds and VMs without a host are left out ("").
func hostMaintenance(ctx context.Context, a *Agent, refs []types.ManagedObjectReference) (map[types.ManagedObjectReference]string, error) {
	via, hosts, err := viaHost(ctx, a, refs, "HostSystem")
	if err != nil {
		return nil, err
	}
	out := map[types.ManagedObjectReference]string{}
	if len(hosts) == 0 {
		return out, nil
	}
	vals, err := a.store.GetMany(ctx, hosts, []string{"runtime.inMaintenanceMode"})
	if err != nil {
		return nil, err
	}
	for r, h := range via {
		if m, ok := vals[h]["runtime.inMaintenanceMode"].(bool); ok {
			out[r] = fmt.Sprint(m)
		}
	}
	return out, nil
}

// viaHost maps each VM of refs to its host (runtime.host, one read for
// all) and each object of the types in self to itself, and lists the
// objects mapped to, in refs' order: what the VM pseudo-properties that
// look through the VM's host start from.
func viaHost(ctx context.Context, a *Agent, refs []types.ManagedObjectReference, self ...string) (
	map[types.ManagedObjectReference]types.ManagedObjectReference, []types.ManagedObjectReference, error) {
	vmHost, err := follow(ctx, a, refs, func(typ string) []string {
		if typ == "VirtualMachine" {
			return []string{"runtime.host"}
		}
		return nil
	})
	if err != nil {
		return nil, nil, err
	}
	via := map[types.ManagedObjectReference]types.ManagedObjectReference{}
	var targets []types.ManagedObjectReference
	for _, r := range refs {
		t, ok := vmHost[r]
		if r.Type != "VirtualMachine" {
			t, ok = r, slices.Contains(self, r.Type)
		}
		if ok {
			via[r] = t
			targets = append(targets, t)
		}
	}
	return via, targets, nil
}
