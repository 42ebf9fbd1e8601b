package vsphere

import (
	"context"
	"fmt"

	"github.com/vmware/govmomi/vim25/methods"
	"github.com/vmware/govmomi/vim25/types"

	"github.com/vpoller/zabbix-vpoller/vpoller"
	"github.com/vpoller/zabbix-vpoller/vpoller/vsphere/objects"
)

// Distributed switches are in the inventory index like the other kinds:
// dvswitch.discover and dvswitch.get are discover(objects.DVSwitch) and
// get(objects.DVSwitch) in the registry. This file holds the port list.

// maxDVPorts bounds dvswitch.port.get: a switch (or portgroup) with more
// ports gets an error rather than a reply of unbounded size, or a
// truncated list that would make Zabbix discovery drop the missing ports.
// vSphere allows 60,000 ports per switch; ask for one portgroup ("key")
// on bigger ones.
const maxDVPorts = 5000

const msgPorts = "Successfully retrieved distributed switch ports"

// dvPortgroups maps the portgroup keys of a switch to their names.
func dvPortgroups(ctx context.Context, a *Agent, pv objects.Values) (map[string]string, error) {
	refs := refsOf(pv["portgroup"])
	vals, err := a.store.GetMany(ctx, refs, []string{pathName, "key"})
	if err != nil {
		return nil, fmt.Errorf("read portgroups: %w", err)
	}
	names := make(map[string]string, len(vals))
	for _, v := range vals {
		if k, ok := v["key"].(string); ok {
			n, _ := v[pathName].(string)
			names[k] = n
		}
	}
	return names, nil
}

// portgroupKey resolves the request's "key" (a portgroup name or key) among
// the switch's portgroups.
func portgroupKey(pgs map[string]string, want string) (string, bool) {
	for k, n := range pgs {
		if n == want {
			return k, true
		}
	}
	_, ok := pgs[want]
	return want, ok
}

// dvswitchPortGet (dvswitch.port.get) lists the ports of a distributed
// switch (only those of one portgroup when "key" names one by name or
// key), from one FetchDVPorts call: [{"key", "portgroup" (name),
// "connectee" (name of the connected VM or host, null if none),
// "connecteeType" (vmVnic, hostConsoleVnic, hostVmkVnic, pnic, ... null if
// none), "linkUp", "blocked"}], plus, when vCenter reports the port's
// state, its counters since the port was created: packetsInUnicast,
// packetsOutUnicast, packetsInMulticast, packetsOutMulticast,
// packetsInBroadcast, packetsOutBroadcast, packetsInDropped,
// packetsOutDropped, and bytesIn and bytesOut (unicast + multicast +
// broadcast bytes). linkUp is null when the port is not running; blocked
// is the running port's state, else the configured blocked policy, else
// null. At most maxDVPorts ports.
func dvswitchPortGet(ctx context.Context, a *Agent, req *vpoller.Request) *vpoller.Response {
	ref, err := a.store.Lookup(ctx, objects.DVSwitch, req.Name)
	if err != nil {
		return fail(req, err)
	}
	pv, err := a.store.Get(ctx, ref, req.Name, []string{pathName, "portgroup"})
	if err != nil {
		return fail(req, err)
	}
	pgs, err := dvPortgroups(ctx, a, pv)
	if err != nil {
		return fail(req, err)
	}
	criteria := &types.DistributedVirtualSwitchPortCriteria{}
	if req.Key != "" {
		k, ok := portgroupKey(pgs, req.Key)
		if !ok {
			return vpoller.Failf("Cannot find portgroup %s on distributed switch %s", req.Key, req.Name)
		}
		criteria.PortgroupKey, criteria.Inside = []string{k}, types.NewBool(true)
	}
	vc, err := a.Client(ctx)
	if err != nil {
		return fail(req, err)
	}
	res, err := methods.FetchDVPorts(ctx, vc, &types.FetchDVPorts{This: ref, Criteria: criteria})
	if err != nil {
		return fail(req, fmt.Errorf("fetch ports of distributed switch %s: %w", req.Name, err))
	}
	ports := res.Returnval
	if len(ports) > maxDVPorts {
		return vpoller.Failf("Distributed switch %s has %d ports, more than the %d a reply carries; ask for one portgroup with key",
			req.Name, len(ports), maxDVPorts)
	}
	var connected []types.ManagedObjectReference
	for _, p := range ports {
		if p.Connectee != nil && p.Connectee.ConnectedEntity != nil {
			connected = append(connected, *p.Connectee.ConnectedEntity)
		}
	}
	var entities map[types.ManagedObjectReference]objects.Values
	if len(connected) > 0 {
		if entities, err = a.store.GetMany(ctx, connected, []string{pathName}); err != nil {
			return fail(req, err)
		}
	}
	out := make([]any, 0, len(ports))
	for _, p := range ports {
		out = append(out, dvPort(p, pgs, entities))
	}
	return vpoller.OK(msgPorts, out)
}

// dvPort builds one element of dvswitch.port.get.
func dvPort(p types.DistributedVirtualPort, pgs map[string]string, entities map[types.ManagedObjectReference]objects.Values) vpoller.Object {
	pg := any(nil)
	if p.PortgroupKey != "" {
		pg = p.PortgroupKey // a portgroup the switch no longer lists: its key
		if n, ok := pgs[p.PortgroupKey]; ok {
			pg = n
		}
	}
	var connectee, connType any
	if c := p.Connectee; c != nil {
		if c.Type != "" {
			connType = c.Type
		}
		if c.ConnectedEntity != nil {
			connectee = c.ConnectedEntity.Value // an entity we cannot read: its id
			if n, ok := entities[*c.ConnectedEntity][pathName]; ok {
				connectee = toValue(n)
			}
		}
	}
	var linkUp, blocked any
	if s := p.Config.Setting; s != nil {
		if b := s.GetDVPortSetting().Blocked; b != nil && b.Value != nil {
			blocked = *b.Value
		}
	}
	if p.State != nil && p.State.RuntimeInfo != nil {
		linkUp, blocked = p.State.RuntimeInfo.LinkUp, p.State.RuntimeInfo.Blocked
	}
	obj := vpoller.Object{
		{Key: "key", Value: p.Key},
		{Key: "portgroup", Value: pg},
		{Key: "connectee", Value: connectee},
		{Key: "connecteeType", Value: connType},
		{Key: "linkUp", Value: linkUp},
		{Key: "blocked", Value: blocked},
	}
	if p.State == nil {
		return obj
	}
	s := p.State.Stats
	return append(obj,
		vpoller.Field{Key: "packetsInUnicast", Value: s.PacketsInUnicast},
		vpoller.Field{Key: "packetsOutUnicast", Value: s.PacketsOutUnicast},
		vpoller.Field{Key: "packetsInMulticast", Value: s.PacketsInMulticast},
		vpoller.Field{Key: "packetsOutMulticast", Value: s.PacketsOutMulticast},
		vpoller.Field{Key: "packetsInBroadcast", Value: s.PacketsInBroadcast},
		vpoller.Field{Key: "packetsOutBroadcast", Value: s.PacketsOutBroadcast},
		vpoller.Field{Key: "packetsInDropped", Value: s.PacketsInDropped},
		vpoller.Field{Key: "packetsOutDropped", Value: s.PacketsOutDropped},
		vpoller.Field{Key: "bytesIn", Value: s.BytesInUnicast + s.BytesInMulticast + s.BytesInBroadcast},
		vpoller.Field{Key: "bytesOut", Value: s.BytesOutUnicast + s.BytesOutMulticast + s.BytesOutBroadcast},
	)
}
