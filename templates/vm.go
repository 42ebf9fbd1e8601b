package templates

import (
	"fmt"
	"strings"
)

// VirtualMachine returns the template of one VM, created by the vCenter
// template's host prototype with {$VSPHERE.VM.NAME} set.
func VirtualMachine() Template {
	const tpl, obj = TplVM, "{$VSPHERE.VM.NAME}"
	b := newTemplate(tpl, `
One virtual machine seen through vPoller. Discovered hosts get it from the
"vPoller vCenter" template; {$VSPHERE.VM.NAME} is the VM's instance UUID, so
that a rename keeps the host and its history.
Configuration and quick statistics come from one vpoller.get request per
interval, guest information (disks, NICs; needs VMware Tools) from a second
one, snapshots from vm.snapshot.get. Guest filesystems and NICs are discovered
with vm.disk.discover and vm.guest.net.get.`)
	b.macro(MacroAgent, "", "vPoller agent name (vCenter/ESXi as configured in the vPoller worker).")
	b.macro(obj, "", "The VM as vPoller looks it up: its instance UUID, set by VM discovery (any name, managed object id or UUID works).")
	b.macro(MacroVMEntity, "", "Current vSphere name of the VM (set by discovery), matched against alarm entities.")
	b.macro(MacroInterval, "1m", "Polling interval of the vPoller items.")
	b.macro(MacroLLDInterval, "1h", "Interval of the guest filesystem and NIC discoveries.")
	b.macro("{$VSPHERE.SNAPSHOT.AGE.MAX}", "3d", "Age of the oldest snapshot above which a warning is raised.")
	b.macro("{$VSPHERE.VM.FS.PFREE.MIN.WARN}", "10", "Free space (%) of a guest filesystem below which a warning is raised.")
	b.macro("{$VSPHERE.VM.FS.PFREE.MIN.CRIT}", "5", "Free space (%) of a guest filesystem below which a high problem is raised.")

	mkey := getKey("vm.get", obj, props(
		"name", "runtime.powerState", "runtime.connectionState", "overallStatus",
		"runtime.consolidationNeeded", "guest.toolsRunningStatus", "guest.guestState",
		"summary.config.numCpu", "summary.config.memorySizeMB", "summary.config.guestFullName",
		"summary.quickStats.overallCpuUsage", "summary.quickStats.guestMemoryUsage",
		"summary.quickStats.hostMemoryUsage", "summary.quickStats.uptimeSeconds",
		"summary.quickStats.balloonedMemory", "summary.quickStats.swappedMemory", "summary.quickStats.compressedMemory",
		"summary.storage.committed", "summary.storage.uncommitted",
		"guest.ipAddress", "guest.hostName"))
	b.item(master("VM: raw properties", mkey,
		"All VM properties in one vCenter request; the other items depend on it."))
	gkey := getKey("vm.get", obj, props("name", "guest.disk", "guest.net"))
	b.item(master("VM: raw guest information", gkey,
		"Guest disks and NICs as reported by VMware Tools (empty without Tools)."))
	skey := getKey("vm.snapshot.get", obj)
	snap := master("VM: raw snapshots", skey,
		"All snapshots of the VM (the whole tree). A VM without snapshots makes the worker reply 'No snapshots found' (kept from the original vPoller): the item then holds [].")
	snap.Preprocessing = []Step{{Type: "CHECK_NOT_SUPPORTED", Parameters: []string{""}, ErrorHandler: "CUSTOM_VALUE", ErrorHandlerParams: "[]"}}
	b.item(snap)

	power := trigger("VM {HOST.NAME} is powered off", "INFO",
		last(tpl, "vsphere.vm.power.state")+`="poweredOff"`, "The VM is powered off.")
	red := trigger("VM {HOST.NAME} overall status is red", "HIGH",
		last(tpl, "vsphere.vm.status")+`="red"`, "vCenter reports a problem with the VM.")
	yellow := trigger("VM {HOST.NAME} overall status is yellow", "WARNING",
		last(tpl, "vsphere.vm.status")+`="yellow"`, "vCenter reports that the VM might have a problem.").dependsOn(red)
	tools := trigger("VM {HOST.NAME}: VMware Tools not running", "WARNING",
		last(tpl, "vsphere.vm.tools.running")+`<>"guestToolsRunning" and `+last(tpl, "vsphere.vm.power.state")+`="poweredOn"`,
		"The VM is powered on but VMware Tools are not running: no guest disks, NICs or IP addresses.")
	conn := trigger("VM {HOST.NAME} is not connected", "AVERAGE",
		last(tpl, "vsphere.vm.connection.state")+`<>"connected"`, "The VM is orphaned, inaccessible or its host is disconnected.")

	b.item(dep(mkey, "vsphere.vm.power.state", "Power state", vtChar, "", prop("runtime.powerState")).
		withTags("component", "status").withTriggers(power))
	b.item(dep(mkey, "vsphere.vm.connection.state", "Connection state", vtChar, "", prop("runtime.connectionState")).
		withTags("component", "status").withTriggers(conn))
	b.item(dep(mkey, "vsphere.vm.status", "Overall status", vtChar, "", prop("overallStatus")).
		withTags("component", "status").withTriggers(red, yellow))
	b.item(dep(mkey, "vsphere.vm.tools.running", "VMware Tools running status", vtChar, "",
		propOr("guest.toolsRunningStatus", "guestToolsNotRunning")).
		withTags("component", "guest").withTriggers(tools))
	b.item(dep(mkey, "vsphere.vm.guest.state", "Guest state", vtChar, "", propOr("guest.guestState", "unknown")).
		withTags("component", "guest"))
	b.item(dep(mkey, "vsphere.vm.consolidation.needed", "Disk consolidation needed", vtUnsigned, "",
		propOr("runtime.consolidationNeeded", "false"), boolToDecimal()).
		withValueMap("vPoller boolean").withTags("component", "storage").
		withTriggers(trigger("VM {HOST.NAME} needs disk consolidation", "WARNING",
			last(tpl, "vsphere.vm.consolidation.needed")+"=1", "Redo logs are left over from a snapshot operation.")))
	b.item(dep(mkey, "vsphere.vm.cpu.num", "Number of vCPUs", vtUnsigned, "", prop("summary.config.numCpu")).
		withTags("component", "cpu"))
	b.item(dep(mkey, "vsphere.vm.cpu.used", "CPU used", vtUnsigned, "Hz",
		propOr("summary.quickStats.overallCpuUsage", "0"), multiply("1000000")).withTags("component", "cpu"))
	b.item(dep(mkey, "vsphere.vm.memory.size", "Memory size", vtUnsigned, "B",
		prop("summary.config.memorySizeMB"), multiply("1048576")).withTags("component", "memory"))
	b.item(dep(mkey, "vsphere.vm.memory.guest.used", "Guest memory active", vtUnsigned, "B",
		propOr("summary.quickStats.guestMemoryUsage", "0"), multiply("1048576")).withTags("component", "memory"))
	b.item(dep(mkey, "vsphere.vm.memory.host.used", "Host memory consumed", vtUnsigned, "B",
		propOr("summary.quickStats.hostMemoryUsage", "0"), multiply("1048576")).withTags("component", "memory"))
	b.item(dep(mkey, "vsphere.vm.uptime", "Uptime", vtUnsigned, "uptime",
		propOr("summary.quickStats.uptimeSeconds", "0")).withTags("component", "system"))
	b.item(dep(mkey, "vsphere.vm.storage.committed", "Storage committed", vtUnsigned, "B",
		propOr("summary.storage.committed", "0")).withTags("component", "storage"))
	b.item(dep(mkey, "vsphere.vm.storage.uncommitted", "Storage uncommitted", vtUnsigned, "B",
		propOr("summary.storage.uncommitted", "0")).withTags("component", "storage"))
	b.item(dep(mkey, "vsphere.vm.guest.os", "Guest OS (configured)", vtChar, "",
		propOr("summary.config.guestFullName", ""), discardUnchanged("1d")).withTags("component", "inventory"))
	b.item(dep(mkey, "vsphere.vm.guest.ip", "Guest IP address", vtChar, "", propOr("guest.ipAddress", ""), discardUnchanged("1d")).
		withTags("component", "guest"))
	b.item(dep(mkey, "vsphere.vm.guest.hostname", "Guest host name", vtChar, "", propOr("guest.hostName", ""), discardUnchanged("1d")).
		withTags("component", "guest"))

	b.item(dep(skey, "vsphere.vm.snapshot.count", "Snapshots", vtUnsigned, "", jsonPath("$.length()")).
		withTags("component", "snapshot"))
	b.item(dep(skey, "vsphere.vm.snapshot.oldest.age", "Oldest snapshot age", vtUnsigned, "uptime", javascript(snapshotAgeJS)).
		withDescription("Age of the oldest snapshot in the tree; 0 without snapshots.").
		withTags("component", "snapshot").
		withTriggers(trigger("VM {HOST.NAME} has a snapshot older than {$VSPHERE.SNAPSHOT.AGE.MAX}", "WARNING",
			last(tpl, "vsphere.vm.snapshot.oldest.age")+">{$VSPHERE.SNAPSHOT.AGE.MAX}",
			"Old snapshots grow without bound and slow the VM down; consolidate or delete them.").
			withOpData("Age: {ITEM.LASTVALUE1}")))

	vmPerf(b, tpl)
	vmReclaim(b, tpl, mkey)

	vmExtras(b, tpl, mkey)
	vmBackup(b, tpl) // operations.go

	// Guest filesystems: discovered with vm.disk.discover, values from the
	// guest master item (one request for all disks).
	fs := b.rule(DiscoveryRule{
		Name:          "Guest filesystem discovery",
		Key:           discoverKey("vm.disk.discover", obj),
		Delay:         MacroLLDInterval,
		Lifetime:      "7d",
		Description:   "Filesystems reported by VMware Tools (vm.disk.discover). Empty when Tools are not running.",
		Preprocessing: []Step{javascript(diskDiscoveryJS)},
	})
	fsTotal := "vsphere.vm.fs.total[{#VSPHERE.VM.DISKPATH}]"
	fsFree := "vsphere.vm.fs.free[{#VSPHERE.VM.DISKPATH}]"
	fsPfree := "vsphere.vm.fs.pfree[{#VSPHERE.VM.DISKPATH}]"
	crit := trigger("VM {HOST.NAME}: filesystem {#VSPHERE.VM.DISKPATH} free space below {$VSPHERE.VM.FS.PFREE.MIN.CRIT}%", "HIGH",
		last(tpl, fsPfree)+"<{$VSPHERE.VM.FS.PFREE.MIN.CRIT}", "")
	fs.ItemPrototypes = append(fs.ItemPrototypes,
		dep(gkey, fsTotal, "Filesystem {#VSPHERE.VM.DISKPATH}: total", vtUnsigned, "B", diskValue("disks[i].capacity")).
			withTags("component", "filesystem", "filesystem", "{#VSPHERE.VM.DISKPATH}"),
		dep(gkey, fsFree, "Filesystem {#VSPHERE.VM.DISKPATH}: free", vtUnsigned, "B", diskValue("disks[i].freeSpace")).
			withTags("component", "filesystem", "filesystem", "{#VSPHERE.VM.DISKPATH}"),
		dep(gkey, fsPfree, "Filesystem {#VSPHERE.VM.DISKPATH}: free, in %", vtFloat, "%",
			diskValue("disks[i].capacity > 0 ? Math.round(10000 * disks[i].freeSpace / disks[i].capacity) / 100 : 0")).
			withTags("component", "filesystem", "filesystem", "{#VSPHERE.VM.DISKPATH}").
			withTriggerProtos(crit,
				trigger("VM {HOST.NAME}: filesystem {#VSPHERE.VM.DISKPATH} free space below {$VSPHERE.VM.FS.PFREE.MIN.WARN}%", "WARNING",
					last(tpl, fsPfree)+"<{$VSPHERE.VM.FS.PFREE.MIN.WARN}", "").dependsOn(crit)),
	)

	// Guest NICs: discovered with vm.guest.net.get, values from the guest
	// master item.
	nic := b.rule(DiscoveryRule{
		Name:        "Guest network interface discovery",
		Key:         discoverKey("vm.guest.net.get", obj, props("macAddress", "network", "connected")),
		Delay:       MacroLLDInterval,
		Lifetime:    "7d",
		Description: "Virtual NICs as reported by the guest (vm.guest.net.get).",
		Filter: &Filter{Conditions: []Condition{
			{Macro: "{#VSPHERE.VM.MACADDRESS}", Value: ".+", FormulaID: "A"},
		}},
	})
	nicConn := "vsphere.vm.nic.connected[{#VSPHERE.VM.MACADDRESS}]"
	nic.ItemPrototypes = append(nic.ItemPrototypes,
		dep(gkey, nicConn, "NIC {#VSPHERE.VM.MACADDRESS}: connected", vtUnsigned, "",
			nicValue("nets[i].connected ? 1 : 0", "0")).
			withValueMap("vPoller boolean").withTags("component", "network", "interface", "{#VSPHERE.VM.MACADDRESS}").
			withTriggerProtos(trigger("VM {HOST.NAME}: NIC {#VSPHERE.VM.MACADDRESS} is disconnected", "AVERAGE",
				last(tpl, nicConn)+"=0 and "+last(tpl, "vsphere.vm.power.state")+`="poweredOn"`, "")),
		dep(gkey, "vsphere.vm.nic.ip[{#VSPHERE.VM.MACADDRESS}]", "NIC {#VSPHERE.VM.MACADDRESS}: IP addresses", vtChar, "",
			nicValue("JSON.stringify(nets[i].ipAddress || [])", "'[]'"), discardUnchanged("1d")).
			withTags("component", "network", "interface", "{#VSPHERE.VM.MACADDRESS}"),
	)

	disk, vnic := vmInstances(b, tpl)
	vmGraphs(b, append(disk, vnic...))
	b.valueMap("vPoller boolean", "0", "No", "1", "Yes")
	for _, vm := range []string{vmPower, vmConnection, vmStatus, vmTools} {
		stateValueMap(b, vm)
	}
	return b.finish()
}

