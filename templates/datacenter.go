package templates

// Datacenter returns the template of one datacenter with its alarms.
func Datacenter() Template {
	const tpl, obj = TplDatacenter, "{$VSPHERE.DATACENTER.NAME}"
	b := newTemplate(tpl, `
One datacenter seen through vPoller: overall status and the alarms vCenter has
triggered on it (datacenter.alarm.get), one item and one trigger per severity
for each alarm.`)
	b.macro(MacroAgent, "", "vPoller agent name (vCenter/ESXi as configured in the vPoller worker).")
	b.macro(obj, "", "The datacenter as vPoller looks it up: its managed object id, set by datacenter discovery (a name works too).")
	b.macro(MacroInterval, "1m", "Polling interval of the vPoller items.")
	b.macro(MacroLLDInterval, "1h", "Interval of the alarm discovery.")

	mkey := getKey("datacenter.get", obj, props("name", "overallStatus"))
	b.item(master("Datacenter: raw properties", mkey, "Datacenter properties in one vCenter request."))
	red := trigger("Datacenter {HOST.NAME} overall status is red", "HIGH",
		last(tpl, "vsphere.dc.status")+`="red"`, "vCenter reports a problem in the datacenter.")
	yellow := trigger("Datacenter {HOST.NAME} overall status is yellow", "WARNING",
		last(tpl, "vsphere.dc.status")+`="yellow"`, "vCenter reports that something in the datacenter might have a problem.").dependsOn(red)
	b.item(dep(mkey, "vsphere.dc.status", "Overall status", vtChar, "", prop("overallStatus")).
		withTags("component", "status").withTriggers(red, yellow))

	b.item(stateNum(mkey, "vsphere.dc.status.num", "Overall status", "overallStatus", "gray", vmStatus).
		withTags("component", "status"))
	b.graph("Datacenter: status", "vsphere.dc.status.num")
	b.dashboard("Datacenter overview", "Datacenter: status")

	// Alarms: the datacenter's list includes those vCenter propagates from
	// everything below it, so no entity filter here.
	alarms(b, alarmSpec{tpl: tpl, method: "datacenter.alarm.get", short: "dc", what: "Datacenter", obj: obj})
	stateValueMap(b, vmStatus)
	b.valueMap("vPoller boolean", "0", "No", "1", "Yes")
	return b.finish()
}
