package vsphere

import (
	"context"

	"github.com/vmware/govmomi/vim25/types"

	"github.com/vpoller/zabbix-vpoller/vpoller"
	"github.com/vpoller/zabbix-vpoller/vpoller/vsphere/objects"
)

// Datastore clusters (StoragePod) are in the inventory index like the
// other kinds: datastore.cluster.discover and datastore.cluster.get are
// discover(objects.DatastoreCluster) and get(objects.DatastoreCluster) in
// the registry. This file holds the one relation of ours.

// maxPodMembers bounds datastore.cluster.datastore.get. vSphere allows 64
// datastores per datastore cluster; anything beyond this is a surprise
// we do not pass on unbounded.
const maxPodMembers = 1024

// datastoreClusterDatastoreGet (datastore.cluster.datastore.get) lists the
// member datastores of a datastore cluster: its childEntity that are
// datastores, [{"name", "info.url"}] plus requested properties, as
// host.datastore.get names datastores.
func datastoreClusterDatastoreGet(ctx context.Context, a *Agent, req *vpoller.Request) *vpoller.Response {
	refs, _, err := related(ctx, a, objects.DatastoreCluster, req, "childEntity")
	if err != nil {
		return fail(req, err)
	}
	ds := make([]types.ManagedObjectReference, 0, len(refs))
	for _, r := range refs {
		if objects.Datastore.Has(r.Type) {
			ds = append(ds, r)
		}
	}
	if len(ds) > maxPodMembers {
		return vpoller.Failf("Datastore cluster %s has %d datastores, more than the %d a reply carries", req.Name, len(ds), maxPodMembers)
	}
	out, err := describe(ctx, a, ds, []string{objects.PathURL}, req.Properties)
	if err != nil {
		return fail(req, err)
	}
	return vpoller.OK(msgDiscovered, out)
}
