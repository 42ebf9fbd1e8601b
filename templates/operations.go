package templates

// storage path, service and backup items: storage paths, services and
// time of hypervisors; CBT, snapshot size and backup age of VMs;
// provisioning of datastores. Each object template calls its function
// below once. All but the host clock come from the worker's property
// mirror: a warm interval costs vCenter nothing.

// OptionalHostTime: the host's clock (host.time.get asks the host's
// date/time system, which the simulator and some restricted accounts do
// not serve).
const OptionalHostTime = "hosttime"

func init() { optionalReasons[OptionalHostTime] = true }

// Keys of the storage path, service and backup items that triggers and tests name.
const (
	hvSSH        = "vsphere.hv.service.ssh"
	hvShell      = "vsphere.hv.service.shell"
	hvNTPRunning = "vsphere.hv.ntp.running"
	hvNTPConfig  = "vsphere.hv.ntp.configured"
	hvLUNDead    = "vsphere.hv.lun.paths.dead[{#VSPHERE.HOST.PATH.LUN}]"
	hvLUNStates  = "vsphere.hv.lun.paths.states[{#VSPHERE.HOST.PATH.LUN}]"
	vmBackupAge  = "vsphere.vm.backup.age"
	dsProvPct    = "vsphere.ds.pprovisioned"
)

