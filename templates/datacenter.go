package templates

// Datacenter returns the template of one datacenter with its alarms.
func Datacenter() Template {
	const tpl, obj = TplDatacenter, "{$VSPHERE.DATACENTER.NAME}"
	b := newTemplate(tpl, `
One datacenter seen through vPoller: overall status and the alarms vCenter has
triggered on it (datacenter.alarm.get), one item and one trigger per severity
for each alarm.`)
	b.macro(MacroAgent, "", "vPoller agent name (vCenter/ESXi as configured in the vPoller worker).")
	b.macro(obj, "", "Datacenter name, set by datacenter discovery.")
	b.macro(MacroInterval, "1m", "Polling interval of the vPoller items.")
	b.macro(MacroLLDInterval, "1h", "Interval of the alarm discovery.")

	mkey := getKey("datacenter.get", obj, props("name", "overallStatus"))
	b.item(master("Datacenter: raw properties", mkey, "Datacenter properties in one vCenter request."))
	red := trigger("Datacenter {$VSPHERE.DATACENTER.NAME} overall status is red", "HIGH",
		last(tpl, "vsphere.dc.status")+`="red"`, "vCenter reports a problem in the datacenter.")
	yellow := trigger("Datacenter {$VSPHERE.DATACENTER.NAME} overall status is yellow", "WARNING",
		last(tpl, "vsphere.dc.status")+`="yellow"`, "vCenter reports that something in the datacenter might have a problem.").dependsOn(red)
	b.item(dep(mkey, "vsphere.dc.status", "Overall status", vtChar, "", prop("overallStatus")).
		withTags("component", "status").withTriggers(red, yellow))

	akey := getKey("datacenter.alarm.get", obj)
	b.item(master("Datacenter: raw alarms", akey, "Triggered alarms of the datacenter; the alarm items depend on it."))
	b.item(dep(akey, "vsphere.dc.alarms", "Triggered alarms", vtUnsigned, "", jsonPath("$.length()")).
		withTags("component", "alarms"))

	rule := b.rule(DiscoveryRule{
		Name:        "Alarm discovery",
		Key:         discoverKey("datacenter.alarm.get", obj),
		Delay:       MacroInterval,
		Lifetime:    "1d",
		Description: "Alarms triggered on the datacenter (datacenter.alarm.get).",
	})
	sel := "$[?(@.key=='{#VSPHERE.DATACENTER.ALARM.KEY}')]"
	status := "vsphere.dc.alarm.status[{#VSPHERE.DATACENTER.ALARM.KEY}]"
	high := trigger("{#VSPHERE.DATACENTER.ALARM.INFO} on {#VSPHERE.DATACENTER.ALARM.ENTITY} (red)", "HIGH",
		last(tpl, status)+`="red"`, "vCenter alarm {#VSPHERE.DATACENTER.ALARM.KEY}, triggered {#VSPHERE.DATACENTER.ALARM.TIME}.")
	rule.ItemPrototypes = append(rule.ItemPrototypes,
		dep(akey, status, "Alarm {#VSPHERE.DATACENTER.ALARM.INFO} on {#VSPHERE.DATACENTER.ALARM.ENTITY}: status", vtChar, "",
			jsonPathOr(sel+".overallStatus.first()", "green")).
			withDescription("green once vCenter has cleared the alarm.").
			withTags("component", "alarms", "alarm", "{#VSPHERE.DATACENTER.ALARM.INFO}").
			withTriggerProtos(high,
				trigger("{#VSPHERE.DATACENTER.ALARM.INFO} on {#VSPHERE.DATACENTER.ALARM.ENTITY} (yellow)", "WARNING",
					last(tpl, status)+`="yellow"`, "vCenter alarm {#VSPHERE.DATACENTER.ALARM.KEY}.").dependsOn(high)),
		dep(akey, "vsphere.dc.alarm.acknowledged[{#VSPHERE.DATACENTER.ALARM.KEY}]",
			"Alarm {#VSPHERE.DATACENTER.ALARM.INFO} on {#VSPHERE.DATACENTER.ALARM.ENTITY}: acknowledged", vtUnsigned, "",
			jsonPathOr(sel+".acknowledged.first()", "false"), boolToDecimal()).
			withValueMap("vPoller boolean").withTags("component", "alarms", "alarm", "{#VSPHERE.DATACENTER.ALARM.INFO}"),
	)
	b.valueMap("vPoller boolean", "0", "No", "1", "Yes")
	return b.finish()
}
