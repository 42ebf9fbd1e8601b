package vsphere

import (
	"context"

	"github.com/vpoller/zabbix-vpoller/vpoller"
	"github.com/vpoller/zabbix-vpoller/vpoller/vsphere/objects"
)

// Handler runs one vPoller method against an agent. It returns the reply;
// errors become failure replies (see fail). Execute has already checked
// the method, the agent and the method's required keys.
type Handler func(ctx context.Context, a *Agent, req *vpoller.Request) *vpoller.Response

// handlers is the method registry: it binds each method of the catalogue
// (vpoller.Method) to its handler, grouped below by family. A new method
// also needs its catalogue row, its Zabbix facts in package lld and its
// row in docs/methods.md (docs/architecture.md, "Adding a vPoller
// method"); TestAllMethods fails for a catalogue method without an entry
// here. A method without an entry answers "Unknown or missing task/method
// name", as the original does for methods it does not know.
var handlers = map[string]Handler{
	// general.go
	"about":        about,
	"event.latest": eventLatest,
	"session.get":  sessionGet,

	// events.go
	"event.get": eventGet,

	// inventory.go
	"datacenter.discover":    discover(objects.Datacenter),
	"datacenter.get":         get(objects.Datacenter),
	"cluster.discover":       discover(objects.Cluster),
	"cluster.get":            get(objects.Cluster),
	"host.discover":          discover(objects.Host),
	"host.get":               get(objects.Host),
	"vm.discover":            discover(objects.VM),
	"vm.get":                 get(objects.VM),
	"datastore.discover":     discover(objects.Datastore),
	"datastore.get":          get(objects.Datastore),
	"resource.pool.discover": discover(objects.Pool),
	"resource.pool.get":      get(objects.Pool),
	"net.discover":           discover(objects.Network),
	"net.get":                get(objects.Network),

	// relations.go
	"host.vm.get":        hostVMGet,
	"host.datastore.get": datastoresOf(objects.Host),
	"host.cluster.get":   hostClusterGet,
	"vm.host.get":        vmHostGet,
	"vm.datastore.get":   datastoresOf(objects.VM),
	"datastore.host.get": datastoreHostGet,
	"datastore.vm.get":   datastoreVMGet,

	// perf.go
	"perf.metric.info":            perfMetricInfo,
	"perf.interval.info":          perfIntervalInfo,
	"datacenter.perf.metric.info": perfMetricInfoOf(objects.Datacenter),
	"datacenter.perf.metric.get":  perfMetricGet(objects.Datacenter),
	"cluster.perf.metric.info":    perfMetricInfoOf(objects.Cluster),
	"cluster.perf.metric.get":     perfMetricGet(objects.Cluster),
	"host.perf.metric.info":       perfMetricInfoOf(objects.Host),
	"host.perf.metric.get":        perfMetricGet(objects.Host),
	"vm.perf.metric.info":         perfMetricInfoOf(objects.VM),
	"vm.perf.metric.get":          perfMetricGet(objects.VM),
	"datastore.perf.metric.info":  perfMetricInfoOf(objects.Datastore),
	"datastore.perf.metric.get":   perfMetricGet(objects.Datastore),

	// alarms.go
	"datacenter.alarm.get": alarmGet(objects.Datacenter),
	"cluster.alarm.get":    alarmGet(objects.Cluster),
	"host.alarm.get":       alarmGet(objects.Host),
	"vm.alarm.get":         alarmGet(objects.VM),
	"datastore.alarm.get":  alarmGet(objects.Datastore),

	// networks.go
	"net.host.get":         netHostGet,
	"net.vm.get":           netVMGet,
	"host.net.get":         hostNetGet,
	"vm.net.get":           vmNetGet,
	"resource.pool.vm.get": resourcePoolVMGet,

	// snapshot.go, guest.go, cpu.go, vsan.go
	"vm.snapshot.get":      vmSnapshotGet,
	"vm.disk.discover":     vmDiskDiscover,
	"vm.disk.get":          vmDiskGet,
	"vm.guest.net.get":     vmGuestNetGet,
	"vm.process.get":       vmProcessGet,
	"vm.cpu.usage.percent": vmCPUUsagePercent,
	"vm.cpu.usage.pct":     vmCPUUsagePct,
	"vsan.health.get":      vsanHealthGet,

	// sensors.go
	"host.sensor.discover": hostSensorDiscover,
	"host.sensor.get":      hostSensorGet,
	"host.health.get":      hostHealthGet,

	// instances.go: perf instances for per-disk/NIC/datastore/LUN discovery
	"vm.vdisk.discover":       vmVdiskDiscover,
	"vm.vnic.discover":        vmVnicDiscover,
	"host.pnic.discover":      hostPnicDiscover,
	"host.datastore.discover": hostDatastoreDiscover,
	"host.lun.discover":       hostLunDiscover,

	// datastore clusters and distributed switches
	// (inventory.go, storagepod.go, dvswitch.go)
	"datastore.cluster.discover":      discover(objects.DatastoreCluster),
	"datastore.cluster.get":           get(objects.DatastoreCluster),
	"datastore.cluster.datastore.get": datastoreClusterDatastoreGet,
	"dvswitch.discover":               discover(objects.DVSwitch),
	"dvswitch.get":                    get(objects.DVSwitch),
	"dvswitch.port.get":               dvswitchPortGet,

	// tags.go, attributes.go
	"tag.discover":       tagDiscover,
	"vm.tag.get":         tagGet(objects.VM),
	"host.tag.get":       tagGet(objects.Host),
	"datastore.tag.get":  tagGet(objects.Datastore),
	"cluster.tag.get":    tagGet(objects.Cluster),
	"vm.attribute.get":   attributeGet(objects.VM),
	"host.attribute.get": attributeGet(objects.Host),
}

// fresh lists the methods whose reply depends on when the request
// arrived: an identical request already in flight may answer with less
// than the newer one must get, so they do not share executions (the
// event stream shares its vCenter reads itself, see eventStream).
var fresh = map[string]bool{"event.get": true}

// issue-18 storage/services/backup methods (paths.go, hostservices.go,
// backup.go).
func init() {
	handlers["host.path.discover"] = hostPathDiscover
	handlers["host.service.get"] = hostServiceGet
	handlers["host.ntp.get"] = hostNTPGet
	handlers["host.time.get"] = hostTimeGet
	handlers["vm.backup.get"] = vmBackupGet
	handlers["datastore.space.get"] = datastoreSpaceGet
}
