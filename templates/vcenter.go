package templates

import (
	"strings"

	"github.com/vpoller/zabbix-vpoller/lld"
)

// Host groups that discovered hosts are put into. Discovered hosts also
// get the group prototypes GroupDatacenterPrefix+<datacenter> and, for
// hypervisors, VMs, clusters and resource pools, GroupClusterPrefix+<cluster>.
const (
	GroupHypervisors       = "vPoller/Hypervisors"
	GroupVMs               = "vPoller/Virtual machines"
	GroupDatastores        = "vPoller/Datastores"
	GroupClusters          = "vPoller/Clusters"
	GroupDatacenters       = "vPoller/Datacenters"
	GroupResourcePools     = "vPoller/Resource pools"
	GroupDatastoreClusters = "vPoller/Datastore clusters"

	GroupDatacenterPrefix = "vPoller/Datacenter/"
	GroupClusterPrefix    = "vPoller/Cluster/"
)

// Macros of the discovery filters shared by every object discovery.
const (
	MacroDatacenterMatches    = "{$VSPHERE.DATACENTER.MATCHES}"
	MacroDatacenterNotMatches = "{$VSPHERE.DATACENTER.NOT_MATCHES}"
	MacroClusterMatches       = "{$VSPHERE.CLUSTER.MATCHES}"
	MacroClusterNotMatches    = "{$VSPHERE.CLUSTER.NOT_MATCHES}"
	// NotMatchesDefault is the default of the *.NOT_MATCHES macros: a
	// value no name contains, as in Zabbix's own templates.
	NotMatchesDefault = "CHANGE_IF_NEEDED"
)

// objectKind describes one discovery of the vCenter template that turns
// vSphere objects into Zabbix hosts.
type objectKind struct {
	title    string // "Hypervisor"
	short    string // technical name part: "hv"
	method   string // "host.discover"
	macro    string // filter macro part: {$VSPHERE.<macro>.NAME.MATCHES}
	props    []string
	idProps  []string // discovery properties of the stable id, first non-empty wins
	template string
	group    string
	// placement: the discovery gives the datacenter (and cluster); own:
	// "dc"/"cluster" when the object is itself one.
	dc, cluster bool
	own         string
	// macros passed to the discovered host besides agent and interval:
	// user macro -> LLD macro ({#VPOLLER.ID} is the stable id).
	macros [][2]string
	// extra filter conditions (VMs: power state, templates).
	filters []Condition
	// extra user macros of the vCenter template for the filters.
	filterMacros []Macro
	// tags: the discovery asks for the object's vSphere tags (the worker's
	// tags pseudo-property) and the host gets them as host tag vsphere.tags.
	tags bool
}

// TagVSphereTags is the host tag carrying a discovered object's vSphere
// tags: "<category>:<tag>, ..." sorted (filter with "contains").
const TagVSphereTags = "vsphere.tags"

// The id every discovered host is keyed by and queried with.
const macroID = "{#VPOLLER.ID}"

// The vSphere names of discovered VMs, hypervisors and clusters, as
// vCenter names them in alarm entities (their *.NAME macros hold the
// stable id): discovery keeps them current across renames.
const (
	MacroVMEntity      = "{$VSPHERE.VM.ENTITY}"
	MacroHVEntity      = "{$VSPHERE.HV.ENTITY}"
	MacroClusterEntity = "{$VSPHERE.CLUSTER.ENTITY}"
)

