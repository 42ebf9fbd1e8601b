package templates

import "fmt"

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

	hvPerf(b, tpl)
	hvGraphs(b)

	b.valueMap("vPoller boolean", "0", "No", "1", "Yes")
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
		withTriggers(trigger("Hypervisor {$VSPHERE.HV.NAME} is swapping for {$VSPHERE.HV.MEM.SWAP.TIME}", "WARNING",
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
}

// hvGraphs adds the host's graphs and its dashboard.
func hvGraphs(b *builder) {
	b.graph("Hypervisor: CPU utilisation", "vsphere.hv.cpu.util", hvPerfKey("cpu.usage.percent.average"), hvCPUReady)
	b.graph("Hypervisor: memory", "vsphere.hv.memory.size", "vsphere.hv.memory.used")
	b.graph("Hypervisor: memory swap", hvPerfKey("mem.swapinRate.kiloBytesPerSecond.average"),
		hvPerfKey("mem.swapoutRate.kiloBytesPerSecond.average"))
	b.graph("Hypervisor: network", hvPerfKey("net.received.kiloBytesPerSecond.average"),
		hvPerfKey("net.transmitted.kiloBytesPerSecond.average"))
	b.graph("Hypervisor: power", hvPerfKey("power.power.watt.average"))
	b.dashboard("Hypervisor overview", "Hypervisor: CPU utilisation", "Hypervisor: memory", "Hypervisor: memory swap",
		"Hypervisor: network", "Hypervisor: power")
}
