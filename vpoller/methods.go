package vpoller

import (
	"sort"
	"strings"
)

// MethodInfo describes one vPoller method as clients see it.
type MethodInfo struct {
	Name string
	// Required lists the wire keys the worker insists on (besides hostname,
	// which selects the vSphere agent). Missing ones get "Invalid task request".
	Required []string
	// ObjectResult is true for the few methods whose result is one object
	// rather than a list.
	ObjectResult bool
	// Original is false for methods the Python vPoller does not have.
	Original bool
}

var (
	reqName       = []string{KeyName}
	reqNameProps  = []string{KeyName, KeyProperties}
	reqNameCount  = []string{KeyName, KeyCounterName}
	reqGuestCreds = []string{KeyName, KeyUsername, KeyPassword}
	reqNameKey    = []string{KeyName, KeyKey}
)

func m(name string, required []string) MethodInfo {
	return MethodInfo{Name: name, Required: required, Original: true}
}

// methods is the catalogue: the 53 methods of the original plus ours.
var methods = func() map[string]MethodInfo {
	list := []MethodInfo{
		m("about", nil),
		m("event.latest", nil),
		m("session.get", nil),
		m("perf.metric.info", nil),
		m("perf.interval.info", nil),

		{Name: "net.discover", Original: true},
		m("net.get", reqName),
		{Name: "net.host.get", Required: reqName, ObjectResult: true, Original: true},
		{Name: "net.vm.get", Required: reqName, ObjectResult: true, Original: true},

		m("datacenter.discover", nil),
		m("datacenter.get", reqNameProps),
		m("datacenter.alarm.get", reqName),
		m("datacenter.perf.metric.info", reqName),
		m("datacenter.perf.metric.get", reqNameCount),

		m("cluster.discover", nil),
		m("cluster.get", reqNameProps),
		m("cluster.alarm.get", reqName),
		m("cluster.perf.metric.info", reqName),
		m("cluster.perf.metric.get", reqNameCount),

		{Name: "resource.pool.discover", Original: true},
		m("resource.pool.get", reqNameProps),
		m("resource.pool.vm.get", reqName),

		m("host.discover", nil),
		m("host.get", reqNameProps),
		m("host.alarm.get", reqName),
		m("host.perf.metric.info", reqName),
		m("host.perf.metric.get", reqNameCount),
		m("host.cluster.get", reqName),
		m("host.vm.get", reqName),
		m("host.datastore.get", reqName),
		{Name: "host.net.get", Required: reqName, ObjectResult: true, Original: true},

		m("vm.discover", nil),
		m("vm.get", reqNameProps),
		m("vm.alarm.get", reqName),
		m("vm.perf.metric.info", reqName),
		m("vm.perf.metric.get", reqNameCount),
		m("vm.host.get", reqName),
		m("vm.datastore.get", reqName),
		{Name: "vm.net.get", Required: reqName, ObjectResult: true, Original: true},
		m("vm.disk.discover", reqName),
		m("vm.disk.get", reqName),
		{Name: "vm.guest.net.get", Required: reqName, ObjectResult: true, Original: true},
		m("vm.process.get", reqGuestCreds),
		m("vm.snapshot.get", reqName),
		m("vm.cpu.usage.percent", reqName),

		m("datastore.discover", nil),
		m("datastore.get", reqNameProps),
		m("datastore.alarm.get", reqName),
		m("datastore.host.get", reqName),
		m("datastore.vm.get", reqName),
		m("datastore.perf.metric.info", reqName),
		m("datastore.perf.metric.get", reqNameCount),

		m("vsan.health.get", reqName),

		// Ours. vm.cpu.usage.percent keeps the original's formula so that
		// history stays comparable; this one is the VM's CPU usage as a
		// percentage of its vCPU capacity (MHz used / (vCPUs x core MHz)).
		{Name: "vm.cpu.usage.pct", Required: reqName},

		// Ours: hardware sensors and health of ESXi hosts (name = host;
		// host.sensor.get's key = the sensor's name).
		{Name: "host.sensor.discover", Required: reqName},
		{Name: "host.sensor.get", Required: reqNameKey},
		{Name: "host.health.get", Required: reqName},

		// Ours: perf instances for per-disk/NIC/datastore/LUN discovery
		// (name = VM or host): the instance strings vSphere keeps the
		// virtualDisk.*, net.*, datastore.* and disk.* counters under.
		{Name: "vm.vdisk.discover", Required: reqName},
		{Name: "vm.vnic.discover", Required: reqName},
		{Name: "host.pnic.discover", Required: reqName},
		{Name: "host.datastore.discover", Required: reqName},
		{Name: "host.lun.discover", Required: reqName},

		// Ours: datastore clusters and distributed switches.
		{Name: "datastore.cluster.discover"},
		{Name: "datastore.cluster.get", Required: reqNameProps},
		{Name: "datastore.cluster.datastore.get", Required: reqName},
		{Name: "dvswitch.discover"},
		{Name: "dvswitch.get", Required: reqNameProps},
		{Name: "dvswitch.port.get", Required: reqName},

		// Ours: vSphere tags (vCenter's tagging service, through vAPI)
		// and custom attributes (custom fields).
		{Name: "tag.discover"},
		{Name: "vm.tag.get", Required: reqName},
		{Name: "host.tag.get", Required: reqName},
		{Name: "datastore.tag.get", Required: reqName},
		{Name: "cluster.tag.get", Required: reqName},
		{Name: "vm.attribute.get", Required: reqName},
		{Name: "host.attribute.get", Required: reqName},

		// The event stream: events newer than "key" (docs/methods.md).
		{Name: "event.get"},
	}
	out := make(map[string]MethodInfo, len(list))
	for _, mi := range list {
		out[mi.Name] = mi
	}
	return out
}()