var objectKinds = []objectKind{
	{title: "Datacenter", short: "dc", method: "datacenter.discover", macro: "DATACENTER",
		props: []string{"moref"}, idProps: []string{"moref"}, template: TplDatacenter, group: GroupDatacenters, own: "dc",
		macros: [][2]string{{"{$VSPHERE.DATACENTER.NAME}", macroID}}},
	{title: "Cluster", short: "cluster", method: "cluster.discover", tags: true, macro: "CLUSTER",
		props: []string{"moref", "datacenter"}, idProps: []string{"moref"}, template: TplCluster, group: GroupClusters,
		dc: true, own: "cluster",
		macros: [][2]string{{"{$VSPHERE.CLUSTER.NAME}", macroID}, {MacroClusterEntity, "{#VSPHERE.CLUSTER.NAME}"}}},
	{title: "Hypervisor", short: "hv", method: "host.discover", tags: true, macro: "HV",
		props: []string{"moref", "datacenter", "cluster"}, idProps: []string{"moref"}, template: TplHypervisor, group: GroupHypervisors,
		dc: true, cluster: true,
		macros: [][2]string{{"{$VSPHERE.HV.NAME}", macroID}, {MacroHVEntity, "{#VSPHERE.HOST.NAME}"}}},
	{title: "Virtual machine", short: "vm", method: "vm.discover", tags: true, macro: "VM",
		props:   []string{"config.instanceUuid", "moref", "datacenter", "cluster", "runtime.powerState", "config.template", "guest.ipAddress"},
		idProps: []string{"config.instanceUuid", "moref"}, template: TplVM, group: GroupVMs, dc: true, cluster: true,
		macros: [][2]string{{"{$VSPHERE.VM.NAME}", macroID}, {MacroVMEntity, "{#VSPHERE.VM.NAME}"}},
		filters: []Condition{
			{Macro: "{#VSPHERE.VM.RUNTIME.POWERSTATE}", Value: "{$VSPHERE.VM.POWERSTATE.MATCHES}"},
			{Macro: "{#VSPHERE.VM.CONFIG.TEMPLATE}", Value: "{$VSPHERE.VM.TEMPLATE.NOT_MATCHES}", Operator: "NOT_MATCHES_REGEX"},
		},
		filterMacros: []Macro{
			{Macro: "{$VSPHERE.VM.POWERSTATE.MATCHES}", Value: ".*",
				Description: "Discover only VMs whose power state (poweredOn, poweredOff, suspended) matches this regular expression."},
			{Macro: "{$VSPHERE.VM.TEMPLATE.NOT_MATCHES}", Value: "^true$",
				Description: "VMs whose config.template matches this regular expression are not discovered: VM templates by default; set CHANGE_IF_NEEDED to discover them too."},
		}},
	{title: "Datastore", short: "ds", method: "datastore.discover", tags: true, macro: "DATASTORE",
		props: []string{"info.url", "moref", "datacenter"}, idProps: []string{"moref"}, template: TplDatastore, group: GroupDatastores, dc: true,
		// vPoller looks datastores up by URL, as stable as the id.
		macros: [][2]string{{"{$VSPHERE.DATASTORE.URL}", "{#VSPHERE.DATASTORE.INFO.URL}"}, {"{$VSPHERE.DATASTORE.NAME}", "{#VSPHERE.DATASTORE.NAME}"}}},
	{title: "Resource pool", short: "rp", method: "resource.pool.discover", macro: "RESOURCEPOOL",
		props: []string{"moref", "datacenter", "cluster"}, idProps: []string{"moref"}, template: TplResourcePool, group: GroupResourcePools,
		dc: true, cluster: true,
		macros: [][2]string{{MacroResourcePoolID, macroID}, {MacroResourcePoolName, "{#VPOLLER.NAME}"}}},
	{title: "Datastore cluster", short: "dsc", method: "datastore.cluster.discover", macro: "DSCLUSTER",
		props: []string{"moref", "datacenter"}, idProps: []string{"moref"}, template: TplDatastoreCluster, group: GroupDatastoreClusters, dc: true,
		macros: [][2]string{{MacroDatastoreClusterID, macroID}, {MacroDatastoreClusterName, "{#VPOLLER.NAME}"}}},
}

// nameFilterMacros are the name include/exclude macros of a kind.
func nameFilterMacros(k objectKind) (matches, notMatches string) {
	return "{$VSPHERE." + k.macro + ".NAME.MATCHES}", "{$VSPHERE." + k.macro + ".NAME.NOT_MATCHES}"
}

