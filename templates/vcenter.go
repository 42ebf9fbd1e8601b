package templates

import "github.com/vpoller/zabbix-vpoller/lld"

// Host groups that discovered hosts are put into.
const (
	GroupHypervisors = "vPoller/Hypervisors"
	GroupVMs         = "vPoller/Virtual machines"
	GroupDatastores  = "vPoller/Datastores"
	GroupClusters    = "vPoller/Clusters"
	GroupDatacenters = "vPoller/Datacenters"
)

// objectKind describes one discovery of the vCenter template that turns
// vSphere objects into Zabbix hosts.
type objectKind struct {
	title    string // "Hypervisor"
	short    string // technical name part: "hv"
	method   string // "host.discover"
	props    string // extra discovery properties
	template string
	group    string
	// macros passed to the discovered host besides agent and interval:
	// user macro -> LLD macro.
	macros [][2]string
}

var objectKinds = []objectKind{
	{"Datacenter", "dc", "datacenter.discover", "", TplDatacenter, GroupDatacenters,
		[][2]string{{"{$VSPHERE.DATACENTER.NAME}", "{#VSPHERE.DATACENTER.NAME}"}}},
	{"Cluster", "cluster", "cluster.discover", "", TplCluster, GroupClusters,
		[][2]string{{"{$VSPHERE.CLUSTER.NAME}", "{#VSPHERE.CLUSTER.NAME}"}}},
	{"Hypervisor", "hv", "host.discover", "", TplHypervisor, GroupHypervisors,
		[][2]string{{"{$VSPHERE.HV.NAME}", "{#VSPHERE.HOST.NAME}"}}},
	{"Virtual machine", "vm", "vm.discover", "", TplVM, GroupVMs,
		[][2]string{{"{$VSPHERE.VM.NAME}", "{#VSPHERE.VM.NAME}"}}},
	{"Datastore", "ds", "datastore.discover", "info.url", TplDatastore, GroupDatastores,
		[][2]string{{"{$VSPHERE.DATASTORE.URL}", "{#VSPHERE.DATASTORE.INFO.URL}"}, {"{$VSPHERE.DATASTORE.NAME}", "{#VSPHERE.DATASTORE.NAME}"}}},
}

// VCenter returns the template attached to the Zabbix host that stands for a
// vCenter (or standalone ESXi) served by vPoller. Its agent interface must
// point at the Zabbix agent 2 running the vPoller plugin; discovered hosts
// inherit that interface.
func VCenter() Template {
	const tpl = TplVCenter
	b := newTemplate(tpl, `
Attach to one Zabbix host per vCenter (or standalone ESXi) that vPoller polls.
The host's agent interface must reach a Zabbix agent 2 with the vPoller plugin;
set {$VSPHERE.HOST} to the vPoller agent name of the vCenter (the hostname in
the worker's configuration). Low-level discovery creates one host per
datacenter, cluster, hypervisor, virtual machine and datastore, linked to the
matching vPoller template; they inherit this host's interface and get
{$VSPHERE.HOST}, {$VPOLLER.INTERVAL} and {$VPOLLER.LLD.INTERVAL} from it.`)
	b.macro(MacroAgent, "", "vPoller agent name of this vCenter/ESXi (the 'hostname' the vPoller worker knows it by).")
	b.macro(MacroInterval, "1m", "Polling interval of vPoller items here and on discovered hosts.")
	b.macro(MacroLLDInterval, "1h", "Interval of the object discoveries.")
	b.macro("{$VPOLLER.NAME.SUFFIX}", "", "Appended to the visible names of discovered hosts, e.g. ' (vc2)' when several vCenters use the same object names.")

	akey := getKey("about", "", props("fullName", "version", "build", "apiVersion", "apiType"))
	b.item(master("vCenter: raw about", akey, "About information of the vSphere API endpoint."))
	b.item(dep(akey, "vsphere.vc.fullname", "Full name", vtChar, "", prop("fullName"), discardUnchanged("1d")).
		withTags("component", "inventory"))
	b.item(dep(akey, "vsphere.vc.version", "Version", vtChar, "", prop("version"), discardUnchanged("1d")).
		withTags("component", "inventory").
		withTriggers(trigger("vCenter {$VSPHERE.HOST} version has changed", "INFO",
			"change(/"+tpl+"/vsphere.vc.version)=1", "The vSphere API endpoint was upgraded or replaced.")))
	b.item(dep(akey, "vsphere.vc.build", "Build", vtChar, "", prop("build"), discardUnchanged("1d")).
		withTags("component", "inventory"))
	b.item(dep(akey, "vsphere.vc.api.version", "API version", vtChar, "", prop("apiVersion"), discardUnchanged("1d")).
		withTags("component", "inventory"))
	b.item(dep(akey, "vsphere.vc.api.type", "API type", vtChar, "", prop("apiType"), discardUnchanged("1d")).
		withDescription("VirtualCenter for a vCenter, HostAgent for a standalone ESXi.").
		withTags("component", "inventory"))

	b.item(Item{Name: "Latest event", Key: pollKey("event.latest", "", "event"), Delay: MacroInterval,
		History: "7d", Trends: "0", ValueType: vtText,
		Description: "fullFormattedMessage of the newest event of the vCenter event manager."}.
		withTags("component", "events"))

	skey := getKey("session.get")
	b.item(master("vCenter: raw sessions", skey, "Sessions open on the vCenter (session.get)."))
	b.item(dep(skey, "vsphere.vc.sessions", "Sessions", vtUnsigned, "", jsonPath("$.length()")).
		withDescription("Number of sessions open on the vCenter, vPoller's own included.").
		withTags("component", "sessions"))

	for _, k := range objectKinds {
		r := DiscoveryRule{
			Name:          k.title + " discovery",
			Key:           discoverKey(k.method, "", k.props),
			Delay:         MacroLLDInterval,
			Lifetime:      "7d",
			Description:   k.title + "s of the vCenter (" + k.method + "), each created as a Zabbix host linked to '" + k.template + "'.",
			Preprocessing: []Step{objectDiscovery(k.short, "{#VSPHERE."+lld.MacroPrefix(k.method)+".NAME}")},
		}
		hp := HostPrototype{
			Host:       "{#VPOLLER.HOST}",
			Name:       "{#VPOLLER.NAME}",
			GroupLinks: []GroupLink{{Group: Name{Name: k.group}}},
			Templates:  []Name{{Name: k.template}},
			Macros: []Macro{
				{Macro: MacroAgent, Value: "{#VPOLLER.AGENT}"},
				{Macro: MacroInterval, Value: "{#VPOLLER.INTERVAL}"},
				{Macro: MacroLLDInterval, Value: "{#VPOLLER.LLD.INTERVAL}"},
			},
			Tags: []Tag{{Tag: "vsphere", Value: k.short}},
		}
		for _, m := range k.macros {
			hp.Macros = append(hp.Macros, Macro{Macro: m[0], Value: m[1]})
		}
		r.HostPrototypes = []HostPrototype{hp}
		b.rule(r)
	}

	// ---- issue 11 (i11-obj): the vCenter's event stream as a log item ----
	vcEvents(b, tpl)
	return b.finish()
}

