package vsphere

import (
	"context"

	"github.com/vpoller/zabbix-vpoller/vpoller"
	"github.com/vpoller/zabbix-vpoller/vpoller/vsphere/objects"
)

// Messages of the discover and get families.
const (
	msgDiscovered = "Successfully discovered objects"
	msgRetrieved  = "Successfully retrieved object properties"
)

// discover lists every object of kind k: [{"name": ...}, ...] plus the
// requested properties, from the mirror (names are always watched), or
// one container-view retrieval for all objects together when it cannot
// serve them. The pseudo-properties moref, datacenter, cluster and tags (see
// placement.go) are answered by the worker.
func discover(k *objects.Kind) Handler {
	return func(ctx context.Context, a *Agent, req *vpoller.Request) *vpoller.Response {
		paths := withName(req.Properties)
		real, pseudo := splitPseudo(paths)
		items, err := a.store.Discover(ctx, k, real)
		if err != nil {
			return fail(req, err)
		}
		if items, err = withPseudo(ctx, a, items, pseudo); err != nil {
			return fail(req, err)
		}
		out := make([]any, 0, len(items))
		for _, it := range items {
			out = append(out, object(paths, it.Values))
		}
		return vpoller.OK(msgDiscovered, out)
	}
}

// get returns the requested properties of one object of kind k, found by
// name (datastores: info.url), managed object id or UUID: from the mirror,
// or one RetrievePropertiesEx. Datastore replies always carry name and
// info.url. The pseudo-properties of the discover methods (placement.go)
// are answered too, so that a template's master item reads the object's
// datacenter and cluster names in the same request.
func get(k *objects.Kind) Handler {
	return func(ctx context.Context, a *Agent, req *vpoller.Request) *vpoller.Response {
		ref, err := a.store.Lookup(ctx, k, req.Name)
		if err != nil {
			return fail(req, err)
		}
		paths := withName(req.Properties)
		if k.ByURL {
			paths = withName([]string{objects.PathURL}, req.Properties)
		}
		real, pseudo := splitPseudo(paths)
		pv, err := a.store.Get(ctx, ref, req.Name, real)
		if err != nil {
			return fail(req, err)
		}
		if len(pseudo) > 0 {
			items, err := withPseudo(ctx, a, []objects.Item{{Ref: ref, Values: pv}}, pseudo)
			if err != nil {
				return fail(req, err)
			}
			pv = items[0].Values
		}
		return vpoller.OK(msgRetrieved, []any{object(paths, pv)})
	}
}
