package templates

// TplSelf is the template of vPoller's own figures.
const TplSelf = "vPoller self-monitoring"

// Macros of the self-monitoring template.
const (
	MacroProxyMgmt    = "{$VPOLLER.PROXY.MGMT}"
	MacroWorkerMgmt   = "{$VPOLLER.WORKER.MGMT}"
	MacroSelfInterval = "{$VPOLLER.SELF.INTERVAL}"
)

// SelfMonitoring returns the template that watches a vPoller proxy and
// worker through their management status (vpoller.status), attached to
// the host whose Zabbix agent 2 reaches their management sockets.
func SelfMonitoring() Template {
	const tpl = TplSelf
	b := newTemplate(tpl, `
vPoller itself: the proxy (workers connected, requests served, held and
refused, connections) and the worker (requests, proxy connection, vSphere
calls, and per vCenter its circuit, latency and failures), read from their
management status with vpoller.status. Attach it to the host whose Zabbix
agent 2 has Plugins.VPoller.Mgmt.<Name> sessions for the proxy and the worker
(see docs/plugin.md, vpoller.status), and set the two MGMT macros to those
names.`)
	b.macro(MacroProxyMgmt, "Proxy", "Plugins.VPoller.Mgmt.<Name> (or ipc:// / tcp:// URI) of the proxy's management socket.")
	b.macro(MacroWorkerMgmt, "Worker", "Plugins.VPoller.Mgmt.<Name> (or URI) of the worker's management socket.")
	b.macro(MacroSelfInterval, "1m", "Interval of the status items.")
	b.macro("{$VPOLLER.HELD.MAX}", "100", "Held requests (waiting for a worker) above which the queue is growing.")
	b.macro("{$VPOLLER.LATENCY.MAX}", "2", "p99 seconds of a vCenter's requests above which it is slow.")
	b.macro("{$VPOLLER.ERRORS.MAX}", "1", "Unreachable-vCenter failures per second above which a vCenter fails.")
	b.macro("{$VPOLLER.NODATA}", "5m", "Time without status after which a daemon is considered down.")

	selfMaster := func(name, key, desc string) Item {
		it := master(name, key, desc)
		it.Delay = MacroSelfInterval
		return it
	}
	perSecond := Step{Type: "CHANGE_PER_SECOND", Parameters: []string{""}}

	// The proxy.
	pkey := Key("vpoller.status", "proxy", MacroProxyMgmt)
	pdown := trigger("vPoller proxy: no status for {$VPOLLER.NODATA}", "HIGH",
		"nodata(/"+tpl+"/"+pkey+",{$VPOLLER.NODATA})=1", "The proxy's management socket did not answer: the proxy is down or unreachable.")
	b.item(selfMaster("vPoller proxy: status", pkey, "The proxy's management status; the proxy items depend on it.").withTriggers(pdown))
	noWorkers := trigger("vPoller proxy: no worker connected", "HIGH", last(tpl, "vpoller.proxy.workers")+"=0",
		"No worker is connected to the proxy's backend: every request waits, then fails.").dependsOn(pdown)
	b.item(dep(pkey, "vpoller.proxy.workers", "Proxy: workers connected", vtUnsigned, "", jsonPath("$.workers")).
		withTags("component", "proxy").withTriggers(noWorkers))
	b.item(dep(pkey, "vpoller.proxy.outstanding", "Proxy: outstanding requests", vtUnsigned, "", jsonPath("$.outstanding")).
		withTags("component", "proxy"))
	held := trigger("vPoller proxy: requests pile up waiting for a worker", "WARNING",
		"min(/"+tpl+"/vpoller.proxy.held,5m)>{$VPOLLER.HELD.MAX}", "More than {$VPOLLER.HELD.MAX} requests have been waiting for a worker for 5 minutes.")
	b.item(dep(pkey, "vpoller.proxy.held", "Proxy: held requests", vtUnsigned, "", jsonPath("$.held")).
		withTags("component", "proxy").withTriggers(held))
	b.item(dep(pkey, "vpoller.proxy.served.rate", "Proxy: replies per second", vtFloat, "rps", jsonPath("$.served"), perSecond).
		withTags("component", "proxy"))
	b.item(dep(pkey, "vpoller.proxy.refused.rate", "Proxy: requests refused per second (held requests at their cap)", vtFloat, "rps",
		jsonPath("$.refused_held_full"), perSecond).withTags("component", "proxy"))
	lost := trigger("vPoller proxy: a request killed its workers", "WARNING", last(tpl, "vpoller.proxy.lost_twice.rate")+">0",
		"A request whose worker died was sent to a second worker, which died too (\"worker lost twice\"): see the workers' logs.")
	b.item(dep(pkey, "vpoller.proxy.lost_twice.rate", "Proxy: requests lost twice per second", vtFloat, "rps",
		jsonPath("$.lost_twice"), perSecond).withTags("component", "proxy").withTriggers(lost))
	b.item(dep(pkey, "vpoller.proxy.clients", "Proxy: client connections", vtUnsigned, "", jsonPath("$.frontend_connections.active")).
		withTags("component", "proxy"))
	b.item(dep(pkey, "vpoller.proxy.auth_failed.rate", "Proxy: refused credentials per second", vtFloat, "",
		jsonPath("$.frontend_connections.auth_failed"), perSecond).withTags("component", "proxy"))

	// The worker.
	wkey := Key("vpoller.status", "worker", MacroWorkerMgmt)
	wdown := trigger("vPoller worker: no status for {$VPOLLER.NODATA}", "HIGH",
		"nodata(/"+tpl+"/"+wkey+",{$VPOLLER.NODATA})=1", "The worker's management socket did not answer: the worker is down or unreachable.")
	b.item(selfMaster("vPoller worker: status", wkey, "The worker's management status; the worker items depend on it.").withTriggers(wdown))
	unconnected := trigger("vPoller worker: not connected to its proxy", "HIGH", "max(/"+tpl+"/vpoller.worker.connected,3m)=0",
		"The worker has had no proxy connection for 3 minutes.").dependsOn(wdown)
	b.item(dep(wkey, "vpoller.worker.connected", "Worker: connected to the proxy", vtUnsigned, "", jsonPath("$.connected"), boolToDecimal()).
		withValueMap("vPoller boolean").withTags("component", "worker").withTriggers(unconnected))
	b.item(dep(wkey, "vpoller.worker.requests.rate", "Worker: requests per second", vtFloat, "rps", jsonPath("$.requests"), perSecond).
		withTags("component", "worker"))
	b.item(dep(wkey, "vpoller.worker.in_flight", "Worker: requests in flight", vtUnsigned, "", jsonPath("$.in_flight")).
		withTags("component", "worker"))
	b.item(dep(wkey, "vpoller.worker.soap_calls.rate", "Worker: vSphere calls per second", vtFloat, "cps",
		jsonPath("$.vsphere.soap_calls"), perSecond).withTags("component", "worker"))
	b.item(dep(wkey, "vpoller.worker.logins", "Worker: vSphere logins since start", vtUnsigned, "", jsonPath("$.vsphere.logins")).
		withTags("component", "worker"))

	// Per vCenter: the worker's lanes.
	rule := b.rule(DiscoveryRule{
		Name:        "vCenter discovery",
		Type:        "DEPENDENT",
		Key:         "vpoller.worker.vcenters",
		Delay:       "0",
		Lifetime:    "7d",
		Description: "The vCenters the worker serves (its lanes).",
		MasterItem:  &MasterItem{Key: wkey},
		Preprocessing: []Step{javascript(`
var lanes = JSON.parse(value).lanes || {};
var out = [];
for (var name in lanes) {
  out.push({'{#VPOLLER.VCENTER}': name});
}
return JSON.stringify(out);`)},
	})
	lane := func(path string) string { return "$.lanes['{#VPOLLER.VCENTER}']." + path }
	circuit := "vpoller.worker.vcenter.circuit[{#VPOLLER.VCENTER}]"
	open := trigger("vPoller: vCenter {#VPOLLER.VCENTER} unreachable", "HIGH", last(tpl, circuit)+`="open"`,
		"The worker's circuit for this vCenter is open: its requests fail at once until a probe succeeds.")
	p99 := "vpoller.worker.vcenter.latency.p99[{#VPOLLER.VCENTER}]"
	fails := "vpoller.worker.vcenter.failures.rate[{#VPOLLER.VCENTER}]"
	rule.ItemPrototypes = append(rule.ItemPrototypes,
		dep(wkey, circuit, "vCenter {#VPOLLER.VCENTER}: circuit", vtChar, "", jsonPath(lane("circuit"))).
			withTags("component", "vcenter", "vcenter", "{#VPOLLER.VCENTER}").withTriggerProtos(open),
		dep(wkey, p99, "vCenter {#VPOLLER.VCENTER}: p99 latency", vtFloat, "s", jsonPath(lane("latency_ms.p99")), multiply("0.001")).
			withTags("component", "vcenter", "vcenter", "{#VPOLLER.VCENTER}").
			withTriggerProtos(trigger("vPoller: vCenter {#VPOLLER.VCENTER} is slow", "WARNING",
				"min(/"+tpl+"/"+p99+",5m)>{$VPOLLER.LATENCY.MAX}", "The 99th percentile of its recent requests stayed above {$VPOLLER.LATENCY.MAX} s for 5 minutes.").
				dependsOn(open)),
		dep(wkey, fails, "vCenter {#VPOLLER.VCENTER}: unreachable failures per second", vtFloat, "",
			jsonPath(lane("failed_unreachable")), perSecond).
			withTags("component", "vcenter", "vcenter", "{#VPOLLER.VCENTER}").
			withTriggerProtos(trigger("vPoller: vCenter {#VPOLLER.VCENTER} requests fail", "WARNING",
				"min(/"+tpl+"/"+fails+",5m)>{$VPOLLER.ERRORS.MAX}", "Timeouts or connection failures above {$VPOLLER.ERRORS.MAX} per second for 5 minutes.").
				dependsOn(open)),
		dep(wkey, "vpoller.worker.vcenter.waiting[{#VPOLLER.VCENTER}]", "vCenter {#VPOLLER.VCENTER}: requests waiting", vtUnsigned, "",
			jsonPath(lane("waiting"))).withTags("component", "vcenter", "vcenter", "{#VPOLLER.VCENTER}"),
	)

	b.graph("vPoller proxy: requests", "vpoller.proxy.served.rate", "vpoller.proxy.refused.rate")
	b.graph("vPoller proxy: queue", "vpoller.proxy.outstanding", "vpoller.proxy.held")
	b.graph("vPoller worker: requests", "vpoller.worker.requests.rate", "vpoller.worker.in_flight")
	b.graph("vPoller worker: vSphere calls", "vpoller.worker.soap_calls.rate")
	b.dashboard("vPoller", "vPoller proxy: requests", "vPoller proxy: queue", "vPoller worker: requests", "vPoller worker: vSphere calls")
	b.valueMap("vPoller boolean", "0", "No", "1", "Yes")
	t := b.finish()
	t.Tags = []Tag{{Tag: "class", Value: "software"}, {Tag: "target", Value: "vpoller"}}
	return t
}
