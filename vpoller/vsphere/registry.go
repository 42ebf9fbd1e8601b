package vsphere

import (
	"context"

	"github.com/vpoller/zabbix-vpoller/vpoller"
)

// Handler runs one vPoller method against an agent. It returns the reply;
// errors become failure replies (see fail). Execute has already checked
// the method, the agent and the method's required keys.
type Handler func(ctx context.Context, a *Agent, req *vpoller.Request) *vpoller.Response

// handlers is the method registry: adding a method is one entry here plus
// its function in the file of its family (general.go, inventory.go,
// relations.go, ...). Methods of the catalogue (vpoller.Method) without an
// entry answer "Unknown or missing task/method name", as the original does
// for methods it does not know.
var handlers = map[string]Handler{
	// general.go
	"about":        about,
	"event.latest": eventLatest,
	"session.get":  sessionGet,

	// inventory.go
	"datacenter.discover":    discover(kindDatacenter),
	"datacenter.get":         get(kindDatacenter),
	"cluster.discover":       discover(kindCluster),
	"cluster.get":            get(kindCluster),
	"host.discover":          discover(kindHost),
	"host.get":               get(kindHost),
	"vm.discover":            discover(kindVM),
	"vm.get":                 get(kindVM),
	"datastore.discover":     discover(kindDatastore),
	"datastore.get":          get(kindDatastore),
	"resource.pool.discover": discover(kindPool),
	"resource.pool.get":      get(kindPool),
	"net.discover":           discover(kindNet),
	"net.get":                get(kindNet),

	// relations.go
	"host.vm.get":        hostVMGet,
	"host.datastore.get": datastoresOf(kindHost),
	"host.cluster.get":   hostClusterGet,
	"vm.host.get":        vmHostGet,
	"vm.datastore.get":   datastoresOf(kindVM),
	"datastore.host.get": datastoreHostGet,
	"datastore.vm.get":   datastoreVMGet,

	// perf.go
	"perf.metric.info":            perfMetricInfo,
	"perf.interval.info":          perfIntervalInfo,
	"datacenter.perf.metric.info": perfMetricInfoOf(kindDatacenter),
	"datacenter.perf.metric.get":  perfMetricGet(kindDatacenter),
	"cluster.perf.metric.info":    perfMetricInfoOf(kindCluster),
	"cluster.perf.metric.get":     perfMetricGet(kindCluster),
	"host.perf.metric.info":       perfMetricInfoOf(kindHost),
	"host.perf.metric.get":        perfMetricGet(kindHost),
	"vm.perf.metric.info":         perfMetricInfoOf(kindVM),
	"vm.perf.metric.get":          perfMetricGet(kindVM),
	"datastore.perf.metric.info":  perfMetricInfoOf(kindDatastore),
	"datastore.perf.metric.get":   perfMetricGet(kindDatastore),

	// alarms.go
	"datacenter.alarm.get": alarmGet(kindDatacenter),
	"cluster.alarm.get":    alarmGet(kindCluster),
	"host.alarm.get":       alarmGet(kindHost),
	"vm.alarm.get":         alarmGet(kindVM),
	"datastore.alarm.get":  alarmGet(kindDatastore),

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
}
