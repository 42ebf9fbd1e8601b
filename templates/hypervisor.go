package templates

import "fmt"

// Hypervisor returns the template of one ESXi host, created by the vCenter
// template's host prototype with {$VSPHERE.HV.NAME} set.
func Hypervisor() Template {
	const tpl, obj = TplHypervisor, "{$VSPHERE.HV.NAME}"
	b := newTemplate(tpl, `
One ESXi host (HostSystem) seen through vPoller. Discovered hosts get it from
the "vPoller vCenter" template; {$VSPHERE.HOST} is the vPoller agent (vCenter)
and {$VSPHERE.HV.NAME} the host's managed object id. All properties come from one
vpoller.get request per interval; performance counters (tag optional: perf)
need the worker's perf support and vCenter statistics.`)
	b.macro(MacroAgent, "", "vPoller agent name (vCenter/ESXi as configured in the vPoller worker).")
	b.macro(obj, "", "The ESXi host as vPoller looks it up: its managed object id, set by host discovery (a name works too).")
	b.macro(MacroHVEntity, "", "Current vSphere name of the ESXi host (set by discovery), matched against alarm entities.")
	b.macro(MacroInterval, "1m", "Polling interval of the vPoller items.")
	b.macro("{$VSPHERE.HV.CPU.UTIL.MAX}", "90", "CPU utilisation (%) above which a warning is raised.")
	b.macro("{$VSPHERE.HV.MEM.UTIL.MAX}", "90", "Memory utilisation (%) above which a warning is raised.")
	b.macro("{$VSPHERE.HV.UPTIME.MIN}", "10m", "Uptime below which the host is reported as restarted.")

	mkey := getKey("host.get", obj, props(
		"name", "runtime.powerState", "runtime.connectionState", "runtime.inMaintenanceMode",
		"overallStatus", "summary.rebootRequired",
		"summary.quickStats.overallCpuUsage", "summary.quickStats.overallMemoryUsage", "summary.quickStats.uptime",
		"summary.hardware.cpuMhz", "summary.hardware.numCpuCores", "summary.hardware.numCpuThreads",
		"summary.hardware.memorySize", "summary.hardware.cpuModel", "summary.hardware.vendor", "summary.hardware.model",
		"summary.config.product.fullName", "summary.config.product.version", "summary.hardware.uuid",
		"vm", "cluster"))
	b.item(master("Hypervisor: raw properties", mkey,
		"All hypervisor properties in one vCenter request; the other items depend on it."))

	power := trigger("Hypervisor {HOST.NAME} is not powered on", "HIGH",
		last(tpl, "vsphere.hv.power.state")+`<>"poweredOn"`, "The host reports a power state other than poweredOn.")
	conn := trigger("Hypervisor {HOST.NAME} is not connected to vCenter", "HIGH",
		last(tpl, "vsphere.hv.connection.state")+`<>"connected"`, "vCenter lost the connection to the host (disconnected or notResponding).")
	red := trigger("Hypervisor {HOST.NAME} overall status is red", "HIGH",
		last(tpl, "vsphere.hv.status")+`="red"`, "vCenter reports a problem that needs attention.")
	yellow := trigger("Hypervisor {HOST.NAME} overall status is yellow", "WARNING",
		last(tpl, "vsphere.hv.status")+`="yellow"`, "vCenter reports that the host might have a problem.").dependsOn(red)

	b.item(dep(mkey, "vsphere.hv.power.state", "Power state", vtChar, "", prop("runtime.powerState")).
		withTags("component", "status").withTriggers(power))
	b.item(dep(mkey, "vsphere.hv.connection.state", "Connection state", vtChar, "", prop("runtime.connectionState")).
		withTags("component", "status").withTriggers(conn))
	b.item(dep(mkey, "vsphere.hv.status", "Overall status", vtChar, "", prop("overallStatus")).
		withTags("component", "status").withTriggers(red, yellow))
	b.item(dep(mkey, "vsphere.hv.maintenance", "In maintenance mode", vtUnsigned, "",
		prop("runtime.inMaintenanceMode"), boolToDecimal()).
		withValueMap("vPoller boolean").withTags("component", "status").
		withTriggers(trigger("Hypervisor {HOST.NAME} is in maintenance mode", "INFO",
			last(tpl, "vsphere.hv.maintenance")+"=1", "The host was put into maintenance mode.")))
	b.item(dep(mkey, "vsphere.hv.reboot.required", "Reboot required", vtUnsigned, "",
		propOr("summary.rebootRequired", "false"), boolToDecimal()).
		withValueMap("vPoller boolean").withTags("component", "status").
		withTriggers(trigger("Hypervisor {HOST.NAME} needs a reboot", "WARNING",
			last(tpl, "vsphere.hv.reboot.required")+"=1", "A configuration change requires a reboot of the host.")))
	b.item(dep(mkey, "vsphere.hv.uptime", "Uptime", vtUnsigned, "uptime",
		propOr("summary.quickStats.uptime", "0")).
		withTags("component", "system").
		withTriggers(trigger("Hypervisor {HOST.NAME} has been restarted", "INFO",
			last(tpl, "vsphere.hv.uptime")+"<{$VSPHERE.HV.UPTIME.MIN} and "+last(tpl, "vsphere.hv.uptime")+">0",
			"Uptime is below {$VSPHERE.HV.UPTIME.MIN}.")))
	b.item(dep(mkey, "vsphere.hv.cpu.used", "CPU used", vtUnsigned, "Hz",
		propOr("summary.quickStats.overallCpuUsage", "0"), multiply("1000000")).withTags("component", "cpu"))
	b.item(dep(mkey, "vsphere.hv.cpu.util", "CPU utilisation", vtFloat, "%",
		javascript(`
var o = JSON.parse(value)[0], used = Number(o['summary.quickStats.overallCpuUsage'] || 0);
var total = Number(o['summary.hardware.cpuMhz'] || 0) * Number(o['summary.hardware.numCpuCores'] || 0);
return total > 0 ? Math.round(10000 * used / total) / 100 : 0;`)).
		withDescription("quickStats.overallCpuUsage as a percentage of cores x core frequency.").
		withTags("component", "cpu").
		withTriggers(trigger("Hypervisor {HOST.NAME}: high CPU utilisation", "WARNING",
			"min(/"+tpl+"/vsphere.hv.cpu.util,5m)>{$VSPHERE.HV.CPU.UTIL.MAX}", "CPU utilisation above {$VSPHERE.HV.CPU.UTIL.MAX}% for 5 minutes.")))
	b.item(dep(mkey, "vsphere.hv.cpu.frequency", "CPU core frequency", vtUnsigned, "Hz",
		prop("summary.hardware.cpuMhz"), multiply("1000000")).withTags("component", "cpu"))
	b.item(dep(mkey, "vsphere.hv.cpu.cores", "CPU cores", vtUnsigned, "", prop("summary.hardware.numCpuCores")).
		withTags("component", "cpu"))
	b.item(dep(mkey, "vsphere.hv.cpu.threads", "CPU threads", vtUnsigned, "", prop("summary.hardware.numCpuThreads")).
		withTags("component", "cpu"))
	b.item(dep(mkey, "vsphere.hv.cpu.model", "CPU model", vtChar, "", prop("summary.hardware.cpuModel"), discardUnchanged("1d")).
		withTags("component", "cpu"))
	b.item(dep(mkey, "vsphere.hv.memory.size", "Memory size", vtUnsigned, "B", prop("summary.hardware.memorySize")).
		withTags("component", "memory"))
	b.item(dep(mkey, "vsphere.hv.memory.used", "Memory used", vtUnsigned, "B",
		propOr("summary.quickStats.overallMemoryUsage", "0"), multiply("1048576")).withTags("component", "memory"))
	b.item(dep(mkey, "vsphere.hv.memory.util", "Memory utilisation", vtFloat, "%",
		javascript(`
var o = JSON.parse(value)[0], used = Number(o['summary.quickStats.overallMemoryUsage'] || 0) * 1048576;
var total = Number(o['summary.hardware.memorySize'] || 0);
return total > 0 ? Math.round(10000 * used / total) / 100 : 0;`)).
		withTags("component", "memory").
		withTriggers(trigger("Hypervisor {HOST.NAME}: high memory utilisation", "WARNING",
			"min(/"+tpl+"/vsphere.hv.memory.util,5m)>{$VSPHERE.HV.MEM.UTIL.MAX}", "Memory utilisation above {$VSPHERE.HV.MEM.UTIL.MAX}% for 5 minutes.")))
	b.item(dep(mkey, "vsphere.hv.hw.vendor", "Hardware vendor", vtChar, "", prop("summary.hardware.vendor"), discardUnchanged("1d")).
		withTags("component", "inventory"))
	b.item(dep(mkey, "vsphere.hv.hw.model", "Hardware model", vtChar, "", prop("summary.hardware.model"), discardUnchanged("1d")).
		withTags("component", "inventory"))
	b.item(dep(mkey, "vsphere.hv.version", "Product", vtChar, "", prop("summary.config.product.fullName"), discardUnchanged("1d")).
		withTags("component", "inventory"))
	b.item(dep(mkey, "vsphere.hv.version.number", "ESXi version", vtChar, "", prop("summary.config.product.version"),
		discardUnchanged("1d")).withDescription("The ESXi version alone (for example 8.0.2), for comparisons and inventory.").
		withTags("component", "inventory"))
	b.item(dep(mkey, "vsphere.hv.hw.uuid", "BIOS UUID", vtChar, "", prop("summary.hardware.uuid"), discardUnchanged("1d")).
		withDescription("The server's BIOS UUID (summary.hardware.uuid), as the hardware vendor's tools show it.").
		withTags("component", "inventory"))
	// The serial number in its own request, at the slow interval of the
	// template's discoveries (1h): vCenters before 6.7 do not know the
	// property and would fail the whole master for it.
	serialKey := getKey("host.get", obj, props("hardware.systemInfo.serialNumber"))
	serial := master("Hypervisor: raw serial number", serialKey,
		"The serial number in a request of its own, at {$VPOLLER.LLD.INTERVAL}, so that a vCenter older than 6.7 fails this item only.")
	serial.Delay = MacroLLDInterval
	b.item(serial)
	b.item(dep(serialKey, "vsphere.hv.hw.serial", "Serial number", vtChar, "", propOr("hardware.systemInfo.serialNumber", ""),
		discardUnchanged("1d")).
		withDescription("The server's serial number (hardware.systemInfo.serialNumber, vSphere 6.7 and later); empty where the hardware does not report one.").
		withTags("component", "inventory"))
	b.item(dep(mkey, "vsphere.hv.cluster.name", "Cluster name", vtChar, "", propOr("cluster", ""), discardUnchanged("1d")).
		withDescription("Name of the host's cluster (the worker's pseudo-property cluster); empty for a standalone host.").
		withTags("component", "inventory"))
	b.item(dep(mkey, "vsphere.hv.vm.num", "Number of VMs", vtUnsigned, "",
		Step{Type: "JSONPATH", Parameters: []string{"$[0]['vm'].length()"}, ErrorHandler: "CUSTOM_VALUE", ErrorHandlerParams: "0"}).
		withDescription("VMs registered on the host, powered on or not (its vm property); vMotion moves them between hosts.").
		withTags("component", "system"))

	hvPerf(b, tpl)
	hvExtras(b, tpl, mkey)
	hvHardware(b, tpl)
	hvCertificate(b, tpl, obj) // certificate expiry and license (vchealth.go)
	hvServicesAndPaths(b, tpl) // operations.go
	hvGraphs(b, hvInstances(b, tpl))

	b.valueMap("vPoller boolean", "0", "No", "1", "Yes")
	for _, vm := range []string{vmPower, vmConnection, vmStatus, vmHealth} {
		stateValueMap(b, vm)
	}
	return b.finish()
}

