package templates

// TplResourcePool is the template of one resource pool.
const TplResourcePool = "vPoller Resource Pool"

// Macros of the resource pool template, set by the vCenter template's
// resource pool discovery: the id the items query by (every root pool is
// named "Resources") and the visible name.
const (
	MacroResourcePoolID   = "{$VSPHERE.RESOURCEPOOL.ID}"
	MacroResourcePoolName = "{$VSPHERE.RESOURCEPOOL.NAME}"
)

// ResourcePool returns the template of one resource pool: usage against
// its limits and its status, from one vpoller.get request per interval.
func ResourcePool() Template {
	const tpl, obj = TplResourcePool, MacroResourcePoolID
	b := newTemplate(tpl, `
One resource pool seen through vPoller. Discovered hosts get it from the
"vPoller vCenter" template with {$VSPHERE.RESOURCEPOOL.ID} set to the pool's
managed object id (vCenter names every root pool "Resources") and
{$VSPHERE.RESOURCEPOOL.NAME} to its name. CPU and memory usage, allocation
(reservation, limit) and status come from one vpoller.get request per interval.`)
	b.macro(MacroAgent, "", "vPoller agent name (vCenter/ESXi as configured in the vPoller worker).")
	b.macro(obj, "", "Managed object id of the resource pool (resgroup-N), set by resource pool discovery.")
	b.macro(MacroResourcePoolName, "", "Name of the resource pool, set by resource pool discovery.")
	b.macro(MacroInterval, "1m", "Polling interval of the vPoller items.")
	b.macro("{$VSPHERE.RESOURCEPOOL.CPU.PUSED.MAX}", "90", "CPU usage, in % of the pool's CPU limit, above which a warning is raised (pools with a limit only).")
	b.macro("{$VSPHERE.RESOURCEPOOL.MEM.PUSED.MAX}", "90", "Memory usage, in % of the pool's memory limit, above which a warning is raised (pools with a limit only).")

	mkey := getKey("resource.pool.get", obj, props(
		"name", "overallStatus", "runtime.cpu.overallUsage", "runtime.memory.overallUsage",
		"summary.quickStats.overallCpuUsage", "summary.quickStats.guestMemoryUsage", "summary.quickStats.hostMemoryUsage",
		"config.cpuAllocation.limit", "config.cpuAllocation.reservation",
		"config.memoryAllocation.limit", "config.memoryAllocation.reservation", "vm"))
	b.item(master("Resource pool: raw properties", mkey,
		"All resource pool properties in one vCenter request; the other items depend on it."))

	red := trigger("Resource pool {$VSPHERE.RESOURCEPOOL.NAME} overall status is red", "HIGH",
		last(tpl, "vsphere.rp.status")+`="red"`, "vCenter reports a problem with the resource pool.")
	yellow := trigger("Resource pool {$VSPHERE.RESOURCEPOOL.NAME} overall status is yellow", "WARNING",
		last(tpl, "vsphere.rp.status")+`="yellow"`, "vCenter reports that the resource pool might have a problem.").dependsOn(red)
	b.item(dep(mkey, "vsphere.rp.status", "Overall status", vtChar, "", prop("overallStatus")).
		withTags("component", "status").withTriggers(red, yellow))

	b.item(dep(mkey, "vsphere.rp.cpu.used", "CPU used", vtUnsigned, "Hz",
		propOr("runtime.cpu.overallUsage", "0"), multiply("1000000")).
		withDescription("CPU used by the pool's VMs (runtime.cpu.overallUsage, MHz in vSphere).").withTags("component", "cpu"))
	b.item(dep(mkey, "vsphere.rp.memory.used", "Memory used", vtUnsigned, "B",
		propOr("runtime.memory.overallUsage", "0")).
		withDescription("Memory used by the pool's VMs (runtime.memory.overallUsage).").withTags("component", "memory"))
	b.item(dep(mkey, "vsphere.rp.memory.guest.used", "Guest memory active", vtUnsigned, "B",
		propOr("summary.quickStats.guestMemoryUsage", "0"), multiply("1048576")).
		withDescription("summary.quickStats.guestMemoryUsage (MB in vSphere; 0 when vCenter does not report it).").withTags("component", "memory"))
	b.item(dep(mkey, "vsphere.rp.memory.host.used", "Host memory consumed", vtUnsigned, "B",
		propOr("summary.quickStats.hostMemoryUsage", "0"), multiply("1048576")).
		withDescription("summary.quickStats.hostMemoryUsage (MB in vSphere; 0 when vCenter does not report it).").withTags("component", "memory"))
	b.item(dep(mkey, "vsphere.rp.vms", "Virtual machines", vtUnsigned, "", javascript(`
var o = JSON.parse(value)[0];
return (o['vm'] || []).length;`)).withDescription("VMs directly in the pool (not in child pools).").withTags("component", "inventory"))

	// Allocation: -1 is "unlimited" in vSphere; Hz and B here.
	alloc := func(key, name, path, mult, units, desc string) Item {
		return dep(mkey, key, name, vtFloat, units, javascript(`
var v = JSON.parse(value)[0]['`+path+`'];
if (v === undefined || v === null || Number(v) < 0) { return -1; }
return Number(v) * `+mult+`;`)).withDescription(desc+" -1: unlimited.").withValueMap("vPoller unlimited").
			withTags("component", "allocation")
	}
	b.item(alloc("vsphere.rp.cpu.limit", "CPU limit", "config.cpuAllocation.limit", "1000000", "Hz",
		"CPU limit of the pool (config.cpuAllocation.limit, MHz in vSphere)."))
	b.item(alloc("vsphere.rp.cpu.reservation", "CPU reservation", "config.cpuAllocation.reservation", "1000000", "Hz",
		"CPU reservation of the pool (config.cpuAllocation.reservation, MHz in vSphere)."))
	b.item(alloc("vsphere.rp.memory.limit", "Memory limit", "config.memoryAllocation.limit", "1048576", "B",
		"Memory limit of the pool (config.memoryAllocation.limit, MB in vSphere)."))
	b.item(alloc("vsphere.rp.memory.reservation", "Memory reservation", "config.memoryAllocation.reservation", "1048576", "B",
		"Memory reservation of the pool (config.memoryAllocation.reservation, MB in vSphere)."))

	near := func(what, used, limit, macro string) Trigger {
		return trigger("Resource pool {$VSPHERE.RESOURCEPOOL.NAME}: "+what+" usage above "+macro+"% of its limit", "WARNING",
			last(tpl, limit)+">0 and "+last(tpl, used)+">"+last(tpl, limit)+"*"+macro+"/100",
			"The pool's VMs use nearly all the "+what+" its limit allows: they will be throttled.")
	}
	// The triggers hang on the limit items (they reference both).
	for i := range b.t.Items {
		switch b.t.Items[i].Key {
		case "vsphere.rp.cpu.limit":
			b.t.Items[i].Triggers = append(b.t.Items[i].Triggers, near("CPU", "vsphere.rp.cpu.used", "vsphere.rp.cpu.limit", "{$VSPHERE.RESOURCEPOOL.CPU.PUSED.MAX}"))
		case "vsphere.rp.memory.limit":
			b.t.Items[i].Triggers = append(b.t.Items[i].Triggers, near("memory", "vsphere.rp.memory.used", "vsphere.rp.memory.limit", "{$VSPHERE.RESOURCEPOOL.MEM.PUSED.MAX}"))
		}
	}

	b.graph("Resource pool: CPU", "vsphere.rp.cpu.used", "vsphere.rp.cpu.reservation")
	b.graph("Resource pool: memory", "vsphere.rp.memory.used", "vsphere.rp.memory.host.used", "vsphere.rp.memory.guest.used")
	b.dashboard("Resource pool overview", "Resource pool: CPU", "Resource pool: memory")
	b.valueMap("vPoller unlimited", "-1", "Unlimited")
	return b.finish()
}
