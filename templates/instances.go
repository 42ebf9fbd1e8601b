package templates

import (
	"fmt"
	"slices"
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

// instanceSet is one discovery of perf instances of the object and its
// item prototypes: one per counter and instance.
type instanceSet struct {
	name, method, desc string // the discovery rule
	inst               string // LLD macro of the instance ("{#VSPHERE.HOST.PNIC.INSTANCE}")
	label              string // items' name prefix per instance ("NIC {#...}")
	who                string // trigger name prefix ("VM {HOST.NAME}")
	tags               []string
	perfs              []instPerf
}

// instPerf is one per-instance perf item prototype; latencyMax, when set,
// is the threshold macro of its latency trigger (latencyTrigger).
type instPerf struct {
	counter, name, units, mult, desc string
	latencyMax                       string
}

// instances adds the discovery of s and its item prototypes (polled with
// the perf method by obj every {$VPOLLER.PERF.INSTANCE.INTERVAL}); it
// returns the rule and the items' keys in the order of s.perfs.
func (b *builder) instances(tpl, method, obj string, s instanceSet) (*DiscoveryRule, []string) {
	r := b.rule(DiscoveryRule{
		Name:        s.name,
		Key:         discoverKey(s.method, obj),
		Delay:       MacroLLDInterval,
		Lifetime:    "7d",
		Description: s.desc + " From the worker's property mirror (" + s.method + "): no vCenter call.",
	})
	keys := make([]string, len(s.perfs))
	for i, p := range s.perfs {
		it := perf(perfInstKey(method, obj, p.counter, s.inst), s.label+": "+p.name, vtFloat, p.units, p.mult,
			"Real-time counter "+p.counter+", instance "+s.inst+". "+p.desc)
		it.Delay = MacroPerfInstanceInterval
		it = it.withTags(s.tags...)
		if p.latencyMax != "" {
			it = it.withTriggerProtos(latencyTrigger(tpl, it.Key, s.who+": "+s.label+" "+p.name, p.latencyMax))
		}
		r.ItemPrototypes = append(r.ItemPrototypes, it)
		keys[i] = it.Key
	}
	return r, keys
}

// summationPerSecond turns a real-time *.summation counter (a count per
// 20 s sample) into a rate per second.
var summationPerSecond = fmt.Sprintf("%g", 1.0/RealtimeSample)

// The net.* counters VMs' virtual NICs and hosts' physical NICs share.
var (
	nicTraffic = []instPerf{
		{counter: "net.bytesRx.kiloBytesPerSecond.average", name: "bytes received", units: "Bps", mult: "1024"},
		{counter: "net.bytesTx.kiloBytesPerSecond.average", name: "bytes sent", units: "Bps", mult: "1024"},
	}
	nicDrops = []instPerf{
		{counter: "net.droppedRx.number.summation", name: "receive packets dropped", units: "pps", mult: summationPerSecond, desc: "Dropped per 20 s sample, as a rate per second."},
		{counter: "net.droppedTx.number.summation", name: "transmit packets dropped", units: "pps", mult: summationPerSecond, desc: "Dropped per 20 s sample, as a rate per second."},
	}
)

// latencyTrigger raises a warning when an instance's latency stayed above
// the macro for 15 minutes (three polls at the default interval).
func latencyTrigger(tpl, key, what, macro string) Trigger {
	return trigger(what+" above "+macro+" ms", "WARNING",
		"min(/"+tpl+"/"+key+",15m)>"+macro,
		"The latency stayed above "+macro+" ms for 15 minutes.").withOpData("Latency: {ITEM.LASTVALUE1}")
}

// vmInstances adds the VM's virtual disk and virtual NIC discoveries.
func vmInstances(b *builder, tpl string) (disk, nic []string) {
	const obj, method, who = "{$VSPHERE.VM.NAME}", "vm.perf.metric.get", "VM {HOST.NAME}"
	b.macro(MacroPerfInstanceInterval, "5m", "Polling interval of the per-instance perf items (virtual disks, virtual NICs): one perf series each.")
	const latMax = "{$VSPHERE.VM.VDISK.LATENCY.MAX}"
	b.macro(latMax, "30", "Virtual disk read or write latency (ms) above which a warning is raised (15 minutes).")

	const dlabel = "Virtual disk {#VSPHERE.VM.VDISK.LABEL} ({#VSPHERE.VM.VDISK.INSTANCE})"
	r, keys := b.instances(tpl, method, obj, instanceSet{name: "Virtual disk discovery", method: "vm.vdisk.discover",
		desc: "The VM's virtual disks, by the perf instance vSphere gives them (scsi0:0, sata0:1, nvme0:0).",
		inst: "{#VSPHERE.VM.VDISK.INSTANCE}", label: dlabel, who: who,
		tags: []string{"component", "storage", "disk", "{#VSPHERE.VM.VDISK.LABEL}"},
		perfs: []instPerf{
			{"virtualDisk.totalReadLatency.millisecond.average", "read latency", "ms", "", "Average time a read takes.", latMax},
			{"virtualDisk.totalWriteLatency.millisecond.average", "write latency", "ms", "", "Average time a write takes.", latMax},
			{"virtualDisk.numberReadAveraged.number.average", "read IOPS", "iops", "", "Reads per second.", ""},
			{"virtualDisk.numberWriteAveraged.number.average", "write IOPS", "iops", "", "Writes per second.", ""},
			// Zabbix Guest parity (vm.go, vmParity): throughput and queue depth.
			{"virtualDisk.read.kiloBytesPerSecond.average", "read rate", "Bps", "1024", "Bytes read per second.", ""},
			{"virtualDisk.write.kiloBytesPerSecond.average", "write rate", "Bps", "1024", "Bytes written per second.", ""},
			{"virtualDisk.readOIO.number.latest", "outstanding reads", "", "", "Read requests queued on the disk at the end of the sample.", ""},
			{"virtualDisk.writeOIO.number.latest", "outstanding writes", "", "", "Write requests queued on the disk at the end of the sample.", ""},
		}})
	b.graphProto(r, dlabel+": latency", keys[0], keys[1])
	b.graphProto(r, dlabel+": IOPS", keys[2], keys[3])
	b.graphProto(r, dlabel+": throughput", keys[4], keys[5])
	disk = []string{dlabel + ": latency", dlabel + ": IOPS", dlabel + ": throughput"}

	const nlabel = "vNIC {#VSPHERE.VM.VNIC.LABEL} ({#VSPHERE.VM.VNIC.MACADDRESS})"
	packets := []instPerf{
		{counter: "net.packetsRx.number.summation", name: "packets received", units: "pps", mult: summationPerSecond, desc: "Packets per 20 s sample, as a rate per second."},
		{counter: "net.packetsTx.number.summation", name: "packets sent", units: "pps", mult: summationPerSecond, desc: "Packets per 20 s sample, as a rate per second."},
	}
	r, keys = b.instances(tpl, method, obj, instanceSet{name: "Virtual NIC discovery", method: "vm.vnic.discover",
		desc: "The VM's virtual NICs, by the perf instance vSphere gives them (the device key, 4000).",
		inst: "{#VSPHERE.VM.VNIC.INSTANCE}", label: nlabel, who: who,
		tags: []string{"component", "network", "interface", "{#VSPHERE.VM.VNIC.LABEL}"},
		perfs: slices.Concat(nicTraffic, packets, nicDrops, []instPerf{
			// Zabbix Guest parity (vm.go, vmParity): net.usage per vNIC.
			{counter: "net.usage.kiloBytesPerSecond.average", name: "usage", units: "Bps", mult: "1024", desc: "Bytes received plus sent per second."},
		})})
	b.graphProto(r, nlabel+": traffic", keys[0], keys[1])
	b.graphProto(r, nlabel+": packets", keys[2], keys[3], keys[4], keys[5])
	nic = []string{nlabel + ": traffic", nlabel + ": packets"}
	return disk, nic
}

// hvInstances adds the host's physical NIC, datastore and LUN discoveries.
func hvInstances(b *builder, tpl string) (protos []string) {
	const obj, method, who = "{$VSPHERE.HV.NAME}", "host.perf.metric.get", "Hypervisor {HOST.NAME}"
	b.macro(MacroPerfInstanceInterval, "5m", "Polling interval of the per-instance perf items (NICs, datastores, LUNs): one perf series each.")
	b.macro("{$VSPHERE.HV.NIC.ERRORS.MAX}", "0", "Packet errors per second (received or sent) on a physical NIC above which a warning is raised (15 minutes).")
	b.macro("{$VSPHERE.HV.NIC.DROPS.MAX}", "0", "Dropped packets per second (received or sent) on a physical NIC above which a warning is raised (15 minutes).")
	const dsMax, lunMax = "{$VSPHERE.HV.DATASTORE.LATENCY.MAX}", "{$VSPHERE.HV.LUN.LATENCY.MAX}"
	b.macro(dsMax, "30", "Datastore read or write latency (ms) seen by the host above which a warning is raised (15 minutes).")
	b.macro(lunMax, "20", "Device latency (ms, DAVG) of a LUN above which a warning is raised (15 minutes).")

	// Physical NICs: traffic, errors and drops (keys 0-1, 2-3, 4-5).
	const pinst, plabel = "{#VSPHERE.HOST.PNIC.INSTANCE}", "NIC {#VSPHERE.HOST.PNIC.INSTANCE}"
	errs := []instPerf{
		{counter: "net.errorsRx.number.summation", name: "receive errors", units: "pps", mult: summationPerSecond, desc: "Errors per 20 s sample, as a rate per second."},
		{counter: "net.errorsTx.number.summation", name: "transmit errors", units: "pps", mult: summationPerSecond, desc: "Errors per 20 s sample, as a rate per second."},
	}
	tags := []string{"component", "network", "interface", pinst}
	r, keys := b.instances(tpl, method, obj, instanceSet{name: "Physical NIC discovery", method: "host.pnic.discover",
		desc: "The host's physical NICs (vmnic0, ...).", inst: pinst, label: plabel, who: who, tags: tags,
		perfs: slices.Concat(nicTraffic, errs, nicDrops)})
	both := func(what, in, out, macro string) Trigger {
		return trigger(who+": "+plabel+" "+what+" above {$"+macro+"}/s", "WARNING",
			"min(/"+tpl+"/"+in+",15m)>{$"+macro+"} or min(/"+tpl+"/"+out+",15m)>{$"+macro+"}",
			"The NIC's "+what+" stayed above {$"+macro+"} per second for 15 minutes (cabling, duplex, driver or an overloaded uplink).").
			withOpData("In: {ITEM.LASTVALUE1}, out: {ITEM.LASTVALUE2}")
	}
	r.TriggerProtos = append(r.TriggerProtos,
		both("errors", keys[2], keys[3], "VSPHERE.HV.NIC.ERRORS.MAX"),
		both("drops", keys[4], keys[5], "VSPHERE.HV.NIC.DROPS.MAX"))
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
	b.graphProto(r, plabel+": traffic", keys[0], keys[1])
	b.graphProto(r, plabel+": errors and drops", keys[2], keys[3], keys[4], keys[5])
	protos = append(protos, plabel+": traffic", plabel+": errors and drops")

	// Datastores: latency as this host sees it.
	const dlabel = "Datastore {#VSPHERE.HOST.DATASTORE.NAME}"
	r, keys = b.instances(tpl, method, obj, instanceSet{name: "Datastore latency discovery", method: "host.datastore.discover",
		desc: "Datastores mounted on the host, by the perf instance vSphere gives them (the datastore's UUID, from its URL).",
		inst: "{#VSPHERE.HOST.DATASTORE.INSTANCE}", label: dlabel, who: who,
		tags: []string{"component", "storage", "datastore", "{#VSPHERE.HOST.DATASTORE.NAME}"},
		perfs: []instPerf{
			{"datastore.totalReadLatency.millisecond.average", "read latency", "ms", "", "Average time a read from the datastore takes, as this host sees it.", dsMax},
			{"datastore.totalWriteLatency.millisecond.average", "write latency", "ms", "", "Average time a write to the datastore takes, as this host sees it.", dsMax},
			{"datastore.numberReadAveraged.number.average", "reads per second", "rps", "", "Read commands per second this host sends to the datastore.", ""},
			{"datastore.numberWriteAveraged.number.average", "writes per second", "wps", "", "Write commands per second this host sends to the datastore.", ""},
		}})
	b.graphProto(r, dlabel+": latency", keys[0], keys[1])
	b.graphProto(r, dlabel+": IOPS", keys[2], keys[3])
	protos = append(protos, dlabel+": latency", dlabel+": IOPS")

	// LUNs: device and kernel latency (esxtop's DAVG and KAVG).
	const linst, llabel = "{#VSPHERE.HOST.LUN.INSTANCE}", "LUN {#VSPHERE.HOST.LUN.INSTANCE}"
	r, keys = b.instances(tpl, method, obj, instanceSet{name: "LUN discovery", method: "host.lun.discover",
		desc: "The host's SCSI disks (LUNs), by canonical name (naa..., mpx...).", inst: linst, label: llabel, who: who,
		tags: []string{"component", "storage", "lun", linst},
		perfs: []instPerf{
			{"disk.deviceLatency.millisecond.average", "device latency", "ms", "", "Average time a command takes in the storage device (esxtop DAVG).", lunMax},
			{"disk.kernelLatency.millisecond.average", "kernel latency", "ms", "", "Average time a command spends in the VMkernel (esxtop KAVG).", ""},
		}})
	b.graphProto(r, llabel+": latency", keys...)
	protos = append(protos, llabel+": latency")
	return protos
}