// hvServicesAndPaths adds the host's services (SSH, ESXi shell, NTP), its
// clock offset from the worker's and its storage paths per LUN.
func hvServicesAndPaths(b *builder, tpl string) {
	const obj = "{$VSPHERE.HV.NAME}"
	b.macro("{$VSPHERE.HV.TIME.OFFSET.MAX}", "30", "Offset (s, either way) of the host's clock from the vPoller worker's above which a warning is raised.")
	b.macro("{$VSPHERE.HV.TIME.INTERVAL}", "5m", "Interval of the host clock item (one vCenter call per host each time).")

	svc := getKey("host.service.get", obj)
	b.item(master("Hypervisor: raw services", svc, "The host's services with their state (host.service.get): key, label, running, policy."))
	running := func(key, name, service string) Item {
		return dep(svc, key, name, vtUnsigned, "", jsonPathOr("$[?(@.key=='"+service+"')].running.first()", "false"), boolToDecimal()).
			withValueMap("vPoller boolean").withTags("component", "services")
	}
	b.item(running(hvSSH, "SSH running", "TSM-SSH").
		withDescription("The SSH service (TSM-SSH) runs; hardening guides want it stopped but for maintenance.").
		withTriggers(trigger("Hypervisor {HOST.NAME}: SSH is running", "WARNING", last(tpl, hvSSH)+"=1",
			"The host's SSH service runs: stop it when no one needs it.")))
	b.item(running(hvShell, "ESXi shell running", "TSM").
		withDescription("The ESXi shell (TSM) runs.").
		withTriggers(trigger("Hypervisor {HOST.NAME}: ESXi shell is running", "WARNING", last(tpl, hvShell)+"=1",
			"The host's ESXi shell runs: stop it when no one needs it.")))

	ntp := getKey("host.ntp.get", obj)
	b.item(master("Hypervisor: raw NTP", ntp, "The host's NTP configuration and the ntpd service's state (host.ntp.get)."))
	b.item(dep(ntp, hvNTPConfig, "NTP configured", vtUnsigned, "", prop("ntpConfigured"), boolToDecimal()).
		withValueMap("vPoller boolean").withDescription("At least one NTP server is configured.").withTags("component", "time").
		withTriggers(trigger("Hypervisor {HOST.NAME}: no NTP server configured", "WARNING", last(tpl, hvNTPConfig)+"=0",
			"The host has no NTP server: its clock drifts.")))
	b.item(dep(ntp, hvNTPRunning, "NTP running", vtUnsigned, "", prop("ntpRunning"), boolToDecimal()).
		withValueMap("vPoller boolean").withDescription("The NTP daemon (ntpd) runs.").withTags("component", "time").
		withTriggers(trigger("Hypervisor {HOST.NAME}: NTP is not running", "WARNING", last(tpl, hvNTPRunning)+"=0",
			"The host's NTP daemon is stopped: its clock drifts.")))
	b.item(dep(ntp, "vsphere.hv.ntp.servers", "NTP servers", vtChar, "", prop("ntpServers"), discardUnchanged("1d")).
		withTags("component", "time"))
	timeKey := pollKey("host.time.get", obj, "offset")
	b.item(Item{Name: "Time offset", Key: timeKey, Delay: "{$VSPHERE.HV.TIME.INTERVAL}",
		ValueType: vtFloat, Units: "s",
		Description: "The host's clock minus the vPoller worker's (host.time.get, measured at the middle of the call): positive when the host is ahead. As good as the worker's own clock."}.
		withTags("component", "time", TagOptional, OptionalHostTime).
		withTriggers(trigger("Hypervisor {HOST.NAME}: clock is off by more than {$VSPHERE.HV.TIME.OFFSET.MAX} s", "WARNING",
			"abs("+last(tpl, timeKey)+")>{$VSPHERE.HV.TIME.OFFSET.MAX}",
			"The host's clock differs from the vPoller worker's by more than {$VSPHERE.HV.TIME.OFFSET.MAX} seconds: check NTP on both.").
			withOpData("Offset: {ITEM.LASTVALUE1}")))

	pkey := getKey("host.path.discover", obj)
	b.item(master("Hypervisor: raw storage paths", pkey,
		"The host's LUNs with their path counts per state (host.path.discover), for the storage path items."))
	rule := b.rule(DiscoveryRule{
		Name:        "Storage path discovery",
		Key:         discoverKey("host.path.discover", obj),
		Delay:       MacroLLDInterval,
		Lifetime:    "7d",
		Description: "The host's LUNs (host.path.discover), each with its multipath paths.",
	})
	sel := "$[?(@.lun=='{#VSPHERE.HOST.PATH.LUN}')]"
	count := func(state, name string) Item {
		return dep(pkey, "vsphere.hv.lun.paths."+state+"[{#VSPHERE.HOST.PATH.LUN}]", "LUN {#VSPHERE.HOST.PATH.LUN}: "+name, vtUnsigned, "",
			jsonPath(sel+"."+state+".first()")).withTags("component", "storage", "lun", "{#VSPHERE.HOST.PATH.LUN}")
	}
	rule.ItemPrototypes = append(rule.ItemPrototypes,
		count("paths", "paths"),
		count("active", "active paths"),
		count("standby", "standby paths"),
		count("dead", "dead paths").
			withDescription("Paths the multipathing plug-in reports dead: a lost cable, switch port or array controller.").
			withTriggerProtos(trigger("Hypervisor {HOST.NAME}: LUN {#VSPHERE.HOST.PATH.DISPLAYNAME} has dead paths", "AVERAGE",
				last(tpl, hvLUNDead)+">0", "A path to the LUN is dead: one failure more may cut the host off the LUN.").
				withOpData("Dead paths: {ITEM.LASTVALUE1}")),
		dep(pkey, hvLUNStates, "LUN {#VSPHERE.HOST.PATH.LUN}: path states", vtChar, "", jsonPath(sel+".states.first()")).
			withDescription("Each path as name=state: a change is a failover or a path gone or added.").
			withTags("component", "storage", "lun", "{#VSPHERE.HOST.PATH.LUN}").
			withTriggerProtos(trigger("Hypervisor {HOST.NAME}: paths of LUN {#VSPHERE.HOST.PATH.DISPLAYNAME} changed", "INFO",
				"change(/"+tpl+"/"+hvLUNStates+")=1", "The LUN's paths or their states changed: {ITEM.LASTVALUE1}.").
				withOpData("Paths: {ITEM.LASTVALUE1}")),
	)
}

