package templates

import (
	"fmt"
	"strings"
)

// Per-instance performance: discoveries of the instances a counter
// reports on (a VM's virtual disks and NICs, a host's physical NICs,
// datastores and LUNs) and, per instance, items polling the counters by
// name and instance. The instances come from the worker's property mirror
// (vm.vdisk.discover, vm.vnic.discover, host.pnic.discover,
// host.datastore.discover, host.lun.discover: docs/methods.md), so the
// discoveries cost vCenter nothing; each per-instance item is one perf
// series, polled every {$VPOLLER.PERF.INSTANCE.INTERVAL} (5 minutes by
// default, a fifth of the aggregate counters' cost per series).

// MacroPerfInstanceInterval is the polling interval of per-instance perf
// items.
const MacroPerfInstanceInterval = "{$VPOLLER.PERF.INSTANCE.INTERVAL}"

// perfInstKey polls the newest sample of one instance of a counter.
func perfInstKey(method, nameMacro, counter, instance string) string {
	return pollKey(method, nameMacro, "value", "", "", "", counter, instance)
}

// instanceRule is a discovery of one kind of perf instance of the object.
type instanceRule struct {
	name, method, obj, desc string
	// filter, when set, keeps instances whose macro matches the regexp.
	filter *Condition
}

func (b *builder) instanceDiscovery(r instanceRule) *DiscoveryRule {
	dr := DiscoveryRule{
		Name:        r.name,
		Key:         discoverKey(r.method, r.obj),
		Delay:       MacroLLDInterval,
		Lifetime:    "7d",
		Description: r.desc + " From the worker's property mirror (" + r.method + "): no vCenter call.",
	}
	if r.filter != nil {
		c := *r.filter
		c.FormulaID = "A"
		dr.Filter = &Filter{Conditions: []Condition{c}}
	}
	return b.rule(dr)
}

// instPerf is one per-instance perf item prototype.
type instPerf struct {
	counter, name, units, mult, desc string
}

func instItem(method, obj, instance, label string, p instPerf, tags ...string) Item {
	it := perf(perfInstKey(method, obj, p.counter, instance), label+": "+p.name, vtFloat, p.units, p.mult,
		"Real-time counter "+p.counter+", instance "+instance+". "+p.desc)
	it.Delay = MacroPerfInstanceInterval
	return it.withTags(tags...)
}

// summationPerSecond turns a real-time *.summation counter (a count per
// 20 s sample) into a rate per second.
var summationPerSecond = fmt.Sprintf("%g", 1.0/RealtimeSample)

// latencyTrigger raises a warning when an instance's latency stayed above
// the macro for 15 minutes (three polls at the default interval).
func latencyTrigger(tpl, key, what, macro string) Trigger {
	return trigger(what+" above "+macro+" ms", "WARNING",
		"min(/"+tpl+"/"+key+",15m)>"+macro,
		"The latency stayed above "+macro+" ms for 15 minutes.").withOpData("Latency: {ITEM.LASTVALUE1}")
}

