package templates

// TplDatastoreCluster is the template of one datastore cluster (StoragePod).
const TplDatastoreCluster = "vPoller Datastore Cluster"

// Macros of the datastore cluster template, set by the vCenter template's
// datastore cluster discovery.
const (
	MacroDatastoreClusterID   = "{$VSPHERE.DSCLUSTER.ID}"
	MacroDatastoreClusterName = "{$VSPHERE.DSCLUSTER.NAME}"
)

// DatastoreCluster returns the template of one datastore cluster: capacity,
// free space, Storage DRS and status from one vpoller.get request per
// interval.
func DatastoreCluster() Template {
	const tpl, obj = TplDatastoreCluster, MacroDatastoreClusterID
	b := newTemplate(tpl, `
One datastore cluster (StoragePod) seen through vPoller. Discovered hosts get it
from the "vPoller vCenter" template with {$VSPHERE.DSCLUSTER.ID} set to the
cluster's managed object id and {$VSPHERE.DSCLUSTER.NAME} to its name.
Capacity and free space are the sums over the member datastores, as vCenter
keeps them; Storage DRS and status come from the same vpoller.get request.`)
	b.macro(MacroAgent, "", "vPoller agent name (vCenter/ESXi as configured in the vPoller worker).")
	b.macro(obj, "", "Managed object id of the datastore cluster (group-pN), set by datastore cluster discovery.")
	b.macro(MacroDatastoreClusterName, "", "Name of the datastore cluster, set by datastore cluster discovery.")
	b.macro(MacroInterval, "1m", "Polling interval of the vPoller items.")
	b.macro("{$VSPHERE.DSCLUSTER.PFREE.MIN.WARN}", "20", "Free space (%) below which a warning is raised.")
	b.macro("{$VSPHERE.DSCLUSTER.PFREE.MIN.CRIT}", "10", "Free space (%) below which a high problem is raised.")

	mkey := getKey("datastore.cluster.get", obj, props(
		"name", "summary.capacity", "summary.freeSpace", "podStorageDrsEntry.storageDrsConfig.podConfig.enabled", "overallStatus"))
	b.item(master("Datastore cluster: raw properties", mkey,
		"All datastore cluster properties in one vCenter request; the other items depend on it."))

	red := trigger("Datastore cluster {$VSPHERE.DSCLUSTER.NAME} overall status is red", "HIGH",
		last(tpl, "vsphere.dsc.status")+`="red"`, "vCenter reports a problem with the datastore cluster.")
	yellow := trigger("Datastore cluster {$VSPHERE.DSCLUSTER.NAME} overall status is yellow", "WARNING",
		last(tpl, "vsphere.dsc.status")+`="yellow"`, "vCenter reports that the datastore cluster might have a problem.").dependsOn(red)
	// An empty cluster (capacity 0) has no free space to worry about.
	crit := trigger("Datastore cluster {$VSPHERE.DSCLUSTER.NAME}: free space below {$VSPHERE.DSCLUSTER.PFREE.MIN.CRIT}%", "HIGH",
		last(tpl, "vsphere.dsc.pfree")+"<{$VSPHERE.DSCLUSTER.PFREE.MIN.CRIT} and "+last(tpl, "vsphere.dsc.capacity")+">0",
		"The datastore cluster is almost full: Storage DRS has no room left to balance.").
		withOpData("Free: {ITEM.LASTVALUE1}")
	warn := trigger("Datastore cluster {$VSPHERE.DSCLUSTER.NAME}: free space below {$VSPHERE.DSCLUSTER.PFREE.MIN.WARN}%", "WARNING",
		last(tpl, "vsphere.dsc.pfree")+"<{$VSPHERE.DSCLUSTER.PFREE.MIN.WARN} and "+last(tpl, "vsphere.dsc.capacity")+">0",
		"The datastore cluster is filling up.").
		withOpData("Free: {ITEM.LASTVALUE1}").dependsOn(crit)

	b.item(dep(mkey, "vsphere.dsc.capacity", "Capacity", vtUnsigned, "B", propOr("summary.capacity", "0")).
		withDescription("Sum of the member datastores' capacity.").withTags("component", "storage"))
	b.item(dep(mkey, "vsphere.dsc.free", "Free space", vtUnsigned, "B", propOr("summary.freeSpace", "0")).
		withDescription("Sum of the member datastores' free space.").withTags("component", "storage"))
	b.item(dep(mkey, "vsphere.dsc.used", "Used space", vtUnsigned, "B", javascript(`
var o = JSON.parse(value)[0];
return Math.max(0, Number(o['summary.capacity'] || 0) - Number(o['summary.freeSpace'] || 0));`)).
		withTags("component", "storage"))
	b.item(dep(mkey, "vsphere.dsc.pfree", "Free space, in %", vtFloat, "%", percent("summary.freeSpace", "summary.capacity")).
		withDescription("0 for a datastore cluster without capacity (no member datastore).").
		withTags("component", "storage").withTriggers(crit, warn))
	b.item(dep(mkey, "vsphere.dsc.sdrs.enabled", "Storage DRS enabled", vtUnsigned, "",
		propOr("podStorageDrsEntry.storageDrsConfig.podConfig.enabled", "false"), boolToDecimal()).
		withValueMap("vPoller boolean").withTags("component", "storage").
		withTriggers(trigger("Datastore cluster {$VSPHERE.DSCLUSTER.NAME}: Storage DRS was disabled", "INFO",
			"change(/"+tpl+"/vsphere.dsc.sdrs.enabled)<0", "Storage DRS no longer balances space and I/O in this datastore cluster.")))
	b.item(dep(mkey, "vsphere.dsc.status", "Overall status", vtChar, "", prop("overallStatus")).
		withTags("component", "status").withTriggers(red, yellow))

	b.graph("Datastore cluster: space", "vsphere.dsc.capacity", "vsphere.dsc.used", "vsphere.dsc.free")
	b.graph("Datastore cluster: free space, in %", "vsphere.dsc.pfree")
	b.dashboard("Datastore cluster overview", "Datastore cluster: space", "Datastore cluster: free space, in %")
	b.valueMap("vPoller boolean", "0", "No", "1", "Yes")
	return b.finish()
}
