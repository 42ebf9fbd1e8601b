package vsphere

import (
	"context"

	"github.com/vpoller/zabbix-vpoller/vpoller"
	"github.com/vpoller/zabbix-vpoller/vpoller/vsphere/objects"
)

// namedList builds the original's OBJECT result for the network relations:
// {"name": <object>, label: [{"name": ...}, ...]} (requested properties of
// the related objects are added to each element, which the original did
// not offer), with the original's message for them, "Successfully
// discovered objects".
func namedList(k *objects.Kind, path, label string) Handler {
	return func(ctx context.Context, a *Agent, req *vpoller.Request) *vpoller.Response {
		refs, pv, err := related(ctx, a, k, req, path)
		if err != nil {
			return fail(req, err)
		}
		list, err := describe(ctx, a, refs, nil, req.Properties)
		if err != nil {
			return fail(req, err)
		}
		obj := object([]string{pathName}, pv)
		obj = append(obj, vpoller.Field{Key: label, Value: list})
		return vpoller.OK(msgDiscovered, obj)
	}
}

var (
	// net.host.get: {"name": network, "host": [{"name"}]}.
	netHostGet = namedList(objects.Network, "host", "host")
	// net.vm.get: {"name": network, "vm": [{"name"}]}.
	netVMGet = namedList(objects.Network, "vm", "vm")
	// host.net.get: {"name": host, "network": [{"name"}]}.
	hostNetGet = namedList(objects.Host, "network", "network")
	// vm.net.get: {"name": vm, "network": [{"name"}]}.
	vmNetGet = namedList(objects.VM, "network", "network")
)

// resourcePoolVMGet (resource.pool.vm.get) lists a pool's VMs with the
// requested properties and "resourcePool.name", the pool's name, last.
func resourcePoolVMGet(ctx context.Context, a *Agent, req *vpoller.Request) *vpoller.Response {
	refs, pv, err := related(ctx, a, objects.Pool, req, "vm")
	if err != nil {
		return fail(req, err)
	}
	list, err := describe(ctx, a, refs, nil, req.Properties)
	if err != nil {
		return fail(req, err)
	}
	pool := toValue(pv[pathName])
	for i, x := range list {
		list[i] = append(x.(vpoller.Object), vpoller.Field{Key: "resourcePool.name", Value: pool})
	}
	return vpoller.OK(msgDiscovered, list)
}
