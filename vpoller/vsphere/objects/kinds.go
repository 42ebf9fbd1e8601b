package objects

// Kind is a family of managed object types looked up together: what a
// vPoller method's "name" is matched against.
type Kind struct {
	Name  string
	Types []string // concrete managed object types of the family
	ByURL bool     // datastores are named by info.url in requests
	UUID  bool     // VMs and hosts can also be named by UUID
}

// Has reports whether typ is one of the kind's types.
func (k *Kind) Has(typ string) bool {
	for _, t := range k.Types {
		if t == typ {
			return true
		}
	}
	return false
}

// The kinds of the vPoller method families.
var (
	Datacenter = &Kind{Name: "datacenter", Types: []string{"Datacenter"}}
	Cluster    = &Kind{Name: "cluster", Types: []string{"ClusterComputeResource"}}
	Host       = &Kind{Name: "host", Types: []string{"HostSystem"}, UUID: true}
	VM         = &Kind{Name: "vm", Types: []string{"VirtualMachine"}, UUID: true}
	Datastore  = &Kind{Name: "datastore", Types: []string{"Datastore"}, ByURL: true}
	Pool       = &Kind{Name: "resource pool", Types: []string{"ResourcePool"}}
	Network    = &Kind{Name: "network", Types: []string{"Network", "DistributedVirtualPortgroup", "OpaqueNetwork"}}
	// DatastoreCluster is a datastore cluster (StoragePod): a folder of
	// datastores that Storage DRS balances.
	DatastoreCluster = &Kind{Name: "datastore cluster", Types: []string{"StoragePod"}}
	// DVSwitch is a distributed virtual switch. vCenter creates
	// VmwareDistributedVirtualSwitch objects; the base type is listed too
	// for switches of other vendors.
	DVSwitch = &Kind{Name: "distributed switch", Types: []string{"VmwareDistributedVirtualSwitch", "DistributedVirtualSwitch"}}
)

// Paths the inventory index needs, and the container view traversal.
const (
	PathName         = "name"
	PathURL          = "info.url"
	pathVMInstUUID   = "config.instanceUuid"
	pathVMBiosUUID   = "config.uuid"
	pathHostUUID     = "hardware.systemInfo.uuid"
	pathParent       = "parent"
	typeContainerVew = "ContainerView"
	pathView         = "view"
)

// indexPaths lists every type the mirror holds (the container view's
// types) and the properties lookups need; they are always watched.
var indexPaths = map[string][]string{
	"Datacenter":                  {PathName},
	"ComputeResource":             {PathName},
	"ClusterComputeResource":      {PathName},
	"HostSystem":                  {PathName, pathHostUUID},
	"VirtualMachine":              {PathName, pathVMInstUUID, pathVMBiosUUID},
	"Datastore":                   {PathName, PathURL},
	"ResourcePool":                {PathName},
	"Network":                     {PathName},
	"DistributedVirtualPortgroup": {PathName},
	"OpaqueNetwork":               {PathName},
	// Datastore clusters and distributed switches.
	"StoragePod":                     {PathName},
	"VmwareDistributedVirtualSwitch": {PathName},
	"DistributedVirtualSwitch":       {PathName},
}

// uuidPaths are the properties a UUID lookup matches.
var uuidPaths = []string{pathVMInstUUID, pathVMBiosUUID, pathHostUUID}

// defaultPaths are watched from the start, besides the index paths: every
// property the shipped Zabbix templates read (the VM, host, datastore,
// cluster and datacenter master items, the snapshot tree, the power and
// connection states the perf items check, guest disks and NICs), so that
// a Zabbix installation using them costs vCenter nothing for unchanged
// data. The VM's "snapshot" is watched whole: vm.snapshot.get reads its
// rootSnapshotList, and the whole property also changes when the last
// snapshot goes. "customValue" is the custom attributes item of the VM
// and host templates (vm/host.attribute.get), polled every interval.
var defaultPaths = map[string][]string{
	"VirtualMachine": {"runtime.powerState", "runtime.connectionState", "overallStatus", "runtime.consolidationNeeded",
		"guest.toolsRunningStatus", "guest.guestState", "summary.config.numCpu", "summary.config.memorySizeMB",
		"summary.config.guestFullName", "summary.quickStats.overallCpuUsage", "summary.quickStats.guestMemoryUsage",
		"summary.quickStats.hostMemoryUsage", "summary.quickStats.uptimeSeconds", "summary.quickStats.balloonedMemory",
		"summary.quickStats.swappedMemory", "summary.quickStats.compressedMemory", "summary.storage.committed",
		"summary.storage.uncommitted", "guest.ipAddress", "guest.hostName", "guest.disk", "guest.net", "snapshot", "customValue",
		// vm.backup.get (CBT, snapshot files).
		"config.changeTrackingEnabled", "layoutEx.file", "layoutEx.disk", "layoutEx.snapshot",
		// The VM template's Zabbix Guest parity items (templates/vm.go, vmParity); runtime.host: vm.host.get and cluster.
		"guest.toolsVersion", "guest.toolsVersionStatus2", "summary.quickStats.privateMemory", "summary.quickStats.sharedMemory",
		"summary.storage.unshared", "runtime.bootTime", "runtime.host"},
	"HostSystem": {"runtime.powerState", "runtime.connectionState", "runtime.inMaintenanceMode", "overallStatus",
		"summary.rebootRequired", "summary.quickStats.overallCpuUsage", "summary.quickStats.overallMemoryUsage",
		"summary.quickStats.uptime", "summary.hardware.cpuMhz", "summary.hardware.numCpuCores",
		"summary.hardware.numCpuThreads", "summary.hardware.memorySize", "summary.hardware.cpuModel",
		"summary.hardware.vendor", "summary.hardware.model", "summary.config.product.fullName", "customValue",
		// host.path.discover, host.service.get, host.ntp.get, host.time.get.
		"config.storageDevice.multipathInfo", "config.service", "config.dateTimeInfo", "configManager.dateTimeSystem",
		pathParent, // the cluster pseudo-property of the VM and hypervisor templates' masters
		// The hypervisor template's Zabbix parity items (templates/hypervisor.go).
		"summary.config.product.version", "summary.hardware.uuid", "vm"},
	"Datastore": {"summary.capacity", "summary.freeSpace", "summary.uncommitted", "summary.accessible",
		"summary.maintenanceMode", "summary.type", "overallStatus",
		"host"}, // its hosts, for datastore.perf.hosts.get (the datastore template's IOPS and latency)
	"ClusterComputeResource": {"overallStatus", "summary.numHosts", "summary.numEffectiveHosts", "summary.totalCpu",
		"summary.effectiveCpu", "summary.totalMemory", "summary.effectiveMemory"},
	"Datacenter": {"overallStatus"},
	// The datastore cluster's capacity, free space, Storage DRS switch
	// and status.
	"StoragePod": {"summary.capacity", "summary.freeSpace", "podStorageDrsEntry.storageDrsConfig.podConfig.enabled",
		"overallStatus"},
}

// Mirrored reports whether objects of typ are in the mirror's view (only
// those can have watched properties).
func Mirrored(typ string) bool {
	_, ok := indexPaths[typ]
	return ok
}

// DefaultWatch is what the mirror watches from the start, by type: the
// index paths and the shipped templates' properties. Benchmarks give a
// plain collector the same filter, to tell the simulator's (or a
// vCenter's) own delay for it from the mirror's.
func DefaultWatch() map[string][]string {
	out := map[string][]string{}
	for typ, paths := range indexPaths {
		out[typ] = append(append([]string(nil), paths...), defaultPaths[typ]...)
	}
	return out
}