// discoveryFilter is the filter of an object discovery: name include and
// exclude, datacenter (and cluster) include and exclude, the kind's own
// conditions; all must hold (evaltype AND: two conditions on one macro
// would be OR-ed under AND/OR).
func discoveryFilter(nameMacro string, matches, notMatches string, dc, cluster bool, extra []Condition) *Filter {
	conds := []Condition{
		{Macro: nameMacro, Value: matches},
		{Macro: nameMacro, Value: notMatches, Operator: "NOT_MATCHES_REGEX"},
	}
	if dc {
		conds = append(conds,
			Condition{Macro: "{#VPOLLER.DATACENTER}", Value: MacroDatacenterMatches},
			Condition{Macro: "{#VPOLLER.DATACENTER}", Value: MacroDatacenterNotMatches, Operator: "NOT_MATCHES_REGEX"})
	}
	if cluster {
		conds = append(conds,
			Condition{Macro: "{#VPOLLER.CLUSTER}", Value: MacroClusterMatches},
			Condition{Macro: "{#VPOLLER.CLUSTER}", Value: MacroClusterNotMatches, Operator: "NOT_MATCHES_REGEX"})
	}
	conds = append(conds, extra...)
	for i := range conds {
		conds[i].FormulaID = string(rune('A' + i))
	}
	return &Filter{EvalType: "AND", Conditions: conds}
}

// objectMacros declares the filter macros of the object discoveries and the
// guest agent interface macros on the vCenter template.
func objectMacros(b *builder) {
	b.macro(MacroDatacenterMatches, ".*", "Discover only objects (of every kind) in datacenters whose name matches this regular expression.")
	b.macro(MacroDatacenterNotMatches, NotMatchesDefault, "Objects in datacenters whose name matches this regular expression are not discovered.")
	b.macro(MacroClusterMatches, ".*", "Discover only hypervisors, VMs, clusters and resource pools of clusters whose name matches this regular expression ('(standalone)' for those of standalone hosts).")
	b.macro(MacroClusterNotMatches, NotMatchesDefault, "Hypervisors, VMs, clusters and resource pools of clusters whose name matches this regular expression are not discovered.")
	for _, k := range objectKinds {
		mt, nm := nameFilterMacros(k)
		what := strings.ToLower(k.title) + "s"
		b.macro(mt, ".*", "Discover only "+what+" whose name matches this regular expression.")
		b.macro(nm, NotMatchesDefault, "The "+what+" whose name matches this regular expression are not discovered.")
		for _, m := range k.filterMacros {
			b.macro(m.Macro, m.Value, m.Description)
		}
	}
	b.macro(MacroDVSwitchMatches, ".*", "Discover only distributed switches whose name matches this regular expression.")
	b.macro(MacroDVSwitchNotMatches, NotMatchesDefault, "Distributed switches whose name matches this regular expression are not discovered.")
	b.macro("{$VSPHERE.VM.AGENT.INTERFACE}", "0",
		"1: discovered VMs that report a guest IP address get a second agent interface on it (Zabbix agent in the guest), besides the vPoller agent interface at {$VPOLLER.AGENT.ADDRESS}; 0: they inherit this host's interface only.")
	b.macro("{$VPOLLER.AGENT.ADDRESS}", "", "With {$VSPHERE.VM.AGENT.INTERFACE}=1: IP address of the Zabbix agent 2 with the vPoller plugin (this host's agent interface), the main interface of VMs with a guest interface.")
	b.macro("{$VPOLLER.AGENT.PORT}", "10050", "With {$VSPHERE.VM.AGENT.INTERFACE}=1: port of the Zabbix agent 2 with the vPoller plugin.")
	b.macro("{$VSPHERE.VM.AGENT.PORT}", "10050", "With {$VSPHERE.VM.AGENT.INTERFACE}=1: port of the Zabbix agent in the guests.")
}

