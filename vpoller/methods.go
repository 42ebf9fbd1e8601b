package vpoller

import (
	"sort"
	"strings"
)

// ZabbixKind says how the Zabbix helper (package lld) turns a method's
// reply into a Zabbix value.
type ZabbixKind int

const (
	// ZabbixNone: the original helper answers "[zbx-helper]: Do not know
	// how to process <method> method".
	ZabbixNone ZabbixKind = iota
	// ZabbixItem: one value (the last result element's first property).
	ZabbixItem
	// ZabbixLLD: low-level discovery JSON {"data": [...]}.
	ZabbixLLD
)

func (k ZabbixKind) String() string {
	switch k {
	case ZabbixItem:
		return "item"
	case ZabbixLLD:
		return "lld"
	}
	return "none"
}

// MethodInfo describes one vPoller method as clients see it.
type MethodInfo struct {
	Name string
	// Required lists the wire keys the worker insists on (besides hostname,
	// which selects the vSphere agent). Missing ones get "Invalid task request".
	Required []string
	// ObjectResult is true for the few methods whose result is one object
	// rather than a list.
	ObjectResult bool
	// Zabbix is the original Zabbix helper's treatment.
	Zabbix ZabbixKind
	// Plugin is the treatment in our Zabbix plugin, which also discovers
	// with the methods the original helper refused (net.discover,
	// resource.pool.discover).
	Plugin ZabbixKind
	// Original is false for methods the Python vPoller does not have.
	Original bool
}

var (
	reqName       = []string{KeyName}
	reqNameProps  = []string{KeyName, KeyProperties}
	reqNameCount  = []string{KeyName, KeyCounterName}
	reqGuestCreds = []string{KeyName, KeyUsername, KeyPassword}
)

func m(name string, required []string, zbx ZabbixKind) MethodInfo {
	return MethodInfo{Name: name, Required: required, Zabbix: zbx, Plugin: zbx, Original: true}
}

// methods is the catalogue: the 53 methods of the original plus ours.
var methods = func() map[string]MethodInfo {
	list := []MethodInfo{
		m("about", nil, ZabbixItem),
		m("event.latest", nil, ZabbixItem),
		m("session.get", nil, ZabbixLLD),
		m("perf.metric.info", nil, ZabbixNone),
		m("perf.interval.info", nil, ZabbixNone),

		{Name: "net.discover", Zabbix: ZabbixNone, Plugin: ZabbixLLD, Original: true},
		m("net.get", reqName, ZabbixNone),
		{Name: "net.host.get", Required: reqName, ObjectResult: true, Original: true},
		{Name: "net.vm.get", Required: reqName, ObjectResult: true, Original: true},

		m("datacenter.discover", nil, ZabbixLLD),
		m("datacenter.get", reqNameProps, ZabbixItem),
		m("datacenter.alarm.get", reqName, ZabbixLLD),
		m("datacenter.perf.metric.info", reqName, ZabbixLLD),
		m("datacenter.perf.metric.get", reqNameCount, ZabbixItem),

		m("cluster.discover", nil, ZabbixLLD),
		m("cluster.get", reqNameProps, ZabbixItem),
		m("cluster.alarm.get", reqName, ZabbixLLD),
		m("cluster.perf.metric.info", reqName, ZabbixLLD),
		m("cluster.perf.metric.get", reqNameCount, ZabbixItem),

		{Name: "resource.pool.discover", Zabbix: ZabbixNone, Plugin: ZabbixLLD, Original: true},
		m("resource.pool.get", reqNameProps, ZabbixItem),
		m("resource.pool.vm.get", reqName, ZabbixLLD),

		m("host.discover", nil, ZabbixLLD),
		m("host.get", reqNameProps, ZabbixItem),
		m("host.alarm.get", reqName, ZabbixLLD),
		m("host.perf.metric.info", reqName, ZabbixLLD),
		m("host.perf.metric.get", reqNameCount, ZabbixItem),
		m("host.cluster.get", reqName, ZabbixItem),
		m("host.vm.get", reqName, ZabbixLLD),
		m("host.datastore.get", reqName, ZabbixLLD),
		{Name: "host.net.get", Required: reqName, ObjectResult: true, Original: true},

		m("vm.discover", nil, ZabbixLLD),
		m("vm.get", reqNameProps, ZabbixItem),
		m("vm.alarm.get", reqName, ZabbixLLD),
		m("vm.perf.metric.info", reqName, ZabbixLLD),
		m("vm.perf.metric.get", reqNameCount, ZabbixItem),
		m("vm.host.get", reqName, ZabbixItem),
		m("vm.datastore.get", reqName, ZabbixLLD),
		{Name: "vm.net.get", Required: reqName, ObjectResult: true, Original: true},
		m("vm.disk.discover", reqName, ZabbixLLD),
		m("vm.disk.get", reqName, ZabbixItem),
		{Name: "vm.guest.net.get", Required: reqName, ObjectResult: true, Zabbix: ZabbixLLD, Plugin: ZabbixLLD, Original: true},
		m("vm.process.get", reqGuestCreds, ZabbixItem),
		m("vm.snapshot.get", reqName, ZabbixLLD),
		m("vm.cpu.usage.percent", reqName, ZabbixItem),

		m("datastore.discover", nil, ZabbixLLD),
		m("datastore.get", reqNameProps, ZabbixItem),
		m("datastore.alarm.get", reqName, ZabbixLLD),
		m("datastore.host.get", reqName, ZabbixLLD),
		m("datastore.vm.get", reqName, ZabbixLLD),
		m("datastore.perf.metric.info", reqName, ZabbixLLD),
		m("datastore.perf.metric.get", reqNameCount, ZabbixItem),

		m("vsan.health.get", reqName, ZabbixItem),

		// Ours. vm.cpu.usage.percent keeps the original's formula so that
		// history stays comparable; this one is the VM's CPU usage as a
		// percentage of its vCPU capacity (MHz used / (vCPUs x core MHz)).
		{Name: "vm.cpu.usage.pct", Required: reqName, Zabbix: ZabbixItem, Plugin: ZabbixItem},
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

// MacroPrefix is the LLD macro prefix of a method: the method without its
// last dot-separated part, upper-cased ("vm.discover" -> "VM",
// "datacenter.alarm.get" -> "DATACENTER.ALARM").
func MacroPrefix(method string) string {
	i := strings.LastIndexByte(method, '.')
	if i < 0 {
		return strings.ToUpper(method)
	}
	return strings.ToUpper(method[:i])
}

// MsgFirst reports whether the original writes "msg" before "success" in
// its successful replies to the method: its handlers of the general,
// performance-information and performance-sample methods build their reply
// dict in that order, the others success first. Failures are success
// first for every method.
func (mi MethodInfo) MsgFirst() bool {
	switch mi.Name {
	case "about", "event.latest", "session.get", "perf.interval.info", "perf.metric.info":
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