// Method returns the catalogue entry of a method name.
func Method(name string) (MethodInfo, bool) {
	mi, ok := methods[name]
	return mi, ok
}

// Methods returns every method name, sorted.
func Methods() []string {
	names := make([]string, 0, len(methods))
	for n := range methods {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// MsgFirst reports whether the original writes "msg" before "success" in
// its successful replies to the method: its handlers of the general
// methods, of perf.interval.info, of the per-entity performance
// information (<kind>.perf.metric.info) and of the performance samples
// build their reply dict in that order, the others success first
// (perf.metric.info among them: its dict starts with success). Failures
// are success first for every method.
func (mi MethodInfo) MsgFirst() bool {
	switch mi.Name {
	case "about", "event.latest", "session.get", "perf.interval.info":
		return true
	}
	return strings.HasSuffix(mi.Name, ".perf.metric.info") || strings.HasSuffix(mi.Name, ".perf.metric.get")
}

// Missing returns the first required key of the method that req lacks, or "".
func (mi MethodInfo) Missing(req *Request) string {
	for _, k := range mi.Required {
		if !req.Given(k) {
			return k
		}
	}
	return ""
}

// issue-18 storage/services/backup methods (ours; docs/methods.md):
// storage paths per LUN, host services, NTP and clock, VM backup facts,
// datastore provisioning. Name = host, VM or datastore URL; the key of
// host.service.get is a service key (optional), that of vm.backup.get
// the custom attribute holding the last backup time (optional).
var issue18Methods = []MethodInfo{
	{Name: "host.path.discover", Required: reqName},
	{Name: "host.service.get", Required: reqName},
	{Name: "host.ntp.get", Required: reqName},
	{Name: "host.time.get", Required: reqName},
	{Name: "vm.backup.get", Required: reqName},
	{Name: "datastore.space.get", Required: reqName},
}

func init() {
	for _, mi := range issue18Methods {
		methods[mi.Name] = mi
	}
}