// objectRules returns the object discoveries: one host per object, keyed
// by its stable id and named by its current vSphere name; VMs have a
// second rule for those with a guest agent interface; distributed
// switches are item prototypes of the vCenter host.
func objectRules() []DiscoveryRule {
	var out []DiscoveryRule
	for _, k := range objectKinds {
		prefix := lld.MacroPrefix(k.method)
		nameMacro := lld.Macro(prefix, "name")
		spec := discoverySpec{kind: k.short, nameMacro: nameMacro, own: k.own}
		for _, p := range k.idProps {
			spec.idMacros = append(spec.idMacros, lld.Macro(prefix, p))
		}
		for _, c := range k.filters {
			spec.need = append(spec.need, c.Macro)
		}
		kprops := k.props
		if k.tags {
			kprops = append(append([]string{}, k.props...), "tags")
			spec.need = append(spec.need, lld.Macro(prefix, "tags"))
		}
		if k.dc {
			spec.dcMacro = lld.Macro(prefix, "datacenter")
		}
		if k.cluster {
			spec.cluster = lld.Macro(prefix, "cluster")
		}
		spec.guest = k.short == "vm"
		mt, nm := nameFilterMacros(k)
		filters := k.filters
		if spec.guest {
			filters = append(append([]Condition{}, filters...),
				Condition{Macro: "{#VPOLLER.VM.AGENT.INTERFACE}", Value: "^1$", Operator: "NOT_MATCHES_REGEX"})
		}
		r := DiscoveryRule{
			Name:     k.title + " discovery",
			Key:      discoverKey(k.method, "", props(kprops...)),
			Delay:    MacroLLDInterval,
			Filter:   discoveryFilter(nameMacro, mt, nm, k.dc || k.own == "dc", k.cluster || k.own == "cluster", filters),
			Lifetime: "7d",
			Description: k.title + "s of the vCenter (" + k.method + "), each created as a Zabbix host linked to '" + k.template +
				"', keyed by its id (" + strings.Join(k.idProps, ", else ") + ") and named by its current name; filtered by the " +
				mt + "/" + nm + " macros and the datacenter/cluster macros.",
			Preprocessing: []Step{objectDiscovery(spec)},
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
				{Macro: MacroPerfInstanceInterval, Value: "{#VPOLLER.PERF.INSTANCE.INTERVAL}"},
			},
			Tags: []Tag{{Tag: "vsphere", Value: k.short}, {Tag: "vsphere.id", Value: macroID}},
		}
		if k.dc || k.own == "dc" {
			hp.GroupPrototypes = append(hp.GroupPrototypes, Name{Name: GroupDatacenterPrefix + "{#VPOLLER.DATACENTER}"})
			hp.Tags = append(hp.Tags, Tag{Tag: "datacenter", Value: "{#VPOLLER.DATACENTER}"})
		}
		if k.cluster || k.own == "cluster" {
			hp.GroupPrototypes = append(hp.GroupPrototypes, Name{Name: GroupClusterPrefix + "{#VPOLLER.CLUSTER}"})
			hp.Tags = append(hp.Tags, Tag{Tag: "cluster", Value: "{#VPOLLER.CLUSTER}"})
		}
		if k.tags {
			hp.Tags = append(hp.Tags, Tag{Tag: TagVSphereTags, Value: lld.Macro(prefix, "tags")})
		}
		for _, m := range k.macros {
			hp.Macros = append(hp.Macros, Macro{Macro: m[0], Value: m[1]})
		}
		r.HostPrototypes = []HostPrototype{hp}
		out = append(out, r)
		if spec.guest {
			out = append(out, guestAgentRule(r, k))
		}
	}
	return append(out, dvswitchRule())
}