// vmExtras adds the VM's numeric states (graphable twins of the text
// state items), its own alarms, vSphere tags and custom attributes.
func vmExtras(b *builder, tpl, mkey string) {
	const obj = "{$VSPHERE.VM.NAME}"
	b.item(stateNum(mkey, "vsphere.vm.power.state.num", "Power state", "runtime.powerState", "unknown", vmPower).
		withTags("component", "status"))
	b.item(stateNum(mkey, "vsphere.vm.connection.state.num", "Connection state", "runtime.connectionState", "invalid", vmConnection).
		withTags("component", "status"))
	b.item(stateNum(mkey, "vsphere.vm.status.num", "Overall status", "overallStatus", "gray", vmStatus).
		withTags("component", "status"))
	b.item(stateNum(mkey, "vsphere.vm.tools.running.num", "VMware Tools running status", "guest.toolsRunningStatus",
		"guestToolsNotRunning", vmTools).withTags("component", "guest"))
	b.graph("VM: state", "vsphere.vm.power.state.num", "vsphere.vm.status.num", "vsphere.vm.tools.running.num")

	alarms(b, alarmSpec{tpl: tpl, method: "vm.alarm.get", short: "vm", what: "VM", obj: obj, entity: MacroVMEntity})
	tags(b, "vm.tag.get", "vm", "VM", obj)
	attributes(b, "vm.attribute.get", "VM", obj)
}