// vmBackup adds the VM's backup facts: CBT, the size of its snapshots and
// the age of its last backup, read from the custom attribute named by
// {$VSPHERE.VM.BACKUP.ATTRIBUTE}.
func vmBackup(b *builder, tpl string) {
	const obj = "{$VSPHERE.VM.NAME}"
	b.macro("{$VSPHERE.VM.BACKUP.ATTRIBUTE}", "Last Backup", "Custom attribute in which the backup tool writes the time of the VM's last backup (Veeam, NetBackup, Commvault, ... can).")
	b.macro("{$VSPHERE.VM.BACKUP.AGE.MAX}", "2d", "Age of the last backup above which a warning is raised.")
	key := getKey("vm.backup.get", obj, "", "{$VSPHERE.VM.BACKUP.ATTRIBUTE}")
	b.item(master("VM: raw backup information", key,
		"CBT, snapshot files and the last backup time (vm.backup.get, the custom attribute {$VSPHERE.VM.BACKUP.ATTRIBUTE})."))
	b.item(dep(key, "vsphere.vm.cbt", "Changed block tracking", vtUnsigned, "", prop("changeTrackingEnabled"), boolToDecimal()).
		withValueMap("vPoller boolean").withDescription("CBT is on: incremental image backups need it.").withTags("component", "backup"))
	b.item(dep(key, "vsphere.vm.snapshot.size", "Snapshot size", vtUnsigned, "B", prop("snapshotSize")).
		withDescription("Bytes the VM's snapshots take: their state and memory files and every delta disk since the first snapshot.").
		withTags("component", "snapshot"))
	b.item(dep(key, "vsphere.vm.backup.last", "Last backup", vtUnsigned, "unixtime", prop("lastBackup")).
		withDescription("The time in the custom attribute {$VSPHERE.VM.BACKUP.ATTRIBUTE}; 0 when unknown.").withTags("component", "backup"))
	b.item(dep(key, vmBackupAge, "Backup age", vtFloat, "s", prop("backupAge")).
		withDescription("Seconds since the last backup; -1 when unknown (no such attribute, empty, or no time in it).").
		withTags("component", "backup").
		withTriggers(trigger("VM {HOST.NAME}: last backup older than {$VSPHERE.VM.BACKUP.AGE.MAX}", "WARNING",
			last(tpl, vmBackupAge)+">{$VSPHERE.VM.BACKUP.AGE.MAX}",
			"The custom attribute {$VSPHERE.VM.BACKUP.ATTRIBUTE} says the VM was last backed up longer ago than {$VSPHERE.VM.BACKUP.AGE.MAX}.").
			withOpData("Age: {ITEM.LASTVALUE1}")))
}

// dsProvisioning adds the datastore's provisioned space: used plus what
// thin disks may still grow by, against capacity.
func dsProvisioning(b *builder, tpl string) {
	const obj = "{$VSPHERE.DATASTORE.URL}"
	b.macro("{$VSPHERE.DATASTORE.PPROVISIONED.MAX}", "150", "Provisioned space (% of capacity) above which a warning is raised.")
	key := getKey("datastore.space.get", obj)
	b.item(master("Datastore: raw space", key, "Capacity, used, uncommitted and provisioned space (datastore.space.get)."))
	b.item(dep(key, "vsphere.ds.provisioned", "Provisioned space", vtUnsigned, "B", prop("provisioned")).
		withDescription("Used space plus what thin disks may still grow by (summary.uncommitted).").withTags("component", "storage"))
	b.item(dep(key, dsProvPct, "Provisioned space, in %", vtFloat, "%", prop("provisionedPct")).
		withDescription("(capacity - free + uncommitted) / capacity; above 100 the datastore is overcommitted.").
		withTags("component", "storage").
		withTriggers(trigger("Datastore {$VSPHERE.DATASTORE.NAME}: provisioned above {$VSPHERE.DATASTORE.PPROVISIONED.MAX}%", "WARNING",
			last(tpl, dsProvPct)+">{$VSPHERE.DATASTORE.PPROVISIONED.MAX}",
			"Thin disks may grow beyond what the datastore holds.").withOpData("Provisioned: {ITEM.LASTVALUE1}")))
}