// guestAgentRule is the VM discovery for VMs with a guest agent interface
// ({$VSPHERE.VM.AGENT.INTERFACE}=1). Zabbix 6.0 host prototypes either
// inherit all interfaces or have their own list, never a conditional one,
// so these VMs come from a rule of their own: the same discovery (its
// properties in another order, since keys must differ) whose filter takes
// exactly the rows the plain rule leaves ({#VPOLLER.VM.AGENT.INTERFACE}
// is 1). Its host prototype has two agent interfaces: the main one is the
// vPoller agent ({$VPOLLER.AGENT.ADDRESS}: the VM template's items keep
// using it), the second the guest's IP address.
func guestAgentRule(plain DiscoveryRule, k objectKind) DiscoveryRule {
	r := plain
	rev := append([]string{}, k.props...)
	rev[0], rev[1] = rev[1], rev[0] // same properties, another key
	if k.tags {
		rev = append(rev, "tags")
	}
	r.Key = discoverKey(k.method, "", props(rev...))
	r.Name = k.title + " discovery (guest agent interface)"
	r.Description = "The VMs of '" + plain.Name + "' when {$VSPHERE.VM.AGENT.INTERFACE} is 1, {$VPOLLER.AGENT.ADDRESS} is set and the guest reports an IP address: " +
		"the same hosts (same technical names), with a second agent interface on the guest's IP address ({$VSPHERE.VM.AGENT.PORT})."
	f := *plain.Filter
	f.Conditions = append([]Condition{}, f.Conditions...)
	last := &f.Conditions[len(f.Conditions)-1]
	last.Operator = "" // MATCHES_REGEX ^1$
	r.Filter = &f
	hp := plain.HostPrototypes[0]
	hp.CustomInterfaces = "YES"
	hp.Interfaces = []HostInterface{
		{IP: "{#VPOLLER.AGENT.ADDRESS}", Port: "{#VPOLLER.AGENT.PORT}"},
		{Default: "NO", IP: "{#VSPHERE.VM.GUEST.IPADDRESS}", Port: "{#VPOLLER.VM.AGENT.PORT}"},
	}
	r.HostPrototypes = []HostPrototype{hp}
	return r
}

// Distributed switch discovery: item prototypes on the vCenter host (a
// switch has no template of its own), one dvswitch.port.get per switch.
const (
	MacroDVSwitchMatches    = "{$VSPHERE.DVSWITCH.NAME.MATCHES}"
	MacroDVSwitchNotMatches = "{$VSPHERE.DVSWITCH.NAME.NOT_MATCHES}"
)

func dvswitchRule() DiscoveryRule {
	const tpl = TplVCenter
	nameMacro := lld.Macro("DVSWITCH", "name")
	r := DiscoveryRule{
		Name:     "Distributed switch discovery",
		Key:      discoverKey("dvswitch.discover", "", props("moref", "datacenter")),
		Delay:    MacroLLDInterval,
		Filter:   discoveryFilter(nameMacro, MacroDVSwitchMatches, MacroDVSwitchNotMatches, true, false, nil),
		Lifetime: "7d",
		Description: "Distributed switches of the vCenter (dvswitch.discover): port counts from one dvswitch.port.get per switch " +
			"and interval, queried by the switch's id.",
		Preprocessing: []Step{objectDiscovery(discoverySpec{kind: "dvs", nameMacro: nameMacro,
			idMacros: []string{lld.Macro("DVSWITCH", "moref")}, dcMacro: lld.Macro("DVSWITCH", "datacenter")})},
	}
	mkey := getKey("dvswitch.port.get", macroID)
	raw := master("Distributed switch {#VSPHERE.DVSWITCH.NAME}: raw ports", mkey,
		"Ports of the switch (dvswitch.port.get: key, portgroup, connectee, linkUp, blocked, counters).")
	raw.Tags = append(raw.Tags, Tag{Tag: "dvswitch", Value: "{#VSPHERE.DVSWITCH.NAME}"})
	count := func(key, name, cond, desc string) Item {
		return dep(mkey, key, "Distributed switch {#VSPHERE.DVSWITCH.NAME}: "+name, vtUnsigned, "", javascript(`
var ports = JSON.parse(value), n = 0;
for (var i = 0; i < ports.length; i++) {
    var p = ports[i];
    if (`+cond+`) { n++; }
}
return n;`)).withDescription(desc).withTags("component", "network", "dvswitch", "{#VSPHERE.DVSWITCH.NAME}")
	}
	downKey := "vsphere.dvs.ports.connected.down[{#VPOLLER.ID}]"
	blockedKey := "vsphere.dvs.ports.blocked[{#VPOLLER.ID}]"
	r.ItemPrototypes = []Item{
		raw,
		dep(mkey, "vsphere.dvs.ports[{#VPOLLER.ID}]", "Distributed switch {#VSPHERE.DVSWITCH.NAME}: ports", vtUnsigned, "", jsonPath("$.length()")).
			withDescription("Ports of the switch (all portgroups, uplinks included).").
			withTags("component", "network", "dvswitch", "{#VSPHERE.DVSWITCH.NAME}"),
		count("vsphere.dvs.ports.connected[{#VPOLLER.ID}]", "ports connected", "p.connectee !== null && p.connectee !== undefined",
			"Ports with a connected VM NIC, VMkernel NIC or physical NIC."),
		count("vsphere.dvs.ports.up[{#VPOLLER.ID}]", "ports link up", "p.linkUp === true", "Running ports whose link is up."),
		count(downKey, "connected ports link down",
			"p.connectee !== null && p.connectee !== undefined && p.linkUp === false", "Connected ports whose link is down.").
			withTriggerProtos(trigger("Distributed switch {#VSPHERE.DVSWITCH.NAME}: {ITEM.LASTVALUE1} connected port(s) link down", "WARNING",
				last(tpl, downKey)+">0", "Ports with a connected NIC report their link down (cable, uplink, or VM NIC disconnected).")),
		count(blockedKey, "ports blocked", "p.blocked === true", "Ports blocked by policy or state.").
			withTriggerProtos(trigger("Distributed switch {#VSPHERE.DVSWITCH.NAME}: {ITEM.LASTVALUE1} port(s) blocked", "INFO",
				last(tpl, blockedKey)+">0", "Ports are blocked (by an administrator, a security policy or network I/O control): their NICs have no traffic.")),
	}
	r.ItemPrototypes = append(r.ItemPrototypes, dvswitchState()...)
	r.GraphProtos = []Graph{newGraph(tpl, DVSwitchPortsGraph,
		[]string{"vsphere.dvs.ports[{#VPOLLER.ID}]", "vsphere.dvs.ports.connected[{#VPOLLER.ID}]", "vsphere.dvs.ports.up[{#VPOLLER.ID}]", downKey, blockedKey})}
	return r
}

