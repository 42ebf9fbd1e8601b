package templates

// Cluster returns the template of one cluster (ClusterComputeResource).
func Cluster() Template {
	const tpl, obj = TplCluster, "{$VSPHERE.CLUSTER.NAME}"
	b := newTemplate(tpl, `
One cluster seen through vPoller: capacity, hosts and status from one
vpoller.get request per interval.`)
	b.macro(MacroAgent, "", "vPoller agent name (vCenter/ESXi as configured in the vPoller worker).")
	b.macro(obj, "", "The cluster as vPoller looks it up: its managed object id, set by cluster discovery (a name works too).")
	b.macro(MacroClusterEntity, "", "Current vSphere name of the cluster (set by discovery), matched against alarm entities.")
	b.macro(MacroInterval, "1m", "Polling interval of the vPoller items.")

	mkey := getKey("cluster.get", obj, props(
		"name", "overallStatus", "summary.numHosts", "summary.numEffectiveHosts",
		"summary.totalCpu", "summary.effectiveCpu", "summary.totalMemory", "summary.effectiveMemory"))
	b.item(master("Cluster: raw properties", mkey,
		"All cluster properties in one vCenter request; the other items depend on it."))
	red := trigger("Cluster {HOST.NAME} overall status is red", "HIGH",
		last(tpl, "vsphere.cluster.status")+`="red"`, "vCenter reports a problem with the cluster (HA, DRS, capacity).")
	yellow := trigger("Cluster {HOST.NAME} overall status is yellow", "WARNING",
		last(tpl, "vsphere.cluster.status")+`="yellow"`, "vCenter reports that the cluster might have a problem.").dependsOn(red)
	b.item(dep(mkey, "vsphere.cluster.status", "Overall status", vtChar, "", prop("overallStatus")).
		withTags("component", "status").withTriggers(red, yellow))
	b.item(dep(mkey, "vsphere.cluster.hosts", "Hosts", vtUnsigned, "", propOr("summary.numHosts", "0")).
		withTags("component", "hosts"))
	b.item(dep(mkey, "vsphere.cluster.hosts.effective", "Hosts available", vtUnsigned, "", propOr("summary.numEffectiveHosts", "0")).
		withTags("component", "hosts").
		withTriggers(trigger("Cluster {HOST.NAME}: not all hosts are available", "WARNING",
			last(tpl, "vsphere.cluster.hosts.effective")+"<"+last(tpl, "vsphere.cluster.hosts"),
			"Some hosts of the cluster are in maintenance mode, disconnected or failed.")))
	b.item(dep(mkey, "vsphere.cluster.cpu.total", "CPU capacity", vtUnsigned, "Hz",
		propOr("summary.totalCpu", "0"), multiply("1000000")).withTags("component", "cpu"))
	b.item(dep(mkey, "vsphere.cluster.cpu.effective", "CPU available to VMs", vtUnsigned, "Hz",
		propOr("summary.effectiveCpu", "0"), multiply("1000000")).withTags("component", "cpu"))
	b.item(dep(mkey, "vsphere.cluster.memory.total", "Memory capacity", vtUnsigned, "B",
		propOr("summary.totalMemory", "0")).withTags("component", "memory"))
	b.item(dep(mkey, "vsphere.cluster.memory.effective", "Memory available to VMs", vtUnsigned, "B",
		propOr("summary.effectiveMemory", "0"), multiply("1048576")).
		withDescription("summary.effectiveMemory is in MB in vSphere.").withTags("component", "memory"))
	b.item(stateNum(mkey, "vsphere.cluster.status.num", "Overall status", "overallStatus", "gray", vmStatus).
		withTags("component", "status"))
	// A cluster lists its hosts' and VMs' alarms too: keep its own.
	b.macro(MacroLLDInterval, "1h", "Interval of discoveries (alarms are discovered every {$VPOLLER.INTERVAL}).")
	alarms(b, alarmSpec{tpl: tpl, method: "cluster.alarm.get", short: "cluster", what: "Cluster", obj: obj, entity: MacroClusterEntity})
	tags(b, "cluster.tag.get", "cluster", "cluster", obj)
	clusterPerf(b)
	b.valueMap("vPoller boolean", "0", "No", "1", "Yes")
	stateValueMap(b, vmStatus)
	return b.finish()
}

func clusterPerfKey(counter string) string {
	return perfHistKey("cluster.perf.metric.get", "{$VSPHERE.CLUSTER.NAME}", counter, MacroPerfInterval)
}

// clusterPerf adds the cluster's performance counters. Clusters have no
// real-time statistics: the counters come from the historical interval
// {$VSPHERE.PERF.INTERVAL} (5-minute rollups by default), so they lag the
// hosts' by up to one interval (plus vCenter's rollup delay).
func clusterPerf(b *builder) {
	b.macro(MacroPerfInterval, "past day", "Historical interval of the cluster's perf counters (name as in vCenter, any case).")
	hist := " (historical interval {$VSPHERE.PERF.INTERVAL})."
	b.item(perf(clusterPerfKey("cpu.usagemhz.megaHertz.average"), "CPU used (perf)", vtFloat, "Hz", "1000000",
		"Counter cpu.usagemhz.megaHertz.average: CPU used by all hosts, MHz in vSphere"+hist).withTags("component", "cpu"))
	b.item(perf(clusterPerfKey("cpu.usage.percent.average"), "CPU usage (perf)", vtFloat, "%", "0.01",
		"Counter cpu.usage.percent.average, hundredths of a percent in vSphere"+hist).withTags("component", "cpu"))
	b.item(perf(clusterPerfKey("mem.consumed.kiloBytes.average"), "Memory consumed (perf)", vtFloat, "B", "1024",
		"Counter mem.consumed.kiloBytes.average: host memory consumed by all VMs, KB in vSphere"+hist).withTags("component", "memory"))
	b.item(perf(clusterPerfKey("mem.usage.percent.average"), "Memory usage (perf)", vtFloat, "%", "0.01",
		"Counter mem.usage.percent.average, hundredths of a percent in vSphere"+hist).withTags("component", "memory"))

	b.graph("Cluster: CPU", "vsphere.cluster.cpu.total", "vsphere.cluster.cpu.effective", clusterPerfKey("cpu.usagemhz.megaHertz.average"))
	b.graph("Cluster: memory", "vsphere.cluster.memory.total", clusterPerfKey("mem.consumed.kiloBytes.average"))
	b.graph("Cluster: utilisation", clusterPerfKey("cpu.usage.percent.average"), clusterPerfKey("mem.usage.percent.average"))
	b.graph("Cluster: state", "vsphere.cluster.status.num", "vsphere.cluster.hosts", "vsphere.cluster.hosts.effective")
	b.dashboard("Cluster overview", "Cluster: CPU", "Cluster: memory", "Cluster: utilisation", "Cluster: state")
}
