package vsphere

import (
	"context"

	"github.com/vmware/govmomi/vim25/types"

	"github.com/vpoller/zabbix-vpoller/vpoller"
	"github.com/vpoller/zabbix-vpoller/vpoller/vsphere/objects"
)

// Relation methods follow a reference property of one object (host.vm,
// datastore.host, ...) and name what it points to. The referencing
// property comes from the mirror once it is watched (its first request
// reads it from vCenter and makes it join); the names (and datastore
// URLs) are index properties. Requested properties of the related
// objects, which the original did not offer, come from the mirror or one
// more call.

// refsOf extracts managed object references from a property value.
func refsOf(v any) []types.ManagedObjectReference {
	switch t := v.(type) {
	case types.ArrayOfManagedObjectReference:
		return t.ManagedObjectReference
	case []types.ManagedObjectReference:
		return t
	case types.ManagedObjectReference:
		return []types.ManagedObjectReference{t}
	case types.ArrayOfDatastoreHostMount:
		refs := make([]types.ManagedObjectReference, len(t.DatastoreHostMount))
		for i, m := range t.DatastoreHostMount {
			refs[i] = m.Key
		}
		return refs
	}
	return nil
}

// related follows path of the object named req.Name of kind k.
func related(ctx context.Context, a *Agent, k *objects.Kind, req *vpoller.Request, path string) ([]types.ManagedObjectReference, objects.Values, error) {
	ref, err := a.store.Lookup(ctx, k, req.Name)
	if err != nil {
		return nil, nil, err
	}
	pv, err := a.store.Get(ctx, ref, req.Name, []string{pathName, path})
	if err != nil {
		return nil, nil, err
	}
	return refsOf(pv[path]), pv, nil
}

// describe names refs: [{"name": ...} + base paths + requested paths],
// in the order of refs, leaving out objects that no longer exist. Names
// and datastore URLs are index properties, always in the mirror; other
// paths come from the mirror or one RetrievePropertiesEx.
func describe(ctx context.Context, a *Agent, refs []types.ManagedObjectReference, base []string, extra []string) ([]any, error) {
	paths := withName(base, extra)
	vals, err := a.store.GetMany(ctx, refs, paths)
	if err != nil {
		return nil, err
	}
	out := make([]any, 0, len(refs))
	for _, r := range refs {
		if pv, ok := vals[r]; ok {
			out = append(out, object(paths, pv))
		}
	}
	return out, nil
}

func relationList(k *objects.Kind, path string, base []string) Handler {
	return func(ctx context.Context, a *Agent, req *vpoller.Request) *vpoller.Response {
		refs, _, err := related(ctx, a, k, req, path)
		if err != nil {
			return fail(req, err)
		}
		out, err := describe(ctx, a, refs, base, req.Properties)
		if err != nil {
			return fail(req, err)
		}
		return vpoller.OK(msgDiscovered, out)
	}
}

// host.vm.get: the VMs of a host, [{"name"}].
var hostVMGet = relationList(objects.Host, "vm", nil)

// datastoresOf (host.datastore.get, vm.datastore.get): [{"name", "info.url"}].
func datastoresOf(k *objects.Kind) Handler {
	return relationList(k, "datastore", []string{objects.PathURL})
}

// datastore.host.get: hosts mounting a datastore, [{"name"}].
var datastoreHostGet = relationList(objects.Datastore, "host", nil)

// datastore.vm.get: VMs on a datastore, [{"name"}].
var datastoreVMGet = relationList(objects.Datastore, "vm", nil)

// nameOf returns one related object's name (from the mirror or one call).
func nameOf(ctx context.Context, a *Agent, ref types.ManagedObjectReference) (any, error) {
	vals, err := a.store.GetMany(ctx, []types.ManagedObjectReference{ref}, []string{pathName})
	if err != nil {
		return nil, err
	}
	return toValue(vals[ref][pathName]), nil
}

// pairGet builds [{"name": <object>, label: <name of the object path points to>}].
func pairGet(k *objects.Kind, path, label, msg string) Handler {
	return func(ctx context.Context, a *Agent, req *vpoller.Request) *vpoller.Response {
		refs, pv, err := related(ctx, a, k, req, path)
		if err != nil {
			return fail(req, err)
		}
		obj := object([]string{pathName}, pv)
		if len(refs) > 0 {
			n, err := nameOf(ctx, a, refs[0])
			if err != nil {
				return fail(req, err)
			}
			obj = append(obj, vpoller.Field{Key: label, Value: n})
		}
		return vpoller.OK(msg, []any{obj})
	}
}

// vm.host.get: [{"name": vm, "host": host name}] (message as the original).
var vmHostGet = pairGet(objects.VM, "runtime.host", "host", msgRetrieved)

// host.cluster.get: [{"name": host, "cluster": parent name}]; for a
// standalone host the parent is its ComputeResource, named like the host,
// as in the original.
var hostClusterGet = pairGet(objects.Host, "parent", "cluster", "Successfully retrieved properties")
