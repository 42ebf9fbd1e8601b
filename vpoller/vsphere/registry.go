package vsphere

import (
	"context"
	"fmt"
	"sync"

	"github.com/vpoller/zabbix-vpoller/vpoller"
	"github.com/vpoller/zabbix-vpoller/vpoller/vsphere/objects"
)

// Handler runs one vPoller method against an agent. It returns the reply;
// errors become failure replies (see fail). Execute has already checked
// the method, the agent and the method's required keys.
type Handler func(ctx context.Context, a *Agent, req *vpoller.Request) *vpoller.Response

// handlers binds each row of the method catalogue (vpoller.Method) to the
// function that answers it, grouped below by family. Adding a method is
// one row in the catalogue (vpoller/methods.go) and one function in this
// package, bound by a line in this map: package lld derives its Zabbix
// facts from the row and docs/methods.md's table is generated from it
// (docs/architecture.md, "Adding a vPoller method"). TestAllMethods fails
// for a catalogue method without a handler (Unbound) and for one it does
// not run against the simulator; TestHandlersAreCatalogued for an entry
// here that is no catalogue method. A method without a handler answers
// "Unknown or missing task/method name", as the original does for methods
// it does not know. Methods defined outside this package bind theirs with
// Register.
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
	"datastore.perf.hosts.get":    datastorePerfHostsGet,

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

	// license, certificate, appliance and vSAN methods
	// (licenses.go, certificates.go, appliance.go, vsan_cluster.go)
	"license.discover":           licenseDiscover,
	"host.license.get":           hostLicenseGet,
	"host.certificate.get":       hostCertificateGet,
	"vcenter.certificate.get":    vcenterCertificateGet,
	"appliance.health.get":       applianceHealthGet,
	"appliance.service.discover": applianceServiceDiscover,
	"vsan.cluster.discover":      vsanClusterDiscover,
	"vsan.cluster.get":           vsanClusterGet,

	// paths.go, hostservices.go, backup.go
	"host.path.discover":  hostPathDiscover,
	"host.service.get":    hostServiceGet,
	"host.ntp.get":        hostNTPGet,
	"host.time.get":       hostTimeGet,
	"vm.backup.get":       vmBackupGet,
	"datastore.space.get": datastoreSpaceGet,
}

// registered holds the handlers bound by Register.
var registered struct {
	sync.RWMutex
	m map[string]Handler
}

// handlerOf returns the handler bound to a method.
func handlerOf(method string) (Handler, bool) {
	if h, ok := handlers[method]; ok {
		return h, true
	}
	registered.RLock()
	defer registered.RUnlock()
	h, ok := registered.m[method]
	return h, ok
}

// Register binds a handler to a catalogue row added at run time
// (vpoller.Register): the hook for methods defined outside this package,
// in a test or an extension. It fails for a method that is not in the
// catalogue or already has a handler. The returned function unbinds it.
func Register(method string, h Handler) (unregister func(), err error) {
	if h == nil {
		return nil, fmt.Errorf("method %s: no handler", method)
	}
	if _, ok := vpoller.Method(method); !ok {
		return nil, fmt.Errorf("method %s: not in the catalogue (vpoller.Register adds a row)", method)
	}
	registered.Lock()
	defer registered.Unlock()
	if _, ok := handlers[method]; ok {
		return nil, fmt.Errorf("method %s: already has a handler", method)
	}
	if _, ok := registered.m[method]; ok {
		return nil, fmt.Errorf("method %s: already has a handler", method)
	}
	if registered.m == nil {
		registered.m = map[string]Handler{}
	}
	registered.m[method] = h
	var once sync.Once
	return func() {
		once.Do(func() {
			registered.Lock()
			defer registered.Unlock()
			delete(registered.m, method)
		})
	}, nil
}

// Unbound returns the catalogue methods that have no handler, sorted: a
// worker answers them "Unknown or missing task/method name".
func Unbound() []string {
	var out []string
	for _, m := range vpoller.Methods() {
		if _, ok := handlerOf(m); !ok {
			out = append(out, m)
		}
	}
	return out
}

// fresh reports whether a method's reply depends on when the request
// arrived (a stream: events newer than the client's last): an identical
// request already in flight may answer with less than the newer one must
// get, so such requests do not share executions (the event stream shares
// its vCenter reads itself, see eventStream).
func fresh(mi vpoller.MethodInfo) bool { return mi.Action == vpoller.ActionStream }