// vmInstances adds the VM's virtual disk and virtual NIC discoveries.
func vmInstances(b *builder, tpl string) (disk, nic []string) {
	const obj, method = "{$VSPHERE.VM.NAME}", "vm.perf.metric.get"
	b.macro(MacroPerfInstanceInterval, "5m", "Polling interval of the per-instance perf items (virtual disks, virtual NICs): one perf series each.")
	b.macro("{$VSPHERE.VM.VDISK.LATENCY.MAX}", "30", "Virtual disk read or write latency (ms) above which a warning is raised (15 minutes).")

	const dinst, dlabel = "{#VSPHERE.VM.VDISK.INSTANCE}", "Virtual disk {#VSPHERE.VM.VDISK.LABEL} ({#VSPHERE.VM.VDISK.INSTANCE})"
	r := b.instanceDiscovery(instanceRule{name: "Virtual disk discovery", method: "vm.vdisk.discover", obj: obj,
		desc: "The VM's virtual disks, by the perf instance vSphere gives them (scsi0:0, sata0:1, nvme0:0)."})
	tags := []string{"component", "storage", "disk", "{#VSPHERE.VM.VDISK.LABEL}"}
	var keys []string
	for _, p := range []instPerf{
		{"virtualDisk.totalReadLatency.millisecond.average", "read latency", "ms", "", "Average time a read takes."},
		{"virtualDisk.totalWriteLatency.millisecond.average", "write latency", "ms", "", "Average time a write takes."},
		{"virtualDisk.numberReadAveraged.number.average", "read IOPS", "iops", "", "Reads per second."},
		{"virtualDisk.numberWriteAveraged.number.average", "write IOPS", "iops", "", "Writes per second."},
	} {
		it := instItem(method, obj, dinst, dlabel, p, tags...)
		if strings.Contains(p.counter, "Latency") {
			it = it.withTriggerProtos(latencyTrigger(tpl, it.Key, "VM {HOST.NAME}: "+dlabel+" "+p.name, "{$VSPHERE.VM.VDISK.LATENCY.MAX}"))
		}
		r.ItemPrototypes = append(r.ItemPrototypes, it)
		keys = append(keys, it.Key)
	}
	b.graphProto(r, dlabel+": latency", keys[0], keys[1])
	b.graphProto(r, dlabel+": IOPS", keys[2], keys[3])
	disk = []string{dlabel + ": latency", dlabel + ": IOPS"}

	const ninst, nlabel = "{#VSPHERE.VM.VNIC.INSTANCE}", "vNIC {#VSPHERE.VM.VNIC.LABEL} ({#VSPHERE.VM.VNIC.MACADDRESS})"
	r = b.instanceDiscovery(instanceRule{name: "Virtual NIC discovery", method: "vm.vnic.discover", obj: obj,
		desc: "The VM's virtual NICs, by the perf instance vSphere gives them (the device key, 4000)."})
	tags = []string{"component", "network", "interface", "{#VSPHERE.VM.VNIC.LABEL}"}
	keys = nil
	for _, p := range []instPerf{
		{"net.bytesRx.kiloBytesPerSecond.average", "bytes received", "Bps", "1024", ""},
		{"net.bytesTx.kiloBytesPerSecond.average", "bytes sent", "Bps", "1024", ""},
		{"net.packetsRx.number.summation", "packets received", "pps", summationPerSecond, "Packets per 20 s sample, as a rate per second."},
		{"net.packetsTx.number.summation", "packets sent", "pps", summationPerSecond, "Packets per 20 s sample, as a rate per second."},
		{"net.droppedRx.number.summation", "receive packets dropped", "pps", summationPerSecond, "Dropped per 20 s sample, as a rate per second."},
		{"net.droppedTx.number.summation", "transmit packets dropped", "pps", summationPerSecond, "Dropped per 20 s sample, as a rate per second."},
	} {
		it := instItem(method, obj, ninst, nlabel, p, tags...)
		r.ItemPrototypes = append(r.ItemPrototypes, it)
		keys = append(keys, it.Key)
	}
	b.graphProto(r, nlabel+": traffic", keys[0], keys[1])
	b.graphProto(r, nlabel+": packets", keys[2], keys[3], keys[4], keys[5])
	nic = []string{nlabel + ": traffic", nlabel + ": packets"}
	return disk, nic
}

