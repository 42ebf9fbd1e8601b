package templates

import (
	"fmt"
	"sort"
	"strings"

	"github.com/vpoller/zabbix-vpoller/lld"
)

// Building blocks shared by the per-object templates (VM, hypervisor,
// datastore, cluster, datacenter): alarm discovery, numeric states with
// value maps, vSphere tags and custom attributes.

// More reasons for TagOptional: items that a vSphere agent may not serve.
const (
	// OptionalVAPI: vSphere tags, which only vCenter's vAPI (REST) serves;
	// a standalone ESXi agent makes these items unsupported.
	OptionalVAPI = "vapi"
	// OptionalCustomFields: custom attributes, which need vCenter's custom
	// fields manager; a standalone ESXi agent has none.
	OptionalCustomFields = "customfields"
)

// optionalReasons are the values TagOptional may take.
var optionalReasons = map[string]bool{OptionalPerf: true, OptionalVAPI: true, OptionalCustomFields: true}

// alarmSpec describes the alarm discovery of one object template.
type alarmSpec struct {
	tpl    string // template name, for trigger expressions
	method string // "vm.alarm.get"
	short  string // key part: "vm" -> vsphere.vm.alarm.status[...]
	what   string // "VM", for names
	obj    string // lookup macro passed as the name parameter
	// entity is the macro holding the object's display name; when set,
	// discovery keeps only alarms whose entity is the object itself:
	// vCenter propagates alarms up the inventory (a host lists its VMs'
	// alarms), and each object's own template already raises those.
	entity string
}

// alarmFilter is the LLD filter keeping only the object's own alarms: the
// entity macro equals the object's name. \Q...\E quotes the name, so that
// names with regular expression characters match literally.
func alarmFilter(lldPrefix, entity string) *Filter {
	return &Filter{Conditions: []Condition{{
		Macro:     "{#VSPHERE." + lldPrefix + ".ENTITY}",
		Value:     `^\Q` + entity + `\E$`,
		FormulaID: "A",
	}}}
}

// alarms adds the raw alarm master, the count of triggered alarms and the
// alarm discovery: per alarm, a status item with a trigger per severity
// (red: HIGH, yellow: WARNING) and an acknowledged flag. A cleared alarm
// leaves the list: its status reads green (the triggers recover) until
// the prototype's lifetime removes it.
func alarms(b *builder, s alarmSpec) {
	p := lld.MacroPrefix(s.method) // VM.ALARM
	lower := s.what
	if lower != "VM" {
		lower = strings.ToLower(lower)
	}
	mac := func(f string) string { return "{#VSPHERE." + p + "." + f + "}" }
	akey := getKey(s.method, s.obj)
	b.item(master(s.what+": raw alarms", akey, "Triggered alarms of the "+lower+" ("+s.method+"); the alarm items depend on it."))
	count := dep(akey, "vsphere."+s.short+".alarms", "Triggered alarms", vtUnsigned, "", jsonPath("$.length()")).
		withTags("component", "alarms")
	if s.entity != "" {
		count = count.withDescription("All alarms vCenter lists for the " + lower + ", including those it propagates from its children.")
	}
	b.item(count)

	r := DiscoveryRule{
		Name:        "Alarm discovery",
		Key:         discoverKey(s.method, s.obj),
		Delay:       MacroInterval,
		Lifetime:    "1d",
		Description: "Alarms triggered on the " + lower + " (" + s.method + ").",
	}
	if s.entity != "" {
		r.Filter = alarmFilter(p, s.entity)
		r.Description += " Only the " + lower + "'s own alarms: vCenter also lists alarms of the objects below it, which their own hosts raise."
	}
	rule := b.rule(r)
	sel := "$[?(@.key=='" + mac("KEY") + "')]"
	status := "vsphere." + s.short + ".alarm.status[" + mac("KEY") + "]"
	title := "Alarm " + mac("INFO") + " on " + mac("ENTITY")
	high := trigger(mac("INFO")+" on "+mac("ENTITY")+" (red)", "HIGH",
		last(s.tpl, status)+`="red"`, "vCenter alarm "+mac("KEY")+", triggered "+mac("TIME")+".")
	rule.ItemPrototypes = append(rule.ItemPrototypes,
		dep(akey, status, title+": status", vtChar, "", jsonPathOr(sel+".overallStatus.first()", "green")).
			withDescription("green once vCenter has cleared the alarm.").
			withTags("component", "alarms", "alarm", mac("INFO")).
			withTriggerProtos(high,
				trigger(mac("INFO")+" on "+mac("ENTITY")+" (yellow)", "WARNING",
					last(s.tpl, status)+`="yellow"`, "vCenter alarm "+mac("KEY")+".").dependsOn(high)),
		dep(akey, "vsphere."+s.short+".alarm.acknowledged["+mac("KEY")+"]", title+": acknowledged", vtUnsigned, "",
			jsonPathOr(sel+".acknowledged.first()", "false"), boolToDecimal()).
			withValueMap(vmBoolean).withTags("component", "alarms", "alarm", mac("INFO")),
	)
}

