package templates

// Hypervisor returns the template of one ESXi host, created by the vCenter
// template's host prototype with {$VSPHERE.HV.NAME} set.
func Hypervisor() Template {
	const tpl, obj = TplHypervisor, "{$VSPHERE.HV.NAME}"
	b := newTemplate(tpl, `
One ESXi host (HostSystem) seen through vPoller. Discovered hosts get it from
the "vPoller vCenter" template; {$VSPHERE.HOST} is the vPoller agent (vCenter)
and {$VSPHERE.HV.NAME} the host's name in vCenter. All properties come from one
vpoller.get request per interval; performance counters (tag optional: perf)
need the worker's perf support and vCenter statistics.`)
	b.macro(MacroAgent, "", "vPoller agent name (vCenter/ESXi as configured in the vPoller worker).")
	b.macro(obj, "", "Name of the ESXi host in vCenter (set by host discovery).")
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
		"summary.config.product.fullName"))
	b.item(master("Hypervisor: raw properties", mkey,
		"All hypervisor properties in one vCenter request; the other items depend on it."))

	power := trigger("Hypervisor {$VSPHERE.HV.NAME} is not powered on", "HIGH",
		last(tpl, "vsphere.hv.power.state")+`<>"poweredOn"`, "The host reports a power state other than poweredOn.")
	conn := trigger("Hypervisor {$VSPHERE.HV.NAME} is not connected to vCenter", "HIGH",
		last(tpl, "vsphere.hv.connection.state")+`<>"connected"`, "vCenter lost the connection to the host (disconnected or notResponding).")
	red := trigger("Hypervisor {$VSPHERE.HV.NAME} overall status is red", "HIGH",
		last(tpl, "vsphere.hv.status")+`="red"`, "vCenter reports a problem that needs attention.")
	yellow := trigger("Hypervisor {$VSPHERE.HV.NAME} overall status is yellow", "WARNING",
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
		withTriggers(trigger("Hypervisor {$VSPHERE.HV.NAME} is in maintenance mode", "INFO",
			last(tpl, "vsphere.hv.maintenance")+"=1", "The host was put into maintenance mode.")))
	b.item(dep(mkey, "vsphere.hv.reboot.required", "Reboot required", vtUnsigned, "",
		propOr("summary.rebootRequired", "false"), boolToDecimal()).
		withValueMap("vPoller boolean").withTags("component", "status").
		withTriggers(trigger("Hypervisor {$VSPHERE.HV.NAME} needs a reboot", "WARNING",
			last(tpl, "vsphere.hv.reboot.required")+"=1", "A configuration change requires a reboot of the host.")))
	b.item(dep(mkey, "vsphere.hv.uptime", "Uptime", vtUnsigned, "uptime",
		propOr("summary.quickStats.uptime", "0")).
		withTags("component", "system").
		withTriggers(trigger("Hypervisor {$VSPHERE.HV.NAME} has been restarted", "INFO",
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
		withTriggers(trigger("Hypervisor {$VSPHERE.HV.NAME}: high CPU utilisation", "WARNING",
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
		withTriggers(trigger("Hypervisor {$VSPHERE.HV.NAME}: high memory utilisation", "WARNING",
			"min(/"+tpl+"/vsphere.hv.memory.util,5m)>{$VSPHERE.HV.MEM.UTIL.MAX}", "Memory utilisation above {$VSPHERE.HV.MEM.UTIL.MAX}% for 5 minutes.")))
	b.item(dep(mkey, "vsphere.hv.hw.vendor", "Hardware vendor", vtChar, "", prop("summary.hardware.vendor"), discardUnchanged("1d")).
		withTags("component", "inventory"))
	b.item(dep(mkey, "vsphere.hv.hw.model", "Hardware model", vtChar, "", prop("summary.hardware.model"), discardUnchanged("1d")).
		withTags("component", "inventory"))
	b.item(dep(mkey, "vsphere.hv.version", "Product", vtChar, "", prop("summary.config.product.fullName"), discardUnchanged("1d")).
		withTags("component", "inventory"))

	// Performance counters by name: optional (simulator/stat level dependent).
	b.item(Item{Name: "CPU usage (perf)", Key: perfKey("host.perf.metric.get", obj, "cpu.usage.percent.average"),
		Delay: MacroInterval, ValueType: vtFloat, Units: "%", Preprocessing: []Step{multiply("0.01")},
		Description: "Real-time counter cpu.usage.percent.average (hundredths of a percent in vSphere)."}.
		withTags("component", "cpu", TagOptional, OptionalPerf))
	b.item(Item{Name: "Memory usage (perf)", Key: perfKey("host.perf.metric.get", obj, "mem.usage.percent.average"),
		Delay: MacroInterval, ValueType: vtFloat, Units: "%", Preprocessing: []Step{multiply("0.01")},
		Description: "Real-time counter mem.usage.percent.average."}.
		withTags("component", "memory", TagOptional, OptionalPerf))
	b.item(Item{Name: "Network usage (perf)", Key: perfKey("host.perf.metric.get", obj, "net.usage.kiloBytesPerSecond.average"),
		Delay: MacroInterval, ValueType: vtFloat, Units: "Bps", Preprocessing: []Step{multiply("1024")},
		Description: "Real-time counter net.usage.kiloBytesPerSecond.average, all NICs."}.
		withTags("component", "network", TagOptional, OptionalPerf))

	b.valueMap("vPoller boolean", "0", "No", "1", "Yes")
	return b.finish()
}