// Keys of the VM's perf-derived items that triggers and graphs use.
const (
	vmCPUReady  = "vsphere.vm.cpu.ready"
	vmCPUCostop = "vsphere.vm.cpu.costop"
)

func vmPerfKey(counter string) string {
	return perfKey("vm.perf.metric.get", "{$VSPHERE.VM.NAME}", counter)
}

// vmPerf adds the VM's performance counters: CPU usage, ready and co-stop
// (the contention figures vSphere admins look at first) and network. Each
// series costs vCenter 1/1,000 of a QueryPerf per interval; what quick
// statistics carry (memory) comes from the master item instead, at no cost.
func vmPerf(b *builder, tpl string) {
	b.macro("{$VSPHERE.VM.CPU.READY.MAX}", "10", "CPU ready (%, per vCPU) above which a warning is raised (over 5 minutes).")
	b.macro("{$VSPHERE.VM.CPU.COSTOP.MAX}", "3", "CPU co-stop (%, per vCPU) above which a warning is raised (over 5 minutes).")

	b.item(perf(vmPerfKey("cpu.usage.percent.average"), "CPU usage (perf)", vtFloat, "%", "0.01",
		"Real-time counter cpu.usage.percent.average (hundredths of a percent in vSphere; needs the VM powered on).").
		withTags("component", "cpu"))
	b.item(perf(vmPerfKey("net.usage.kiloBytesPerSecond.average"), "Network usage (perf)", vtFloat, "Bps", "1024",
		"Real-time counter net.usage.kiloBytesPerSecond.average (needs the VM powered on).").
		withTags("component", "network"))

	// Ready and co-stop: summation counters in ms per real-time sample,
	// summed over all vCPUs (VMware KB 2002181).
	contention := func(counter, raw, key, what, macro string) {
		b.item(perf(vmPerfKey(counter), what+" time (perf)", vtFloat, "ms", "",
			"Real-time counter "+counter+": milliseconds per 20 s sample, summed over all vCPUs.").
			withTags("component", "cpu"))
		b.item(calc(key, what+", in %", "%",
			fmt.Sprintf("100*%s/(%d*%s)", ref(vmPerfKey(counter)), RealtimeSample*1000, ref("vsphere.vm.cpu.num")),
			fmt.Sprintf("%s %% per vCPU = %s ms / (%d s x 1000) x 100 / vCPUs (VMware KB 2002181).", what, raw, RealtimeSample)).
			withTags("component", "cpu", TagOptional, OptionalPerf).
			withTriggers(trigger(fmt.Sprintf("VM {HOST.NAME}: high %s", strings.ToLower(what)), "WARNING",
				"min(/"+tpl+"/"+key+",5m)>"+macro,
				what+" per vCPU stayed above "+macro+"% for 5 minutes: the VM waits for physical CPUs.").
				withOpData(what + ": {ITEM.LASTVALUE1}")))
	}
	contention("cpu.ready.millisecond.summation", "cpu.ready", vmCPUReady, "CPU ready", "{$VSPHERE.VM.CPU.READY.MAX}")
	contention("cpu.costop.millisecond.summation", "cpu.costop", vmCPUCostop, "CPU co-stop", "{$VSPHERE.VM.CPU.COSTOP.MAX}")
}

