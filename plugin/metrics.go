package plugin

import (
	"strings"

	"github.com/vpoller/zabbix-vpoller/plugin/agent2"
	"github.com/vpoller/zabbix-vpoller/vpoller"
)

// kind is what a key returns.
type kind int

const (
	kindDiscover kind = iota // Zabbix LLD JSON
	kindPoll                 // one plain value
	kindGet                  // the reply's result as JSON (master item)
	kindStatus               // a vPoller daemon's management status (master item)
	kindEvents               // vSphere events since the key's previous poll (Log or Text item)
)

// param is one item key parameter: its name in messages and docs, whether
// the key insists on it, and where it goes in the vPoller request.
type param struct {
	name     string
	required bool
	set      func(r *vpoller.Request, v string)
}

// endpointParam selects the vPoller endpoint (a session name or a URI); it
// is not part of the request.
const endpointParam = "endpoint"

var (
	pMethod   = param{name: "method", required: true, set: func(r *vpoller.Request, v string) { r.Method = v }}
	pHostname = param{name: "hostname", required: true, set: func(r *vpoller.Request, v string) { r.Hostname = v }}
	pName     = param{name: "name", set: func(r *vpoller.Request, v string) { r.Name = v }}
	pProps    = param{name: "properties", set: setProperties}
	pProperty = param{name: "property", set: setProperties}
	pKey      = param{name: "key", set: func(r *vpoller.Request, v string) { r.Key = v }}
	pUsername = param{name: "username", set: func(r *vpoller.Request, v string) { r.Username = v }}
	pPassword = param{name: "password", set: func(r *vpoller.Request, v string) { r.Password = v }}
	pCounter  = param{name: "counter-name", set: func(r *vpoller.Request, v string) { r.CounterName = v }}
	pInstance = param{name: "instance", set: func(r *vpoller.Request, v string) { r.Instance = v }}
	pInterval = param{name: "perf-interval", set: func(r *vpoller.Request, v string) { r.PerfInterval = v }}
	pEndpoint = param{name: endpointParam}
	// vpoller.status: which daemon, and its management socket.
	pDaemon = param{name: "daemon", required: true}
	pMgmt   = param{name: "mgmt", required: true}
)

// setProperties takes a comma-separated list ("a,b,c", or an array
// parameter [a,b,c], which the agent passes as "a,b,c").
func setProperties(r *vpoller.Request, v string) {
	r.Properties = append(r.Properties, vpoller.SplitProperties(v)...)
}

// metric is one row of the key table.
type metric struct {
	key         string
	description string
	kind        kind
	params      []param
	method      string // the vPoller method of keys that have no method parameter
}

// metrics is THE key table: registration, parameter parsing, usage text and
// docs/plugin.md all follow it. vpoller.poll keeps the parameter order of
// the original C module's vpoller[method,hostname,name,properties,key,
// username,password,counter-name,instance,perf-interval], so old templates
// port by renaming the key.
var metrics = []metric{
	{
		key:         "vpoller.discover",
		description: "Runs a vPoller discovery method and returns Zabbix low-level discovery JSON.",
		kind:        kindDiscover,
		params:      []param{pMethod, pHostname, pName, pProps, pCounter, pEndpoint},
	},
	{
		key:         "vpoller.poll",
		description: "Returns one property of a vSphere object, polled through vPoller, as a plain value.",
		kind:        kindPoll,
		params:      []param{pMethod, pHostname, pName, pProperty, pKey, pUsername, pPassword, pCounter, pInstance, pInterval, pEndpoint},
	},
	{
		key:         "vpoller.get",
		description: "Returns the result of a vPoller method as JSON, for dependent items.",
		kind:        kindGet,
		params:      []param{pMethod, pHostname, pName, pProps, pKey, pUsername, pPassword, pCounter, pInstance, pInterval, pEndpoint},
	},
	{
		key:         "vpoller.status",
		description: "Returns the management status of a vPoller proxy or worker as JSON, for self-monitoring.",
		kind:        kindStatus,
		params:      []param{pDaemon, pMgmt},
	},
	{
		key:         "vpoller.events",
		description: "Returns the vSphere events since the item's previous poll, one line each, for an item of type Log or Text.",
		kind:        kindEvents,
		params:      []param{pHostname, pName, pEndpoint},
		method:      "event.get",
	},
}

// Metrics returns the keys to register with the agent.
func Metrics() []agent2.Metric {
	out := make([]agent2.Metric, len(metrics))
	for i, m := range metrics {
		out[i] = agent2.Metric{Key: m.key, Description: m.description}
	}
	return out
}

// Signature returns the key with its parameters, optional ones in <>, as
// the docs and error messages show it.
func (m metric) signature() string {
	names := make([]string, len(m.params))
	for i, p := range m.params {
		if p.required {
			names[i] = p.name
		} else {
			names[i] = "<" + p.name + ">"
		}
	}
	return m.key + "[" + strings.Join(names, ",") + "]"
}

func metricByKey(key string) (metric, bool) {
	for _, m := range metrics {
		if m.key == key {
			return m, true
		}
	}
	return metric{}, false
}