// vcEvents adds vpoller.events: the vCenter's new events as log lines
// ("<time> <severity> <eventType> <entity>: <message>") each poll, and
// triggers on error and warning lines that users tune with regular
// expression macros. A trigger recovers once no line matched for
// {$VSPHERE.EVENTS.PERIOD}.
func vcEvents(b *builder, tpl string) {
	b.macro("{$VSPHERE.EVENTS.ERROR.MATCHES}", `(^|\n)[-0-9]+ [:0-9]+ error `,
		"Regular expression on the event lines (a poll's lines in one value) raising the error events trigger; default: any line of severity error.")
	b.macro("{$VSPHERE.EVENTS.WARNING.MATCHES}", `(^|\n)[-0-9]+ [:0-9]+ warning `,
		"Regular expression on the event lines raising the warning events trigger; default: any line of severity warning.")
	b.macro("{$VSPHERE.EVENTS.PERIOD}", "15m", "How long an events trigger stays in problem after the last matching line.")
	key := Key("vpoller.events", MacroAgent)
	count := func(macro string) string {
		return "count(/" + tpl + "/" + key + ",{$VSPHERE.EVENTS.PERIOD},\"regexp\",\"" + macro + "\")>0"
	}
	errs := trigger("vCenter {$VSPHERE.HOST}: error events", "AVERAGE", count("{$VSPHERE.EVENTS.ERROR.MATCHES}"),
		"vCenter logged events of severity error (or matching {$VSPHERE.EVENTS.ERROR.MATCHES}) in the last {$VSPHERE.EVENTS.PERIOD}; see the events item's history.")
	b.item(Item{Name: "Events", Key: key, Delay: MacroInterval, History: "7d", Trends: "0", ValueType: "LOG",
		LogTimeFmt: "yyyy-MM-dd hh:mm:ss",
		Description: "The vCenter's events since the previous poll, one line each: <time> <severity> <eventType> <entity>: <message>. " +
			"Keep ONE item with this key per agent (the plugin keeps its position per key); the first poll after an agent start returns nothing."}.
		withTags("component", "events").
		withTriggers(errs, trigger("vCenter {$VSPHERE.HOST}: warning events", "WARNING", count("{$VSPHERE.EVENTS.WARNING.MATCHES}"),
			"vCenter logged events of severity warning (or matching {$VSPHERE.EVENTS.WARNING.MATCHES}) in the last {$VSPHERE.EVENTS.PERIOD}.").dependsOn(errs)))
}