// DVSwitchPortsGraph is the graph prototype of a distributed switch's
// port counts (vCenter overview dashboard).
const DVSwitchPortsGraph = "Distributed switch {#VSPHERE.DVSWITCH.NAME}: ports"

// dvswitchState adds a switch's overall status (text with red/yellow
// triggers, numeric twin for graphs) and configuration version (info
// trigger on change: somebody reconfigured the switch), from one
// dvswitch.get per switch and interval, answered from the worker's
// property mirror.
func dvswitchState() []Item {
	const tpl = TplVCenter
	skey := getKey("dvswitch.get", macroID, props("name", "overallStatus", "config.configVersion"))
	raw := master("Distributed switch {#VSPHERE.DVSWITCH.NAME}: raw properties", skey,
		"Status and configuration version of the switch (dvswitch.get), from the worker's property mirror.")
	raw.Tags = append(raw.Tags, Tag{Tag: "dvswitch", Value: "{#VSPHERE.DVSWITCH.NAME}"})
	status := "vsphere.dvs.status[{#VPOLLER.ID}]"
	version := "vsphere.dvs.config.version[{#VPOLLER.ID}]"
	red := trigger("Distributed switch {#VSPHERE.DVSWITCH.NAME} overall status is red", "HIGH",
		last(tpl, status)+`="red"`, "vCenter reports a problem with the distributed switch (e.g. a host out of sync, an uplink down).")
	tags := []string{"component", "network", "dvswitch", "{#VSPHERE.DVSWITCH.NAME}"}
	return []Item{
		raw,
		dep(skey, status, "Distributed switch {#VSPHERE.DVSWITCH.NAME}: overall status", vtChar, "", prop("overallStatus")).
			withTags(tags...).
			withTriggerProtos(red, trigger("Distributed switch {#VSPHERE.DVSWITCH.NAME} overall status is yellow", "WARNING",
				last(tpl, status)+`="yellow"`, "vCenter reports that the distributed switch might have a problem.").dependsOn(red)),
		stateNum(skey, "vsphere.dvs.status.num[{#VPOLLER.ID}]", "Distributed switch {#VSPHERE.DVSWITCH.NAME}: overall status",
			"overallStatus", "gray", vmStatus).withTags(tags...),
		dep(skey, version, "Distributed switch {#VSPHERE.DVSWITCH.NAME}: configuration version", vtChar, "",
			propOr("config.configVersion", ""), discardUnchanged("1d")).
			withTags(tags...).
			withTriggerProtos(trigger("Distributed switch {#VSPHERE.DVSWITCH.NAME} configuration has changed", "INFO",
				"change(/"+tpl+"/"+version+")=1", "The switch's configuration version changed: somebody reconfigured it (portgroups, uplinks, policies).")),
	}
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
datacenter, cluster, hypervisor, virtual machine, datastore, resource pool and
datastore cluster, linked to the matching vPoller template, keyed by the
object's id (a VM's instance UUID, else the managed object id), so that a
rename keeps the host and its history and only changes its visible name.
Each discovery is filtered by macros ({$VSPHERE.<KIND>.NAME.MATCHES},
{$VSPHERE.DATACENTER.MATCHES}, {$VSPHERE.CLUSTER.MATCHES}, their NOT_MATCHES,
VM power state and templates); discovered hosts also join
vPoller/Datacenter/<datacenter> and vPoller/Cluster/<cluster> groups. They
inherit this host's interface and get {$VSPHERE.HOST}, {$VPOLLER.INTERVAL}, {$VPOLLER.LLD.INTERVAL} and
{$VPOLLER.PERF.INSTANCE.INTERVAL} from it.`)
	b.macro(MacroAgent, "", "vPoller agent name of this vCenter/ESXi (the 'hostname' the vPoller worker knows it by).")
	b.macro(MacroInterval, "1m", "Polling interval of vPoller items here and on discovered hosts.")
	b.macro(MacroLLDInterval, "1h", "Interval of the object discoveries.")
	b.macro(MacroPerfInstanceInterval, "5m", "Polling interval of the per-instance perf items (virtual disks and NICs, host NICs, datastores, LUNs) on discovered hosts.")
	b.macro("{$VPOLLER.NAME.SUFFIX}", "", "Appended to the visible names of discovered hosts, e.g. ' (vc2)' when several vCenters use the same object names.")
	objectMacros(b)

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

	for _, r := range objectRules() {
		b.rule(r)
	}

	// Licenses, certificate, appliance health, vSAN clusters (vchealth.go).
	vcLicensesAndHealth(b, tpl)

	// The vCenter's event stream as a log item, and the overview dashboard.
	vcEvents(b, tpl)
	vcOverview(b, akey, skey)
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

// vcOverview adds the vCenter's numeric API type, the value maps of its
// numeric items and the "vCenter overview" dashboard: sessions, the
// newest event lines, and the port counts of every distributed switch.
func vcOverview(b *builder, akey, skey string) {
	const apiType = "VMware API type"
	b.item(dep(akey, "vsphere.vc.api.type.num", "API type (numeric)", vtUnsigned, "", prop("apiType"),
		javascript(`return value === 'VirtualCenter' ? 1 : value === 'HostAgent' ? 0 : `+stateOther+`;`), discardUnchanged("1d")).
		withValueMap(apiType).
		withDescription("1 for a vCenter, 0 for a standalone ESXi ("+stateOther+": another endpoint).").
		withTags("component", "inventory"))
	b.valueMap(apiType, "0", "HostAgent", "1", "VirtualCenter", stateOther, "other")
	stateValueMap(b, vmStatus)

	b.graph("vCenter: sessions", "vsphere.vc.sessions")
	b.dashboardOf("vCenter overview",
		b.graphWidget("vCenter: sessions"),
		b.textWidget("Latest events", Key("vpoller.events", MacroAgent), 25),
		b.graphProtoWidget(DVSwitchPortsGraph, 2, 1),
	)
}
