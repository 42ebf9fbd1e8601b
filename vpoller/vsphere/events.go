package vsphere

import (
	"context"
	"fmt"
	"math"
	"strconv"
	"strings"

	"github.com/vmware/govmomi/vim25/types"

	"github.com/vpoller/zabbix-vpoller/vpoller"
	"github.com/vpoller/zabbix-vpoller/vpoller/vsphere/objects"
	"github.com/vpoller/zabbix-vpoller/vpoller/vsphere/objects/eventstream"
)

// Limits of event.get.
const (
	// EventCap is the most events one event.get returns, the size of the
	// agent's event buffer and the page size of its event collectors.
	EventCap = eventstream.Cap
	// eventDefault is the number of events without key and max-sample.
	eventDefault = 100

	msgEvents = "Successfully retrieved events"
)

// eventEntities are the objects event.get's name may designate.
var eventEntities = &objects.Kind{Name: "entity", ByURL: true, UUID: true,
	Types: []string{"VirtualMachine", "HostSystem", "Datastore", "ClusterComputeResource", "Datacenter"}}

// eventGet (event.get, ours) returns the agent's events newer than the
// event key in "key", oldest first: without key the newest max-sample
// (default 100), with key at most max-sample (default and cap EventCap),
// the newest ones when more exist, so that a client sees the gap in the
// keys. "name" keeps the events that name one object (VM, host,
// datastore, cluster or datacenter, by name, managed object id or UUID).
// See eventstream.Stream for what it costs.
func eventGet(ctx context.Context, a *Agent, req *vpoller.Request) *vpoller.Response {
	after := int64(math.MinInt64)
	n := eventDefault
	if req.Key != "" {
		k, err := strconv.ParseInt(strings.TrimSpace(req.Key), 10, 64)
		if err != nil {
			return vpoller.Fail(fmt.Sprintf("Invalid event key %s: want the integer key of the last event seen", req.Key))
		}
		after, n = k, a.events.Size()
	}
	if req.MaxSample > 0 {
		n = req.MaxSample
	}
	n = min(n, a.events.Size())
	var ref *types.ManagedObjectReference
	if req.Name != "" {
		r, err := a.store.Lookup(ctx, eventEntities, req.Name)
		if err != nil {
			return fail(req, err)
		}
		ref = &r
	}
	rows, err := a.events.Get(ctx, ref, after, n)
	if err != nil {
		return fail(req, err)
	}
	out := make([]any, len(rows))
	for i := range rows {
		out[i] = eventObject(&rows[i])
	}
	return vpoller.OK(msgEvents, out)
}

// eventObject is an event as event.get replies it.
func eventObject(r *eventstream.Event) vpoller.Object {
	null := func(s string) any {
		if s == "" {
			return nil
		}
		return s
	}
	return vpoller.Object{
		{Key: "key", Value: int64(r.Key)},
		{Key: "createdTime", Value: pyTime(r.Created)},
		{Key: "eventType", Value: r.Type},
		{Key: "severity", Value: r.Severity},
		{Key: "message", Value: r.Message},
		{Key: "entity", Value: null(r.Entity)},
		{Key: "entityMoRef", Value: null(r.EntityMoRef)},
		{Key: "userName", Value: null(r.User)},
	}
}