func hvPerfKey(counter string) string {
	return perfKey("host.perf.metric.get", "{$VSPHERE.HV.NAME}", counter)
}

// Keys of the host's perf-derived items that triggers and graphs use.
const hvCPUReady = "vsphere.hv.cpu.ready"

// hvPerf adds the host's performance counters: CPU usage and ready time,
// memory usage and swap rates (the host is short of memory), network
// throughput and power draw.
func hvPerf(b *builder, tpl string) {
	b.macro("{$VSPHERE.HV.MEM.SWAP.TIME}", "15m", "How long the host must keep swapping in before a warning is raised.")

	b.item(perf(hvPerfKey("cpu.usage.percent.average"), "CPU usage (perf)", vtFloat, "%", "0.01",
		"Real-time counter cpu.usage.percent.average (hundredths of a percent in vSphere).").
		withTags("component", "cpu"))
	b.item(perf(hvPerfKey("cpu.ready.millisecond.summation"), "CPU ready time (perf)", vtFloat, "ms", "",
		"Real-time counter cpu.ready.millisecond.summation: milliseconds per 20 s sample that the host's VMs were ready to run but not scheduled, summed over all of them.").
		withTags("component", "cpu"))
	b.item(calc(hvCPUReady, "CPU ready, in %", "%",
		fmt.Sprintf("100*%s/(%d*%s)", ref(hvPerfKey("cpu.ready.millisecond.summation")), RealtimeSample*1000, ref("vsphere.hv.cpu.threads")),
		fmt.Sprintf("Ready %% per logical CPU = cpu.ready ms / (%d s x 1000) x 100 / CPU threads (VMware KB 2002181, applied to the host's sum).", RealtimeSample)).
		withTags("component", "cpu", TagOptional, OptionalPerf))
	b.item(perf(hvPerfKey("mem.usage.percent.average"), "Memory usage (perf)", vtFloat, "%", "0.01",
		"Real-time counter mem.usage.percent.average.").withTags("component", "memory"))
	swapIn := hvPerfKey("mem.swapinRate.kiloBytesPerSecond.average")
	b.item(perf(swapIn, "Memory swap-in rate", vtFloat, "Bps", "1024",
		"Real-time counter mem.swapinRate.kiloBytesPerSecond.average: guest memory read back from swap files.").
		withTags("component", "memory").
		withTriggers(trigger("Hypervisor {HOST.NAME} is swapping for {$VSPHERE.HV.MEM.SWAP.TIME}", "WARNING",
			"min(/"+tpl+"/"+swapIn+",{$VSPHERE.HV.MEM.SWAP.TIME})>0",
			"VMs read memory back from swap all the time: the host is short of memory.").
			withOpData("Swap-in: {ITEM.LASTVALUE1}")))
	b.item(perf(hvPerfKey("mem.swapoutRate.kiloBytesPerSecond.average"), "Memory swap-out rate", vtFloat, "Bps", "1024",
		"Real-time counter mem.swapoutRate.kiloBytesPerSecond.average: guest memory written to swap files.").
		withTags("component", "memory"))
	for _, n := range []struct{ counter, name string }{
		{"net.usage.kiloBytesPerSecond.average", "Network usage (perf)"},
		{"net.received.kiloBytesPerSecond.average", "Network received (perf)"},
		{"net.transmitted.kiloBytesPerSecond.average", "Network transmitted (perf)"},
	} {
		b.item(perf(hvPerfKey(n.counter), n.name, vtFloat, "Bps", "1024",
			"Real-time counter "+n.counter+", all NICs.").withTags("component", "network"))
	}
	b.item(perf(hvPerfKey("power.power.watt.average"), "Power usage", vtFloat, "W", "",
		"Real-time counter power.power.watt.average: the host's power draw.").withTags("component", "power"))
	b.item(perf(hvPerfKey("power.powerCap.watt.average"), "Power cap", vtFloat, "W", "",
		"Real-time counter power.powerCap.watt.average: the most power the host is allowed to draw.").withTags("component", "power"))
	b.item(perf(hvPerfKey("cpu.utilization.percent.average"), "CPU utilisation (perf)", vtFloat, "%", "0.01",
		"Real-time counter cpu.utilization.percent.average: like cpu.usage, but a core running two hyper-threads counts once and power management (turbo, lower clocks) is taken into account; hundredths of a percent in vSphere.").
		withTags("component", "cpu"))
	b.item(perf(hvPerfKey("mem.vmmemctl.kiloBytes.average"), "Memory ballooned", vtFloat, "B", "1024",
		"Real-time counter mem.vmmemctl.kiloBytes.average: memory the balloon drivers of the host's VMs hold back for the host.").
		withTags("component", "memory"))
	// The host's NICs together (the counters' aggregate instance), per
	// second: vSphere sums each over the 20 s sample.
	for _, n := range []struct{ counter, name, what string }{
		{"net.broadcastRx.number.summation", "Network broadcast received", "broadcast packets received"},
		{"net.broadcastTx.number.summation", "Network broadcast sent", "broadcast packets sent"},
		{"net.errorsRx.number.summation", "Network receive errors", "packets received with errors"},
		{"net.errorsTx.number.summation", "Network send errors", "packets that could not be sent"},
		{"net.droppedRx.number.summation", "Network received packets dropped", "received packets dropped"},
		{"net.droppedTx.number.summation", "Network sent packets dropped", "packets to send dropped"},
	} {
		b.item(perf(hvPerfKey(n.counter), n.name, vtFloat, "pps", fmt.Sprint(1.0/RealtimeSample),
			fmt.Sprintf("Real-time counter %s: %s, all NICs together, per second (vSphere sums them over its %d s sample).",
				n.counter, n.what, RealtimeSample)).withTags("component", "network"))
	}
}

