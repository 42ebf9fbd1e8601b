package vsphere

import (
	"context"

	"github.com/vmware/govmomi/vim25/types"

	"github.com/vpoller/zabbix-vpoller/vpoller"
)

// Messages of the discover and get families.
const (
	msgDiscovered = "Successfully discovered objects"
	msgRetrieved  = "Successfully retrieved object properties"
)

// discover lists every object of kind k: [{"name": ...}, ...] plus the
// requested properties. Names come from the inventory index (no vCenter
// call); requested properties cost one RetrievePropertiesEx for all
// objects together.
func discover(k *kind) Handler {
	return func(ctx context.Context, a *Agent, req *vpoller.Request) *vpoller.Response {
		entries, err := a.idx.list(ctx, k)
		if err != nil {
			return fail(req, err)
		}
		paths := withName(req.Properties)
		out := make([]any, 0, len(entries))
		if len(paths) == 1 {
			for _, e := range entries {
				out = append(out, vpoller.Object{{Key: pathName, Value: e.props[pathName]}})
			}
			return vpoller.OK(msgDiscovered, out)
		}
		refs := make([]types.ManagedObjectReference, len(entries))
		for i, e := range entries {
			refs[i] = e.ref
		}
		vals, err := a.retrieve(ctx, refs, paths)
		if err != nil {
			return fail(req, err)
		}
		for _, r := range refs {
			if pv, ok := vals[r]; ok { // an object deleted meanwhile is left out
				out = append(out, object(paths, pv))
			}
		}
		return vpoller.OK(msgDiscovered, out)
	}
}

// get returns the requested properties of one object of kind k, found by
// name (datastores: info.url), managed object id or UUID: one
// RetrievePropertiesEx. Datastore replies always carry name and info.url.
func get(k *kind) Handler {
	return func(ctx context.Context, a *Agent, req *vpoller.Request) *vpoller.Response {
		ref, err := a.idx.lookup(ctx, k, req.Name)
		if err != nil {
			return fail(req, err)
		}
		paths := withName(req.Properties)
		if k.byURL {
			paths = withName([]string{pathURL}, req.Properties)
		}
		pv, err := a.retrieveOne(ctx, ref, req.Name, paths)
		if err != nil {
			return fail(req, err)
		}
		return vpoller.OK(msgRetrieved, []any{object(paths, pv)})
	}
}