// Value maps of the numeric state items. vSphere reports states as
// strings; the numeric twins (keys ending in .num) can be graphed and
// compared, the value maps show the names again.
const (
	vmBoolean    = "vPoller boolean"
	vmPower      = "VMware power state"
	vmConnection = "VMware connection state"
	vmStatus     = "VMware status"
	vmTools      = "VMware Tools running status"
	vmDSMaint    = "VMware datastore maintenance mode"
	vmHealth     = "VMware health state"
	// vmToolsVersionStatus: guest.toolsVersionStatus2 (vm.go, vmParity).
	vmToolsVersionStatus = "VMware Tools version status"
)

// stateOther is the value of a state string a map does not know (a newer
// vSphere's).
const stateOther = "99"

// stateMaps holds each value map's pairs: vSphere string, number.
var stateMaps = map[string][]string{
	vmPower:      {"poweredOff", "0", "poweredOn", "1", "suspended", "2", "standBy", "3", "unknown", "4"},
	vmConnection: {"connected", "0", "disconnected", "1", "notResponding", "2", "orphaned", "3", "inaccessible", "4", "invalid", "5"},
	vmStatus:     {"gray", "0", "green", "1", "yellow", "2", "red", "3"},
	vmTools:      {"guestToolsNotRunning", "0", "guestToolsRunning", "1", "guestToolsExecutingScripts", "2"},
	vmDSMaint:    {"normal", "0", "enteringMaintenance", "1", "inMaintenance", "2"},
	vmHealth:     {"unknown", "0", "green", "1", "yellow", "2", "red", "3"},
	vmToolsVersionStatus: {"guestToolsCurrent", "0", "guestToolsNeedUpgrade", "1", "guestToolsSupportedOld", "2", "guestToolsSupportedNew", "3",
		"guestToolsTooOld", "4", "guestToolsTooNew", "5", "guestToolsBlacklisted", "6", "guestToolsUnmanaged", "7", "guestToolsNotInstalled", "8"},
}

// stateValueMap adds the value map name (number -> vSphere string).
func stateValueMap(b *builder, name string) {
	pairs := stateMaps[name]
	var vm []string
	for i := 0; i+1 < len(pairs); i += 2 {
		vm = append(vm, pairs[i+1], pairs[i])
	}
	b.valueMap(name, append(vm, stateOther, "other")...)
}

// stateJS is a JavaScript step turning the string property p of a *.get
// reply (def when absent) into its number in value map name.
func stateJS(name, p, def string) Step {
	pairs := stateMaps[name]
	var kv []string
	for i := 0; i+1 < len(pairs); i += 2 {
		kv = append(kv, fmt.Sprintf("'%s': %s", pairs[i], pairs[i+1]))
	}
	sort.Strings(kv)
	return javascript(fmt.Sprintf(`
var m = {%s};
var v = JSON.parse(value)[0]['%s'];
if (v === undefined || v === null) { v = '%s'; }
return m.hasOwnProperty(v) ? m[v] : %s;`, strings.Join(kv, ", "), p, def, stateOther))
}

// stateNum is the numeric twin of a text state item: same master and
// property, value map name. The text item and its triggers stay (their
// history and users' expectations).
func stateNum(masterKey, key, name, p, def, valueMap string) Item {
	return dep(masterKey, key, name+" (numeric)", vtUnsigned, "", stateJS(valueMap, p, def)).
		withValueMap(valueMap).
		withDescription("The state as a number, for graphs; the value map names it (" + stateOther + ": a state this template does not know).")
}

// tagsJS renders a *.tag.get reply as "category:tag, ...".
const tagsJS = `
var t = JSON.parse(value), out = [];
for (var i = 0; i < t.length; i++) { out.push(t[i]['category'] + ':' + t[i]['tag']); }
return out.join(', ');`

// tags adds the vSphere tags of the object: the raw reply of method
// (kind.tag.get) and a "category:tag, ..." string. An object without tags
// gives [] and "": a value, not an error. Optional: only vCenter serves tags.
func tags(b *builder, method, short, what, obj string) {
	tkey := getKey(method, obj)
	raw := master(what+": raw vSphere tags", tkey, "vSphere tags attached to the "+what+" ("+method+"): [{category, tag, description}], [] without tags.")
	raw.History = "7d"
	b.item(raw.withTags(TagOptional, OptionalVAPI))
	b.item(dep(tkey, "vsphere."+short+".tags", "vSphere tags", vtChar, "", javascript(tagsJS), discardUnchanged("1d")).
		withDescription("The "+what+"'s vSphere tags as category:tag, comma-separated; empty without tags.").
		withTags("component", "inventory", TagOptional, OptionalVAPI))
}

// attributes adds the object's custom attributes (method kind.attribute.get)
// as one JSON item: {"<attribute>": "<value>", ...}, "" where unset.
func attributes(b *builder, method, what, obj string) {
	b.item(Item{Name: "Custom attributes", Key: getKey(method, obj), Delay: MacroInterval, History: "7d", Trends: "0",
		ValueType: vtText, Preprocessing: []Step{jsonPath("$[0]"), discardUnchanged("1d")},
		Description: "The " + what + "'s custom attributes (vCenter custom fields) as one JSON object, attribute name to value. Needs vCenter's custom fields manager.",
	}.withTags("component", "inventory", TagOptional, OptionalCustomFields))
}