// hvGraphs adds the host's graphs and its dashboard, which also shows the
// graph prototypes of its per-instance discoveries (protos).
func hvGraphs(b *builder, protos []string) {
	b.graph("Hypervisor: CPU utilisation", "vsphere.hv.cpu.util", hvPerfKey("cpu.usage.percent.average"), hvCPUReady)
	b.graph("Hypervisor: memory", "vsphere.hv.memory.size", "vsphere.hv.memory.used")
	b.graph("Hypervisor: memory swap", hvPerfKey("mem.swapinRate.kiloBytesPerSecond.average"),
		hvPerfKey("mem.swapoutRate.kiloBytesPerSecond.average"))
	b.graph("Hypervisor: network", hvPerfKey("net.received.kiloBytesPerSecond.average"),
		hvPerfKey("net.transmitted.kiloBytesPerSecond.average"))
	b.graph("Hypervisor: power", hvPerfKey("power.power.watt.average"))
	b.overview("Hypervisor overview", []string{"Hypervisor: CPU utilisation", "Hypervisor: memory", "Hypervisor: memory swap",
		"Hypervisor: network", "Hypervisor: power", "Hypervisor: state"}, protos)
}

// hvExtras adds the host's numeric states (graphable twins of the text
// state items), its own alarms, vSphere tags and custom attributes.
func hvExtras(b *builder, tpl, mkey string) {
	const obj = "{$VSPHERE.HV.NAME}"
	b.item(stateNum(mkey, "vsphere.hv.power.state.num", "Power state", "runtime.powerState", "unknown", vmPower).
		withTags("component", "status"))
	b.item(stateNum(mkey, "vsphere.hv.connection.state.num", "Connection state", "runtime.connectionState", "disconnected", vmConnection).
		withTags("component", "status"))
	b.item(stateNum(mkey, "vsphere.hv.status.num", "Overall status", "overallStatus", "gray", vmStatus).
		withTags("component", "status"))

	// vCenter lists a host's VMs' alarms on the host too: the filter keeps
	// the host's own, the VMs' hosts raise theirs.
	alarms(b, alarmSpec{tpl: tpl, method: "host.alarm.get", short: "hv", what: "Hypervisor", obj: obj, entity: MacroHVEntity})
	tags(b, "host.tag.get", "hv", "hypervisor", obj)
	attributes(b, "host.attribute.get", "hypervisor", obj)
}