// vmReclaim adds the memory the host reclaims from the VM (balloon, swap,
// compression), from the VM's quick statistics in the master item: the
// worker's property mirror holds them, so they cost vCenter nothing, where
// the equivalent perf counters (mem.vmmemctl, mem.swapped, mem.compressed)
// would cost three more series per VM. balloonedMemory and swappedMemory
// are in MB, compressedMemory in KB.
func vmReclaim(b *builder, tpl, mkey string) {
	b.macro("{$VSPHERE.VM.MEM.RECLAIM.TIME}", "15m", "How long ballooned or swapped memory must stay above 0 before a warning is raised.")
	reclaim := func(key, name, path, mult, desc string, alert bool) {
		it := dep(mkey, key, name, vtUnsigned, "B", propOr(path, "0"), multiply(mult)).
			withDescription(desc+" From "+path+" (quick statistics).").withTags("component", "memory")
		if alert {
			it = it.withTriggers(trigger("VM {HOST.NAME}: "+strings.ToLower(name)+" for {$VSPHERE.VM.MEM.RECLAIM.TIME}", "WARNING",
				"min(/"+tpl+"/"+key+",{$VSPHERE.VM.MEM.RECLAIM.TIME})>0",
				"The host reclaims memory from this VM: the host is overcommitted or the VM hit a limit.").
				withOpData(name + ": {ITEM.LASTVALUE1}"))
		}
		b.item(it)
	}
	reclaim(vmMemBallooned, "Memory ballooned", "summary.quickStats.balloonedMemory", "1048576", "Memory the balloon driver took from the guest.", true)
	reclaim(vmMemSwapped, "Memory swapped", "summary.quickStats.swappedMemory", "1048576", "Guest memory swapped out by the host.", true)
	reclaim(vmMemCompressed, "Memory compressed", "summary.quickStats.compressedMemory", "1024", "Guest memory compressed by the host.", false)
}

// Keys of the VM's memory reclaim items.
const (
	vmMemBallooned  = "vsphere.vm.memory.ballooned"
	vmMemSwapped    = "vsphere.vm.memory.swapped"
	vmMemCompressed = "vsphere.vm.memory.compressed"
)

// vmGraphs adds the VM's graphs and its dashboard, which also shows the
// graph prototypes of its per-instance discoveries (protos).
func vmGraphs(b *builder, protos []string) {
	b.graph("VM: CPU usage", "vsphere.vm.cpu.used")
	b.graph("VM: CPU contention", vmCPUReady, vmCPUCostop)
	b.graph("VM: memory", "vsphere.vm.memory.size", "vsphere.vm.memory.host.used", "vsphere.vm.memory.guest.used")
	b.graph("VM: memory reclaimed", vmMemBallooned, vmMemSwapped, vmMemCompressed)
	b.graph("VM: network", vmPerfKey("net.usage.kiloBytesPerSecond.average"))
	b.overview("VM overview", []string{"VM: CPU usage", "VM: CPU contention", "VM: memory", "VM: memory reclaimed", "VM: network", "VM: state"}, protos)
}
