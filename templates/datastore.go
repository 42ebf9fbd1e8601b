package templates

// Datastore returns the template of one datastore, created by the vCenter
// template's host prototype with {$VSPHERE.DATASTORE.URL} (the lookup key of
// vPoller's datastore methods) and {$VSPHERE.DATASTORE.NAME} set.
func Datastore() Template {
	const tpl, obj = TplDatastore, "{$VSPHERE.DATASTORE.URL}"
	b := newTemplate(tpl, `
One datastore seen through vPoller. vPoller looks datastores up by their URL
(info.url), so {$VSPHERE.DATASTORE.URL} identifies it; {$VSPHERE.DATASTORE.NAME}
is its display name. All properties come from one vpoller.get request per interval.`)
	b.macro(MacroAgent, "", "vPoller agent name (vCenter/ESXi as configured in the vPoller worker).")
	b.macro(obj, "", "Datastore URL (info.url), set by datastore discovery.")
	b.macro("{$VSPHERE.DATASTORE.NAME}", "", "Datastore name, set by datastore discovery.")
	b.macro(MacroInterval, "1m", "Polling interval of the vPoller items.")
	b.macro("{$VSPHERE.DATASTORE.PFREE.MIN.WARN}", "20", "Free space (%) below which a warning is raised.")
	b.macro("{$VSPHERE.DATASTORE.PFREE.MIN.CRIT}", "10", "Free space (%) below which a high problem is raised.")

	mkey := getKey("datastore.get", obj, props(
		"name", "info.url", "summary.capacity", "summary.freeSpace", "summary.uncommitted",
		"summary.accessible", "summary.maintenanceMode", "summary.type", "overallStatus"))
	b.item(master("Datastore: raw properties", mkey,
		"All datastore properties in one vCenter request; the other items depend on it."))

	red := trigger("Datastore {$VSPHERE.DATASTORE.NAME} overall status is red", "HIGH",
		last(tpl, "vsphere.ds.status")+`="red"`, "vCenter reports a problem with the datastore.")
	yellow := trigger("Datastore {$VSPHERE.DATASTORE.NAME} overall status is yellow", "WARNING",
		last(tpl, "vsphere.ds.status")+`="yellow"`, "vCenter reports that the datastore might have a problem.").dependsOn(red)
	crit := trigger("Datastore {$VSPHERE.DATASTORE.NAME}: free space below {$VSPHERE.DATASTORE.PFREE.MIN.CRIT}%", "HIGH",
		last(tpl, "vsphere.ds.pfree")+"<{$VSPHERE.DATASTORE.PFREE.MIN.CRIT} and "+last(tpl, "vsphere.ds.capacity")+">0",
		"The datastore is almost full. Not raised while the capacity reads 0 (an inaccessible datastore: its own trigger says so).").
		withOpData("Free: {ITEM.LASTVALUE1}")
	warn := trigger("Datastore {$VSPHERE.DATASTORE.NAME}: free space below {$VSPHERE.DATASTORE.PFREE.MIN.WARN}%", "WARNING",
		last(tpl, "vsphere.ds.pfree")+"<{$VSPHERE.DATASTORE.PFREE.MIN.WARN} and "+last(tpl, "vsphere.ds.capacity")+">0",
		"The datastore is filling up. Not raised while the capacity reads 0.").
		withOpData("Free: {ITEM.LASTVALUE1}").dependsOn(crit)

	b.item(dep(mkey, "vsphere.ds.capacity", "Capacity", vtUnsigned, "B", prop("summary.capacity")).
		withTags("component", "storage"))
	b.item(dep(mkey, "vsphere.ds.free", "Free space", vtUnsigned, "B", prop("summary.freeSpace")).
		withTags("component", "storage"))
	b.item(dep(mkey, "vsphere.ds.used", "Used space", vtUnsigned, "B", javascript(`
var o = JSON.parse(value)[0];
return Math.max(0, Number(o['summary.capacity'] || 0) - Number(o['summary.freeSpace'] || 0));`)).
		withTags("component", "storage"))
	b.item(dep(mkey, "vsphere.ds.pfree", "Free space, in %", vtFloat, "%", percent("summary.freeSpace", "summary.capacity")).
		withTags("component", "storage").withTriggers(crit, warn))
	b.item(dep(mkey, "vsphere.ds.uncommitted", "Uncommitted (thin provisioned)", vtUnsigned, "B",
		propOr("summary.uncommitted", "0")).withTags("component", "storage"))
	b.item(dep(mkey, "vsphere.ds.accessible", "Accessible", vtUnsigned, "", prop("summary.accessible"), boolToDecimal()).
		withValueMap("vPoller boolean").withTags("component", "status").
		withTriggers(trigger("Datastore {$VSPHERE.DATASTORE.NAME} is not accessible", "HIGH",
			last(tpl, "vsphere.ds.accessible")+"=0", "No host can reach the datastore.")))
	b.item(dep(mkey, "vsphere.ds.maintenance", "Maintenance mode", vtChar, "", propOr("summary.maintenanceMode", "normal")).
		withTags("component", "status").
		withTriggers(trigger("Datastore {$VSPHERE.DATASTORE.NAME} is in maintenance mode", "INFO",
			last(tpl, "vsphere.ds.maintenance")+`<>"normal"`, "The datastore is entering or in maintenance mode.")))
	b.item(dep(mkey, "vsphere.ds.type", "Type", vtChar, "", prop("summary.type"), discardUnchanged("1d")).
		withTags("component", "inventory"))
	b.item(dep(mkey, "vsphere.ds.status", "Overall status", vtChar, "", prop("overallStatus")).
		withTags("component", "status").withTriggers(red, yellow))

	b.item(stateNum(mkey, "vsphere.ds.status.num", "Overall status", "overallStatus", "gray", vmStatus).
		withTags("component", "status"))
	b.item(stateNum(mkey, "vsphere.ds.maintenance.num", "Maintenance mode", "summary.maintenanceMode", "normal", vmDSMaint).
		withTags("component", "status"))
	// Datastores have no children in the inventory, but the filter keeps
	// the discovery to the datastore's own alarms all the same.
	alarms(b, alarmSpec{tpl: tpl, method: "datastore.alarm.get", short: "ds", what: "Datastore", obj: obj,
		entity: "{$VSPHERE.DATASTORE.NAME}"})
	tags(b, "datastore.tag.get", "ds", "datastore", obj)
	dsProvisioning(b, tpl) // operations.go

	// Latency and IOPS as all hosts together see them: vCenter keeps them
	// per host x datastore only; the worker combines its hosts' samples.
	dsPerf := func(counter string) string { return perfKey("datastore.perf.hosts.get", obj, counter) }
	for _, p := range []struct{ counter, name, units, desc string }{
		{"datastore.totalReadLatency.millisecond.average", "Read latency (all hosts)", "ms", "average time a read takes, averaged over the hosts that mount the datastore"},
		{"datastore.totalWriteLatency.millisecond.average", "Write latency (all hosts)", "ms", "average time a write takes, averaged over the hosts that mount the datastore"},
		{"datastore.numberReadAveraged.number.average", "Reads per second (all hosts)", "rps", "read commands per second, summed over the hosts that mount the datastore"},
		{"datastore.numberWriteAveraged.number.average", "Writes per second (all hosts)", "wps", "write commands per second, summed over the hosts that mount the datastore"},
	} {
		b.item(perf(dsPerf(p.counter), p.name, vtFloat, p.units, "",
			"Real-time counter "+p.counter+" of each connected host (datastore.perf.hosts.get): "+p.desc+".").
			withTags("component", "storage"))
	}
	b.graph("Datastore: latency", dsPerf("datastore.totalReadLatency.millisecond.average"), dsPerf("datastore.totalWriteLatency.millisecond.average"))
	b.graph("Datastore: IOPS", dsPerf("datastore.numberReadAveraged.number.average"), dsPerf("datastore.numberWriteAveraged.number.average"))
	b.graph("Datastore: state", "vsphere.ds.status.num", "vsphere.ds.maintenance.num")
	b.graph("Datastore: space", "vsphere.ds.capacity", "vsphere.ds.used", "vsphere.ds.free")
	b.graph("Datastore: free space, in %", "vsphere.ds.pfree")
	b.graph("Datastore: provisioning", "vsphere.ds.used", "vsphere.ds.uncommitted")
	b.dashboard("Datastore overview", "Datastore: space", "Datastore: free space, in %", "Datastore: provisioning", "Datastore: state",
		"Datastore: latency", "Datastore: IOPS")
	b.valueMap("vPoller boolean", "0", "No", "1", "Yes")
	stateValueMap(b, vmStatus)
	stateValueMap(b, vmDSMaint)
	return b.finish()
}
