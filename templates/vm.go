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
		"guest.ipAddress", "guest.hostName",
		// Zabbix Guest parity (vmParity):
		"guest.toolsVersion", "guest.toolsVersionStatus2", "summary.quickStats.privateMemory",
		"summary.quickStats.sharedMemory", "summary.storage.unshared", "runtime.bootTime", "cluster", "hostMaintenance"))
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

	power := vmScope(trigger(vmNotRunning, "INFO",
		last(tpl, "vsphere.vm.power.state")+`="poweredOff" or `+last(tpl, "vsphere.vm.power.state")+`="suspended"`,
		"The VM is powered off or suspended: its guest OS does not run. INFO because a VM is often powered off on purpose; raise the severity on hosts that must run."),
		"availability")
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
	vmParity(b, tpl, mkey, skey)

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
		vmFSUsed(gkey),
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
	for _, vm := range []string{vmPower, vmConnection, vmStatus, vmTools, vmToolsVersionStatus} {
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

// ---- Zabbix "VMware Guest" parity (issue 17, item 2) ----
//
// The VM's metrics that Zabbix's VMware Guest template (7.0, and what 8.0
// adds) has and the rest of this file did not: the hypervisor running the
// VM (a vMotion shows as a change), VMware Tools version and its upgrade
// status, the CPU contention counters Zabbix reads (latency, readiness,
// swap wait), memory from the perf counters Zabbix reads (usage %,
// consumed, swapped) and quick stats (private, shared), unshared storage,
// guest OS uptime, boot time, the newest snapshot's date, and the restart
// trigger. templates/coverage/zabbix-vmware.tsv maps each to its Zabbix key.

// vmNotRunning is the name of the trigger on the VM's power state.
const vmNotRunning = "VM {HOST.NAME} is not running"

// Keys of the parity items that triggers refer to.
const (
	vmToolsVersion  = "vsphere.vm.tools.version"
	vmToolsStatus   = "vsphere.vm.tools.version.status"
	vmBootTime      = "vsphere.vm.boot.time"
	vmSnapNewest    = "vsphere.vm.snapshot.latest.date"
	vmCPUSwapwait   = "vsphere.vm.cpu.swapwait"
	vmStorageUnshrd = "vsphere.vm.storage.unshared"
	vmHVMaint       = "vsphere.vm.hv.maintenance"
)

// vmScope tags a trigger with its scope (availability, performance,
// capacity, notice), as Zabbix's own templates do, so that actions can
// route by it.
func vmScope(t Trigger, scope string) Trigger {
	t.Tags = append(t.Tags, Tag{Tag: "scope", Value: scope})
	return t
}

// vmClosedByHand makes a trigger on an event (a change, a restart) stay a
// problem until someone closes it: no OK event is generated, since the
// expression stops holding at the next value whether anyone saw it or not
// (Zabbix's own "has been restarted"/"has changed" triggers work so).
func vmClosedByHand(t Trigger) Trigger {
	t.RecoveryMode, t.ManualClose = "NONE", "YES"
	return t
}

// vmParity adds the Guest-parity items and triggers from the VM's masters:
// mkey (vm.get properties) and skey (vm.snapshot.get).
func vmParity(b *builder, tpl, mkey, skey string) {
	const obj = "{$VSPHERE.VM.NAME}"

	// Hypervisor: vm.host.get names the host in runtime.host (the worker's
	// mirror: no vCenter call). A vMotion changes it.
	hv := Item{Name: "Hypervisor name", Key: getKey("vm.host.get", obj), Delay: MacroInterval, Trends: "0", ValueType: vtChar,
		Preprocessing: []Step{jsonPath("$[0].host"), discardUnchanged("1d")},
		Description:   "Name of the ESXi host running the VM (vm.host.get, runtime.host). A change is a vMotion or an HA restart elsewhere."}
	hv = hv.withTags("component", "inventory").withTriggers(vmClosedByHand(vmScope(
		trigger("VM {HOST.NAME} has moved to hypervisor {ITEM.VALUE1}", "INFO",
			"change(/"+tpl+"/"+hv.Key+")=1 and length(last(/"+tpl+"/"+hv.Key+"))>0",
			"The VM runs on another ESXi host than at the previous poll (vMotion, DRS, HA). Close it by hand once seen."), "notice")))
	b.item(hv)

	// Placement: the worker answers the pseudo-property cluster (the name
	// of the cluster of the VM's host) from its mirror. Not datacenter:
	// its parent chain runs through folders, which the mirror does not
	// watch (govmomi's simulator deadlocks moving objects into a folder
	// its collectors watch), so it would cost vCenter calls per VM and poll.
	b.item(dep(mkey, "vsphere.vm.cluster.name", "Cluster name", vtChar, "", propOr("cluster", ""), discardUnchanged("1d")).
		withDescription("Name of the cluster of the ESXi host running the VM (the worker's pseudo-property cluster); empty on a standalone host. Changes with a vMotion to another cluster.").
		withTags("component", "inventory"))

	// The hypervisor's maintenance mode as the VM sees it (Zabbix 8.0):
	// the worker's pseudo-property hostMaintenance, from its mirror.
	b.item(dep(mkey, vmHVMaint, "Hypervisor in maintenance mode", vtUnsigned, "", javascript(vmHostMaintJS)).
		withValueMap(vmBoolean).
		withDescription("Whether the ESXi host running the VM is in maintenance mode (the worker's pseudo-property hostMaintenance: runtime.inMaintenanceMode of runtime.host); 0 when unknown.").
		withTags("component", "status").
		withTriggers(vmScope(trigger("VM {HOST.NAME}: hypervisor is in maintenance mode", "INFO",
			last(tpl, vmHVMaint)+"=1",
			"The ESXi host running the VM is in maintenance mode: the VM is about to move or stop, and problems on it may be expected."), "notice")))

	// VMware Tools: the version number the guest reports and how it
	// compares with the host's bundled Tools.
	b.item(dep(mkey, vmToolsVersion, "VMware Tools version", vtChar, "", propOr("guest.toolsVersion", ""), discardUnchanged("1d")).
		withDescription("VMware Tools version as the guest reports it (guest.toolsVersion, an integer such as 12352 = 12.3.5; 0 without Tools).").
		withTags("component", "guest"))
	b.item(dep(mkey, vmToolsStatus, "VMware Tools version status", vtUnsigned, "",
		stateJS(vmToolsVersionStatus, "guest.toolsVersionStatus2", "guestToolsNotInstalled"), discardUnchanged("1d")).
		withValueMap(vmToolsVersionStatus).
		withDescription("How the installed VMware Tools compare with the version the host bundles (guest.toolsVersionStatus2); the value map names it.").
		withTags("component", "guest").
		withTriggers(vmScope(trigger("VM {HOST.NAME}: VMware Tools out of date", "WARNING",
			fmt.Sprintf("last(/%[1]s/%[2]s)=1 or last(/%[1]s/%[2]s)=4 or last(/%[1]s/%[2]s)=6", tpl, vmToolsStatus),
			"VMware Tools in the guest need an upgrade: older than the host's, too old to be supported, or a version with known problems (blacklisted). Tools that are supported but not the newest do not fire.").
			withOpData("Status: {ITEM.LASTVALUE1}"), "notice")))

	// Memory from quick statistics (MB): free, like vmReclaim.
	b.item(dep(mkey, "vsphere.vm.memory.private", "Memory private", vtUnsigned, "B",
		propOr("summary.quickStats.privateMemory", "0"), multiply("1048576")).
		withDescription("Host memory backing the VM's memory that is not shared with other VMs. From summary.quickStats.privateMemory (quick statistics).").
		withTags("component", "memory"))
	b.item(dep(mkey, "vsphere.vm.memory.shared", "Memory shared", vtUnsigned, "B",
		propOr("summary.quickStats.sharedMemory", "0"), multiply("1048576")).
		withDescription("Guest memory shared with other VMs or within the VM through transparent page sharing. From summary.quickStats.sharedMemory (quick statistics).").
		withTags("component", "memory"))
	b.item(dep(mkey, vmStorageUnshrd, "Storage unshared", vtUnsigned, "B", propOr("summary.storage.unshared", "0")).
		withDescription("Bytes on datastores that only this VM uses (not shared with linked clones). From summary.storage.unshared.").
		withTags("component", "storage"))

	// Boot time (Zabbix 8.0: runtime.bootTime): unset while powered off.
	b.item(dep(mkey, vmBootTime, "Boot time", vtUnsigned, "unixtime", javascript(vmBootTimeJS), discardUnchanged("1d")).
		withDescription("When the VM was last powered on (runtime.bootTime); 0 while it is powered off or vCenter does not report it.").
		withTags("component", "system"))

	// Newest snapshot: its creation time, 0 without snapshots.
	b.item(dep(skey, vmSnapNewest, "Newest snapshot date", vtUnsigned, "unixtime", javascript(vmSnapshotNewestJS)).
		withDescription("Creation time of the newest snapshot in the tree; 0 without snapshots.").
		withTags("component", "snapshot"))

	// Restart: power-on uptime went down while the VM runs (a reset), or
	// the VM runs again after a poll that saw it off (a power cycle).
	up := "vsphere.vm.uptime"
	restarted := vmClosedByHand(vmScope(trigger("VM {HOST.NAME} has been restarted", "INFO",
		fmt.Sprintf("last(/%[1]s/%[2]s)>0 and (last(/%[1]s/%[2]s)<last(/%[1]s/%[2]s,#2) or last(/%[1]s/%[2]s,#2)=0)", tpl, up),
		"The VM's power-on uptime went down (reset) or the VM runs again after it was seen powered off. Close it by hand once seen."), "notice"))
	// The trigger belongs to the uptime item, defined above in VirtualMachine.
	for i := range b.t.Items {
		if b.t.Items[i].Key == up {
			b.t.Items[i] = b.t.Items[i].withTriggers(restarted)
		}
	}

	vmParityPerf(b, tpl, restarted)
}

// vmParityPerf adds the performance counters Zabbix's Guest template reads
// and ours did not: CPU latency, readiness and swap wait, memory usage,
// consumed and swapped, and the guest OS uptime (with its restart trigger,
// which restarted, the power-on one, suppresses). Like every perf item they
// are optional: the vCenter's statistics level decides whether they exist,
// and a powered-off VM has none.
func vmParityPerf(b *builder, tpl string, restarted Trigger) {
	pct := func(counter, name, desc string) string {
		b.item(perf(vmPerfKey(counter), name, vtFloat, "%", "0.01",
			"Real-time counter "+counter+" (hundredths of a percent in vSphere). "+desc).withTags("component", "cpu"))
		return vmPerfKey(counter)
	}
	lat := pct("cpu.latency.percent.average", "CPU latency (perf)",
		"Share of time the VM could not run because it waited for physical CPU (ready, co-stop, power management, hyper-threading, swap wait together).")
	rdy := pct("cpu.readiness.percent.average", "CPU readiness (perf)",
		"Share of time the VM was ready to run but not scheduled, over all vCPUs together; vsphere.vm.cpu.ready is the same per vCPU from cpu.ready.")

	const swap = "cpu.swapwait.millisecond.summation"
	b.item(perf(vmPerfKey(swap), "CPU swap wait time (perf)", vtFloat, "ms", "",
		"Real-time counter "+swap+": milliseconds per 20 s sample the vCPUs waited for memory the host swapped out to be read back, summed over all vCPUs.").
		withTags("component", "cpu"))
	b.item(calc(vmCPUSwapwait, "CPU swap wait, in %", "%",
		fmt.Sprintf("100*%s/(%d*%s)", ref(vmPerfKey(swap)), RealtimeSample*1000, ref("vsphere.vm.cpu.num")),
		fmt.Sprintf("CPU swap wait %% per vCPU = cpu.swapwait ms / (%d s x 1000) x 100 / vCPUs, as CPU ready.", RealtimeSample)).
		withTags("component", "cpu", TagOptional, OptionalPerf))
	b.graph("VM: CPU latency", lat, rdy, vmCPUSwapwait)

	mem := func(counter, name, units, mult, desc string) string {
		b.item(perf(vmPerfKey(counter), name, vtFloat, units, mult, "Real-time counter "+counter+". "+desc).withTags("component", "memory"))
		return vmPerfKey(counter)
	}
	mem("mem.usage.percent.average", "Memory usage (perf)", "%", "0.01",
		"Active guest memory as a share of the configured memory (hundredths of a percent in vSphere).")
	consumed := mem("mem.consumed.kiloBytes.average", "Memory consumed (perf)", "B", "1024",
		"Host memory the VM consumes (quick statistics give the same as vsphere.vm.memory.host.used, at no cost).")
	swapped := mem("mem.swapped.kiloBytes.average", "Memory swapped (perf)", "B", "1024",
		"Guest memory the host swapped out (quick statistics give the same as vsphere.vm.memory.swapped, at no cost).")
	b.graph("VM: memory (perf)", consumed, swapped)

	const osup = "sys.osUptime.second.latest"
	b.item(perf(vmPerfKey(osup), "Guest OS uptime", vtUnsigned, "uptime", "",
		"Real-time counter "+osup+": seconds since the guest OS booted (needs VMware Tools). A reboot inside the guest resets it; the power-on uptime (vsphere.vm.uptime) does not.").
		withTags("component", "system").
		withTriggers(vmClosedByHand(vmScope(trigger("VM {HOST.NAME}: guest OS has been restarted", "INFO",
			fmt.Sprintf("last(/%s/%s)<10m", tpl, vmPerfKey(osup)),
			"The guest OS booted less than 10 minutes ago (a reboot inside the guest, or a power cycle, which the VM restart trigger already reports). Close it by hand once seen."),
			"notice").dependsOn(restarted))))
}

// vmFSUsed is the used bytes of a discovered guest filesystem (total minus
// free, from the guest master item gkey).
func vmFSUsed(gkey string) Item {
	return dep(gkey, "vsphere.vm.fs.used[{#VSPHERE.VM.DISKPATH}]", "Filesystem {#VSPHERE.VM.DISKPATH}: used", vtUnsigned, "B",
		diskValue("disks[i].capacity - disks[i].freeSpace")).
		withDescription("Used space of the guest filesystem: capacity minus free space, as VMware Tools report them.").
		withTags("component", "filesystem", "filesystem", "{#VSPHERE.VM.DISKPATH}")
}

// vmTimeFromJS turns a vSphere time as the worker encodes it (Python's
// str(datetime): "2015-02-13 09:16:50.916096+00:00") into unix seconds,
// 0 when it is not one.
const vmTimeFromJS = `
function unix(v) {
    var m = /^(\d{4})-(\d{2})-(\d{2})[ T](\d{2}):(\d{2}):(\d{2})(?:\.\d+)?(?:([+-])(\d{2}):(\d{2}))?/.exec(String(v));
    if (!m) { return 0; }
    var t = Date.UTC(+m[1], +m[2] - 1, +m[3], +m[4], +m[5], +m[6]) / 1000;
    if (m[7]) { t -= (m[7] === '+' ? 1 : -1) * (+m[8] * 3600 + +m[9] * 60); }
    return t;
}`

// vmBootTimeJS reads runtime.bootTime from the VM's master reply.
const vmBootTimeJS = vmTimeFromJS + `
return unix(JSON.parse(value)[0]['runtime.bootTime']);
`

// vmSnapshotNewestJS returns the creation time of the newest snapshot of
// a vm.snapshot.get reply, 0 when there is none.
const vmSnapshotNewestJS = vmTimeFromJS + `
var s = JSON.parse(value), newest = 0;
for (var i = 0; i < s.length; i++) { newest = Math.max(newest, unix(s[i].createTime)); }
return newest;
`

// vmHostMaintJS turns the pseudo-property hostMaintenance ("true",
// "false", "" without a host) into 1 or 0.
const vmHostMaintJS = `
return JSON.parse(value)[0]['hostMaintenance'] === 'true' ? 1 : 0;
`