// hvInstances adds the host's physical NIC, datastore and LUN discoveries.
func hvInstances(b *builder, tpl string) (protos []string) {
	const obj, method = "{$VSPHERE.HV.NAME}", "host.perf.metric.get"
	b.macro(MacroPerfInstanceInterval, "5m", "Polling interval of the per-instance perf items (NICs, datastores, LUNs): one perf series each.")
	b.macro("{$VSPHERE.HV.NIC.ERRORS.MAX}", "0", "Packet errors per second (received or sent) on a physical NIC above which a warning is raised (15 minutes).")
	b.macro("{$VSPHERE.HV.NIC.DROPS.MAX}", "0", "Dropped packets per second (received or sent) on a physical NIC above which a warning is raised (15 minutes).")
	b.macro("{$VSPHERE.HV.DATASTORE.LATENCY.MAX}", "30", "Datastore read or write latency (ms) seen by the host above which a warning is raised (15 minutes).")
	b.macro("{$VSPHERE.HV.LUN.LATENCY.MAX}", "20", "Device latency (ms, DAVG) of a LUN above which a warning is raised (15 minutes).")

	// Physical NICs: traffic, errors and drops.
	const pinst, plabel = "{#VSPHERE.HOST.PNIC.INSTANCE}", "NIC {#VSPHERE.HOST.PNIC.INSTANCE}"
	r := b.instanceDiscovery(instanceRule{name: "Physical NIC discovery", method: "host.pnic.discover", obj: obj,
		desc: "The host's physical NICs (vmnic0, ...)."})
	tags := []string{"component", "network", "interface", pinst}
	keys := map[string]string{}
	for _, p := range []instPerf{
		{"net.bytesRx.kiloBytesPerSecond.average", "bytes received", "Bps", "1024", ""},
		{"net.bytesTx.kiloBytesPerSecond.average", "bytes sent", "Bps", "1024", ""},
		{"net.errorsRx.number.summation", "receive errors", "pps", summationPerSecond, "Errors per 20 s sample, as a rate per second."},
		{"net.errorsTx.number.summation", "transmit errors", "pps", summationPerSecond, "Errors per 20 s sample, as a rate per second."},
		{"net.droppedRx.number.summation", "receive packets dropped", "pps", summationPerSecond, "Dropped per 20 s sample, as a rate per second."},
		{"net.droppedTx.number.summation", "transmit packets dropped", "pps", summationPerSecond, "Dropped per 20 s sample, as a rate per second."},
	} {
		it := instItem(method, obj, pinst, plabel, p, tags...)
		keys[p.name] = it.Key
		r.ItemPrototypes = append(r.ItemPrototypes, it)
	}
	both := func(what, a, c, macro string) Trigger {
		return trigger("Hypervisor {HOST.NAME}: "+plabel+" "+what+" above {$"+macro+"}/s", "WARNING",
			"min(/"+tpl+"/"+keys[a]+",15m)>{$"+macro+"} or min(/"+tpl+"/"+keys[c]+",15m)>{$"+macro+"}",
			"The NIC's "+what+" stayed above {$"+macro+"} per second for 15 minutes (cabling, duplex, driver or an overloaded uplink).").
			withOpData("In: {ITEM.LASTVALUE1}, out: {ITEM.LASTVALUE2}")
	}
	r.TriggerProtos = append(r.TriggerProtos,
		both("errors", "receive errors", "transmit errors", "VSPHERE.HV.NIC.ERRORS.MAX"),
		both("drops", "receive packets dropped", "transmit packets dropped", "VSPHERE.HV.NIC.DROPS.MAX"))
	// Link speed from one host.pnic.discover per host and interval (the
	// worker's mirror), and a trigger when a NIC whose link was up goes
	// down (NICs never cabled stay quiet).
	pkey := getKey("host.pnic.discover", obj)
	b.item(master("Hypervisor: raw physical NICs", pkey,
		"Physical NICs of the host (host.pnic.discover: instance, mac, driver, linkSpeed in Mb/s, 0 when the link is down), from the worker's property mirror."))
	speed := "vsphere.hv.nic.speed[" + pinst + "]"
	r.ItemPrototypes = append(r.ItemPrototypes,
		dep(pkey, speed, plabel+": link speed", vtUnsigned, "bps",
			jsonPath("$[?(@.instance=='"+pinst+"')].linkSpeed.first()"), multiply("1000000")).
			withDescription("Negotiated link speed; 0 when the link is down.").
			withTags(tags...).
			withTriggerProtos(trigger("Hypervisor {HOST.NAME}: "+plabel+" link down", "AVERAGE",
				last(tpl, speed)+"=0 and last(/"+tpl+"/"+speed+",#2)>0",
				"The NIC's link went down (it was up at the previous poll): cable, switch port or NIC. Recovers when the link is up again.").
				recoversWhen(last(tpl, speed)+">0")))
	b.graphProto(r, plabel+": traffic", keys["bytes received"], keys["bytes sent"])
	b.graphProto(r, plabel+": errors and drops", keys["receive errors"], keys["transmit errors"],
		keys["receive packets dropped"], keys["transmit packets dropped"])
	protos = append(protos, plabel+": traffic", plabel+": errors and drops")

	// Datastores: latency as this host sees it.
	const dinst, dlabel = "{#VSPHERE.HOST.DATASTORE.INSTANCE}", "Datastore {#VSPHERE.HOST.DATASTORE.NAME}"
	r = b.instanceDiscovery(instanceRule{name: "Datastore latency discovery", method: "host.datastore.discover", obj: obj,
		desc: "Datastores mounted on the host, by the perf instance vSphere gives them (the datastore's UUID, from its URL)."})
	tags = []string{"component", "storage", "datastore", "{#VSPHERE.HOST.DATASTORE.NAME}"}
	var dkeys []string
	for _, p := range []instPerf{
		{"datastore.totalReadLatency.millisecond.average", "read latency", "ms", "", "Average time a read from the datastore takes, as this host sees it."},
		{"datastore.totalWriteLatency.millisecond.average", "write latency", "ms", "", "Average time a write to the datastore takes, as this host sees it."},
	} {
		it := instItem(method, obj, dinst, dlabel, p, tags...)
		it = it.withTriggerProtos(latencyTrigger(tpl, it.Key, "Hypervisor {HOST.NAME}: "+dlabel+" "+p.name, "{$VSPHERE.HV.DATASTORE.LATENCY.MAX}"))
		r.ItemPrototypes = append(r.ItemPrototypes, it)
		dkeys = append(dkeys, it.Key)
	}
	b.graphProto(r, dlabel+": latency", dkeys...)
	protos = append(protos, dlabel+": latency")

	// LUNs: device and kernel latency (esxtop's DAVG and KAVG).
	const linst, llabel = "{#VSPHERE.HOST.LUN.INSTANCE}", "LUN {#VSPHERE.HOST.LUN.INSTANCE}"
	r = b.instanceDiscovery(instanceRule{name: "LUN discovery", method: "host.lun.discover", obj: obj,
		desc: "The host's SCSI disks (LUNs), by canonical name (naa..., mpx...)."})
	tags = []string{"component", "storage", "lun", linst}
	var lkeys []string
	for _, p := range []instPerf{
		{"disk.deviceLatency.millisecond.average", "device latency", "ms", "", "Average time a command takes in the storage device (esxtop DAVG)."},
		{"disk.kernelLatency.millisecond.average", "kernel latency", "ms", "", "Average time a command spends in the VMkernel (esxtop KAVG)."},
	} {
		it := instItem(method, obj, linst, llabel, p, tags...)
		if p.name == "device latency" {
			it = it.withTriggerProtos(latencyTrigger(tpl, it.Key, "Hypervisor {HOST.NAME}: "+llabel+" "+p.name, "{$VSPHERE.HV.LUN.LATENCY.MAX}"))
		}
		r.ItemPrototypes = append(r.ItemPrototypes, it)
		lkeys = append(lkeys, it.Key)
	}
	b.graphProto(r, llabel+": latency", lkeys...)
	protos = append(protos, llabel+": latency")
	return protos
}