// Keys of the host's hardware health items.
const (
	hvHWStatus     = "vsphere.hv.hw.status"
	hvSensorHealth = "vsphere.hv.sensor.health[{#VSPHERE.HOST.SENSOR.NAME}]"
)

// hvHardware adds the host's hardware health (the health system's IPMI/CIM
// sensors and hardware elements): the rollup from host.health.get with a
// trigger per severity, sensor counts per state, and a sensor discovery
// with each sensor's state (from one master request for all sensors) and
// reading (one vpoller.poll per sensor, answered from the worker's
// property mirror).
func hvHardware(b *builder, tpl string) {
	const obj = "{$VSPHERE.HV.NAME}"
	b.macro(MacroLLDInterval, "1h", "Interval of the hardware sensor discovery and of the serial number item.")
	b.macro("{$VSPHERE.HV.SENSOR.TYPE.MATCHES}", ".*", "Sensor types (regular expression on sensorType: temperature, fan, voltage, power, other, ...) to discover.")
	b.macro("{$VSPHERE.HV.SENSOR.TYPE.NOT_MATCHES}", "CHANGE_IF_NEEDED", "Sensor types not to discover.")

	hkey := getKey("host.health.get", obj)
	b.item(master("Hypervisor: raw hardware health", hkey,
		"The host's hardware health rollup (host.health.get): hardwareStatus, sensor counts per state."))
	red := trigger("Hypervisor {HOST.NAME}: hardware health is red", "HIGH",
		last(tpl, hvHWStatus)+"=3", "A sensor or hardware element (memory, CPU, storage) of the host reports a critical state.")
	b.item(dep(hkey, hvHWStatus, "Hardware health", vtUnsigned, "", stateJS(vmHealth, "hardwareStatus", "unknown")).
		withValueMap(vmHealth).
		withDescription("The worst state of every sensor and hardware element (red > yellow > green > unknown); unknown when the host's health system reports nothing (no CIM provider, disconnected).").
		withTags("component", "hardware").
		withTriggers(red, trigger("Hypervisor {HOST.NAME}: hardware health is yellow", "WARNING",
			last(tpl, hvHWStatus)+"=2", "A sensor or hardware element of the host reports a warning.").dependsOn(red)))
	for _, st := range []string{"sensors", "red", "yellow", "unknown"} {
		name := "Sensors"
		if st != "sensors" {
			name = "Sensors in state " + st
		}
		b.item(dep(hkey, "vsphere.hv.hw.sensors."+st, name, vtUnsigned, "", jsonPath("$[0]['"+st+"']")).
			withTags("component", "hardware"))
	}

	skey := getKey("host.sensor.discover", obj)
	b.item(master("Hypervisor: raw sensors", skey, "Every numeric sensor of the host with its state (host.sensor.discover), for the sensor state items."))
	rule := b.rule(DiscoveryRule{
		Name:        "Hardware sensor discovery",
		Key:         discoverKey("host.sensor.discover", obj),
		Delay:       MacroLLDInterval,
		Lifetime:    "7d",
		Description: "Numeric sensors of the host's health system (host.sensor.discover); none on a host without a CIM provider.",
		Filter: &Filter{EvalType: "AND", Conditions: []Condition{
			{Macro: "{#VSPHERE.HOST.SENSOR.SENSORTYPE}", Value: "{$VSPHERE.HV.SENSOR.TYPE.MATCHES}", FormulaID: "A"},
			{Macro: "{#VSPHERE.HOST.SENSOR.SENSORTYPE}", Value: "{$VSPHERE.HV.SENSOR.TYPE.NOT_MATCHES}", Operator: "NOT_MATCHES_REGEX", FormulaID: "B"},
		}},
	})
	sred := trigger("Hypervisor {HOST.NAME}: sensor {#VSPHERE.HOST.SENSOR.NAME} is red", "HIGH",
		last(tpl, hvSensorHealth)+"=3", "The host's health system reports a critical state for this {#VSPHERE.HOST.SENSOR.SENSORTYPE} sensor.")
	sel := "$[?(@.name=='{#VSPHERE.HOST.SENSOR.NAME}')]"
	rule.ItemPrototypes = append(rule.ItemPrototypes,
		dep(skey, hvSensorHealth, "Sensor {#VSPHERE.HOST.SENSOR.NAME}: health", vtUnsigned, "",
			jsonPathOr(sel+".healthState.first()", "unknown"), javascript(healthNumJS)).
			withValueMap(vmHealth).
			withTags("component", "hardware", "sensor", "{#VSPHERE.HOST.SENSOR.SENSORTYPE}").
			withTriggerProtos(sred, trigger("Hypervisor {HOST.NAME}: sensor {#VSPHERE.HOST.SENSOR.NAME} is yellow", "WARNING",
				last(tpl, hvSensorHealth)+"=2", "The host's health system reports a warning for this {#VSPHERE.HOST.SENSOR.SENSORTYPE} sensor.").dependsOn(sred)),
		Item{Name: "Sensor {#VSPHERE.HOST.SENSOR.NAME}: value", Key: pollKey("host.sensor.get", obj, "value", "{#VSPHERE.HOST.SENSOR.NAME}"),
			Delay: MacroInterval, ValueType: vtFloat,
			Description: "The sensor's reading (currentReading x 10^unitModifier) in its base units (host.sensor.get's baseUnits: Degrees C, RPM, Volts, Watts, ...)."}.
			withTags("component", "hardware", "sensor", "{#VSPHERE.HOST.SENSOR.SENSORTYPE}"),
	)
	b.graph("Hypervisor: state", "vsphere.hv.power.state.num", "vsphere.hv.status.num", hvHWStatus)
}

// healthNumJS turns a health state name into its number in the
// vmHealth value map.
const healthNumJS = `
var m = {'unknown': 0, 'green': 1, 'yellow': 2, 'red': 3};
return m.hasOwnProperty(value) ? m[value] : 0;`
